import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createTestApp, TEST_BOOTSTRAP_KEY } from '../../test/helpers/app.ts';
import { ERROR_STATUS } from '../../src/core/errors.ts';
import type { Services } from '../../src/bootstrap.ts';
import { operationsOf, type ApiDocument, type Operation } from './fuzz-openapi.ts';
import { buildCorpus, type Corpus } from './fuzz-corpus.ts';
import { OPERATION_SHARE, Pools, requestArb, type FuzzRequest } from './fuzz-generate.ts';
import { Value } from '@sinclair/typebox/value';
import { dialectOf } from '../../src/api/dialects/registry.ts';

/**
 * Drives the real application in-process (inject) with requests generated from its own OpenAPI
 * document, and checks each answer: never a 5xx (503 from readiness aside), a status the document
 * lists for the operation, the documented error body on every 4xx, an audit record for every /v1
 * request, and the application still answering its health probe.
 */

export interface FuzzOptions {
  runs: number;
  seed: number;
  /** Undocumented statuses fail the run (otherwise they are reported as findings only). */
  strictStatuses?: boolean;
  /** Replay one request of a run: fast-check's path (the request's index). */
  replay?: string;
  /** Share of media in malformed requests that can reach the face engine (default 0.02). */
  engineShare?: number;
  /** The same in valid requests (default 0.6): what makes engine routes answer 2xx. */
  validEngineShare?: number;
  /** Share of 16 MiB media (default 0.001). */
  hugeShare?: number;
  /** Share of requests with bad or no credentials (default 0.06). */
  badAuthShare?: number;
  /** A request still unanswered after this is a finding (default 90 s). */
  timeoutMs?: number;
  /** RSS is measured after this many requests and at the end (default 10,000). */
  rssCheckpoint?: number;
  log?: (line: string) => void;
  /** Requests in flight at once (default 1: one after the other, reproducible). */
  concurrency?: number;
  /** The setup requests (an image, collections, users, a session, …) are sent again every this many requests (default 2,000). */
  setupEvery?: number;
  /** A request slower than this is reported (not failing; default 5,000 ms). */
  slowMs?: number;
  /** Progress every this many requests (default 5,000; 0: none). */
  progressEvery?: number;
}

export interface Reproduction {
  seed: number;
  path: string;
  replay: string;
  op: string | null;
  kind: string;
  auth: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body_bytes: number;
  body_excerpt: string;
  media: string[];
  status: number | null;
  response_excerpt: string;
  /** What the server logged for the request (level error): the stack of a 5xx. */
  server_log?: string;
  ms?: number;
}

export type FindingType = 'server-error' | 'error-body' | 'undocumented-status' | 'audit-missing' | 'no-answer' | 'inject-rejected' | 'app-down' | 'slow';

export interface Finding {
  type: FindingType;
  /** What groups repeats: the operation, status and error. */
  key: string;
  detail: string;
  count: number;
  examples: Reproduction[];
}

export interface OpStats {
  requests: number;
  statuses: Record<string, number>;
  ms: number;
  engine: number;
}

export interface FuzzReport {
  seed: number;
  runs: number;
  openapi: string;
  operations: number;
  requests: number;
  setupRequests: number;
  seconds: number;
  requestsPerSecond: number;
  statuses: Record<string, number>;
  byOperation: Record<string, OpStats>;
  byKind: Record<string, number>;
  byAuth: Record<string, number>;
  byCost: Record<string, { requests: number; ms: number }>;
  operationsNeverAnswered2xx: string[];
  /** Operations of the document no request was sent to. */
  operationsNeverSent: string[];
  /** Operations sent at a share other than 1 (relative to the others). */
  operationShares: Record<string, number>;
  findings: Finding[];
  audit: { expected: number; found: number; missing: number; chainValid: boolean | null; chainRecords: number | null };
  memory: {
    checkpoint: number;
    rssAtCheckpointMiB: number | null;
    rssAtEndMiB: number;
    heapAtCheckpointMiB: number | null;
    heapAtEndMiB: number;
    /** Growth of the whole RSS from the checkpoint to the end. */
    growthPercent: number | null;
    withinTenPercent: boolean | null;
    /**
     * The same for anonymous RSS (heap, malloc, buffers: what a leak grows), apart from file-backed
     * pages (mapped files: code, shared libraries, the model files). Linux only.
     */
    anonAtCheckpointMiB: number | null;
    anonAtEndMiB: number | null;
    anonGrowthPercent: number | null;
    anonWithinTenPercent: boolean | null;
    samples: MemorySample[];
  };
  /** Failures that make the run fail: server errors, error bodies, missing audit records, no answers, app down (and undocumented statuses when strict). */
  failures: number;
  strictStatuses: boolean;
}

