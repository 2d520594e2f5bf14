// Renders the pages of one PDF with PDFium (WebAssembly) and exits. Run in its own worker thread,
// per document: the main thread keeps serving while a page renders, a document that takes too long
// is stopped by terminating the thread, and PDFium's memory (its WebAssembly heap only ever grows)
// is returned when the thread ends. Plain JavaScript: workers load it whatever TypeScript loader the
// main thread uses.
import { parentPort, workerData } from 'node:worker_threads';
import { PDFiumLibrary } from '@hyzyla/pdfium';

const { bytes, pages, pageSide, maxPages } = workerData;

async function main() {
  const library = await PDFiumLibrary.init();
  let document;
  try {
    document = await library.loadDocument(new Uint8Array(bytes));
  } catch (err) {
    return { error: 'unreadable', message: String(err?.message ?? err) };
  }
  try {
    const pageCount = document.getPageCount();
    if (pageCount > maxPages) return { error: 'too_many_pages', pageCount };
    const rendered = [];
    for (const number of new Set(pages.filter((p) => p >= 1 && p <= pageCount))) {
      const page = document.getPage(number - 1);
      const { originalWidth, originalHeight } = page.getOriginalSize();
      const scale = Math.min(pageSide / Math.max(originalWidth, originalHeight, 1), 8);
      // PDFium renders BGRA; the wrapper hands back its pixels in RGBA order.
      const image = await page.render({ scale, transparent: false });
      const data = new Uint8Array(image.data);
      rendered.push({ number, width: image.width, height: image.height, data });
    }
    return { pageCount, rendered };
  } finally {
    document.destroy();
    library.destroy();
  }
}

main().then(
  (result) => parentPort.postMessage(result, (result.rendered ?? []).map((r) => r.data.buffer)),
  (err) => parentPort.postMessage({ error: 'failed', message: String(err?.message ?? err) }),
);
