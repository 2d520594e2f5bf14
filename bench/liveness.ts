/**
 * Presentation-attack detection on ../shared/data/liveness:
 *   npm run bench:liveness -- --data ../shared/data [--fit]
 * Per image: the largest face's cues (faceplugin's fr_liveness CNN, colour and detail), then the
 * fused logistic score. Reports, per person's set, APCER and BPCER at each security level twice:
 * in-sample (the shipped model, fitted on all sets) and leave-one-set-out (fitted and thresholded
 * without the set it is tested on: the honest estimate for a person never seen). Writes the full
 * trade-off curve to docs/bench/liveness.json; with --fit, rewrites calibration/liveness.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, PROJECT_ROOT } from '../src/config.ts';
import { FaceEngine } from '../src/engine/face-engine.ts';
import { loadImage } from '../src/core/image-input.ts';
import { featureVector, LIVENESS_FEATURES, SECURITY_LEVELS, type LivenessModel, type SecurityLevel } from '../src/core/liveness-model.ts';
import { fitLogistic, predictLogistic, type LogisticFit } from './lib/logistic.ts';
import sharp from 'sharp';
import { encodeClip } from './lib/video-clip.ts';
import { createServices } from '../src/bootstrap.ts';
import { freshDataFolder } from './lib/fresh-data.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, fit: { type: 'boolean' }, out: { type: 'string' } } });
const dataDir = values.data ?? process.env.FACEPROOF_TEST_DATA;
if (!dataDir) throw new Error('give the evaluation data folder with --data DIR (or FACEPROOF_TEST_DATA)');
const manifest = JSON.parse(fs.readFileSync(path.join(dataDir, 'manifest.json'), 'utf8')) as Array<{ set: string; source: string; path: string; label: string }>;
const config = loadConfig();
const engine = await FaceEngine.load(config.pipeline, { intraOp: 1, workers: 1 });

interface Sample { source: string; live: number; x: number[]; cueMs: number; analyseMs: number }
const samples: Sample[] = [];
let noFace = 0;
for (const e of manifest.filter((m) => m.set === 'liveness')) {
  const image = await loadImage({ kind: 'bytes', data: fs.readFileSync(path.join(dataDir, e.path)) }, config.image, e.path);
  const t0 = performance.now();
  const [face] = await engine.analyze(image, { autoRotate: true });
  const t1 = performance.now();
  if (!face) { noFace++; continue; }
  const cues = await engine.livenessCues(image, face);
  samples.push({ source: e.source, live: e.label === 'real' ? 1 : 0, x: featureVector(cues), cueMs: performance.now() - t1, analyseMs: t1 - t0 });
}
await engine.close();

// Video: the first person's consecutive real webcam frames, encoded by ffmpeg at 10 frames a second,
// through the product path (decode, sample at the configured rate, analyse, fuse).
const videoFrames = manifest.filter((m) => m.source === 'pyimagesearch_style_apfol' && m.label === 'real')
  .sort((a, b) => parseInt(path.basename(a.path)) - parseInt(path.basename(b.path))).slice(0, 60).map((m) => fs.readFileSync(path.join(dataDir, m.path)));
const evenFrames = await Promise.all(videoFrames.map((f) => sharp(f).resize(300, 400, { fit: 'fill' }).jpeg({ quality: 92 }).toBuffer()));
const clip = await encodeClip(evenFrames, 10);
const scratch = freshDataFolder('bench-liveness');
const services = await createServices(scratch.config, { mode: 'tool' });
const v0 = performance.now();
const videoResult = await services.liveness.checkVideo({ bytes: clip }, 'default', { securityLevel: 'MEDIUM', returnBestFrame: false });
const videoSeconds = (performance.now() - v0) / 1000;
await services.close();
scratch.remove();

const sets = [...new Set(samples.map((s) => s.source))];
const personSets = sets.filter((s) => samples.filter((x) => x.source === s).length >= 50);

/**
 * Thresholds chosen on `scored`, judged set by set (the targets hold per person): LOW keeps BPCER
 * ≤ 2 % on every set, MEDIUM minimises the worst set's larger error, HIGH keeps APCER ≤ 1 % on every set.
 */
function chooseThresholds(scored: Array<{ source: string; live: number; score: number }>): Record<SecurityLevel, number> {
  const grid = Array.from({ length: 1001 }, (_, i) => i / 1000);
  const groups = [...new Set(scored.map((s) => s.source))].map((set) => scored.filter((s) => s.source === set)).filter((g) => g.length >= 50);
  const worst = (t: number) => groups.map((g) => errorRates(g, t)).reduce((a, b) => ({ apcer: Math.max(a.apcer, b.apcer), bpcer: Math.max(a.bpcer, b.bpcer) }));
  const rates = grid.map((t) => ({ t, ...worst(t) }));
  const low = [...rates].reverse().find((r) => r.bpcer <= 0.02)?.t ?? 0;
  const medium = rates.reduce((best, r) => (Math.max(r.apcer, r.bpcer) < Math.max(best.apcer, best.bpcer) ? r : best)).t;
  const high = rates.find((r) => r.apcer <= 0.01)?.t ?? 1;
  return { LOW: Math.min(low, medium), MEDIUM: medium, HIGH: Math.max(high, medium) };
}

function errorRates(scored: Array<{ live: number; score: number }>, t: number): { apcer: number; bpcer: number } {
  const attacks = scored.filter((s) => s.live === 0), bonafide = scored.filter((s) => s.live === 1);
  return {
    apcer: attacks.filter((s) => s.score >= t).length / Math.max(1, attacks.length),
    bpcer: bonafide.filter((s) => s.score < t).length / Math.max(1, bonafide.length),
  };
}