const MiB = 1024 * 1024;

export interface MemorySample {
  requests: number;
  rssMiB: number;
  heapMiB: number;
  /** From /proc/self/status where there is one. */
  rssAnonMiB?: number;
  rssFileMiB?: number;
  /** The database file and its WAL. */
  dbMiB?: number;
  /** V8's external memory (ArrayBuffers: mostly reserved, untouched pages, e.g. 80 MiB per collection index's template chunk). */
  externalMiB?: number;
}

function procStatus(): { anon?: number; file?: number } {
  try {
    const text = fs.readFileSync('/proc/self/status', 'utf8');
    const kb = (name: string) => { const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text); return m ? Number(m[1]) * 1024 : undefined; };
    return { anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return {};
  }
}

function filesMiB(dir: string, names: string[]): number | undefined {
  let total = 0;
  for (const n of names) {
    try { total += fs.statSync(path.join(dir, n)).size; } catch { /* absent */ }
  }
  return total ? +(total / MiB).toFixed(1) : undefined;
}
const AUDIT_TENANT = 'default';
const PROBES = new Set(['/v1/health', '/v1/health/ready']);

function collectGarbage(): void {
  const g = (globalThis as { gc?: () => void }).gc ?? (() => {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  })();
  g();
  g();
}

function excerpt(payload: string | Buffer | undefined, max = 400): string {
  if (payload === undefined) return '';
  const text = Buffer.isBuffer(payload) ? payload.subarray(0, max * 2).toString('latin1') : payload.slice(0, max * 2);
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

function shortHeaders(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, v.length > 200 ? `${v.slice(0, 200)}… (${v.length} chars)` : v]));
}

/** An answer as the fuzzer keeps it: the body read as a stream, at most its first MiB kept (the audit export grows with the trail). */
export interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
  bytes: number;
  truncated: boolean;
}

const KEEP_BYTES = 1 << 20;

async function answerOf(res: { statusCode: number; headers: Answer['headers']; stream(): Readable }): Promise<Answer> {
  const kept: Buffer[] = [];
  let bytes = 0;
  let keptBytes = 0;
  for await (const chunk of res.stream()) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    bytes += b.length;
    if (keptBytes < KEEP_BYTES) {
      const part = b.subarray(0, KEEP_BYTES - keptBytes);
      kept.push(part);
      keptBytes += part.length;
    }
  }
  return { statusCode: res.statusCode, headers: res.headers, body: Buffer.concat(kept).toString('utf8'), bytes, truncated: bytes > keptBytes };
}

/** The error body every 4xx and 5xx carries: {"request_id", "client_request_id"?, "error": {"code", "message", "field"?}}. */
export function errorBodyProblem(res: Pick<Answer, 'statusCode' | 'headers' | 'body'>, url = '/v1/'): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return `not JSON (content-type ${String(res.headers['content-type'])}): ${res.body.slice(0, 80)}`;
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'not an object';
  // A vendor dialect answers in its vendor's shape: the error schema its descriptor documents.
  const vendor = dialectOf(url);
  if (vendor) {
    const first = [...Value.Errors(vendor.dialect.errorSchema, body)][0];
    return first ? `not ${vendor.dialect.name}'s error body: ${first.path || '/'} ${first.message}` : undefined;
  }
  const b = body as Record<string, unknown>;
  const extra = Object.keys(b).filter((k) => !['request_id', 'client_request_id', 'error'].includes(k));
  if (extra.length) return `unexpected members ${extra.join(', ')}`;
  if (typeof b.request_id !== 'string' || !b.request_id) return 'no request_id';
  if (res.headers['x-request-id'] !== undefined && res.headers['x-request-id'] !== b.request_id) return 'request_id differs from X-Request-Id';
  const e = b.error as Record<string, unknown> | undefined;
  if (!e || typeof e !== 'object') return 'no error object';
  const extraE = Object.keys(e).filter((k) => !['code', 'message', 'field'].includes(k));
  if (extraE.length) return `unexpected error members ${extraE.join(', ')}`;
  if (typeof e.code !== 'string') return 'no error.code';
  if (typeof e.message !== 'string' || !e.message) return 'no error.message';
  if (e.field !== undefined && typeof e.field !== 'string') return 'error.field is not a string';
  const documented = (ERROR_STATUS as Record<string, number>)[e.code];
  if (documented === undefined) return `undocumented error code ${e.code}`;
  if (documented !== res.statusCode) return `code ${e.code} is documented as ${documented}, answered ${res.statusCode}`;
  return undefined;
}

