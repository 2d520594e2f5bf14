/**
 * Reader for face-api.js / tfjs weight files (`<model>-weights_manifest.json` + shards),
 * plus the TF → ONNX conventions (weight layouts, padding, input normalisation) that the
 * face-api graph builders share.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type OnnxGraphBuilder } from './onnx-writer.ts';

export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type WeightMap = Map<string, WeightTensor>;

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

interface ManifestGroup {
  paths: string[];
  weights: ManifestEntry[];
}

/**
 * Loads `<modelDir>/<modelName>-weights_manifest.json` and its shards, dequantized to float32.
 * Throws on anything this reader does not understand rather than guessing.
 */
export function loadFaceApiWeights(modelDir: string, modelName: string): WeightMap {
  const manifestPath = join(modelDir, `${modelName}-weights_manifest.json`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as unknown;
  if (!Array.isArray(manifest)) throw new Error(`${manifestPath}: expected an array of weight groups`);

  const weights: WeightMap = new Map();
  for (const group of manifest as ManifestGroup[]) {
    // tfjs splits a group across shard files in order; the entries run across shard boundaries.
    const buffer = concat(group.paths.map((p) => readFileSync(join(modelDir, p))));
    decodeGroup(group.weights, buffer, weights, manifestPath);
  }
  return weights;
}

function decodeGroup(entries: ManifestEntry[], buffer: Uint8Array, out: WeightMap, source: string): void {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let offset = 0;
  for (const entry of entries) {
    if (entry.dtype !== 'float32') throw new Error(`${source}: ${entry.name} has unsupported dtype ${entry.dtype}`);
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const q = entry.quantization;
    const bytesPerValue = q === undefined ? 4 : q.dtype === 'uint8' ? 1 : q.dtype === 'uint16' ? 2 : 0;
    if (bytesPerValue === 0) throw new Error(`${source}: ${entry.name} has unsupported quantization ${q?.dtype}`);
    if (offset + count * bytesPerValue > buffer.byteLength) throw new Error(`${source}: ${entry.name} runs past the end of the weights`);

    const data = new Float32Array(count);
    if (q === undefined) {
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(offset + i * 4, true);
    } else {
      if (typeof q.scale !== 'number' || typeof q.min !== 'number') {
        throw new Error(`${source}: ${entry.name} is quantized without scale/min`);
      }
      // Same affine dequantization (computed in float64, stored as float32) as tfjs io.decodeWeights.
      for (let i = 0; i < count; i++) {
        const v = bytesPerValue === 1 ? buffer[offset + i] : view.getUint16(offset + i * 2, true);
        data[i] = v * q.scale + q.min;
      }
    }
    if (out.has(entry.name)) throw new Error(`${source}: duplicate weight ${entry.name}`);
    out.set(entry.name, { shape: [...entry.shape], data });
    offset += count * bytesPerValue;
  }
  if (offset !== buffer.byteLength) {
    throw new Error(`${source}: manifest describes ${offset} bytes but the weights hold ${buffer.byteLength}`);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/**
 * Hands out weights by name with a shape check, and can assert afterwards that the
 * graph used every weight in the file — a cheap guard against silently skipping a layer.
 */
export class WeightReader {
  private readonly used = new Set<string>();

  constructor(private readonly weights: WeightMap, private readonly source: string) {}

  take(name: string, expectedShape?: readonly number[]): WeightTensor {
    const w = this.weights.get(name);
    if (w === undefined) throw new Error(`${this.source}: missing weight ${name}`);
    if (expectedShape !== undefined && !sameShape(w.shape, expectedShape)) {
      throw new Error(`${this.source}: ${name} has shape [${w.shape.join(',')}], expected [${expectedShape.join(',')}]`);
    }
    this.used.add(name);
    return w;
  }

  assertAllUsed(): void {
    const unused = [...this.weights.keys()].filter((k) => !this.used.has(k));
    if (unused.length > 0) throw new Error(`${this.source}: weights not used by the graph: ${unused.join(', ')}`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** TF conv filter [kh, kw, in, out] (HWIO) → ONNX Conv weight [out, in, kh, kw] (OIHW). */
export function hwioToOihw(w: WeightTensor): WeightTensor {
  if (w.shape.length !== 4) throw new Error(`expected a 4-D HWIO filter, got [${w.shape.join(',')}]`);
  const [kh, kw, cin, cout] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) {
          out[((o * cin + i) * kh + y) * kw + x] = w.data[((y * kw + x) * cin + i) * cout + o];
        }
      }
    }
  }
  return { shape: [cout, cin, kh, kw], data: out };
}

/**
 * TF depthwise filter [kh, kw, C, 1] → ONNX grouped-Conv weight [C, 1, kh, kw] (group = C).
 * This is HWIO → OIHW with the roles of the channel axes swapped.
 */
export function depthwiseToOnnx(w: WeightTensor): WeightTensor {
  const [kh, kw, c, multiplier] = w.shape;
  if (w.shape.length !== 4 || multiplier !== 1) {
    throw new Error(`expected a [kh,kw,C,1] depthwise filter, got [${w.shape.join(',')}]`);
  }
  const asHwio = hwioToOihw({ shape: [kh, kw, 1, c], data: w.data });
  return { shape: [c, 1, kh, kw], data: asHwio.data };
}

/**
 * Explicit begin/end padding that reproduces TF 'SAME' for one spatial axis: output size
 * ceil(in / stride), with any odd padding going at the end (ONNX SAME_UPPER).
 */
export function tfSamePadding(inputSize: number, kernel: number, stride: number): { begin: number; end: number; outputSize: number } {
  const outputSize = Math.ceil(inputSize / stride);
  const total = Math.max((outputSize - 1) * stride + kernel - inputSize, 0);
  const begin = Math.floor(total / 2);
  return { begin, end: total - begin, outputSize };
}

/** Output size of an unpadded ('VALID') window op. */
export function validOutputSize(inputSize: number, kernel: number, stride: number): number {
  return Math.floor((inputSize - kernel) / stride) + 1;
}

/** Per-channel RGB mean that face-api subtracts before dividing by 255 (recognition and landmark nets alike). */
const FACEAPI_MEAN_RGB = [122.782, 117.001, 104.298];

/**
 * Emits face-api's input normalisation, (x - meanRgb) / 255, for an NCHW RGB tensor.
 * Kept as Sub + Div (not folded into the first conv) so the graph input stays raw 0..255
 * pixels and the arithmetic matches face-api's op for op.
 */
export function addFaceApiNormalization(b: OnnxGraphBuilder, input: string): string {
  const mean = b.addInitializer(b.freshName('mean_rgb'), [1, 3, 1, 1], Float32Array.from(FACEAPI_MEAN_RGB));
  const scale = b.addInitializer(b.freshName('pixel_scale'), [], Float32Array.of(255));
  return b.op('Div', [b.op('Sub', [input, mean]), scale], {}, 'normalized');
}
