/**
 * Sweeps vector-index settings at scale, outside the product path, to choose its defaults:
 *   npx tsx bench/experiments/index-sweep.ts --data ../shared/data --size 1000000 \
 *     --configs '[["f16",32,128]]' --efs '[[256,200],[512,200],[768,200],[1024,300]]' [--dimensions 128] \
 *     [--metric ip|l2] [--cache /tmp/lfw-templates.f32]
 * Gallery: 1,700 real LFW templates plus Gaussian distractors fitted to them (as bench:search);
 * queries: 300 other real templates. Each config is [quantization, connectivity, expansion_add];
 * each efs entry is [expansion_search, candidates re-ranked exactly]. Prints one JSON line per point:
 * build rate, recall@10 against brute force, single-thread latency of index search + re-rank.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Index, exactSearch, MetricKind, ScalarKind } from 'usearch';
import { loadConfig } from '../../src/config.ts';
import { VectorProjection } from '../../src/store/vector/projection.ts';
import { QUERIES as Q, sweepGallery } from '../lib/sweep-gallery.ts';

const { values } = parseArgs({ options: {
  data: { type: 'string' }, size: { type: 'string' }, configs: { type: 'string' }, efs: { type: 'string' }, dimensions: { type: 'string' },
  metric: { type: 'string' }, cache: { type: 'string' }, index: { type: 'string' },
} });
const config = loadConfig();
const N = Number(values.size ?? 1_000_000);
const { dim, data, query, rerank, recallOf, firstOf } = await sweepGallery(config, N, values);
const dims = Number(values.dimensions ?? config.index.dimensions);
const projection = dims > 0 ? VectorProjection.read(config.index.projectionFile).truncated(dims) : undefined;
const pd = projection ? projection.outDim : dim;
const stored = projection ? new Float32Array(N * pd) : data;
if (projection) for (let i = 0; i < N; i++) stored.set(projection.project(data.subarray(i * dim, (i + 1) * dim)), i * pd);
const keys = new BigUint64Array(N).map((_, i) => BigInt(i));
// "i8" configs get the projections as the product's i8 graphs do
const toInt8 = (v: Float32Array) => projection!.toInt8(v);
let storedInt8: Int8Array | undefined;
// ip: centred projections against the uncentred query (the ranking of q · x); l2: both centred, a metric space.
const l2 = values.metric === 'l2';
const metric = l2 ? MetricKind.L2sq : projection ? MetricKind.IP : MetricKind.Cos;
// P q = P (q − mean) − P (0 − mean): the uncentred projection the first design searched with.
const origin = projection?.project(new Float32Array(dim));
const toQuery = (q: Float32Array) => {
  if (!projection) return q;
  const centred = projection.project(q);
  return l2 ? centred : centred.map((x, k) => x - origin![k]);
};

// Upper bound of any index over these vectors: brute force in the indexed space, then the same re-rank.
if (projection) {
  const pq = new Float32Array(Q * pd);
  for (let i = 0; i < Q; i++) pq.set(toQuery(query(i)), i * pd);
  for (const candidates of [10, 50, 200, 500, 1000, 2000]) {
    const bf = exactSearch(stored, pq, pd, candidates, metric, 0) as unknown as { keys: BigUint64Array };
    let found = 0;
    for (let i = 0; i < Q; i++) found += recallOf(i, rerank(query(i), bf.keys.subarray(i * candidates, (i + 1) * candidates)));
    console.log(JSON.stringify({ brute_force_in_index_space: true, metric: values.metric ?? 'ip', dimensions: pd, candidates, recall_at_10: Number((found / Q / 10).toFixed(4)) }));
  }
}

for (const [q, conn, efAdd] of JSON.parse(values.configs ?? '[["f16",32,128]]') as Array<[ScalarKind, number, number]>) {
  // --index: a graph saved by an earlier run with this config, so a sweep of beams need not rebuild it
  let file = values.index ?? '', buildSeconds = NaN;
  if (!file) {
    const build = new Index({ dimensions: pd, metric, quantization: q, connectivity: conn, expansion_add: efAdd, expansion_search: 64, multi: false });
    const t = performance.now();
    build.add(keys, q === 'i8' ? (storedInt8 ??= toInt8(stored)) : stored, 1); // one thread: see CollectionIndex.addNow
    buildSeconds = (performance.now() - t) / 1000;
    file = path.join(fs.mkdtempSync('/tmp/faceproof-sweep-'), 'index.usearch');
    build.save(file);
    console.log(JSON.stringify({ saved: file }));
  }
  for (const [ef, candidates] of JSON.parse(values.efs ?? '[[256,200],[512,200],[1024,300]]') as Array<[number, number]>) {
    const index = new Index({ dimensions: pd, metric, quantization: q, connectivity: conn, expansion_add: efAdd, expansion_search: ef, multi: false });
    index.load(file);
    const latency: number[] = [];
    let found = 0, firstFound = 0;
    for (let i = 0; i < Q; i++) {
      const probe = query(i);
      const t0 = performance.now();
      const r = index.search(q === 'i8' ? toInt8(toQuery(probe)) : toQuery(probe), candidates, 1);
      const top = rerank(probe, r.keys);
      latency.push(performance.now() - t0);
      found += recallOf(i, top);
      if (firstOf(i, top)) firstFound++;
    }
    latency.sort((a, b) => a - b);
    console.log(JSON.stringify({
      metric: values.metric ?? 'ip', quantization: q, connectivity: conn, expansion_add: efAdd, dimensions: pd, faces: N, inserts_per_second: Math.round(N / buildSeconds),
      expansion_search: ef, candidates, recall_at_10: Number((found / Q / 10).toFixed(4)), recall_at_1: Number((firstFound / Q).toFixed(4)),
      p50_ms: Number(latency[Q >> 1].toFixed(2)), p99_ms: Number(latency[Math.floor(Q * 0.99)].toFixed(2)),
    }));
  }
}