/** The error code of an answer: ours (error.code) or a framework's (code), or its start. */
function errorCodeOf(body: string): string {
  const m = /"code":"([^"]*)"/.exec(body);
  return m ? m[1] : '';
}

/** Is this request one the audit trail must record? Every /v1 request but the health probes. */
export function mustBeAudited(url: string): boolean {
  const path = url.split('?')[0];
  return (path.startsWith('/v1/') || dialectOf(path) !== undefined) && !PROBES.has(path);
}

class Recorder {
  readonly findings = new Map<string, Finding>();
  constructor(private readonly maxExamples = 5) {}

  add(type: FindingType, key: string, detail: string, repro: Reproduction): void {
    const id = `${type} ${key}`;
    const f = this.findings.get(id) ?? { type, key, detail, count: 0, examples: [] };
    f.count++;
    if (f.examples.length < this.maxExamples) f.examples.push(repro);
    this.findings.set(id, f);
  }
}

interface PendingAudit {
  requestId: string | undefined;
  repro: () => Reproduction;
}

/** Requests that create what the fuzzed requests refer to (an image, a collection with a face, a user, a session, a file, a challenge, a transaction, a client and key, a template). */
async function setup(app: FastifyInstance, corpus: Corpus, pools: Pools, note: (url: string, res: Pick<Answer, 'statusCode' | 'headers' | 'body'>) => void): Promise<number> {
  const face = { base64: corpus.face.toString('base64') };
  const steps: Array<{ method: 'POST' | 'GET'; url: string; payload?: object }> = [
    { method: 'POST', url: '/v1/detect', payload: { image: face, return_templates: true } },
    { method: 'POST', url: '/v1/images', payload: { image: face, label: 'fuzz' } },
    { method: 'POST', url: '/v1/collections', payload: { name: 'fz-gallery' } },
    { method: 'POST', url: '/v1/collections', payload: { name: 'fz-watch', kind: 'watchlist' } },
    { method: 'POST', url: '/v1/collections/fz-gallery/faces', payload: { image: face, external_id: 'fz-person' } },
    { method: 'POST', url: '/v1/collections/fz-watch/faces', payload: { image: face, external_id: 'fz-suspect' } },
    { method: 'POST', url: '/v1/users', payload: { user_id: 'fz-user', faces: [{ image: face }] } },
    { method: 'POST', url: '/v1/users', payload: { user_id: 'fz-user-2', faces: [{ image: face }, { image: face, image_type: 'ID_DOCUMENT' }] } },
    { method: 'POST', url: '/v1/sessions', payload: {} },
    { method: 'POST', url: '/v1/files', payload: { frames: [{ base64: face.base64 }] } },
    { method: 'POST', url: '/v1/liveness/challenges' },
    { method: 'POST', url: '/v1/transactions', payload: { reference_id: 'fz' } },
    { method: 'POST', url: '/v1/admin/clients', payload: { client_id: 'fz-client' } },
    { method: 'POST', url: '/v1/admin/clients/fz-client/keys', payload: { scopes: ['detect', 'compare'] } },
  ];
  let sent = 0;
  for (const s of steps) {
    const res = await app.inject({ method: s.method, url: s.url, ...(s.payload ? { payload: s.payload } : {}) });
    sent++;
    note(s.url, res);
  }
  const session = pools.get('session_id')[0];
  if (session) {
    const res = await app.inject({ method: 'POST', url: `/v1/sessions/${session}/faces`, payload: { image: face } });
    sent++;
    note('/v1/sessions/x/faces', res);
  }
  return sent;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {});
  // The server's error log, by request id: the stack of a 5xx, or why an audit record was not written.
  const serverLog = new Map<string, string>();
  const stream = {
    write(line: string) {
      try {
        const o = JSON.parse(line) as { reqId?: string; msg?: string; err?: { stack?: string; message?: string } };
        if (!o.reqId) return;
        serverLog.set(o.reqId, `${o.msg ?? ''}: ${o.err?.stack ?? o.err?.message ?? ''}`.slice(0, 1500));
        if (serverLog.size > 2000) serverLog.delete(serverLog.keys().next().value!);
      } catch { /* not JSON */ }
    },
  };
  const { app, config, services } = await createTestApp({
    FACEPROOF_RATE_LIMIT_PER_SECOND: '1000000',
    FACEPROOF_RATE_LIMIT_BURST: '1000000',
  }, { logger: { level: 'error', stream } });
  try {
    return await fuzzApp(app, services, options, log, serverLog, config.dataDir);
  } finally {
    await app.close();
    fs.rmSync(config.dataDir, { recursive: true, force: true });
  }
}

