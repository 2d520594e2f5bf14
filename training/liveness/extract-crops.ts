/**
 * Face crops for training a presentation-attack model, found by the product's own face engine:
 *
 *   node --import tsx training/liveness/extract-crops.ts --data ../shared/data --cache data/liveness-training
 *
 * Reads CACHE/manifest.tsv (build_manifest.py), finds the largest face of every image as the
 * product's liveness check does (as sent first, quarter turns only when none is found), and writes
 * its crop at each context scale (the detector box × scale about its centre, slid inside the image
 * as the product's context crops are: see src/engine/crop/box-crop.ts), resized to SIZE × SIZE:
 *   CACHE/crops-s1.0.u8, CACHE/crops-s2.0.u8  N × SIZE × SIZE × 3 bytes, RGB, row-major (HWC)
 *   CACHE/crops.tsv                           one row per crop (row = index in the .u8 files) plus
 *                                             the images without a face (row −1)
 * The cache holds pixels of the shared data: it lives under data/ (ignored by git) or /tmp, never
 * in a commit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config.ts';
import { FaceEngine } from '../../src/engine/face-engine.ts';
import { loadImage } from '../../src/core/image-input.ts';
import { contextRegion, cropToPlanar } from '../../src/engine/crop/box-crop.ts';
import { featureVector, livenessScore, readLivenessModel } from '../../src/core/liveness-model.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: process.env.FACEPROOF_TEST_DATA ?? '../shared/data' },
    cache: { type: 'string', default: process.env.LIVENESS_CACHE ?? 'data/liveness-training' },
    size: { type: 'string', default: '96' },
    scales: { type: 'string', default: '1.0,2.0,3.0,0' },
  },
});
const dataDir = values.data!, cache = values.cache!, S = Number(values.size), scales = values.scales!.split(',').map(Number);
const lines = fs.readFileSync(path.join(cache, 'manifest.tsv'), 'utf8').trim().split('\n');
const header = lines[0].split('\t');
const rows = lines.slice(1).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [header[i], v])) as Record<string, string>);

const config = loadConfig();
const engine = await FaceEngine.load(config.pipeline, { intraOp: 1, workers: 2 });
// The product's current liveness (fr_liveness CNN + colour cues, fused by calibration/liveness.json),
// recorded per face so that it is measured on the same faces and protocol as the trained models.
const productModel = readLivenessModel(config.liveness.modelFile);

interface Found { row: Record<string, string>; crops: Uint8Array[] | null; box?: { x: number; y: number; width: number; height: number }; eyes: number; faces: number; multiple: boolean; rotation: number; width: number; height: number; ms: number; product?: number; cues?: number[] }
const found: Found[] = new Array(rows.length);
let next = 0, done = 0;
const started = performance.now();
async function worker(): Promise<void> {
  while (next < rows.length) {
    const i = next++;
    const row = rows[i];
    const t0 = performance.now();
    let image;
    try {
      image = await loadImage({ kind: 'bytes', data: fs.readFileSync(path.join(dataDir, row.path)) }, config.image, row.path);
    } catch (err) {
      // Refused by the product (e.g. a side under 32 px): no face, as the API would answer.
      console.error(`${row.path}: ${(err as Error).message}`);
      found[i] = { row, crops: null, eyes: 0, faces: 0, multiple: false, rotation: 0, width: 0, height: 0, ms: performance.now() - t0 };
      continue;
    }
    let faces = await engine.analyze(image, { autoRotate: false, turn: 0 });
    if (faces.length === 0) faces = await engine.analyze(image, { autoRotate: true });
    // The product's multiple_faces rule: another face at least half the main face's width.
    const base = { row, faces: faces.length, multiple: faces.slice(1).some((f) => f.box.width >= faces[0].box.width * 0.5), width: image.width, height: image.height };
    if (faces.length === 0) { found[i] = { ...base, crops: null, eyes: 0, rotation: 0, ms: performance.now() - t0 }; continue; }
    const face = faces[0];
    // The box in the working raster's pixels (the product's rasterBox).
    const s = image.scale;
    const box = { x: face.box.x / s, y: face.box.y / s, width: face.box.width / s, height: face.box.height / s };
    // A face found at a quarter turn is cropped from the image as sent (its box is in those coordinates).
    const planar = new Float32Array(3 * S * S);
    // Scale 0 is the whole image (squashed to S × S): a print's or a screen's edges wherever they are.
    const crops = scales.map((scale) => {
      const region = scale > 0 ? contextRegion(image.rgb, box, scale) : { x: 0, y: 0, width: image.rgb.width - 1, height: image.rgb.height - 1 };
      cropToPlanar(image.rgb, region, S, planar);
      const hwc = new Uint8Array(S * S * 3);
      for (let p = 0; p < S * S; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = Math.max(0, Math.min(255, Math.round(planar[c * S * S + p])));
      return hwc;
    });
    const ms = performance.now() - t0;
    const cues = await engine.livenessCues(image, face);
    found[i] = { ...base, crops, box, eyes: face.interEyeDistance, rotation: face.rotation, ms, product: livenessScore(productModel, cues), cues: featureVector(cues) };
    if (++done % 200 === 0) console.error(`${done}/${rows.length} faces, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
}
await Promise.all([worker(), worker()]);
await engine.close();

const withFace = found.filter((f) => f.crops);
scales.forEach((scale, k) => {
  const out = Buffer.alloc(withFace.length * S * S * 3);
  withFace.forEach((f, r) => out.set(f.crops![k], r * S * S * 3));
  fs.writeFileSync(path.join(cache, scale > 0 ? `crops-s${scale.toFixed(1)}.u8` : 'crops-whole.u8'), out);
});
let r = 0;
const tsv = ['row\t' + header.join('\t') + '\tfaces\tmultiple\tinter_eye_px\tbox_w\timage_w\timage_h\trotation\tms\tproduct_score\t' + productModel.features.join('\t')];
for (const f of found) {
  const row = f.crops ? r++ : -1;
  const cues = f.cues ?? productModel.features.map(() => NaN);
  tsv.push([row, ...header.map((h) => f.row[h]), f.faces, f.multiple ? 1 : 0, f.eyes.toFixed(1), f.box ? f.box.width.toFixed(1) : 0, f.width, f.height, f.rotation, f.ms.toFixed(1),
    (f.product ?? NaN).toFixed(5), ...cues.map((v) => v.toFixed(5))].join('\t'));
}
fs.writeFileSync(path.join(cache, 'crops.tsv'), tsv.join('\n') + '\n');
fs.writeFileSync(path.join(cache, 'crops.json'), JSON.stringify({ size: S, scales, layout: 'N×H×W×3 uint8 RGB', images: found.length, with_face: withFace.length }) + '\n');
const ms = found.map((f) => f.ms).sort((a, b) => a - b);
console.log(`${withFace.length}/${found.length} images with a face, crops ${S}² at ×${scales.join(', ×')} -> ${cache} (${((performance.now() - started) / 1000).toFixed(0)} s; per image p50 ${ms[ms.length >> 1].toFixed(0)} ms)`);
for (const source of [...new Set(found.map((f) => f.row.source))]) {
  const of = found.filter((f) => f.row.source === source);
  const none = of.filter((f) => !f.crops);
  if (none.length) console.log(`  ${source}: no face in ${none.length}/${of.length} (bona fide ${none.filter((f) => f.row.label === '1').length})`);
}
