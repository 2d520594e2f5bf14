import { createRequire } from 'node:module';
import sharp from 'sharp';
import { FaceproofError } from '../../core/errors.ts';

/**
 * JPEG 2000 decoding for the chip's face (most passports store DG2's portrait as JPEG 2000, which
 * sharp/libvips builds do not read). OpenJPEG compiled to WebAssembly (@cornerstonejs/codec-openjpeg)
 * does the decoding; this module checks the header first, so that a file claiming 100 000 × 100 000
 * pixels is refused before the decoder allocates anything, and turns every decoder failure into
 * `invalid_chip_data` instead of a crash.
 */

export interface Jpeg2000Header {
  /** 'jp2': the JP2 file format (boxes around a codestream); 'j2k': a bare codestream. */
  container: 'jp2' | 'j2k';
  width: number;
  height: number;
  components: number;
  /** Bits per sample of the first component. */
  bitDepth: number;
  signed: boolean;
}

export interface DecodedJpeg2000 {
  width: number;
  height: number;
  /** 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). */
  channels: number;
  /** 8-bit samples, interleaved, row by row. */
  data: Buffer;
}

export interface Jpeg2000Limits {
  /** Largest width × height the header may claim. */
  maxPixels: number;
  /** Where the bytes came from, for the error's field. */
  field: string;
}

/** A chip face is about 0.3 MP; 16 MP leaves room for any portrait and bounds the decoder's memory (about 64 MB RGBA in the heap). */
const DEFAULT_LIMITS: Jpeg2000Limits = { maxPixels: 16_000_000, field: 'data_groups.2' };

const JP2_SIGNATURE = [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a];

function fail(field: string, message: string): never {
  throw new FaceproofError('invalid_chip_data', message, field);
}

export function isJpeg2000(bytes: Uint8Array): boolean {
  return isJp2(bytes) || isCodestream(bytes);
}

function isJp2(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && JP2_SIGNATURE.every((b, i) => bytes[i] === b);
}

function isCodestream(bytes: Uint8Array): boolean {
  // SOC followed by SIZ: the codestream's first two markers are fixed.
  return bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0x4f && bytes[2] === 0xff && bytes[3] === 0x51;
}

const u16 = (b: Uint8Array, i: number) => b[i] * 256 + b[i + 1];
const u32 = (b: Uint8Array, i: number) => b[i] * 0x1000000 + b[i + 1] * 0x10000 + b[i + 2] * 0x100 + b[i + 3];

/** The codestream inside a JP2 file: the contents of its 'jp2c' box. */
function jp2Codestream(bytes: Uint8Array, field: string): Uint8Array {
  let offset = 0;
  // A JP2 file is a flat list of boxes; a few dozen at most in practice.
  for (let boxes = 0; offset < bytes.length && boxes < 1024; boxes++) {
    if (offset + 8 > bytes.length) fail(field, 'JPEG 2000: truncated box header');
    let length = u32(bytes, offset);
    const type = String.fromCharCode(bytes[offset + 4], bytes[offset + 5], bytes[offset + 6], bytes[offset + 7]);
    let header = 8;
    if (length === 1) {
      if (offset + 16 > bytes.length) fail(field, 'JPEG 2000: truncated box header');
      const high = u32(bytes, offset + 8);
      if (high !== 0) fail(field, `JPEG 2000: box '${type}' claims more than 4 GB`);
      length = u32(bytes, offset + 12);
      header = 16;
    } else if (length === 0) {
      length = bytes.length - offset;
    }
    if (length < header) fail(field, `JPEG 2000: box '${type}' has an impossible length`);
    // The codestream box may be cut short (it is the last box, and decoders read what there is);
    // any other box must fit.
    if (type === 'jp2c') return bytes.subarray(offset + header, Math.min(offset + length, bytes.length));
    if (length > bytes.length - offset) fail(field, `JPEG 2000: box '${type}' claims ${length} bytes but ${bytes.length - offset} remain`);
    offset += length;
  }
  fail(field, 'JPEG 2000: the file has no codestream (jp2c box)');
}

