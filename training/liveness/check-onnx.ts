/**
 * Checks an exported liveness model (train.py --export) in onnxruntime-node on the product's own path,
 * and times it:
 *
 *   node --import tsx training/liveness/check-onnx.ts --model models/liveness/NAME.onnx [--data ../shared/data]
 *
 * For every image of NAME.json's reference_scores (one face per source, scored by PyTorch on the
 * cached uint8 crops at export): loads the image, finds the largest face with the product's engine,
 * cuts the context crops with contextRegion + cropToPlanar (as extract-crops.ts does, without the
 * rounding to bytes of the cache), runs the ONNX model and compares. Reports the largest difference
 * and the time per face of crops + model (one thread), detection excluded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../src/config.ts';
import { FaceEngine } from '../../src/engine/face-engine.ts';
import { loadImage } from '../../src/core/image-input.ts';
import { contextRegion, cropToPlanar } from '../../src/engine/crop/box-crop.ts';

const { values } = parseArgs({ options: { model: { type: 'string' }, data: { type: 'string', default: process.env.FACEPROOF_TEST_DATA ?? '../shared/data' } } });
if (!values.model) throw new Error('give --model models/liveness/NAME.onnx');
const meta = JSON.parse(fs.readFileSync(values.model.replace(/\.onnx$/, '.json'), 'utf8')) as {
  inputs: string[]; crop_size: number; context_scales: number[]; reference_scores: Record<string, number>;
};
const session = await ort.InferenceSession.create(values.model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const config = loadConfig();
const engine = await FaceEngine.load(config.pipeline, { intraOp: 1, workers: 1 });
const S = meta.crop_size;
let worst = 0;
const times: number[] = [];
for (const [file, ref] of Object.entries(meta.reference_scores)) {
  const image = await loadImage({ kind: 'bytes', data: fs.readFileSync(path.join(values.data!, file)) }, config.image, file);
  let faces = await engine.analyze(image, { autoRotate: false, turn: 0 });
  if (faces.length === 0) faces = await engine.analyze(image, { autoRotate: true });
  const s = image.scale;
  const box = { x: faces[0].box.x / s, y: faces[0].box.y / s, width: faces[0].box.width / s, height: faces[0].box.height / s };
  let score = 0;
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    const feeds: Record<string, ort.Tensor> = {};
    meta.context_scales.forEach((scale, k) => {
      const region = scale > 0 ? contextRegion(image.rgb, box, scale) : { x: 0, y: 0, width: image.rgb.width - 1, height: image.rgb.height - 1 };
      const planar = new Float32Array(3 * S * S);
      cropToPlanar(image.rgb, region, S, planar);
      feeds[meta.inputs[k]] = new ort.Tensor('float32', planar, [1, 3, S, S]);
    });
    const out = await session.run(feeds);
    score = (out[session.outputNames[0]].data as Float32Array)[0];
    if (rep > 0) times.push(performance.now() - t0);
  }
  worst = Math.max(worst, Math.abs(score - ref));
  console.log(`${file}: PyTorch ${ref.toFixed(4)}, onnxruntime-node on the product's crops ${score.toFixed(4)}`);
}
await engine.close();
times.sort((a, b) => a - b);
console.log(`largest difference ${worst.toFixed(4)}; crops + model per face p50 ${times[times.length >> 1].toFixed(2)} ms, p95 ${times[Math.floor(times.length * 0.95)].toFixed(2)} ms (one thread, detection excluded)`);
