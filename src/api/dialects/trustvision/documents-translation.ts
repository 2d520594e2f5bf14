import { FaceproofError } from '../../../core/errors.ts';
import type { CaptureQuality, ReadDocumentView } from '../../../core/documents/document-reading.ts';
import { CAPTURE_LIMITS } from '../../../core/documents/document-reading.ts';
import { parseMrzDate } from '../../../core/documents/mrz-dates.ts';

/**
 * Translation of Faceproof's identity documents (ICAO 9303: the MRZ, the chip's DG1) into
 * TrustVision's vocabulary: card types, card labels, card boxes, `card_information` fields and
 * sanity verdicts. Every choice is written down in docs/dialects/trustvision.md ("Identity documents").
 */

/** The manual's Card type table. */
export const CARD_TYPES: readonly string[] = [
  'global.passport',
  'in.aadhaar', 'in.pan', 'in.voter', 'in.passport', 'in.national_id',
  'vn.national_id', 'vn.cmnd_old', 'vn.cmnd_new', 'vn.cccd', 'vn.cccd_new', 'vn.tcc', 'vn.passport', 'vn.passport_new',
  'ph.national_id', 'ph.nid', 'ph.ump', 'ph.tin', 'ph.dl', 'ph.sss', 'ph.passport', 'ph.postal', 'ph.philhealth', 'ph.prc', 'ph.loyalty',
];
const CARD_TYPE_SET = new Set(CARD_TYPES);

/** read_doc_info's doc_type: the manual's one value (not read here) and the ICAO 9303 documents this server reads. */
export const DOC_TYPES_READ: readonly string[] = [...CARD_TYPES, 'global.visa', 'global.id_card'];
export const DOC_TYPES_NOT_SERVED: readonly string[] = ['vn.business_license'];

export function cardTypeOf(value: unknown, field = 'card_type'): string {
  if (typeof value !== 'string' || value === '') throw FaceproofError.missing(`${field} is required`, field);
  if (!CARD_TYPE_SET.has(value)) throw new FaceproofError('invalid_parameter', `${field} ${JSON.stringify(value.slice(0, 64))} is not in the Card type table`, field);
  return value;
}

export type DocumentKind = 'passport' | 'id_card' | 'visa';

/** What a card type names: a passport (its data page) or an identity card. */
export function kindOfType(type: string): DocumentKind {
  if (type.endsWith('.visa')) return 'visa';
  return /passport/.test(type) ? 'passport' : 'id_card';
}

/** What the MRZ's document code says: P… a passport, V… a visa, I/A/C… an identity card (ICAO 9303 parts 4–7). */
export function kindOfDocument(fields: Record<string, string | null>): DocumentKind {
  const code = (fields.document_code ?? '').toUpperCase();
  if (code.startsWith('P')) return 'passport';
  if (code.startsWith('V')) return 'visa';
  return 'id_card';
}

/** The side of the card the MRZ was read on: the side with the portrait is the front (a TD1 card's MRZ is on its back). */
export function sideOf(d: ReadDocumentView): 'front' | 'back' {
  return d.format === 'TD1' && !d.portrait ? 'back' : 'front';
}

/** A card label (the manual's card_label table: type and side): the request's type when the document is of its kind, a global one otherwise. */
export function cardLabelOf(cardType: string, d: ReadDocumentView): string {
  const kind = kindOfDocument(d.mrz.fields);
  const base = kindOfType(cardType) === kind ? cardType : `global.${kind}`;
  return `${base}.${sideOf(d)}`;
}

type Point = { x: number; y: number };
export interface CardBox { top_left: Point; top_right: Point; bottom_left: Point; bottom_right: Point }

const r2 = (v: number) => Math.round(v * 100) / 100;

/** The document's quadrilateral (clockwise from the top-left, in the photo's pixels) as the manual's card_box. */
export function cardBoxOf(quad: ReadDocumentView['quad']): CardBox {
  const p = (i: number): Point => ({ x: r2(quad[i][0]), y: r2(quad[i][1]) });
  return { top_left: p(0), top_right: p(1), bottom_right: p(2), bottom_left: p(3) };
}

export interface InformationItem {
  field: string;
  value: string;
  confidence_verdict: 'SURE' | 'UNSURE' | '';
  confidence_score: number;
}

/** SURE at a confidence of 0.9 or more (a character the check digits confirm reads 1). */
const SURE_AT = 0.9;

/** A YYMMDD MRZ date as YYYY-MM-DD (YYYY-MM or YYYY where the document leaves day or month unknown). */
export function isoDate(yymmdd: string | null | undefined, kind: 'birth' | 'expiry', today = new Date()): string | undefined {
  if (!yymmdd) return undefined;
  const d = parseMrzDate(yymmdd, kind, today);
  if (!d) return undefined;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d.month === null) return String(d.year);
  if (d.day === null) return `${d.year}-${pad(d.month)}`;
  return `${d.year}-${pad(d.month)}-${pad(d.day)}`;
}

