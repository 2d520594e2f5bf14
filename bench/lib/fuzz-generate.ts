import fc from 'fast-check';
import type { Operation, Parameter, Schema } from './fuzz-openapi.ts';
import { base64Variants, type Corpus, type MediaEntry } from './fuzz-corpus.ts';

/**
 * fast-check arbitraries for requests to one operation of the OpenAPI document: valid requests
 * generated from its schemas, and the same mutated field by field (wrong types, missing and extra
 * fields, extreme numbers written raw into the JSON text, odd Unicode, deep nesting), whole bodies
 * emptied, truncated or mislabelled, multipart bodies with duplicate, misplaced or too many parts,
 * odd path and query parameters, odd headers and bad credentials. Each request says what it is
 * (`kind`) and how far it may get (`cost`: whether it can reach the face engine).
 */

export type Cost = MediaEntry['cost'];

export interface FuzzRequest {
  /** The operation it was made for ("POST /v1/detect"); undefined: an unknown route or method. */
  op?: string;
  /** What was done to it, e.g. `valid`, `field:drop`, `body:truncated`, `multipart:many-parts`. */
  kind: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** Send without the bootstrap key (the request names its own credentials, or none). */
  anonymous: boolean;
  /** `none`, `bootstrap` or what was wrong with the credential. */
  auth: string;
  cost: Cost;
  /** The media it carries (corpus names), for reproductions. */
  media: string[];
}

/** Ids and names the server returned, so generated requests can name things that exist. */
export class Pools {
  private readonly pools = new Map<string, string[]>();
  constructor(private readonly size = 24) {}

  get(key: string): string[] {
    return this.pools.get(key) ?? [];
  }

  add(key: string, value: string): void {
    if (!value || value.length > 16384) return;
    const pool = this.pools.get(key) ?? [];
    if (pool.includes(value)) return;
    pool.push(value);
    if (pool.length > this.size) pool.shift();
    this.pools.set(key, pool);
  }

  /** Collects ids from a response body: `*_id` strings, `id` inside `transaction`/`client`/`key`, collection names, templates, nonces. */
  harvest(body: unknown, route: string): void {
    const walk = (v: unknown, key: string, parent: string, depth: number) => {
      if (depth > 6 || v === null || v === undefined) return;
      if (typeof v === 'string') {
        if (key === 'id' && parent) this.add(`${parent}_id`, v);
        else if (/_id$/.test(key) && key !== 'client_request_id') this.add(key, v);
        else if (key === 'template' || key === 'nonce' || key === 'sha256' || key === 'token') this.add(key, v);
        else if (key === 'name' && route.startsWith('/v1/collections') && depth <= 2) this.add('collection', v);
        return;
      }
      if (Array.isArray(v)) { for (const x of v.slice(0, 20)) walk(x, key, parent, depth + 1); return; }
      if (typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, k, Array.isArray(v) ? parent : key, depth + 1);
    };
    walk(body, '', '', 0);
  }
}

/** JSON text written verbatim where a value goes (1e400, -0, deep nesting). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** An object written with the given members in order, duplicates and `__proto__` included. */
export class RawObject {
  constructor(readonly entries: Array<[string, unknown]>) {}
}

/** An image, video or base64 text from the corpus. */
export class Media {
  constructor(readonly value: string | Buffer, readonly cost: Cost, readonly name: string) {}
}

export interface GenOptions {
  corpus: Corpus;
  pools: Pools;
  /** Share of media picks that can reach the face engine (decodable images, videos). */
  engineShare: number;
  /** The same for requests left valid. */
  validEngineShare?: number;
  /** Share of media picks that are huge (16 MiB). */
  hugeShare: number;
}

// ---------------------------------------------------------------- hostile values

/** Uniform picks: fast-check biases integers towards small values, which would favour the first entries of every list. */
const pickNat = fc.noBias(fc.nat());
/** A uniform share in [0, 1), for the engine, huge-media and bad-credential shares. */
const unit = fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000);

const LONG = 'x'.repeat(100_000);
/** Strings that break naive code: lone surrogates, RTL override, NUL, zero-width, combining marks, traversal, format strings, prototype names, long text. */
export const ODD_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud83dy', '\u202eevil\u202c', '\u200f\u05d0\u05d1', '\u200b', '\ufeff', '\uffff', '\ufffe',
  'e\u0301\u0301\u0301\u0301', '𝕏😀👩‍👩‍👧‍👦', '顔認証', 'İıſ', '\r\n', '\t', '../../etc/passwd', '..', '.', '%00', '%', '%zz', '\\', '"', "'; DROP TABLE audit;--",
  '%s%n%x', '${jndi:ldap://x}', '{{7*7}}', '<script>alert(1)</script>', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  'null', 'undefined', 'true', 'NaN', 'Infinity', '-0', '1e400', '0x10', ' 1', '１２３', 'A'.repeat(65), 'A'.repeat(129), 'A'.repeat(1025), LONG,
  '\u0085', '\u2028\u2029', 'a/b', 'a?b', 'a#b', 'a b',
];

/** Numbers written raw into JSON text: beyond double range, negative zero, beyond 2^53, denormals, exponent forms. */
export const EXTREME_NUMBERS = [
  '1e400', '-1e400', '1e-400', '-0', '-0.0', '0e0', '9007199254740993', '-9223372036854775809', '18446744073709551616', '123456789012345678901234567890',
  '1.7976931348623157e308', '1.7976931348623159e308', '5e-324', '2.2250738585072011e-308', '1E+2', '1.0', '0.1e1', '1e21', '-1', '0', '4294967296', '2147483648',
];
export const NUMBER_WORDS = ['NaN', 'Infinity', '-Infinity', '-0', '1e400', '0x1F', '1_000', '', ' 7', '7 ', '+1', '.5', '5.', '1e', '١٢'];

function deepNest(depth: number, open: string, close: string, inner = '1'): RawJson {
  return new RawJson(open.repeat(depth) + inner + close.repeat(depth));
}

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, [], {}, [null], [[]], { a: {} }, 'true', '1', 'null', '[]', '{}') },
  { weight: 3, arbitrary: fc.constantFrom(...EXTREME_NUMBERS).map((t) => new RawJson(t)) },
  { weight: 2, arbitrary: fc.constantFrom(...NUMBER_WORDS) },
  { weight: 4, arbitrary: fc.constantFrom(...ODD_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(10, 100, 1000, 5000, 100_000).chain((d) => fc.constantFrom(deepNest(d, '[', ']'), deepNest(d, '{"a":', '}'))) },
  { weight: 1, arbitrary: fc.constantFrom(1000, 10_000).map((n) => new RawJson(`[${Array.from({ length: n }, (_, i) => i % 7).join(',')}]`)) },
);

const oddKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', '', ' ', 'colour', 'image ', 'IMAGE', 'base64', 'template', '\u0000', '\ud800', 'a'.repeat(1000), '$ref', 'toString', 'valueOf', 'hasOwnProperty', '0', '-1', 'x.y', 'x[0]'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
);

// ---------------------------------------------------------------- media

