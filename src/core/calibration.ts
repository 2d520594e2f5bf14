import fs from 'node:fs';
import { FaceproofError } from './errors.ts';

/**
 * A similarity → false-accept-rate table measured on impostor pairs: `points` are
 * [similarity, far] with similarity ascending, far = share of impostor pairs scoring ≥ similarity.
 * `genuine`, when present, is the other side of the DET curve on the same images; tables built
 * before it lack it (still format 1: it is optional and nothing else changed).
 */
export interface CalibrationTable {
  format: 1;
  pipelineId: string;
  templateModelId: string;
  templateVersion: number;
  built: string;
  command: string;
  dataset: { name: string; images: number; identities: number; impostorPairs: number; genuinePairs: number };
  points: Array<[number, number]>;
  genuine?: {
    /** When and how the genuine side was measured: later than the points for a table whose points were kept (`--keep-points`). */
    built: string;
    command: string;
    /** Genuine pairs with an image in which no face was found: non-matches at every threshold. */
    noFace: number;
    /** Per point of `points`: genuine pairs (of dataset.genuinePairs) scoring below its similarity. */
    nonMatches: number[];
  };
}

/** One point of the DET curve: a similarity threshold, its false match rate and false non-match rate. */
export interface DetPoint {
  similarity: number;
  far: number;
  fnmr: number;
}

