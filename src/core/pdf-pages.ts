import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { FaceproofError } from './errors.ts';

/** Longest side of a rendered page, in pixels (an A4 page at about 200 dpi). */
export const PAGE_SIDE = 2400;

/** Documents with more pages than this are refused (the work is per page asked, but opening is not free). */
export const MAX_PDF_PAGES = 500;

/** A document still rendering after this long is given up: a PDF can be made to take forever. */
export const RENDER_TIMEOUT_MS = 20_000;

interface WorkerAnswer {
  error?: 'unreadable' | 'too_many_pages' | 'failed';
  message?: string;
  pageCount?: number;
  rendered?: Array<{ number: number; width: number; height: number; data: Uint8Array }>;
}

/** PDFium in a thread of its own for one document (src/core/pdf-render-worker.mjs), stopped after RENDER_TIMEOUT_MS. */
function renderInWorker(bytes: Uint8Array, pages: number[]): Promise<WorkerAnswer> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./pdf-render-worker.mjs', import.meta.url), {
      workerData: { bytes, pages, pageSide: PAGE_SIDE, maxPages: MAX_PDF_PAGES },
      execArgv: [],
    });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      fn();
    };
    const timer = setTimeout(() => finish(() => reject(new FaceproofError('invalid_file_format', `the PDF took longer than ${RENDER_TIMEOUT_MS / 1000} s to render`, 'file'))), RENDER_TIMEOUT_MS);
    worker.once('message', (answer: WorkerAnswer) => finish(() => resolve(answer)));
    worker.once('error', (err) => finish(() => resolve({ error: 'failed', message: err.message })));
    worker.once('exit', (code) => finish(() => resolve({ error: 'failed', message: `the renderer stopped (exit ${code})` })));
  });
}

/**
 * Pages of a PDF as JPEG images, rendered by PDFium (TrustVision's convert_pdf_sync): each page
 * asked for (1-based) is rasterised so that its longer side is PAGE_SIDE pixels, white behind
 * transparent content. A file PDFium cannot open (not a PDF, damaged, password-protected) or render
 * is invalid_file_format; `pages` beyond the document come back in `missing`, not rendered.
 */
export async function renderPdfPages(bytes: Uint8Array, pages: number[]): Promise<{ pageCount: number; images: Map<number, Buffer>; missing: number[] }> {
  if (bytes.byteLength < 5 || Buffer.from(bytes.subarray(0, 1024)).indexOf('%PDF-') < 0) {
    throw new FaceproofError('invalid_file_format', 'the file is not a PDF document', 'file');
  }
  const answer = await renderInWorker(bytes, pages);
  if (answer.error === 'too_many_pages') throw new FaceproofError('invalid_parameter', `the PDF has ${answer.pageCount} pages; at most ${MAX_PDF_PAGES} are taken`, 'file');
  if (answer.error === 'unreadable') throw new FaceproofError('invalid_file_format', `the PDF cannot be opened: ${answer.message}`, 'file');
  if (answer.error || answer.pageCount === undefined) throw new FaceproofError('invalid_file_format', `the PDF cannot be rendered: ${answer.message ?? 'no answer'}`, 'file');
  const pageCount = answer.pageCount;
  const images = new Map<number, Buffer>();
  for (const page of answer.rendered ?? []) {
    images.set(page.number, await sharp(page.data, { raw: { width: page.width, height: page.height, channels: 4 } })
      .flatten({ background: '#ffffff' }).jpeg({ quality: 92 }).toBuffer());
  }
  const missing = [...new Set(pages.filter((p) => p < 1 || p > pageCount))];
  return { pageCount, images, missing };
}
