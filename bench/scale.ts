/**
 * Several server nodes on one PostgreSQL:
 *   npm run bench:scale [-- --database-url postgres://postgres@127.0.0.1:5432/postgres --nodes 3
 *     --duration 20 --search-size 100000 --ready-size 1000000 --out docs/bench/scale.json]
 * 1. Creates a database of its own on the server of --database-url (default FACEPROOF_TEST_DATABASE_URL,
 *    else the local one), dropped at the end, and starts --nodes server processes on it as `npm
 *    start` does: each its own data folder, all the same FACEPROOF_MASTER_KEY and bootstrap key,
 *    FACEPROOF_RATE_LIMIT_PER_SECOND=0 and FACEPROOF_INFERENCE_THREADS=1.
 * 2. For 1, 2, … nodes: POST /v1/compare (two 640×480 crops of the face-api sample photos, as
 *    bench:load) and POST /v1/collections/{name}/search by template on a collection of
 *    --search-size random unit templates of the server's model (bulk-loaded through
 *    POST …/faces/batch), one autocannon instance per node with the same connections each, for
 *    --duration s. Reported: throughput, latency p50/p95/p99, the CPU seconds of the nodes, of the
 *    database's backends and of this client, and the database's share of each request's time,
 *    measured two ways (see `method` in the JSON): PostgreSQL's own count of the time its backends
 *    spent executing statements for this database (pg_stat_database.active_time), and the same
 *    one-node load against a node on the embedded SQLite store.
 * 3. A new node's start with a --ready-size collection already in the database (rows written by
 *    the product's repository, templates sealed under the master key as the server writes them):
 *    first with an empty data folder (the index is built from every template in PostgreSQL), then
 *    again on the snapshot that first start left.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import sharp from 'sharp';
import { PROJECT_ROOT } from '../src/config.ts';
import { encodeTemplate } from '../src/core/template.ts';
import { MasterKeyring } from '../src/store/crypto/master-keyring.ts';
import { TemplateCodec } from '../src/store/sqlite/template-codec.ts';
import { openPostgresStore } from '../src/store/postgres/store.ts';
import { AUDIT_CHAIN_LOCK_KEY } from '../src/store/postgres/audit-repository.ts';
import { AuditTrail, type AuditFacts } from '../src/core/audit.ts';
import { samplePhotoPath } from './lib/photos.ts';
import { freePort } from './lib/server-process.ts';
import { backendCpuDelta, backendCpuSeconds, machineCpuSeconds, processCpuSeconds, processRssMb } from './lib/proc-cpu.ts';

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' }, nodes: { type: 'string' }, duration: { type: 'string' }, connections: { type: 'string' },
    'search-size': { type: 'string' }, 'ready-size': { type: 'string' }, 'no-sqlite': { type: 'boolean' }, 'audit-seconds': { type: 'string' }, phases: { type: 'string' }, out: { type: 'string' },
  },
});
const serverUrl = values['database-url'] ?? process.env.FACEPROOF_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NODES = Number(values.nodes ?? 3);
const DURATION = Number(values.duration ?? 20);
const CONNECTIONS = Number(values.connections ?? 4); // per node
const SEARCH_SIZE = Number(values['search-size'] ?? 100_000);
const READY_SIZE = Number(values['ready-size'] ?? 1_000_000);
const SQLITE = !values['no-sqlite'];
const AUDIT_SECONDS = Number(values['audit-seconds'] ?? 10);
/** Which parts run: compare, search, ready (a new node's start), audit (the chain's ceiling). */
const PHASES = new Set((values.phases ?? 'compare,search,ready,audit').split(','));
/** pg_stat_database is fed by each backend at most once a second when busy and within PGSTAT_IDLE_INTERVAL (10 s) once idle. */
const STATS_SETTLE_MS = 11_000;

