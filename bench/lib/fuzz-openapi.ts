/**
 * The operations of an OpenAPI document (3.0.x or 3.1.x) in one shape the fuzzer generates from:
 * `$ref`s resolved, 3.0's `nullable` and boolean `exclusiveMinimum`, 3.1's type arrays, `const`,
 * numeric `exclusiveMinimum` and `prefixItems` (and draft-07's array `items`) all brought to one form.
 */

/** A JSON schema, normalised: `types` undefined means any value. */
export interface Schema {
  types?: string[];
  enum?: unknown[];
  anyOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  /** false: no other keys; a schema: other keys' values; undefined/true: anything. */
  additionalProperties?: boolean | Schema;
  items?: Schema | false;
  prefixItems?: Schema[];
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  /** `binary` marks a multipart file (3.0 `format: binary`, 3.1 `contentMediaType` or `contentEncoding`). */
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  default?: unknown;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: Schema;
}

export interface Operation {
  /** "POST /v1/detect": the path as the document writes it. */
  key: string;
  method: string;
  path: string;
  params: Parameter[];
  body?: { required: boolean; media: Array<{ type: string; schema: Schema }> };
  /** The statuses the document lists; `default` (any) when it has a default response. */
  statuses: Set<number>;
  hasDefault: boolean;
}

export interface ApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components?: Record<string, Record<string, unknown>>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

type Raw = Record<string, unknown>;

function resolver(doc: ApiDocument) {
  return (ref: string): Raw => {
    if (!ref.startsWith('#/')) throw new Error(`external $ref not supported: ${ref}`);
    let node: unknown = doc;
    for (const part of ref.slice(2).split('/')) node = (node as Raw)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (!node || typeof node !== 'object') throw new Error(`unresolved $ref ${ref}`);
    return node as Raw;
  };
}

