import type { Box } from '../detect/types.ts';
import type { RgbImage } from '../image/raster.ts';
import type { Point } from '../geometry.ts';
import { contextRegion, cropToPlanar } from '../crop/box-crop.ts';

/**
 * Pixel measures of one face and its image, in the spirit of ISO/IEC 29794-5 (OFIQ): each is a plain
 * number with a documented unit, so profiles can threshold them and clients can log them.
 */
export interface PixelMeasures {
  /** Laplacian standard deviation over luminance standard deviation in the face box resized to 128². */
  sharpness: number;
  /** Mean luminance of the whole image, 0..255. */
  imageBrightness: number;
  /** Fractions of the image's pixels below 16 and above 240. */
  imageDarkFraction: number;
  imageBrightFraction: number;
  /** Mean luminance of the inner face (eyes to mouth), 0..255. */
  faceBrightness: number;
  /** Luminance standard deviation of the inner face. */
  faceContrast: number;
  /** JPEG blockiness: luminance steps across 8-pixel block edges over steps inside blocks (1 = none). */
  blockiness: number;
  /** Share of each region's pixels whose colour is not the face's own skin (0..1). */
  occlusion: { leftEye: number; rightEye: number; nose: number; mouth: number };
  /** Eye-region luminance over skin luminance (sunglasses make it small). */
  eyeDarkness: { left: number; right: number };
  /**
   * The largest share of flat, very dark pixels in a band a tenth of the face tall with lit rows
   * above and below it, searched from above the detector box to mid-face: dark lenses or a bar across the eyes, found even when the
   * occluder has pulled the box and the landmarks off the eyes.
   */
  eyeBandDarkFraction: number;
}

const SIZE = 128;

export function measureFace(image: RgbImage, box: Box, landmarks68: readonly Point[]): PixelMeasures {
  const whole = imageExposure(image);
  return {
    sharpness: sharpness(image, box),
    imageBrightness: whole.mean,
    imageDarkFraction: whole.dark,
    imageBrightFraction: whole.bright,
    ...faceExposure(image, landmarks68),
    blockiness: blockiness(image, box),
    ...regionOcclusion(image, landmarks68),
    eyeBandDarkFraction: eyeBandDarkFraction(image, box),
  };
}

function eyeBandDarkFraction(image: RgbImage, box: Box): number {
  const at = (fx: number, fy: number): Point => [box.x + fx * box.width, box.y + fy * box.height];
  const lumas: number[] = [];
  forEachPixelIn(image, [at(0.1, 0.1), at(0.9, 0.1), at(0.9, 0.9), at(0.1, 0.9)], (o) => lumas.push(luma(image.data, o)));
  if (lumas.length === 0) return 0;
  const dark = Math.max(30, 0.25 * lumas.sort((a, b) => a - b)[lumas.length >> 1]);
  // Rows from well above the box (a bar over the eyes pushes the detector's box down onto the
  // nose and mouth) to the middle of the face; windows a tenth of the face tall.
  const x0 = Math.max(0, Math.round(box.x + 0.1 * box.width)), x1 = Math.min(image.width - 1, Math.round(box.x + 0.9 * box.width));
  const y0 = Math.max(0, Math.round(box.y - 0.4 * box.height)), y1 = Math.min(image.height - 1, Math.round(box.y + 0.55 * box.height));
  const rows: Array<{ dark: number; n: number; sum: number; sq: number }> = [];
  const xStep = Math.max(1, Math.round((x1 - x0) / 64));
  for (let y = y0; y <= y1; y++) {
    const r = { dark: 0, n: 0, sum: 0, sq: 0 };
    for (let x = x0; x <= x1; x += xStep) {
      const v = luma(image.data, (y * image.width + x) * 3);
      r.n++;
      if (v < dark) { r.dark++; r.sum += v; r.sq += v * v; }
    }
    rows.push(r);
  }
  // Runs of rows that are mostly very dark, flat (hair and dark backgrounds are textured or do not
  // end) and bounded by lit rows above and below (forehead, cheeks): lenses or a bar.
  const share = (r: (typeof rows)[number]) => r.dark / Math.max(1, r.n);
  let best = 0;
  for (let i = 1; i < rows.length - 1; i++) {
    if (share(rows[i]) < 0.7 || share(rows[i - 1]) >= 0.7) continue;
    let j = i;
    while (j + 1 < rows.length && share(rows[j + 1]) >= 0.7) j++;
    const height = j - i + 1;
    const above = share(rows[i - 1]) < 0.3;
    const below = j + 1 < rows.length && share(rows[j + 1]) < 0.3;
    let d = 0, n = 0, sum = 0, sq = 0;
    for (let k = i; k <= j; k++) { d += rows[k].dark; n += rows[k].n; sum += rows[k].sum; sq += rows[k].sq; }
    const std = Math.sqrt(Math.max(0, sq / d - (sum / d) ** 2));
    if (above && below && std < 6 && height >= 0.05 * box.height && height <= 0.6 * box.height) best = Math.max(best, d / n);
    i = j;
  }
  return best;
}

