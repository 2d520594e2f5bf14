import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { decodeJpeg2000, jpeg2000ToPng, readJpeg2000Header } from '../src/engine/image/jpeg2000.ts';
import { parseDg2, parseFaceImageData39794 } from '../src/core/documents/data-groups.ts';
import { FaceproofError } from '../src/core/errors.ts';
import { sharedDataDir } from './helpers/images.ts';

interface Encoder {
  getDecodedBuffer(info: object): Uint8Array;
  setDecompositions(levels: number): void;
  encode(): void;
  getEncodedBuffer(): Uint8Array;
  delete(): void;
}

/** Encodes raw samples as a lossless JPEG 2000 codestream with the same package's encoder build. */
let encoderModule: { J2KEncoder: new () => Encoder };
function encodeJ2k(samples: Uint8Array, width: number, height: number, bitsPerSample: 8 | 16, componentCount: 1 | 3): Buffer {
  const encoder = new encoderModule.J2KEncoder();
  encoder.getDecodedBuffer({ width, height, bitsPerSample, componentCount, isSigned: false, isUsingColorTransform: componentCount === 3 }).set(samples);
  encoder.encode();
  const out = Buffer.from(encoder.getEncodedBuffer());
  encoder.delete();
  return out;
}

async function expectChipDataError(promise: Promise<unknown>, message?: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(FaceproofError);
  expect((error as FaceproofError).code).toBe('invalid_chip_data');
  if (message) expect((error as FaceproofError).message).toMatch(message);
}

describe('JPEG 2000 decoding', () => {
  beforeAll(async () => {
    const factory = createRequire(import.meta.url)('@cornerstonejs/codec-openjpeg/wasmjs') as (m: object) => Promise<typeof encoderModule>;
    encoderModule = await factory({ print: () => {}, printErr: () => {} });
  });

  it('decodes lossless RGB, grey and 16-bit grey codestreams to the exact 8-bit samples', async () => {
    // Odd sizes, but at least 2^5 on each side: the encoder's default of 5 wavelet levels needs that.
    const w = 67;
    const h = 45;
    const rgb = new Uint8Array(w * h * 3).map((_, i) => (i * 7 + (i % 3) * 50) & 0xff);
    const rgbOut = await decodeJpeg2000(encodeJ2k(rgb, w, h, 8, 3));
    expect(rgbOut).toMatchObject({ width: w, height: h, channels: 3 });
    expect(Buffer.compare(rgbOut.data, Buffer.from(rgb))).toBe(0);

    const grey = new Uint8Array(w * h).map((_, i) => (i * 13) & 0xff);
    const greyOut = await decodeJpeg2000(encodeJ2k(grey, w, h, 8, 1));
    expect(greyOut).toMatchObject({ width: w, height: h, channels: 1 });
    expect(Buffer.compare(greyOut.data, Buffer.from(grey))).toBe(0);

    const deep = new Uint16Array(w * h).map((_, i) => (i * 257 * 3) & 0xffff);
    const deepOut = await decodeJpeg2000(encodeJ2k(new Uint8Array(deep.buffer), w, h, 16, 1));
    expect(deepOut.channels).toBe(1);
    // 16 → 8 bits by scaling the full range: round(v × 255 / 65535).
    expect([...deepOut.data]).toEqual([...deep].map((v) => Math.round((v * 255) / 65535)));

    const png = await jpeg2000ToPng(encodeJ2k(rgb, w, h, 8, 3));
    const back = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(back.info).toMatchObject({ width: w, height: h, channels: 3 });
    expect(Buffer.compare(back.data, Buffer.from(rgb))).toBe(0);
  });

  it('refuses a header claiming 100 000 × 100 000 pixels before decoding anything', async () => {
    const small = encodeJ2k(new Uint8Array(64 * 64), 64, 64, 8, 1);
    const huge = Buffer.from(small);
    huge.writeUInt32BE(100_000, 8); // Xsiz
    huge.writeUInt32BE(100_000, 12); // Ysiz
    huge.writeUInt32BE(100_000, 24); // XTsiz: one tile, as an encoder of a large image might write
    huge.writeUInt32BE(100_000, 28); // YTsiz
    expect(readJpeg2000Header(huge)).toMatchObject({ width: 100_000, height: 100_000, container: 'j2k' });
    // The message is the header check's: the decoder never saw the bytes.
    await expectChipDataError(decodeJpeg2000(huge), /exceed the limit/);
    huge.writeUInt32BE(1, 24); // 1 × 1 tiles over 100 000 × 100 000: refused whatever the pixel limit
    huge.writeUInt32BE(1, 28);
    await expectChipDataError(decodeJpeg2000(huge, { maxPixels: 1e12 }), /tiles/);
    await expectChipDataError(decodeJpeg2000(small, { maxPixels: 100 }), /exceed the limit/);
  });

  it('turns garbage, empty, truncated and inconsistent input into invalid_chip_data', async () => {
    const good = encodeJ2k(new Uint8Array(64 * 64 * 3).map((_, i) => i & 0xff), 64, 64, 8, 3);
    await expectChipDataError(decodeJpeg2000(Buffer.alloc(0)));
    await expectChipDataError(decodeJpeg2000(Buffer.from('hello, this is not an image at all')));
    await expectChipDataError(decodeJpeg2000(good.subarray(0, 20)), /truncated SIZ/);
    await expectChipDataError(decodeJpeg2000(good.subarray(0, 60)));
    const noComponents = Buffer.from(good);
    noComponents.writeUInt16BE(0, 40); // Csiz
    await expectChipDataError(decodeJpeg2000(noComponents), /components/);
    const deeper = Buffer.from(good);
    deeper[42] = 0x1f; // 32-bit samples
    await expectChipDataError(decodeJpeg2000(deeper), /32-bit/);
    // The codestream with its tail cut: refused or decoded at its declared size, never a crash.
    const cut = await decodeJpeg2000(good.subarray(0, Math.floor(good.length / 2))).catch((err: unknown) => err);
    if (cut instanceof Error) expect((cut as FaceproofError).code).toBe('invalid_chip_data');
    else expect(cut).toMatchObject({ width: 64, height: 64 });
    // The decoder stays usable after every failure.
    expect((await decodeJpeg2000(good)).width).toBe(64);
  });
});

