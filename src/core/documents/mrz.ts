/**
 * The machine-readable zone of ICAO 9303 documents as text: formats, check digits, correction of
 * the usual OCR confusions where a check digit decides, and the fields.
 *
 * Fields are cut by ICAO 9303's own tables (parts 4–7) rather than by the `mrz` package: `mrz` 5
 * rejects visas (MRV-A/MRV-B: a `V` document code is refused by its TD2/TD3 parsers), sets every
 * field that fails a check to null (a verifier must still see what the document says when a
 * check digit does not hold) and refuses state codes such as `BDR`, `D<<` or Romania's `132`
 * that real documents print. The unit tests hold this parser to `mrz`'s on every valid TD1,
 * TD2 and TD3 they use.
 */

import { states } from 'mrz';

export type MrzFormat = 'TD1' | 'TD2' | 'TD3' | 'MRVA' | 'MRVB';
export type CheckVerdict = 'valid' | 'invalid' | 'absent';

export interface MrzCorrection {
  /** 0-based line and character position. */
  line: number;
  position: number;
  from: string;
  to: string;
}

export interface ParsedMrz {
  format: MrzFormat;
  lines: string[];
  /** Every check digit the format has holds (absent optional ones count as holding). */
  valid: boolean;
  /** As printed: `<` fillers removed, names with spaces, dates YYMMDD, sex M/F/X; null when the format has no such field. */
  fields: Record<string, string | null>;
  checks: Record<string, CheckVerdict>;
  /** 0–1 per field: the OCR's confidence in its characters, raised where a check digit holds. */
  confidence: Record<string, number>;
  corrections: MrzCorrection[];
}

const LINE_SHAPES: Record<MrzFormat, { lines: number; length: number }> = {
  TD1: { lines: 3, length: 30 },
  TD2: { lines: 2, length: 36 },
  TD3: { lines: 2, length: 44 },
  MRVA: { lines: 2, length: 44 },
  MRVB: { lines: 2, length: 36 },
};

export function mrzShape(format: MrzFormat): { lines: number; length: number } {
  return LINE_SHAPES[format];
}

const MRZ_CHARS = /^[A-Z0-9<]*$/;

/** ICAO 9303 part 3 check digit: weights 7, 3, 1; digits as themselves, A–Z as 10–35, `<` as 0. */
export function checkDigit(text: string): number {
  const weights = [7, 3, 1];
  let sum = 0;
  for (let i = 0; i < text.length; i++) sum += charValue(text[i]) * weights[i % 3];
  return sum % 10;
}

function charValue(c: string): number {
  if (c >= '0' && c <= '9') return c.charCodeAt(0) - 48;
  if (c >= 'A' && c <= 'Z') return c.charCodeAt(0) - 55;
  // `<` counts 0; anything outside the alphabet makes no digit hold (see digitHolds)
  return c === '<' ? 0 : NaN;
}

/** The format the line count and length say; a visa is told from a TD2/TD3 by its `V` document code. */
export function detectMrzFormat(lines: readonly string[]): MrzFormat | undefined {
  if (lines.length === 3 && lines.every((l) => l.length === 30)) return 'TD1';
  if (lines.length !== 2 || lines[0].length !== lines[1].length) return undefined;
  const visa = lines[0][0] === 'V';
  if (lines[0].length === 44) return visa ? 'MRVA' : 'TD3';
  if (lines[0].length === 36) return visa ? 'MRVB' : 'TD2';
  return undefined;
}

/** How a character position may be read: digits only, letters only, either, or the sex code. */
type Kind = 'numeric' | 'alpha' | 'alnum' | 'sex';

interface Span { line: number; start: number; end: number }

interface FieldDef { name: string; span: Span; kind: Kind }

/** A check digit, the spans it covers, and the field it protects (for its verdict's name). */
interface CheckDef { name: string; digit: { line: number; at: number }; covers: Span[]; optional?: boolean }

interface Layout { fields: FieldDef[]; checks: CheckDef[]; name: Span }

const s = (line: number, start: number, end: number): Span => ({ line, start, end });