const log = (m: string) => process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the database
const dbName = `faceproof_scale_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: serverUrl, application_name: 'faceproof bench:scale admin' });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const dbUrl = (() => { const u = new URL(serverUrl); u.pathname = `/${dbName}`; return u.toString(); })();
const serverVersion = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v;
log(`database ${dbName} on PostgreSQL ${serverVersion}`);

const masterKey = randomBytes(32).toString('base64');
const apiKey = randomBytes(24).toString('base64url');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-scale-'));

// ---------------------------------------------------------------- nodes
interface Node { name: string; url: string; proc: ChildProcess; dir: string; startedMs: { listening: number; ready: number } }
const nodes: Node[] = [];
const running = new Set<ChildProcess>();

async function startNode(name: string, options: { dir?: string; sqlite?: boolean } = {}): Promise<Node> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(scratch, `${name}-`));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    ...process.env, FACEPROOF_PORT: String(port), FACEPROOF_LOG_LEVEL: 'warn', FACEPROOF_DATA_DIR: dir,
    FACEPROOF_MASTER_KEY: masterKey, FACEPROOF_MASTER_KEY_FILE: undefined, FACEPROOF_BOOTSTRAP_KEY: apiKey,
    FACEPROOF_RATE_LIMIT_PER_SECOND: '0', FACEPROOF_INFERENCE_THREADS: '1',
    FACEPROOF_DATABASE_URL: options.sqlite ? undefined : dbUrl,
  };
  const started = performance.now();
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/cli/main.ts'), 'serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  let listening = NaN;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`node ${name} exited with ${proc.exitCode} before it was ready`);
    try {
      const r = await fetch(`${url}/v1/health/ready`);
      if (Number.isNaN(listening)) listening = performance.now() - started;
      if (r.ok) break;
    } catch { /* not listening yet */ }
    await sleep(50);
  }
  const node = { name, url, proc, dir, startedMs: { listening: Math.round(listening), ready: Math.round(performance.now() - started) } };
  log(`node ${name} ready in ${node.startedMs.ready} ms (listening at ${node.startedMs.listening} ms), pid ${proc.pid}`);
  return node;
}

async function stopNode(node: Node): Promise<void> {
  if (node.proc.exitCode !== null || node.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => node.proc.once('exit', () => resolve()));
  node.proc.kill('SIGTERM');
  await exited;
}

let cleaned = false;
async function cleanUp(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  for (const proc of running) proc.kill('SIGKILL');
  await sleep(500);
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  } catch (err) {
    log(`could not drop ${dbName}: ${(err as Error).message}`);
  }
  await admin.end().catch(() => {});
  fs.rmSync(scratch, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { void cleanUp().finally(() => process.exit(130)); });

/** Runs `fn` on a client connected to the bench database. */
async function withDb<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: dbUrl, application_name: 'faceproof bench:scale' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
}

// ---------------------------------------------------------------- measuring a phase
interface Stats { active_ms: number; idle_in_transaction_ms: number; xact_commit: number; tup_inserted: number; tup_fetched: number; blks_hit: number }
async function dbStats(): Promise<Stats> {
  const { rows } = await admin.query<Stats>(`SELECT active_time AS active_ms, idle_in_transaction_time AS idle_in_transaction_ms,
    xact_commit, tup_inserted, tup_fetched, blks_hit FROM pg_stat_database WHERE datname = $1`, [dbName]);
  return Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)])) as unknown as Stats;
}

/**
 * Samples pg_stat_activity every 50 ms while a load runs: what the bench database's non-idle
 * backends are doing (running on CPU, or waiting on a lock, the WAL flush of a commit, the client…).
 * Returns the mean number of backends in each state over the samples.
 */
function sampleActivity(): () => { samples: number; backends: Record<string, number>; audit_chain_lock_held: number } {
  const counts = new Map<string, number>();
  let samples = 0;
  let auditHeld = 0;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    // The audit chain's advisory lock (AUDIT_CHAIN_LOCK_KEY, a bigint: its high and low halves in classid and objid) held by someone.
    admin.query<{ state: string; wait: string | null; audit_lock: boolean }>(`SELECT state, wait_event_type || ':' || wait_event AS wait,
      EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
        AND l.classid = ($2::bigint >> 32)::oid AND l.objid = ($2::bigint & 4294967295)::oid AND l.objsubid = 1) AS audit_lock
      FROM pg_stat_activity a WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid()`, [dbName, AUDIT_CHAIN_LOCK_KEY.toString()]).then(({ rows }) => {
      samples++;
      if (rows.some((r) => r.audit_lock)) auditHeld++;
      for (const r of rows) {
        const key = `${r.state}${r.wait ? ` (${r.wait})` : r.state === 'active' ? ' (on CPU)' : ''}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }, () => {}).finally(() => { busy = false; });
  }, 50);
  return () => {
    clearInterval(timer);
    return { samples, audit_chain_lock_held: round(auditHeld / Math.max(1, samples), 3), backends: Object.fromEntries([...counts].sort((x, y) => y[1] - x[1]).map(([k, n]) => [k, round(n / Math.max(1, samples), 3)])) };
  };
}

