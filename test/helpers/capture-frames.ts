import fs from 'node:fs';
import sharp from 'sharp';
import { samplePhotoPath } from '../../bench/lib/photos.ts';

/**
 * The camera frames of the browser-capture tests, made from real photographs (the sample photos
 * that ship with @vladmandic/face-api, the README's example assets): one woman's frontal face and
 * the same woman turned to each side. 640 × 480 JPEGs.
 */
export interface CaptureFrames {
  /** Photo 1's woman, her head tilted 40° in the original, turned upright: frontal (yaw ≈ −6°), quality good. */
  frontal: Buffer;
  /** The same woman in photo 3, turned to her right (yaw ≈ −17°). */
  right: Buffer;
  /** Photo 3 mirrored: turned to her left. */
  left: Buffer;
}

export async function captureFrames(): Promise<CaptureFrames> {
  const tilted = await sharp(fs.readFileSync(samplePhotoPath(1))).extract({ left: 1000, top: 0, width: 920, height: 690 }).rotate(-40, { background: '#777' }).toBuffer();
  const m = await sharp(tilted).metadata();
  const frontal = await sharp(tilted).extract({ left: Math.round((m.width! - 760) / 2), top: Math.round((m.height! - 570) / 2), width: 760, height: 570 }).resize(640, 480).jpeg({ quality: 92 }).toBuffer();
  const right = await sharp(fs.readFileSync(samplePhotoPath(3))).extract({ left: 920, top: 100, width: 534, height: 400 }).resize(640, 480).jpeg({ quality: 92 }).toBuffer();
  const left = await sharp(right).flop().jpeg({ quality: 92 }).toBuffer();
  return { frontal, right, left };
}

/** `n` frames of one photo drifting a few pixels, as a hand-held camera would. */
export async function held(photo: Buffer, n: number): Promise<Buffer[]> {
  const { width, height } = await sharp(photo).metadata();
  return Promise.all(Array.from({ length: n }, (_, i) => sharp(photo)
    .extract({ left: 8 + Math.round(6 * Math.sin(i / 2)), top: 8 + (i % 3), width: width! - 24, height: height! - 24 }).resize(640, 480).jpeg({ quality: 90 }).toBuffer()));
}