/**
 * The image's size and sample format from the codestream's SIZ marker, without decoding anything.
 * Throws invalid_chip_data when the bytes are not JPEG 2000 or the header is inconsistent.
 */
export function readJpeg2000Header(bytes: Uint8Array, field = DEFAULT_LIMITS.field): Jpeg2000Header {
  let container: Jpeg2000Header['container'];
  let codestream: Uint8Array;
  if (isJp2(bytes)) {
    container = 'jp2';
    codestream = jp2Codestream(bytes, field);
  } else if (isCodestream(bytes)) {
    container = 'j2k';
    codestream = bytes;
  } else {
    fail(field, 'not a JPEG 2000 image (neither a JP2 file nor a codestream)');
  }
  if (!isCodestream(codestream)) fail(field, 'JPEG 2000: the codestream does not begin with SOC and SIZ');
  // SIZ: Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz, then 3 bytes per component.
  const s = 4;
  if (codestream.length < s + 38) fail(field, 'JPEG 2000: truncated SIZ marker');
  const lsiz = u16(codestream, s);
  const xsiz = u32(codestream, s + 4);
  const ysiz = u32(codestream, s + 8);
  const xosiz = u32(codestream, s + 12);
  const yosiz = u32(codestream, s + 16);
  const xtsiz = u32(codestream, s + 20);
  const ytsiz = u32(codestream, s + 24);
  const xtosiz = u32(codestream, s + 28);
  const ytosiz = u32(codestream, s + 32);
  const csiz = u16(codestream, s + 36);
  if (csiz < 1 || csiz > 4) fail(field, `JPEG 2000: ${csiz} components (1 to 4 are decoded)`);
  if (lsiz !== 38 + 3 * csiz || codestream.length < s + lsiz) fail(field, 'JPEG 2000: SIZ marker length does not match its components');
  const width = xsiz - xosiz;
  const height = ysiz - yosiz;
  if (!(width > 0 && height > 0)) fail(field, 'JPEG 2000: the image area is empty');
  if (!(xtsiz > 0 && ytsiz > 0) || xtosiz > xosiz || ytosiz > yosiz) fail(field, 'JPEG 2000: inconsistent tiling');
  // The standard caps a codestream at 65 535 tiles; a header asking for millions is an attack on the decoder.
  if (Math.ceil((xsiz - xtosiz) / xtsiz) * Math.ceil((ysiz - ytosiz) / ytsiz) > 65_535) fail(field, 'JPEG 2000: more than 65 535 tiles');
  const ssiz = codestream[s + 38];
  const bitDepth = (ssiz & 0x7f) + 1;
  if (bitDepth > 16) fail(field, `JPEG 2000: ${bitDepth}-bit samples (at most 16 are decoded)`);
  for (let c = 0; c < csiz; c++) {
    const xr = codestream[s + 38 + 3 * c + 1];
    const yr = codestream[s + 38 + 3 * c + 2];
    if (xr !== 1 || yr !== 1) fail(field, 'JPEG 2000: subsampled components are not decoded');
  }
  return { container, width, height, components: csiz, bitDepth, signed: (ssiz & 0x80) !== 0 };
}

interface FrameInfo { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean }
interface J2KDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): FrameInfo;
  delete(): void;
}
interface OpenJpegModule { J2KDecoder: new () => J2KDecoder }

let modulePromise: Promise<OpenJpegModule> | undefined;

/** The WebAssembly decoder, instantiated once on first use (about 15 ms). */
function openjpeg(): Promise<OpenJpegModule> {
  if (!modulePromise) {
    // The package ships CommonJS that finds its .wasm beside itself; only the decoder build is loaded.
    const factory = createRequire(import.meta.url)('@cornerstonejs/codec-openjpeg/decodewasmjs') as (m: object) => Promise<OpenJpegModule>;
    // OpenJPEG logs every header it reads to stdout; a server's log is no place for that.
    modulePromise = factory({ print: () => {}, printErr: () => {} });
    modulePromise.catch(() => { modulePromise = undefined; });
  }
  return modulePromise;
}

