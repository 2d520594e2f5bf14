/**
 * The chip's data groups (ICAO 9303-10 LDS): DG1 (the MRZ), DG2 (the face) and DG15 (the active
 * authentication key), each parsed by its own module over one bounded BER-TLV reader. Malformed
 * input is `invalid_chip_data` with the field `data_groups.N`, never a crash.
 */
export { parseDg1, type Dg1, type Dg1Format } from './dg1.ts';
export { parseDg2, parseFacialRecord19794, parseFaceImageData39794, type Dg2, type ChipFaceImage } from './dg2.ts';
export { parseDg15, type Dg15 } from './dg15.ts';
