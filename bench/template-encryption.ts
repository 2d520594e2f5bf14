/**
 * What sealing templates at rest costs, without models (synthetic unit vectors):
 *   npm run bench:encryption -- [--size 20000] [--queries 200] [--dim 640] [--out FILE]
 * 1. Seal and open of one template (AES-256-GCM through MasterKeyring), µs each.
 * 2. For raw (FACEPROOF_ENCRYPT_TEMPLATES=false) and sealed storage, through SqliteCollectionRepository
 *    on a fresh database: inserts per second; the search's re-rank read (`vectorsOf` of 200 random
 *    candidates, as CollectionService.search does per probe), p50 / p99; the read an index rebuild
 *    does (`vectorsAfter` over every row); the database size.
 * 3. `faceproof encryption reseal` throughput (resealColumns): raw → sealed, old key → new key, and a
 *    second pass with nothing to do (every value is still opened to check it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MasterKeyring } from '../src/store/crypto/master-keyring.ts';
import { openDatabase } from '../src/store/sqlite/database.ts';
import { SqliteCollectionRepository } from '../src/store/sqlite/collection-repository.ts';
import { TemplateCodec, TEMPLATE_PURPOSE } from '../src/store/sqlite/template-codec.ts';
import { resealColumns, TEMPLATE_COLUMNS } from '../src/store/sqlite/template-reseal.ts';
import { vectorToBlob } from '../src/store/sqlite/vectors.ts';

const { values } = parseArgs({ options: { size: { type: 'string' }, queries: { type: 'string' }, dim: { type: 'string' }, candidates: { type: 'string' }, out: { type: 'string' } } });
const size = Number(values.size ?? 20_000);
const queries = Number(values.queries ?? 200);
const dim = Number(values.dim ?? 640);
const candidates = Number(values.candidates ?? 200);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-bench-crypto-'));
const log = (...a: unknown[]) => console.error(new Date().toISOString().slice(11, 19), ...a);
const round = (x: number, d = 3) => Number(x.toFixed(d));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

function unitVector(): Float32Array {
  const v = new Float32Array(dim);
  let n = 0;
  for (let i = 0; i < dim; i++) { v[i] = Math.random() - 0.5; n += v[i] * v[i]; }
  n = Math.sqrt(n);
  for (let i = 0; i < dim; i++) v[i] /= n;
  return v;
}

const keyring = MasterKeyring.openFile(path.join(work, 'keys', 'master.json'));

// 1. One template.
const sample = vectorToBlob(unitVector());
const sealedSample = keyring.seal(sample, TEMPLATE_PURPOSE);
const perOp = (fn: () => void, n = 20_000) => {
  for (let i = 0; i < 1000; i++) fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) fn();
  return round(((performance.now() - t) / n) * 1000, 2);
};
const sealingCodec = TemplateCodec.withKeys(keyring, { seal: true });
const plainCodec = TemplateCodec.plain();
const single = {
  seal_us: perOp(() => keyring.seal(sample, TEMPLATE_PURPOSE)),
  open_us: perOp(() => keyring.open(sealedSample, TEMPLATE_PURPOSE)),
  codec_decode_sealed_us: perOp(() => sealingCodec.decode(sealedSample)),
  codec_decode_raw_us: perOp(() => plainCodec.decode(sample)),
  bytes: { raw: sample.length, sealed: sealedSample.length },
};
log('one template', single);

// 2. Storage, raw against sealed.
const vectors = Array.from({ length: size }, unitVector);
const probes = Array.from({ length: queries }, () => Array.from({ length: candidates }, () => 1 + Math.floor(Math.random() * size)));

async function storage(mode: 'raw' | 'sealed') {
  const file = path.join(work, `${mode}.db`);
  const db = openDatabase(file);
  const repo = new SqliteCollectionRepository(db, TemplateCodec.withKeys(keyring, { seal: mode === 'sealed' }));
  const c = await repo.create({ tenantId: 'default', name: 'bench', kind: 'gallery', description: null, metadata: {}, model: { modelId: 'synthetic', version: 1, dimension: dim }, createdAt: '' });
  const createdAt = new Date().toISOString();
  let t = performance.now();
  for (let from = 0; from < size; from += 10_000) {
    await repo.addFaces('default', c.id, vectors.slice(from, from + 10_000).map((vector, i) => ({ id: `f_${from + i}`, externalId: null, metadata: {}, imageId: null, box: null, vector, createdAt })));
  }
  const insertMs = performance.now() - t;
  for (let i = 0; i < 20; i++) await repo.vectorsOf(c.id, probes[i % probes.length]); // warm-up
  const rerank: number[] = [];
  for (const keys of probes) { const s = performance.now(); const got = await repo.vectorsOf(c.id, keys); rerank.push(performance.now() - s); if (got.length === 0) throw new Error('no rows'); }
  t = performance.now();
  let rows = 0;
  for (let after = 0; ;) { const batch = await repo.vectorsAfter(c.id, after, 10_000); if (!batch.length) break; rows += batch.length; after = (batch)[batch.length - 1].key; }
  const scanMs = performance.now() - t;
  db.pragma('wal_checkpoint(TRUNCATE)');
  const bytes = fs.statSync(file).size;
  db.close();
  return {
    inserts_per_second: Math.round(size / (insertMs / 1000)),
    rerank_read_ms: { candidates, p50: round(pct(rerank, 50)), p99: round(pct(rerank, 99)), mean: round(rerank.reduce((a, b) => a + b, 0) / rerank.length) },
    full_read_ms: round(scanMs, 1), full_read_rows_per_second: Math.round(rows / (scanMs / 1000)),
    database_mib: round(bytes / 2 ** 20, 1),
  };
}

const raw = await storage('raw');
log('raw', raw);
const sealed = await storage('sealed');
log('sealed', sealed);

// 3. Re-sealing the raw database, then a rotation, then a pass with nothing to do.
const db = openDatabase(path.join(work, 'raw.db'));
const columns = TEMPLATE_COLUMNS;
const timed = (label: string) => {
  const t = performance.now();
  const [faces] = resealColumns(db, keyring, columns, { sealRaw: () => true });
  const ms = performance.now() - t;
  return { step: label, rows: faces.rows, changed: faces.sealed + faces.resealed, seconds: round(ms / 1000, 2), rows_per_second: Math.round(faces.rows / (ms / 1000)) };
};
const reseal = [timed('raw → sealed')];
keyring.rotate();
reseal.push(timed('rotation: old key → new key'));
reseal.push(timed('second pass, nothing to do'));
db.close();
log('reseal', reseal);

const report = {
  machine: `${os.cpus()[0].model}, ${os.availableParallelism()} cores`, node: process.version, date: new Date().toISOString().slice(0, 10),
  faces: size, dimension: dim, queries, one_template: single, raw, sealed, reseal,
};
if (values.out) fs.writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
fs.rmSync(work, { recursive: true, force: true });