const luma = (d: Uint8Array | Float32Array, i: number) => 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];

export function imageExposure(image: RgbImage): { mean: number; dark: number; bright: number } {
  const { width, height, data } = image;
  const step = Math.max(1, Math.floor(Math.sqrt((width * height) / 65536)));
  let sum = 0, dark = 0, bright = 0, n = 0;
  for (let y = 0; y < height; y += step) {
    for (let x = 0; x < width; x += step) {
      const v = luma(data, (y * width + x) * 3);
      sum += v;
      if (v < 16) dark++;
      if (v > 240) bright++;
      n++;
    }
  }
  return { mean: sum / n, dark: dark / n, bright: bright / n };
}

function sharpness(image: RgbImage, box: Box): number {
  const plane = SIZE * SIZE;
  const p = new Float32Array(3 * plane);
  cropToPlanar(image, contextRegion(image, box, 1), SIZE, p);
  const y = new Float32Array(plane);
  for (let i = 0; i < plane; i++) y[i] = 0.299 * p[i] + 0.587 * p[plane + i] + 0.114 * p[2 * plane + i];
  return detailRatio(y, SIZE);
}

/**
 * Fine detail of a square luminance plane, free of scale and brightness: the standard deviation
 * of its Laplacian over its own (floored at 1, so a flat patch reads 0 rather than noise).
 */
export function detailRatio(luma: Float32Array, size: number): number {
  let s = 0, s2 = 0;
  for (const v of luma) { s += v; s2 += v * v; }
  const n0 = luma.length;
  let l = 0, l2 = 0, n = 0;
  for (let r = 1; r < size - 1; r++) {
    for (let c = 1; c < size - 1; c++) {
      const i = r * size + c;
      const v = 4 * luma[i] - luma[i - 1] - luma[i + 1] - luma[i - size] - luma[i + size];
      l += v; l2 += v * v; n++;
    }
  }
  const lumaStd = Math.sqrt(Math.max(1, s2 / n0 - (s / n0) ** 2));
  return Math.sqrt(Math.max(0, l2 / n - (l / n) ** 2)) / lumaStd;
}

/**
 * Visits the pixels inside a polygon: every pixel of a small region, a regular grid of about 64 × 64
 * of a large one (shares and medians need samples, not every pixel of a 500 px face).
 */
function forEachPixelIn(image: RgbImage, polygon: readonly Point[], visit: (offset: number) => void): void {
  const xs = polygon.map((p) => p[0]), ys = polygon.map((p) => p[1]);
  const x0 = Math.max(0, Math.floor(Math.min(...xs))), x1 = Math.min(image.width - 1, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys))), y1 = Math.min(image.height - 1, Math.ceil(Math.max(...ys)));
  const step = Math.max(1, Math.round(Math.max(x1 - x0, y1 - y0) / 64));
  for (let y = y0; y <= y1; y += step) {
    for (let x = x0; x <= x1; x += step) if (inside(polygon, x + 0.5, y + 0.5)) visit((y * image.width + x) * 3);
  }
}

