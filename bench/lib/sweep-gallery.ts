import fs from 'node:fs';
import path from 'node:path';
import { exactSearch, MetricKind } from 'usearch';
import type { Config } from '../../src/config.ts';
import { FaceEngine } from '../../src/engine/face-engine.ts';
import { GaussianSampler } from './gaussian.ts';
import { embedImages } from './embed-set.ts';

/** Real templates in the gallery; the next `QUERIES` real templates are the probes. */
const REAL_IN_GALLERY = 1700;
export const QUERIES = 300;
const DIMENSION = 640;
// one read or write moves at most 2 GiB
const CHUNK = 1 << 30;

/**
 * What the index sweeps search: 1,700 real LFW templates and Gaussian distractors fitted to them (as
 * bench:search), 300 other real templates as probes, and the true ten nearest of each by brute force.
 */
export interface SweepGallery {
  dim: number;
  size: number;
  data: Float32Array;
  queries: Float32Array;
  query(i: number): Float32Array;
  /** The `candidates` keys re-ranked on the exact templates, best ten first, as [key, cosine]. */
  rerank(query: Float32Array, candidates: Iterable<bigint | number>): Array<readonly [number, number]>;
  /** How many of the true ten nearest of probe `i` are in `top`. */
  recallOf(i: number, top: ReadonlyArray<readonly [number, number]>): number;
  /** Whether the true nearest of probe `i` is first in `top`. */
  firstOf(i: number, top: ReadonlyArray<readonly [number, number]>): boolean;
}

export async function sweepGallery(config: Config, size: number, options: { data?: string; cache?: string }): Promise<SweepGallery> {
  const real = await realTemplates(config, options);
  const dim = real[0].length;
  const data = gallery(real, size, options.cache);
  const queries = new Float32Array(QUERIES * dim);
  real.slice(REAL_IN_GALLERY, REAL_IN_GALLERY + QUERIES).forEach((v, i) => queries.set(v, i * dim));
  const exact = exactSearch(data, queries, dim, 10, MetricKind.Cos, 0) as unknown as { keys: BigUint64Array };
  const truth = Array.from({ length: QUERIES }, (_, i) => Array.from(exact.keys.subarray(i * 10, i * 10 + 10), Number));
  return {
    dim, size, data, queries,
    query: (i) => queries.subarray(i * dim, (i + 1) * dim),
    rerank: (query, candidates) => Array.from(candidates, (k) => {
      const o = Number(k) * dim;
      let s = 0;
      for (let j = 0; j < dim; j++) s += query[j] * data[o + j];
      return [Number(k), s] as const;
    }).sort((a, b) => b[1] - a[1]).slice(0, 10),
    recallOf: (i, top) => top.filter(([k]) => truth[i].includes(k)).length,
    firstOf: (i, top) => top[0]?.[0] === truth[i][0],
  };
}

/** The real LFW templates, embedded once and kept in `cache` (a raw float32 file) when given. */
async function realTemplates(config: Config, { data, cache }: { data?: string; cache?: string }): Promise<Float32Array[]> {
  if (cache && fs.existsSync(cache)) {
    const all = new Float32Array(new Uint8Array(fs.readFileSync(cache)).buffer);
    return Array.from({ length: all.length / DIMENSION }, (_, i) => all.subarray(i * DIMENSION, (i + 1) * DIMENSION));
  }
  const imageDir = path.join(data ?? '../shared/data', 'verify/lfw_original150_pairs');
  const images = fs.readdirSync(imageDir).sort().flatMap((id) => fs.readdirSync(path.join(imageDir, id)).sort().map((f) => ({ file: `${id}/${f}`, identity: id })));
  const engine = await FaceEngine.load(config.pipeline, config.threads);
  const vectors = (await embedImages(engine, config.image, imageDir, images)).flatMap((e) => (e.vector ? [e.vector] : []));
  await engine.close();
  if (cache) fs.writeFileSync(cache, Buffer.concat(vectors.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength))));
  return vectors;
}

/** Real templates and Gaussian distractors; the draw is seeded, so it is kept beside the template cache. */
function gallery(real: Float32Array[], size: number, cache: string | undefined): Float32Array {
  const dim = real[0].length;
  const file = cache ? `${cache}.gallery${size}` : undefined;
  const out = new Float32Array(size * dim);
  if (file && fs.existsSync(file)) {
    const fd = fs.openSync(file, 'r');
    for (let o = 0; o < out.byteLength; o += CHUNK) fs.readSync(fd, new Uint8Array(out.buffer, o, Math.min(CHUNK, out.byteLength - o)), 0, Math.min(CHUNK, out.byteLength - o), o);
    fs.closeSync(fd);
    return out;
  }
  real.slice(0, REAL_IN_GALLERY).forEach((v, i) => out.set(v, i * dim));
  const sampler = GaussianSampler.fit(real);
  for (let done = REAL_IN_GALLERY; done < size; done += 10_000) sampler.sample(out, done, Math.min(10_000, size - done));
  if (file) {
    const fd = fs.openSync(file, 'w');
    for (let o = 0; o < out.byteLength; o += CHUNK) fs.writeSync(fd, new Uint8Array(out.buffer, o, Math.min(CHUNK, out.byteLength - o)));
    fs.closeSync(fd);
  }
  return out;
}
