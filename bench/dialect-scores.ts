/**
 * Do the vendor dialects' thresholds mean on LFW what their manuals promise?
 *   npm run bench:dialect-scores -- --data ../shared/data [--out docs/bench/dialect-scores.json]
 * Every LFW image's largest face is embedded; every cross-identity pair is an impostor pair. Each
 * pair's similarity is calibrated (Calibrator.farAtTail, as the dialects do) and put on each
 * vendor's scale (src/core/vendor-scores.ts); the false-match rate at each threshold a manual
 * recommends is the share of impostor pairs at or above it (ADVANCE: above), compared with the FAR
 * the manual promises for that threshold. The true-match rate on LFW's same-person pairs is beside it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/config.ts';
import {
  advanceSimilarity, farOfAdvanceSimilarity, farOfIdemiaScore, farOfIdenfaceNormalizedScore, farOfSenseIdScore,
  idemiaScore, idenfaceNormalizedScore, senseIdScore,
} from '../src/core/vendor-scores.ts';
import { embedLfw } from './lib/lfw-embedded.ts';
import { impostorSimilarities, pairSimilarity } from './lib/embed-set.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' } } });
const out = values.out ?? path.join(PROJECT_ROOT, 'docs/bench/dialect-scores.json');
const { config, engine, calibrator, protocol, embedded, byFile, started } = await embedLfw(values.data ?? process.env.FACEPROOF_TEST_DATA);
const impostors = impostorSimilarities(embedded).sort();
const genuine = Float32Array.from(protocol.pairs.filter((p) => p.same).map((p) => pairSimilarity(byFile.get(p.a)!.vector, byFile.get(p.b)!.vector))).sort();
await engine.close();

/** The lowest similarity whose score on a scale reaches `threshold` (scales rise with similarity): bisection. */
function similarityReaching(scale: (far: number) => number, threshold: number, strictly: boolean): number {
  const reaches = (s: number) => (strictly ? scale(calibrator.farAtTail(s)) > threshold : scale(calibrator.farAtTail(s)) >= threshold);
  let lo = -1, hi = 1;
  if (!reaches(hi)) return Number.POSITIVE_INFINITY;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (reaches(mid)) hi = mid; else lo = mid;
  }
  return hi;
}

/** Share of a sorted array at or above `t`. */
function shareFrom(sorted: Float32Array, t: number): { share: number; count: number } {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < t) lo = mid + 1; else hi = mid;
  }
  return { share: (sorted.length - lo) / sorted.length, count: sorted.length - lo };
}

const cases = [
  { dialect: 'IDEMIA', threshold: 3500, note: 'document/selfie', scale: idemiaScore, promised: farOfIdemiaScore(3500), strictly: false },
  { dialect: 'IDEMIA', threshold: 4000, note: 'selfie/selfie', scale: idemiaScore, promised: farOfIdemiaScore(4000), strictly: false },
  { dialect: 'ADVANCE', threshold: 70, note: 'pass (> 70)', scale: advanceSimilarity, promised: farOfAdvanceSimilarity(70), strictly: true },
  { dialect: 'ADVANCE', threshold: 55, note: 'manual check (≥ 55)', scale: advanceSimilarity, promised: farOfAdvanceSimilarity(55), strictly: false },
  { dialect: 'SenseID', threshold: 0.7, note: 'recommended (> 0.7)', scale: senseIdScore, promised: farOfSenseIdScore(0.7), strictly: true },
  { dialect: 'iDenFace', threshold: 0.7, note: 'suggested similarity_threshold', scale: idenfaceNormalizedScore, promised: farOfIdenfaceNormalizedScore(0.7), strictly: false },
];

const rows = cases.map((c) => {
  const similarity = similarityReaching(c.scale, c.threshold, c.strictly);
  const fm = shareFrom(impostors, similarity);
  const tm = shareFrom(genuine, similarity);
  const ratio = fm.share / c.promised;
  return {
    dialect: c.dialect, threshold: c.threshold, note: c.note, promised_far: Number(c.promised.toPrecision(3)),
    similarity: Number(similarity.toFixed(4)), false_matches: fm.count, false_match_rate: Number(fm.share.toPrecision(3)),
    ratio_to_promised: Number(ratio.toFixed(2)), within_factor_2: ratio >= 0.5 && ratio <= 2, true_match_rate: Number(tm.share.toFixed(4)),
  };
});

const report = {
  generated: new Date().toISOString(),
  command: `npm run bench:dialect-scores -- ${process.argv.slice(2).join(' ')}`,
  pipeline: config.pipeline.id,
  images: embedded.length,
  faces_found: embedded.filter((e) => e.vector).length,
  impostor_pairs: impostors.length,
  genuine_pairs: genuine.length,
  seconds: Math.round((Date.now() - started) / 1000),
  rows,
};
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`${report.images} images, ${report.impostor_pairs} impostor pairs, ${report.genuine_pairs} genuine pairs, ${report.seconds} s`);
console.log('dialect   threshold  promised FAR  measured FMR (pairs)   ratio  TMR     similarity');
for (const r of rows) {
  console.log(`${r.dialect.padEnd(9)} ${String(r.threshold).padEnd(10)} ${r.promised_far.toExponential(1).padEnd(13)} ${r.false_match_rate.toExponential(2)} (${r.false_matches})`.padEnd(58) + `${String(r.ratio_to_promised).padEnd(6)} ${r.true_match_rate.toFixed(4)}  ${r.similarity}${r.within_factor_2 ? '' : '  OUTSIDE a factor of 2'}`);
}
console.log(`written ${out}`);
