import sharp from 'sharp';

/** Pixel measures of a straightened document page, each a plain number with its unit. */
export interface DocumentCaptureMeasures {
  /** The page's size in pixels after straightening. */
  pageWidth: number;
  pageHeight: number;
  /** Laplacian standard deviation over luminance standard deviation of the page resized to 800 px wide (higher = sharper). */
  sharpness: number;
  /** Largest share of clipped-white pixels (all channels ≥ 250) in any cell of a 6 × 4 grid over the page: a glare spot is local. */
  glareFraction: number;
  /** Median luminance of the page, 0..255: white paper (renders, many scans) is ≥ 245, where clipped white is the paper itself, not glare. */
  paperLuminance: number;
  /** How far the document's corners fall outside the photo, as a fraction of the page's diagonal (0 = all inside). */
  cornersOutside: number;
}

const MEASURE_WIDTH = 800;
const GRID = { x: 6, y: 4 };

/**
 * Measures a page (PNG or any format sharp reads) and its quadrilateral in the original photo: what
 * a verifier needs to ask the user for another capture (blurred, glared, cut off, too far away).
 */
export async function measureDocumentCapture(page: Buffer, quad: ReadonlyArray<readonly [number, number]>, photo: { width: number; height: number }): Promise<DocumentCaptureMeasures> {
  const meta = await sharp(page).metadata();
  const pageWidth = meta.width ?? 0;
  const pageHeight = meta.height ?? 0;
  const { data, info } = await sharp(page).resize({ width: MEASURE_WIDTH }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const w = info.width, h = info.height, c = info.channels;
  const grey = new Float32Array(w * h);
  const cells = new Float64Array(GRID.x * GRID.y);
  const cellTotals = new Float64Array(GRID.x * GRID.y);
  const histogram = new Uint32Array(256);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * c;
      const r = data[i], g = data[i + 1], b = data[i + 2];
      grey[y * w + x] = 0.299 * r + 0.587 * g + 0.114 * b;
      histogram[Math.min(255, Math.round(grey[y * w + x]))]++;
      const cell = Math.min(GRID.y - 1, Math.floor((y * GRID.y) / h)) * GRID.x + Math.min(GRID.x - 1, Math.floor((x * GRID.x) / w));
      cellTotals[cell]++;
      if (r >= 250 && g >= 250 && b >= 250) cells[cell]++;
    }
  }
  let glareFraction = 0;
  for (let i = 0; i < cells.length; i++) glareFraction = Math.max(glareFraction, cellTotals[i] ? cells[i] / cellTotals[i] : 0);
  return {
    pageWidth, pageHeight, sharpness: round3(laplacianOverContrast(grey, w, h)), glareFraction: round3(glareFraction),
    paperLuminance: median(histogram, w * h), cornersOutside: round3(cornersOutside(quad, photo)),
  };
}

function median(histogram: Uint32Array, count: number): number {
  let seen = 0;
  for (let v = 0; v < histogram.length; v++) {
    seen += histogram[v];
    if (seen * 2 >= count) return v;
  }
  return 255;
}

function laplacianOverContrast(grey: Float32Array, w: number, h: number): number {
  let sum = 0, sumSq = 0, lapSum = 0, lapSq = 0, n = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const v = grey[i];
      const lap = grey[i - 1] + grey[i + 1] + grey[i - w] + grey[i + w] - 4 * v;
      sum += v; sumSq += v * v; lapSum += lap; lapSq += lap * lap; n++;
    }
  }
  if (n === 0) return 0;
  const sd = Math.sqrt(Math.max(0, sumSq / n - (sum / n) ** 2));
  const lapSd = Math.sqrt(Math.max(0, lapSq / n - (lapSum / n) ** 2));
  return sd > 1e-6 ? lapSd / sd : 0;
}

function cornersOutside(quad: ReadonlyArray<readonly [number, number]>, photo: { width: number; height: number }): number {
  if (quad.length !== 4) return 0;
  const diagonal = Math.hypot(quad[2][0] - quad[0][0], quad[2][1] - quad[0][1]) || 1;
  let worst = 0;
  for (const [x, y] of quad) {
    const dx = Math.max(0, -x, x - photo.width);
    const dy = Math.max(0, -y, y - photo.height);
    worst = Math.max(worst, Math.hypot(dx, dy));
  }
  return worst / diagonal;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
