import type { LineStrip } from './line-strip.ts';

/**
 * Character cells of an upright MRZ line strip. The MRZ is monospaced, so once the pitch and the
 * first cell are known every character has its own cell, and the OCR's symbols can be put in
 * their cells by position: a symbol the OCR split in two, or a filler it dropped, then shows up as
 * two symbols in one cell or an empty cell instead of shifting the whole line.
 *
 * The filler `<` is the one glyph general-purpose OCR models hardly know (read as K, L, C, or as
 * two symbols); its shape is simple enough to recognise directly: a vertex on the left, two arms
 * ending top right and bottom right, nothing in the middle right and at the left corners.
 */

export interface Cell {
  /** Strip x of the cell's centre. */
  centre: number;
  /** Share of the cell's window that is ink. */
  ink: number;
  /** How much the ink looks like a `<` (higher is more), about −2…2. */
  chevron: number;
}

/** Otsu's threshold over a grey buffer. */
export function otsu(data: Uint8Array): number {
  const hist = new Float64Array(256);
  for (const v of data) hist[v]++;
  const total = data.length;
  let sum = 0;
  for (let i = 0; i < 256; i++) sum += i * hist[i];
  let sumB = 0, wB = 0, best = 0, threshold = 127;
  for (let t = 0; t < 256; t++) {
    wB += hist[t];
    if (wB === 0) continue;
    const wF = total - wB;
    if (wF === 0) break;
    sumB += t * hist[t];
    const mB = sumB / wB;
    const mF = (sum - sumB) / wF;
    const between = wB * wF * (mB - mF) * (mB - mF);
    if (between > best) { best = between; threshold = t; }
  }
  return threshold;
}

/** The cells of a strip: `count` cells from `firstCell` at `pitch`, each measured for ink and chevron shape. */
export function measureCells(strip: LineStrip, count: number, firstCell = strip.firstCell, pitch = strip.pitch, charHeight = 36): Cell[] {
  const { width, height, data } = strip;
  const t = otsu(data);
  const mid = height / 2;
  const cells: Cell[] = [];
  for (let i = 0; i < count; i++) {
    const centre = firstCell + i * pitch;
    const x0 = Math.max(0, Math.round(centre - 0.45 * pitch));
    const x1 = Math.min(width, Math.round(centre + 0.45 * pitch));
    const y0 = Math.max(0, Math.round(mid - 0.62 * charHeight));
    const y1 = Math.min(height, Math.round(mid + 0.62 * charHeight));
    // Ink box inside the window
    let bx0 = x1, bx1 = -1, by0 = y1, by1 = -1, n = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
      if (data[y * width + x] > t) continue;
      n++;
      if (x < bx0) bx0 = x;
      if (x > bx1) bx1 = x;
      if (y < by0) by0 = y;
      if (y > by1) by1 = y;
    }
    const area = Math.max(1, (x1 - x0) * (y1 - y0));
    if (n < 4 || bx1 - bx0 < 3 || by1 - by0 < 3) {
      cells.push({ centre, ink: n / area, chevron: -2 });
      continue;
    }
    const d = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    const c = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    const bw = bx1 - bx0 + 1, bh = by1 - by0 + 1;
    for (let y = by0; y <= by1; y++) for (let x = bx0; x <= bx1; x++) {
      const r = Math.min(2, Math.floor(((y - by0) * 3) / bh));
      const q = Math.min(2, Math.floor(((x - bx0) * 3) / bw));
      c[r][q]++;
      if (data[y * width + x] <= t) d[r][q]++;
    }
    for (let r = 0; r < 3; r++) for (let q = 0; q < 3; q++) d[r][q] /= Math.max(1, c[r][q]);
    const chevron = d[0][2] + d[2][2] + d[1][0] - d[0][0] - d[2][0] - 1.5 * d[1][2]
      // a chevron is shorter than a capital and wider than half of it
      - (bh > 0.95 * charHeight ? 0.5 : 0) - (bw < 0.35 * charHeight ? 0.5 : 0);
    cells.push({ centre, ink: n / area, chevron });
  }
  return cells;
}

/** A cell's glyph at half the strip's resolution, with a margin for shifting: see glyphPatch. */
export interface GlyphPatch { data: Float32Array; width: number; height: number; margin: number }

const PATCH_MARGIN = 2;

/**
 * A cell's window (`cellWidth` strip pixels wide, about a pitch, and 1.3 capital heights high)
 * averaged 2×2, with PATCH_MARGIN half-resolution pixels around it so that it can be compared at
 * small shifts. Undefined where the window leaves the strip.
 */
export function glyphPatch(strip: LineStrip, centre: number, cellWidth: number, charHeight = 36): GlyphPatch | undefined {
  const w = Math.floor(cellWidth / 2);
  const h = Math.floor((1.3 * charHeight) / 2);
  const m = PATCH_MARGIN;
  const pw = w + 2 * m, ph = h + 2 * m;
  const x0 = Math.round(centre - cellWidth / 2) - 2 * m;
  const y0 = Math.round(strip.height / 2 - (1.3 * charHeight) / 2) - 2 * m;
  if (x0 < 0 || y0 < 0 || x0 + 2 * pw > strip.width || y0 + 2 * ph > strip.height) return undefined;
  const data = new Float32Array(pw * ph);
  for (let y = 0; y < ph; y++) {
    const r0 = (y0 + 2 * y) * strip.width, r1 = r0 + strip.width;
    for (let x = 0; x < pw; x++) {
      const c = x0 + 2 * x;
      data[y * pw + x] = (strip.data[r0 + c] + strip.data[r0 + c + 1] + strip.data[r1 + c] + strip.data[r1 + c + 1]) / 4;
    }
  }
  return { data, width: pw, height: ph, margin: m };
}

/**
 * How alike two cells' glyphs are: the best normalised correlation of `a`'s window with `b`'s at
 * shifts of up to ±PATCH_MARGIN half-resolution pixels each way (±4 strip pixels), −1…1. Cells of
 * one document come from one print of one font, so the same character gives near-identical windows
 * (about 0.95 and more on clean scans), where O and 0 — which OCR-B tells apart only by width — do
 * not.
 */
export function glyphSimilarity(a: GlyphPatch, b: GlyphPatch): number {
  if (a.width !== b.width || a.height !== b.height) return -1;
  const m = a.margin;
  const w = a.width - 2 * m, h = a.height - 2 * m, n = w * h;
  // a's window without shift, centred and normalised
  const fixed = new Float32Array(n);
  let mean = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) mean += fixed[y * w + x] = a.data[(y + m) * a.width + x + m];
  mean /= n;
  let norm = 0;
  for (let i = 0; i < n; i++) { fixed[i] -= mean; norm += fixed[i] * fixed[i]; }
  if (norm === 0) return -1;
  norm = Math.sqrt(norm);
  let best = -1;
  for (let dy = -m; dy <= m; dy++) for (let dx = -m; dx <= m; dx++) {
    let dot = 0, sum = 0, sq = 0;
    for (let y = 0; y < h; y++) {
      const row = (y + m + dy) * b.width + m + dx;
      for (let x = 0; x < w; x++) {
        const v = b.data[row + x];
        dot += fixed[y * w + x] * v;
        sum += v;
        sq += v * v;
      }
    }
    const varB = sq - (sum * sum) / n;
    if (varB <= 0) continue;
    const r = dot / (norm * Math.sqrt(varB));
    if (r > best) best = r;
  }
  return best;
}