function layoutOf(format: MrzFormat): Layout {
  switch (format) {
    case 'TD1':
      return {
        name: s(2, 0, 30),
        fields: [
          { name: 'document_code', span: s(0, 0, 2), kind: 'alpha' },
          { name: 'issuing_state', span: s(0, 2, 5), kind: 'alpha' },
          { name: 'document_number', span: s(0, 5, 14), kind: 'alnum' },
          { name: 'optional_data', span: s(0, 15, 30), kind: 'alnum' },
          { name: 'birth_date', span: s(1, 0, 6), kind: 'numeric' },
          { name: 'sex', span: s(1, 7, 8), kind: 'sex' },
          { name: 'expiry_date', span: s(1, 8, 14), kind: 'numeric' },
          { name: 'nationality', span: s(1, 15, 18), kind: 'alpha' },
          { name: 'optional_data_2', span: s(1, 18, 29), kind: 'alnum' },
        ],
        checks: [
          { name: 'document_number', digit: { line: 0, at: 14 }, covers: [s(0, 5, 14)] },
          { name: 'birth_date', digit: { line: 1, at: 6 }, covers: [s(1, 0, 6)] },
          { name: 'expiry_date', digit: { line: 1, at: 14 }, covers: [s(1, 8, 14)] },
          { name: 'composite', digit: { line: 1, at: 29 }, covers: [s(0, 5, 30), s(1, 0, 7), s(1, 8, 15), s(1, 18, 29)] },
        ],
      };
    case 'TD2':
    case 'MRVB':
    case 'TD3':
    case 'MRVA': {
      const length = LINE_SHAPES[format].length;
      const visa = format === 'MRVA' || format === 'MRVB';
      const passport = format === 'TD3';
      const fields: FieldDef[] = [
        { name: 'document_code', span: s(0, 0, 2), kind: 'alpha' },
        { name: 'issuing_state', span: s(0, 2, 5), kind: 'alpha' },
        { name: 'document_number', span: s(1, 0, 9), kind: 'alnum' },
        { name: 'nationality', span: s(1, 10, 13), kind: 'alpha' },
        { name: 'birth_date', span: s(1, 13, 19), kind: 'numeric' },
        { name: 'sex', span: s(1, 20, 21), kind: 'sex' },
        { name: 'expiry_date', span: s(1, 21, 27), kind: 'numeric' },
        // TD3: the personal number (14) and its check digit; TD2: 7 characters and the composite; visas: all optional
        { name: 'optional_data', span: s(1, 28, visa ? length : passport ? 42 : 35), kind: 'alnum' },
      ];
      const checks: CheckDef[] = [
        { name: 'document_number', digit: { line: 1, at: 9 }, covers: [s(1, 0, 9)] },
        { name: 'birth_date', digit: { line: 1, at: 19 }, covers: [s(1, 13, 19)] },
        { name: 'expiry_date', digit: { line: 1, at: 27 }, covers: [s(1, 21, 27)] },
      ];
      if (passport) checks.push({ name: 'personal_number', digit: { line: 1, at: 42 }, covers: [s(1, 28, 42)], optional: true });
      if (!visa) checks.push({ name: 'composite', digit: { line: 1, at: length - 1 }, covers: [s(1, 0, 10), s(1, 13, 20), s(1, 21, length - 1)] });
      return { name: s(0, 5, length), fields, checks };
    }
  }
}

/** Per line, per character: what ICAO allows there (`digit` for check digits), for an OCR that can re-read positions with a narrower alphabet. */
export function mrzPositionKinds(format: MrzFormat): Array<Array<'numeric' | 'alpha' | 'alnum' | 'sex' | 'digit' | 'name'>> {
  const layout = layoutOf(format);
  const { lines, length } = LINE_SHAPES[format];
  const out = Array.from({ length: lines }, () => Array.from({ length }, () => 'alnum' as 'numeric' | 'alpha' | 'alnum' | 'sex' | 'digit' | 'name'));
  for (let at = layout.name.start; at < layout.name.end; at++) out[layout.name.line][at] = 'name';
  for (const f of layout.fields) for (let at = f.span.start; at < f.span.end; at++) out[f.span.line][at] = f.kind;
  for (const c of layout.checks) out[c.digit.line][c.digit.at] = 'digit';
  return out;
}

function cut(lines: readonly string[], span: Span): string {
  return lines[span.line].slice(span.start, span.end);
}

/** Whether a check digit holds. An optional field left empty may carry `<` (or 0) as its digit. */
function digitHolds(lines: readonly string[], check: CheckDef): boolean {
  const d = lines[check.digit.line][check.digit.at];
  const text = check.covers.map((c) => cut(lines, c)).join('');
  if (check.optional && /^<*$/.test(text) && (d === '<' || d === '0')) return true;
  const sum = checkDigit(text);
  return !Number.isNaN(sum) && d === String(sum);
}

