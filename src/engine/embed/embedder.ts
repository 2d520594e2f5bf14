import type { RgbImage } from '../image/raster.ts';
import type { FaceLandmarks, SimilarityAligner } from '../align/aligner.ts';
import type { GraphOptimization, InferencePool, ModelRunner } from '../onnx/session.ts';
import { buildFaceRecognitionOnnx } from '../onnx/faceapi-recognition.ts';

/**
 * An ArcFace-style recogniser: an aligned square chip, NCHW float input, one embedding vector out.
 * Any ONNX model of that shape can be plugged in with its own preprocessing.
 */
export interface EmbedderConfig {
  kind: 'chip';
  /** ONNX file path, or `faceapi:<model dir>` to build face-api's ResNet-128 from its weights. */
  model: string;
  /** Stable identifier written into templates; change it whenever vectors stop being comparable. */
  templateModelId: string;
  templateVersion: number;
  channelOrder: 'rgb' | 'bgr';
  /** (value − mean) / std on 0..255 values, per channel in the model's channel order. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Average the embeddings of the chip and its mirror image (flip test-time augmentation). */
  flip: boolean;
  /** onnxruntime graph optimisation level; 'all' unless measured slower for this model. */
  optimization?: GraphOptimization;
}

export class Embedder {
  private constructor(
    private readonly session: ModelRunner,
    private readonly config: EmbedderConfig,
    private readonly aligner: SimilarityAligner,
    private readonly batched: boolean,
    readonly dimension: number,
  ) {}

  static async load(config: EmbedderConfig, aligner: SimilarityAligner, pool: InferencePool): Promise<Embedder> {
    const model = config.model.startsWith('faceapi:') ? buildFaceRecognitionOnnx(config.model.slice('faceapi:'.length)) : config.model;
    const session = await pool.load(model, config.optimization, config.templateModelId);
    const size = aligner.config.size;
    const probe = await session.run({ [session.inputNames[0]]: { data: new Float32Array(3 * size * size), dims: [1, 3, size, size] } });
    const dimension = probe[session.outputNames[0]].data.length;
    return new Embedder(session, config, aligner, typeof session.inputShape[0] !== 'number', dimension);
  }

  get templateModelId(): string { return this.config.templateModelId; }
  get templateVersion(): number { return this.config.templateVersion; }

  /** Returns the L2-normalised embedding of one face. */
  async embed(image: RgbImage, face: FaceLandmarks): Promise<Float32Array> {
    const size = this.aligner.config.size;
    const plane = 3 * size * size;
    const views = this.config.flip ? 2 : 1;
    const input = new Float32Array(plane * views);
    for (let v = 0; v < views; v++) this.aligner.sample(image, face, input, v * plane, this.config.channelOrder, v === 1);
    this.normalise(input, size * size);
    const outputs: Float32Array[] = [];
    if (this.batched) {
      const out = await this.session.run({ [this.session.inputNames[0]]: { data: input, dims: [views, 3, size, size] } });
      const data = out[this.session.outputNames[0]].data;
      for (let v = 0; v < views; v++) outputs.push(data.subarray(v * this.dimension, (v + 1) * this.dimension));
    } else {
      // Views run at once: on a pool of several threads they land on different ones.
      const runs = Array.from({ length: views }, (_, v) => this.session.run({
        [this.session.inputNames[0]]: { data: input.slice(v * plane, (v + 1) * plane), dims: [1, 3, size, size] },
      }));
      for (const out of await Promise.all(runs)) outputs.push(out[this.session.outputNames[0]].data);
    }
    const embedding = new Float32Array(this.dimension);
    for (const o of outputs) {
      const unit = l2Normalise(Float32Array.from(o));
      for (let i = 0; i < this.dimension; i++) embedding[i] += unit[i];
    }
    return l2Normalise(embedding);
  }

  private normalise(input: Float32Array, plane: number): void {
    const { mean, std } = this.config;
    if (mean.every((m) => m === 0) && std.every((s) => s === 1)) return;
    for (let i = 0; i < input.length; i++) {
      const c = Math.floor(i / plane) % 3;
      input[i] = (input[i] - mean[c]) / std[c];
    }
  }
}

export function l2Normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i] * v[i];
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}
