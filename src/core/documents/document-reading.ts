import type { DocumentReader, ReadDocument } from '../../engine/document/document-reader.ts';
import { measureDocumentCapture, type DocumentCaptureMeasures } from '../../engine/quality/document-capture.ts';

/** The capture's measures and the issues a verifier would ask the user to fix. */
export interface CaptureQuality {
  /** The engine's measures, and the MRZ character pitch in pixels they give for the document's format. */
  measures: DocumentCaptureMeasures & { pixelsPerCharacter: number };
  issues: Array<'blurred' | 'glare' | 'cut_corners' | 'too_small'>;
}

/**
 * Thresholds on the capture measures, set on the 23 shared document images (scans and renders;
 * docs/documents.md gives each one's measures). They are provisional: the set holds no camera
 * photo, where glare and cut corners actually happen. Each issue is one a user fixes by capturing again.
 */
export const CAPTURE_LIMITS = {
  /** Below this the strokes are smeared: the shared scans measure 0.20–0.77 and renders 0.5–1.1; the one blurred low-resolution scan 0.13. */
  minSharpness: 0.15,
  /** On tinted paper, a grid cell more than this share clipped white is a reflection (tinted scans measure ≤ 0.58). */
  maxGlareFraction: 0.6,
  /** Paper this bright (median luminance) is white itself, so clipped white there says nothing of glare. */
  whitePaperLuminance: 245,
  /**
   * A corner further outside the photo than this share of the page's diagonal: part of the page is
   * missing. The quadrilateral comes from the MRZ and nominal page sizes, so edge-to-edge scans
   * already reach 0.06; only a clear cut counts.
   */
  maxCornersOutside: 0.1,
  /** Fewer pixels than this per MRZ character (ICAO pitch 2.54 mm) and OCR-B's strokes merge: the shared scans that read exactly have ≥ 8.5. */
  minPixelsPerCharacter: 8,
};

/** Page width in millimetres per format (ICAO 9303 parts 4–7): how a page's pixels become a character pitch. */
const PAGE_WIDTH_MM: Record<ReadDocument['format'], number> = { TD1: 85.6, TD2: 105, TD3: 125, MRVA: 120, MRVB: 105 };
const MRZ_PITCH_MM = 2.54;

export function judgeCapture(measures: DocumentCaptureMeasures, format: ReadDocument['format']): CaptureQuality {
  const issues: CaptureQuality['issues'] = [];
  const pixelsPerCharacter = Math.round(((measures.pageWidth * MRZ_PITCH_MM) / PAGE_WIDTH_MM[format]) * 10) / 10;
  if (measures.sharpness < CAPTURE_LIMITS.minSharpness) issues.push('blurred');
  if (measures.paperLuminance < CAPTURE_LIMITS.whitePaperLuminance && measures.glareFraction > CAPTURE_LIMITS.maxGlareFraction) issues.push('glare');
  if (measures.cornersOutside > CAPTURE_LIMITS.maxCornersOutside) issues.push('cut_corners');
  if (pixelsPerCharacter < CAPTURE_LIMITS.minPixelsPerCharacter) issues.push('too_small');
  return { measures: { ...measures, pixelsPerCharacter }, issues };
}

export interface ReadDocumentView {
  format: ReadDocument['format'];
  mrz: ReadDocument['mrz'];
  quad: ReadDocument['quad'];
  page: { width: number; height: number; image: Buffer };
  portrait: { box: { x: number; y: number; width: number; height: number }; page_box: { x: number; y: number; width: number; height: number }; template: string | null } | null;
  capture: CaptureQuality;
}

/** The engine's document reader, with each portrait's template and the capture's verdicts added. */
export class DocumentReading {
  constructor(private readonly reader: DocumentReader) {}

  async read(bytes: Buffer, templateOf: (png: Buffer) => Promise<string | null>): Promise<ReadDocumentView[]> {
    const documents = await this.reader.read(bytes);
    return Promise.all(documents.map(async (d) => {
      const capture = judgeCapture(await measureDocumentCapture(d.page.png, d.quad, d.image), d.format);
      const portrait = d.portrait ? { box: d.portrait.box, page_box: d.portrait.page_box, template: await templateOf(await cropPng(d.page.png, d.portrait.page_box)) } : null;
      return { format: d.format, mrz: d.mrz, quad: d.quad, page: { width: d.page.width, height: d.page.height, image: d.page.png }, portrait, capture };
    }));
  }

  close(): Promise<void> | void {
    return this.reader.close();
  }
}

/** The portrait with a margin of half its size: the face engine needs some context around a face. */
async function cropPng(png: Buffer, box: { x: number; y: number; width: number; height: number }): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  const meta = await sharp(png).metadata();
  const W = meta.width ?? 0, H = meta.height ?? 0;
  const left = Math.max(0, Math.floor(box.x - box.width / 2));
  const top = Math.max(0, Math.floor(box.y - box.height / 2));
  const width = Math.min(W - left, Math.ceil(box.width * 2));
  const height = Math.min(H - top, Math.ceil(box.height * 2));
  if (width < 8 || height < 8) return png;
  return sharp(png).extract({ left, top, width, height }).png().toBuffer();
}