function verdictOf(lines: readonly string[], check: CheckDef): CheckVerdict {
  const text = check.covers.map((c) => cut(lines, c)).join('');
  if (check.optional && /^<*$/.test(text) && lines[check.digit.line][check.digit.at] === '<') return 'absent';
  return digitHolds(lines, check) ? 'valid' : 'invalid';
}

// The confusions OCR makes between MRZ glyphs. A letter in a digits-only position has one reading
// as a digit; where both are allowed (document numbers, optional data) only ICAO's usual pairs swap.
const TO_DIGIT: Record<string, string> = { O: '0', Q: '0', D: '0', U: '0', I: '1', L: '1', T: '1', Z: '2', S: '5', B: '8', G: '6', A: '4' };
const TO_LETTER: Record<string, string> = { '0': 'O', '1': 'I', '2': 'Z', '5': 'S', '8': 'B', '6': 'G', '4': 'A' };
const ALNUM_TWIN: Record<string, string> = { O: '0', '0': 'O', D: '0', Q: '0', I: '1', '1': 'I', S: '5', '5': 'S', B: '8', '8': 'B', Z: '2', '2': 'Z' };
/** Further shapes a doubted character of a letters-or-digits field may be: 7 and Z share a top bar and a diagonal, 7 and T a top bar over a stem (blurred renders confuse them). */
const ALNUM_DOUBTED_TWINS: Record<string, string[]> = { '7': ['Z', 'T'], Z: ['7'], T: ['7'] };

interface Position { line: number; at: number; kind: Kind | 'digit' }

/** OCR confidence below which a visibly distinct pair (S/5, B/8, Z/2, I/1) may still have been confused. */
const ALNUM_DOUBT = 0.9;

/**
 * Per line, per character: what a second recogniser read there where it differs from the first,
 * best first. Such readings join the twins as readings a check digit may choose.
 */
export type MrzAlternatives = string[][][];

/** Whether `c` may stand at a position of this kind. */
function allowedAt(kind: Kind | 'digit', c: string): boolean {
  if (kind === 'numeric' || kind === 'digit') return /^[0-9<]$/.test(c);
  if (kind === 'alpha') return /^[A-Z<]$/.test(c);
  if (kind === 'sex') return /^[MFX<]$/.test(c);
  return /^[A-Z0-9<]$/.test(c);
}

/** The readings a position may take: the read itself first, then its twin where the kind allows one, then the second recogniser's readings that the kind allows. */
function readingsAt(lines: readonly string[], p: Position, confidences?: number[][], alternatives?: MrzAlternatives): string[] {
  const c = lines[p.line][p.at];
  const out = [c];
  if (p.kind === 'numeric' || p.kind === 'digit') {
    const d = TO_DIGIT[c] ?? (c === 'K' ? '<' : undefined);
    if (d) out.push(d);
  } else if (p.kind === 'alnum') {
    // O and 0 (and D, Q for 0) are near-identical in OCR-B; the other pairs differ visibly, so they
    // swap only where the OCR itself doubted the character
    const doubted = (confidences?.[p.line]?.[p.at] ?? 1) < ALNUM_DOUBT;
    const twin = 'O0DQ'.includes(c) || doubted ? ALNUM_TWIN[c] ?? (c === 'K' ? '<' : undefined) : undefined;
    if (twin) out.push(twin);
    if (doubted) for (const t of ALNUM_DOUBTED_TWINS[c] ?? []) if (!out.includes(t)) out.push(t);
  }
  for (const a of alternatives?.[p.line]?.[p.at] ?? []) if (allowedAt(p.kind, a) && !out.includes(a)) out.push(a);
  return out;
}

function replaceAt(text: string, at: number, c: string): string {
  return text.slice(0, at) + c + text.slice(at + 1);
}

function positionsOf(span: Span, kindAt: (line: number, at: number) => Kind): Position[] {
  const out: Position[] = [];
  for (let at = span.start; at < span.end; at++) out.push({ line: span.line, at, kind: kindAt(span.line, at) });
  return out;
}

/** Changes between letters and digits along a field: document numbers are runs (a prefix of letters, then digits), rarely a mix. */
function transitions(text: string): number {
  let n = 0;
  for (let i = 1; i < text.length; i++) {
    const a = text[i - 1], b = text[i];
    if (a === '<' || b === '<') continue;
    if ((a >= '0' && a <= '9') !== (b >= '0' && b <= '9')) n++;
  }
  return n;
}

