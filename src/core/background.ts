import type { DecodedImage } from '../engine/image/decode.ts';
import type { FaceAnalysis } from '../engine/face-engine.ts';

/** What the background of a portrait looks like, measured beside and above the head. */
export interface BackgroundMeasure {
  /** Share of the background pixels that are near-white (bright and nearly grey). */
  whiteFraction: number;
  /** Mean luminance of the background pixels, 0–255. */
  brightness: number;
  /** Background pixels measured (in the working raster); 0 when the head fills the picture. */
  pixels: number;
  white: boolean;
}

/** A pixel counts as white when its darkest channel is at least this bright… */
export const WHITE_MIN_CHANNEL = 170;
/** …and its channels differ by no more than this (no colour cast). */
export const WHITE_MAX_CHROMA = 40;
/** Share of white pixels a white background needs (hair, a collar or a shadow may reach into it). */
export const WHITE_MIN_FRACTION = 0.7;

/**
 * A passport-style white background (TrustVision's `not_white_background`): the pixels above the head
 * and beside it (down to the chin; below it the shoulders are) are measured, away from a margin of
 * half a face around the face box, where hair is. Whatever the face fills leaves nothing to judge: white.
 */
export function measureBackground(image: DecodedImage, face: FaceAnalysis): BackgroundMeasure {
  const { rgb, scale } = image;
  const x0 = face.box.x / scale, y0 = face.box.y / scale, w = face.box.width / scale, h = face.box.height / scale;
  const left = x0 - 0.5 * w, right = x0 + 1.5 * w, top = y0 - 0.5 * h, chin = y0 + h;
  let pixels = 0, white = 0, luminance = 0;
  const step = Math.max(1, Math.floor(Math.min(rgb.width, rgb.height) / 200));
  for (let y = 0; y < Math.min(rgb.height, chin); y += step) {
    for (let x = 0; x < rgb.width; x += step) {
      if (x >= left && x <= right && y >= top) continue; // the head and the hair around it
      const i = (y * rgb.width + x) * 3;
      const r = rgb.data[i], g = rgb.data[i + 1], b = rgb.data[i + 2];
      const lo = Math.min(r, g, b), hi = Math.max(r, g, b);
      pixels++;
      luminance += 0.299 * r + 0.587 * g + 0.114 * b;
      if (lo >= WHITE_MIN_CHANNEL && hi - lo <= WHITE_MAX_CHROMA) white++;
    }
  }
  if (pixels === 0) return { whiteFraction: 1, brightness: 255, pixels: 0, white: true };
  const whiteFraction = white / pixels;
  return { whiteFraction: Math.round(whiteFraction * 1e4) / 1e4, brightness: Math.round(luminance / pixels), pixels, white: whiteFraction >= WHITE_MIN_FRACTION };
}