function mediaPick(list: MediaEntry[], opts: GenOptions, u: number, n: number): MediaEntry {
  const engine = list.filter((m) => m.cost === 'engine');
  const huge = list.filter((m) => m.cost === 'huge');
  const cheap = list.filter((m) => m.cost === 'cheap');
  if (u < opts.engineShare && engine.length) return engine[n % engine.length];
  if (u < opts.engineShare + opts.hugeShare && huge.length) return huge[n % huge.length];
  return cheap[n % cheap.length];
}

/** Bytes of an image or video (a multipart file). */
function mediaBytesArb(kind: 'image' | 'video', opts: GenOptions): fc.Arbitrary<Media> {
  return fc.tuple(unit, pickNat).map(([u, n]) => {
    const m = mediaPick(kind === 'video' ? opts.corpus.videos : opts.corpus.images, opts, u, n);
    return new Media(m.bytes, m.cost, m.name);
  });
}

const VARIANTS = new WeakMap<MediaEntry, string[]>();

/** Base64 text of an image or video: valid encodings of corpus entries, or malformed base64. */
function mediaBase64Arb(kind: 'image' | 'video', opts: GenOptions): fc.Arbitrary<Media> {
  return fc.tuple(unit, pickNat, pickNat).map(([u, n, v]) => {
    const garbage = opts.corpus.base64Garbage;
    if (u >= opts.engineShare + opts.hugeShare && v % 4 === 0) {
      const g = garbage[n % garbage.length];
      return new Media(g.text, g.cost, `base64 ${g.name}`);
    }
    const m = mediaPick(kind === 'video' ? opts.corpus.videos : opts.corpus.images, opts, u, n);
    let variants = VARIANTS.get(m);
    if (!variants) VARIANTS.set(m, variants = m.cost === 'huge' ? [m.bytes.toString('base64')] : base64Variants(m.bytes));
    return new Media(variants[v % variants.length], m.cost, m.name);
  });
}

/** A pool value when there is one (half the time), otherwise the fallback. */
function pooled(opts: GenOptions, key: string, fallback: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.tuple(pickNat, fallback).map(([n, f]) => {
    const pool = opts.pools.get(key);
    return pool.length && n % 2 === 0 ? pool[(n >> 1) % pool.length] : f;
  });
}

const POOL_OF: Record<string, string> = {
  image_id: 'image_id', file_id: 'file_id', face_id: 'face_id', user_id: 'user_id', reference_face_id: 'face_id', nonce: 'nonce',
  session_id: 'session_id', transaction_id: 'transaction_id', client_id: 'client_id', key_id: 'key_id', request_id: 'request_id',
  challenge_id: 'challenge_id', external_id: 'external_id', collection: 'collection', sha256: 'sha256', face_ids: 'face_id',
};

// ---------------------------------------------------------------- values from schemas

interface At {
  key: string;
  parent: string;
  depth: number;
  /** The path being generated for, so `name` is a collection only under /v1/collections. */
  route: string;
}

function regexOf(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern);
  } catch {
    try { return new RegExp(pattern, 'u'); } catch { return undefined; }
  }
}

function stringArb(s: Schema, at: At, opts: GenOptions): fc.Arbitrary<unknown> {
  if (at.key === 'base64') return mediaBase64Arb(at.parent === 'video' ? 'video' : 'image', opts);
  if (at.key === 'template') {
    return pooled(opts, 'template', fc.oneof(
      fc.constantFrom('***', 'AAAA', 'x'),
      fc.uint8Array({ minLength: 0, maxLength: 600 }).map((b) => Buffer.from(b).toString('base64')),
    ));
  }
  const minLength = s.minLength ?? 0;
  const maxLength = s.maxLength ?? minLength + 24;
  let base: fc.Arbitrary<string>;
  const re = s.pattern ? regexOf(s.pattern) : undefined;
  if (re) base = fc.stringMatching(re).filter((x) => x.length >= minLength && (s.maxLength === undefined || x.length <= s.maxLength));
  else if (s.format === 'date-time') base = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
  else if (s.format === 'date') base = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
  else if (s.format === 'email') base = fc.emailAddress();
  else if (s.format === 'uuid') base = fc.uuid();
  else if (s.format === 'uri') base = fc.webUrl();
  else base = fc.string({ minLength, maxLength: Math.min(maxLength, minLength + 24) });
  const poolKey = at.key === 'name' && at.route.startsWith('/v1/collections') ? 'collection' : POOL_OF[at.key] ?? (at.key === 'id' ? undefined : undefined);
  return poolKey ? pooled(opts, poolKey, base) : base;
}

function numberArb(s: Schema, integer: boolean): fc.Arbitrary<number> {
  let min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum : undefined);
  let max = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum : undefined);
  if (min === undefined && max === undefined) { min = -1000; max = 1_000_000; }
  else if (min === undefined) min = max! - 1000;
  else if (max === undefined) max = min + 100_000;
  if (max === undefined) max = min + 100_000;
  if (integer) {
    const lo = Math.ceil(min + (s.exclusiveMinimum !== undefined && s.minimum === undefined ? 1 : 0));
    const hi = Math.floor(max - (s.exclusiveMaximum !== undefined && s.maximum === undefined ? 1 : 0));
    return fc.integer({ min: Math.max(lo, Number.MIN_SAFE_INTEGER), max: Math.min(Math.max(hi, lo), Number.MAX_SAFE_INTEGER) });
  }
  return fc.double({
    min, max, noNaN: true, noDefaultInfinity: true,
    minExcluded: s.exclusiveMinimum !== undefined && s.minimum === undefined,
    maxExcluded: s.exclusiveMaximum !== undefined && s.maximum === undefined,
  }).map((x) => (Object.is(x, -0) ? 0 : x));
}

const smallJson = fc.jsonValue({ maxDepth: 2 });
const metadataArb = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), smallJson, { maxKeys: 3 });

function withoutAlternatives(s: Schema): Schema {
  const { anyOf: _a, allOf: _b, ...rest } = s;
  return rest;
}

function merge(a: Schema, b: Schema): Schema {
  return {
    ...a, ...b,
    properties: a.properties || b.properties ? { ...(a.properties ?? {}), ...(b.properties ?? {}) } : undefined,
    required: a.required || b.required ? [...(a.required ?? []), ...(b.required ?? [])] : undefined,
    types: b.types ?? a.types,
  };
}

/** A value valid under the schema (as far as generation can tell; patterns and bounds are respected). */
export function valueArb(s: Schema, at: At, opts: GenOptions): fc.Arbitrary<unknown> {
  if (at.depth > 8) return fc.constant(null);
  if (s.enum?.length) return fc.constantFrom(...s.enum);
  if (s.allOf?.length) return valueArb(s.allOf.reduce(merge, withoutAlternatives(s)), at, opts);
  if (s.anyOf?.length) {
    const base = withoutAlternatives(s);
    return fc.oneof(...s.anyOf.map((alt) => valueArb(merge(base, alt), at, opts)));
  }
  if (s.format === 'binary') return mediaBytesArb(at.key === 'file' || at.key === 'video' ? 'video' : 'image', opts);
  const types = s.types ?? (s.properties ? ['object'] : undefined);
  if (!types) return at.key === 'metadata' ? metadataArb : smallJson;
  if (types.length === 0) return fc.constant(null);
  return fc.oneof(...types.map((t) => typedArb(t, s, at, opts)));
}