const MAX_VARIANTS = 4096;

/**
 * Every reading of `positions` (each keeps its read or takes one of its other readings) under
 * which all `checks` hold, best first: fewest letter/digit alternations, then fewest changes.
 * Empty when none holds or the positions allow too many readings to try.
 */
function readingsThatHold(lines: readonly string[], positions: Position[], checks: CheckDef[], confidences?: number[][], alternatives?: MrzAlternatives): { lines: string[]; fix: MrzCorrection[]; rank: [number, number] }[] {
  const options = positions.map((p) => ({ p, r: readingsAt(lines, p, confidences, alternatives) })).filter((o) => o.r.length > 1);
  const variants = options.reduce((n, o) => n * o.r.length, 1);
  if (variants > MAX_VARIANTS) return [];
  const out: { lines: string[]; fix: MrzCorrection[]; rank: [number, number] }[] = [];
  for (let v = 1; v < variants; v++) {
    const trial = lines.slice();
    const fix: MrzCorrection[] = [];
    let rest = v;
    for (const o of options) {
      const pick = rest % o.r.length;
      rest = Math.floor(rest / o.r.length);
      if (pick === 0) continue;
      trial[o.p.line] = replaceAt(trial[o.p.line], o.p.at, o.r[pick]);
      fix.push({ line: o.p.line, position: o.p.at, from: o.r[0], to: o.r[pick] });
    }
    if (!checks.every((c) => digitHolds(trial, c))) continue;
    const alternations = positions.length ? transitions(positions.map((p) => trial[p.line][p.at]).join('')) : 0;
    out.push({ lines: trial, fix, rank: [alternations, fix.length] });
  }
  return out.sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1]);
}

/**
 * Corrects OCR confusions where the MRZ itself decides:
 * - a field with a check digit that does not hold takes the one reading (letters in digit-only
 *   positions as their digit twins, O/0, I/1, S/5, B/8, Z/2 where both are allowed) under which it
 *   holds; when several readings hold, the one with fewest letter/digit alternations, and if that
 *   still leaves several, the composite check digit must single one out — otherwise nothing changes;
 * - digits inside names and state codes (which ICAO writes in letters only) become letters, where
 *   the rest of the word is letters; a state code that is no known code becomes the known code one
 *   O/D/Q swap away, if exactly one is;
 * - `K` inside a run of `<` fillers becomes `<`.
 * Fields no check digit covers otherwise keep what was read: a document whose check digits really
 * do not hold is reported as printed.
 */
