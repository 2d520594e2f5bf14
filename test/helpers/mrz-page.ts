import sharp from 'sharp';

/**
 * A document page drawn at test time, with no font installed: librsvg renders paths without
 * fontconfig, so the MRZ alphabet is drawn as strokes (a plain monospaced sans, close enough to
 * OCR-B for an OCR). Glyph boxes are 4 × 6 units, y down.
 */
const GLYPHS: Record<string, string> = {
  A: 'M0,6 L2,0 L4,6 M0.7,4 L3.3,4',
  B: 'M0,0 L0,6 L2.9,6 Q4,6 4,4.5 Q4,3 2.8,3 L0,3 M0,0 L2.7,0 Q3.8,0 3.8,1.5 Q3.8,3 2.8,3',
  C: 'M4,0.8 Q3.2,0 2,0 Q0,0 0,3 Q0,6 2,6 Q3.2,6 4,5.2',
  D: 'M0,0 L0,6 L1.8,6 Q4,6 4,3 Q4,0 1.8,0 Z',
  E: 'M4,0 L0,0 L0,6 L4,6 M0,3 L3,3',
  F: 'M4,0 L0,0 L0,6 M0,3 L3,3',
  G: 'M4,0.8 Q3.2,0 2,0 Q0,0 0,3 Q0,6 2,6 Q4,6 4,3.5 L2.2,3.5',
  H: 'M0,0 L0,6 M4,0 L4,6 M0,3 L4,3',
  I: 'M1,0 L3,0 M2,0 L2,6 M1,6 L3,6',
  J: 'M4,0 L4,4.5 Q4,6 2,6 Q0,6 0,4.5',
  K: 'M0,0 L0,6 M4,0 L0,3.8 M1.3,2.7 L4,6',
  L: 'M0,0 L0,6 L4,6',
  M: 'M0,6 L0,0 L2,4 L4,0 L4,6',
  N: 'M0,6 L0,0 L4,6 L4,0',
  O: 'M2,0 Q0,0 0,3 Q0,6 2,6 Q4,6 4,3 Q4,0 2,0 Z',
  P: 'M0,6 L0,0 L2.8,0 Q4,0 4,1.6 Q4,3.2 2.8,3.2 L0,3.2',
  Q: 'M2,0 Q0,0 0,3 Q0,6 2,6 Q4,6 4,3 Q4,0 2,0 Z M2.5,4.5 L4,6.3',
  R: 'M0,6 L0,0 L2.8,0 Q4,0 4,1.6 Q4,3.2 2.8,3.2 L0,3.2 M2,3.2 L4,6',
  S: 'M4,0.8 Q3.5,0 2,0 Q0,0 0,1.5 Q0,3 2,3 Q4,3 4,4.5 Q4,6 2,6 Q0.5,6 0,5.2',
  T: 'M0,0 L4,0 M2,0 L2,6',
  U: 'M0,0 L0,4.3 Q0,6 2,6 Q4,6 4,4.3 L4,0',
  V: 'M0,0 L2,6 L4,0',
  W: 'M0,0 L1,6 L2,2 L3,6 L4,0',
  X: 'M0,0 L4,6 M4,0 L0,6',
  Y: 'M0,0 L2,3 L4,0 M2,3 L2,6',
  Z: 'M0,0 L4,0 L0,6 L4,6',
  '0': 'M2,0 Q0.4,0 0.4,3 Q0.4,6 2,6 Q3.6,6 3.6,3 Q3.6,0 2,0 Z',
  '1': 'M0.8,1.2 L2.3,0 L2.3,6',
  '2': 'M0.2,1.2 Q0.8,0 2,0 Q3.8,0 3.8,1.7 Q3.8,3 0,6 L4,6',
  '3': 'M0.3,0 L3.7,0 L1.8,2.6 Q4,2.6 4,4.3 Q4,6 2,6 Q0.6,6 0,5.2',
  '4': 'M3,6 L3,0 L0,4.2 L4,4.2',
  '5': 'M3.8,0 L0.6,0 L0.3,2.7 Q1,2.3 2,2.3 Q4,2.3 4,4.2 Q4,6 2,6 Q0.6,6 0,5.2',
  '6': 'M3.5,0.3 Q2.8,0 2,0 Q0,0 0,3.5 Q0,6 2,6 Q4,6 4,4.2 Q4,2.5 2,2.5 Q0.6,2.5 0,3.6',
  '7': 'M0,0 L4,0 L1.5,6',
  '8': 'M2,3 Q0.3,3 0.3,1.5 Q0.3,0 2,0 Q3.7,0 3.7,1.5 Q3.7,3 2,3 Q0,3 0,4.5 Q0,6 2,6 Q4,6 4,4.5 Q4,3 2,3 Z',
  '9': 'M0.5,5.7 Q1.2,6 2,6 Q4,6 4,2.5 Q4,0 2,0 Q0,0 0,1.8 Q0,3.5 2,3.5 Q3.4,3.5 4,2.4',
  '<': 'M3.6,1 L0.6,3 L3.6,5',
};

