/**
 * Age estimation on the UTKFace crops of ../shared/data/age:
 *   npm run bench:age -- --data ../shared/data [--every 1]
 * The product path (largest face, face-api AgeGenderNet with flip averaging), one inference thread.
 * Reports mean absolute error overall, by decade, gender and race, and latency per face.
 * Writes docs/bench/age.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, PROJECT_ROOT } from '../src/config.ts';
import { FaceEngine } from '../src/engine/face-engine.ts';
import { loadImage } from '../src/core/image-input.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, every: { type: 'string' }, out: { type: 'string' } } });
const dataDir = values.data ?? process.env.FACEPROOF_TEST_DATA;
if (!dataDir) throw new Error('give the evaluation data folder with --data DIR (or FACEPROOF_TEST_DATA)');
const every = Number(values.every ?? 1);
const manifest = JSON.parse(fs.readFileSync(path.join(dataDir, 'manifest.json'), 'utf8')) as Array<{ set: string; path: string; age: number; gender: string; race: string }>;
const items = manifest.filter((m) => m.set === 'age').filter((_, i) => i % every === 0);
const config = loadConfig();
const engine = await FaceEngine.load(config.pipeline, { intraOp: 1, workers: 1 });

const rows: Array<{ age: number; predicted: number; gender: string; race: string }> = [];
const ms: number[] = [];
let noFace = 0;
for (const e of items) {
  const image = await loadImage({ kind: 'bytes', data: fs.readFileSync(path.join(dataDir, e.path)) }, config.image, e.path);
  const [face] = await engine.analyze(image, { autoRotate: false });
  if (!face) { noFace++; continue; }
  const t0 = performance.now();
  const predicted = await engine.estimateAge(image, face);
  ms.push(performance.now() - t0);
  rows.push({ age: e.age, predicted, gender: e.gender, race: e.race });
}
await engine.close();

const round = (v: number, d = 2) => Number(v.toFixed(d));
const summary = (r: typeof rows) => ({ n: r.length, mae: round(r.reduce((s, x) => s + Math.abs(x.predicted - x.age), 0) / r.length), bias: round(r.reduce((s, x) => s + x.predicted - x.age, 0) / r.length) });
const groupBy = (key: (r: (typeof rows)[number]) => string) => Object.fromEntries([...new Set(rows.map(key))].sort().map((k) => [k, summary(rows.filter((r) => key(r) === k))]));
ms.sort((a, b) => a - b);
const report = {
  command: `npm run bench:age -- --data ../shared/data${every > 1 ? ` --every ${every}` : ''}`,
  date: new Date().toISOString().slice(0, 10),
  images: items.length, no_face: noFace,
  overall: summary(rows),
  // UTKFace here is 30 % children, whom the model gets within 2 years: adults alone are harder.
  adults_18_plus: summary(rows.filter((r) => r.age >= 18)),
  by_decade: groupBy((r) => `${String(Math.min(80, Math.floor(r.age / 10) * 10)).padStart(2, '0')}s`),
  by_gender: groupBy((r) => r.gender),
  by_race: groupBy((r) => r.race),
  within_5_years_pct: round((100 * rows.filter((r) => Math.abs(r.predicted - r.age) <= 5).length) / rows.length, 1),
  latency_ms_one_thread_per_face: { p50: round(ms[ms.length >> 1], 1), p95: round(ms[Math.floor(ms.length * 0.95)], 1) },
};
fs.writeFileSync(values.out ?? path.join(PROJECT_ROOT, 'docs/bench/age.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 1));