function inside(polygon: readonly Point[], x: number, y: number): boolean {
  let hit = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i], [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

/** The inner face: outer eye corners, down the cheeks to below the mouth. */
function innerFace(lm: readonly Point[]): Point[] {
  return [lm[36], lm[39], lm[42], lm[45], lm[13], lm[10], lm[8], lm[6], lm[3]];
}

function faceExposure(image: RgbImage, lm: readonly Point[]): { faceBrightness: number; faceContrast: number } {
  let s = 0, s2 = 0, n = 0;
  forEachPixelIn(image, innerFace(lm), (o) => { const v = luma(image.data, o); s += v; s2 += v * v; n++; });
  if (n === 0) return { faceBrightness: 0, faceContrast: 0 };
  const mean = s / n;
  return { faceBrightness: mean, faceContrast: Math.sqrt(Math.max(0, s2 / n - mean * mean)) };
}

function blockiness(image: RgbImage, box: Box): number {
  const { width, data } = image;
  const x0 = Math.max(1, Math.floor(box.x)), x1 = Math.min(image.width - 2, Math.ceil(box.x + box.width));
  const y0 = Math.max(1, Math.floor(box.y)), y1 = Math.min(image.height - 2, Math.ceil(box.y + box.height));
  let edge = 0, edges = 0, within = 0, withins = 0;
  // Rows 3 and 7 of each 8-row block: their steps to the next row are one inside a block and one
  // across a block edge, so a quarter of the rows measure both kinds.
  for (let y = y0; y <= y1; y++) {
    if (y % 4 !== 3) continue;
    for (let x = x0; x <= x1; x++) {
      const o = (y * width + x) * 3;
      const dx = Math.abs(luma(data, o + 3) - luma(data, o));
      const dy = Math.abs(luma(data, o + width * 3) - luma(data, o));
      if (x % 8 === 7) { edge += dx; edges++; } else { within += dx; withins++; }
      if (y % 8 === 7) { edge += dy; edges++; } else { within += dy; withins++; }
    }
  }
  if (edges === 0 || within === 0) return 1;
  return edge / edges / (within / withins);
}

interface Chroma { cb: number; cr: number; y: number }

function chromaAt(d: Uint8Array, o: number): Chroma {
  const r = d[o], g = d[o + 1], b = d[o + 2];
  return { y: 0.299 * r + 0.587 * g + 0.114 * b, cb: 128 - 0.168736 * r - 0.331264 * g + 0.5 * b, cr: 128 + 0.5 * r - 0.418688 * g - 0.081312 * b };
}

/**
 * The skin reference is the median colour of the upper cheeks (under each eye, beside the nose),
 * which masks, bars and sunglasses leave visible more often than any other patch. A region's pixel
 * is "not skin" when its chroma is far from the reference, or it is much darker or brighter.
 */
function regionOcclusion(image: RgbImage, lm: readonly Point[]): Pick<PixelMeasures, 'occlusion' | 'eyeDarkness'> {
  const cheeks: Chroma[] = [];
  const leftCheek: Point[] = [lm[41], lm[40], lm[31], lm[2], lm[1]];
  const rightCheek: Point[] = [lm[47], lm[46], lm[15], lm[14], lm[35]];
  for (const poly of [leftCheek, rightCheek]) forEachPixelIn(image, poly, (o) => cheeks.push(chromaAt(image.data, o)));
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1] ?? 0;
  const ref = { cb: median(cheeks.map((c) => c.cb)), cr: median(cheeks.map((c) => c.cr)), y: median(cheeks.map((c) => c.y)) };
  const eyeWidth = Math.hypot(lm[39][0] - lm[36][0], lm[39][1] - lm[36][1]);
  const eyeBox = (c: Point): Point[] => [[c[0] - eyeWidth * 0.6, c[1] - eyeWidth * 0.35], [c[0] + eyeWidth * 0.6, c[1] - eyeWidth * 0.35], [c[0] + eyeWidth * 0.6, c[1] + eyeWidth * 0.35], [c[0] - eyeWidth * 0.6, c[1] + eyeWidth * 0.35]];
  const centre = (idx: number[]): Point => [idx.reduce((s, i) => s + lm[i][0], 0) / idx.length, idx.reduce((s, i) => s + lm[i][1], 0) / idx.length];
  // Nose and mouth are placed from the eyes, which stay put when the lower face is covered (the
  // landmark net then guesses the mouth): d is the inter-eye distance, `down` points chin-wards.
  const le = centre([36, 37, 38, 39, 40, 41]), re = centre([42, 43, 44, 45, 46, 47]);
  const d = Math.max(1, Math.hypot(re[0] - le[0], re[1] - le[1]));
  const down: Point = [-(re[1] - le[1]) / d, (re[0] - le[0]) / d];
  const across: Point = [(re[0] - le[0]) / d, (re[1] - le[1]) / d];
  const mid: Point = [(le[0] + re[0]) / 2, (le[1] + re[1]) / 2];
  const rect = (along: number, halfWidth: number, halfHeight: number): Point[] => [[-1, -1], [1, -1], [1, 1], [-1, 1]].map(([a, b]) => [
    mid[0] + down[0] * (along + b * halfHeight) + across[0] * a * halfWidth,
    mid[1] + down[1] * (along + b * halfHeight) + across[1] * a * halfWidth,
  ] as Point);
  const regions = {
    leftEye: eyeBox(le),
    rightEye: eyeBox(re),
    nose: rect(0.62 * d, 0.22 * d, 0.16 * d),
    mouth: rect(1.08 * d, 0.45 * d, 0.2 * d),
  };
  const occlusion = { leftEye: 0, rightEye: 0, nose: 0, mouth: 0 };
  const meanLuma = { leftEye: 0, rightEye: 0, nose: 0, mouth: 0 };
  for (const key of Object.keys(regions) as Array<keyof typeof regions>) {
    let off = 0, n = 0, y = 0;
    forEachPixelIn(image, regions[key], (o) => {
      const c = chromaAt(image.data, o);
      // Lips are redder than skin, not otherwise different: extra red (Cr) is forgiven up to 30. The
      // chroma of dim pixels (shadow, beard) says little, so it is judged only on well-lit ones; very
      // dark pixels (a black bar, dark lenses) and glaring ones count on their own.
      const redder = c.cr - ref.cr;
      const far = c.y >= ref.y * 0.45 && Math.hypot(c.cb - ref.cb, redder > 0 ? Math.max(0, redder - 30) : redder) > 12;
      const lumaOff = c.y < ref.y * 0.2 || c.y > ref.y * 1.8 + 20;
      if (far || lumaOff) off++;
      y += c.y;
      n++;
    });
    occlusion[key] = n > 0 ? off / n : 1;
    meanLuma[key] = n > 0 ? y / n : 0;
  }
  const skin = Math.max(1, ref.y);
  return { occlusion, eyeDarkness: { left: meanLuma.leftEye / skin, right: meanLuma.rightEye / skin } };
}