/**
 * Decodes a JPEG 2000 image (JP2 file or bare codestream) to 8-bit interleaved samples. Grey stays
 * one channel; deeper samples are scaled to 8 bits; signed samples are shifted to unsigned.
 */
export async function decodeJpeg2000(bytes: Uint8Array, limits: Partial<Jpeg2000Limits> = {}): Promise<DecodedJpeg2000> {
  const { maxPixels, field } = { ...DEFAULT_LIMITS, ...limits };
  const header = readJpeg2000Header(bytes, field);
  if (header.width * header.height > maxPixels) {
    fail(field, `JPEG 2000: ${header.width} × ${header.height} pixels exceed the limit of ${maxPixels}`);
  }
  const codec = await openjpeg();
  let decoder: J2KDecoder | undefined;
  let frame: FrameInfo;
  let samples: Uint8Array;
  try {
    decoder = new codec.J2KDecoder();
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    decoder.decode();
    frame = decoder.getFrameInfo();
    // A view into the WebAssembly heap, valid until the next call: copied out below before delete().
    samples = decoder.getDecodedBuffer();
    const bytesPerSample = frame.bitsPerSample > 8 ? 2 : 1;
    if (frame.width !== header.width || frame.height !== header.height || frame.componentCount !== header.components
      || samples.length !== frame.width * frame.height * frame.componentCount * bytesPerSample) {
      fail(field, 'JPEG 2000: the codestream could not be decoded (truncated or corrupt)');
    }
    const data = toEightBit(samples, frame);
    return { width: frame.width, height: frame.height, channels: frame.componentCount, data };
  } catch (err) {
    if (err instanceof FaceproofError) throw err;
    // Emscripten throws numbers (C++ exceptions) or a RuntimeError on abort; after an abort the
    // instance is unusable, so the next call starts a fresh one.
    if (err instanceof WebAssembly.RuntimeError) modulePromise = undefined;
    return fail(field, 'JPEG 2000: the codestream could not be decoded (truncated or corrupt)');
  } finally {
    try { decoder?.delete(); } catch { modulePromise = undefined; }
  }
}

/** Copies the decoder's samples out of the WebAssembly heap as unsigned 8-bit. */
function toEightBit(samples: Uint8Array, frame: FrameInfo): Buffer {
  const count = frame.width * frame.height * frame.componentCount;
  const bits = frame.bitsPerSample;
  if (bits === 8 && !frame.isSigned) return Buffer.from(samples);
  const out = Buffer.allocUnsafe(count);
  const max = 2 ** bits - 1;
  const offset = frame.isSigned ? 2 ** (bits - 1) : 0;
  if (bits > 8) {
    // Little-endian 16-bit words (the WebAssembly heap's order), signed ones as two's complement.
    const view = new DataView(samples.buffer, samples.byteOffset, count * 2);
    for (let i = 0; i < count; i++) {
      const v = (frame.isSigned ? view.getInt16(i * 2, true) : view.getUint16(i * 2, true)) + offset;
      out[i] = Math.round((Math.min(Math.max(v, 0), max) * 255) / max);
    }
  } else {
    for (let i = 0; i < count; i++) {
      const v = (frame.isSigned ? (samples[i] << 24) >> 24 : samples[i]) + offset;
      out[i] = Math.round((Math.min(Math.max(v, 0), max) * 255) / max);
    }
  }
  return out;
}

/**
 * A JPEG 2000 image as PNG, for the face engine (which reads JPEG, PNG and WebP). zlib level 1: a
 * photograph barely compresses (a 413 × 531 face: 643 KB against 589 KB at the default level 6),
 * and it is five times faster (10 ms against 53 ms), which matters beside a 50 ms decode.
 */
export async function jpeg2000ToPng(bytes: Uint8Array, limits: Partial<Jpeg2000Limits> = {}): Promise<Buffer> {
  const { width, height, channels, data } = await decodeJpeg2000(bytes, limits);
  return sharp(data, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } }).png({ compressionLevel: 1 }).toBuffer();
}
