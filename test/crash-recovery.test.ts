import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForHealth } from '../bench/lib/server-process.ts';
import { encodeTemplate } from '../src/core/template.ts';
import { openDatabase } from '../src/store/sqlite/database.ts';
import { SqliteCollectionRepository } from '../src/store/sqlite/collection-repository.ts';
import { UsearchIndexProvider } from '../src/store/vector/usearch-indexes.ts';
import { loadConfig } from '../src/config.ts';
import { loadProjection, templateCodec } from '../src/bootstrap.ts';

/**
 * kill -9 in the middle of a bulk index: after a restart, every acknowledged face is in the
 * database and in the index, no deleted one is, and the index holds exactly the database's faces.
 */
const TOTAL = 24_000;
const BATCH = 200;
const KILL_AFTER = 12_000;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-crash-'));
const KEY = 'crash-recovery-bootstrap-key';
// The probes below send hundreds of searches back to back: no per-client rate limit here.
const env = { FACEPROOF_BOOTSTRAP_KEY: KEY, FACEPROOF_RATE_LIMIT_PER_SECOND: '0', FACEPROOF_DATA_DIR: dataDir, FACEPROOF_LOG_LEVEL: 'warn', FACEPROOF_INDEX_SNAPSHOT_EVERY: '2500', FACEPROOF_INFERENCE_THREADS: '1' };
let server: ChildProcess | undefined;

async function start(): Promise<string> {
  const port = await freePort();
  server = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli/main.ts'), 'serve'], {
    env: { ...process.env, ...env, FACEPROOF_PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForHealth(base);
  return base;
}

afterAll(() => { if (server && server.exitCode === null) server.kill('SIGKILL'); });

/** Resolves once the process has exited, also when it already had before the call. */
function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/** Deterministic unit vectors (xorshift) of the server's template model, so every template is distinct. */
function templates(n: number, model: { model_id: string; version: number; dimension: number }): string[] {
  const DIM = model.dimension;
  let s = 0x9e3779b9;
  const rand = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return ((s >>> 0) / 2 ** 32) - 0.5; };
  return Array.from({ length: n }, () => {
    const v = new Float32Array(DIM);
    let norm = 0;
    for (let i = 0; i < DIM; i++) { v[i] = rand(); norm += v[i] * v[i]; }
    for (let i = 0; i < DIM; i++) v[i] /= Math.sqrt(norm);
    return encodeTemplate({ modelId: model.model_id, version: model.version, vector: v });
  });
}