const round = (v: number, d = 4) => Number(v.toFixed(d));
const score = (fit: LogisticFit, s: Sample) => ({ source: s.source, live: s.live, score: predictLogistic(fit, s.x) });

// In-sample: the shipped model.
const full = fitLogistic(samples.map((s) => s.x), samples.map((s) => s.live));
const fullScored = samples.map((s) => score(full, s));
const thresholds = chooseThresholds(fullScored);
const inSample = Object.fromEntries(sets.map((set) => [set, Object.fromEntries(SECURITY_LEVELS.map((level) => {
  const r = errorRates(fullScored.filter((s) => s.source === set), thresholds[level]);
  return [level, { apcer: round(r.apcer), bpcer: round(r.bpcer) }];
}))]));

// Leave one person's set out: fit and threshold on the rest, test on it.
const leaveOneOut = Object.fromEntries(personSets.map((held) => {
  const train = samples.filter((s) => s.source !== held);
  const fit = fitLogistic(train.map((s) => s.x), train.map((s) => s.live));
  const t = chooseThresholds(train.map((s) => score(fit, s)));
  const test = samples.filter((s) => s.source === held).map((s) => score(fit, s));
  return [held, Object.fromEntries(SECURITY_LEVELS.map((level) => {
    const r = errorRates(test, t[level]);
    return [level, { threshold: round(t[level], 3), apcer: round(r.apcer), bpcer: round(r.bpcer) }];
  }))];
}));

const curve = Array.from({ length: 51 }, (_, i) => i / 50).map((t) => ({
  threshold: t,
  ...Object.fromEntries(sets.map((set) => [set, Object.fromEntries(Object.entries(errorRates(fullScored.filter((s) => s.source === set), t)).map(([k, v]) => [k, round(v)]))])),
  pooled: Object.fromEntries(Object.entries(errorRates(fullScored, t)).map(([k, v]) => [k, round(v)])),
}));
const auc = (rows: Array<{ live: number; score: number }>) => {
  const pos = rows.filter((r) => r.live === 1).map((r) => r.score), neg = rows.filter((r) => r.live === 0).map((r) => r.score);
  let s = 0;
  for (const a of pos) for (const b of neg) s += a > b ? 1 : a === b ? 0.5 : 0;
  return round(s / (pos.length * neg.length));
};
const featureAuc = Object.fromEntries(LIVENESS_FEATURES.map((f, j) => [f, Object.fromEntries(sets.map((set) => [set, auc(samples.filter((s) => s.source === set).map((s) => ({ live: s.live, score: s.x[j] })))]))]));
const ms = (key: 'cueMs' | 'analyseMs') => { const v = samples.map((s) => s[key]).sort((a, b) => a - b); return { p50: round(v[v.length >> 1], 1), p95: round(v[Math.floor(v.length * 0.95)], 1) }; };

const report = {
  command: 'npm run bench:liveness -- --data ../shared/data' + (values.fit ? ' --fit' : ''),
  date: new Date().toISOString().slice(0, 10),
  images: samples.length + noFace, no_face: noFace,
  per_set: Object.fromEntries(sets.map((set) => [set, { bona_fide: samples.filter((s) => s.source === set && s.live).length, attacks: samples.filter((s) => s.source === set && !s.live).length, auc_in_sample: auc(fullScored.filter((s) => s.source === set)) }])),
  thresholds: Object.fromEntries(Object.entries(thresholds).map(([k, v]) => [k, round(v, 3)])),
  in_sample: inSample,
  leave_one_set_out: leaveOneOut,
  feature_auc_live_above_attack: featureAuc,
  latency_ms_one_thread: { detect_and_landmarks: ms('analyseMs'), liveness_cues: ms('cueMs') },
  video: {
    clip: `${videoFrames.length} real frames of pyimagesearch_style_apfol at 10 fps (${(videoFrames.length / 10).toFixed(1)} s, 300×400 H.264)`,
    sampled_frames: videoResult.video?.framesSampled, wall_seconds: round(videoSeconds, 2),
    frames_per_second: round((videoResult.video?.framesSampled ?? 0) / videoSeconds, 1),
    is_live: videoResult.isLive, score: videoResult.score, same_identity: videoResult.video?.sameIdentity, blinks: videoResult.video?.blinks,
  },
  curve,
};
const out = values.out ?? path.join(PROJECT_ROOT, 'docs/bench/liveness.json');
fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
const { curve: _c, ...summary } = report;
console.log(JSON.stringify(summary, null, 1));

if (values.fit) {
  const model: LivenessModel = {
    format: 1,
    built: report.date,
    command: 'npm run bench:liveness -- --data ../shared/data --fit',
    features: LIVENESS_FEATURES,
    mean: full.mean.map((v) => round(v, 6)), std: full.std.map((v) => round(v, 6)), weights: full.weights.map((v) => round(v, 6)), bias: round(full.bias, 6),
    thresholds: report.thresholds as Record<SecurityLevel, number>,
    targets: { LOW: 'BPCER <= 2 % on every set', MEDIUM: 'smallest worst-set error (APCER or BPCER)', HIGH: 'APCER <= 1 % on every set' },
    dataset: `../shared/data/liveness: ${samples.length} faces, ${sets.join(', ')} (screen replays; tight crops)`,
  };
  fs.writeFileSync(path.join(PROJECT_ROOT, 'calibration/liveness.json'), JSON.stringify(model, null, 2) + '\n');
  console.log('wrote calibration/liveness.json');
}
