/**
 * Portrait quality verdicts on real photos:
 *   npm run bench:quality -- --data ../shared/data [--images 400]
 * Undegraded LFW faces (native 150 px) under the id_document profile with its size limits scaled to
 * the image, then the same photos degraded by the benchmark (blur, darkening, over-exposure,
 * downscaling, bars over the eyes or mouth, JPEG artefacts, rotation), then ../shared/data/quality
 * (masks, several faces, no face). A degradation counts as flagged when its verdict is among the
 * face's reasons; the primary verdict rate is reported too. Writes docs/bench/quality.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { PROJECT_ROOT } from '../src/config.ts';
import { createServices } from '../src/bootstrap.ts';
import { freshDataFolder } from './lib/fresh-data.ts';
import { DEFAULT_TENANT } from '../src/core/image-store.ts';
import type { QualityProfile, QualityVerdict } from '../src/core/quality.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, images: { type: 'string' }, out: { type: 'string' } } });
const dataDir = values.data ?? process.env.FACEPROOF_TEST_DATA;
if (!dataDir) throw new Error('give the evaluation data folder with --data DIR (or FACEPROOF_TEST_DATA)');
const scratch = freshDataFolder('bench-quality');
const services = await createServices(scratch.config, { mode: 'tool' });
const { quality } = services;

const lfwDir = path.join(dataDir, 'verify/lfw_original150_pairs');
const all = fs.readdirSync(lfwDir).sort().flatMap((id) => fs.readdirSync(path.join(lfwDir, id)).sort().map((f) => path.join(lfwDir, id, f)));
const count = Number(values.images ?? 400);
const photos = all.filter((_, i) => i % Math.max(1, Math.floor(all.length / count)) === 0).slice(0, count);

// LFW's 150 px images are 250 px originals scaled by 0.6; the id_document limits are scaled alike.
const SCALE = 150 / 250;
const base = quality.profile('id_document').profile;
const adjusted: Partial<QualityProfile> = { minInterEyeDistance: Math.round(base.minInterEyeDistance * SCALE) };

type Degrade = (img: ReturnType<typeof sharp>, meta: { width: number; height: number }, face: { eyes: number; mouth: number; x: number; w: number }) => Promise<Buffer>;
const bar = (y0: number, y1: number, x: number, w: number, width: number): Buffer =>
  Buffer.from(`<svg width="${width}" height="${Math.ceil(y1)}"><rect x="${x}" y="${y0}" width="${w}" height="${y1 - y0}" fill="#000"/></svg>`);
const DEGRADATIONS: Record<string, { expect: QualityVerdict[]; make: Degrade }> = {
  blur: { expect: ['image_too_blur'], make: (img) => img.blur(3).jpeg({ quality: 95 }).toBuffer() },
  dark: { expect: ['image_too_dark'], make: (img) => img.linear(0.2, 0).jpeg({ quality: 95 }).toBuffer() },
  overexposed: { expect: ['image_too_bright', 'face_too_bright'], make: (img) => img.linear(3, 40).jpeg({ quality: 95 }).toBuffer() },
  downscaled: { expect: ['face_too_small'], make: (img, m) => img.resize(Math.round(m.width * 0.45)).jpeg({ quality: 95 }).toBuffer() },
  eye_bar: { expect: ['sunglasses', 'face_occluded'], make: (img, m, f) => img.composite([{ input: bar(f.eyes - 0.18 * f.w, f.eyes + 0.14 * f.w, f.x, f.w, m.width), top: 0, left: 0 }]).jpeg({ quality: 95 }).toBuffer() },
  mouth_bar: { expect: ['face_occluded'], make: (img, m, f) => img.composite([{ input: bar(f.mouth - 0.15 * f.w, f.mouth + 0.15 * f.w, f.x, f.w, m.width), top: 0, left: 0 }]).jpeg({ quality: 95 }).toBuffer() },
  jpeg: { expect: ['image_compressed'], make: (img) => img.jpeg({ quality: 6 }).toBuffer() },
  rotated: { expect: ['face_tilted'], make: (img) => img.rotate(50, { background: '#808080' }).jpeg({ quality: 95 }).toBuffer() },
};

const tally: Record<string, { n: number; flagged: number; primary: number; verdicts: Record<string, number>; eyeToBox: number[] }> = {};
const count1 = (key: string, verdict: string, reasons: string[], expect: string[], eyeToBox?: number) => {
  const t = (tally[key] ??= { n: 0, flagged: 0, primary: 0, verdicts: {}, eyeToBox: [] });
  if (eyeToBox !== undefined) t.eyeToBox.push(eyeToBox);
  t.n++;
  if (expect.some((v) => reasons.includes(v) || v === verdict)) t.flagged++;
  if (expect.includes(verdict)) t.primary++;
  t.verdicts[verdict] = (t.verdicts[verdict] ?? 0) + 1;
};
const latencies: number[] = [];
const judge = async (bytes: Buffer, profile: string, overrides: Partial<QualityProfile>) => {
  const t0 = performance.now();
  const r = await quality.assess({ kind: 'bytes', data: bytes }, DEFAULT_TENANT, profile, overrides);
  latencies.push(performance.now() - t0);
  const f = r.faces[0];
  return { verdict: r.verdict as string, reasons: (f?.reasons ?? [r.verdict]) as string[], face: f, eyeToBox: f ? f.measures.interEyeDistance / f.face.box.width : undefined };
};
const measures: Array<Record<string, number>> = [];

for (const file of photos) {
  const bytes = fs.readFileSync(file);
  const clean = await judge(bytes, 'id_document', adjusted);
  count1('undegraded', clean.verdict, clean.reasons, ['good'], clean.eyeToBox);
  if (!clean.face) continue;
  const m = clean.face.measures;
  measures.push({ sharpness: m.sharpness, blockiness: m.blockiness, interEye: m.interEyeDistance, faceBrightness: m.faceBrightness, nose: m.occlusion.nose, mouth: m.occlusion.mouth, eyeDarkL: m.eyeDarkness.left, eyeBandDark: m.eyeBandDarkFraction, eyeOpenL: m.eyesOpen.left, eyeOpenR: m.eyesOpen.right, yaw: m.yaw, pitch: m.pitch, roll: m.roll });
  if (clean.verdict !== 'good') continue;
  const lm = clean.face.face.landmarks68;
  const meta = await sharp(bytes).metadata();
  const geometry = {
    eyes: (lm[37][1] + lm[44][1]) / 2,
    mouth: (lm[51][1] + lm[57][1]) / 2,
    x: lm[0][0] - 4,
    w: lm[16][0] - lm[0][0] + 8,
  };
  for (const [name, d] of Object.entries(DEGRADATIONS)) {
    const degraded = await d.make(sharp(bytes), { width: meta.width!, height: meta.height! }, geometry);
    const r = await judge(degraded, 'id_document', adjusted);
    count1(name, r.verdict, r.reasons, d.expect, r.eyeToBox);
  }
}

const manifest = JSON.parse(fs.readFileSync(path.join(dataDir, 'manifest.json'), 'utf8')) as Array<{ set: string; path: string; label: string }>;
const EXPECT: Record<string, QualityVerdict[]> = { occluded_mask: ['face_occluded'], multiple_faces: ['image_has_multiple_faces'], no_face: ['image_has_no_faces'], single_face_reference: ['good'] };
for (const e of manifest.filter((m) => m.set === 'quality')) {
  const r = await judge(fs.readFileSync(path.join(dataDir, e.path)), 'selfie_mobile', { minInterEyeDistance: 0, minFaceShare: 0, maxFaceShare: 1 });
  count1(`quality/${e.label}`, r.verdict, r.reasons, EXPECT[e.label] ?? []);
}
await services.close();
scratch.remove();

const pct = (a: number, b: number) => Number(((100 * a) / Math.max(1, b)).toFixed(1));
latencies.sort((a, b) => a - b);
const q = (key: string, p: number) => { const v = measures.map((m) => m[key]).sort((a, b) => a - b); return Number(v[Math.floor(p * (v.length - 1))].toFixed(3)); };
const report = {
  command: `npm run bench:quality -- --data ../shared/data --images ${count}`,
  date: new Date().toISOString().slice(0, 10),
  adjusted: `id_document with minInterEyeDistance ${adjusted.minInterEyeDistance} px (its ${base.minInterEyeDistance} px × 150/250, LFW's downscale)`,
  results: Object.fromEntries(Object.entries(tally).map(([k, t]) => {
    const r = [...t.eyeToBox].sort((a, b) => a - b);
    const at = (p: number) => (r.length ? Number(r[Math.floor(p * (r.length - 1))].toFixed(3)) : null);
    return [k, { images: t.n, flagged_pct: pct(t.flagged, t.n), primary_verdict_pct: pct(t.primary, t.n), verdicts: t.verdicts, inter_eye_to_box_p5_p50_p95: [at(0.05), at(0.5), at(0.95)] }];
  })),
  undegraded_measures_p5_p50_p95: Object.fromEntries(Object.keys(measures[0]).map((k) => [k, [q(k, 0.05), q(k, 0.5), q(k, 0.95)]])),
  latency_ms_per_image_two_workers: { p50: Number(latencies[latencies.length >> 1].toFixed(1)), p95: Number(latencies[Math.floor(latencies.length * 0.95)].toFixed(1)) },
};
fs.writeFileSync(values.out ?? path.join(PROJECT_ROOT, 'docs/bench/quality.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 1));