function typedArb(type: string, s: Schema, at: At, opts: GenOptions): fc.Arbitrary<unknown> {
  const next = (key: string): At => ({ key, parent: at.key, depth: at.depth + 1, route: at.route });
  switch (type) {
    case 'null': return fc.constant(null);
    case 'boolean': return fc.boolean();
    case 'integer': return numberArb(s, true);
    case 'number': return numberArb(s, false);
    case 'string': return stringArb(s, at, opts);
    case 'array': {
      const minLength = s.minItems ?? 0;
      const maxLength = Math.min(s.maxItems ?? minLength + 2, minLength + 2);
      if (s.prefixItems?.length) return fc.tuple(...s.prefixItems.map((p, i) => valueArb(p, next(String(i)), opts)));
      const item = s.items === false ? fc.constant(null) : valueArb(s.items ?? {}, next(at.key === 'faces' || at.key === 'images' || at.key === 'frames' ? at.key : at.key), opts);
      if (s.uniqueItems) return fc.uniqueArray(item, { minLength, maxLength, selector: (v) => JSON.stringify(v) });
      return fc.array(item, { minLength, maxLength });
    }
    case 'object': {
      const props = s.properties ?? {};
      const keys = Object.keys(props);
      if (!keys.length) return s.additionalProperties === false ? fc.constant({}) : metadataArb;
      // Optional members a third of the time: schemas cannot say which options exclude each other
      // (images or video or file_id), so fewer of them leaves more requests valid.
      const required = new Set(s.required ?? []);
      const members = keys.map((k) => {
        const member = valueArb(props[k], next(k), opts).map((v) => [k, v] as [string, unknown]);
        return required.has(k) ? member : fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: member });
      });
      return fc.tuple(...members).map((es) => Object.fromEntries(es.filter((e): e is [string, unknown] => e !== undefined)));
    }
    default: return smallJson;
  }
}

// ---------------------------------------------------------------- serialisation

/** JSON text of a value with RawJson, RawObject and Media leaves (Media bytes as base64). */
export function jsonText(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (v instanceof Media) return JSON.stringify(typeof v.value === 'string' ? v.value : v.value.toString('base64'));
  if (v instanceof RawObject) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`).join(',')}}`;
  if (Buffer.isBuffer(v)) return JSON.stringify(v.toString('base64'));
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : jsonText(x))).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`).join(',')}}`;
  }
  if (v === undefined) return 'null';
  return JSON.stringify(v);
}

/** Media carried and the highest cost among them. */
function mediaOf(v: unknown, out: Media[] = [], depth = 0): Media[] {
  if (depth > 12) return out;
  if (v instanceof Media) out.push(v);
  else if (v instanceof RawObject) for (const [, x] of v.entries) mediaOf(x, out, depth + 1);
  else if (Array.isArray(v)) for (const x of v) mediaOf(x, out, depth + 1);
  else if (v && typeof v === 'object' && !(v instanceof RawJson) && !Buffer.isBuffer(v)) for (const x of Object.values(v)) mediaOf(x, out, depth + 1);
  return out;
}

function costOf(media: Media[]): Cost {
  if (media.some((m) => m.cost === 'huge')) return 'huge';
  if (media.some((m) => m.cost === 'engine')) return 'engine';
  return 'cheap';
}

export interface Part {
  name?: string;
  filename?: string;
  contentType?: string;
  body: string | Buffer;
  /** Extra header lines, written as given. */
  extra?: string[];
  /** Replaces the Content-Disposition line entirely. */
  disposition?: string;
}

export function multipartPayload(parts: Part[], boundary: string, o: { close?: boolean; eol?: string; preamble?: string; epilogue?: string } = {}): Buffer {
  const eol = o.eol ?? '\r\n';
  const chunks: Buffer[] = [];
  if (o.preamble) chunks.push(Buffer.from(o.preamble + eol));
  for (const p of parts) {
    const lines = [`--${boundary}`];
    if (p.disposition !== undefined) { if (p.disposition) lines.push(p.disposition); }
    else lines.push(`Content-Disposition: form-data${p.name !== undefined ? `; name="${p.name}"` : ''}${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`);
    if (p.contentType) lines.push(`Content-Type: ${p.contentType}`);
    if (p.extra) lines.push(...p.extra);
    chunks.push(Buffer.from(lines.join(eol) + eol + eol), Buffer.isBuffer(p.body) ? p.body : Buffer.from(p.body), Buffer.from(eol));
  }
  if (o.close !== false) chunks.push(Buffer.from(`--${boundary}--${eol}`));
  if (o.epilogue) chunks.push(Buffer.from(o.epilogue));
  return Buffer.concat(chunks);
}

/** Multipart parts of a body value: Media bytes as files, everything else as text. */
function partsOf(value: Record<string, unknown>): Part[] {
  const parts: Part[] = [];
  for (const [name, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (v instanceof Media && Buffer.isBuffer(v.value)) parts.push({ name, filename: `${name}.bin`, contentType: 'application/octet-stream', body: v.value });
    else if (v instanceof Media) parts.push({ name, body: v.value });
    else if (typeof v === 'string') parts.push({ name, body: v });
    else if (v instanceof RawJson) parts.push({ name, body: v.text });
    else if (typeof v === 'number' || typeof v === 'boolean' || v === null) parts.push({ name, body: String(v) });
    else parts.push({ name, body: jsonText(v) });
  }
  return parts;
}

// ---------------------------------------------------------------- mutations of a body tree

type Path = Array<string | number>;

function clone(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clone);
  if (v && typeof v === 'object' && !(v instanceof RawJson) && !(v instanceof Media) && !(v instanceof RawObject) && !Buffer.isBuffer(v)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  }
  return v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof RawJson) && !(v instanceof Media) && !(v instanceof RawObject) && !Buffer.isBuffer(v);
}

/** Every path into a body tree (the root included, as []). */
function pathsOf(v: unknown, path: Path = [], out: Path[] = []): Path[] {
  out.push(path);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...path, i], out));
  else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) pathsOf(x, [...path, k], out);
  return out;
}

function getAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const p of path) v = (v as Record<string | number, unknown>)?.[p];
  return v;
}

function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (!path.length) return value;
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]] = value;
  return root;
}

function deleteAt(root: unknown, path: Path): unknown {
  if (!path.length) return undefined;
  const parent = getAt(root, path.slice(0, -1));
  const last = path[path.length - 1];
  if (Array.isArray(parent)) parent.splice(last as number, 1);
  else delete (parent as Record<string, unknown>)[last as string];
  return root;
}

export interface FieldMutation {
  kind: 'drop' | 'replace' | 'extreme-number' | 'number-word' | 'odd-string' | 'extra' | 'wrap-array' | 'stringify' | 'dup-key' | 'proto' | 'nest' | 'null' | 'empty';
  pick: number;
  value: unknown;
  key: string;
  extreme: string;
  odd: string;
  word: string;
}