/** Normalises one schema of a 3.0 or 3.1 document (`v31`), following `$ref`s up to a depth. */
export function normalizeSchema(raw: unknown, v31: boolean, resolve: (ref: string) => Raw, depth = 0): Schema {
  if (raw === true || raw === undefined || raw === null) return {};
  if (raw === false) return { types: [] };
  let s = raw as Raw;
  let guard = 0;
  while (typeof s.$ref === 'string' && guard++ < 20) s = { ...resolve(s.$ref), ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$ref')) };
  if (depth > 40) return {};
  const sub = (x: unknown) => normalizeSchema(x, v31, resolve, depth + 1);
  const out: Schema = {};
  if (typeof s.type === 'string') out.types = [s.type];
  else if (Array.isArray(s.type)) out.types = [...(s.type as string[])];
  if (s.nullable === true && out.types && !out.types.includes('null')) out.types.push('null');
  if (Array.isArray(s.enum)) out.enum = [...(s.enum as unknown[])];
  if ('const' in s) out.enum = [s.const];
  const alternatives = [...((s.anyOf as unknown[]) ?? []), ...((s.oneOf as unknown[]) ?? [])];
  if (alternatives.length) out.anyOf = alternatives.map(sub);
  if (Array.isArray(s.allOf)) out.allOf = (s.allOf as unknown[]).map(sub);
  if (s.properties && typeof s.properties === 'object') {
    out.properties = Object.fromEntries(Object.entries(s.properties as Raw).map(([k, v]) => [k, sub(v)]));
  }
  if (Array.isArray(s.required)) out.required = [...(s.required as string[])];
  if (s.additionalProperties === false || s.additionalProperties === true) out.additionalProperties = s.additionalProperties;
  else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    out.additionalProperties = Object.keys(s.additionalProperties).length === 0 ? true : sub(s.additionalProperties);
  }
  if (Array.isArray(s.prefixItems)) {
    out.prefixItems = (s.prefixItems as unknown[]).map(sub);
    if (s.items === false) out.items = false;
    else if (s.items !== undefined) out.items = sub(s.items);
  } else if (Array.isArray(s.items)) {
    // Draft-07 tuples (a 3.0 document written from TypeBox tuples): items is the list, additionalItems the rest.
    out.prefixItems = (s.items as unknown[]).map(sub);
    if (s.additionalItems === false) out.items = false;
    else if (s.additionalItems !== undefined && s.additionalItems !== true) out.items = sub(s.additionalItems);
  } else if (s.items !== undefined) out.items = s.items === false ? false : sub(s.items);
  for (const k of ['minItems', 'maxItems', 'minLength', 'maxLength', 'minimum', 'maximum', 'multipleOf'] as const) {
    if (typeof s[k] === 'number') out[k] = s[k] as number;
  }
  if (s.uniqueItems === true) out.uniqueItems = true;
  if (typeof s.pattern === 'string') out.pattern = s.pattern;
  if (typeof s.format === 'string') out.format = s.format;
  if (typeof s.contentMediaType === 'string' || typeof s.contentEncoding === 'string') out.format = 'binary';
  // 3.0: exclusiveMinimum is a flag on minimum; 3.1 (and draft 2019+): the bound itself.
  for (const [ex, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (typeof s[ex] === 'number') out[ex] = s[ex] as number;
    else if (s[ex] === true && typeof s[bound] === 'number') {
      out[ex] = s[bound] as number;
      delete out[bound];
    }
  }
  if ('default' in s) out.default = s.default;
  if (!out.types && !out.enum && !out.anyOf && !out.allOf) {
    if (out.properties) out.types = ['object'];
    else if (out.items !== undefined || out.prefixItems) out.types = ['array'];
  }
  void v31;
  return out;
}

/** Every operation of the document. */
export function operationsOf(doc: ApiDocument): Operation[] {
  const v31 = /^3\.1/.test(doc.openapi);
  if (!/^3\.[01]/.test(doc.openapi)) throw new Error(`unsupported OpenAPI version ${doc.openapi}`);
  const resolve = resolver(doc);
  const deref = (x: unknown): Raw => {
    let r = x as Raw;
    let guard = 0;
    while (r && typeof r.$ref === 'string' && guard++ < 20) r = resolve(r.$ref);
    return r;
  };
  const ops: Operation[] = [];
  for (const [path, itemRaw] of Object.entries(doc.paths ?? {})) {
    const item = deref(itemRaw);
    const shared = (item.parameters as unknown[] | undefined) ?? [];
    for (const method of METHODS) {
      const op = item[method] ? deref(item[method]) : undefined;
      if (!op) continue;
      const params = new Map<string, Parameter>();
      for (const p of [...shared, ...((op.parameters as unknown[] | undefined) ?? [])].map(deref)) {
        const where = p.in as Parameter['in'];
        params.set(`${where}:${p.name as string}`, {
          name: p.name as string,
          in: where,
          required: where === 'path' || p.required === true,
          schema: normalizeSchema(p.schema ?? firstContentSchema(p.content), v31, resolve),
        });
      }
      let body: Operation['body'];
      if (op.requestBody) {
        const rb = deref(op.requestBody);
        const content = (rb.content ?? {}) as Record<string, Raw>;
        body = {
          required: rb.required === true,
          media: Object.entries(content).map(([type, m]) => ({ type, schema: normalizeSchema(m?.schema, v31, resolve) })),
        };
      }
      const responses = Object.keys((op.responses ?? {}) as Raw);
      const statuses = new Set<number>();
      for (const code of responses) {
        if (/^\d{3}$/.test(code)) statuses.add(Number(code));
        else if (/^[1-5]XX$/i.test(code)) for (let i = 0; i < 100; i++) statuses.add(Number(code[0]) * 100 + i);
      }
      ops.push({ key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path, params: [...params.values()], body, statuses, hasDefault: responses.includes('default') });
    }
  }
  return ops;
}

function firstContentSchema(content: unknown): unknown {
  if (!content || typeof content !== 'object') return undefined;
  const first = Object.values(content as Raw)[0] as Raw | undefined;
  return first?.schema;
}

/** The operation a concrete method and path (no query) belong to, matching `{param}` segments. */
export function matchOperation(ops: Operation[], method: string, path: string): Operation | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  const segs = path.split('/');
  let best: { op: Operation; literal: number } | undefined;
  for (const op of ops) {
    if (op.method !== m) continue;
    const tpl = op.path.split('/');
    if (tpl.length !== segs.length) continue;
    let literal = 0;
    let ok = true;
    for (let i = 0; i < tpl.length && ok; i++) {
      if (/^\{[^}]+\}$/.test(tpl[i])) ok = segs[i].length > 0;
      else if (tpl[i] === segs[i]) literal++;
      else ok = false;
    }
    if (ok && (!best || literal > best.literal)) best = { op, literal };
  }
  return best?.op;
}