const quantile = (sorted: number[], p: number) => (sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))], 2) : null);

interface Load { path: string; bodies: string[] }

/**
 * Runs one autocannon instance per node, `CONNECTIONS` each, for DURATION s, and reads the CPU of
 * every process involved and the database's own statistics around it. The statistics are read
 * once they have settled (STATS_SETTLE_MS after the last request).
 */
async function measure(label: string, targets: Node[], load: Load, options: { pgBackends: boolean }) {
  const latencies: number[] = [];
  let non2xx = 0;
  const before = {
    db: options.pgBackends ? await dbStats() : undefined,
    backends: options.pgBackends ? backendCpuSeconds(dbName) : new Map<number, number>(),
    nodes: targets.map((n) => processCpuSeconds(n.proc.pid!)),
    client: process.cpuUsage(),
    machine: machineCpuSeconds(),
  };
  const stopSampling = options.pgBackends ? sampleActivity() : undefined;
  const started = performance.now();
  const results = await Promise.all(targets.map(async (node) => {
    const instance = autocannon({
      url: `${node.url}${load.path}`, connections: CONNECTIONS, duration: DURATION,
      requests: load.bodies.map((body) => ({ method: 'POST' as const, body, headers })),
    }) as unknown as autocannon.Instance & Promise<autocannon.Result>;
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status === 200) latencies.push(ms);
      else non2xx++;
    });
    return instance;
  }));
  const elapsed = (performance.now() - started) / 1000;
  const after = {
    backends: options.pgBackends ? backendCpuSeconds(dbName) : new Map<number, number>(),
    nodes: targets.map((n) => processCpuSeconds(n.proc.pid!)),
    client: process.cpuUsage(before.client),
    machine: machineCpuSeconds(),
  };
  const activity = stopSampling?.();
  let db: Record<string, number> | undefined;
  if (options.pgBackends) {
    await sleep(STATS_SETTLE_MS);
    const end = await dbStats();
    db = Object.fromEntries(Object.entries(end).map(([k, v]) => [k, v - before.db![k as keyof Stats]]));
  }
  const ok = latencies.length;
  const sorted = latencies.sort((a, b) => a - b);
  const nodeCpu = after.nodes.reduce((s, v, i) => s + (v - before.nodes[i]), 0);
  const backendCpu = backendCpuDelta(before.backends, after.backends);
  const clientCpu = (after.client.user + after.client.system) / 1e6;
  const machineBusy = after.machine.busy - before.machine.busy;
  const machineTotal = after.machine.total - before.machine.total;
  const perSecond = ok / elapsed;
  const result = {
    nodes: targets.length,
    connections: targets.length * CONNECTIONS,
    seconds: round(elapsed, 2),
    requests_ok: ok,
    non_2xx: non2xx + results.reduce((s, r) => s + r.errors + r.timeouts, 0),
    per_second: round(perSecond, 1),
    latency_ms: { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99), max: quantile(sorted, 1) },
    cpu_seconds: {
      nodes: round(nodeCpu, 2), database_backends: round(backendCpu, 2), client: round(clientCpu, 2),
      machine_busy: round(machineBusy, 2), machine_capacity: round(machineTotal, 2),
      other: round(machineBusy - nodeCpu - backendCpu - clientCpu, 2),
    },
    /** Requests per CPU-second of the nodes (engine, HTTP, JSON) and of the nodes and the database's backends together. */
    per_core_second: { nodes: round(ok / nodeCpu, 1), nodes_and_database: round(ok / (nodeCpu + backendCpu), 1) },
    per_request_ms: {
      node_cpu: round((nodeCpu / ok) * 1000, 2),
      database_cpu: options.pgBackends ? round((backendCpu / ok) * 1000, 2) : null,
      database_active: db ? round(db.active_ms / ok, 2) : null,
      database_idle_in_transaction: db ? round(db.idle_in_transaction_ms / ok, 2) : null,
    },
    /** The database's share of a request's time: statement time in PostgreSQL over the request's mean latency. */
    database_share_of_latency: db && sorted.length ? round(db.active_ms / ok / (sorted.reduce((s, v) => s + v, 0) / ok), 3) : null,
    database_share_of_cpu: options.pgBackends ? round(backendCpu / (nodeCpu + backendCpu), 3) : null,
    /** Mean number of the database's backends in each state while the load ran (pg_stat_activity every 50 ms). */
    database_backends_by_state: activity ?? null,
    database_per_request: db ? { transactions: round(db.xact_commit / ok, 2), rows_inserted: round(db.tup_inserted / ok, 2), rows_fetched: round(db.tup_fetched / ok, 1) } : null,
  };
  log(`${label} × ${targets.length}: ${result.per_second}/s, p50 ${result.latency_ms.p50} p95 ${result.latency_ms.p95} p99 ${result.latency_ms.p99} ms, `
    + `node CPU ${result.per_request_ms.node_cpu} ms/req, db active ${result.per_request_ms.database_active} ms/req, db CPU ${result.per_request_ms.database_cpu} ms/req, non-2xx ${result.non_2xx}`);
  return result;
}

