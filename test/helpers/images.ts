import fs from 'node:fs';
import zlib from 'node:zlib';
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

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

/** A PNG whose IHDR claims the given size, with a tiny valid IDAT: decoding it all would need gigabytes. */
export function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(64))), pngChunk('IEND', Buffer.alloc(0))]);
}

/** Rewrites the frame size in a JPEG's SOF0/SOF2 marker. */
export function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9; i++) {
    if (out[i] === 0xff && (out[i + 1] === 0xc0 || out[i + 1] === 0xc2)) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
  }
  throw new Error('no SOF marker');
}
