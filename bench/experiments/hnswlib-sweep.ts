/**
 * The other HNSW library the issue names, hnswlib-node, on the gallery index-sweep.ts searches, to
 * see whether the recall/latency limit at 1M is usearch's or the data's. hnswlib-node is not a
 * dependency of the product; install it beside it first, without saving:
 *   npm install --no-save hnswlib-node@3.0.0
 *   npx tsx bench/experiments/hnswlib-sweep.ts --data ../shared/data --cache /tmp/lfw-templates.f32 \
 *     --m 48 --ef-construction 128 --efs 512,768,1024 [--index FILE]
 * The graph holds the product's 96-D projections (float32: hnswlib has no quantization), compared by
 * Euclidean distance; 200 candidates are re-ranked on the exact templates, as the product does.
 * Inserts are one at a time (hnswlib-node's addPoint), so the build uses one core.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config.ts';
import { VectorProjection } from '../../src/store/vector/projection.ts';
import { QUERIES as Q, sweepGallery } from '../lib/sweep-gallery.ts';

interface Hnsw {
  initIndex(maxElements: number, m: number, efConstruction: number, randomSeed: number): void;
  addPoint(point: number[], label: number): void;
  setEf(ef: number): void;
  searchKnn(point: number[], k: number): { neighbors: number[] };
  readIndexSync(file: string): void;
  writeIndexSync(file: string): void;
}
const { HierarchicalNSW } = createRequire(import.meta.url)('hnswlib-node') as { HierarchicalNSW: new (space: string, dim: number) => Hnsw };

const { values } = parseArgs({ options: {
  data: { type: 'string' }, cache: { type: 'string' }, size: { type: 'string' }, m: { type: 'string' },
  'ef-construction': { type: 'string' }, efs: { type: 'string' }, index: { type: 'string' },
} });
const config = loadConfig();
const N = Number(values.size ?? 1_000_000), M = Number(values.m ?? 48), EFC = Number(values['ef-construction'] ?? 128);
const { dim, data, query, rerank, recallOf, firstOf } = await sweepGallery(config, N, values);
const projection = VectorProjection.read(config.index.projectionFile).truncated(config.index.dimensions);
const project = (v: Float32Array) => Array.from(projection.project(v));

const index = new HierarchicalNSW('l2', projection.outDim);
let insertsPerSecond: number | null = null;
if (values.index) index.readIndexSync(values.index);
else {
  index.initIndex(N, M, EFC, 100);
  const t = performance.now();
  for (let i = 0; i < N; i++) index.addPoint(project(data.subarray(i * dim, (i + 1) * dim)), i);
  insertsPerSecond = Math.round(N / ((performance.now() - t) / 1000));
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-hnswlib-')), 'index.bin');
  index.writeIndexSync(file);
  console.log(JSON.stringify({ saved: file }));
}
for (const ef of (values.efs ?? '512,768,1024').split(',').map(Number)) {
  index.setEf(ef);
  const latency: number[] = [];
  let found = 0, firstFound = 0;
  for (let i = 0; i < Q; i++) {
    const t0 = performance.now();
    const top = rerank(query(i), index.searchKnn(project(query(i)), 200).neighbors);
    latency.push(performance.now() - t0);
    found += recallOf(i, top);
    if (firstOf(i, top)) firstFound++;
  }
  latency.sort((a, b) => a - b);
  console.log(JSON.stringify({
    library: 'hnswlib-node', m: M, ef_construction: EFC, dimensions: projection.outDim, faces: N, inserts_per_second: insertsPerSecond,
    ef, candidates: 200, recall_at_10: Number((found / Q / 10).toFixed(4)), recall_at_1: Number((firstFound / Q).toFixed(4)),
    p50_ms: Number(latency[Q >> 1].toFixed(2)), p99_ms: Number(latency[Math.floor(Q * 0.99)].toFixed(2)),
  }));
}
