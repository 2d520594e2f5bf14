/**
 * Crash safety: kill -9 during mixed writes.
 *   npm run bench:crash [-- --cycles 100 --seed 1 --concurrency 8 --kill-min-ms 150 --kill-max-ms 3000 --out docs/bench/crash.json --keep]
 *
 * One data folder for the whole run. Each cycle starts the server (`faceproof serve`), checks what
 * the previous cycle left, then sends a seeded mix of concurrent writes — stored images (small
 * generated JPEG, PNG and WebP) and their metadata, collections, collection faces (templates, one
 * at a time and in batches), users and their faces and status, sessions and their faces, and
 * deletions of each — and kills the server with SIGKILL at a seeded moment. Every write carries
 * X-Request-Id; the benchmark notes which were acknowledged (2xx received, body read) and which
 * were in flight. After the next start (and after the last kill, one start more):
 *  - every acknowledged write is there and every acknowledged deletion is not; every row of
 *    images, collections, faces, users, user faces and history, sessions and session faces is one
 *    the model expects (nothing never sent, nothing refused), with the template that was sent;
 *  - each write in flight is wholly applied or wholly absent (a batch of faces all or none, a user
 *    with all its faces and its history event, an image row only with its bytes, ...);
 *  - each acknowledged request has exactly one audit record with the status it answered, an
 *    in-flight one at most one, and an audit record of success only for a write that is there;
 *  - `faceproof audit verify` exits 0;
 *  - each collection's index equals the database: before each restart, a copy of the data folder's
 *    index is opened as the server opens it and compared key by key with the rows (graph and
 *    re-ranking copies); after it, the live server's index holds as many faces as the database
 *    (gallery_faces). Every face stored after the last snapshot (and a sample of the rest) is also
 *    searched with its own template, every face a candidate; one not found first is counted as a
 *    search miss (the graph does not reach it: search quality, not a lost write).
 * Residue that is not visible through the API (blob files without an image row, interrupted blob
 * writes, index files of deleted collections) is counted apart.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadConfig, PROJECT_ROOT } from '../src/config.ts';
import { templateCodec } from '../src/bootstrap.ts';
import { openDatabase } from '../src/store/sqlite/database.ts';
import { SqliteImageRepository } from '../src/store/sqlite/image-repository.ts';
import { FolderBlobStore } from '../src/store/blob/folder-blob-store.ts';
import { BLOB_GRACE_MS, ImageStore } from '../src/core/image-store.ts';
import { freePort, waitForHealth } from './lib/server-process.ts';
import { freshDataFolder } from './lib/fresh-data.ts';
import { DbReader, imagePool, prng, Templates, World, worldOf, type DbState, type TemplateModel } from './lib/crash-world.ts';
import { collectionOp, planOp, type Op, type Planner, type Scope } from './lib/crash-ops.ts';
import type { ReopenResult } from './lib/crash-reopen.ts';

const { values } = parseArgs({
  options: {
    cycles: { type: 'string' }, seed: { type: 'string' }, concurrency: { type: 'string' },
    'kill-min-ms': { type: 'string' }, 'kill-max-ms': { type: 'string' }, out: { type: 'string' }, keep: { type: 'boolean' },
  },
});
const CYCLES = Number(values.cycles ?? 100);
const SEED = Number(values.seed ?? 1);
const CONCURRENCY = Number(values.concurrency ?? 8);
const KILL_MIN_MS = Number(values['kill-min-ms'] ?? 150);
const KILL_MAX_MS = Number(values['kill-max-ms'] ?? 3000);
const OUT = values.out ?? path.join(PROJECT_ROOT, 'docs', 'bench', 'crash.json');
const SNAPSHOT_EVERY = 48;
/** More than any collection of the run holds. */
const SEARCH_CANDIDATES = 100_000;
/** Faces stored after the last snapshot probed by search, per collection and restart, at most. */
const MAX_PROBES = 300;
const SAMPLE_PROBES = 8;

