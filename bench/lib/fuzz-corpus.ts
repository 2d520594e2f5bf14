import zlib from 'node:zlib';
import sharp from 'sharp';
import { blankImage, jpegClaiming, pngClaiming, selfieCrop } from '../../test/helpers/images.ts';
import { encodeClip } from './video-clip.ts';

/**
 * The media the fuzzer puts where an image, video or template goes: images made with sharp from the
 * sample photos face-api ships (no shared data needed) and the hostile corpus of
 * test/hostile-input.test.ts (truncated files, headers claiming gigapixels, wrong magic, GIF, SVG,
 * random bytes, …). `cost` says how far the server gets with it: `cheap` is refused before any
 * decoding or inference, `engine` reaches the face engine (slow: tens to hundreds of ms).
 */
export interface MediaEntry {
  name: string;
  bytes: Buffer;
  cost: 'cheap' | 'engine' | 'huge';
}

/** Text where base64 is expected: valid encodings of the media and malformed ones. */
export interface Base64Entry {
  name: string;
  text: string;
  cost: MediaEntry['cost'];
}

export interface Corpus {
  images: MediaEntry[];
  videos: MediaEntry[];
  base64Garbage: Base64Entry[];
  /** A real face, JPEG: what setup enrols. */
  face: Buffer;
}

