import { FaceproofError } from '../errors.ts';
import { readFile, requireChild } from './tlv.ts';

export type Dg1Format = 'TD1' | 'TD2' | 'TD3';

export interface Dg1 {
  /** The MRZ as the chip stores it: the lines concatenated, no separators. */
  mrz: string;
  lines: string[];
  /**
   * The layout by length. TD2 (2×36) also covers the MRV-B visa, TD3 (2×44) the MRV-A visa: the
   * chip does not say which, the document code does (fields are parsed by ./mrz.ts).
   */
  format: Dg1Format;
}

const FIELD = 'data_groups.1';

/** Line count and length of each layout, by the MRZ's total length (ICAO 9303-10, DG1). */
const LAYOUTS: Record<number, { format: Dg1Format; lines: number; length: number }> = {
  90: { format: 'TD1', lines: 3, length: 30 },
  72: { format: 'TD2', lines: 2, length: 36 },
  88: { format: 'TD3', lines: 2, length: 44 },
};

/** DG1: tag 0x61 holding the MRZ data element 0x5F1F. */
export function parseDg1(bytes: Uint8Array): Dg1 {
  const file = readFile(bytes, 0x61, FIELD, 'DG1');
  const element = requireChild(file.value, 0x5f1f, FIELD, 'DG1\'s MRZ data element');
  const layout = LAYOUTS[element.value.length];
  if (!layout) {
    throw new FaceproofError('invalid_chip_data', `DG1's MRZ has ${element.value.length} characters; 90 (TD1), 72 (TD2) or 88 (TD3) expected`, FIELD);
  }
  let mrz = '';
  for (const b of element.value) {
    // The MRZ alphabet is A–Z, 0–9 and '<'; anything else is not an MRZ (and must not reach a parser as text).
    const isMrz = (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || b === 0x3c;
    if (!isMrz) throw new FaceproofError('invalid_chip_data', `DG1's MRZ holds a byte (0x${b.toString(16)}) outside the MRZ alphabet`, FIELD);
    mrz += String.fromCharCode(b);
  }
  const lines: string[] = [];
  for (let i = 0; i < layout.lines; i++) lines.push(mrz.slice(i * layout.length, (i + 1) * layout.length));
  return { mrz, lines, format: layout.format };
}