export const IMAGE_TYPES = ['SELFIE', 'ID_DOCUMENT', 'VIDEO_FRAME'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

export interface DecisionFars {
  /** Highest FAR still decided `match`. */
  matchFar: number;
  /** Highest FAR decided `uncertain`; above it, `no_match`. */
  uncertainFar: number;
}

/** Thresholds by FAR, with optional overrides per image-type pair (key "A+B", names sorted). */
export interface ThresholdPolicy {
  default: DecisionFars;
  pairs: Partial<Record<string, DecisionFars>>;
}

export type Decision = 'match' | 'uncertain' | 'no_match';

export interface Threshold {
  far: number;
  score: number;
  similarity: number;
}

export interface CalibratedScore {
  similarity: number;
  score: number;
  far: number;
  /** The FAR where the table's floor no longer tells similarities apart, from its tail line (see farAtTail); what vendor scales are computed from. */
  tailFar: number;
  decision: Decision;
  /** The score at or above which the decision is `match`. */
  threshold: number;
  thresholds: { match: Threshold; uncertain: Threshold };
}

/** Fewest impostor pairs at or above a similarity for its FAR to count as measured. */
const TAIL_MIN_PAIRS = 100;

/** Decades of FAR spanned by the 0..1 score: score = −log10(FAR) / SCORE_DECADES. */
const SCORE_DECADES = 6;

export function pairKey(a: ImageType, b: ImageType): string {
  return [a, b].sort().join('+');
}

export class Calibrator {
  private readonly sims: number[];
  private readonly logFars: number[];

  constructor(readonly table: CalibrationTable, private readonly policy: ThresholdPolicy) {
    if (table.points.length < 2) throw new Error('calibration table needs at least two points');
    this.sims = table.points.map((p) => p[0]);
    this.logFars = table.points.map((p) => Math.log10(p[1]));
    for (let i = 1; i < this.sims.length; i++) {
      if (!(this.sims[i] > this.sims[i - 1]) || this.logFars[i] > this.logFars[i - 1]) throw new Error('calibration points must be strictly increasing in similarity and non-increasing in FAR');
    }
    const g = table.genuine;
    if (g) {
      const n = table.dataset.genuinePairs;
      const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= n;
      if (!(n > 0) || !count(g.noFace) || !Array.isArray(g.nonMatches) || g.nonMatches.length !== table.points.length) {
        throw new Error('calibration genuine side needs dataset.genuinePairs > 0, noFace and one nonMatches count per point');
      }
      // A higher threshold can only reject more genuine pairs.
      g.nonMatches.forEach((v, i) => { if (!count(v) || (i > 0 && v < g.nonMatches[i - 1])) throw new Error('calibration nonMatches must be counts of at most dataset.genuinePairs, non-decreasing'); });
    }
  }

  static fromFile(file: string, policy: ThresholdPolicy): Calibrator {
    return new Calibrator(JSON.parse(fs.readFileSync(file, 'utf8')) as CalibrationTable, policy);
  }

  /** The smallest FAR the table can tell apart from zero (1 / impostor pairs measured). */
  get farFloor(): number {
    return 10 ** this.logFars[this.logFars.length - 1];
  }

  /** Estimated FAR at a similarity: log-linear interpolation, clamped to the measured range. */
  far(similarity: number): number {
    const { sims, logFars } = this;
    if (similarity <= sims[0]) return 10 ** logFars[0];
    if (similarity >= sims[sims.length - 1]) return 10 ** logFars[logFars.length - 1];
    let lo = 0, hi = sims.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (sims[mid] <= similarity) lo = mid; else hi = mid;
    }
    const t = (similarity - sims[lo]) / (sims[hi] - sims[lo]);
    return 10 ** (logFars[lo] + t * (logFars[hi] - logFars[lo]));
  }

  /**
   * The DET curve at the table's points (FAR and false non-match rate of a threshold at each
   * point's similarity), or undefined for a table built without its genuine side. The FNMR moves in
   * steps of 1 / dataset.genuinePairs: that is its resolution.
   */
  det(): DetPoint[] | undefined {
    const g = this.table.genuine;
    if (!g) return undefined;
    const n = this.table.dataset.genuinePairs;
    return this.table.points.map(([similarity, far], i) => ({ similarity, far, fnmr: g.nonMatches[i] / n }));
  }

  /**
   * Estimated false non-match rate of a threshold at `similarity`: linear between the points around
   * it (so, with `far()` log-linear there, the pair (FAR, FNMR) lies on the DET curve's straight
   * segment in log FAR), clamped to the measured range; undefined without a genuine side.
   */
  fnmr(similarity: number): number | undefined {
    const g = this.table.genuine;
    if (!g) return undefined;
    const { sims } = this;
    const n = this.table.dataset.genuinePairs;
    if (similarity <= sims[0]) return g.nonMatches[0] / n;
    if (similarity >= sims[sims.length - 1]) return g.nonMatches[sims.length - 1] / n;
    let lo = 0, hi = sims.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (sims[mid] <= similarity) lo = mid; else hi = mid;
    }
    const t = (similarity - sims[lo]) / (sims[hi] - sims[lo]);
    return (g.nonMatches[lo] + t * (g.nonMatches[hi] - g.nonMatches[lo])) / n;
  }

  /** The similarity whose estimated FAR equals `far` (the inverse of `far()`). */
  similarityAt(far: number): number {
    const { sims, logFars } = this;
    const target = Math.log10(far);
    if (target >= logFars[0]) return sims[0];
    if (target <= logFars[logFars.length - 1]) return sims[sims.length - 1];
    let i = 1;
    while (logFars[i] > target) i++;
    const t = (target - logFars[i - 1]) / (logFars[i] - logFars[i - 1]);
    return sims[i - 1] + t * (sims[i] - sims[i - 1]);
  }

  /**
   * Like `similarityAt`, but where fewer than TAIL_MIN_PAIRS impostor pairs back the estimate it
   * follows a straight line fitted to log10(FAR) against similarity between FAR 1e-3 and that
   * point. 1:N search at a million faces needs per-comparison FARs (1e-8) that no impostor set of a
   * few million pairs can measure; the measured impostor tail is log-linear down to there, and a
   * straight line overestimates a tail that bends down, so the threshold errs on the safe side.
   */
  similarityAtTail(far: number): { similarity: number; extrapolated: boolean } {
    const measuredDownTo = TAIL_MIN_PAIRS / this.table.dataset.impostorPairs;
    if (far >= measuredDownTo) return { similarity: this.similarityAt(far), extrapolated: false };
    const { intercept, slope } = this.tailLine ??= this.fitTail(measuredDownTo);
    return { similarity: Math.min(1, intercept + slope * Math.log10(far)), extrapolated: true };
  }

  /**
   * Like `far`, but where fewer than TAIL_MIN_PAIRS impostor pairs back the estimate it follows the
   * tail line of `similarityAtTail`, so a FAR keeps falling past the table's floor (vendor scales
   * such as IDEMIA's keep rising there). Never above the table's own estimate.
   */
  farAtTail(similarity: number): number {
    const measured = this.far(similarity);
    const measuredDownTo = TAIL_MIN_PAIRS / this.table.dataset.impostorPairs;
    if (measured > measuredDownTo) return measured;
    let line: { intercept: number; slope: number };
    try {
      line = this.tailLine ??= this.fitTail(measuredDownTo);
    } catch {
      return measured; // a table without a tail to fit keeps its floor
    }
    return Math.min(measured, 10 ** ((similarity - line.intercept) / line.slope));
  }

  private tailLine?: { intercept: number; slope: number };

  private fitTail(measuredDownTo: number): { intercept: number; slope: number } {
    const xs: number[] = [], ys: number[] = [];
    this.logFars.forEach((lf, i) => { if (lf <= -3 && lf >= Math.log10(measuredDownTo)) { xs.push(lf); ys.push(this.sims[i]); } });
    if (xs.length < 2) throw new Error('calibration table has too few points below FAR 1e-3 to extrapolate its tail');
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    let sxy = 0, sxx = 0;
    xs.forEach((x, i) => { sxy += (x - mx) * (ys[i] - my); sxx += (x - mx) ** 2; });
    const slope = sxy / sxx;
    return { intercept: my - slope * mx, slope };
  }

  static score(far: number): number {
    return round4(Math.min(1, Math.max(0, -Math.log10(far) / SCORE_DECADES)));
  }

  fars(source: ImageType, target: ImageType): DecisionFars {
    return this.policy.pairs[pairKey(source, target)] ?? this.policy.default;
  }

  threshold(far: number): Threshold {
    return { far, score: Calibrator.score(far), similarity: round4(this.similarityAt(far)) };
  }

  /** Calibrates one similarity and decides it under the thresholds of the image-type pair. */
  assess(similarity: number, source: ImageType, target: ImageType): CalibratedScore {
    const fars = this.fars(source, target);
    const match = this.threshold(fars.matchFar);
    const uncertain = this.threshold(fars.uncertainFar);
    const far = this.far(similarity);
    const decision: Decision = similarity >= this.similarityAt(fars.matchFar) ? 'match'
      : similarity >= this.similarityAt(fars.uncertainFar) ? 'uncertain' : 'no_match';
    return {
      similarity: round4(similarity),
      score: Calibrator.score(far),
      far: Number(far.toPrecision(3)),
      tailFar: this.farAtTail(similarity),
      decision,
      threshold: match.score,
      thresholds: { match, uncertain },
    };
  }

  /** The published score ↔ FAR ↔ similarity table, one row per decade and half-decade. */
  publishedTable(): Threshold[] {
    const rows: Threshold[] = [];
    for (let e = 1; e <= SCORE_DECADES; e += 0.5) {
      const far = 10 ** -e;
      if (far < this.farFloor) break;
      rows.push(this.threshold(Number(far.toPrecision(3))));
    }
    return rows;
  }
}