const fieldMutationArb: fc.Arbitrary<FieldMutation> = fc.record({
  kind: fc.constantFrom<FieldMutation['kind']>('drop', 'drop', 'replace', 'replace', 'replace', 'extreme-number', 'extreme-number', 'number-word', 'odd-string', 'odd-string', 'extra', 'extra', 'wrap-array', 'stringify', 'dup-key', 'proto', 'nest', 'null', 'empty'),
  pick: pickNat,
  value: hostileValue,
  key: oddKey,
  extreme: fc.constantFrom(...EXTREME_NUMBERS),
  odd: fc.constantFrom(...ODD_STRINGS),
  word: fc.constantFrom(...NUMBER_WORDS),
});

function choose<T>(list: T[], n: number): T | undefined {
  return list.length ? list[n % list.length] : undefined;
}

/** Applies one field mutation to a clone of the body; returns the new body and a label. */
export function mutateField(body: unknown, m: FieldMutation): { body: unknown; label: string } {
  let root = clone(body);
  const all = pathsOf(root);
  const leaves = all.filter((p) => p.length > 0);
  const objects = all.filter((p) => isPlainObject(getAt(root, p)));
  const numeric = leaves.filter((p) => typeof getAt(root, p) === 'number');
  const strings = leaves.filter((p) => typeof getAt(root, p) === 'string' || getAt(root, p) instanceof Media);
  const label = (p: Path | undefined) => (p && p.length ? p.join('.') : '(root)');
  switch (m.kind) {
    case 'drop': {
      const p = choose(leaves, m.pick);
      if (!p) return { body: root, label: 'drop:none' };
      return { body: deleteAt(root, p), label: `drop:${label(p)}` };
    }
    case 'replace': {
      const p = choose(all, m.pick)!;
      return { body: setAt(root, p, m.value), label: `replace:${label(p)}` };
    }
    case 'null': {
      const p = choose(leaves, m.pick) ?? [];
      return { body: setAt(root, p, null), label: `null:${label(p)}` };
    }
    case 'empty': {
      const p = choose(leaves, m.pick) ?? [];
      const v = getAt(root, p);
      return { body: setAt(root, p, Array.isArray(v) ? [] : isPlainObject(v) ? {} : ''), label: `empty:${label(p)}` };
    }
    case 'extreme-number': {
      const p = choose(numeric.length ? numeric : leaves, m.pick) ?? [];
      return { body: setAt(root, p, new RawJson(m.extreme)), label: `extreme:${label(p)}=${m.extreme}` };
    }
    case 'number-word': {
      const p = choose(numeric.length ? numeric : leaves, m.pick) ?? [];
      return { body: setAt(root, p, m.word), label: `number-word:${label(p)}` };
    }
    case 'odd-string': {
      const p = choose(strings.length ? strings : leaves, m.pick) ?? [];
      return { body: setAt(root, p, m.odd), label: `odd-string:${label(p)}` };
    }
    case 'extra': {
      const p = choose(objects, m.pick);
      if (!p) return { body: root, label: 'extra:none' };
      const o = getAt(root, p) as Record<string, unknown>;
      if (m.key === '__proto__') return { body: setAt(root, p, new RawObject([...Object.entries(o), ['__proto__', m.value]])), label: `extra:${label(p)}.__proto__` };
      o[m.key] = m.value;
      return { body: root, label: `extra:${label(p)}` };
    }
    case 'wrap-array': {
      const p = choose(all, m.pick)!;
      return { body: setAt(root, p, [getAt(root, p)]), label: `wrap-array:${label(p)}` };
    }
    case 'stringify': {
      const p = choose(all, m.pick)!;
      return { body: setAt(root, p, jsonText(getAt(root, p))), label: `stringify:${label(p)}` };
    }
    case 'dup-key': {
      const p = choose(objects, m.pick);
      if (!p) return { body: root, label: 'dup-key:none' };
      const entries = Object.entries(getAt(root, p) as Record<string, unknown>);
      if (!entries.length) return { body: root, label: 'dup-key:empty' };
      const [k] = entries[m.pick % entries.length];
      root = setAt(root, p, new RawObject([...entries, [k, m.value]]));
      return { body: root, label: `dup-key:${label(p)}.${k}` };
    }
    case 'proto': {
      const p = choose(objects, m.pick) ?? [];
      const o = getAt(root, p);
      const entries = isPlainObject(o) ? Object.entries(o) : [];
      const poison: Array<[string, unknown]> = m.pick % 2 ? [['__proto__', { polluted: true, image: null }]] : [['constructor', { prototype: { polluted: true } }]];
      return { body: setAt(root, p, new RawObject([...poison, ...entries])), label: `proto:${label(p)}` };
    }
    case 'nest': {
      const p = choose(all, m.pick)!;
      const depth = [64, 1000, 20_000][m.pick % 3];
      return { body: setAt(root, p, deepNest(depth, '[', ']', jsonText(getAt(root, p)))), label: `nest:${label(p)}x${depth}` };
    }
  }
}

// ---------------------------------------------------------------- requests

const JSON_CT = 'application/json';

export const BAD_CONTENT_TYPES = [
  'text/plain', 'application/x-www-form-urlencoded', 'image/jpeg', 'application/octet-stream', 'application/json; charset=utf-16',
  'application/json;charset=latin1', 'APPLICATION/JSON', 'application/json-patch+json', 'application/vnd.api+json', 'application/xml',
  'multipart/form-data', 'multipart/mixed; boundary=xx', '*/*', 'application/json, text/plain', 'application', '/', ';', 'text/json',
  'application/json; boundary=x', 'multipart/form-data; boundary=', 'multipart/form-data; boundary="a"', 'application/problem+json',
];

