/**
 * Auto-rotation and false detections on real photos:
 *   npm run bench:rotation -- --data ../shared/data [--pairs 600] [--images 1000] [--rolled 300] [--before FILE] [--out FILE]
 * (a) LFW pairs (as many genuine as impostor, spread evenly over pairs.txt): the first photo
 * is turned by 90°, 180° and 270° (pixels turned by sharp, re-encoded as PNG without metadata) and
 * compared with auto-rotation on against its upright partner; a pair counts when it gets the same
 * decision (match / uncertain / no_match, or no face) as the upright pair compared as sent. The
 * upright pair with auto-rotation on is measured too (auto-rotation must not spoil upright photos).
 * (b) Detections beyond LFW's one labelled face per photo, detections in the no-face scenes, the
 * faces found in the multi-face scenes and the masked faces, and LFW photos rolled ±30°/±50° whose
 * face must still be found. `--before FILE` puts an earlier run's results (the same script run on
 * the code before a change) beside this one's. Writes docs/bench/rotation.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadConfig, PROJECT_ROOT } from '../src/config.ts';
import { FaceEngine, type FaceAnalysis } from '../src/engine/face-engine.ts';
import { Calibrator } from '../src/core/calibration.ts';
import { loadImage } from '../src/core/image-input.ts';
import { loadLfw } from './lib/lfw.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' }, pairs: { type: 'string' }, images: { type: 'string' }, rolled: { type: 'string' },
    before: { type: 'string' }, out: { type: 'string' },
  },
});
const dataDir = values.data ?? process.env.FACEPROOF_TEST_DATA;
if (!dataDir) throw new Error('give the evaluation data folder with --data DIR (or FACEPROOF_TEST_DATA)');
const pairCount = Number(values.pairs ?? 600);
const imageCount = Number(values.images ?? 1000);
const rolledCount = Number(values.rolled ?? 300);

const config = loadConfig();
const engine = await FaceEngine.load(config.pipeline, config.threads);
const calibrator = Calibrator.fromFile(config.calibrationFile, config.thresholds);
const { protocol, imageDir } = loadLfw(dataDir);
const started = Date.now();

const every = <T>(list: T[], n: number): T[] => list.filter((_, i) => i % Math.max(1, Math.floor(list.length / n)) === 0).slice(0, n);
const turned = (bytes: Buffer, angle: number) => sharp(bytes).rotate(angle, { background: '#000' }).png().toBuffer();
const percentile = (v: number[], p: number) => { const s = [...v].sort((a, b) => a - b); return s.length ? Number(s[Math.floor(p * (s.length - 1))].toFixed(1)) : null; };
const pct = (a: number, b: number) => Number(((100 * a) / Math.max(1, b)).toFixed(2));

async function analyze(bytes: Buffer, autoRotate: boolean): Promise<{ faces: FaceAnalysis[]; vector?: Float32Array; ms: number }> {
  const t0 = performance.now();
  const image = await loadImage({ kind: 'bytes', data: bytes }, config.image, 'image');
  const faces = await engine.analyze(image, { autoRotate });
  const ms = performance.now() - t0;
  return { faces, ms, vector: faces.length > 0 ? await engine.embed(image, faces[0]) : undefined };
}
const decide = (a?: Float32Array, b?: Float32Array): string => {
  if (!a || !b) return 'no_face';
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return calibrator.assess(dot, 'SELFIE', 'SELFIE').decision;
};

// (a) Turned photos against their upright partner.
const pairs = [...every(protocol.pairs.filter((p) => p.same), pairCount / 2), ...every(protocol.pairs.filter((p) => !p.same), pairCount / 2)];
const cache = new Map<string, Awaited<ReturnType<typeof analyze>>>();
const once = async (key: string, make: () => Promise<Awaited<ReturnType<typeof analyze>>>) => {
  if (!cache.has(key)) cache.set(key, await make());
  return cache.get(key)!;
};
const ANGLES = [0, 90, 180, 270] as const;
const rotation: Record<string, { pairs: number; same_decision: number; genuine: number; genuine_same: number; impostor: number; impostor_same: number; right_turn: number; decisions: Record<string, number> }> = {};
const autoMs: Record<string, number[]> = Object.fromEntries(ANGLES.map((a) => [a, []]));
const plainMs: number[] = [];
const changed: Array<{ a: string; b: string; angle: number; upright: string; turned: string }> = [];
for (const [i, p] of pairs.entries()) {
  const bytesA = fs.readFileSync(path.join(imageDir, p.a));
  const bytesB = fs.readFileSync(path.join(imageDir, p.b));
  const a0 = await once(`${p.a}|plain`, () => analyze(bytesA, false));
  const b0 = await once(`${p.b}|plain`, () => analyze(bytesB, false));
  const bAuto = await once(`${p.b}|auto`, () => analyze(bytesB, true));
  plainMs.push(a0.ms);
  const reference = decide(a0.vector, b0.vector);
  for (const angle of ANGLES) {
    const a = await once(`${p.a}|${angle}|auto`, async () => analyze(angle === 0 ? bytesA : await turned(bytesA, angle), true));
    autoMs[angle].push(a.ms);
    const decision = decide(a.vector, bAuto.vector);
    const r = (rotation[`${angle}°`] ??= { pairs: 0, same_decision: 0, genuine: 0, genuine_same: 0, impostor: 0, impostor_same: 0, right_turn: 0, decisions: {} });
    const same = decision === reference;
    r.pairs++;
    if (same) r.same_decision++;
    if (p.same) { r.genuine++; if (same) r.genuine_same++; } else { r.impostor++; if (same) r.impostor_same++; }
    // The turn that undoes the photo's: 90° clockwise is undone by three quarter turns clockwise.
    if (a.faces[0]?.rotation === (4 - angle / 90) % 4) r.right_turn++;
    r.decisions[`${reference}→${decision}`] = (r.decisions[`${reference}→${decision}`] ?? 0) + 1;
    if (!same) changed.push({ a: p.a, b: p.b, angle, upright: reference, turned: decision });
  }
  if (process.stderr.isTTY) process.stderr.write(`\rpairs ${i + 1}/${pairs.length}`);
}
if (process.stderr.isTTY) process.stderr.write('\n');

// (b) False detections and genuine faces kept.
const count = async (bytes: Buffer) => (await engine.analyze(await loadImage({ kind: 'bytes', data: bytes }, config.image, 'image'), { autoRotate: false })).length;
const lfwImages = every(protocol.images, imageCount);
let extra = 0, withExtra = 0, none = 0;
for (const img of lfwImages) {
  const n = await count(fs.readFileSync(path.join(imageDir, img.file)));
  if (n === 0) none++;
  extra += Math.max(0, n - 1);
  if (n > 1) withExtra++;
}
const manifest = JSON.parse(fs.readFileSync(path.join(dataDir, 'manifest.json'), 'utf8')) as Array<{ set: string; path: string; label?: string }>;
const scenes: Record<string, number> = {};
for (const e of manifest.filter((m) => m.set === 'quality' && m.path.includes('/scenes/'))) scenes[path.basename(e.path)] = await count(fs.readFileSync(path.join(dataDir, e.path)));
const masked = manifest.filter((m) => m.set === 'quality' && m.label === 'occluded_mask');
let maskedFound = 0;
for (const e of masked) if (await count(fs.readFileSync(path.join(dataDir, e.path))) > 0) maskedFound++;
const rolled: Record<string, { images: number; found: number }> = {};
for (const img of every(protocol.images.slice(1), rolledCount)) {
  const bytes = fs.readFileSync(path.join(imageDir, img.file));
  for (const angle of [30, -30, 50, -50]) {
    const r = (rolled[`${angle}°`] ??= { images: 0, found: 0 });
    r.images++;
    if (await count(await turned(bytes, angle)) > 0) r.found++;
  }
}
await engine.close();

const noFace = Object.entries(scenes).filter(([f]) => f.startsWith('no_face'));
const result = {
  command: `npm run bench:rotation -- --data ../shared/data --pairs ${pairCount} --images ${imageCount} --rolled ${rolledCount}`,
  date: new Date().toISOString().slice(0, 10),
  machine: `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, no GPU, Node ${process.version}`,
  rotation: Object.fromEntries(Object.entries(rotation).map(([k, r]) => [k, {
    pairs: r.pairs, same_decision_pct: pct(r.same_decision, r.pairs), genuine_same_pct: pct(r.genuine_same, r.genuine),
    impostor_same_pct: pct(r.impostor_same, r.impostor), right_turn_pct: pct(r.right_turn, r.pairs), decisions: r.decisions,
  }])),
  changed_decisions: changed,
  ms_per_image: {
    plain_p50_p95: [percentile(plainMs, 0.5), percentile(plainMs, 0.95)],
    ...Object.fromEntries(ANGLES.map((a) => [`auto_rotate_${a}_p50_p95`, [percentile(autoMs[a], 0.5), percentile(autoMs[a], 0.95)]])),
  },
  detections: {
    lfw_images: lfwImages.length,
    lfw_extra_per_image: Number((extra / lfwImages.length).toFixed(4)),
    lfw_images_with_extra_pct: pct(withExtra, lfwImages.length),
    lfw_images_without_face: none,
    no_face_scenes: { images: noFace.length, detections: noFace.reduce((s, [, n]) => s + n, 0) },
    scenes,
    masked_faces_found: `${maskedFound}/${masked.length}`,
    rolled_found_pct: Object.fromEntries(Object.entries(rolled).map(([k, r]) => [k, pct(r.found, r.images)])),
  },
  seconds: Math.round((Date.now() - started) / 1000),
};
const report = values.before ? { after: result, before: JSON.parse(fs.readFileSync(values.before, 'utf8')) } : result;
fs.writeFileSync(values.out ?? path.join(PROJECT_ROOT, 'docs/bench/rotation.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 1));
