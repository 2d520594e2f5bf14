import path from 'node:path';
import { createRequire } from 'node:module';
import { createWorker, OEM, PSM, type Worker } from 'tesseract.js';

/** One line as the OCR read it: the text and, per character, its confidence (0–1) and horizontal centre in the strip. */
export interface OcrLine {
  text: string;
  confidences: number[];
  centres: number[];
}

export type TrainedData = '4.0.0' | '4.0.0_best_int';

const MRZ_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<';
const ALPHABETS = { mrz: MRZ_ALPHABET, digits: '0123456789<' } as const;
export type OcrAlphabet = keyof typeof ALPHABETS;

/** The English traineddata shipped in node_modules (@tesseract.js-data/eng): nothing is fetched at run time. */
export function localLangPath(data: TrainedData): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@tesseract.js-data/eng/package.json')), data);
}

/**
 * One tesseract.js worker per process, started on first use. The recogniser runs in the worker's
 * own thread (WebAssembly), so a read costs the event loop only the messages; reads are queued
 * one after another because the worker holds one image at a time.
 */
export class MrzOcr {
  private worker: Promise<Worker> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private alphabet: OcrAlphabet = 'mrz';
  private layout: 'line' | 'char' = 'line';

  constructor(private readonly data: TrainedData = '4.0.0_best_int') {}

  private start(): Promise<Worker> {
    this.worker ??= (async () => {
      const worker = await createWorker('eng', OEM.LSTM_ONLY, {
        langPath: localLangPath(this.data),
        gzip: true,
        // No cache: the data is read from node_modules each start and nothing is written beside it
        cacheMethod: 'none',
      }, {
        // Dictionaries pull MRZ strings towards English words; the MRZ has none
        load_system_dawg: '0',
        load_freq_dawg: '0',
      });
      await worker.setParameters({
        tessedit_pageseg_mode: PSM.SINGLE_LINE,
        tessedit_char_whitelist: MRZ_ALPHABET,
        user_defined_dpi: '300',
      });
      return worker;
    })();
    this.worker.catch(() => { this.worker = undefined; });
    return this.worker;
  }

  /** Reads one text line from a PNG strip, with the characters restricted to `alphabet`. */
  readLine(png: Buffer, alphabet: OcrAlphabet = 'mrz', layout: 'line' | 'char' = 'line'): Promise<OcrLine> {
    const job = this.queue.then(async () => {
      const worker = await this.start();
      if (alphabet !== this.alphabet || layout !== this.layout) {
        await worker.setParameters({ tessedit_char_whitelist: ALPHABETS[alphabet], tessedit_pageseg_mode: layout === 'line' ? PSM.SINGLE_LINE : PSM.SINGLE_CHAR });
        this.alphabet = alphabet;
        this.layout = layout;
      }
      const { data } = await worker.recognize(png, {}, { blocks: true, text: false });
      const symbols = (data.blocks ?? []).flatMap((b) => b.paragraphs.flatMap((p) => p.lines.flatMap((l) => l.words.flatMap((w) => w.symbols))));
      const keep = symbols.filter((s) => s.text.length === 1 && MRZ_ALPHABET.includes(s.text));
      return {
        text: keep.map((s) => s.text).join(''),
        confidences: keep.map((s) => Math.max(0, Math.min(1, s.confidence / 100))),
        centres: keep.map((s) => (s.bbox.x0 + s.bbox.x1) / 2),
      };
    });
    this.queue = job.catch(() => undefined);
    return job;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.alphabet = 'mrz';
    this.layout = 'line';
    if (worker) await (await worker).terminate();
  }
}
