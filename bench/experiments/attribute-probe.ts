/**
 * First look at faceplugin's age and liveness models on ../shared/data, outside the product path:
 *   npx tsx bench/experiments/attribute-probe.ts --data ../shared/data [--limit 500]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../src/config.ts';
import { FaceEngine } from '../../src/engine/face-engine.ts';
import { loadImage } from '../../src/core/image-input.ts';
import { contextRegion, cropToPlanar } from '../../src/engine/crop/box-crop.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, limit: { type: 'string' }, only: { type: 'string' } } });
const data = values.data ?? '../shared/data';
const manifest = JSON.parse(fs.readFileSync(path.join(data, 'manifest.json'), 'utf8')) as Array<Record<string, any>>;
const config = loadConfig();
const engine = await FaceEngine.load(config.pipeline, config.threads);
const model = (n: string) => ort.InferenceSession.create(`node_modules/faceplugin-face-recognition-js/model/${n}.onnx`, { logSeverityLevel: 3, intraOpNumThreads: 1 });
const softmax = (a: Float32Array) => { const m = Math.max(...a); const e = Array.from(a, (v) => Math.exp(v - m)); const s = e.reduce((x, y) => x + y); return e.map((v) => v / s); };

async function face(file: string) {
  const image = await loadImage({ kind: 'bytes', data: fs.readFileSync(path.join(data, file)) }, config.image, file);
  const faces = await engine.analyze(image, { autoRotate: true });
  return { image, face: faces[0] };
}

if (!values.only || values.only === 'age') {
  const age = await model(process.env.AGEMODEL ?? 'fr_age');
  const items = manifest.filter((e) => e.set === 'age').filter((_, i) => i % Number(values.limit ?? 1) === 0);
  for (const scale of (process.env.ASCALES ?? '1.4').split(',').map(Number)) {
    let err = 0, n = 0, missing = 0, ms = 0;
    const byDecade = new Map<number, number[]>();
    for (const e of items) {
      const { image, face: f } = await face(e.path);
      if (!f) { missing++; continue; }
      const box = { x: f.box.x / image.scale, y: f.box.y / image.scale, width: f.box.width / image.scale, height: f.box.height / image.scale };
      const planar = new Float32Array(3 * 64 * 64);
      cropToPlanar(image.rgb, contextRegion(image.rgb, box, scale), 64, planar);
      const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
      const norm = process.env.ANORM ?? 'imagenet';
      if (process.env.ABGR) { const t = planar.slice(0, 4096); planar.copyWithin(0, 8192); planar.set(t, 8192); }
      for (let c = 0; c < 3; c++) for (let i = 0; i < 4096; i++) planar[c * 4096 + i] = norm === 'imagenet' ? (planar[c * 4096 + i] / 255 - mean[c]) / std[c] : norm === 'unit' ? planar[c * 4096 + i] / 255 : planar[c * 4096 + i];
      const t0 = performance.now();
      const out = await age.run({ input: new ort.Tensor('float32', planar, [1, 3, 64, 64]) });
      ms += performance.now() - t0;
      const x = ['prob_stage_1', 'prob_stage_2', 'prob_stage_3', 'stage1_delta_k', 'stage2_delta_k', 'stage3_delta_k', 'index_offset_stage1', 'index_offset_stage2', 'index_offset_stage3'].flatMap((k) => Array.from(out[k].data as Float32Array));
      let a = 0, b = 0, c = 0;
      for (let i = 0; i < 3; i++) a += (i + x[12 + i]) * x[i];
      a /= 3 * (1 + x[9]);
      for (let i = 0; i < 3; i++) b += (i + x[15 + i]) * x[3 + i];
      b /= 3 * (1 + x[9]) * 3 * (1 + x[10]);
      for (let i = 0; i < 3; i++) c += (i + x[18 + i]) * x[6 + i];
      c /= 3 * (1 + x[9]) * 3 * (1 + x[10]) * 3 * (1 + x[11]);
      const predicted = (a + b + c) * 101;
      err += Math.abs(predicted - e.age); n++;
      const d = Math.min(8, Math.floor(e.age / 10));
      byDecade.set(d, [...(byDecade.get(d) ?? []), predicted - e.age]);
    }
    console.log(JSON.stringify({ model: 'fr_age', scale, mae: err / n, n, missing, ms: ms / n }));
    for (const [d, v] of [...byDecade].sort((p, q) => p[0] - q[0])) console.log(`  ${d * 10}s n=${v.length} bias=${(v.reduce((s, x) => s + x, 0) / v.length).toFixed(1)} mae=${(v.reduce((s, x) => s + Math.abs(x), 0) / v.length).toFixed(1)}`);
  }
}

if (!values.only || values.only === 'liveness') {
  const live = await model('fr_liveness');
  const items = manifest.filter((e) => e.set === 'liveness');
  const rows: Array<{ source: string; label: string; p: number[] } > = [];
  for (const e of items) {
    const { image, face: f } = await face(e.path);
    if (!f) { rows.push({ source: e.source, label: e.label, p: [] }); continue; }
    const box = { x: f.box.x / image.scale, y: f.box.y / image.scale, width: f.box.width / image.scale, height: f.box.height / image.scale };
    const planar = new Float32Array(3 * 128 * 128);
    cropToPlanar(image.rgb, contextRegion(image.rgb, box, Number(process.env.LSCALE ?? 2.7)), 128, planar);
    if (process.env.BGR) { const t = planar.slice(0, 16384); planar.copyWithin(0, 2 * 16384); planar.set(t, 2 * 16384); }
    const out = await live.run({ input: new ort.Tensor('float32', planar, [1, 3, 128, 128]) });
    rows.push({ source: e.source, label: e.label, p: softmax(out.output.data as Float32Array) });
  }
  for (const source of new Set(rows.map((r) => r.source))) for (const label of ['real', 'spoof']) {
    const r = rows.filter((x) => x.source === source && x.label === label);
    const found = r.filter((x) => x.p.length);
    const m = [0, 1, 2].map((k) => found.reduce((s, x) => s + x.p[k], 0) / Math.max(1, found.length));
    const sorted = found.map((x) => x.p[0]).sort((a, b) => a - b);
    console.log(source, label, 'n', r.length, 'noface', r.length - found.length, 'mean p', m.map((v) => v.toFixed(3)).join(' '), 'p0 q10/50/90', [0.1, 0.5, 0.9].map((q) => sorted[Math.floor(q * (sorted.length - 1))]?.toFixed(3)).join(' '));
  }
}

if (values.only === 'faceapi-age') {
  const { buildAgeGenderOnnx } = await import('../../src/engine/onnx/faceapi-age-gender.ts');
  const session = await ort.InferenceSession.create(buildAgeGenderOnnx('node_modules/@vladmandic/face-api/model'), { logSeverityLevel: 3, intraOpNumThreads: 1 });
  const items = manifest.filter((e) => e.set === 'age').filter((_, i) => i % Number(values.limit ?? 1) === 0);
  for (const scale of (process.env.ASCALES ?? '1.0').split(',').map(Number)) {
    let err = 0, n = 0, ms = 0;
    const byDecade = new Map<number, number[]>();
    for (const e of items) {
      const { image, face: f } = await face(e.path);
      if (!f) continue;
      const box = { x: f.box.x / image.scale, y: f.box.y / image.scale, width: f.box.width / image.scale, height: f.box.height / image.scale };
      const side = Math.max(box.width, box.height) * scale;
      const region = { x: box.x + box.width / 2 - side / 2, y: box.y + box.height / 2 - side / 2, width: side, height: side };
      const planar = new Float32Array(3 * 112 * 112);
      cropToPlanar(image.rgb, region, 112, planar);
      const t0 = performance.now();
      const out = await session.run({ input: new ort.Tensor('float32', planar, [1, 3, 112, 112]) });
      ms += performance.now() - t0;
      const predicted = (out.age.data as Float32Array)[0];
      err += Math.abs(predicted - e.age); n++;
      const d = Math.min(8, Math.floor(e.age / 10));
      byDecade.set(d, [...(byDecade.get(d) ?? []), predicted - e.age]);
    }
    console.log(JSON.stringify({ model: 'faceapi-age', scale, mae: err / n, n, ms: ms / n }));
    for (const [d, v] of [...byDecade].sort((p, q) => p[0] - q[0])) console.log(`  ${d * 10}s n=${v.length} bias=${(v.reduce((s, x) => s + x, 0) / v.length).toFixed(1)} mae=${(v.reduce((s, x) => s + Math.abs(x), 0) / v.length).toFixed(1)}`);
  }
}
await engine.close();
