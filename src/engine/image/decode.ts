import sharp, { type Metadata } from 'sharp';
import type { RgbImage } from './raster.ts';

// libvips caches recent operations (50 MB by default) for re-use on the same input. Every image this
// server sees is new, so the cache only held customers' pixels longer and made memory climb under load.
sharp.cache(false);

export type ImageFormat = 'jpeg' | 'png' | 'webp';

export interface DecodeLimits {
  /** Largest encoded file accepted, in bytes. */
  maxBytes: number;
  /** Largest pixel count the header may claim; checked before any pixel is decoded. */
  maxPixels: number;
  /** Smallest width and height accepted, in pixels. */
  minSide: number;
  /** Images with a longer side are downscaled while decoding; coordinates are reported in original pixels. */
  maxWorkingSide: number;
}

export interface DecodedImage {
  format: ImageFormat;
  /** Size after EXIF orientation, in original pixels. */
  width: number;
  height: number;
  /** Working raster (possibly downscaled). */
  rgb: RgbImage;
  /** Original pixels per working-raster pixel (1 when not downscaled). */
  scale: number;
}

export type ImageRejectionReason = 'format' | 'corrupt' | 'too_large' | 'too_many_pixels' | 'too_small';

/** Raised for input that is not a usable image; the core turns the reason into a public error code. */
export class ImageRejectedError extends Error {
  constructor(readonly reason: ImageRejectionReason, message: string) {
    super(message);
    this.name = 'ImageRejectedError';
  }
}

/** Identifies the container from its magic bytes, so that nothing else ever reaches a decoder. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47
    && bytes[4] === 0x0d && bytes[5] === 0x0a && bytes[6] === 0x1a && bytes[7] === 0x0a) return 'png';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'webp';
  return undefined;
}

function ascii(bytes: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...bytes.subarray(from, to));
}

/** What an image's header says, checked against the limits; no pixel is decoded. */
export interface ImageHeader {
  format: ImageFormat;
  /** Size after EXIF orientation. */
  width: number;
  height: number;
  bytes: number;
}

/** Reads and checks an image's header: its container, its claimed size, its byte size. */
export async function probeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<ImageHeader> {
  if (bytes.length === 0) throw new ImageRejectedError('format', 'the image is empty (0 bytes)');
  if (bytes.length > limits.maxBytes) {
    throw new ImageRejectedError('too_large', `the image is ${bytes.length} bytes; the limit is ${limits.maxBytes}`);
  }
  const format = sniffImageFormat(bytes);
  if (!format) throw new ImageRejectedError('format', 'not a JPEG, PNG or WebP image (unrecognised file signature)');
  let meta: Metadata;
  try {
    // Reading the header decodes no pixels, so the pixel limit is checked below, by us, with a clear error.
    meta = await sharp(bytes, { failOn: 'error', sequentialRead: true, limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageRejectedError('corrupt', `the ${format.toUpperCase()} header cannot be read: ${messageOf(err)}`);
  }
  if (meta.format !== format && !(format === 'jpeg' && meta.format === 'jpeg')) {
    throw new ImageRejectedError('format', `the file signature says ${format} but the content is ${meta.format ?? 'unknown'}`);
  }
  const rawW = meta.width ?? 0;
  const rawH = meta.height ?? 0;
  if (rawW * rawH > limits.maxPixels) {
    throw new ImageRejectedError('too_many_pixels', `the header claims ${rawW}×${rawH} pixels; the limit is ${limits.maxPixels} pixels`);
  }
  const swapped = (meta.orientation ?? 1) >= 5;
  const width = swapped ? rawH : rawW;
  const height = swapped ? rawW : rawH;
  if (width < limits.minSide || height < limits.minSide) {
    throw new ImageRejectedError('too_small', `the image is ${width}×${height}; both sides must be at least ${limits.minSide} pixels`);
  }
  return { format, width, height, bytes: bytes.length };
}

/** Decodes JPEG, PNG or WebP into an sRGB raster with EXIF orientation applied. Never blocks the event loop (libvips runs on the libuv pool). */
export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> {
  const { format, width, height } = await probeImage(bytes, limits);
  const options = { limitInputPixels: limits.maxPixels, failOn: 'error' as const, sequentialRead: true };

  const longSide = Math.max(width, height);
  const scale = longSide > limits.maxWorkingSide ? longSide / limits.maxWorkingSide : 1;
  try {
    let pipeline = sharp(bytes, options).rotate();
    if (scale > 1) {
      pipeline = pipeline.resize({ width: Math.round(width / scale), height: Math.round(height / scale), fit: 'fill' });
    }
    const { data, info } = await pipeline.toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const rgb = info.channels === 3 ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : toRgb(data, info.channels);
    return {
      format,
      width,
      height,
      rgb: { width: info.width, height: info.height, data: rgb },
      scale: width / info.width,
    };
  } catch (err) {
    throw new ImageRejectedError('corrupt', `the ${format.toUpperCase()} data is corrupt or truncated: ${messageOf(err)}`);
  }
}

function toRgb(data: Buffer, channels: number): Uint8Array {
  const pixels = data.length / channels;
  const out = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const g = data[i * channels];
    out[i * 3] = g;
    out[i * 3 + 1] = channels >= 3 ? data[i * channels + 1] : g;
    out[i * 3 + 2] = channels >= 3 ? data[i * channels + 2] : g;
  }
  return out;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}

/** Encodes a raster as JPEG (for returning aligned face images). */
export async function encodeJpeg(image: RgbImage, quality = 90): Promise<Buffer> {
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  }).jpeg({ quality }).toBuffer();
}
