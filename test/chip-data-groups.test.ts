import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseMrz } from 'mrz';
import sharp from 'sharp';
import { parseDg1, parseDg15, parseDg2, parseFacialRecord19794, parseFaceImageData39794 } from '../src/core/documents/data-groups.ts';
import { readChildren, readTlv } from '../src/core/documents/tlv.ts';
import { jpeg2000ToPng } from '../src/engine/image/jpeg2000.ts';
import { FaceproofError } from '../src/core/errors.ts';
import { loadConfig } from '../src/config.ts';
import { createServices } from '../src/bootstrap.ts';
import type { FaceService } from '../src/core/face-service.ts';
import { sharedDataDir } from './helpers/images.ts';

function chipError(fn: () => unknown): FaceproofError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FaceproofError);
    expect((err as FaceproofError).code).toBe('invalid_chip_data');
    return err as FaceproofError;
  }
  throw new Error('expected invalid_chip_data, nothing was thrown');
}

const bytes = (...b: number[]) => new Uint8Array(b);

describe('BER-TLV reader and data group parsers on hostile input', () => {
  it('reads multi-byte tags and long lengths as views into the input', () => {
    const value = new Uint8Array(300).fill(0x41);
    const element = new Uint8Array([0x5f, 0x1f, 0x82, 0x01, 0x2c, ...value]);
    const tlv = readTlv(element, 0, 'x');
    expect(tlv).toMatchObject({ tag: 0x5f1f, constructed: false, start: 0, end: 305 });
    expect(tlv.value.buffer).toBe(element.buffer);
    expect(readChildren(bytes(0x80, 0x01, 0x05, 0xa1, 0x00), 'x').map((t) => [t.tag, t.constructed])).toEqual([[0x80, false], [0xa1, true]]);
  });

  it('refuses truncation, lengths beyond the bytes, indefinite and oversized lengths, overlong tags', () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [bytes(), /truncated/],
      [bytes(0x61), /no length/],
      [bytes(0x61, 0x05, 0x01), /claims 5 bytes but 1 remain/],
      [bytes(0x61, 0x84, 0xff, 0xff, 0xff, 0xff), /claims 4294967295 bytes/],
      [bytes(0x61, 0x85, 1, 0, 0, 0, 0), /5-byte length/],
      [bytes(0x61, 0x82, 0x01), /inside the length/],
      [bytes(0x61, 0x80, 0x00, 0x00), /indefinite/],
      [bytes(0x7f, 0xff, 0xff, 0xff, 0x01, 0x00), /longer than 3 bytes/],
      [bytes(0x5f), /inside the tag/],
    ];
    for (const [input, message] of cases) {
      const error = chipError(() => readTlv(input, 0, 'data_groups.1'));
      expect(error.message).toMatch(message);
      expect(error.field).toBe('data_groups.1');
    }
  });

  it('refuses malformed DG1, DG2 and DG15 with the data group as the field', () => {
    const mrz88 = 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10';
    const dg1 = (text: string) => new Uint8Array([0x61, text.length + 3, 0x5f, 0x1f, text.length, ...Buffer.from(text, 'latin1')]);
    expect(parseDg1(dg1(mrz88))).toMatchObject({ format: 'TD3', lines: [mrz88.slice(0, 44), mrz88.slice(44)] });
    expect(chipError(() => parseDg1(dg1(mrz88.slice(0, 87)))).message).toMatch(/87 characters/);
    expect(chipError(() => parseDg1(dg1(mrz88.replace('A', 'a')))).message).toMatch(/outside the MRZ alphabet/);
    expect(chipError(() => parseDg1(new Uint8Array([0x75, 0x00]))).field).toBe('data_groups.1');

    // A DG2 claiming 50 MB in four bytes: refused at once, nothing allocated.
    expect(chipError(() => parseDg2(bytes(0x75, 0x84, 0x03, 0x20, 0x00, 0x00, 0x7f, 0x61))).field).toBe('data_groups.2');
    expect(chipError(() => parseDg2(bytes(0x75, 0x03, 0x7f, 0x61, 0x00))).message).toMatch(/no biometric information template/);
    expect(chipError(() => parseDg2(Buffer.from('garbage that is not a DG2'))).field).toBe('data_groups.2');
    // A real 50 MB DG2 of empty elements: refused after a bounded number of them, quickly.
    const big = Buffer.alloc(50 * 1024 * 1024 + 6);
    big.set([0x75, 0x84]);
    big.writeUInt32BE(big.length - 6, 2);
    const started = performance.now();
    expect(chipError(() => parseDg2(big)).message).toMatch(/more than 256 elements/);
    expect(performance.now() - started).toBeLessThan(1000);
    // A FAC record whose face block claims more than the record holds.
    const fac = Buffer.alloc(14 + 32);
    fac.write('FAC\u0000010\u0000', 0, 'latin1');
    fac.writeUInt32BE(fac.length, 8);
    fac.writeUInt16BE(1, 12);
    fac.writeUInt32BE(10_000, 14);
    expect(chipError(() => parseFacialRecord19794(fac)).message).toMatch(/claims 10000 bytes/);
    fac.writeUInt16BE(0xffff, 12);
    expect(chipError(() => parseFacialRecord19794(fac)).message).toMatch(/65535 faces/);
    expect(chipError(() => parseFaceImageData39794(bytes(0xa1, 0x12, 0x12, 0x34))).field).toBe('data_groups.2');

    expect(chipError(() => parseDg15(bytes(0x6f, 0x03, 0x30, 0x01, 0x00))).field).toBe('data_groups.15');
  });
});