/** Deterministic pseudo-random bytes (the corpus must not change between runs of one seed). */
function noise(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export async function buildCorpus(): Promise<Corpus> {
  const face = await selfieCrop(3, 370, 200);
  const small = await sharp(face).resize(320, 240).jpeg({ quality: 85 }).toBuffer();
  const png = await sharp(small).png().toBuffer();
  const webp = await sharp(small).webp().toBuffer();
  const gif = await sharp(small).gif().toBuffer();
  const tiff = await sharp(small).tiff().toBuffer();
  const blankJpeg = await blankImage(64, 64, 'jpeg');
  const blankPng = await blankImage(48, 48, 'png');
  const strip = await blankImage(2000, 32, 'png');
  const tiny = await blankImage(12, 12);
  const grey16 = await sharp(small).greyscale().toColourspace('grey16').png().toBuffer();
  const cmyk = await sharp(small).toColourspace('cmyk').jpeg().toBuffer();
  const rotated = await sharp(small).withMetadata({ orientation: 6 }).jpeg().toBuffer();
  const alpha = await sharp(small).ensureAlpha(0.3).png().toBuffer();
  const progressive = await sharp(small).jpeg({ progressive: true }).toBuffer();

  const images: MediaEntry[] = [
    { name: 'face JPEG 320x240', bytes: small, cost: 'engine' },
    { name: 'face JPEG 640x480', bytes: face, cost: 'engine' },
    { name: 'face PNG', bytes: png, cost: 'engine' },
    { name: 'face WebP', bytes: webp, cost: 'engine' },
    { name: 'face 16-bit grey PNG', bytes: grey16, cost: 'engine' },
    { name: 'face CMYK JPEG', bytes: cmyk, cost: 'engine' },
    { name: 'face EXIF orientation 6', bytes: rotated, cost: 'engine' },
    { name: 'face PNG with alpha', bytes: alpha, cost: 'engine' },
    { name: 'face progressive JPEG', bytes: progressive, cost: 'engine' },
    { name: 'blank JPEG 64x64', bytes: blankJpeg, cost: 'engine' },
    { name: 'blank PNG 48x48', bytes: blankPng, cost: 'engine' },
    { name: 'blank PNG 2000x32', bytes: strip, cost: 'engine' },
    { name: 'PNG 12x12', bytes: tiny, cost: 'cheap' },
    { name: 'truncated JPEG', bytes: small.subarray(0, small.length >> 1), cost: 'cheap' },
    { name: 'truncated PNG', bytes: png.subarray(0, Math.floor(png.length / 3)), cost: 'cheap' },
    { name: 'truncated WebP', bytes: webp.subarray(0, 100), cost: 'cheap' },
    { name: 'JPEG header only', bytes: small.subarray(0, 20), cost: 'cheap' },
    { name: 'PNG claiming 100000x100000', bytes: pngClaiming(100_000, 100_000), cost: 'cheap' },
    { name: 'PNG claiming 8000x8000', bytes: pngClaiming(8000, 8000), cost: 'cheap' },
    { name: 'PNG claiming 0x0', bytes: pngClaiming(0, 0), cost: 'cheap' },
    { name: 'PNG claiming 2^31x1', bytes: pngClaiming(0x7fffffff, 1), cost: 'cheap' },
    { name: 'PNG claiming 2^32-1 square', bytes: pngClaiming(0xffffffff, 0xffffffff), cost: 'cheap' },
    { name: 'JPEG claiming 60000x60000', bytes: jpegClaiming(small, 60_000, 60_000), cost: 'cheap' },
    { name: 'JPEG claiming 0x0', bytes: jpegClaiming(small, 0, 0), cost: 'cheap' },
    { name: 'JPEG claiming 65535x1', bytes: jpegClaiming(small, 65_535, 1), cost: 'cheap' },
    { name: 'PNG header + corrupt pixels', bytes: Buffer.concat([png.subarray(0, 33), noise(2000, 7)]), cost: 'cheap' },
    { name: 'JPEG magic + noise', bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), noise(3000, 11)]), cost: 'cheap' },
    { name: 'RIFF WEBP + noise', bytes: Buffer.concat([Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1'), noise(500, 13)]), cost: 'cheap' },
    { name: 'zero bytes', bytes: Buffer.alloc(0), cost: 'cheap' },
    { name: 'one byte', bytes: Buffer.from([0xff]), cost: 'cheap' },
    { name: 'text', bytes: Buffer.from('this is not an image at all, just text'), cost: 'cheap' },
    { name: 'GIF', bytes: gif, cost: 'cheap' },
    { name: 'TIFF', bytes: tiff, cost: 'cheap' },
    { name: 'SVG', bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9e9" height="9e9"/>'), cost: 'cheap' },
    { name: 'PDF header', bytes: Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n', 'latin1'), cost: 'cheap' },
    { name: 'gzip of zeros', bytes: zlib.gzipSync(Buffer.alloc(1 << 20)), cost: 'cheap' },
    { name: 'random 4 KiB', bytes: noise(4096, 3), cost: 'cheap' },
    { name: 'NUL 1 KiB', bytes: Buffer.alloc(1024), cost: 'cheap' },
    { name: '16 MiB of 0xff', bytes: Buffer.alloc(16 * 1024 * 1024, 0xff), cost: 'huge' },
  ];

  let clip: Buffer | undefined;
  try {
    const frames = await Promise.all(Array.from({ length: 10 }, (_, i) => sharp(small).extract({ left: 4 + (i % 3), top: 4, width: 300, height: 220 }).jpeg({ quality: 80 }).toBuffer()));
    clip = await encodeClip(frames, 4);
  } catch {
    clip = undefined;
  }
  const videos: MediaEntry[] = [
    ...(clip ? [{ name: 'MP4 2.5 s of a face', bytes: clip, cost: 'engine' as const }, { name: 'truncated MP4', bytes: clip.subarray(0, clip.length >> 1), cost: 'engine' as const }] : []),
    { name: 'JPEG as video', bytes: small, cost: 'engine' },
    { name: 'random bytes as video', bytes: noise(20_000, 5), cost: 'engine' },
    { name: 'zero-byte video', bytes: Buffer.alloc(0), cost: 'cheap' },
    { name: 'MP4 ftyp header only', bytes: Buffer.from('\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom', 'latin1'), cost: 'engine' },
  ];

  const base64Garbage: Base64Entry[] = [
    { name: 'empty', text: '', cost: 'cheap' },
    { name: 'whitespace', text: '   \n ', cost: 'cheap' },
    { name: 'not base64', text: '@@@not*base64!!!', cost: 'cheap' },
    { name: 'impossible length', text: 'QUJDRA=A', cost: 'cheap' },
    { name: 'lone padding', text: '====', cost: 'cheap' },
    { name: 'data: URL of garbage', text: 'data:image/png;base64,%%%%', cost: 'cheap' },
    { name: 'data: without comma', text: 'data:image/png;base64', cost: 'cheap' },
    { name: 'non-ASCII', text: 'ÿÿÿÿ顔顔', cost: 'cheap' },
    { name: 'NUL', text: 'AAAA\u0000AAAA', cost: 'cheap' },
    { name: 'lone surrogate', text: 'AAAA\ud800', cost: 'cheap' },
    { name: 'single char', text: 'A', cost: 'cheap' },
    { name: '1 MiB of A (zeros)', text: 'A'.repeat(1 << 20), cost: 'cheap' },
  ];
  return { images, videos, base64Garbage, face };
}

/** The ways a valid image can be written as base64 text; all accepted by the server. */
export function base64Variants(bytes: Buffer): string[] {
  const std = bytes.toString('base64');
  return [
    std,
    bytes.toString('base64url'),
    `data:image/jpeg;base64,${std}`,
    std.replace(/=+$/, ''),
    std.replace(/(.{76})/g, '$1\n'),
  ];
}
