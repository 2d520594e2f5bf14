import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { FaceEngine } from '../../src/engine/face-engine.ts';
import type { DecodeLimits } from '../../src/engine/image/decode.ts';
import { loadImage } from '../../src/core/image-input.ts';

export interface EmbeddedImage {
  file: string;
  identity: string;
  /** Null when no face was found. */
  vector: Float32Array | null;
  faces: number;
  ms: number;
}

/**
 * Embeds the largest face of every image, as the product does by default, a few at a time so both
 * cores stay busy; shows a progress bar on a terminal.
 */
export async function embedImages(
  engine: FaceEngine,
  limits: DecodeLimits,
  imageDir: string,
  images: Array<{ file: string; identity: string }>,
  concurrency = 2,
): Promise<EmbeddedImage[]> {
  const bar = new cliProgress.SingleBar({ format: 'embedding {bar} {value}/{total} images | {eta}s left', noTTYOutput: false }, cliProgress.Presets.shades_classic);
  if (process.stderr.isTTY) bar.start(images.length, 0);
  const out: EmbeddedImage[] = new Array(images.length);
  let next = 0;
  const worker = async () => {
    while (next < images.length) {
      const i = next++;
      const { file, identity } = images[i];
      const t0 = performance.now();
      const image = await loadImage({ kind: 'bytes', data: fs.readFileSync(path.join(imageDir, file)) }, limits, file);
      const faces = await engine.analyze(image, { autoRotate: false });
      const vector = faces.length > 0 ? await engine.embed(image, faces[0]) : null;
      out[i] = { file, identity, vector, faces: faces.length, ms: performance.now() - t0 };
      if (process.stderr.isTTY) bar.increment();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (process.stderr.isTTY) bar.stop();
  return out;
}

/**
 * Similarity of two embedded images: the dot product of their unit embeddings (the same value the
 * impostor sweep below computes), or −1 when either has no face, which counts the pair as a miss.
 */
export function pairSimilarity(a: Float32Array | null | undefined, b: Float32Array | null | undefined): number {
  if (!a || !b) return -1;
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot;
}

/** Similarities of every cross-identity pair of embedded images (the impostor distribution). */
export function impostorSimilarities(images: EmbeddedImage[]): Float32Array {
  const valid = images.filter((i) => i.vector);
  const dim = valid[0]?.vector?.length ?? 0;
  const flat = new Float32Array(valid.length * dim);
  valid.forEach((img, i) => flat.set(img.vector!, i * dim));
  const ids = valid.map((v) => v.identity);
  let count = 0;
  for (let i = 0; i < valid.length; i++) for (let j = i + 1; j < valid.length; j++) if (ids[i] !== ids[j]) count++;
  const sims = new Float32Array(count);
  let k = 0;
  for (let i = 0; i < valid.length; i++) {
    const oi = i * dim;
    for (let j = i + 1; j < valid.length; j++) {
      if (ids[i] === ids[j]) continue;
      const oj = j * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += flat[oi + d] * flat[oj + d];
      sims[k++] = dot;
    }
  }
  return sims;
}
