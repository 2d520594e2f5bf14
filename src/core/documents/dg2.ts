import { FaceproofError } from '../errors.ts';
import { isJpeg2000, readJpeg2000Header } from '../../engine/image/jpeg2000.ts';
import { descend, findChild, readChildren, readFile, requireChild, unsignedInt, type Tlv } from './tlv.ts';

/** One face image from DG2 and what its biometric record says about it. */
export interface ChipFaceImage {
  /** The container, from the image's own magic bytes (records are known to mislabel it). */
  format: 'jpeg' | 'jpeg2000';
  /** The encoded image exactly as stored (a view into the DG2 bytes). */
  image: Uint8Array;
  /** Size from the image's header, else from the record; absent when neither gives it. */
  width?: number;
  height?: number;
  /** The biometric record's standard: ISO/IEC 19794-5:2005 binary, or ISO/IEC 39794-5 ASN.1. */
  standard: 'ISO19794-5' | 'ISO39794-5';
  gender?: 'male' | 'female' | 'other' | 'unknown';
  eye_colour?: string;
  hair_colour?: string;
  /** ISO 19794-5 only. */
  expression?: string;
  /** 19794-5: basic, full_frontal, token_frontal; 39794-5: mrtd, general_purpose. */
  face_image_type?: string;
  /** Landmark points the record carries (19794-5 feature points). */
  feature_points?: number;
}

export interface Dg2 {
  faces: ChipFaceImage[];
}

const FIELD = 'data_groups.2';
/** ICAO allows a handful of portraits; more instances or faces than this is not a passport. */
const MAX_INSTANCES = 16;
const MAX_FACES_PER_RECORD = 16;
const MAX_FEATURE_POINTS = 64;

function fail(message: string): never {
  throw new FaceproofError('invalid_chip_data', message, FIELD);
}

/**
 * DG2 (ICAO 9303-10): tag 0x75 → biometric information group template 0x7F61 (instance count
 * 0x02, then one 0x7F60 biometric information template per instance) → biometric header template
 * 0xA1 and the biometric data block: 0x5F2E (an ISO 19794-5 'FAC' record) or 0x7F2E (ISO/IEC
 * 39794-5, constructed). Each record's images are returned in order; the first is the portrait.
 */
export function parseDg2(bytes: Uint8Array): Dg2 {
  const file = readFile(bytes, 0x75, FIELD, 'DG2');
  const group = requireChild(file.value, 0x7f61, FIELD, 'DG2\'s biometric information group template');
  const templates = readChildren(group.value, FIELD).filter((t) => t.tag === 0x7f60);
  if (templates.length === 0) fail('DG2 has no biometric information template (0x7F60)');
  if (templates.length > MAX_INSTANCES) fail(`DG2 has ${templates.length} biometric templates (at most ${MAX_INSTANCES})`);
  const faces: ChipFaceImage[] = [];
  for (const template of templates) faces.push(...parseBiometricTemplate(template));
  return { faces };
}

function parseBiometricTemplate(template: Tlv): ChipFaceImage[] {
  const children = readChildren(template.value, FIELD);
  const block = children.find((t) => t.tag === 0x5f2e || t.tag === 0x7f2e);
  if (!block) fail('a DG2 biometric template has no biometric data block (0x5F2E or 0x7F2E)');
  // The tag says which standard, but the bytes are the better witness: a 'FAC' record is 19794-5.
  if (startsWithFac(block.value)) return parseFacialRecord19794(block.value);
  return parseFaceImageData39794(block.value);
}

function startsWithFac(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x46 && b[1] === 0x41 && b[2] === 0x43 && b[3] === 0x00;
}

const GENDER_19794: Record<number, ChipFaceImage['gender']> = { 1: 'male', 2: 'female', 0xff: 'unknown' };
const EYE_19794: Record<number, string> = { 1: 'black', 2: 'blue', 3: 'brown', 4: 'grey', 5: 'green', 6: 'multi_coloured', 7: 'pink', 0xff: 'unknown' };
const HAIR_19794: Record<number, string> = { 1: 'bald', 2: 'black', 3: 'blonde', 4: 'brown', 5: 'grey', 6: 'white', 7: 'red', 0xff: 'unknown' };
const EXPRESSION_19794: Record<number, string> = {
  1: 'neutral', 2: 'smile_closed_jaw', 3: 'smile_open_jaw', 4: 'raised_eyebrows', 5: 'eyes_looking_away', 6: 'squinting', 7: 'frowning',
};
const FACE_IMAGE_TYPE_19794: Record<number, string> = { 0: 'basic', 1: 'full_frontal', 2: 'token_frontal' };

