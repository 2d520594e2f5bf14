import fs from 'node:fs';
import type { LivenessCues } from '../engine/liveness/liveness-cues.ts';

export const SECURITY_LEVELS = ['LOW', 'MEDIUM', 'HIGH'] as const;
export type SecurityLevel = (typeof SECURITY_LEVELS)[number];
/** iDenFace's names for the same three levels. */
export const SECURITY_LEVEL_ALIASES: Record<string, SecurityLevel> = { SOFT: 'LOW', REGULAR: 'MEDIUM', HARDENED: 'HIGH' };

export const LIVENESS_FEATURES = ['model_logit', 'saturation', 'blue_red', 'chroma_blue', 'detail', 'black_level', 'warmth'] as const;

/**
 * The fused presentation-attack score: a logistic model over standardised cues, fitted and
 * calibrated by `npm run bench:liveness -- --fit` (calibration/liveness.json). Thresholds are
 * scores at which each security level accepts a presentation as live.
 */
export interface LivenessModel {
  format: 1;
  built: string;
  command: string;
  features: readonly string[];
  mean: number[];
  std: number[];
  weights: number[];
  bias: number;
  thresholds: Record<SecurityLevel, number>;
  /** What each threshold was chosen for, and on which data. */
  targets: Record<SecurityLevel, string>;
  dataset: string;
}

export function featureVector(c: LivenessCues): number[] {
  const p = Math.min(1 - 1e-6, Math.max(1e-6, c.model));
  return [Math.log(p / (1 - p)), c.saturation, c.blueRed, c.chromaBlue, c.detail, c.blackLevel, c.warmth];
}

/** Probability-like live score 0..1 of one face's cues. */
export function livenessScore(model: LivenessModel, cues: LivenessCues): number {
  const x = featureVector(cues);
  let z = model.bias;
  for (let i = 0; i < x.length; i++) z += model.weights[i] * ((x[i] - model.mean[i]) / model.std[i]);
  return 1 / (1 + Math.exp(-z));
}

export function readLivenessModel(file: string): LivenessModel {
  const model = JSON.parse(fs.readFileSync(file, 'utf8')) as LivenessModel;
  if (model.format !== 1 || model.weights.length !== LIVENESS_FEATURES.length) throw new Error(`${file}: not a liveness model of format 1 with ${LIVENESS_FEATURES.length} features`);
  return model;
}

export function parseSecurityLevel(value: string | undefined, fallback: SecurityLevel): SecurityLevel {
  if (value === undefined) return fallback;
  const upper = value.toUpperCase();
  return (SECURITY_LEVELS as readonly string[]).includes(upper) ? (upper as SecurityLevel) : SECURITY_LEVEL_ALIASES[upper] ?? fallback;
}