/** Credentials that must be refused (or, for the last ones, admitted as the bootstrap key). */
export function badCredentials(bootstrapKey: string): Array<{ name: string; headers: Record<string, string> }> {
  return [
    { name: 'none', headers: {} },
    { name: 'x-api-key:garbage', headers: { 'x-api-key': 'garbage' } },
    { name: 'x-api-key:unknown-key', headers: { 'x-api-key': 'key_nope.s3cret' } },
    { name: 'x-api-key:bootstrap-wrong-secret', headers: { 'x-api-key': 'bootstrap.wrong-secret-123' } },
    { name: 'x-api-key:long', headers: { 'x-api-key': 'k'.repeat(8000) } },
    { name: 'x-api-key:dots', headers: { 'x-api-key': '...' } },
    { name: 'apikey:garbage', headers: { apikey: 'a.b' } },
    { name: 'authorization:empty-bearer', headers: { authorization: 'Bearer' } },
    { name: 'authorization:basic', headers: { authorization: 'Basic Zm9vOmJhcg==' } },
    { name: 'authorization:two-tokens', headers: { authorization: 'Bearer a b' } },
    { name: 'authorization:fake-jwt', headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' } },
    { name: 'authorization:alg-none-jwt', headers: { authorization: 'Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJib290c3RyYXAiLCJzY29wZXMiOlsiKiJdfQ.e30' } },
    { name: 'authorization:jwt-bad-json', headers: { authorization: 'Bearer eyJ9.eyJ9.eyJ9' } },
    { name: 'authorization:tv-no-timestamp', headers: { authorization: 'TV bootstrap:c2ln' } },
    { name: 'authorization:tv-bad-timestamp', headers: { authorization: 'TV bootstrap:c2ln', 'x-tv-timestamp': 'not a date' } },
    { name: 'authorization:tv-future', headers: { authorization: 'TV key_x:c2ln', 'x-tv-timestamp': '9999-12-31T23:59:59Z' } },
    { name: 'authorization:tv-md5', headers: { authorization: 'TV key_x:c2ln', 'x-tv-timestamp': new Date(0).toISOString(), 'content-md5': '%%%' } },
    { name: 'authorization:bearer-key-garbage', headers: { authorization: 'Bearer bootstrap.nope' } },
    { name: 'x-access-token:garbage', headers: { 'x-access-token': 'nope' } },
    { name: 'x-access-token:jwt-shaped', headers: { 'x-access-token': 'eyJhbGciOiJIUzI1NiJ9.e30.AAAA' } },
    { name: 'authorization-wins-over-key', headers: { authorization: 'Bearer nope', 'x-api-key': bootstrapKey } },
    { name: 'apikey:bootstrap (valid)', headers: { apikey: bootstrapKey } },
    { name: 'bearer:bootstrap (valid)', headers: { authorization: `Bearer ${bootstrapKey}` } },
    { name: 'x-api-key:bootstrap padded (valid)', headers: { 'x-api-key': `  ${bootstrapKey}  ` } },
  ];
}

interface Base {
  path: Record<string, string>;
  query: Array<[string, string]>;
  mediaType?: string;
  body?: unknown;
}

function baseArb(op: Operation, opts: GenOptions, mediaFilter?: (t: string) => boolean): fc.Arbitrary<Base> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const pathModel: Record<string, fc.Arbitrary<string>> = {};
  for (const p of pathParams) pathModel[p.name] = paramArb(p, op, opts);
  const queryArb = fc.tuple(...queryParams.map((p) => fc.tuple(fc.constant(p.name), paramArb(p, op, opts), fc.boolean())))
    .map((entries) => entries.filter(([name, , include]) => include || queryParams.find((q) => q.name === name)?.required).map(([n, v]) => [n, v] as [string, string]));
  const media = (op.body?.media ?? []).filter((m) => !mediaFilter || mediaFilter(m.type));
  const bodyArb: fc.Arbitrary<{ mediaType?: string; body?: unknown }> = media.length
    ? fc.oneof(...media.map((m) => valueArb(m.schema, { key: '', parent: '', depth: 0, route: op.path }, opts).map((body) => ({ mediaType: m.type, body }))))
    : fc.constant({});
  return fc.record({ path: fc.record(pathModel), query: queryArb, b: bodyArb }).map(({ path, query, b }) => ({ path, query, ...b }));
}

/** The pool a path parameter draws from. */
function poolOfParam(p: Parameter, op: Operation): string | undefined {
  if (p.name === 'id') return op.path.startsWith('/v1/images') ? 'image_id' : op.path.startsWith('/v1/files') ? 'file_id' : undefined;
  if (p.name === 'name') return 'collection';
  return POOL_OF[p.name] ?? (p.name.endsWith('_id') ? p.name : undefined);
}

function paramArb(p: Parameter, op: Operation, opts: GenOptions): fc.Arbitrary<string> {
  const base = valueArb(p.schema, { key: p.name, parent: '', depth: 1, route: op.path }, opts).map((v) => (typeof v === 'string' ? v : jsonText(v)));
  const pool = poolOfParam(p, op);
  return (pool ? pooled(opts, pool, base) : base).map((v) => String(v));
}

/** encodeURIComponent that also writes lone surrogates (as their WTF-8 bytes, which no server can decode as UTF-8). */
export function encodeComponent(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    let out = '';
    for (const ch of s) {
      const c = ch.codePointAt(0)!;
      if (c >= 0xd800 && c <= 0xdfff) out += `%${(0xe0 | (c >> 12)).toString(16).toUpperCase()}%${(0x80 | ((c >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 | (c & 0x3f)).toString(16).toUpperCase()}`;
      else out += encodeURIComponent(ch);
    }
    return out;
  }
}

function urlOf(op: Operation, path: Record<string, string>, query: Array<[string, string]>, raw: { path?: Set<string>; query?: boolean } = {}): string {
  const p = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => (raw.path?.has(name) ? path[name] : encodeComponent(path[name] ?? '')));
  if (!query.length) return p;
  const q = query.map(([k, v]) => (raw.query ? `${k}=${v}` : `${encodeComponent(k)}=${encodeComponent(v)}`)).join('&');
  return `${p}?${q}`;
}

function finish(op: Operation | undefined, kind: string, method: string, url: string, headers: Record<string, string>, payload: string | Buffer | undefined, carried: unknown): FuzzRequest {
  const media = mediaOf(carried);
  return { op: op?.key, kind, method, url, headers, payload, anonymous: false, auth: 'bootstrap', cost: costOf(media), media: [...new Set(media.map((m) => m.name))] };
}

/** The request of a base, as valid as the schema makes it. */
function assemble(op: Operation, base: Base, kind: string, body: unknown = base.body): FuzzRequest {
  const url = urlOf(op, base.path, base.query);
  if (base.mediaType === undefined || body === undefined) return finish(op, kind, op.method, url, {}, undefined, body);
  if (base.mediaType.startsWith('multipart/')) {
    const parts = isPlainObject(body) ? partsOf(body) : [{ name: 'value', body: jsonText(body) }];
    return finish(op, kind, op.method, url, { 'content-type': 'multipart/form-data; boundary=fzB0undary' }, multipartPayload(parts, 'fzB0undary'), body);
  }
  return finish(op, kind, op.method, url, { 'content-type': JSON_CT }, jsonText(body), body);
}

const ODD_PATH_VALUES = [
  '%', '%zz', '%00', '%C0%AF', '%ED%A0%80', '%FF', '%E2%80%AE', 'a%2Fb', '%2e%2e', '..', '.', '%20', '+', '~', '*', "'", '%27%22',
  'x'.repeat(65), 'x'.repeat(5000), 'bootstrap', 'default', '0', '-1', '1e400', 'NaN', '%F0%9F%98%80', '%5C', 'a;b', 'a,b', '%0d%0aX-Injected:1',
];