export function correctMrz(format: MrzFormat, input: readonly string[], confidences?: number[][], alternatives?: MrzAlternatives): { lines: string[]; corrections: MrzCorrection[] } {
  const layout = layoutOf(format);
  let lines = input.slice();
  const corrections: MrzCorrection[] = [];
  const apply = (fix: MrzCorrection[]) => {
    for (const f of fix) {
      lines[f.line] = replaceAt(lines[f.line], f.position, f.to);
      corrections.push(f);
    }
  };

  // Letters-only fields: a digit among letters is a misread letter.
  const alphaSpans = [layout.name, ...layout.fields.filter((f) => f.kind === 'alpha').map((f) => f.span)];
  for (const span of alphaSpans) {
    const text = cut(lines, span);
    for (const word of text.matchAll(/[A-Z0-9]+/g)) {
      const letters = word[0].replace(/[0-9]/g, '').length;
      if (letters * 2 <= word[0].length) continue;
      for (let k = 0; k < word[0].length; k++) {
        const c = word[0][k];
        const to = TO_LETTER[c];
        if (to) apply([{ line: span.line, position: span.start + word.index! + k, from: c, to }]);
      }
    }
  }
  for (const f of layout.fields.filter((f) => f.name === 'issuing_state' || f.name === 'nationality')) apply(knownStateFix(lines, f.span));

  // A filler `<` read as `K`: only inside a run of fillers, where no name or code can be
  for (const line of lines.keys()) {
    for (let at = 0; at < lines[line].length; at++) {
      const text = lines[line];
      if (text[at] !== 'K') continue;
      const before = text.slice(Math.max(0, at - 3), at);
      if ((before === '<<<' || (before.endsWith('<<') && at >= 2)) && /^[<K]*$/.test(text.slice(at + 1)) || (before === '<<<' && text[at + 1] === '<')) {
        apply([{ line, position: at, from: 'K', to: '<' }]);
      }
    }
  }

  // Fields with their own check digit.
  const kindAt = (line: number, at: number): Kind => layout.fields.find((f) => f.span.line === line && at >= f.span.start && at < f.span.end)?.kind ?? 'alnum';
  const own = layout.checks.filter((c) => c.name !== 'composite');
  const composite = layout.checks.find((c) => c.name === 'composite');
  const ownPositions = (check: CheckDef): Position[] => [
    ...check.covers.flatMap((span) => positionsOf(span, kindAt)),
    { line: check.digit.line, at: check.digit.at, kind: 'digit' },
  ];
  const undecided: { check: CheckDef; readings: ReturnType<typeof readingsThatHold> }[] = [];
  for (const check of own) {
    if (digitHolds(lines, check)) continue;
    const readings = readingsThatHold(lines, ownPositions(check), [check], confidences, alternatives);
    if (readings.length === 0) continue;
    const best = readings.filter((r) => r.rank[0] === readings[0].rank[0]);
    if (best.length === 1) apply(best[0].fix);
    else undecided.push({ check, readings: best });
  }
  // Several readings hold a field's own digit equally well: the composite may pick one
  for (const { readings } of undecided) {
    if (!composite) continue;
    const holding = readings.filter((r) => {
      const trial = lines.slice();
      for (const f of r.fix) trial[f.line] = replaceAt(trial[f.line], f.position, f.to);
      return digitHolds(trial, composite);
    });
    if (holding.length === 1) apply(holding[0].fix);
  }
  // The composite also covers characters no other digit does (TD1 optional data, long document
  // numbers): the one single swap there that makes it hold, with every own check still holding.
  if (composite && !digitHolds(lines, composite)) {
    const guarded = new Set(own.flatMap((c) => ownPositions(c)).map((p) => `${p.line}:${p.at}`));
    const loose = composite.covers.flatMap((span) => positionsOf(span, kindAt)).filter((p) => !guarded.has(`${p.line}:${p.at}`));
    // One swap at most: the composite alone is one digit for many characters, and many swaps
    // together would satisfy it by chance (one reading in ten does)
    const readings = readingsThatHold(lines, [...loose, { ...composite.digit, kind: 'digit' }], [composite, ...own.filter((c) => digitHolds(lines, c))], confidences, alternatives).filter((r) => r.fix.length === 1);
    const best = readings.filter((r) => r.rank[0] === readings[0]?.rank[0]);
    if (best.length === 1) apply(best[0].fix);
  }
  lines = lines.slice();
  return { lines, corrections };
}

/** ICAO 9303-3 codes (from the `mrz` package's table, which has Germany's `D`), written with fillers as printed. */
function isKnownCode(code: string): boolean {
  const bare = code.replace(/<+$/, '');
  return bare in states || bare === 'UTO' || bare === 'BDR';
}

/** A state code that is no known code becomes the known code one O/D/Q (or I/L) swap away, if exactly one is. */
function knownStateFix(lines: string[], span: Span): MrzCorrection[] {
  const code = cut(lines, span);
  if (isKnownCode(code)) return [];
  const swaps: Record<string, string[]> = { O: ['D', 'Q'], D: ['O'], Q: ['O'], U: ['O'], I: ['L'], L: ['I'] };
  const found: MrzCorrection[] = [];
  for (let k = 0; k < code.length; k++) {
    for (const to of swaps[code[k]] ?? []) {
      if (isKnownCode(replaceAt(code, k, to))) found.push({ line: span.line, position: span.start + k, from: code[k], to });
    }
  }
  return found.length === 1 ? found : [];
}
function splitName(raw: string): { surname: string; given: string } {
  const trimmed = raw.replace(/<+$/, '');
  const sep = trimmed.indexOf('<<');
  const surname = sep < 0 ? trimmed : trimmed.slice(0, sep);
  const given = sep < 0 ? '' : trimmed.slice(sep + 2);
  const words = (t: string) => t.split('<').filter(Boolean).join(' ');
  return { surname: words(surname), given: words(given) };
}

const stripFillers = (t: string) => t.replace(/<+$/, '').replace(/^<+/, '');

/**
 * Parses MRZ lines (already in the MRZ alphabet) into the fields and check verdicts. Throws when
 * the lines fit no format. `confidences`, per line per character 0–1, fill `confidence`; `correct`
 * (off by default: a chip's DG1 is exact text) first corrects OCR confusions (see correctMrz).
 */