/** Parses FACEPROOF_THRESHOLDS-style JSON: {"default": {...}, "ID_DOCUMENT+SELFIE": {...}} with match_far / uncertain_far. */
export function parseThresholdPolicy(json: string | undefined, fallback: DecisionFars): ThresholdPolicy {
  const policy: ThresholdPolicy = { default: fallback, pairs: {} };
  if (!json) return policy;
  const raw = JSON.parse(json) as Record<string, { match_far?: number; uncertain_far?: number }>;
  for (const [key, value] of Object.entries(raw)) {
    const fars: DecisionFars = { matchFar: value.match_far ?? fallback.matchFar, uncertainFar: value.uncertain_far ?? fallback.uncertainFar };
    validateFars(fars, key);
    if (key === 'default') { policy.default = fars; continue; }
    const types = key.split('+');
    if (types.length !== 2 || !types.every((t) => (IMAGE_TYPES as readonly string[]).includes(t))) {
      throw new FaceproofError('invalid_parameter', `threshold key "${key}" must be "default" or two of ${IMAGE_TYPES.join(', ')} joined by "+"`);
    }
    policy.pairs[pairKey(types[0] as ImageType, types[1] as ImageType)] = fars;
  }
  return policy;
}

export function validateFars(fars: DecisionFars, where: string): void {
  const ok = (v: number) => Number.isFinite(v) && v > 0 && v <= 1;
  if (!ok(fars.matchFar) || !ok(fars.uncertainFar) || fars.matchFar > fars.uncertainFar) {
    throw new FaceproofError('invalid_parameter', `thresholds "${where}": need 0 < match_far ≤ uncertain_far ≤ 1`);
  }
}

const round4 = (v: number): number => Math.round(v * 1e4) / 1e4;