const runStarted = performance.now();
const rand = prng(SEED);
const scratch = freshDataFolder('crash');
const dataDir = scratch.dir;
const KEY = `crash-${randomBytes(16).toString('hex')}`;
// Never the inherited FACEPROOF_* settings: the data folder, its keys and the bootstrap key are this run's own,
// and every command (server and CLI) gets the same environment.
const env: Record<string, string> = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k, v]) => !k.startsWith('FACEPROOF_') && v !== undefined)) as Record<string, string>,
  ...scratch.env,
  FACEPROOF_BOOTSTRAP_KEY: KEY,
  FACEPROOF_RATE_LIMIT_PER_SECOND: '0',
  FACEPROOF_INFERENCE_THREADS: '1',
  FACEPROOF_LOG_LEVEL: 'warn',
  FACEPROOF_INDEX_SNAPSHOT_EVERY: String(SNAPSHOT_EVERY),
  // Every face of a collection is a search candidate, so a face its own template does not find is
  // one the graph cannot reach, not one the beam passed by.
  FACEPROOF_SEARCH_CANDIDATES: String(SEARCH_CANDIDATES),
};
const serverLogFile = path.join(os.tmpdir(), `faceproof-crash-${SEED}.server.log`);
const serverLog = fs.openSync(serverLogFile, 'a');
console.log(`data folder ${dataDir}; server output in ${serverLogFile}`);

// ---------------------------------------------------------------------------------------------
// Bookkeeping

interface Violation { cycle: number; kind: string; detail: string }
const violations: Violation[] = [];
const violation = (cycle: number, kind: string, detail: string) => {
  violations.push({ cycle, kind, detail });
  console.log(`  VIOLATION [${kind}] cycle ${cycle}: ${detail}`);
};
const residue = { orphanBlobs: new Set<string>(), partialBlobs: 0, orphanIndexFiles: new Set<string>() };
const notes: string[] = [];
interface Sent { id: string; status?: number; outcome?: 'acked' | 'refused' | 'in_flight'; settled?: Op['settled'] }
/** Requests sent since the audit trail was last read. */
let sinceAuditRead: Sent[] = [];
const byType = new Map<string, { sent: number; acknowledged: number; refused: number; inFlight: number; applied: number; absent: number; partial: number }>();
const totals = { writes: 0, acknowledged: 0, refused: 0, inFlight: 0, applied: 0, absent: 0, partial: 0 };
const refusedByStatus = new Map<number, number>();
const checks = { indexProbes: 0, searchMisses: 0, indexSizeChecks: 0, auditRecords: 0, auditVerifyRuns: 0, directCollections: 0, directFaces: 0, indexRebuilds: 0 };
const timing = { startMs: [] as number[], verifyMs: [] as number[], writeMs: [] as number[], directMs: [] as number[] };
const perCycle: Array<{ cycle: number; writes: number; acknowledged: number; inFlight: number; applied: number; killAfterMs: number; startMs: number }> = [];

// ---------------------------------------------------------------------------------------------
// The server process

interface Running { proc: ChildProcess; base: string }

