/**
 * Probe of Human's antispoof (128²) and liveness (32²) graph models on ../shared/data/liveness, run by
 * tfjs (wasm), outside the product path:
 *   HUMAN_MODELS=/tmp/hm/package/models npx tsx bench/experiments/human-liveness-probe.ts --data ../shared/data
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadConfig } from '../../src/config.ts';
import { FaceEngine } from '../../src/engine/face-engine.ts';
import { loadImage } from '../../src/core/image-input.ts';
import { contextRegion, cropToPlanar } from '../../src/engine/crop/box-crop.ts';

const { values } = parseArgs({ options: { data: { type: 'string' } } });
const data = values.data ?? '../shared/data';
const dir = process.env.HUMAN_MODELS ?? '/tmp/hm/package/models';
await tf.setBackend('wasm');
const io = (name: string) => tf.io.fromMemory(JSON.parse(fs.readFileSync(path.join(dir, name + '.json'), 'utf8')).modelTopology, (JSON.parse(fs.readFileSync(path.join(dir, name + '.json'), 'utf8')).weightsManifest[0].weights), new Uint8Array(fs.readFileSync(path.join(dir, name + '.bin'))).buffer);
const models = { antispoof: await tf.loadGraphModel(io('antispoof')), liveness: await tf.loadGraphModel(io('liveness')) };
const manifest = JSON.parse(fs.readFileSync(path.join(data, 'manifest.json'), 'utf8')) as Array<Record<string, any>>;
const config = loadConfig();
const engine = await FaceEngine.load(config.pipeline, config.threads);
const scales = [1.0, 1.3, 1.6];
const rows: Array<{ source: string; label: string; s: Record<string, number> }> = [];
for (const e of manifest.filter((x) => x.set === 'liveness')) {
  const image = await loadImage({ kind: 'bytes', data: fs.readFileSync(path.join(data, e.path)) }, config.image, e.path);
  const [f] = await engine.analyze(image, { autoRotate: true });
  if (!f) continue;
  const s: Record<string, number> = {};
  for (const scale of scales) for (const [name, size] of [['antispoof', 128], ['liveness', 32]] as const) {
    const planar = new Float32Array(3 * size * size);
    const box = { x: f.box.x / image.scale, y: f.box.y / image.scale, width: f.box.width / image.scale, height: f.box.height / image.scale };
    cropToPlanar(image.rgb, contextRegion(image.rgb, box, scale), size, planar);
    const hwc = new Float32Array(planar.length);
    const plane = size * size;
    for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) hwc[i * 3 + c] = planar[c * plane + i] / 255;
    const out = models[name].execute(tf.tensor4d(hwc, [1, size, size, 3])) as tf.Tensor;
    s[`${name}@${scale}`] = (await out.data())[0];
    out.dispose();
  }
  rows.push({ source: e.source, label: e.label, s });
}
for (const key of Object.keys(rows[0].s)) {
  for (const source of new Set(rows.map((r) => r.source))) {
    const q = (label: string) => { const v = rows.filter((r) => r.source === source && r.label === label).map((r) => r.s[key]).sort((a, b) => a - b); return [0.1, 0.5, 0.9].map((p) => v[Math.floor(p * (v.length - 1))]?.toFixed(3)).join('/'); };
    console.log(key.padEnd(16), source.padEnd(34), 'real', q('real'), 'spoof', q('spoof'));
  }
}
await engine.close();