const dataDir = sharedDataDir();
if (!dataDir) console.warn('chip data group tests skipped: set FACEPROOF_TEST_DATA to the evaluation data folder (../shared/data) to run them');

/** MANIFEST.tsv rows by file, with the ground truth column. */
function manifest(docs: string): Map<string, { truth: string }> {
  const [header, ...rows] = fs.readFileSync(path.join(docs, 'MANIFEST.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
  const file = header.indexOf('file');
  const truth = header.indexOf('ground_truth_mrz_or_chip_details');
  return new Map(rows.map((r) => [r[file], { truth: r[truth].replace(/^"|"$/g, '') }]));
}

describe.skipIf(!dataDir)('the chips\' data groups (FACEPROOF_TEST_DATA)', () => {
  const docs = () => path.join(dataDir!, 'documents');
  const chip = (file: string) => new Uint8Array(fs.readFileSync(path.join(docs(), 'chips', file)));

  it('reads DG1 of every chip that has one, matching the MANIFEST\'s ground truth and its own check digits', () => {
    const truth = manifest(docs());
    // The German test chip: the MANIFEST gives its DG1 MRZ (first line abridged with "...").
    const de = parseDg1(chip('tsemrtd/EF_DG1.bin'));
    const [line1, line2] = /DG1 MRZ=([^;]*)/.exec(truth.get('chips/tsemrtd/EF_SOD.bin')!.truth)![1].split('|');
    expect(de.format).toBe('TD3');
    expect(de.lines[0].startsWith(line1.replace(/\.\.\.$/, ''))).toBe(true);
    expect(de.lines[1]).toBe(line2);
    // The gmrtd sample DG1 is ICAO 9303's TD2 example, the text of the MANIFEST's passport-td2 rows.
    const td2 = parseDg1(chip('gmrtd/sample_DGs_mixed/EF_DG1.bin'));
    expect(td2.format).toBe('TD2');
    expect(td2.lines.join(' | ')).toBe(truth.get('images/passporteye/passport-td2.png')!.truth);
    // The BSI and ETSI test chips (no MRZ in the MANIFEST): the same Erika Mustermann record, every check digit holding.
    for (const file of ['pymrtd/BSI_TR03105-5_ref/EF_DG1.bin', 'pymrtd/ETSI_TR103200_EACAA/EF_DG1.bin', 'tsemrtd/EF_DG1.bin']) {
      const dg1 = parseDg1(chip(file));
      expect(dg1.lines[0]).toBe('P<D<<MUSTERMANN<<ERIKA<<<<<<<<<<<<<<<<<<<<<<');
      expect(dg1.mrz).toBe(dg1.lines.join(''));
      expect(parseMrz(dg1.lines).valid, file).toBe(true);
    }
  });

  it('reads DG2 of every chip and vector: the faces are the expected images, byte for byte', () => {
    const face = (file: string) => parseDg2(chip(file)).faces;
    const same = (a: Uint8Array, file: string) => Buffer.from(a).equals(fs.readFileSync(path.join(docs(), 'chips', file)));
    // The German test chip: ISO 19794-5, JPEG 2000, 413 × 531 (the MANIFEST: "DG2 face = JPEG2000 413x531").
    const [de] = face('tsemrtd/EF_DG2.bin');
    expect(de).toMatchObject({ format: 'jpeg2000', standard: 'ISO19794-5', width: 413, height: 531, face_image_type: 'full_frontal' });
    expect(same(de.image, 'tsemrtd/EF_DG2_face.jp2')).toBe(true);
    for (const file of ['pymrtd/BSI_TR03105-5_ref/EF_DG2.bin', 'pymrtd/ETSI_TR103200_EACAA/EF_DG2.bin']) {
      expect(face(file)).toEqual([expect.objectContaining({ format: 'jpeg2000', standard: 'ISO19794-5', width: 413, height: 531 })]);
    }
    // gmrtd's vectors, as its own tests assert them: one image each, equal to the reference file.
    const [mixed] = face('gmrtd/sample_DGs_mixed/EF_DG2.bin');
    expect(mixed).toMatchObject({ format: 'jpeg', standard: 'ISO19794-5' });
    expect(same(mixed.image, 'gmrtd/sample_DGs_mixed/EF_DG2_face.jpg')).toBe(true);
    const [bare] = parseFacialRecord19794(chip('gmrtd/dg2_parse_vectors/ISO19794_Test1_Data.bin'));
    expect(same(bare.image, 'gmrtd/dg2_parse_vectors/ISO19794_Test1_Face.jpg')).toBe(true);
    const all = face('gmrtd/dg2_parse_vectors/ICAO_39794_5_AP_DG2_AllFields.dat');
    const mandatory = face('gmrtd/dg2_parse_vectors/ICAO_39794_5_AP_DG2_MandFields.dat');
    expect(all).toHaveLength(1);
    expect(mandatory).toHaveLength(1);
    expect(all[0]).toMatchObject({ format: 'jpeg2000', standard: 'ISO39794-5', width: 413, height: 531, gender: 'female', eye_colour: 'blue', hair_colour: 'brown', face_image_type: 'mrtd' });
    expect(mandatory[0]).toEqual({ format: 'jpeg2000', standard: 'ISO39794-5', width: 413, height: 531, image: expect.anything() });
    for (const f of [all[0], mandatory[0]]) expect(same(f.image, 'gmrtd/dg2_parse_vectors/ICAO_39794_5_AP_DG2_Face.jpg')).toBe(true);
    // …and the two whose image is corrupt (a JPEG marker FF D8 FE, a JP2 signature zeroed) are refused.
    expect(chipError(() => parseFacialRecord19794(chip('gmrtd/dg2_parse_vectors/ISO19794_Test2_Data_InvalidImage.bin'))).message).toMatch(/neither JPEG nor JPEG 2000/);
    expect(chipError(() => parseFaceImageData39794(chip('gmrtd/dg2_parse_vectors/ICAO_39794_5_AP_MandFields_InvalidImage.dat'))).message).toMatch(/neither JPEG nor JPEG 2000/);
  });

  it('decodes the JPEG vectors to their expected images', async () => {
    for (const [dg, expected] of [['gmrtd/sample_DGs_mixed/EF_DG2.bin', 'gmrtd/sample_DGs_mixed/EF_DG2_face.jpg']]) {
      const [face] = parseDg2(chip(dg)).faces;
      const ours = await sharp(face.image).raw().toBuffer({ resolveWithObject: true });
      const theirs = await sharp(path.join(docs(), 'chips', expected)).raw().toBuffer({ resolveWithObject: true });
      expect(ours.info).toMatchObject({ width: theirs.info.width, height: theirs.info.height });
      expect(face).toMatchObject({ width: theirs.info.width, height: theirs.info.height });
      expect(Buffer.compare(ours.data, theirs.data)).toBe(0);
    }
  });

  it('reads DG15 of the test chips (RSA keys) and maps an explicit-parameter EC key to its named curve', () => {
    expect(parseDg15(chip('tsemrtd/EF_DG15.bin'))).toMatchObject({ algorithm: 'rsa', modulusBits: 1024 });
    expect(parseDg15(chip('pymrtd/BSI_TR03105-5_ref/EF_DG15.bin'))).toMatchObject({ algorithm: 'rsa', modulusBits: 1024 });
    expect(parseDg15(chip('pymrtd/ETSI_TR103200_EACAA/EF_DG15.bin'))).toMatchObject({ algorithm: 'rsa', modulusBits: 1024 });
    expect(parseDg15(chip('gmrtd/sample_DGs_mixed/EF_DG15.bin'))).toMatchObject({ algorithm: 'rsa', modulusBits: 1792 });
    // The German chip's DG14 carries its chip-authentication key as a SubjectPublicKeyInfo with
    // explicit domain parameters (p, a, b, G, n, h written out): wrapped as a DG15, it must come
    // back as the named curve those parameters are.
    const dg14 = chip('tsemrtd/EF_DG14.bin');
    const [set] = readChildren(readTlv(dg14, 0, 'x').value, 'x');
    const infos = readChildren(set.value, 'x').map((info) => readChildren(info.value, 'x'));
    const key = infos.find((parts) => parts[1]?.tag === 0x30)![1];
    // The element's whole encoding: its value is a view into DG14, preceded by the tag and length.
    const spkiBytes = Buffer.from(key.value.buffer, key.value.byteOffset - (key.end - key.start - key.value.length), key.end - key.start);
    expect(spkiBytes.toString('hex')).toContain('d7c134aa264366862a18302575d1d787b09f075797da89f57ec8c0ff'); // brainpoolP224r1's p, written out
    const asDg15 = Buffer.concat([Buffer.from([0x6f, 0x82, spkiBytes.length >> 8, spkiBytes.length & 0xff]), spkiBytes]);
    expect(parseDg15(asDg15)).toMatchObject({ algorithm: 'ec', curve: 'brainpoolP224r1' });
  });
});

describe.skipIf(!dataDir)('the German test chip\'s face against the specimen passport (FACEPROOF_TEST_DATA)', () => {
  let service: FaceService;
  beforeAll(async () => { ({ service } = await createServices(loadConfig({ FACEPROOF_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-test-')) }))); });

  it('matches the specimen scan at the ID_DOCUMENT thresholds', async () => {
    const docs = path.join(dataDir!, 'documents');
    const [face] = parseDg2(new Uint8Array(fs.readFileSync(path.join(docs, 'chips/tsemrtd/EF_DG2.bin')))).faces;
    const started = performance.now();
    const chipPng = await jpeg2000ToPng(face.image);
    const decodeMs = performance.now() - started;
    const scan = fs.readFileSync(path.join(docs, 'pairs/erika_mustermann_DEU/doc_DEU_passport_specimen_scan.jpg'));
    const result = await service.compare({
      source: { kind: 'image', source: { kind: 'bytes', data: chipPng } },
      target: { kind: 'image', source: { kind: 'bytes', data: scan } },
      sourceType: 'ID_DOCUMENT', targetType: 'ID_DOCUMENT', allFaces: false, autoRotate: false,
    });
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await jpeg2000ToPng(face.image);
      warm.push(performance.now() - t);
    }
    warm.sort((a, b) => a - b);
    const box = result.targetFace?.box;
    console.info(`DE chip face vs specimen scan: similarity ${result.similarity}, score ${result.score}, FAR ${result.far}, decision ${result.decision} `
      + `(match threshold score ${result.threshold}); scan face at ${box ? `${Math.round(box.x)},${Math.round(box.y)} ${Math.round(box.width)}×${Math.round(box.height)}` : '?'}; `
      + `JPEG 2000 → PNG first ${decodeMs.toFixed(0)} ms (WebAssembly start included), then median ${warm[2].toFixed(0)} ms`);
    expect(result.decision).toBe('match');
  });
});
