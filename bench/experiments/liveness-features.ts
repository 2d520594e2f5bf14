/**
 * Candidate cues of screen replays on ../shared/data/liveness, per set, with the separation (AUC,
 * live above attack) each reaches; outside the product path:
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
const S = 64, plane = S * S;

/** Energy share of the spectrum's ring of high frequencies, and its peakiness (moiré: isolated peaks). */
function spectrum(y: Float32Array): { high: number; peak: number } {
  const re = new Float64Array(plane), im = new Float64Array(plane);
  // Separable DFT: rows then columns.
  const tr = new Float64Array(plane), ti = new Float64Array(plane);
  for (let r = 0; r < S; r++) for (let k = 0; k < S; k++) {
    let a = 0, b = 0;
    for (let n = 0; n < S; n++) { const w = (-2 * Math.PI * k * n) / S; a += y[r * S + n] * Math.cos(w); b += y[r * S + n] * Math.sin(w); }
    tr[r * S + k] = a; ti[r * S + k] = b;
  }
  for (let c = 0; c < S; c++) for (let k = 0; k < S; k++) {
    let a = 0, b = 0;
    for (let n = 0; n < S; n++) { const w = (-2 * Math.PI * k * n) / S; const xr = tr[n * S + c], xi = ti[n * S + c]; a += xr * Math.cos(w) - xi * Math.sin(w); b += xr * Math.sin(w) + xi * Math.cos(w); }
    re[k * S + c] = a; im[k * S + c] = b;
  }
  let total = 0, high = 0, peak = 0, ringSum = 0, ringN = 0;
  for (let u = 0; u < S; u++) for (let v = 0; v < S; v++) {
    if (u === 0 && v === 0) continue;
    const fu = Math.min(u, S - u), fv = Math.min(v, S - v);
    const r = Math.hypot(fu, fv) / (S / 2);
    const p = Math.log1p(Math.hypot(re[u * S + v], im[u * S + v]));
    total += p;
    if (r > 0.5) { high += p; ringSum += p; ringN++; peak = Math.max(peak, p); }
  }
  return { high: high / total, peak: peak / (ringSum / ringN) };
}

const rows: Array<{ source: string; label: string; f: Record<string, number> }> = [];
for (const e of manifest.filter((x) => x.set === 'liveness')) {
  const image = await loadImage({ kind: 'bytes', data: fs.readFileSync(path.join(data, e.path)) }, config.image, e.path);
  const [face] = await engine.analyze(image, { autoRotate: true });
  if (!face) continue;
  const box = { x: face.box.x / image.scale, y: face.box.y / image.scale, width: face.box.width / image.scale, height: face.box.height / image.scale };
  const p = new Float32Array(3 * plane);
  cropToPlanar(image.rgb, contextRegion(image.rgb, box, 1.0), S, p);
  const Y = new Float32Array(plane);
  const cb: number[] = [], cr: number[] = [];
  for (let i = 0; i < plane; i++) {
    const r = p[i], g = p[plane + i], b = p[2 * plane + i];
    Y[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    cb.push(128 - 0.168736 * r - 0.331264 * g + 0.5 * b); cr.push(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
  }
  const ys = [...Y].sort((a, b) => a - b);
  const q = (a: number[], t: number) => a[Math.floor(t * (a.length - 1))];
  const sp = spectrum(Y);
  const cbs = [...cb].sort((a, b) => a - b), crs = [...cr].sort((a, b) => a - b);
  // Native-resolution detail: the face box at its own pixel size, Laplacian energy per pixel.
  const nat = image.rgb; let lap = 0, n = 0;
  for (let yy = Math.max(1, Math.floor(box.y)); yy < Math.min(nat.height - 1, box.y + box.height); yy++) for (let xx = Math.max(1, Math.floor(box.x)); xx < Math.min(nat.width - 1, box.x + box.width); xx++) {
    const l = (o: number) => 0.299 * nat.data[o] + 0.587 * nat.data[o + 1] + 0.114 * nat.data[o + 2];
    const o = (yy * nat.width + xx) * 3;
    lap += Math.abs(4 * l(o) - l(o - 3) - l(o + 3) - l(o - nat.width * 3) - l(o + nat.width * 3)); n++;
  }
  rows.push({ source: e.source, label: e.label, f: {
    lumaP1: q(ys, 0.01), lumaP99: q(ys, 0.99), range: q(ys, 0.99) - q(ys, 0.01), cbIqr: q(cbs, 0.75) - q(cbs, 0.25), crIqr: q(crs, 0.75) - q(crs, 0.25),
    crMinusCb: (crs[crs.length >> 1] - cbs[cbs.length >> 1]), specHigh: sp.high, specPeak: sp.peak, nativeLap: lap / n,
  } });
}
const auc = (pos: number[], neg: number[]) => { let s = 0; for (const a of pos) for (const b of neg) s += a > b ? 1 : a === b ? 0.5 : 0; return s / (pos.length * neg.length); };
for (const key of Object.keys(rows[0].f)) {
  const line = [...new Set(rows.map((r) => r.source))].map((source) => {
    const v = (label: string) => rows.filter((r) => r.source === source && r.label === label).map((r) => r.f[key]);
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
    return `${source.slice(-6)} ${med(v('real')).toFixed(3)}/${med(v('spoof')).toFixed(3)} AUC ${auc(v('real'), v('spoof')).toFixed(3)}`;
  });
  console.log(key.padEnd(10), line.join(' | '));
}
await engine.close();
