/**
 * Whether usearch's concurrent insertion leaves faces no search can reach (unum-cloud/USearch#735):
 *   npx tsx bench/experiments/concurrent-insert.ts [--faces 2000] [--builds 10] [--dimensions 512] [--quantization f32]
 * Builds the same kind of graph the product does (connectivity 64, expansion_add 128, beam 768)
 * from random unit vectors, once with every core inserting and once on one thread, and counts the
 * faces that a search asking for every face in the graph does not return: stored, never found.
 * (Why CollectionIndex.addNow inserts on one thread; figures in docs/benchmarks.md.)
 */
import { parseArgs } from 'node:util';
import { Index, MetricKind, ScalarKind } from 'usearch';

const { values } = parseArgs({ options: {
  faces: { type: 'string', default: '2000' }, builds: { type: 'string', default: '10' },
  dimensions: { type: 'string', default: '512' }, quantization: { type: 'string', default: 'f32' },
} });
const faces = Number(values.faces), builds = Number(values.builds), dim = Number(values.dimensions);
const quantization = { f32: ScalarKind.F32, f16: ScalarKind.F16, i8: ScalarKind.I8 }[values.quantization as 'f32'] ?? ScalarKind.F32;

function unitVectors(n: number): Float32Array {
  const flat = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) { const x = Math.random() - 0.5; flat[i * dim + j] = x; norm += x * x; }
    for (let j = 0; j < dim; j++) flat[i * dim + j] /= Math.sqrt(norm);
  }
  return flat;
}

/** Faces of a graph built with `threads` that a search for all of them does not return. */
function unreachable(threads: number): { faces: number; ms: number } {
  const index = new Index({ dimensions: dim, metric: MetricKind.Cos, quantization, connectivity: 64, expansion_add: 128, expansion_search: 768, multi: false });
  const vectors = unitVectors(faces);
  const keys = BigUint64Array.from({ length: faces }, (_, i) => BigInt(i + 1));
  const t = performance.now();
  index.add(keys, vectors, threads);
  const ms = performance.now() - t;
  const found = new Set(Array.from(index.search(vectors.subarray(0, dim), faces, 1).keys, Number));
  return { faces: faces - found.size, ms };
}

for (const threads of [0, 1]) {
  const runs = Array.from({ length: builds }, () => unreachable(threads));
  const lost = runs.reduce((n, r) => n + r.faces, 0);
  const perBuild = runs.map((r) => r.faces).join(' ');
  const rate = (faces * builds) / (runs.reduce((n, r) => n + r.ms, 0) / 1000);
  console.log(`${threads === 0 ? 'every core' : 'one thread'}: ${lost} unreachable of ${faces * builds} faces in ${builds} builds (per build: ${perBuild}); ${Math.round(rate)} inserts/s`);
}
