/**
 * LFW accuracy of the configured pipeline:
 *   npm run bench:accuracy -- --data ../shared/data [--out docs/bench]
 * Protocol accuracy (threshold cross-validated over the folds), AUC, TAR at FAR from every
 * cross-identity pair, the rates of the shipped decisions, calibration error, detection failures,
 * a DET curve and score histograms as SVG.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/config.ts';
import { Calibrator } from '../src/core/calibration.ts';
import { embedLfw } from './lib/lfw-embedded.ts';
import { impostorSimilarities, pairSimilarity } from './lib/embed-set.ts';
import { auc, crossValidatedAccuracy, shareAtOrAbove, thresholdAtFar, type ScoredPair } from './lib/metrics.ts';
import { calibrationPoints } from './lib/calibration-builder.ts';
import { detCurveSvg, histogramSvg } from './lib/svg.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' }, json: { type: 'string' } } });
const outDir = values.out ?? path.join(PROJECT_ROOT, 'docs/bench');
const { config, engine, calibrator, protocol, embedded, byFile, started } = await embedLfw(values.data ?? process.env.FACEPROOF_TEST_DATA);

// A pair with an undetected face counts as a non-match at the lowest possible similarity.
const pairs: ScoredPair[] = protocol.pairs.map((p) => {
  return { fold: p.fold, same: p.same, similarity: pairSimilarity(byFile.get(p.a)!.vector, byFile.get(p.b)!.vector) };
});
const genuine = Float32Array.from(pairs.filter((p) => p.same).map((p) => p.similarity));
const pairImpostors = pairs.filter((p) => !p.same).map((p) => p.similarity);
const impostors = impostorSimilarities(embedded).sort();
const cv = crossValidatedAccuracy(pairs, protocol.folds);
const sortedGenuine = Float32Array.from(genuine).sort();

const tarAt = (far: number) => shareAtOrAbove(sortedGenuine, thresholdAtFar(impostors, far));
const fars = [1e-2, 1e-3, 1e-4, 1e-5];
const tar = Object.fromEntries(fars.map((f) => [String(f), round(tarAt(f), 4)]));

const policy = calibrator.fars('SELFIE', 'SELFIE');
const decisionRates = {
  match: rates(calibrator.similarityAt(policy.matchFar), policy.matchFar),
  uncertain: rates(calibrator.similarityAt(policy.uncertainFar), policy.uncertainFar),
};
function rates(similarity: number, nominalFar: number) {
  return {
    nominal_far: nominalFar,
    similarity: round(similarity, 4),
    true_match_rate: round(shareAtOrAbove(sortedGenuine, similarity), 4),
    false_match_rate: shareAtOrAbove(impostors, similarity),
  };
}
const calibrationCheck = [1e-3, 1e-4].map((far) => {
  const s = calibrator.similarityAt(far);
  const measured = shareAtOrAbove(impostors, s);
  return { nominal_far: far, measured_far: measured, ratio: round(measured / far, 3) };
});

// Held-out check: calibrate on the images of folds 1-3, measure on the disjoint identities of folds 4-5.
const foldOf = new Map<string, number>();
for (const p of protocol.pairs) for (const f of [p.a, p.b]) foldOf.set(f, p.fold);
const inFolds = (set: number[]) => embedded.filter((e) => set.includes(foldOf.get(e.file)!));
const calibrationFolds = [0, 1, 2], heldOutFolds = [3, 4];
const heldCalibrator = new Calibrator({ ...calibrator.table, points: calibrationPoints(impostorSimilarities(inFolds(calibrationFolds)).sort()) }, config.thresholds);
const heldOutImpostors = impostorSimilarities(inFolds(heldOutFolds)).sort();
const heldOut = [1e-3, 1e-4].map((far) => {
  const measured = shareAtOrAbove(heldOutImpostors, heldCalibrator.similarityAt(far));
  return { nominal_far: far, measured_far: measured, ratio: round(measured / far, 3), impostor_pairs: heldOutImpostors.length };
});

const missing = embedded.filter((e) => !e.vector);
const ms = embedded.map((e) => e.ms).sort((a, b) => a - b);
const result = {
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  pipeline: engine.info().pipelineId,
  images: embedded.length,
  pairs: pairs.length,
  impostor_pairs_all: impostors.length,
  face_found_rate: round(1 - missing.length / embedded.length, 5),
  detection_failures: missing.map((m) => m.file),
  accuracy_cv: { mean: round(cv.mean, 4), std: round(cv.std, 4), per_fold: cv.perFold.map((a) => round(a, 4)) },
  auc: round(auc(genuine, pairImpostors), 5),
  auc_all_impostors: round(auc(genuine, impostors), 5),
  tar_at_far: tar,
  shipped_decisions: decisionRates,
  calibration_same_data: calibrationCheck,
  calibration_held_out: heldOut,
  ms_per_image_two_in_flight: { p50: round(ms[Math.floor(ms.length / 2)], 1), p95: round(ms[Math.floor(ms.length * 0.95)], 1) },
  seconds: round((Date.now() - started) / 1000, 1),
};

fs.mkdirSync(outDir, { recursive: true });
const det: Array<{ fmr: number; fnmr: number }> = [];
for (let k = 0; k <= 140; k++) {
  const far = 10 ** (-k / 20);
  if (far * impostors.length < 1) break;
  const t = thresholdAtFar(impostors, far);
  det.push({ fmr: shareAtOrAbove(impostors, t), fnmr: 1 - shareAtOrAbove(sortedGenuine, t) });
}
const markers = [
  { fmr: decisionRates.match.false_match_rate, fnmr: 1 - decisionRates.match.true_match_rate, label: 'match (FAR 1e-4)' },
  { fmr: decisionRates.uncertain.false_match_rate, fnmr: 1 - decisionRates.uncertain.true_match_rate, label: 'uncertain (FAR 1e-2)' },
];
fs.writeFileSync(path.join(outDir, 'lfw-det.svg'), detCurveSvg(det, `LFW DET, ${result.pipeline} (${impostors.length} impostor pairs)`, markers));
fs.writeFileSync(path.join(outDir, 'lfw-histogram.svg'), histogramSvg(genuine, impostors, 'LFW similarity: genuine pairs vs all impostor pairs', [
  { value: decisionRates.match.similarity, label: 'match' },
  { value: decisionRates.uncertain.similarity, label: 'uncertain' },
]));
const json = JSON.stringify(result, null, 2);
fs.writeFileSync(values.json ?? path.join(outDir, 'lfw-accuracy.json'), json + '\n');
console.log(json);

function round(v: number, digits: number) { const f = 10 ** digits; return Math.round(v * f) / f; }