/** Requests for one operation: valid, and every kind of malformed. */
export function operationArb(op: Operation, opts: GenOptions): fc.Arbitrary<FuzzRequest> {
  const media = op.body?.media ?? [];
  const json = media.some((m) => m.type === JSON_CT);
  const multipart = media.some((m) => m.type.startsWith('multipart/'));
  const pathParams = op.params.filter((p) => p.in === 'path');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const base = baseArb(op, opts);
  const cats: Array<{ weight: number; arbitrary: fc.Arbitrary<FuzzRequest> }> = [];

  const validBase = opts.validEngineShare === undefined ? base : baseArb(op, { ...opts, engineShare: opts.validEngineShare });
  cats.push({ weight: 14, arbitrary: validBase.map((b) => assemble(op, b, 'valid')) });

  if (json) {
    const jsonBase = baseArb(op, opts, (t) => t === JSON_CT);
    cats.push({ weight: 30, arbitrary: fc.tuple(jsonBase, fieldMutationArb).map(([b, m]) => { const r = mutateField(b.body, m); return assemble(op, b, `field:${r.label.split(':')[0]}`, r.body); }) });
    cats.push({ weight: 10, arbitrary: fc.tuple(jsonBase, bodyTextMutationArb).map(([b, m]) => textMutated(op, b, m)) });
  }
  if (media.length || op.method === 'POST') {
    cats.push({ weight: media.length ? 6 : 3, arbitrary: fc.tuple(base, fc.constantFrom(...BAD_CONTENT_TYPES, '(none)', '(no body)', '(empty json)', '(multipart to json route)', '(json as multipart)'), pickNat).map(([b, ct, n]) => contentTypeMutated(op, b, ct, n)) });
  }
  if (multipart) {
    const mpBase = baseArb(op, opts, (t) => t.startsWith('multipart/'));
    cats.push({ weight: 9, arbitrary: fc.tuple(mpBase, multipartOddityArb).map(([b, m]) => multipartMutated(op, b, m)) });
  }
  if (pathParams.length) {
    cats.push({ weight: 10, arbitrary: fc.tuple(base, pickNat, fc.oneof(fc.constantFrom(...ODD_PATH_VALUES).map((v) => ({ raw: true, v })), fc.constantFrom(...ODD_STRINGS).map((v) => ({ raw: false, v })), fc.string({ unit: 'binary', maxLength: 30 }).map((v) => ({ raw: false, v })))).map(([b, n, { raw, v }]) => {
      const name = pathParams[n % pathParams.length].name;
      const path = { ...b.path, [name]: v };
      const r = assemble(op, { ...b, path }, `path:${raw ? 'raw' : 'odd'}`);
      return { ...r, url: urlOf(op, path, b.query, { path: raw ? new Set([name]) : undefined }) };
    }) });
  }
  if (queryParams.length || op.method === 'GET') {
    cats.push({ weight: queryParams.length ? 8 : 2, arbitrary: fc.tuple(base, queryMutationArb(queryParams)).map(([b, q]) => {
      const r = assemble(op, b, `query:${q.label}`);
      const path = r.url.split('?')[0];
      return { ...r, url: q.text ? `${path}?${q.text}` : path };
    }) });
  }
  cats.push({ weight: 4, arbitrary: fc.tuple(base, headerOddityArb(opts)).map(([b, h]) => { const r = assemble(op, b, `header:${h.label}`); return { ...r, headers: { ...r.headers, ...h.headers } }; }) });
  return fc.oneof(...cats);
}

// ---------------------------------------------------------------- whole-body mutations

interface TextMutation { kind: string; n: number }

const bodyTextMutationArb: fc.Arbitrary<TextMutation> = fc.record({
  kind: fc.constantFrom('truncate', 'truncate', 'truncate', 'empty', 'whitespace', 'null', 'array', 'number', 'string', 'true', 'bom', 'trailing-comma', 'single-quotes', 'comment',
    'nan-literal', 'garbage-after', 'two-documents', 'utf16', 'invalid-utf8', 'latin1', 'deep-array', 'deep-object', 'big-small-route', 'nul-byte', 'unclosed-string', 'proto-root'),
  n: pickNat,
});

function textMutated(op: Operation, b: Base, m: TextMutation): FuzzRequest {
  const valid = jsonText(b.body ?? {});
  const url = urlOf(op, b.path, b.query);
  let payload: string | Buffer;
  switch (m.kind) {
    case 'truncate': payload = valid.slice(0, m.n % Math.max(1, valid.length)); break;
    case 'empty': payload = ''; break;
    case 'whitespace': payload = ' \n\t '; break;
    case 'null': payload = 'null'; break;
    case 'array': payload = `[${valid}]`; break;
    case 'number': payload = ['1', '1e400', '-0', 'NaN'][m.n % 4]; break;
    case 'string': payload = JSON.stringify(valid); break;
    case 'true': payload = 'true'; break;
    case 'bom': payload = `\ufeff${valid}`; break;
    case 'trailing-comma': payload = valid.replace(/}$/, ',}'); break;
    case 'single-quotes': payload = valid.replace(/"/g, "'"); break;
    case 'comment': payload = `/* c */${valid}`; break;
    case 'nan-literal': payload = valid.replace(/}$/, ',"x":NaN}'); break;
    case 'garbage-after': payload = `${valid}xyz`; break;
    case 'two-documents': payload = `${valid}${valid}`; break;
    case 'utf16': payload = Buffer.from(valid, 'utf16le'); break;
    case 'invalid-utf8': payload = Buffer.concat([Buffer.from(valid.slice(0, -1)), Buffer.from([0x2c, 0x22, 0xff, 0xfe, 0xc0, 0x22, 0x3a, 0x31, 0x7d])]); break;
    case 'latin1': payload = Buffer.from(valid.replace(/}$/, ',"é":"ü"}'), 'latin1'); break;
    case 'deep-array': payload = deepNest([1000, 100_000][m.n % 2], '[', ']').text; break;
    case 'deep-object': payload = deepNest([1000, 50_000][m.n % 2], '{"a":', '}').text; break;
    case 'big-small-route': payload = `{"x":"${'A'.repeat(70 * 1024)}"}`; break;
    case 'nul-byte': payload = valid.replace(/}$/, ',"\u0000":"\u0000"}'); break;
    case 'unclosed-string': payload = '{"image": {"base64": "abc'; break;
    case 'proto-root': payload = valid.replace(/^{/, '{"__proto__":{"admin":true},'); break;
    default: payload = valid;
  }
  return finish(op, `body:${m.kind}`, op.method, url, { 'content-type': JSON_CT }, payload, b.body);
}

function contentTypeMutated(op: Operation, b: Base, ct: string, n: number): FuzzRequest {
  const r = assemble(op, b, `ctype:${ct}`);
  const json = jsonText(b.body ?? {});
  const headers = { ...r.headers };
  switch (ct) {
    case '(none)': delete headers['content-type']; return { ...r, headers, payload: r.payload ?? json };
    case '(no body)': delete headers['content-type']; return { ...r, headers, payload: undefined };
    case '(empty json)': return { ...r, headers: { ...headers, 'content-type': JSON_CT }, payload: '' };
    case '(multipart to json route)': return { ...r, headers: { 'content-type': 'multipart/form-data; boundary=fzB0undary' }, payload: multipartPayload(isPlainObject(b.body) ? partsOf(b.body) : [{ name: 'x', body: json }], 'fzB0undary') };
    case '(json as multipart)': return { ...r, headers: { 'content-type': 'multipart/form-data; boundary=fzB0undary' }, payload: json };
    default: return { ...r, headers: { ...headers, 'content-type': ct }, payload: n % 3 === 0 ? r.payload ?? json : json };
  }
}