async function start(): Promise<Running & { ms: number }> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/cli/main.ts'), 'serve'], {
    env: { ...env, FACEPROOF_PORT: String(port) }, stdio: ['ignore', serverLog, serverLog], cwd: PROJECT_ROOT,
  });
  const base = `http://127.0.0.1:${port}`;
  const died = new Promise<never>((_, reject) => proc.once('exit', (code, signal) => reject(new Error(`the server exited (${code ?? signal}) before answering; see ${serverLogFile}`))));
  died.catch(() => undefined);
  const ms = await Promise.race([waitForHealth(base, 300_000), died]);
  return { proc, base, ms };
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function request(base: string, method: string, url: string, body: unknown, requestId: string): Promise<Response> {
  return fetch(`${base}${url}`, {
    method,
    headers: { 'x-api-key': KEY, 'x-request-id': requestId, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(300_000),
  });
}

let probeCount = 0;
/** A read the checks make (also audited): its JSON body, or throws. */
async function probe(base: string, cycle: number, method: string, url: string, body?: unknown): Promise<Record<string, unknown>> {
  const id = `chk.c${cycle}.${++probeCount}`;
  const res = await request(base, method, url, body, id);
  const text = await res.text();
  sinceAuditRead.push({ id, status: res.status, outcome: res.ok ? 'acked' : 'refused' });
  if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

async function execute(op: Op, base: string, cycle: number): Promise<void> {
  const stats = byType.get(op.type) ?? { sent: 0, acknowledged: 0, refused: 0, inFlight: 0, applied: 0, absent: 0, partial: 0 };
  byType.set(op.type, stats);
  stats.sent++;
  totals.writes++;
  sinceAuditRead.push(op);
  let res: Response;
  let text: string;
  try {
    res = await request(base, op.method, op.path, op.body, op.id);
    op.status = res.status;
    text = await res.text();
  } catch {
    op.outcome = 'in_flight';
    return;
  }
  let body: Record<string, unknown> | undefined;
  try {
    body = text ? JSON.parse(text) as Record<string, unknown> : undefined;
  } catch {
    op.outcome = 'in_flight'; // a body cut short: not an acknowledgement
    return;
  }
  if (res.ok) {
    op.outcome = 'acked';
    stats.acknowledged++;
    totals.acknowledged++;
    const note = op.acked(res.status, body);
    if (note) { notes.push(`${op.id} ${op.type}: ${note}`); violation(cycle, 'response', `${op.id} ${op.type}: ${note}`); }
  } else {
    op.outcome = 'refused';
    stats.refused++;
    totals.refused++;
    refusedByStatus.set(res.status, (refusedByStatus.get(res.status) ?? 0) + 1);
    op.refused();
    if (refusedByStatus.get(res.status)! <= 5) console.log(`  refused ${op.type} ${op.method} ${op.path}: ${res.status} ${text.slice(0, 200)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Checks after a restart

let world = new World();
let templates: Templates | undefined;
let reader: DbReader | undefined;
/** Per collection name: the highest face key in its newest snapshot before the restart. */
let snapshotKeys = new Map<number, number>();

function excluded(scopes: Scope[]) {
  const ex = { images: new Set<string>(), labels: new Set<string>(), collections: new Set<string>(), faces: new Set<string>(), externalIds: new Set<string>(), users: new Set<string>(), sessions: new Set<string>(), sessionOps: new Set<string>() };
  for (const s of scopes) {
    s.images?.forEach((i) => ex.images.add(i));
    if (s.imageLabel) ex.labels.add(s.imageLabel);
    if (s.collection && !s.faceIds && !s.externalIds) ex.collections.add(s.collection);
    s.faceIds?.forEach((f) => ex.faces.add(f));
    s.externalIds?.forEach((e) => ex.externalIds.add(e));
    if (s.user) ex.users.add(s.user);
    if (s.session) ex.sessions.add(s.session);
    if (s.sessionOp) ex.sessionOps.add(s.sessionOp);
  }
  return ex;
}

/** Row by row: the model (acknowledged writes) against the database, apart from what interrupted writes may have touched. */
function compare(cycle: number, db: DbState, scopes: Scope[]): void {
  const ex = excluded(scopes);
  for (const [id, m] of world.images) {
    if (ex.images.has(id)) continue;
    const r = db.images.get(id);
    if (!r) { violation(cycle, 'lost', `image ${id} (${m.label})`); continue; }
    if (r.sha256 !== m.sha256 || r.metadata !== m.metadata) violation(cycle, 'changed', `image ${id}: sha256 ${r.sha256} metadata ${r.metadata}, expected ${m.sha256} ${m.metadata}`);
    if (r.blob !== 'ok') violation(cycle, 'partial', `image ${id}: row without its bytes (${r.blob})`);
  }
  for (const [id, r] of db.images) {
    if (!world.images.has(id) && !ex.images.has(id) && !(r.label && ex.labels.has(r.label))) violation(cycle, 'unexpected', `image ${id} labelled ${r.label}`);
  }
  for (const [name, c] of world.collections) {
    if (ex.collections.has(name)) continue;
    const d = db.collections.get(name);
    if (!d) { violation(cycle, 'lost', `collection ${name} with ${c.faces.size} faces`); continue; }
    for (const [id, f] of c.faces) {
      if (ex.faces.has(id)) continue;
      const g = d.faces.get(id);
      if (!g) violation(cycle, 'lost', `face ${id} (${f.externalId}) of collection ${name}`);
      else if (g.tpl !== f.tpl || g.externalId !== f.externalId) violation(cycle, 'changed', `face ${id} of ${name}: template ${g.tpl} external id ${g.externalId}, expected ${f.tpl} ${f.externalId}`);
    }
    for (const [id, g] of d.faces) {
      if (!c.faces.has(id) && !ex.faces.has(id) && !(g.externalId && ex.externalIds.has(g.externalId))) violation(cycle, 'unexpected', `face ${id} (${g.externalId}, template ${g.tpl}) in collection ${name}`);
    }
  }
  for (const [name, d] of db.collections) {
    if (!world.collections.has(name) && !ex.collections.has(name)) violation(cycle, 'unexpected', `collection ${name} with ${d.faces.size} faces`);
  }
  for (const [userId, u] of world.users) {
    if (ex.users.has(userId)) continue;
    const d = db.users.get(userId);
    if (!d || d.status === null) { violation(cycle, 'lost', `user ${userId}`); continue; }
    const facesOk = d.faces.size === u.faces.size && [...u.faces].every(([id, f]) => d.faces.get(id)?.tpl === f.tpl && d.faces.get(id)?.imageType === f.imageType);
    if (!facesOk) violation(cycle, 'changed', `user ${userId}: ${d.faces.size} faces, expected ${u.faces.size} (or templates differ)`);
    if (d.status !== u.status) violation(cycle, 'changed', `user ${userId}: status ${d.status}, expected ${u.status}`);
    if (d.events !== u.events) violation(cycle, 'changed', `user ${userId}: ${d.events} history events, expected ${u.events}`);
  }
  for (const [userId, d] of db.users) {
    if (!world.users.has(userId) && !ex.users.has(userId)) violation(cycle, 'unexpected', `user ${userId} (row ${d.status !== null}, ${d.faces.size} faces, ${d.events} events)`);
  }
  for (const [id, s] of world.sessions) {
    if (ex.sessions.has(id)) continue;
    const d = db.sessions.get(id);
    if (!d || !d.exists) { violation(cycle, 'lost', `session ${id}`); continue; }
    const facesOk = d.faces.size === s.faces.size && [...s.faces].every(([fid, f]) => d.faces.get(fid)?.tpl === f.tpl && d.faces.get(fid)?.imageType === f.imageType);
    if (!facesOk) violation(cycle, 'changed', `session ${id}: ${d.faces.size} faces, expected ${s.faces.size} (or templates differ)`);
  }
  for (const [id, d] of db.sessions) {
    if (!world.sessions.has(id) && !ex.sessions.has(id) && !(d.op && ex.sessionOps.has(d.op))) violation(cycle, 'unexpected', `session ${id} (${d.faces.size} faces)`);
  }
}

/** Each request sent since the last read has the audit records its outcome allows, and nothing else is recorded. */
function checkAudit(cycle: number, db: DbState): void {
  const records = new Map(db.audit);
  for (const r of sinceAuditRead) {
    const statuses = records.get(r.id) ?? [];
    records.delete(r.id);
    checks.auditRecords += statuses.length;
    if (r.outcome === 'in_flight') {
      if (statuses.length > 1) violation(cycle, 'audit', `${r.id}: ${statuses.length} records`);
      else if (statuses.length === 1 && r.settled !== undefined) {
        const ok = statuses[0] >= 200 && statuses[0] < 300;
        if (ok && r.settled !== 'applied') violation(cycle, 'audit', `${r.id}: recorded ${statuses[0]} but the write is not there`);
        if (!ok && r.settled === 'applied') violation(cycle, 'audit', `${r.id}: recorded ${statuses[0]} but the write is there`);
      }
    } else if (statuses.length === 0) {
      violation(cycle, 'audit_lost', `${r.id} (answered ${r.status}): no audit record`);
    } else if (statuses.length !== 1 || statuses[0] !== r.status) {
      violation(cycle, 'audit', `${r.id} (answered ${r.status}): records with status ${statuses.join(', ')}`);
    }
  }
  for (const [id, statuses] of records) violation(cycle, 'audit', `record(s) of a request never sent: client_request_id ${id} (${statuses.join(', ')})`);
  sinceAuditRead = [];
}

/**
 * Files no row names are not visible through the API, but they are a photo kept after its image was
 * never stored or was erased: each must be marked pending, so that the sweeper erases it.
 */
function countResidue(cycle: number, db: DbState): void {
  for (const b of db.orphanBlobs) {
    if (residue.orphanBlobs.has(b)) continue;
    residue.orphanBlobs.add(b);
    if (db.markedBlobs.has(b)) console.log(`  residue: blob ${b} without an image row, marked for the sweeper (cycle ${cycle})`);
    else violation(cycle, 'orphan_bytes', `blob ${b} without an image row, and nothing marks it for erasure`);
  }
  residue.partialBlobs = Math.max(residue.partialBlobs, db.partialBlobs);
  for (const f of db.orphanIndexFiles) if (!residue.orphanIndexFiles.has(f)) { residue.orphanIndexFiles.add(f); console.log(`  residue: index file ${f} of no collection (cycle ${cycle})`); }
}

/** The live server's indexes: as many faces as the database, and the faces stored since the last snapshot found by their own templates. */
async function checkIndexes(base: string, cycle: number, db: DbState): Promise<void> {
  for (const [name, c] of world.collections) {
    const id = db.collections.get(name)!.id;
    const faces = [...c.faces.values()].sort((a, b) => a.key - b.key);
    const probeTemplate = faces.length ? templates!.encoded(faces[0].tpl) : templates!.encoded(1e9);
    const res = await probe(base, cycle, 'POST', `/v1/collections/${name}/search`, { template: probeTemplate, max_far: 1, max_results: 1 });
    checks.indexSizeChecks++;
    const size = (res.threshold as { gallery_faces: number }).gallery_faces;
    if (size !== faces.length) violation(cycle, 'index', `collection ${name}: the index holds ${size} faces, the database ${faces.length}`);
    const after = snapshotKeys.get(id) ?? 0;
    const recent = faces.filter((f) => f.key > after).slice(-MAX_PROBES);
    const older = faces.filter((f) => f.key <= after);
    const sample = Array.from({ length: Math.min(SAMPLE_PROBES, older.length) }, () => older[Math.floor(rand() * older.length)]);
    for (const f of [...recent, ...sample]) {
      const hit = await probe(base, cycle, 'POST', `/v1/collections/${name}/search`, { template: templates!.encoded(f.tpl), max_far: 1, max_results: 1 });
      checks.indexProbes++;
      const top = (hit.results as Array<Array<{ face_id: string }>>)[0]?.[0]?.face_id;
      if (top !== f.id) {
        // In the index (the key-by-key reopen checks that) but not reached by the graph: search quality, not a lost write.
        checks.searchMisses++;
        console.log(`  search miss (cycle ${cycle}): collection ${name}, face ${f.id} (key ${f.key}) not found first by its own template (got ${top})`);
      }
    }
  }
}

function auditVerify(cycle: number): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/cli/main.ts'), 'audit', 'verify'], { env, cwd: PROJECT_ROOT, encoding: 'utf8' });
  checks.auditVerifyRuns++;
  let result: { valid?: boolean; records?: number } = {};
  try { result = JSON.parse(r.stdout) as typeof result; } catch { /* reported below */ }
  if (r.status !== 0 || result.valid !== true) violation(cycle, 'audit_verify', `faceproof audit verify exited ${r.status}: ${r.stdout.trim()} ${r.stderr.trim().slice(0, 300)}`);
}

async function verify(run: Running, cycle: number, ops: Op[]): Promise<void> {
  const db = reader!.read();
  const interrupted = ops.filter((o) => o.outcome === 'in_flight');
  for (const op of interrupted) {
    const settled = op.settle(db);
    op.settled = settled;
    const stats = byType.get(op.type)!;
    stats.inFlight++;
    totals.inFlight++;
    if (settled === 'applied') { stats.applied++; totals.applied++; } else if (settled === 'absent') { stats.absent++; totals.absent++; } else {
      stats.partial++; totals.partial++;
      violation(cycle, 'partial', `${op.id} ${op.type} ${op.method} ${op.path} in flight: ${settled.partial}`);
    }
  }
  compare(cycle, db, interrupted.map((o) => o.scope));
  checkAudit(cycle, db);
  countResidue(cycle, db);
  world = worldOf(db);
  const last = perCycle[perCycle.length - 1];
  if (last) last.applied = interrupted.filter((o) => o.settled === 'applied').length;
  await checkIndexes(run.base, cycle, db);
  auditVerify(cycle);
}

/**
 * Key by key, with the server stopped: a copy of the data folder's database and index files is
 * opened as the server opens it (newest snapshot, the faces stored and removals logged after it),
 * and the index must hold exactly the collection's rows, in the graph and in the re-ranking copies.
 * In a process of its own (bench/lib/crash-reopen.ts): a native crash there is what the server's
 * next start would meet, and is recorded as such.
 */
function directIndexCheck(cycle: number): void {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'bench/lib/crash-reopen.ts'), dataDir], { env, cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 600_000 });
  let result: ReopenResult | undefined;
  try { result = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as ReopenResult; } catch { /* reported below */ }
  if (run.status !== 0 || !result) {
    violation(cycle, 'index_reopen', `reopening the indexes as the server starts failed (${run.signal ?? `exit ${run.status}`}): ${run.stderr.trim().split('\n').slice(-3).join(' / ').slice(0, 400)}`);
    return;
  }
  for (const c of result.collections) {
    checks.directCollections++;
    checks.directFaces += c.rows;
    if (c.graph !== c.rows || c.copies !== c.rows || c.missing > 0) {
      violation(cycle, 'index', `collection ${c.name} reopened from its files: graph ${c.graph}, copies ${c.copies}, rows ${c.rows}, ${c.missing} rows missing`);
    }
  }
  for (const m of result.logs) {
    checks.indexRebuilds += /rebuilding/.test(m) ? 1 : 0;
    console.log(`  index recovery (cycle ${cycle}): ${m}`);
  }
}

/** The newest snapshot's highest key per collection id, as the files stand before a restart. */
function readSnapshotKeys(): Map<number, number> {
  const out = new Map<number, number>();
  const dir = path.join(dataDir, 'indexes');
  if (!fs.existsSync(dir)) return out;
  for (const f of fs.readdirSync(dir)) {
    const m = /^c(\d+)\..*\.k(\d+)\.r\d+\.usearch$/.exec(f);
    if (m) out.set(Number(m[1]), Math.max(out.get(Number(m[1])) ?? 0, Number(m[2])));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The run

const images = await imagePool(rand);
let opCount = 0;
const planner: Planner = { world, rand, templates: undefined as unknown as Templates, images, nextId: () => `o${++opCount}` };
let previousOps: Op[] = [];

for (let cycle = 1; cycle <= CYCLES + 1; cycle++) {
  const final = cycle === CYCLES + 1;
  let t = performance.now();
  const run = await start();
  timing.startMs.push(run.ms);
  t = performance.now();
  if (templates) await verify(run, cycle, previousOps);
  else {
    // First start: the collections the mix starts from, created one at a time (acknowledged writes like any other).
    const setup: Op[] = [];
    for (let i = 0; i < 3; i++) {
      planner.world = world;
      const op = collectionOp(planner);
      await execute(op, run.base, cycle);
      setup.push(op);
      if (op.outcome !== 'acked') throw new Error(`could not create a collection: ${op.status}`);
    }
    const described = await probe(run.base, cycle, 'GET', `/v1/collections/${[...world.collections.keys()][0]}`);
    templates = new Templates(SEED, described.template as TemplateModel);
    planner.templates = templates;
    reader = new DbReader(dataDir, templateCodec(loadConfig(env)), templates);
  }
  timing.verifyMs.push(performance.now() - t);
  if (final) {
    run.proc.kill('SIGTERM');
    await exited(run.proc);
    break;
  }

  // Concurrent writes until the kill.
  planner.world = world;
  const ops: Op[] = [];
  const killAfterMs = KILL_MIN_MS + rand() * (KILL_MAX_MS - KILL_MIN_MS);
  let killed = false;
  t = performance.now();
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (!killed) {
      const op = planOp(planner);
      ops.push(op);
      await execute(op, run.base, cycle);
    }
  });
  await sleep(killAfterMs);
  killed = true;
  run.proc.kill('SIGKILL');
  await Promise.all(workers);
  await exited(run.proc);
  timing.writeMs.push(performance.now() - t);

  t = performance.now();
  snapshotKeys = readSnapshotKeys();
  directIndexCheck(cycle);
  timing.directMs.push(performance.now() - t);

  const acknowledged = ops.filter((o) => o.outcome === 'acked').length;
  const inFlight = ops.filter((o) => o.outcome === 'in_flight').length;
  perCycle.push({ cycle, writes: ops.length, acknowledged, inFlight, applied: 0, killAfterMs: Math.round(killAfterMs), startMs: run.ms });
  previousOps = ops;
  const elapsed = (performance.now() - runStarted) / 1000;
  console.log(`cycle ${cycle}/${CYCLES}: start ${(run.ms / 1000).toFixed(1)} s, kill after ${Math.round(killAfterMs)} ms: ${ops.length} writes, ${acknowledged} acknowledged, ${inFlight} in flight; violations so far ${violations.length}; ${elapsed.toFixed(0)} s`);
}
// ---------------------------------------------------------------------------------------------
// Summary

// The final start's own reads, recorded before its graceful stop.
const finalDb = reader!.read();
checkAudit(CYCLES + 1, finalDb);

// The retention sweep as the server runs it (every FACEPROOF_RETENTION_SWEEP_MS), its clock past the
// grace period an image's bytes get to meet their row: it must erase every leftover of the kills, and
// nothing else (no image expires in this workload, and every image keeps its bytes).
const leftovers = await (async () => {
  const db = openDatabase(path.join(dataDir, 'faceproof.db'));
  try {
    const sweeper = new ImageStore(new SqliteImageRepository(db), new FolderBlobStore(path.join(dataDir, 'blobs')), loadConfig(env).image,
      () => new Date(Date.now() + BLOB_GRACE_MS + 60_000));
    const expired = await sweeper.sweepExpired();
    if (expired !== 0) violation(CYCLES + 1, 'sweep', `the retention sweep deleted ${expired} images`);
  } finally {
    db.close();
  }
  const after = reader!.read();
  compare(CYCLES + 1, after, []);
  for (const b of after.orphanBlobs) violation(CYCLES + 1, 'orphan_bytes', `blob ${b} without an image row left after the retention sweep`);
  return { blobsLeftAfterSweep: after.orphanBlobs.length, partialWritesLeftAfterSweep: after.partialBlobs };
})();
const count = <T>(m: Map<string, T>, f: (v: T) => number) => [...m.values()].reduce((a, v) => a + f(v), 0);
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : 0; };
const byKind: Record<string, number> = {};
for (const v of violations) byKind[v.kind] = (byKind[v.kind] ?? 0) + 1;
const totalSeconds = (performance.now() - runStarted) / 1000;
const summary = {
  command: `npm run bench:crash -- --cycles ${CYCLES} --seed ${SEED}${CONCURRENCY !== 8 ? ` --concurrency ${CONCURRENCY}` : ''}`,
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
  settings: { cycles: CYCLES, seed: SEED, concurrency: CONCURRENCY, killWindowMs: [KILL_MIN_MS, KILL_MAX_MS], snapshotEvery: SNAPSHOT_EVERY, searchCandidates: SEARCH_CANDIDATES },
  writes: totals,
  refusedByStatus: Object.fromEntries(refusedByStatus),
  byType: Object.fromEntries([...byType].sort(([a], [b]) => a.localeCompare(b))),
  checks,
  violations: { total: violations.length, byKind, list: violations.slice(0, 200) },
  residue: { orphanBlobs: residue.orphanBlobs.size, partialBlobWrites: residue.partialBlobs, orphanIndexFiles: residue.orphanIndexFiles.size, ...leftovers },
  final: {
    images: finalDb.images.size,
    collections: finalDb.collections.size,
    faces: count(finalDb.collections, (c) => c.faces.size),
    users: [...finalDb.users.values()].filter((u) => u.status !== null).length,
    userFaces: count(finalDb.users, (u) => u.faces.size),
    sessions: [...finalDb.sessions.values()].filter((s) => s.exists).length,
    sessionFaces: count(finalDb.sessions, (s) => s.faces.size),
    auditRecords: finalDb.auditRecords,
  },
  timing: {
    totalSeconds: Math.round(totalSeconds),
    startSeconds: { p50: +(pct(timing.startMs, 0.5) / 1000).toFixed(1), max: +(Math.max(...timing.startMs) / 1000).toFixed(1) },
    checksAfterRestartSeconds: { p50: +(pct(timing.verifyMs, 0.5) / 1000).toFixed(1), max: +(Math.max(...timing.verifyMs) / 1000).toFixed(1) },
    directIndexCheckSeconds: { p50: +(pct(timing.directMs, 0.5) / 1000).toFixed(2), max: +(Math.max(...timing.directMs) / 1000).toFixed(2) },
  },
  cycles: perCycle,
};
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, `${JSON.stringify(summary, null, 2)}\n`);

console.log(`\n${CYCLES} kill -9 cycles (seed ${SEED}, ${CONCURRENCY} concurrent writers, kill ${KILL_MIN_MS}–${KILL_MAX_MS} ms into the writes)`);
console.log(`writes sent ${totals.writes}: acknowledged ${totals.acknowledged}, refused ${totals.refused}, in flight at the kill ${totals.inFlight} (applied ${totals.applied}, absent ${totals.absent}, partial ${totals.partial})`);
for (const [type, s] of [...byType].sort(([a], [b]) => a.localeCompare(b))) {
  console.log(`  ${type.padEnd(20)} sent ${String(s.sent).padStart(6)}  acknowledged ${String(s.acknowledged).padStart(6)}  in flight ${String(s.inFlight).padStart(4)} (applied ${s.applied}, absent ${s.absent}, partial ${s.partial})`);
}
console.log(`checks: ${checks.indexProbes} searches for stored faces (${checks.searchMisses} not found first), ${checks.indexSizeChecks} index sizes, ${checks.directCollections} indexes reopened key by key (${checks.directFaces} faces, ${checks.indexRebuilds} rebuilds), ${checks.auditRecords} audit records matched, ${checks.auditVerifyRuns} runs of faceproof audit verify`);
console.log(`residue not visible through the API: ${residue.orphanBlobs.size} blobs without an image row, ${residue.partialBlobs} interrupted blob writes, ${residue.orphanIndexFiles.size} index files of deleted collections; left after the retention sweep: ${leftovers.blobsLeftAfterSweep} blobs, ${leftovers.partialWritesLeftAfterSweep} interrupted writes`);
console.log(`final state: ${JSON.stringify(summary.final)}`);
console.log(`violations: ${violations.length} ${JSON.stringify(byKind)}`);
console.log(`total ${Math.round(totalSeconds)} s (server start p50 ${summary.timing.startSeconds.p50} s); written ${path.relative(PROJECT_ROOT, OUT)}`);
fs.closeSync(serverLog);
if (violations.length === 0 && !values.keep) scratch.remove();
else console.log(`data folder kept: ${dataDir}`);
process.exitCode = violations.length === 0 ? 0 : 1;
