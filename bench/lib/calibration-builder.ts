import { thresholdAtFar } from './metrics.ts';

/**
 * Table points [similarity, far] from ascending-sorted impostor similarities: twenty per decade of FAR,
 * from 1 down to the smallest measurable rate, 1 / number of impostor pairs.
 */
export function calibrationPoints(sortedImpostors: Float32Array): Array<[number, number]> {
  const n = sortedImpostors.length;
  const points: Array<[number, number]> = [[round6(sortedImpostors[0]), 1]];
  for (let k = 1; ; k++) {
    const far = 10 ** (-k / 20);
    if (far * n < 1) break;
    const sim = round6(thresholdAtFar(sortedImpostors, far));
    const prev = points[points.length - 1];
    if (sim > prev[0]) points.push([sim, Number(far.toPrecision(4))]);
  }
  const floor = 1 / n;
  const top = round6(sortedImpostors[n - 1]);
  if (top > points[points.length - 1][0] && floor < points[points.length - 1][1]) points.push([top, Number(floor.toPrecision(4))]);
  return points;
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/**
 * The genuine side of the DET curve at the table's points: per point, how many genuine pairs score
 * below its similarity (a threshold there rejects them; the product accepts similarity ≥ threshold).
 * Counts, not rates, so the resolution (one pair in however many were measured) stays visible.
 */
export function genuineNonMatches(sortedGenuine: Float32Array, points: Array<[number, number]>): number[] {
  return points.map(([similarity]) => {
    let lo = 0, hi = sortedGenuine.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sortedGenuine[mid] < similarity) lo = mid + 1; else hi = mid;
    }
    return lo;
  });
}
