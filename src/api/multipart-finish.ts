import { createRequire } from 'node:module';

interface DicerPrototype {
  emit(event: string | symbol, ...args: unknown[]): boolean;
  _unpause?: () => void;
}

let mended = false;

/**
 * @fastify/busboy (3.2.6) can leave a multipart body unparsed for good: when a part it skips (no
 * Content-Disposition, or not form-data) is the last one and more than its 16 KiB buffer arrives
 * in one write, its parser (Dicer) pauses the write, the part then ends, and Dicer announces its
 * finish without ever releasing the paused write; nothing is answered until the request timeout
 * (408), while the request holds its engine slot. Releasing the paused write when Dicer really
 * finishes is the step Dicer misses. Found by `npm run fuzz` (seed 20260, request 63062);
 * `test/api-edges.test.ts` sends such a body and expects its 400 at once, so a busboy release that
 * changes this internal shows up there.
 */
export function mendMultipartFinish(): void {
  if (mended) return;
  mended = true;
  const fromMultipart = createRequire(createRequire(import.meta.url).resolve('@fastify/multipart'));
  const Dicer = fromMultipart('@fastify/busboy/deps/dicer/lib/Dicer.js') as { prototype: DicerPrototype };
  const emit = Dicer.prototype.emit;
  if (typeof Dicer.prototype._unpause !== 'function') return;
  Dicer.prototype.emit = function (this: DicerPrototype & { _realFinish?: boolean }, event: string | symbol, ...args: unknown[]) {
    if (event === 'finish' && this._realFinish) this._unpause!();
    return emit.call(this, event, ...args);
  };
}