export function parseMrzLines(input: readonly string[], options: { confidences?: number[][]; alternatives?: MrzAlternatives; correct?: boolean } = {}): ParsedMrz {
  const cleaned = input.map((l) => l.trim().toUpperCase());
  const format = detectMrzFormat(cleaned);
  if (!format) throw new Error(`not an MRZ: ${cleaned.length} lines of ${cleaned.map((l) => l.length).join('/')} characters (TD1 3×30, TD2/MRV-B 2×36, TD3/MRV-A 2×44)`);
  const { lines, corrections } = !options.correct || !cleaned.every((l) => MRZ_CHARS.test(l))
    ? { lines: cleaned, corrections: [] }
    : correctMrz(format, cleaned, options.confidences, options.alternatives);
  const layout = layoutOf(format);

  const fields: Record<string, string | null> = {};
  for (const f of layout.fields) fields[f.name] = stripFillers(cut(lines, f.span));
  const name = splitName(cut(lines, layout.name));
  fields.surname = name.surname;
  fields.given_names = name.given;
  fields.document_code = fields.document_code!.replace(/<+/g, '');
  const sex = cut(lines, layout.fields.find((f) => f.name === 'sex')!.span);
  fields.sex = sex === '<' ? 'X' : sex;
  fields.birth_date = cut(lines, layout.fields.find((f) => f.name === 'birth_date')!.span);
  fields.expiry_date = cut(lines, layout.fields.find((f) => f.name === 'expiry_date')!.span);
  if (!('optional_data_2' in fields)) fields.optional_data_2 = null;

  const checks: Record<string, CheckVerdict> = {};
  for (const c of layout.checks) checks[c.name] = verdictOf(lines, c);
  if (!('composite' in checks)) checks.composite = 'absent';

  // Long document numbers (TD1, TD2): `<` in the check digit's place, the number's rest and its
  // real check digit at the start of the optional data (ICAO 9303-5 4.2.4 note j).
  const longForm = longDocumentNumber(format, lines);
  if (longForm) {
    fields.document_number = longForm.number;
    fields.optional_data = longForm.rest;
    checks.document_number = String(checkDigit(longForm.number)) === longForm.digit ? 'valid' : 'invalid';
  }

  const valid = Object.values(checks).every((v) => v !== 'invalid') && lines.every((l) => MRZ_CHARS.test(l));
  return { format, lines, valid, fields, checks, confidence: fieldConfidence(layout, lines, checks, options.confidences), corrections };
}

function longDocumentNumber(format: MrzFormat, lines: readonly string[]): { number: string; digit: string; rest: string } | undefined {
  if (format !== 'TD1' && format !== 'TD2') return undefined;
  const [line, at, end] = format === 'TD1' ? [0, 14, 30] : [1, 9, 35];
  if (lines[line][at] !== '<') return undefined;
  const head = lines[line].slice(at - 9, at);
  const tail = /^([A-Z0-9]+)/.exec(lines[line].slice(at + 1, end));
  if (!tail || tail[1].length < 2 || /<+$/.test(head)) return undefined;
  const number = head + tail[1].slice(0, -1);
  return { number, digit: tail[1].slice(-1), rest: stripFillers(lines[line].slice(at + 1 + tail[1].length, end)) };
}

function fieldConfidence(layout: Layout, lines: readonly string[], checks: Record<string, CheckVerdict>, confidences: number[][] | undefined): Record<string, number> {
  const least = (spans: Span[]) => {
    if (!confidences) return 1;
    let m = 1;
    for (const sp of spans) for (let at = sp.start; at < sp.end; at++) m = Math.min(m, confidences[sp.line]?.[at] ?? 1);
    return m;
  };
  const out: Record<string, number> = {};
  for (const f of layout.fields) {
    const check = layout.checks.find((c) => c.name === f.name || (f.name === 'optional_data' && c.name === 'personal_number'));
    const spans = check ? [f.span, { line: check.digit.line, start: check.digit.at, end: check.digit.at + 1 }] : [f.span];
    let c = least(spans);
    // A holding check digit leaves about one undetected misread in ten (an equal-weight swap)
    if (check && checks[check.name] === 'valid') c = 1 - (1 - c) * 0.1;
    if (check && checks[check.name] === 'invalid') c = Math.min(c, 0.5);
    out[f.name] = round3(c);
  }
  const nameC = round3(least([layout.name]));
  out.surname = nameC;
  out.given_names = nameC;
  return out;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
