/**
 * How well synthetic distractor generators reproduce the tail of the real impostor distribution,
 * which is what decides a 1:N search's top 10 (and how hard the neighbourhood is for an index):
 *   npx tsx bench/experiments/distractor-tails.ts --cache /tmp/lfw-templates.f32 [--data ../shared/data]
 * The LFW people are split in two by name: generators are fitted on one half, and compared with the
 * other half's real impostor pairs (real probe against real face, or against synthetic face).
 * The generator is bench:search's Gaussian. (Mixtures of 8 to 128 Gaussians around k-means centres
 * and Student-t variants were tried and came no closer to the real tail; docs/benchmarks.md.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GaussianSampler } from '../lib/gaussian.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, cache: { type: 'string' } } });
const imageDir = path.join(values.data ?? '../shared/data', 'verify/lfw_original150_pairs');
// The cache holds every image's template in this order (the index sweeps write it, through bench/lib/sweep-gallery.ts; every LFW image has a face).
const identities = fs.readdirSync(imageDir).sort().flatMap((id) => fs.readdirSync(path.join(imageDir, id)).map(() => id));
const all = new Float32Array(new Uint8Array(fs.readFileSync(values.cache ?? '/tmp/lfw-templates.f32')).buffer);
const dim = all.length / identities.length;
if (!Number.isInteger(dim)) throw new Error('the cache does not hold one template per LFW image');
const vectors = identities.map((_, i) => all.subarray(i * dim, (i + 1) * dim));

const names = [...new Set(identities)].sort();
const fitNames = new Set(names.filter((_, i) => i % 2 === 0));
const fit = vectors.filter((_, i) => fitNames.has(identities[i]));
const testIdx = vectors.map((_, i) => i).filter((i) => !fitNames.has(identities[i]));
const test = testIdx.map((i) => vectors[i]);
const testIds = testIdx.map((i) => identities[i]);

const dot = (a: Float32Array, b: Float32Array) => { let s = 0; for (let k = 0; k < dim; k++) s += a[k] * b[k]; return s; };

/** For each real probe: its similarities to a gallery, from which the distribution and the per-probe top 10. */
function compare(name: string, gallery: Float32Array[], sameIdentity: (probe: number, face: number) => boolean) {
  const sims: number[] = [];
  const top1: number[] = [], top10: number[] = [];
  test.forEach((q, p) => {
    const row: number[] = [];
    gallery.forEach((g, f) => { if (!sameIdentity(p, f)) row.push(dot(q, g)); });
    row.sort((a, b) => b - a);
    top1.push(row[0]); top10.push(row[9]);
    for (const s of row) sims.push(s);
  });
  const sorted = Float64Array.from(sims).sort();
  const q = (x: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(x * sorted.length))].toFixed(4));
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  const std = Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / sorted.length);
  const avg = (xs: number[]) => Number((xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(4));
  // z of the tail quantiles: how many standard deviations out the tail lies, whatever the mean
  const z = (x: number) => Number(((q(x) - mean) / std).toFixed(2));
  console.log(JSON.stringify({
    gallery: name, faces: gallery.length, pairs: sorted.length, mean: Number(mean.toFixed(4)), std: Number(std.toFixed(4)),
    p99: q(0.99), p99_9: q(0.999), p99_99: q(0.9999), z_p99: z(0.99), z_p99_9: z(0.999), z_p99_99: z(0.9999),
    per_probe_top1: avg(top1), per_probe_top10: avg(top10),
  }));
}

console.log(JSON.stringify({ fitted_on: fit.length, probes: test.length, people_fitted: fitNames.size, people_tested: names.length - fitNames.size }));
compare('real (the tested half, other people)', test, (p, f) => testIds[p] === testIds[f]);
const synthetic = new Float32Array(test.length * dim);
GaussianSampler.fit(fit).sample(synthetic, 0, test.length);
compare('gaussian', test.map((_, i) => synthetic.subarray(i * dim, (i + 1) * dim)), () => false);