const dataDir = sharedDataDir();
if (!dataDir) console.warn('JPEG 2000 data tests skipped: set FACEPROOF_TEST_DATA to the evaluation data folder (../shared/data) to run them');

describe.skipIf(!dataDir)('JPEG 2000 chip faces (FACEPROOF_TEST_DATA)', () => {
  const docs = () => path.join(dataDir!, 'documents');

  it('decodes the German test chip\'s face to the reference decode (OpenJPEG via Pillow) exactly', async () => {
    const jp2 = fs.readFileSync(path.join(docs(), 'pairs/erika_mustermann_DEU/chip_DG2_face_BSI_testset.jp2'));
    expect(readJpeg2000Header(jp2)).toEqual({ container: 'jp2', width: 413, height: 531, components: 3, bitDepth: 8, signed: false });
    const started = performance.now();
    const decoded = await decodeJpeg2000(jp2);
    const ms = performance.now() - started;
    const reference = await sharp(path.join(docs(), 'pairs/erika_mustermann_DEU/chip_DG2_face_BSI_testset_decoded.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect(decoded).toMatchObject({ width: reference.info.width, height: reference.info.height, channels: 3 });
    // Tolerance: both decoders are OpenJPEG, so every sample should agree; ±1 allows for a different rounding of the inverse colour transform.
    let max = 0;
    for (let i = 0; i < decoded.data.length; i++) max = Math.max(max, Math.abs(decoded.data[i] - reference.data[i]));
    expect(max).toBeLessThanOrEqual(1);
    console.info(`DE test chip face: 413×531 JP2 decoded in ${ms.toFixed(0)} ms (largest sample difference from the reference: ${max})`);
  });

  it('decodes the face inside every DG2 that carries JPEG 2000, and the ISO/IEC 39794-5 vectors', async () => {
    const chips = path.join(docs(), 'chips');
    const files = [
      'tsemrtd/EF_DG2.bin', 'pymrtd/BSI_TR03105-5_ref/EF_DG2.bin', 'pymrtd/ETSI_TR103200_EACAA/EF_DG2.bin',
      'gmrtd/dg2_parse_vectors/ICAO_39794_5_AP_DG2_AllFields.dat', 'gmrtd/dg2_parse_vectors/ICAO_39794_5_AP_DG2_MandFields.dat',
    ];
    const timings: string[] = [];
    for (const file of files) {
      const [face] = parseDg2(fs.readFileSync(path.join(chips, file))).faces;
      expect(face.format).toBe('jpeg2000');
      const started = performance.now();
      const decoded = await decodeJpeg2000(face.image);
      timings.push(`${file}: ${(performance.now() - started).toFixed(0)} ms`);
      expect(decoded).toMatchObject({ width: face.width, height: face.height, channels: 3 });
    }
    console.info(`DG2 JPEG 2000 decode times: ${timings.join('; ')}`);
  });

  it('refuses the 39794 vector whose image has a broken JP2 signature, at parse time', () => {
    const file = path.join(docs(), 'chips/gmrtd/dg2_parse_vectors/ICAO_39794_5_AP_MandFields_InvalidImage.dat');
    expect(() => parseFaceImageData39794(fs.readFileSync(file))).toThrow(/neither JPEG nor JPEG 2000/);
  });
});
