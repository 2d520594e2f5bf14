import { sampleGrey, type GreyImage } from './grey.ts';
import type { MrzLineGeometry, Pt } from './mrz-locator.ts';

/** One MRZ line resampled upright at the OCR's preferred size. */
export interface LineStrip {
  width: number;
  height: number;
  data: Uint8Array;
  /** Strip x of the first character cell's centre, and the pitch in strip pixels. */
  firstCell: number;
  pitch: number;
}

/** Capital height the strip is drawn at: tesseract's LSTM reads best at about 30–40 px. */
export const STRIP_CHAR_HEIGHT = 36;

/**
 * Resamples a line upright: `along` is the reading direction, the line's centre runs from `from`
 * to `to`, and a cell and a half of margin is kept at each end (tesseract drops characters touching
 * the border). `scale` maps the geometry's pixels to `img`'s (the locator may run on a smaller copy).
 */
export function lineStrip(img: GreyImage, line: MrzLineGeometry, reverse: boolean, scale = 1): LineStrip {
  const from: Pt = reverse ? line.to : line.from;
  const to: Pt = reverse ? line.from : line.to;
  const len = Math.hypot(to[0] - from[0], to[1] - from[1]);
  const ax: Pt = [(to[0] - from[0]) / len, (to[1] - from[1]) / len];
  const ay: Pt = [-ax[1], ax[0]];
  const k = STRIP_CHAR_HEIGHT / line.charHeight;
  const margin = 1.5 * line.pitch;
  const width = Math.round((len + 2 * margin) * k);
  // Down to the next line's tops at most: MRZ line pitch is about 1.7 capital heights
  const height = Math.round(1.7 * line.charHeight * k);
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const v = (y - height / 2) / k;
    for (let x = 0; x < width; x++) {
      const u = x / k - margin;
      const px = (from[0] + ax[0] * u + ay[0] * v) * scale;
      const py = (from[1] + ax[1] * u + ay[1] * v) * scale;
      data[y * width + x] = sampleGrey(img, px, py);
    }
  }
  return { width, height, data, firstCell: margin * k, pitch: line.pitch * k };
}
