import { PDFiumLibrary } from '@hyzyla/pdfium';
import sharp from 'sharp';
import { FaceproofError } from './errors.ts';

/** Longest side of a rendered page, in pixels (an A4 page at about 200 dpi). */
export const PAGE_SIDE = 2400;

/** Documents with more pages than this are refused (the work is per page asked, but opening is not free). */
export const MAX_PDF_PAGES = 500;

let library: Promise<PDFiumLibrary> | undefined;

/** PDFium (compiled to WebAssembly, shipped in its npm package), loaded once. */
function pdfium(): Promise<PDFiumLibrary> {
  library ??= PDFiumLibrary.init();
  return library;
}

/**
 * Pages of a PDF as JPEG images, rendered by PDFium (TrustVision's convert_pdf_sync): each page
 * asked for (1-based) is rasterised so that its longer side is PAGE_SIDE pixels, white behind
 * transparent content. A file PDFium cannot open (not a PDF, damaged, password-protected) is
 * invalid_file_format; `pages` beyond the document come back in `missing`, not rendered.
 */
export async function renderPdfPages(bytes: Uint8Array, pages: number[]): Promise<{ pageCount: number; images: Map<number, Buffer>; missing: number[] }> {
  if (bytes.byteLength < 5 || Buffer.from(bytes.subarray(0, 1024)).indexOf('%PDF-') < 0) {
    throw new FaceproofError('invalid_file_format', 'the file is not a PDF document', 'file');
  }
  const lib = await pdfium();
  let document;
  try {
    document = await lib.loadDocument(bytes);
  } catch (err) {
    throw new FaceproofError('invalid_file_format', `the PDF cannot be opened: ${(err as Error).message}`, 'file');
  }
  try {
    const pageCount = document.getPageCount();
    if (pageCount > MAX_PDF_PAGES) throw new FaceproofError('invalid_parameter', `the PDF has ${pageCount} pages; at most ${MAX_PDF_PAGES} are taken`, 'file');
    const missing = [...new Set(pages.filter((p) => p < 1 || p > pageCount))];
    const images = new Map<number, Buffer>();
    for (const number of new Set(pages.filter((p) => p >= 1 && p <= pageCount))) {
      const page = document.getPage(number - 1);
      const { originalWidth, originalHeight } = page.getOriginalSize();
      const longest = Math.max(originalWidth, originalHeight, 1);
      const scale = Math.min(PAGE_SIDE / longest, 8);
      // PDFium renders BGRA; the wrapper hands back its pixels in RGBA order.
      const rendered = await page.render({ scale, transparent: false });
      images.set(number, await sharp(rendered.data, { raw: { width: rendered.width, height: rendered.height, channels: 4 } })
        .flatten({ background: '#ffffff' }).jpeg({ quality: 92 }).toBuffer());
    }
    return { pageCount, images, missing };
  } finally {
    document.destroy();
  }
}