const u16 = (b: Uint8Array, i: number) => b[i] * 256 + b[i + 1];
const u32 = (b: Uint8Array, i: number) => b[i] * 0x1000000 + b[i + 1] * 0x10000 + b[i + 2] * 0x100 + b[i + 3];

/**
 * An ISO/IEC 19794-5:2005 facial record (the 'FAC' binary format ICAO prescribes): a 14-byte
 * header, then per face a 20-byte facial information block, 8 bytes per feature point, a 12-byte
 * image information block and the image. Exported for records that come without DG2's wrapping.
 */
export function parseFacialRecord19794(record: Uint8Array): ChipFaceImage[] {
  if (record.length < 14 || !startsWithFac(record)) fail('the facial record does not begin with \'FAC\\0\'');
  const version = String.fromCharCode(record[4], record[5], record[6]);
  if (version !== '010') fail(`facial record version '${version}' (ICAO prescribes ISO 19794-5:2005, version 010)`);
  const recordLength = u32(record, 8);
  if (recordLength < 14 || recordLength > record.length) fail(`the facial record claims ${recordLength} bytes but ${record.length} are present`);
  const count = u16(record, 12);
  if (count === 0 || count > MAX_FACES_PER_RECORD) fail(`the facial record claims ${count} faces (1 to ${MAX_FACES_PER_RECORD})`);
  const faces: ChipFaceImage[] = [];
  let offset = 14;
  for (let n = 0; n < count; n++) {
    if (offset + 32 > recordLength) fail(`facial record: face ${n + 1} is truncated`);
    const blockLength = u32(record, offset);
    const points = u16(record, offset + 4);
    if (points > MAX_FEATURE_POINTS) fail(`facial record: ${points} feature points (at most ${MAX_FEATURE_POINTS})`);
    const fixed = 20 + 8 * points + 12;
    if (blockLength < fixed) fail(`facial record: face ${n + 1}'s block length ${blockLength} is below its ${fixed} header bytes`);
    if (blockLength > recordLength - offset) fail(`facial record: face ${n + 1} claims ${blockLength} bytes but ${recordLength - offset} remain`);
    const info = offset + 20 + 8 * points;
    const image = record.subarray(info + 12, offset + blockLength);
    const face: ChipFaceImage = {
      ...imageFacts(image, `face ${n + 1}`),
      standard: 'ISO19794-5',
      gender: GENDER_19794[record[offset + 6]],
      eye_colour: EYE_19794[record[offset + 7]],
      hair_colour: HAIR_19794[record[offset + 8]],
      expression: EXPRESSION_19794[u16(record, offset + 12)],
      face_image_type: FACE_IMAGE_TYPE_19794[record[info]],
      feature_points: points,
    };
    face.width ??= u16(record, info + 2) || undefined;
    face.height ??= u16(record, info + 4) || undefined;
    faces.push(dropUndefined(face));
    offset += blockLength;
  }
  return faces;
}

const GENDER_39794: Record<number, ChipFaceImage['gender']> = { 0: 'unknown', 1: 'other', 2: 'male', 3: 'female' };
const EYE_39794: Record<number, string> = {
  0: 'unknown', 1: 'other', 2: 'black', 3: 'blue', 4: 'brown', 5: 'grey', 6: 'green', 7: 'hazel', 8: 'multi_coloured', 9: 'pink',
};
const HAIR_39794: Record<number, string> = {
  0: 'unknown', 1: 'other', 2: 'bald', 3: 'black', 4: 'blonde', 5: 'brown', 6: 'grey', 7: 'white', 8: 'red', 9: 'known_coloured',
};
const FACE_IMAGE_KIND_39794: Record<number, string> = { 0: 'mrtd', 1: 'general_purpose' };

/**
 * An ISO/IEC 39794-5 face image data block (the contents of DG2's 0x7F2E): [1] { [APPLICATION 5]
 * FaceImageDataBlock { [0] version, [1] representation blocks } }, each representation holding
 * [1] imageRepresentation → [0] base → [0] 2D block { [0] the image, [1] image information }.
 * Exported for blocks that come without DG2's wrapping.
 */
