/**
 * The two head-pose estimates the engine has — the generic-head fit to the 68 landmarks and
 * faceplugin's learned fr_pose — side by side on untouched LFW (the 600 photos of bench:quality),
 * with the quality verdict, to see how far they agree on the faces refused for pose. One line per
 * photo, then the distribution of the landmark pitch the quality check uses (to see whether a fixed
 * offset explains the faces refused as looking down):
 *   npx tsx bench/experiments/lfw-pose.ts --data ../shared/data > /tmp/lfw-pose.ndjson
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createServices } from '../../src/bootstrap.ts';
import { freshDataFolder } from '../lib/fresh-data.ts';
import { DEFAULT_TENANT } from '../../src/core/image-store.ts';
import { loadImage } from '../../src/core/image-input.ts';

const { values } = parseArgs({ options: { data: { type: 'string' } } });
const dataDir = values.data ?? process.env.FACEPROOF_TEST_DATA;
if (!dataDir) throw new Error('give the evaluation data folder with --data DIR (or FACEPROOF_TEST_DATA)');
const scratch = freshDataFolder('lfw-pose');
const { config } = scratch;
const services = await createServices(config, { mode: 'tool' });
const lfwDir = path.join(dataDir, 'verify/lfw_original150_pairs');
const all = fs.readdirSync(lfwDir).sort().flatMap((id) => fs.readdirSync(path.join(lfwDir, id)).sort().map((f) => path.join(lfwDir, id, f)));
const photos = all.filter((_, i) => i % Math.floor(all.length / 600) === 0).slice(0, 600);
const pitches: number[] = [];
for (const file of photos) {
  const data = fs.readFileSync(file);
  const report = await services.quality.assess({ kind: 'bytes', data }, DEFAULT_TENANT, 'id_document', { minInterEyeDistance: 18 });
  const image = await loadImage({ kind: 'bytes', data }, config.image, 'image');
  const faces = await services.engine.analyze(image, { autoRotate: false });
  if (!faces[0]) { process.stdout.write(JSON.stringify({ file: path.relative(lfwDir, file), verdict: report.verdict }) + '\n'); continue; }
  const learned = await services.engine.learnedPose(image, faces[0]);
  if (report.faces[0]) pitches.push(report.faces[0].measures.pitch);
  process.stdout.write(JSON.stringify({
    file: path.relative(lfwDir, file), verdict: report.verdict, reasons: report.faces[0]?.reasons ?? [],
    landmarks: faces[0].pose, learned,
  }) + '\n');
}
pitches.sort((a, b) => a - b);
const q = (x: number) => pitches[Math.floor(x * (pitches.length - 1))];
process.stdout.write(JSON.stringify({
  landmark_pitch: { n: pitches.length, p1: q(0.01), p5: q(0.05), p25: q(0.25), p50: q(0.5), p75: q(0.75), p95: q(0.95), p99: q(0.99) },
  below_minus30: pitches.filter((x) => x < -30).length, above_30: pitches.filter((x) => x > 30).length,
}) + '\n');
await services.close();
scratch.remove();
