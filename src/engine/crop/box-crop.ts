import type { Box } from '../detect/types.ts';
import { warpAffineToPlanar, type RgbImage } from '../image/raster.ts';

/**
 * The square-ish region that attribute models (liveness, age) were trained on: the detector's box
 * scaled about its centre, shrunk when the image is too small to hold it, then slid back inside the
 * image rather than padded — these models learnt from real context around the face, never from black
 * borders. Same rule as the models' reference code.
 */
export function contextRegion(image: { width: number; height: number }, box: Box, scale: number): Box {
  const s = Math.min((image.height - 1) / box.height, (image.width - 1) / box.width, scale);
  const width = box.width * s;
  const height = box.height * s;
  let x1 = box.x + box.width / 2 - width / 2;
  let y1 = box.y + box.height / 2 - height / 2;
  x1 = Math.min(Math.max(0, x1), image.width - 1 - width);
  y1 = Math.min(Math.max(0, y1), image.height - 1 - height);
  return { x: Math.max(0, x1), y: Math.max(0, y1), width, height };
}

/** Resamples `region` of the image to size × size, planar RGB 0..255, into `out` at `offset`. */
export function cropToPlanar(image: RgbImage, region: Box, size: number, out: Float32Array, offset = 0): void {
  const sx = region.width / size;
  const sy = region.height / size;
  warpAffineToPlanar(image, [sx, 0, region.x + sx / 2 - 0.5, 0, sy, region.y + sy / 2 - 0.5], size, size, out, { offset, border: 'clamp' });
}