/** Deterministic unit vectors (xorshift), as test/crash-recovery.test.ts makes them. */
function unitVectors(n: number, dim: number, seed: number): Float32Array[] {
  let s = seed >>> 0 || 1;
  const rand = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return ((s >>> 0) / 2 ** 32) - 0.5; };
  return Array.from({ length: n }, () => {
    const v = new Float32Array(dim);
    let norm = 0;
    for (let i = 0; i < dim; i++) { v[i] = rand(); norm += v[i] * v[i]; }
    norm = Math.sqrt(norm);
    for (let i = 0; i < dim; i++) v[i] /= norm;
    return v;
  });
}

type Model = { model_id: string; version: number; dimension: number };

async function createCollection(node: Node, name: string): Promise<Model> {
  const r = await post(`${node.url}/v1/collections`, { name });
  if (r.status !== 201) throw new Error(`creating ${name}: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { template: Model }).template;
}

/** Loads `n` templates through POST …/faces/batch (1,000 a request), two requests in flight, round-robin over `targets`. */
async function bulkLoad(targets: Node[], name: string, model: Model, n: number, seed: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  let turn = 0;
  const sender = async () => {
    while (next < n) {
      const count = Math.min(1000, n - next);
      const from = next;
      next += count;
      const faces = unitVectors(count, model.dimension, seed + from).map((vector, i) => ({
        template: encodeTemplate({ modelId: model.model_id, version: model.version, vector }), external_id: `bulk-${from + i}`,
      }));
      const node = targets[turn++ % targets.length];
      const r = await post(`${node.url}/v1/collections/${name}/faces/batch`, { faces });
      if (r.status !== 201 && r.status !== 200) throw new Error(`batch at ${from}: ${r.status} ${await r.text()}`);
    }
  };
  await Promise.all([sender(), sender()]);
  return (performance.now() - started) / 1000;
}

/**
 * The audit chain's ceiling: `pools` connection pools (as many nodes), `writers` appends in flight
 * on each, for AUDIT_SECONDS, through the product's AuditTrail and PgAuditRepository (lock, last
 * hash, insert, commit). Every API request appends one record, so this bounds the requests per
 * second of the whole deployment, whatever the number of nodes.
 */
async function auditCeiling(tenantId: string, pools: number, writers: number) {
  const stores = await Promise.all(Array.from({ length: pools }, () => openPostgresStore(dbUrl, 'faceproof bench:scale audit')));
  const trails = stores.map((store) => new AuditTrail(store.repositories(TemplateCodec.plain()).audit));
  const latencies: number[] = [];
  const backends = backendCpuSeconds(dbName);
  const stopSampling = sampleActivity();
  const started = performance.now();
  const deadline = started + AUDIT_SECONDS * 1000;
  await Promise.all(trails.flatMap((trail) => Array.from({ length: writers }, async () => {
    while (performance.now() < deadline) {
      const facts: AuditFacts = {
        tenantId, requestId: `req_${randomUUID()}`, clientRequestId: null, clientId: 'bench', method: 'POST', route: '/v1/collections/:name/search',
        service: 'collections', status: 200, latencyMs: 12, inputs: { template: 'sha256:' + 'ab'.repeat(32), max_results: 10 },
        result: { candidates: 0, threshold: { far: 1e-7 } }, at: new Date().toISOString(),
      };
      const t = performance.now();
      await trail.record(facts);
      latencies.push(performance.now() - t);
    }
  })));
  const seconds = (performance.now() - started) / 1000;
  const activity = stopSampling();
  const backendCpu = backendCpuDelta(backends, backendCpuSeconds(dbName));
  await Promise.all(stores.map((store) => store.close()));
  const sorted = latencies.sort((a, b) => a - b);
  const perSecond = latencies.length / seconds;
  const r = {
    pools, writers_per_pool: writers, seconds: round(seconds, 2), appends: latencies.length, per_second: round(perSecond, 1),
    latency_ms: { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) },
    database_cpu_ms_per_append: round((backendCpu / latencies.length) * 1000, 3),
    audit_chain_lock_held: activity.audit_chain_lock_held,
    lock_hold_ms_per_append: round((activity.audit_chain_lock_held / perSecond) * 1000, 3),
    backends_by_state: activity.backends,
  };
  log(`audit appends, ${pools} pool(s) × ${writers}: ${r.per_second}/s, p50 ${r.latency_ms.p50} p99 ${r.latency_ms.p99} ms, lock held ${r.audit_chain_lock_held} of the time`);
  return r;
}

// ---------------------------------------------------------------- the run
const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL ${serverVersion} on the same machine`,
  command: `npm run bench:scale -- --nodes ${NODES} --duration ${DURATION} --connections ${CONNECTIONS} --search-size ${SEARCH_SIZE} --ready-size ${READY_SIZE} --audit-seconds ${AUDIT_SECONDS}${SQLITE ? '' : ' --no-sqlite'}${values.phases ? ` --phases ${values.phases}` : ''}`,
  settings: 'each node: FACEPROOF_INFERENCE_THREADS=1, FACEPROOF_RATE_LIMIT_PER_SECOND=0, its own FACEPROOF_DATA_DIR, the same FACEPROOF_MASTER_KEY and FACEPROOF_DATABASE_URL; templates sealed at rest (the default); autocannon in this process, on the same 2 cores',
  method: {
    load: `one autocannon instance per node, ${CONNECTIONS} connections each, closed loop: requests spread evenly over the nodes`,
    database_active: 'pg_stat_database.active_time for the bench database (time its backends spent executing statements, summed over backends), read 11 s after the load so every backend has reported, divided by the requests answered 200',
    database_idle_in_transaction: 'pg_stat_database.idle_in_transaction_time: time backends held a transaction open while waiting for the node (between its statements)',
    database_backends_by_state: 'pg_stat_activity sampled every 50 ms during the load: mean number of the database\'s backends running (on CPU) or waiting, by wait event; audit_chain_lock_held: the fraction of samples in which a backend held the audit chain\'s advisory lock (pg_locks), its utilisation; divided by the appends per second it gives how long each append holds it',
    database_cpu: 'CPU seconds (/proc/<pid>/stat) of the PostgreSQL backends whose command line names the bench database, divided by the requests',
    sqlite_baseline: 'the same one-node load against a node on the embedded SQLite store (same master key, same collection size): the latency difference is what PostgreSQL adds over an in-process database',
    pg_stat_statements: 'not used: it needs shared_preload_libraries and a server restart',
  },
  load_average_at_start: os.loadavg().map((v) => round(v, 2)),
};

try {
  for (let i = 0; i < NODES; i++) nodes.push(await startNode(`pg${i + 1}`));
  result.start_empty_database_ms = nodes.map((n) => n.startedMs);

  // ---- (a) 1:1 compare
  const crop = (n: 1 | 3, left: number, top: number) => sharp(fs.readFileSync(samplePhotoPath(n))).extract({ left, top, width: 640, height: 480 }).jpeg({ quality: 90 }).toBuffer();
  const [a, b] = await Promise.all([crop(3, 830, 100), crop(1, 1250, 0)]);
  const compare: Load = { path: '/v1/compare', bodies: [JSON.stringify({ source: { base64: a.toString('base64') }, target: { base64: b.toString('base64') } })] };
  const check = await post(`${nodes[0].url}/v1/compare`, JSON.parse(compare.bodies[0]));
  if (check.status !== 200) throw new Error(`compare: ${check.status} ${await check.text()}`);
  if (PHASES.has('compare')) {
    log('warming up compare on every node');
    await Promise.all(nodes.map((node) => autocannon({ url: `${node.url}/v1/compare`, method: 'POST', body: compare.bodies[0], headers, connections: 2, duration: 3 })));
    await sleep(STATS_SETTLE_MS);
    const compareRuns = [];
    for (let n = 1; n <= NODES; n++) compareRuns.push(await measure('compare', nodes.slice(0, n), compare, { pgBackends: true }));
    result.compare = { request: 'POST /v1/compare, two 640×480 JPEG crops of @vladmandic/face-api demo/sample3.jpg and sample1.jpg (bench:load\'s pair)', runs: compareRuns };
  }

  // ---- (b) 1:N search by template
  const model = await createCollection(nodes[0], 'scale');
  const queries = unitVectors(64, model.dimension, 0x1234567).map((vector) => JSON.stringify({ template: encodeTemplate({ modelId: model.model_id, version: model.version, vector }), max_results: 10 }));
  const search: Load = { path: '/v1/collections/scale/search', bodies: queries };
  if (PHASES.has('search')) {
    log(`loading ${SEARCH_SIZE} templates (${model.model_id} v${model.version}, ${model.dimension}-D) through the batch API`);
    const loadSeconds = await bulkLoad(nodes, 'scale', model, SEARCH_SIZE, 0x9e3779b9);
    log(`loaded in ${round(loadSeconds)} s`);
    // Each node's index takes in the faces the others stored at its next search: time that first search.
    const catchUp = [];
    for (const node of nodes) {
      const t = performance.now();
      const r = await post(`${node.url}${search.path}`, JSON.parse(queries[0]));
      if (r.status !== 200) throw new Error(`search: ${r.status} ${await r.text()}`);
      catchUp.push(Math.round(performance.now() - t));
    }
    log(`first search per node (index catch-up): ${catchUp.join(', ')} ms`);
    await Promise.all(nodes.map((node) => autocannon({ url: `${node.url}${search.path}`, requests: queries.map((body) => ({ method: 'POST' as const, body, headers })), connections: 2, duration: 3 })));
    await sleep(STATS_SETTLE_MS);
    const searchRuns = [];
    for (let n = 1; n <= NODES; n++) searchRuns.push(await measure('search', nodes.slice(0, n), search, { pgBackends: true }));
    result.search = {
      request: `POST /v1/collections/scale/search {template, max_results: 10}, 64 random unit query templates in turn, collection of ${SEARCH_SIZE} random unit templates`,
      bulk_load: { faces: SEARCH_SIZE, seconds: round(loadSeconds), faces_per_second: Math.round(SEARCH_SIZE / loadSeconds), via: `POST /v1/collections/scale/faces/batch, 1,000 a request, 2 in flight, round-robin over ${NODES} nodes` },
      first_search_per_node_ms: catchUp,
      runs: searchRuns,
    };
  }

  // ---- SQLite baseline: the same one-node loads on the embedded store
  if (SQLITE && PHASES.has('compare') && PHASES.has('search')) {
    const lite = await startNode('sqlite', { sqlite: true });
    await createCollection(lite, 'scale');
    const liteLoad = await bulkLoad([lite], 'scale', model, SEARCH_SIZE, 0x9e3779b9);
    await post(`${lite.url}${search.path}`, JSON.parse(queries[0]));
    await autocannon({ url: `${lite.url}/v1/compare`, method: 'POST', body: compare.bodies[0], headers, connections: 2, duration: 3 });
    const liteCompare = await measure('sqlite compare', [lite], compare, { pgBackends: false });
    const liteSearch = await measure('sqlite search', [lite], search, { pgBackends: false });
    await stopNode(lite);
    result.sqlite_baseline = { bulk_load_seconds: round(liteLoad), compare: liteCompare, search: liteSearch };
  }

  // ---- (c) a new node's start with READY_SIZE faces in the database
  if (PHASES.has('ready') && READY_SIZE > 0) {
    const del = await fetch(`${nodes[0].url}/v1/collections/scale`, { method: 'DELETE', headers: { 'x-api-key': apiKey } });
    if (del.status >= 300) throw new Error(`delete scale: ${del.status}`);
    await createCollection(nodes[0], 'million');
    for (const node of nodes) await stopNode(node);
    log(`writing ${READY_SIZE} sealed templates through PgCollectionRepository.addFaces`);
    const store = await openPostgresStore(dbUrl, 'faceproof bench:scale');
    const codec = TemplateCodec.withKeys(MasterKeyring.fromEnvironment(masterKey), { seal: true });
    const repo = store.repositories(codec).collections;
    if (store.database.kind !== 'postgres') throw new Error('expected the PostgreSQL store');
    const { rows } = await store.database.postgres.query<{ id: number; tenant_id: string }>('SELECT id, tenant_id FROM collections WHERE name = $1', ['million']);
    const { id: collectionId, tenant_id: tenantId } = rows[0];
    const writeStarted = performance.now();
    const BATCH = 10_000;
    for (let from = 0; from < READY_SIZE; from += BATCH) {
      const createdAt = new Date().toISOString();
      const vectors = unitVectors(Math.min(BATCH, READY_SIZE - from), model.dimension, 0x51ed270b + from);
      await repo.addFaces(tenantId, collectionId, vectors.map((vector, i) => ({
        id: `face_${randomUUID().replace(/-/g, '')}`, externalId: `m-${from + i}`, metadata: {}, imageId: null, box: null, vector, createdAt, indexedBy: null,
      })));
      if ((from / BATCH) % 20 === 0) log(`  ${from + vectors.length} written`);
  }
  const writeSeconds = (performance.now() - writeStarted) / 1000;
  await store.close();
  const tableBytes = Number((await admin.query<{ n: string }>(`SELECT pg_database_size('${dbName}') AS n`)).rows[0].n);
  log(`written in ${round(writeSeconds)} s; database ${round(tableBytes / 2 ** 20)} MiB`);

  const freshDir = fs.mkdtempSync(path.join(scratch, 'new-'));
  const cold = await startNode('new-cold', { dir: freshDir });
  const coldRss = processRssMb(cold.proc.pid!);
  const probe = await post(`${cold.url}/v1/collections/million/search`, JSON.parse(queries[0]));
  const probeOk = probe.status === 200;
  await stopNode(cold);
  const snapshotMb = fs.readdirSync(path.join(freshDir, 'indexes')).reduce((s, f) => s + fs.statSync(path.join(freshDir, 'indexes', f)).size, 0) / 2 ** 20;
  const warm = await startNode('new-warm', { dir: freshDir });
  const warmRss = processRssMb(warm.proc.pid!);
  await stopNode(warm);
  result.new_node_ready = {
    faces: READY_SIZE,
    written: { seconds: round(writeSeconds), faces_per_second: Math.round(READY_SIZE / writeSeconds), via: 'PgCollectionRepository.addFaces, 10,000 a transaction, templates sealed (AES-256-GCM) under the nodes\' master key', database_mib: round(tableBytes / 2 ** 20) },
    route: 'spawn of `faceproof serve` until GET /v1/health/ready answers 200 (the server opens every collection\'s index before it listens)',
    cold: { ms: cold.startedMs.ready, rss_mib: round(coldRss), search_after: probeOk, what: 'empty data folder: every template read from PostgreSQL, unsealed, projected and inserted into a new graph, then a snapshot written' },
    warm: { ms: warm.startedMs.ready, rss_mib: round(warmRss), snapshot_mib: round(snapshotMb), what: 'the snapshot the cold start wrote: graph loaded from it, every template still read from PostgreSQL for the in-memory re-rank copy' },
  };
  log(`new node: cold ${cold.startedMs.ready} ms, warm ${warm.startedMs.ready} ms`);
  }
  // ---- (d) the audit chain's ceiling, then the whole chain verified
  if (PHASES.has('audit') && AUDIT_SECONDS > 0) {
    const [{ id: tenantId }] = (await withDb((c) => c.query<{ id: string }>('SELECT id FROM tenants ORDER BY id LIMIT 1'))).rows;
    const runs = [];
    for (const [pools, writers] of [[1, 1], [1, 8], [NODES, 8]] as const) runs.push(await auditCeiling(tenantId, pools, writers));
    const store = await openPostgresStore(dbUrl, 'faceproof bench:scale verify');
    const t = performance.now();
    const verification = await new AuditTrail(store.repositories(TemplateCodec.plain()).audit).verify();
    const verifyMs = Math.round(performance.now() - t);
    await store.close();
    log(`audit chain: valid ${verification.valid}, ${verification.records} records, verified in ${verifyMs} ms`);
    result.audit_chain = {
      what: 'appends straight through AuditTrail + PgAuditRepository (no HTTP, no engine): the most requests per second the one chain takes, whatever the node count',
      runs, verification: { ...verification, ms: verifyMs },
    };
  }
  result.load_average_at_end = os.loadavg().map((v) => round(v, 2));
} finally {
  await cleanUp();
}

const out = values.out ?? path.join(PROJECT_ROOT, 'docs/bench/scale.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
