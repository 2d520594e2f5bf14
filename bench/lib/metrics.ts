export interface ScoredPair {
  fold: number;
  same: boolean;
  similarity: number;
}

/** LFW protocol accuracy: per fold, the threshold that is best on the other folds, tested on this fold. */
export function crossValidatedAccuracy(pairs: ScoredPair[], folds: number): { mean: number; std: number; perFold: number[] } {
  const perFold: number[] = [];
  for (let f = 0; f < folds; f++) {
    const train = pairs.filter((p) => p.fold !== f);
    const test = pairs.filter((p) => p.fold === f);
    const threshold = bestThreshold(train);
    perFold.push(accuracyAt(test, threshold));
  }
  const mean = perFold.reduce((a, b) => a + b, 0) / folds;
  const std = Math.sqrt(perFold.reduce((a, b) => a + (b - mean) ** 2, 0) / folds);
  return { mean, std, perFold };
}

export function accuracyAt(pairs: ScoredPair[], threshold: number): number {
  let right = 0;
  for (const p of pairs) if ((p.similarity >= threshold) === p.same) right++;
  return right / pairs.length;
}

export function bestThreshold(pairs: ScoredPair[]): number {
  const sorted = [...pairs].sort((a, b) => a.similarity - b.similarity);
  // Sweep thresholds between consecutive scores; accept-all start: every same pair right.
  let right = sorted.filter((p) => !p.same).length === 0 ? sorted.length : sorted.filter((p) => p.same).length;
  let best = right;
  let bestT = sorted[0].similarity - 1e-6;
  for (let i = 0; i < sorted.length; i++) {
    right += sorted[i].same ? -1 : 1;
    if (right > best) {
      best = right;
      bestT = i + 1 < sorted.length ? (sorted[i].similarity + sorted[i + 1].similarity) / 2 : sorted[i].similarity + 1e-6;
    }
  }
  return bestT;
}

/** Area under the ROC curve (probability a genuine pair outscores an impostor pair; ties count half). */
export function auc(genuine: ArrayLike<number>, impostor: ArrayLike<number>): number {
  const all: Array<[number, boolean]> = [];
  for (let i = 0; i < genuine.length; i++) all.push([genuine[i], true]);
  for (let i = 0; i < impostor.length; i++) all.push([impostor[i], false]);
  all.sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j][0] === all[i][0]) j++;
    const avgRank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (all[k][1]) rankSum += avgRank;
    i = j;
  }
  const g = genuine.length, n = impostor.length;
  return (rankSum - (g * (g + 1)) / 2) / (g * n);
}

/** The similarity at which a share `far` of the (ascending sorted) impostors score at or above it. */
export function thresholdAtFar(sortedImpostors: Float32Array, far: number): number {
  const n = sortedImpostors.length;
  const k = Math.max(1, Math.floor(far * n));
  return sortedImpostors[n - k];
}

/** Share of `sorted` (ascending) values ≥ t. */
export function shareAtOrAbove(sorted: Float32Array, t: number): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < t) lo = mid + 1; else hi = mid;
  }
  return (sorted.length - lo) / sorted.length;
}
