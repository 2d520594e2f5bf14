import fs from 'node:fs';
import sharp from 'sharp';
import { samplePhotoPath } from '../../bench/lib/photos.ts';

/** Real group photographs shipped by @vladmandic/face-api (a dev dependency): 1920 px wide, 3–5 faces each. */
export function samplePhoto(n: 1 | 2 | 3 | 4 | 5 | 6): Buffer {
  return fs.readFileSync(samplePhotoPath(n));
}

/** A 640×480 crop of a sample photo around one face: a realistic selfie-sized input. */
export async function selfieCrop(n: 1 | 2 | 3 | 4 | 5 | 6, left: number, top: number): Promise<Buffer> {
  return sharp(samplePhoto(n)).extract({ left, top, width: 640, height: 480 }).jpeg({ quality: 92 }).toBuffer();
}

/** A plain image with no face in it. */
export async function blankImage(width: number, height: number, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const img = sharp({ create: { width, height, channels: 3, background: { r: 120, g: 160, b: 200 } } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg().toBuffer();
}

export const b64 = (buf: Buffer) => buf.toString('base64');

/** Shared evaluation data (../shared/data), when FACEPROOF_TEST_DATA names it. */
export function sharedDataDir(): string | undefined {
  const dir = process.env.FACEPROOF_TEST_DATA;
  return dir && fs.existsSync(dir) ? dir : undefined;
}