export function parseFaceImageData39794(block: Uint8Array): ChipFaceImage[] {
  if (block.length === 0) fail('the ISO/IEC 39794-5 block is empty');
  const outer = readTlv1(block);
  const dataBlock = requireChild(outer.value, 0x65, FIELD, 'the face image data block ([APPLICATION 5])');
  const representations = requireChild(dataBlock.value, 0xa1, FIELD, 'the representation blocks');
  const blocks = readChildren(representations.value, FIELD).filter((t) => t.tag === 0x30);
  if (blocks.length === 0) fail('the ISO/IEC 39794-5 block has no representation');
  if (blocks.length > MAX_FACES_PER_RECORD) fail(`the ISO/IEC 39794-5 block has ${blocks.length} representations (at most ${MAX_FACES_PER_RECORD})`);
  return blocks.map((rep, n) => {
    const base = descend(rep.value, [0xa1, 0xa0, 0xa0], FIELD);
    if (!base) fail(`ISO/IEC 39794-5 representation ${n + 1} has no 2D image (only 2D faces are read)`);
    const data = requireChild(base.value, 0x80, FIELD, `representation ${n + 1}'s image data`);
    const info = findChild(base.value, 0xa1, FIELD);
    const identity = findChild(rep.value, 0xa8, FIELD);
    const face: ChipFaceImage = { ...imageFacts(data.value, `representation ${n + 1}`), standard: 'ISO39794-5' };
    if (info) {
      const kind = codeOf(findChild(info.value, 0xa1, FIELD));
      face.face_image_type = kind === undefined ? undefined : FACE_IMAGE_KIND_39794[kind];
      const size = findChild(info.value, 0xa7, FIELD);
      const w = size && findChild(size.value, 0x80, FIELD);
      const h = size && findChild(size.value, 0x81, FIELD);
      face.width ??= w ? unsignedInt(w.value, FIELD, 'the image width') : undefined;
      face.height ??= h ? unsignedInt(h.value, FIELD, 'the image height') : undefined;
    }
    if (identity) {
      const code = (tag: number) => codeOf(findChild(identity.value, tag, FIELD));
      const g = code(0xa0);
      const e = code(0xa1);
      const hc = code(0xa2);
      face.gender = g === undefined ? undefined : GENDER_39794[g];
      face.eye_colour = e === undefined ? undefined : EYE_39794[e];
      face.hair_colour = hc === undefined ? undefined : HAIR_39794[hc];
    }
    return dropUndefined(face);
  });
}

/** The block's one outer element, which is [1] (context, constructed) in every 39794-5 encoding. */
function readTlv1(block: Uint8Array): Tlv {
  const [outer] = readChildren(block, FIELD);
  if (outer.tag !== 0xa1) fail(`the ISO/IEC 39794-5 block must begin with [1] (0xA1), not 0x${outer.tag.toString(16)}`);
  return outer;
}

/**
 * A 39794 code field: a CHOICE of the code itself ([0]) or an extension block ([1]) that carries
 * the code in its own [0] (the form the ICAO test vectors use for gender and colours).
 */
function codeOf(node: Tlv | undefined): number | undefined {
  if (!node) return undefined;
  const direct = findChild(node.value, 0x80, FIELD);
  if (direct) return unsignedInt(direct.value, FIELD, 'a code');
  const extension = findChild(node.value, 0xa1, FIELD);
  const inner = extension && findChild(extension.value, 0x80, FIELD);
  return inner ? unsignedInt(inner.value, FIELD, 'a code') : undefined;
}

/** The image's container and size from its own header; an image that is neither JPEG nor JPEG 2000 is refused. */
function imageFacts(image: Uint8Array, what: string): Pick<ChipFaceImage, 'format' | 'image' | 'width' | 'height'> {
  if (image.length >= 3 && image[0] === 0xff && image[1] === 0xd8 && image[2] === 0xff) {
    return { format: 'jpeg', image, ...jpegSize(image) };
  }
  if (isJpeg2000(image)) {
    try {
      const { width, height } = readJpeg2000Header(image, FIELD);
      return { format: 'jpeg2000', image, width, height };
    } catch {
      // A header the decoder would refuse still names the format; decoding reports the problem.
      return { format: 'jpeg2000', image };
    }
  }
  const prefix = Buffer.from(image.subarray(0, 8)).toString('hex');
  fail(`DG2 ${what}: the image is neither JPEG nor JPEG 2000 (it begins ${prefix || 'with nothing'})`);
}

/** Width and height from a JPEG's start-of-frame marker; nothing when the markers end first. */
function jpegSize(b: Uint8Array): { width?: number; height?: number } {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return {};
    const marker = b[i + 1];
    if (marker === 0xff) { i++; continue; }
    if (marker === 0xd9 || marker === 0xda) return {};
    if (marker >= 0xd0 && marker <= 0xd7) { i += 2; continue; }
    const length = u16(b, i + 2);
    const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (sof) return i + 9 <= b.length ? { height: u16(b, i + 5), width: u16(b, i + 7) } : {};
    if (length < 2) return {};
    i += 2 + length;
  }
  return {};
}

function dropUndefined<T extends object>(o: T): T {
  for (const key of Object.keys(o) as Array<keyof T>) if (o[key] === undefined) delete o[key];
  return o;
}
