import { FaceproofError } from '../errors.ts';

/**
 * A BER-TLV reader for the chip's files (ICAO 9303-10: data groups are BER-TLV with ISO 7816
 * multi-byte tags; the ASN.1 inside them is DER). Every element is a view into the input, never a
 * copy, and every length is checked against the bytes that remain before it is used, so a file
 * that claims 2 GB holds nothing and a truncated one is refused instead of read past its end.
 */
export interface Tlv {
  /** The tag's bytes as one number, the way ICAO writes them: 0x61, 0x5F1F, 0x7F61. */
  tag: number;
  constructed: boolean;
  /** The value's bytes (a view into the input). */
  value: Uint8Array;
  /** Offset of the tag's first byte and of the byte after the value, in the bytes read. */
  start: number;
  end: number;
}

/** Tags of more than 3 bytes do not occur in ICAO files; refusing them bounds the tag arithmetic. */
const MAX_TAG_BYTES = 3;
/** Nesting deeper than this is not a data group but an attack on the reader's stack. */
const MAX_DEPTH = 32;
/**
 * Elements in one constructed value. ICAO files hold a handful (DG2: a count and a few templates;
 * DG14: a few SecurityInfos); 50 MB of two-byte elements would otherwise be 25 million objects.
 */
const MAX_CHILDREN = 256;

function fail(field: string, message: string): never {
  throw new FaceproofError('invalid_chip_data', message, field);
}

/** Reads one element at `offset`. Indefinite lengths are refused: ICAO files are definite-length. */
export function readTlv(bytes: Uint8Array, offset: number, field: string): Tlv {
  let i = offset;
  if (i >= bytes.length) fail(field, `truncated: a tag was expected at byte ${offset} of ${bytes.length}`);
  const first = bytes[i++];
  let tag = first;
  if ((first & 0x1f) === 0x1f) {
    let n = 1;
    let more = true;
    while (more) {
      if (i >= bytes.length) fail(field, `truncated inside the tag at byte ${offset}`);
      if (++n > MAX_TAG_BYTES) fail(field, `a tag longer than ${MAX_TAG_BYTES} bytes at byte ${offset}`);
      const b = bytes[i++];
      tag = tag * 256 + b;
      more = (b & 0x80) !== 0;
    }
  }
  if (i >= bytes.length) fail(field, `truncated: no length after the tag ${hexTag(tag)} at byte ${offset}`);
  const l0 = bytes[i++];
  let length: number;
  if (l0 < 0x80) {
    length = l0;
  } else if (l0 === 0x80) {
    fail(field, `indefinite length of tag ${hexTag(tag)} at byte ${offset}`);
  } else {
    const count = l0 & 0x7f;
    // Four length bytes already address 4 GB; more is never a real file.
    if (count > 4) fail(field, `a ${count}-byte length of tag ${hexTag(tag)} at byte ${offset}`);
    if (i + count > bytes.length) fail(field, `truncated inside the length of tag ${hexTag(tag)} at byte ${offset}`);
    length = 0;
    for (let k = 0; k < count; k++) length = length * 256 + bytes[i++];
  }
  if (length > bytes.length - i) {
    fail(field, `tag ${hexTag(tag)} at byte ${offset} claims ${length} bytes but ${bytes.length - i} remain`);
  }
  return { tag, constructed: (first & 0x20) !== 0, value: bytes.subarray(i, i + length), start: offset, end: i + length };
}

/** Every element of a constructed value, in order; the value must be exactly a run of elements. */
export function readChildren(value: Uint8Array, field: string): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < value.length) {
    if (out.length === MAX_CHILDREN) fail(field, `more than ${MAX_CHILDREN} elements in one constructed value`);
    const tlv = readTlv(value, offset, field);
    out.push(tlv);
    offset = tlv.end;
  }
  return out;
}

/**
 * The file's one top-level element, which must carry `tag`. Bytes after it are tolerated (chips
 * pad files read in whole blocks) but nothing before it.
 */
export function readFile(bytes: Uint8Array, tag: number, field: string, what: string): Tlv {
  if (bytes.length === 0) fail(field, `${what} is empty`);
  const tlv = readTlv(bytes, 0, field);
  if (tlv.tag !== tag) fail(field, `${what} must begin with tag ${hexTag(tag)}, not ${hexTag(tlv.tag)}`);
  return tlv;
}

/** The first child with `tag`, or undefined. */
export function findChild(value: Uint8Array, tag: number, field: string): Tlv | undefined {
  return readChildren(value, field).find((t) => t.tag === tag);
}

/** The first child with `tag`; its absence is invalid chip data. */
export function requireChild(value: Uint8Array, tag: number, field: string, what: string): Tlv {
  const tlv = findChild(value, tag, field);
  if (!tlv) fail(field, `${what} (tag ${hexTag(tag)}) is missing`);
  return tlv;
}

/** Follows a path of tags from a constructed value, taking the first match at each level. */
export function descend(value: Uint8Array, path: number[], field: string): Tlv | undefined {
  if (path.length > MAX_DEPTH) fail(field, 'nesting too deep');
  let current: Tlv | undefined;
  let inside = value;
  for (const tag of path) {
    current = findChild(inside, tag, field);
    if (!current) return undefined;
    inside = current.value;
  }
  return current;
}

/** A non-negative DER INTEGER (or ENUMERATED) value small enough for a JS number. */
export function unsignedInt(value: Uint8Array, field: string, what: string): number {
  if (value.length === 0 || value.length > 6) fail(field, `${what} is not a small integer`);
  let n = 0;
  for (const b of value) n = n * 256 + b;
  return n;
}

/** A DER OBJECT IDENTIFIER's value as dotted text. */
export function decodeOid(value: Uint8Array, field: string): string {
  if (value.length === 0 || value.length > 64) fail(field, 'an object identifier of impossible length');
  const arcs: number[] = [];
  let n = 0;
  let pending = false;
  for (const b of value) {
    if (n > 2 ** 45) fail(field, 'an object identifier arc too large');
    n = n * 128 + (b & 0x7f);
    pending = (b & 0x80) !== 0;
    if (!pending) {
      if (arcs.length === 0) {
        const first = n < 40 ? 0 : n < 80 ? 1 : 2;
        arcs.push(first, n - first * 40);
      } else {
        arcs.push(n);
      }
      n = 0;
    }
  }
  if (pending) fail(field, 'a truncated object identifier');
  return arcs.join('.');
}

export function hexTag(tag: number): string {
  return `0x${tag.toString(16).toUpperCase().padStart(2, '0')}`;
}
