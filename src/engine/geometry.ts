export type Point = [number, number];

/**
 * Least-squares similarity transform (rotation, uniform scale, translation) taking `from` onto `to`
 * (Umeyama 1991, without reflection). Returns the row-major 2×3 matrix.
 */
export function similarityTransform(from: readonly Point[], to: readonly Point[]): [number, number, number, number, number, number] {
  const n = from.length;
  if (n !== to.length || n < 2) throw new Error('similarityTransform needs two equal-length point lists of at least 2 points');
  let mfx = 0, mfy = 0, mtx = 0, mty = 0;
  for (let i = 0; i < n; i++) {
    mfx += from[i][0]; mfy += from[i][1]; mtx += to[i][0]; mty += to[i][1];
  }
  mfx /= n; mfy /= n; mtx /= n; mty /= n;
  // With centred points, the optimal [a −b; b a] solves a = Σ(fx·tx + fy·ty)/Σ|f|², b = Σ(fx·ty − fy·tx)/Σ|f|².
  let num_a = 0, num_b = 0, den = 0;
  for (let i = 0; i < n; i++) {
    const fx = from[i][0] - mfx, fy = from[i][1] - mfy;
    const tx = to[i][0] - mtx, ty = to[i][1] - mty;
    num_a += fx * tx + fy * ty;
    num_b += fx * ty - fy * tx;
    den += fx * fx + fy * fy;
  }
  if (den < 1e-12) throw new Error('similarityTransform: degenerate source points');
  const a = num_a / den;
  const b = num_b / den;
  return [a, -b, mtx - (a * mfx - b * mfy), b, a, mty - (b * mfx + a * mfy)];
}

export function mean(points: readonly Point[]): Point {
  let x = 0, y = 0;
  for (const p of points) { x += p[0]; y += p[1]; }
  return [x / points.length, y / points.length];
}

export function distance(a: Point, b: Point): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}
