/**
 * Hand-made colour and texture cues of screen replays on ../shared/data/liveness, per set, with the
 * separation (AUC) each reaches; outside the product path:
 *   npx tsx bench/experiments/liveness-features.ts --data ../shared/data
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config.ts';
import { FaceEngine } from '../../src/engine/face-engine.ts';
import { loadImage } from '../../src/core/image-input.ts';
import { contextRegion, cropToPlanar } from '../../src/engine/crop/box-crop.ts';

const { values } = parseArgs({ options: { data: { type: 'string' } } });
const data = values.data ?? '../shared/data';
const manifest = JSON.parse(fs.readFileSync(path.join(data, 'manifest.json'), 'utf8')) as Array<Record<string, any>>;
const config = loadConfig();
const engine = await FaceEngine.load(config.pipeline, config.threads);
const S = 128, plane = S * S;
const rows: Array<{ source: string; label: string; f: Record<string, number> }> = [];
for (const e of manifest.filter((x) => x.set === 'liveness')) {
  const image = await loadImage({ kind: 'bytes', data: fs.readFileSync(path.join(data, e.path)) }, config.image, e.path);
  const [face] = await engine.analyze(image, { autoRotate: true });
  if (!face) continue;
  const box = { x: face.box.x / image.scale, y: face.box.y / image.scale, width: face.box.width / image.scale, height: face.box.height / image.scale };
  const p = new Float32Array(3 * plane);
  cropToPlanar(image.rgb, contextRegion(image.rgb, box, 1.0), S, p);
  let sat = 0, cb = 0, cr = 0, cb2 = 0, cr2 = 0, br = 0, y1 = 0, y2 = 0;
  const Y = new Float32Array(plane);
  for (let i = 0; i < plane; i++) {
    const r = p[i], g = p[plane + i], b = p[2 * plane + i];
    const mx = Math.max(r, g, b), mn = Math.min(r, g, b);
    sat += mx > 0 ? (mx - mn) / mx : 0;
    const yy = 0.299 * r + 0.587 * g + 0.114 * b; Y[i] = yy; y1 += yy; y2 += yy * yy;
    const cbv = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b, crv = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
    cb += cbv; cr += crv; cb2 += cbv * cbv; cr2 += crv * crv; br += b / Math.max(1, r);
  }
  let lap = 0, lap2 = 0, n = 0;
  for (let y = 1; y < S - 1; y++) for (let x = 1; x < S - 1; x++) {
    const i = y * S + x; const l = 4 * Y[i] - Y[i - 1] - Y[i + 1] - Y[i - S] - Y[i + S];
    lap += l; lap2 += l * l; n++;
  }
  const yv = y2 / plane - (y1 / plane) ** 2;
  rows.push({ source: e.source, label: e.label, f: {
    saturation: sat / plane, cb: cb / plane, cr: cr / plane, cbStd: Math.sqrt(cb2 / plane - (cb / plane) ** 2), crStd: Math.sqrt(cr2 / plane - (cr / plane) ** 2),
    blueRed: br / plane, lumaStd: Math.sqrt(yv), highFreq: Math.sqrt(lap2 / n - (lap / n) ** 2) / Math.sqrt(yv), faceSide: box.width,
  } });
}
const auc = (pos: number[], neg: number[]) => { let s = 0; for (const a of pos) for (const b of neg) s += a > b ? 1 : a === b ? 0.5 : 0; return s / (pos.length * neg.length); };
for (const key of Object.keys(rows[0].f)) {
  const line = [...new Set(rows.map((r) => r.source))].map((source) => {
    const v = (label: string) => rows.filter((r) => r.source === source && r.label === label).map((r) => r.f[key]);
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
    return `${source.slice(-10)} real ${med(v('real')).toFixed(3)} spoof ${med(v('spoof')).toFixed(3)} AUC(real>spoof) ${auc(v('real'), v('spoof')).toFixed(3)}`;
  });
  console.log(key.padEnd(11), line.join(' | '));
}
await engine.close();
