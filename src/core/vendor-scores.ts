/**
 * The score scales of the vendor APIs Faceproof speaks, each a pure function of the calibrated
 * false-accept rate (FAR, a fraction: 1e-4 is 0.01 %). Every scale is linear in log10(FAR) and
 * anchored where its manual says a threshold sits, so a client's threshold keeps the meaning its
 * manual gave it. The inverses give the FAR a client's threshold stands for.
 */

/** A scale linear in log10(FAR): `value` at FAR `at`, rising by `perDecade` per decade lower, clamped. */
interface LogScale {
  at: number;
  value: number;
  perDecade: number;
  min: number;
  max: number;
}

const onScale = (far: number, s: LogScale): number => {
  const v = s.value + s.perDecade * (Math.log10(s.at) - Math.log10(Math.max(far, Number.MIN_VALUE)));
  return Math.min(s.max, Math.max(s.min, v));
};
const farOnScale = (score: number, s: LogScale): number => Math.min(1, 10 ** (Math.log10(s.at) - (score - s.value) / s.perDecade));

/**
 * IDEMIA BioServer: falseAcceptanceRate (in %) = 10^(−(score − 2500) / 500): 2500 ↔ 1 %, 3500 ↔
 * 0.01 %, 4500 ↔ 0.0001 %. Unbounded above (the manual's examples reach 10,000).
 */
const IDEMIA: LogScale = { at: 1e-2, value: 2500, perDecade: 500, min: 0, max: Number.POSITIVE_INFINITY };
export const idemiaScore = (far: number): number => onScale(far, IDEMIA);
/** IDEMIA's falseAcceptanceRate field: the FAR in percent. */
export const idemiaFarPercent = (far: number): number => far * 100;
export const farOfIdemiaScore = (score: number): number => farOnScale(score, IDEMIA);

/** ADVANCE.AI: similarity 0–100; above 70 "pass" (FAR 1e-4), 55–70 "manual check" (down to FAR 1e-2), below 55 "reject". */
const ADVANCE: LogScale = { at: 1e-4, value: 70, perDecade: 7.5, min: 0, max: 100 };
export const advanceSimilarity = (far: number): number => onScale(far, ADVANCE);
export const farOfAdvanceSimilarity = (similarity: number): number => farOnScale(similarity, ADVANCE);

/** SenseID: score 0–1 by the manual's table, 0.4 ↔ 1/10 … 0.7 ↔ 1/10,000 … 0.9 ↔ 1/1,000,000. */
const SENSEID: LogScale = { at: 1e-4, value: 0.7, perDecade: 0.1, min: 0, max: 1 };
export const senseIdScore = (far: number): number => onScale(far, SENSEID);
export const farOfSenseIdScore = (score: number): number => farOnScale(score, SENSEID);

/**
 * iDenFace: `normalized_score` 0–1, whose suggested similarity_threshold 0.7 stands for FAR 1e-4;
 * the manual publishes no table, so each 0.1 is a decade, as SenseID's.
 */
const IDENFACE: LogScale = { at: 1e-4, value: 0.7, perDecade: 0.1, min: 0, max: 1 };
export const idenfaceNormalizedScore = (far: number): number => onScale(far, IDENFACE);
export const farOfIdenfaceNormalizedScore = (score: number): number => farOnScale(score, IDENFACE);