/**
 * An MRZ's fields (printed or the chip's DG1) as the manual's card_information: identity_number,
 * full_name, first_name, last_name, birth_date, gender, nationality, expiry_date, issuing_country,
 * document_type, optional_data, card_type, card_label. `confidence` gives each field's score (a
 * chip whose data-group hash holds: 1); a field the document does not carry is left out.
 */
export function cardInformation(
  fields: Record<string, string | null>,
  confidence: (names: string[]) => number,
  extra: { cardType?: string; cardLabel?: string } = {},
): InformationItem[] {
  const out: InformationItem[] = [];
  const add = (field: string, value: string | null | undefined, from: string[]) => {
    if (value === undefined || value === null || value === '') return;
    const score = Math.round(Math.max(0, Math.min(1, confidence(from))) * 1e4) / 1e4;
    out.push({ field, value, confidence_verdict: score >= SURE_AT ? 'SURE' : 'UNSURE', confidence_score: score });
  };
  const surname = fields.surname ?? '';
  const given = fields.given_names ?? '';
  add('identity_number', fields.document_number, ['document_number']);
  add('full_name', [given, surname].filter(Boolean).join(' '), ['surname', 'given_names']);
  add('first_name', given, ['given_names']);
  add('last_name', surname, ['surname']);
  add('birth_date', isoDate(fields.birth_date, 'birth'), ['birth_date']);
  add('gender', fields.sex, ['sex']);
  add('nationality', fields.nationality, ['nationality']);
  add('expiry_date', isoDate(fields.expiry_date, 'expiry'), ['expiry_date']);
  add('issuing_country', fields.issuing_state, ['issuing_state']);
  add('document_type', fields.document_code, ['document_code']);
  add('optional_data', fields.optional_data, ['optional_data']);
  add('optional_data_2', fields.optional_data_2, ['optional_data_2']);
  if (extra.cardType) out.push({ field: 'card_type', value: extra.cardType, confidence_verdict: '', confidence_score: 1 });
  if (extra.cardLabel) out.push({ field: 'card_label', value: extra.cardLabel, confidence_verdict: '', confidence_score: 1 });
  return out;
}

/** A read document's confidence of a set of MRZ fields: the lowest of them (1 where the reader gave none). */
export function mrzConfidence(d: ReadDocumentView): (names: string[]) => number {
  const c = (d.mrz as { confidence?: Record<string, number> }).confidence ?? {};
  return (names) => Math.min(1, ...names.map((n) => (typeof c[n] === 'number' ? c[n] : 1)));
}

/** The MRZ's fields as printed (dates YYMMDD, names with spaces), for `mrz.parsed`. */
export function mrzParsed(d: ReadDocumentView) {
  const conf = mrzConfidence(d);
  return Object.entries(d.mrz.fields)
    .filter(([, v]) => v !== null && v !== '')
    .map(([field, value]) => {
      const score = Math.round(conf([field]) * 1e4) / 1e4;
      return { field, value: value as string, confidence_verdict: score >= SURE_AT ? 'SURE' as const : 'UNSURE' as const, confidence_score: score };
    });
}

/** The MRZ's lines for `mrz.raw`: one text box per line (the reader reports no per-line box: bounding_box null). */
export function mrzRaw(d: ReadDocumentView) {
  return (d.mrz.lines as string[]).map((text: string, line: number) => ({ text, bounding_box: null, label: 'mrz', line, group: 0 }));
}

export interface SanityVerdict { verdict: string; score: number; info?: string }

const clamp01 = (v: number) => Math.max(0, Math.min(1, v));
const r4 = (v: number) => Math.round(v * 1e4) / 1e4;

/**
 * verify_id_card_sanity's verdict for one read document: its capture issues in the order a user
 * fixes them (part of the card cut off, blurred, glare, too small), then the MRZ's check digits.
 * score: how far past its limit the measure is (0.5 at the limit, 1 far past it). Null: good.
 */
export function sanityOf(capture: CaptureQuality, mrzValid: boolean): SanityVerdict | null {
  const m = capture.measures;
  const issues = new Set(capture.issues);
  if (issues.has('cut_corners')) return { verdict: 'image_has_cut', score: r4(0.5 + 0.5 * clamp01((m.cornersOutside - CAPTURE_LIMITS.maxCornersOutside) / 0.1)), info: 'cut_corners' };
  if (issues.has('blurred')) return { verdict: 'image_too_blur', score: r4(0.5 + 0.5 * clamp01(1 - m.sharpness / CAPTURE_LIMITS.minSharpness)), info: 'blurred' };
  if (issues.has('glare')) return { verdict: 'image_too_bright', score: r4(0.5 + 0.5 * clamp01((m.glareFraction - CAPTURE_LIMITS.maxGlareFraction) / (1 - CAPTURE_LIMITS.maxGlareFraction))), info: 'glare' };
  if (issues.has('too_small')) return { verdict: 'image_too_blur', score: r4(0.5 + 0.5 * clamp01(1 - m.pixelsPerCharacter / CAPTURE_LIMITS.minPixelsPerCharacter)), info: 'too_small' };
  if (!mrzValid) return { verdict: 'mrz_check_digits_invalid', score: 1, info: 'the MRZ\'s check digits do not all hold' };
  return null;
}