async function fuzzApp(app: FastifyInstance, services: Services, options: FuzzOptions, log: (line: string) => void, serverLog: Map<string, string>, dataDir: string): Promise<FuzzReport> {
  const doc = app.swagger() as unknown as ApiDocument;
  const ops = operationsOf(doc);
  const opByKey = new Map(ops.map((o) => [o.key, o]));
  const corpus = await buildCorpus();
  const pools = new Pools();
  pools.add('collection', 'fz-gallery');
  pools.add('client_id', 'bootstrap');
  pools.add('key_id', 'bootstrap');
  const recorder = new Recorder();
  const statuses: Record<string, number> = {};
  const byOperation: Record<string, OpStats> = {};
  const byKind: Record<string, number> = {};
  const byAuth: Record<string, number> = {};
  const byCost: Record<string, { requests: number; ms: number }> = {};
  const pending: PendingAudit[] = [];
  const audit = { expected: 0, found: 0, missing: 0 };
  const checkpoint = options.rssCheckpoint ?? 10_000;
  const samples: MemorySample[] = [];
  let atCheckpoint: MemorySample | undefined;
  let sent = 0;
  const timeoutMs = options.timeoutMs ?? 90_000;
  const strict = !!options.strictStatuses;
  const harvest = (url: string, res: Pick<Answer, 'statusCode' | 'headers' | 'body'> & { truncated?: boolean }) => {
    if (res.statusCode >= 300 || res.truncated || !String(res.headers['content-type'] ?? '').includes('json')) return;
    try { pools.harvest(JSON.parse(res.body), url.split('?')[0]); } catch { /* not JSON */ }
  };

  let setupRound = 0;
  const runSetup = () => setup(app, corpus, pools, (url, res) => {
    harvest(url, res);
    if (res.statusCode >= 400 && setupRound === 0) log(`setup: ${url} answered ${res.statusCode} ${res.body.slice(0, 160)}`);
    if (res.statusCode >= 500) recorder.add('server-error', `setup ${url} ${res.statusCode}`, `setup request ${url} answered ${res.statusCode}`, { seed: options.seed, path: 'setup', replay: '', op: null, kind: 'setup', auth: 'bootstrap', method: 'POST', url, headers: {}, body_bytes: 0, body_excerpt: '', media: [], status: res.statusCode, response_excerpt: res.body.slice(0, 300) });
    audit.expected++;
    pending.push({ requestId: res.headers['x-request-id'] as string | undefined, repro: () => ({ seed: options.seed, path: 'setup', replay: '', op: null, kind: 'setup', auth: 'bootstrap', method: 'POST', url, headers: {}, body_bytes: 0, body_excerpt: '', media: [], status: res.statusCode, response_excerpt: res.body.slice(0, 200) }) });
  });
  let setupSent = await runSetup();

  const checkAudit = async () => {
    await new Promise((r) => setImmediate(r));
    for (const p of pending.splice(0)) {
      let ok = false;
      if (p.requestId) {
        try { await services.audit.get(AUDIT_TENANT, p.requestId); ok = true; } catch { ok = false; }
      }
      if (ok) audit.found++;
      else {
        audit.missing++;
        const r = p.repro();
        const why = p.requestId ? 'no audit record for the request id' : 'no X-Request-Id on the answer';
        recorder.add('audit-missing', `${r.status} ${errorCodeOf(r.response_excerpt)} ${why}`, `${r.status} ${errorCodeOf(r.response_excerpt)}: ${why}${r.server_log ? ` (server log: ${r.server_log.split('\n')[0]})` : ''}`, r);
      }
    }
  };

  const health = async (at: string) => {
    try {
      const res = await app.inject({ method: 'GET', url: '/v1/health' });
      if (res.statusCode !== 200) recorder.add('app-down', `health ${res.statusCode}`, `GET /v1/health answered ${res.statusCode} ${at}`, stub(options.seed, at, res.statusCode, res.body));
    } catch (err) {
      recorder.add('app-down', 'health threw', `GET /v1/health threw ${at}: ${(err as Error).message}`, stub(options.seed, at, null, ''));
    }
  };

  const memorySample = (): MemorySample => {
    collectGarbage();
    const m = process.memoryUsage();
    const p = procStatus();
    const sample: MemorySample = {
      requests: sent, rssMiB: +(m.rss / MiB).toFixed(1), heapMiB: +(m.heapUsed / MiB).toFixed(1),
      ...(p.anon !== undefined ? { rssAnonMiB: +(p.anon / MiB).toFixed(1) } : {}),
      ...(p.file !== undefined ? { rssFileMiB: +(p.file / MiB).toFixed(1) } : {}),
      dbMiB: filesMiB(dataDir, ['faceproof.db', 'faceproof.db-wal']),
      externalMiB: +(m.external / MiB).toFixed(0),
    };
    samples.push(sample);
    return sample;
  };
  memorySample();

  const send = async (req: FuzzRequest, path: string) => {
    const t0 = performance.now();
    let res: Answer | undefined;
    let thrown: Error | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      res = await Promise.race([
        (app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, payload: req.payload, anonymous: req.anonymous, payloadAsStream: true } as never) as unknown as Promise<Parameters<typeof answerOf>[0]>).then(answerOf),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'FUZZ_TIMEOUT' })), timeoutMs); }),
      ]);
    } catch (err) {
      thrown = err as Error;
    } finally {
      clearTimeout(timer);
    }
    const ms = performance.now() - t0;
    sent++;
    const opKey = req.op ?? 'stray';
    const requestId = res?.headers['x-request-id'] as string | undefined;
    const stats = (byOperation[opKey] ??= { requests: 0, statuses: {}, ms: 0, engine: 0 });
    stats.requests++;
    stats.ms += ms;
    if (req.cost !== 'cheap') stats.engine++;
    byKind[req.kind] = (byKind[req.kind] ?? 0) + 1;
    byAuth[req.auth] = (byAuth[req.auth] ?? 0) + 1;
    const cost = (byCost[req.cost] ??= { requests: 0, ms: 0 });
    cost.requests++;
    cost.ms += ms;
    const repro = (): Reproduction => ({
      seed: options.seed, path, replay: `npm run fuzz -- --seed ${options.seed} --replay ${path}`, op: req.op ?? null, kind: req.kind, auth: req.auth,
      method: req.method, url: req.url.length > 300 ? `${req.url.slice(0, 300)}… (${req.url.length} chars)` : req.url, headers: shortHeaders(req.headers),
      body_bytes: req.payload === undefined ? 0 : Buffer.byteLength(req.payload), body_excerpt: excerpt(req.payload), media: req.media,
      status: res?.statusCode ?? null, response_excerpt: res ? res.body.slice(0, 300) : String(thrown?.message), ms: Math.round(ms),
      ...(requestId && serverLog.has(requestId) ? { server_log: serverLog.get(requestId) } : {}),
    });
    if (!res) {
      const code = (thrown as { code?: string })?.code;
      if (code === 'FUZZ_TIMEOUT') recorder.add('no-answer', opKey, thrown!.message, repro());
      else recorder.add('inject-rejected', `${opKey} ${code ?? thrown?.name}`, `inject() refused to send it (client side): ${thrown?.message}`, repro());
      statuses.none = (statuses.none ?? 0) + 1;
      stats.statuses.none = (stats.statuses.none ?? 0) + 1;
      return;
    }
    const status = res.statusCode;
    if (ms > (options.slowMs ?? 5000)) recorder.add('slow', `${opKey} ${req.kind}`, `${opKey} took ${Math.round(ms)} ms (${status})`, repro());
    statuses[status] = (statuses[status] ?? 0) + 1;
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    const urlPath = req.url.split('?')[0];
    if (status >= 500 && !(status === 503 && urlPath === '/v1/health/ready')) {
      const r = repro();
      const where = r.server_log ? r.server_log.split('\n').slice(0, 2).join(' ').replace(/\s+/g, ' ').slice(0, 160) : errorCodeOf(res.body);
      recorder.add('server-error', `${opKey} ${status} ${where}`, `${opKey} answered ${status}: ${where}`, r);
    }
    const op = req.op ? opByKey.get(req.op) : undefined;
    if (op && !op.hasDefault && !op.statuses.has(status)) {
      recorder.add('undocumented-status', `${op.key} ${status}`, `${op.key} answered ${status}, which its document does not list (${[...op.statuses].join(', ')})`, repro());
    }
    const code = errorCodeOf(res.body);
    if (status >= 400 && req.method !== 'HEAD') {
      const problem = errorBodyProblem(res, req.url);
      if (problem) recorder.add('error-body', `${status} ${code} ${problem.replace(/:.*/, '')}`, `${status} ${code}: ${problem}`, repro());
    }
    if (mustBeAudited(req.url)) {
      audit.expected++;
      pending.push({ requestId: res.headers['x-request-id'] as string | undefined, repro });
    }
    harvest(req.url, res);
  };

  const arb = requestArb(ops, {
    corpus, pools, engineShare: options.engineShare ?? 0.02, validEngineShare: options.validEngineShare ?? 0.6, hugeShare: options.hugeShare ?? 0.001, badAuthShare: options.badAuthShare ?? 0.06, bootstrapKey: TEST_BOOTSTRAP_KEY,
  });
  let index = options.replay ? Number(options.replay.split(':')[0]) : 0;
  const progressEvery = options.progressEvery ?? 5000;
  const fuzzStart = performance.now();
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const inflight = new Set<Promise<void>>();
  await fc.assert(fc.asyncProperty(arb, async (req) => {
    const path = String(index++);
    if (options.replay) log(`replaying ${path}: ${req.method} ${req.url.slice(0, 300)} kind=${req.kind} auth=${req.auth} headers=${JSON.stringify(shortHeaders(req.headers))} body=${excerpt(req.payload, 1000)}`);
    if (concurrency === 1) await send(req, path);
    else {
      // Several requests in flight at once: what a real server sees (the order of answers, and so the pools, varies between runs).
      const p: Promise<void> = send(req, path).finally(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= concurrency) await Promise.race(inflight);
    }
    if (sent % 250 === 0) await checkAudit();
    if (sent % 1000 === 0) await health(`after ${sent} requests`);
    // What the fuzzed requests deleted (the stored image, the users, the collections) is made again now and then.
    if (!options.replay && sent % (options.setupEvery ?? 2000) === 0) { setupRound++; setupSent += await runSetup(); }
    if (sent === checkpoint) {
      await checkAudit();
      atCheckpoint = memorySample();
      log(`RSS after ${checkpoint} requests: ${describeSample(atCheckpoint)}`);
    } else if (sent % 10_000 === 0) log(`RSS after ${sent} requests: ${describeSample(memorySample())}`);
    if (progressEvery && sent % progressEvery === 0) {
      const s = (performance.now() - fuzzStart) / 1000;
      log(`${sent} requests, ${(sent / s).toFixed(0)}/s, ${[...recorder.findings.values()].filter((f) => f.type === 'server-error').reduce((a, f) => a + f.count, 0)} server errors, ${audit.missing} audit records missing`);
    }
    return true;
  }), { seed: options.seed, numRuns: options.replay ? 1 : options.runs, ...(options.replay ? { path: options.replay } : {}) });
  await Promise.all(inflight);
  await checkAudit();
  await health('at the end');
  const seconds = (performance.now() - fuzzStart) / 1000;
  const end = memorySample();

  let chainValid: boolean | null = null;
  let chainRecords: number | null = null;
  try {
    const v = await services.audit.verify();
    chainValid = v.valid;
    chainRecords = v.records;
  } catch (err) {
    log(`audit verification threw: ${(err as Error).message}`);
  }

  const findings = [...recorder.findings.values()].sort((a, b) => a.type.localeCompare(b.type) || b.count - a.count);
  const growthOf = (a?: number, b?: number) => (a && b !== undefined ? ((b - a) / a) * 100 : null);
  const growth = growthOf(atCheckpoint?.rssMiB, end.rssMiB);
  const anonGrowth = growthOf(atCheckpoint?.rssAnonMiB, end.rssAnonMiB);
  return {
    seed: options.seed,
    runs: options.runs,
    openapi: doc.openapi,
    operations: ops.length,
    requests: sent,
    setupRequests: setupSent,
    seconds: +seconds.toFixed(1),
    requestsPerSecond: +(sent / seconds).toFixed(1),
    statuses,
    byOperation: Object.fromEntries(Object.entries(byOperation).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, { ...v, ms: +v.ms.toFixed(1) }])),
    byKind: Object.fromEntries(Object.entries(byKind).sort(([, a], [, b]) => b - a)),
    byAuth,
    byCost: Object.fromEntries(Object.entries(byCost).map(([k, v]) => [k, { requests: v.requests, ms: +v.ms.toFixed(1) }])),
    operationShares: OPERATION_SHARE,
    operationsNeverSent: ops.filter((o) => !byOperation[o.key]).map((o) => o.key),
    operationsNeverAnswered2xx: ops.filter((o) => !Object.keys(byOperation[o.key]?.statuses ?? {}).some((s) => s.startsWith('2'))).map((o) => o.key),
    findings,
    audit: { ...audit, chainValid, chainRecords },
    memory: {
      checkpoint,
      rssAtCheckpointMiB: atCheckpoint?.rssMiB ?? null,
      rssAtEndMiB: end.rssMiB,
      heapAtCheckpointMiB: atCheckpoint?.heapMiB ?? null,
      heapAtEndMiB: end.heapMiB,
      growthPercent: growth === null ? null : +growth.toFixed(1),
      withinTenPercent: growth === null ? null : growth <= 10,
      anonAtCheckpointMiB: atCheckpoint?.rssAnonMiB ?? null,
      anonAtEndMiB: end.rssAnonMiB ?? null,
      anonGrowthPercent: anonGrowth === null ? null : +anonGrowth.toFixed(1),
      anonWithinTenPercent: anonGrowth === null ? null : anonGrowth <= 10,
      samples,
    },
    failures: findings.filter((f) => isFailure(f, strict)).reduce((a, f) => a + f.count, 0),
    strictStatuses: strict,
  };
}

