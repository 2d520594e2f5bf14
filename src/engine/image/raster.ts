/** An 8-bit RGB image in row-major interleaved order: the one pixel format the engine works on. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export function createRgbImage(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3) };
}

/** Rotates clockwise by a multiple of 90°; used by auto-rotation when no face is found upright. */
export function rotateRgb(image: RgbImage, quarterTurns: 0 | 1 | 2 | 3): RgbImage {
  if (quarterTurns === 0) return image;
  const { width: w, height: h, data } = image;
  const swap = quarterTurns % 2 === 1;
  const out = createRgbImage(swap ? h : w, swap ? w : h);
  const ow = out.width;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let nx: number;
      let ny: number;
      if (quarterTurns === 1) { nx = h - 1 - y; ny = x; }
      else if (quarterTurns === 2) { nx = w - 1 - x; ny = h - 1 - y; }
      else { nx = y; ny = w - 1 - x; }
      const src = (y * w + x) * 3;
      const dst = (ny * ow + nx) * 3;
      out.data[dst] = data[src];
      out.data[dst + 1] = data[src + 1];
      out.data[dst + 2] = data[src + 2];
    }
  }
  return out;
}

/** Maps a point of the rotated image back into the original image's coordinates. */
export function unrotatePoint(x: number, y: number, quarterTurns: 0 | 1 | 2 | 3, original: { width: number; height: number }): [number, number] {
  const { width: w, height: h } = original;
  switch (quarterTurns) {
    case 0: return [x, y];
    case 1: return [y, h - 1 - x];
    case 2: return [w - 1 - x, h - 1 - y];
    case 3: return [w - 1 - y, x];
  }
}

export interface WarpOptions {
  /** Index in `out` where the first plane starts (several chips can share one batch buffer). */
  offset?: number;
  channelOrder?: 'rgb' | 'bgr';
  /** Mirror the output horizontally (flip test-time augmentation). */
  flip?: boolean;
  /** Outside the source: black, as dlib's and OpenCV's chip extraction; or the nearest edge pixel, as a plain resize. */
  border?: 'zero' | 'clamp';
}

/**
 * Fills `out` (planar CHW float, 3 × outW × outH, values 0..255) by sampling `image` bilinearly
 * through an affine map from output pixel (u, v) to source (x, y) = (a·u + b·v + c, d·u + e·v + f).
 * The one resampler of the engine: detector inputs, landmark crops and aligned chips all use it.
 */
export function warpAffineToPlanar(
  image: RgbImage,
  inverse: AffineMatrix,
  outW: number,
  outH: number,
  out: Float32Array,
  { offset = 0, channelOrder = 'rgb', flip = false, border = 'zero' }: WarpOptions = {},
): void {
  const { width: w, height: h, data } = image;
  const [a, b, c, d, e, f] = inverse;
  const plane = outW * outH;
  const redPlane = channelOrder === 'rgb' ? 0 : 2 * plane;
  const bluePlane = channelOrder === 'rgb' ? 2 * plane : 0;
  const clamp = border === 'clamp';
  for (let v = 0; v < outH; v++) {
    for (let u = 0; u < outW; u++) {
      const su = flip ? outW - 1 - u : u;
      const x = a * su + b * v + c;
      const y = d * su + e * v + f;
      const idx = offset + v * outW + u;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      let r = 0, g = 0, bl = 0;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
        // Inside the image (nearly every pixel): the four neighbours without bounds checks.
        const p00 = (y0 * w + x0) * 3, p01 = p00 + 3, p10 = p00 + w * 3, p11 = p10 + 3;
        const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
        r = w00 * data[p00] + w01 * data[p01] + w10 * data[p10] + w11 * data[p11];
        g = w00 * data[p00 + 1] + w01 * data[p01 + 1] + w10 * data[p10 + 1] + w11 * data[p11 + 1];
        bl = w00 * data[p00 + 2] + w01 * data[p01 + 2] + w10 * data[p10 + 2] + w11 * data[p11 + 2];
      } else for (let k = 0; k < 4; k++) {
        let xx = x0 + (k & 1);
        let yy = y0 + (k >> 1);
        if (clamp) {
          xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
          yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
        } else if (xx < 0 || yy < 0 || xx >= w || yy >= h) {
          continue;
        }
        const wgt = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
        const p = (yy * w + xx) * 3;
        r += wgt * data[p];
        g += wgt * data[p + 1];
        bl += wgt * data[p + 2];
      }
      out[redPlane + idx] = r;
      out[plane + idx] = g;
      out[bluePlane + idx] = bl;
    }
  }
}

/** Resamples through an affine map (output pixel → source pixel) into a new interleaved RGB image. */
export function warpAffineToRgb(image: RgbImage, inverse: AffineMatrix, outW: number, outH: number): RgbImage {
  const planar = new Float32Array(3 * outW * outH);
  warpAffineToPlanar(image, inverse, outW, outH, planar, { border: 'clamp' });
  const out = createRgbImage(outW, outH);
  const plane = outW * outH;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out.data[i * 3 + c] = planar[c * plane + i];
  }
  return out;
}

/** Row-major 2×3 affine matrix [a, b, c, d, e, f]: x' = a·x + b·y + c, y' = d·x + e·y + f. */
export type AffineMatrix = readonly [number, number, number, number, number, number];

export function invertAffine(m: AffineMatrix): AffineMatrix {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (Math.abs(det) < 1e-12) throw new Error('singular affine transform');
  const ia = e / det, ib = -b / det, id = -d / det, ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

export function applyAffine(m: AffineMatrix, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/** Box-filter downscale of a region by an integer factor: keeps chips alias-free when a face is much larger than the chip. */
export function downscaleRegion(image: RgbImage, factor: number, x0: number, y0: number, width: number, height: number): RgbImage {
  const ow = Math.max(1, Math.floor(width / factor));
  const oh = Math.max(1, Math.floor(height / factor));
  const out = createRgbImage(ow, oh);
  const n = factor * factor;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let r = 0, g = 0, b = 0;
      for (let dy = 0; dy < factor; dy++) {
        const row = (y0 + y * factor + dy) * image.width + x0 + x * factor;
        for (let dx = 0; dx < factor; dx++) {
          const p = (row + dx) * 3;
          r += image.data[p]; g += image.data[p + 1]; b += image.data[p + 2];
        }
      }
      const q = (y * ow + x) * 3;
      out.data[q] = r / n; out.data[q + 1] = g / n; out.data[q + 2] = b / n;
    }
  }
  return out;
}