const postJson = (base: string, url: string, body: object) =>
  fetch(`${base}${url}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', 'x-api-key': KEY } });

describe('crash consistency of the vector index', () => {
  it('after kill -9 during a bulk index of 24,000 faces, the index equals the database and nothing acknowledged is lost', async () => {
    let base = await start();
    const created = await postJson(base, '/v1/collections', { name: 'bulk' });
    expect(created.status).toBe(201);
    const all = templates(TOTAL, ((await created.json()) as { template: { model_id: string; version: number; dimension: number } }).template);

    const acked = new Map<string, number>(); // face_id → template index
    const deleted = new Set<string>();
    let next = 0;
    let killed = false;
    const sender = async () => {
      while (!killed && next < TOTAL) {
        const from = next;
        next += BATCH;
        const faces = all.slice(from, from + BATCH).map((template, i) => ({ template, external_id: `p${from + i}` }));
        try {
          const res = await postJson(base, '/v1/collections/bulk/faces/batch', { faces });
          if (res.status !== 201) continue;
          const body = await res.json() as { faces: Array<{ face_id: string }> };
          body.faces.forEach((f, i) => acked.set(f.face_id, from + i));
        } catch { return; } // the connection died with the server
        if (!killed && deleted.size === 0 && acked.size >= KILL_AFTER / 2) {
          const victims = [...acked.keys()].slice(0, 300);
          const res = await postJson(base, '/v1/collections/bulk/faces/delete', { face_ids: victims });
          if (res.status === 200) victims.forEach((id) => deleted.add(id));
        }
        if (acked.size >= KILL_AFTER && !killed) {
          killed = true;
          server!.kill('SIGKILL');
        }
      }
    };
    await Promise.all([sender(), sender(), sender(), sender()]);
    expect(killed).toBe(true);
    await exited(server!);
    expect(deleted.size).toBe(300);

    base = await start();
    const collection = await (await fetch(`${base}/v1/collections/bulk`, { headers: { 'x-api-key': KEY } })).json() as { face_count: number };
    const inDb = new Set<string>();
    for (let cursor: string | null = ''; cursor !== null;) {
      const page = await (await fetch(`${base}/v1/collections/bulk/faces?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { headers: { 'x-api-key': KEY } })).json() as { faces: Array<{ face_id: string }>; next_cursor: string | null };
      page.faces.forEach((f) => inDb.add(f.face_id));
      cursor = page.next_cursor;
    }
    expect(inDb.size).toBe(collection.face_count);
    for (const id of acked.keys()) expect(deleted.has(id) || inDb.has(id)).toBe(true);
    for (const id of deleted) expect(inDb.has(id)).toBe(false);

    // The index the server searches holds as many faces as the database…
    const probe = await (await postJson(base, '/v1/collections/bulk/search', { template: all[0], max_far: 1, max_results: 1 })).json() as { threshold: { gallery_faces: number } };
    expect(probe.threshold.gallery_faces).toBe(collection.face_count);
    // …and finds acknowledged faces (the last ones acknowledged came after the last snapshot) but not deleted ones.
    const ackedIds = [...acked.keys()].filter((id) => !deleted.has(id));
    for (const id of [...ackedIds.slice(-300), ...ackedIds.filter((_, i) => i % 97 === 0)]) {
      const res = await (await postJson(base, '/v1/collections/bulk/search', { template: all[acked.get(id)!], max_far: 1, max_results: 1 })).json() as { results: Array<Array<{ face_id: string }>> };
      expect(res.results[0][0].face_id).toBe(id);
    }
    for (const id of [...deleted].slice(0, 100)) {
      const res = await (await postJson(base, '/v1/collections/bulk/search', { template: all[acked.get(id)!], max_far: 1, max_results: 1 })).json() as { results: Array<Array<{ face_id: string }>> };
      expect(res.results[0][0]?.face_id).not.toBe(id);
    }
    server!.kill('SIGKILL');
    await exited(server!);

    // Key by key: reopen the store as the server does and compare the index with every database row.
    const db = openDatabase(path.join(dataDir, 'faceproof.db'));
    const config = loadConfig(env);
    // The server sealed the templates under the master key in the data folder.
    const repository = new SqliteCollectionRepository(db, templateCodec(config));
    const record = (await repository.get('default', 'bulk'))!;
    const projection = loadProjection(config, { templateModelId: record.model.modelId, templateVersion: record.model.version, dimension: record.model.dimension });
    expect(projection).toBeDefined();
    const provider = new UsearchIndexProvider(repository, { dir: path.join(dataDir, 'indexes'), ...config.index, projection });
    const snapshots = fs.readdirSync(path.join(dataDir, 'indexes'));
    expect(snapshots).toEqual([expect.stringMatching(new RegExp(`^c${record.id}\\.p${projection!.id}l2${config.index.quantization}m${config.index.connectivity}s\\.k\\d+\\.r\\d+\\.usearch$`))]);
    const index = (await provider.open(record)) as unknown as { native: { contains(k: bigint): boolean; size(): number }; templates: { size: number; has(k: number): boolean } };
    const keys = db.prepare('SELECT key FROM faces WHERE collection_id = ?').pluck().all(record.id) as number[];
    expect(index.native.size()).toBe(keys.length);
    expect(keys.every((k) => index.native.contains(BigInt(k)))).toBe(true);
    // The templates kept in memory for re-ranking are the same faces.
    expect(index.templates.size).toBe(keys.length);
    expect(keys.every((k) => index.templates.has(k))).toBe(true);
    const deletedKeys = db.prepare('SELECT COUNT(*) FROM faces WHERE id IN (SELECT value FROM json_each(?))').pluck().get(JSON.stringify([...deleted]));
    expect(deletedKeys).toBe(0);
    db.close();
  }, 240_000);
});