// ---------------------------------------------------------------- multipart oddities

interface MultipartOddity { kind: string; n: number; odd: string; value: unknown }

const multipartOddityArb: fc.Arbitrary<MultipartOddity> = fc.record({
  kind: fc.constantFrom('duplicate-field', 'duplicate-file', 'file-as-text', 'text-as-file', 'json-in-part', 'many-parts', 'many-files', 'no-boundary', 'wrong-boundary',
    'long-boundary', 'quoted-boundary', 'unclosed', 'cut-mid-part', 'lf-only', 'preamble', 'no-name', 'empty-name', 'odd-name', 'odd-filename', 'json-part-type',
    'huge-header', 'no-disposition', 'empty-body', 'base64-encoding', 'huge-field', 'unknown-field', 'nested-multipart', 'odd-value', 'filename-star', 'only-closing'),
  n: pickNat,
  odd: fc.constantFrom(...ODD_STRINGS.filter((s) => s.length < 5000)),
  value: hostileValue,
});

function multipartMutated(op: Operation, b: Base, m: MultipartOddity): FuzzRequest {
  const value = isPlainObject(b.body) ? b.body : {};
  let parts = partsOf(value);
  let boundary = 'fzB0undary';
  let headerBoundary: string | undefined;
  let opt: Parameters<typeof multipartPayload>[2] = {};
  let ct: string | undefined;
  let raw: Buffer | undefined;
  const files = parts.filter((p) => p.filename !== undefined);
  const texts = parts.filter((p) => p.filename === undefined);
  const pick = <T>(list: T[]) => list[m.n % Math.max(1, list.length)];
  switch (m.kind) {
    case 'duplicate-field': if (parts.length) parts = [...parts, { ...pick(parts) }]; break;
    case 'duplicate-file': if (files.length) parts = [...parts, { ...pick(files) }]; else parts = [...parts, { name: 'image', filename: 'x.jpg', body: Buffer.from([0xff, 0xd8]) }]; break;
    case 'file-as-text': parts = parts.map((p) => (p.filename !== undefined ? { name: p.name, body: Buffer.isBuffer(p.body) ? p.body.subarray(0, 2048).toString('latin1') : p.body } : p)); break;
    case 'text-as-file': parts = parts.map((p) => (p.filename === undefined ? { ...p, filename: `${p.name}.txt`, contentType: 'text/plain' } : p)); break;
    case 'json-in-part': parts = [{ name: ['json', 'body', 'data', 'image'][m.n % 4], contentType: JSON_CT, body: jsonText(value) }]; break;
    case 'many-parts': parts = [...parts, ...Array.from({ length: [13, 50, 500, 3000][m.n % 4] }, (_, i) => ({ name: `f${i}`, body: 'x' }))]; break;
    case 'many-files': parts = [...parts, ...Array.from({ length: [3, 20, 200][m.n % 3] }, (_, i) => ({ name: `file${i}`, filename: `${i}.jpg`, contentType: 'image/jpeg', body: Buffer.from([0xff, 0xd8, 0xff, i & 0xff]) }))]; break;
    case 'no-boundary': ct = 'multipart/form-data'; break;
    case 'wrong-boundary': headerBoundary = 'otherBoundary'; break;
    case 'long-boundary': boundary = 'b'.repeat([71, 200, 5000][m.n % 3]); break;
    case 'quoted-boundary': ct = `multipart/form-data; boundary="${boundary}"`; break;
    case 'unclosed': opt = { close: false }; break;
    case 'cut-mid-part': { const full = multipartPayload(parts, boundary); raw = full.subarray(0, Math.max(1, m.n % full.length)); break; }
    case 'lf-only': opt = { eol: '\n' }; break;
    case 'preamble': opt = { preamble: 'garbage before the first boundary', epilogue: 'and after the last' }; break;
    case 'no-name': parts = [...parts, { body: 'nameless' }]; if (parts.length > 1) parts[0] = { ...parts[0], name: undefined }; break;
    case 'empty-name': parts = [...parts, { name: '', body: 'x' }]; break;
    case 'odd-name': parts = [...parts, { name: m.odd.replace(/"/g, '\\"'), body: 'x' }]; break;
    case 'odd-filename': parts = parts.map((p) => (p.filename !== undefined ? { ...p, filename: ['../../etc/passwd', m.odd, '', 'a"b.jpg', '\u202egpj.exe'][m.n % 5] } : p)); break;
    case 'json-part-type': parts = parts.map((p) => (p.filename === undefined ? { ...p, contentType: JSON_CT } : p)); break;
    case 'huge-header': if (parts.length) parts[0] = { ...parts[0], extra: [`X-Pad: ${'p'.repeat([9000, 90_000][m.n % 2])}`] }; break;
    case 'no-disposition': if (parts.length) parts[m.n % parts.length] = { ...parts[m.n % parts.length], disposition: '' }; break;
    case 'empty-body': raw = Buffer.alloc(0); break;
    case 'base64-encoding': parts = parts.map((p) => (p.filename !== undefined && Buffer.isBuffer(p.body) ? { ...p, extra: ['Content-Transfer-Encoding: base64'], body: p.body.toString('base64') } : p)); break;
    case 'huge-field': parts = [...parts, { name: pick(texts)?.name ?? 'metadata', body: 'v'.repeat(70 * 1024) }]; break;
    case 'unknown-field': parts = [...parts, { name: ['colour', 'return_templates_', '__proto__', 'constructor'][m.n % 4], body: 'blue' }]; break;
    case 'nested-multipart': parts = [...parts, { name: 'nested', contentType: 'multipart/mixed; boundary=inner', body: multipartPayload([{ name: 'image', filename: 'a.jpg', body: 'x' }], 'inner') }]; break;
    case 'odd-value': if (texts.length) { const t = pick(texts); parts = parts.map((p) => (p === t ? { ...p, body: typeof m.value === 'string' ? m.value : jsonText(m.value) } : p)); } else parts = [...parts, { name: 'auto_rotate', body: jsonText(m.value) }]; break;
    case 'filename-star': parts = parts.map((p) => (p.filename !== undefined ? { ...p, disposition: `Content-Disposition: form-data; name="${p.name}"; filename*=UTF-8''%E2%80%AE%ZZ.jpg` } : p)); break;
    case 'only-closing': raw = Buffer.from(`--${boundary}--\r\n`); break;
  }
  const payload = raw ?? multipartPayload(parts, boundary, opt);
  const headers = { 'content-type': ct ?? `multipart/form-data; boundary=${headerBoundary ?? boundary}` };
  return finish(op, `multipart:${m.kind}`, op.method, urlOf(op, b.path, b.query), headers, payload, b.body);
}

// ---------------------------------------------------------------- query and headers

function queryMutationArb(params: Parameter[]): fc.Arbitrary<{ label: string; text: string }> {
  const names = params.length ? params.map((p) => p.name) : ['q'];
  return fc.tuple(fc.constantFrom('wrong-type', 'duplicate', 'unknown', 'bad-percent', 'array-syntax', 'proto', 'long', 'empty-value', 'key-only', 'ampersands', 'nul', 'extreme', 'odd'), pickNat, fc.constantFrom(...ODD_STRINGS.filter((s) => s.length < 5000)), fc.constantFrom(...EXTREME_NUMBERS, ...NUMBER_WORDS))
    .map(([kind, n, odd, num]) => {
      const k = names[n % names.length];
      const text = {
        'wrong-type': `${k}=${encodeComponent(['abc', '[]', '{}', 'true', '1.5', '-1'][n % 6])}`,
        duplicate: `${k}=1&${k}=2`,
        unknown: `colour=blue&${k}=1`,
        'bad-percent': `${k}=${['%', '%zz', '%E0%A4%A', '%ED%A0%80', '%C0%AF', '%FF%FE'][n % 6]}`,
        'array-syntax': `${k}[]=1&${k}[]=2`,
        proto: ['__proto__=x', '__proto__[admin]=1', 'constructor[prototype][x]=1', 'hasOwnProperty=1'][n % 4],
        long: `${k}=${'9'.repeat(20_000)}`,
        'empty-value': `${k}=`,
        'key-only': k,
        ampersands: '&&&=&',
        nul: `${k}=%00`,
        extreme: `${k}=${encodeComponent(num)}`,
        odd: `${k}=${encodeComponent(odd)}`,
      }[kind]!;
      return { label: kind, text };
    });
}

function headerOddityArb(opts: GenOptions): fc.Arbitrary<{ label: string; headers: Record<string, string> }> {
  return fc.tuple(fc.constantFrom('x-request-id', 'transaction', 'accept', 'content-encoding', 'expect', 'forwarded', 'range', 'if-none-match', 'content-md5'), pickNat, fc.constantFrom(...ODD_STRINGS.filter((s) => s.length < 5000 && !/[\u0000-\u001f\u007f-\uffff]/.test(s))))
    .map(([kind, n, odd]) => {
      const tx = opts.pools.get('transaction_id');
      const headers: Record<string, string> = {
        'x-request-id': { 'x-request-id': [odd, 'r'.repeat(10_000), 'ok-id-1', ''][n % 4] },
        transaction: { 'x-transaction-id': tx.length && n % 2 ? tx[n % tx.length] : [odd, 'txn_nope', 'x'.repeat(200)][n % 3] },
        accept: { accept: ['application/xml', 'text/html', '*/*;q=0', 'image/*'][n % 4] },
        'content-encoding': { 'content-encoding': ['gzip', 'deflate', 'br', 'identity', 'x-unknown'][n % 5] },
        expect: { expect: '100-continue' },
        forwarded: { 'x-forwarded-for': odd, forwarded: 'for=unknown' },
        range: { range: 'bytes=0-1' },
        'if-none-match': { 'if-none-match': '*' },
        'content-md5': { 'content-md5': odd },
      }[kind]!;
      return { label: kind, headers };
    });
}

// ---------------------------------------------------------------- unknown routes and methods

const STRAY_PATHS = [
  '/', '/v1', '/v1/', '/V1/detect', '/v1/detect/', '/v1//detect', '/v2/detect', '/v1/nope', '/v1/detect/extra', '/v1/%2e%2e/admin/clients', '/v1/health/',
  '/.well-known/jwks.json', '/metrics', '/openapi.json', '/docs', '/docs/json', '/docs/static/index.html', '/v1/images/', '/v1/collections//faces',
  '/favicon.ico', '/v1/admin', '/v1/audit', '/v1/users/%00', '/v1/sessions/..%2f..%2fetc', `/v1/${'a'.repeat(3000)}`, '/v1/detect%00', '/v1/detect;x',
  '/v1/health/ready', '/v1/health', '/v1/capabilities?x=%zz', '/*', '/v1/*',
];

/** Requests to paths and methods the document does not have. */
export function strayArb(ops: Operation[]): fc.Arbitrary<FuzzRequest> {
  const byPath = new Map<string, Set<string>>();
  for (const op of ops) byPath.set(op.path, (byPath.get(op.path) ?? new Set()).add(op.method));
  const paths = [...byPath.keys()];
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE'];
  const wrongMethod = fc.tuple(pickNat, pickNat).map(([a, b]): FuzzRequest => {
    const path = paths[a % paths.length];
    const missing = methods.filter((m) => !byPath.get(path)!.has(m) && !(m === 'HEAD' && byPath.get(path)!.has('GET')));
    const method = missing[b % missing.length] ?? 'TRACE';
    const url = path.replace(/\{[^}]+\}/g, 'x');
    const withBody = method !== 'GET' && method !== 'HEAD' && b % 2 === 0;
    return { op: undefined, kind: 'stray:wrong-method', method, url, headers: withBody ? { 'content-type': JSON_CT } : {}, payload: withBody ? '{}' : undefined, anonymous: false, auth: 'bootstrap', cost: 'cheap' as Cost, media: [] };
  });
  const head = pickNat.map((n): FuzzRequest => {
    const gets = ops.filter((o) => o.method === 'GET');
    const op = gets[n % gets.length];
    return { op: op.key, kind: 'stray:head', method: 'HEAD', url: op.path.replace(/\{[^}]+\}/g, 'x'), headers: {}, payload: undefined, anonymous: false, auth: 'bootstrap', cost: 'cheap' as Cost, media: [] };
  });
  const stray = fc.tuple(fc.constantFrom(...STRAY_PATHS), fc.constantFrom(...methods)).map(([url, method]): FuzzRequest => ({
    op: undefined, kind: 'stray:path', method, url, headers: {}, payload: undefined, anonymous: false, auth: 'bootstrap', cost: 'cheap' as Cost, media: [],
  }));
  return fc.oneof(wrongMethod, head, stray);
}

/**
 * Operations sent less often than the others: the export reads the whole audit trail, which grows
 * by one record per request, so at the uniform rate a long run would spend most of its time there.
 */
export const OPERATION_SHARE: Record<string, number> = { 'GET /v1/audit/export': 0.1 };

/** Every request: a uniformly chosen operation (or, now and then, a stray route), with bad credentials on a share. */
export function requestArb(ops: Operation[], opts: GenOptions & { badAuthShare: number; bootstrapKey: string }): fc.Arbitrary<FuzzRequest> {
  const byOp = fc.oneof(...ops.map((op) => ({ weight: Math.round(10 * (OPERATION_SHARE[op.key] ?? 1)), arbitrary: operationArb(op, opts) })));
  const creds = badCredentials(opts.bootstrapKey);
  const any = fc.oneof({ weight: 97, arbitrary: byOp }, { weight: 3, arbitrary: strayArb(ops) });
  return fc.tuple(any, unit, pickNat).map(([r, u, n]) => {
    if (u >= opts.badAuthShare) return r;
    const c = creds[n % creds.length];
    const headers = Object.fromEntries(Object.entries(r.headers).filter(([k]) => !['authorization', 'x-api-key', 'apikey', 'x-access-token'].includes(k)));
    return { ...r, headers: { ...headers, ...c.headers }, anonymous: true, auth: c.name };
  });
}
