import type { RgbImage } from '../image/raster.ts';

export type Pt = [number, number];

/** Row-major 3×3 projective map, h[8] = 1. */
export type Homography = [number, number, number, number, number, number, number, number, number];

/** The homography taking each `from[i]` to `to[i]` (four points, no three collinear). */
export function homography(from: readonly Pt[], to: readonly Pt[]): Homography {
  // Eight equations in h0..h7: x' (h6 x + h7 y + 1) = h0 x + h1 y + h2, likewise for y'
  const a: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = from[i];
    const [u, v] = to[i];
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  const h = solve(a);
  return [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1];
}

/** Gaussian elimination with partial pivoting on an n×(n+1) augmented matrix. */
function solve(m: number[][]): number[] {
  const n = m.length;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    if (Math.abs(m[p][c]) < 1e-12) throw new Error('homography: degenerate points');
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}

export function applyHomography(h: Homography, x: number, y: number): Pt {
  const w = h[6] * x + h[7] * y + h[8];
  return [(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w];
}

/**
 * The quadrilateral `quad` (clockwise from top-left) of `src` resampled into an upright
 * width × height image, bilinearly; outside the source is white (a page's background).
 */
export function warpQuad(src: RgbImage, quad: readonly Pt[], width: number, height: number): RgbImage {
  const h = homography([[0, 0], [width, 0], [width, height], [0, height]], quad);
  const out = new Uint8Array(width * height * 3);
  const { width: sw, height: sh, data } = src;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [fx, fy] = applyHomography(h, x + 0.5, y + 0.5);
      const px = fx - 0.5, py = fy - 0.5;
      const o = (y * width + x) * 3;
      if (px < -0.5 || py < -0.5 || px > sw - 0.5 || py > sh - 0.5) {
        out[o] = out[o + 1] = out[o + 2] = 255;
        continue;
      }
      const x0 = Math.max(0, Math.min(sw - 1, Math.floor(px)));
      const y0 = Math.max(0, Math.min(sh - 1, Math.floor(py)));
      const x1 = Math.min(sw - 1, x0 + 1);
      const y1 = Math.min(sh - 1, y0 + 1);
      const ax = Math.max(0, Math.min(1, px - x0));
      const ay = Math.max(0, Math.min(1, py - y0));
      for (let c = 0; c < 3; c++) {
        const p00 = data[(y0 * sw + x0) * 3 + c], p01 = data[(y0 * sw + x1) * 3 + c];
        const p10 = data[(y1 * sw + x0) * 3 + c], p11 = data[(y1 * sw + x1) * 3 + c];
        out[o + c] = Math.round((p00 * (1 - ax) + p01 * ax) * (1 - ay) + (p10 * (1 - ax) + p11 * ax) * ay);
      }
    }
  }
  return { width, height, data: out };
}
