import { Calibrator } from './calibration.ts';
import { FaceproofError } from './errors.ts';

/**
 * The threshold of a 1:N search. A stranger is compared with every face of the gallery, so the chance
 * that one of N comparisons passes a threshold of per-comparison FAR f is the false-positive
 * identification rate FPIR = 1 − (1 − f)^N. By default the threshold is chosen so that FPIR equals the
 * configured target: it rises with the gallery's size.
 */
export interface SearchThreshold {
  similarity: number;
  score: number;
  /** Per-comparison false-accept rate at the threshold. */
  far: number;
  galleryFaces: number;
  /** Chance that a person enrolled nowhere in the gallery gets any candidate. */
  expectedFpir: number;
  basis: 'fpir' | 'max_far' | 'min_score';
  /** True when the FAR lies below what the calibration measured and was extrapolated. */
  extrapolated: boolean;
}

export interface ThresholdRequest {
  maxFar?: number;
  minScore?: number;
}

export function fpirOf(far: number, galleryFaces: number): number {
  return -Math.expm1(galleryFaces * Math.log1p(-Math.min(far, 1 - 1e-12)));
}

export function farForFpir(fpir: number, galleryFaces: number): number {
  return galleryFaces <= 1 ? fpir : -Math.expm1(Math.log1p(-fpir) / galleryFaces);
}

export function searchThreshold(calibrator: Calibrator, galleryFaces: number, request: ThresholdRequest, targetFpir: number): SearchThreshold {
  if (request.maxFar !== undefined && request.minScore !== undefined) {
    throw new FaceproofError('invalid_parameter', 'give max_far or min_score, not both', 'max_far');
  }
  const basis = request.maxFar !== undefined ? 'max_far' : request.minScore !== undefined ? 'min_score' : 'fpir';
  const far = basis === 'max_far' ? request.maxFar!
    : basis === 'min_score' ? 10 ** (-request.minScore! * 6)
      : farForFpir(targetFpir, galleryFaces);
  // max_far 1 (or min_score 0) asks for plain ranking: every face is a candidate.
  const { similarity, extrapolated } = far >= 1 ? { similarity: -1, extrapolated: false } : calibrator.similarityAtTail(far);
  return {
    similarity,
    score: Calibrator.score(far),
    far: Number(far.toPrecision(3)),
    galleryFaces,
    expectedFpir: Number(fpirOf(far, galleryFaces).toPrecision(3)),
    basis,
    extrapolated,
  };
}