function describeSample(m: MemorySample): string {
  return `${m.rssMiB} MiB (anonymous ${m.rssAnonMiB ?? '?'} MiB, file-backed ${m.rssFileMiB ?? '?'} MiB; heap ${m.heapMiB} MiB; external ${m.externalMiB ?? '?'} MiB; database ${m.dbMiB ?? '?'} MiB)`;
}

/** The memory acceptance: the whole resident set (anonymous RSS is reported beside it, to tell the allocator's growth from mapped files). */
export function memoryVerdict(m: FuzzReport['memory']): boolean | null {
  return m.withinTenPercent;
}

function stub(seed: number, at: string, status: number | null, body: string): Reproduction {
  return { seed, path: at, replay: '', op: 'GET /v1/health', kind: 'probe', auth: 'bootstrap', method: 'GET', url: '/v1/health', headers: {}, body_bytes: 0, body_excerpt: '', media: [], status, response_excerpt: body.slice(0, 300) };
}

/** Is this finding one that fails the run? */
export function isFailure(f: Finding, strict: boolean): boolean {
  return f.type === 'server-error' || f.type === 'error-body' || f.type === 'audit-missing' || f.type === 'no-answer' || f.type === 'app-down' || (strict && f.type === 'undocumented-status');
}

/** The report as text: requests per operation, the status histogram, findings with reproductions, memory and audit. */
export function formatReport(r: FuzzReport, o: { examples?: number } = {}): string {
  const lines: string[] = [];
  const hist = (h: Record<string, number>) => Object.entries(h).sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s}:${n}`).join(' ');
  lines.push(`Fuzzed ${r.requests} requests (+${r.setupRequests} setup) over ${r.operations} operations of the OpenAPI ${r.openapi} document in ${r.seconds} s (${r.requestsPerSecond}/s), seed ${r.seed}`);
  lines.push('', 'Requests per operation (status histogram, engine-reaching requests, mean ms):');
  const width = Math.max(...Object.keys(r.byOperation).map((k) => k.length));
  for (const [op, s] of Object.entries(r.byOperation)) lines.push(`  ${op.padEnd(width)} ${String(s.requests).padStart(6)}  ${hist(s.statuses)}  engine:${s.engine} ${(s.ms / s.requests).toFixed(1)}ms`);
  lines.push('', `Status histogram: ${hist(r.statuses)}`);
  lines.push(`Cost classes: ${Object.entries(r.byCost).map(([k, v]) => `${k} ${v.requests} (mean ${(v.ms / v.requests).toFixed(1)} ms)`).join(', ')}`);
  lines.push(`Credentials: ${Object.entries(r.byAuth).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (Object.keys(r.operationShares).length) lines.push(`Sent at a lower share than the other operations: ${Object.entries(r.operationShares).map(([op, x]) => `${op} ×${x}`).join(', ')}`);
  if (r.operationsNeverSent.length) lines.push(`Operations never sent: ${r.operationsNeverSent.join(', ')}`);
  if (r.operationsNeverAnswered2xx.length) lines.push(`Operations that never answered 2xx: ${r.operationsNeverAnswered2xx.join(', ')}`);
  const n = o.examples ?? 1;
  for (const type of ['server-error', 'no-answer', 'app-down', 'error-body', 'audit-missing', 'undocumented-status', 'slow', 'inject-rejected'] as const) {
    const fs = r.findings.filter((f) => f.type === type);
    if (!fs.length) continue;
    const total = fs.reduce((a, f) => a + f.count, 0);
    lines.push('', `${type} (${total} requests, ${fs.length} kinds${isFailure(fs[0], r.strictStatuses) ? '' : '; reported, not failing'}):`);
    for (const f of fs) {
      lines.push(`  ${f.count}× ${f.detail}  [${f.key}]`);
      for (const e of f.examples.slice(0, n)) {
        lines.push(`      ${e.method} ${e.url}  kind=${e.kind} auth=${e.auth}${e.media.length ? ` media=${e.media.join('|')}` : ''}`);
        lines.push(`      headers ${JSON.stringify(e.headers)} body(${e.body_bytes} B) ${e.body_excerpt.slice(0, 240)}`);
        lines.push(`      → ${e.status} in ${e.ms ?? '?'} ms: ${e.response_excerpt.slice(0, 200)}`);
        if (e.server_log) lines.push(`      server log: ${e.server_log.split('\n').slice(0, 6).join('\n        ')}`);
        if (e.replay) lines.push(`      reproduce: ${e.replay}`);
      }
    }
  }
  lines.push('', `Audit: ${r.audit.found} of ${r.audit.expected} /v1 requests have their record (${r.audit.missing} missing); chain ${r.audit.chainValid === null ? 'not verified' : r.audit.chainValid ? 'valid' : 'BROKEN'} over ${r.audit.chainRecords ?? '?'} records`);
  const m = r.memory;
  const pct = (x: number | null, ok: boolean | null) => (x === null ? '' : ` (${x >= 0 ? '+' : ''}${x} %: ${ok ? 'within' : 'OUTSIDE'} 10 %)`);
  lines.push(`Memory: RSS ${m.rssAtCheckpointMiB ?? '—'} MiB after ${m.checkpoint} requests, ${m.rssAtEndMiB} MiB at the end${m.growthPercent === null ? ' (run too short for the comparison)' : pct(m.growthPercent, m.withinTenPercent)}`);
  if (m.anonAtEndMiB !== null) lines.push(`  anonymous RSS (heap, malloc, buffers) ${m.anonAtCheckpointMiB ?? '—'} → ${m.anonAtEndMiB} MiB${pct(m.anonGrowthPercent, m.anonWithinTenPercent)}; file-backed (code, libraries, models) ${r.memory.samples.find((s) => s.requests === m.checkpoint)?.rssFileMiB ?? '—'} → ${r.memory.samples[r.memory.samples.length - 1].rssFileMiB} MiB; database ${r.memory.samples.find((s) => s.requests === m.checkpoint)?.dbMiB ?? '—'} → ${r.memory.samples[r.memory.samples.length - 1].dbMiB} MiB; V8 heap ${m.heapAtCheckpointMiB ?? '—'} → ${m.heapAtEndMiB} MiB`);
  const memoryOk = memoryVerdict(m);
  lines.push(`Verdict: ${r.failures === 0 && memoryOk !== false ? 'PASS' : 'FAIL'} (${r.failures} failing requests${r.strictStatuses ? ', undocumented statuses counted' : ', undocumented statuses reported only'}; ${m.growthPercent === null ? 'memory not judged: shorter than the checkpoint' : `memory judged on the whole RSS`})`);
  return lines.join('\n');
}
