/**
 * How the geometric head pitch the quality check uses is distributed on untouched LFW (the same 600
 * photos as bench:quality), to see whether a fixed offset explains the faces refused as looking down:
 *   npx tsx bench/experiments/lfw-pitch.ts --data ../shared/data
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config.ts';
import { createServices } from '../../src/bootstrap.ts';
import { DEFAULT_TENANT } from '../../src/core/image-store.ts';

const { values } = parseArgs({ options: { data: { type: 'string' } } });
const dataDir = values.data ?? process.env.FACEPROOF_TEST_DATA;
if (!dataDir) throw new Error('give the evaluation data folder with --data DIR (or FACEPROOF_TEST_DATA)');
const config = loadConfig();
config.dataDir = fs.mkdtempSync('/tmp/faceproof-lfw-pitch-');
const services = await createServices(config);
const lfwDir = path.join(dataDir, 'verify/lfw_original150_pairs');
const all = fs.readdirSync(lfwDir).sort().flatMap((id) => fs.readdirSync(path.join(lfwDir, id)).sort().map((f) => path.join(lfwDir, id, f)));
const photos = all.filter((_, i) => i % Math.floor(all.length / 600) === 0).slice(0, 600);
const pitches: number[] = [];
for (const file of photos) {
  // The id_document profile with its inter-eye minimum scaled to LFW's 150 px, as bench:quality does.
  const r = await services.quality.assess({ kind: 'bytes', data: fs.readFileSync(file) }, DEFAULT_TENANT, 'id_document', { minInterEyeDistance: 18 });
  if (r.faces[0]) pitches.push(r.faces[0].measures.pitch);
}
pitches.sort((a, b) => a - b);
const q = (x: number) => pitches[Math.floor(x * (pitches.length - 1))];
process.stdout.write(JSON.stringify({
  n: pitches.length, p1: q(0.01), p5: q(0.05), p25: q(0.25), p50: q(0.5), p75: q(0.75), p95: q(0.95), p99: q(0.99),
  below_minus30: pitches.filter((x) => x < -30).length, above_30: pitches.filter((x) => x > 30).length,
}) + '\n');
await services.close();