/** SVG paths writing `text` from (x, y) (top-left of the first glyph); `unit` pixels per glyph unit, glyphs `pitch` units apart. */
export function strokeText(text: string, x: number, y: number, unit: number, pitch = 6.35): string {
  const out: string[] = [];
  [...text].forEach((c, i) => {
    const d = GLYPHS[c];
    if (!d) return;
    const ox = x + i * pitch * unit;
    out.push(`<path transform="translate(${ox.toFixed(2)},${y.toFixed(2)}) scale(${unit})" d="${d}"/>`);
  });
  return `<g fill="none" stroke="#111" stroke-width="${(0.6).toFixed(2)}" stroke-linecap="round" stroke-linejoin="round" vector-effect="none">${out.join('')}</g>`;
}

/**
 * A TD3 data page (125 × 88 mm at `pxPerMm`): a tinted page, a title, a few printed fields, a
 * grey portrait block and the two MRZ lines at the bottom. Returns PNG bytes.
 */
export async function renderTd3Page(lines: [string, string], pxPerMm = 10): Promise<Buffer> {
  const w = Math.round(125 * pxPerMm);
  const h = Math.round(88 * pxPerMm);
  // OCR-B at ICAO size: capitals 2.4 mm tall (6 units), 2.54 mm pitch (6.35 units)
  const unit = (2.4 * pxPerMm) / 6;
  const left = 7 * pxPerMm - 2 * unit;
  const bottom = h - 6 * pxPerMm;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
    <rect width="${w}" height="${h}" fill="#f4efe6"/>
    <rect x="${7 * pxPerMm}" y="${18 * pxPerMm}" width="${32 * pxPerMm}" height="${40 * pxPerMm}" fill="#b9b2a8"/>
    ${strokeText('PASSPORT', 45 * pxPerMm, 8 * pxPerMm, unit * 1.3, 6)}
    ${strokeText('SURNAME', 45 * pxPerMm, 20 * pxPerMm, unit * 0.8, 5.5)}
    ${strokeText('ERIKSSON', 45 * pxPerMm, 25 * pxPerMm, unit, 5.5)}
    ${strokeText('GIVEN NAMES', 45 * pxPerMm, 33 * pxPerMm, unit * 0.8, 5.5)}
    ${strokeText('ANNA MARIA', 45 * pxPerMm, 38 * pxPerMm, unit, 5.5)}
    ${strokeText('12 AUG 74', 45 * pxPerMm, 48 * pxPerMm, unit, 5.5)}
    ${strokeText(lines[0], left, bottom - 4.3 * pxPerMm - 3 * unit, unit)}
    ${strokeText(lines[1], left, bottom - 3 * unit, unit)}
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
