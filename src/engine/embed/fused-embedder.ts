import type { RgbImage } from '../image/raster.ts';
import type { FaceLandmarks } from '../align/aligner.ts';

/** What the engine needs of a recogniser: one unit-length vector per face, and the template identity. */
export interface FaceEmbedder {
  readonly templateModelId: string;
  readonly templateVersion: number;
  readonly dimension: number;
  embed(image: RgbImage, face: FaceLandmarks): Promise<Float32Array>;
}

/**
 * Score-level fusion of several recognisers as one template: each unit embedding is scaled by
 * √weight and the parts are concatenated. With weights summing to 1 the result is unit length and
 * its cosine with another fused template is Σ weight × cosine of the parts, so a fused template is
 * an ordinary vector for comparison, calibration and the vector index.
 */
export class FusedEmbedder implements FaceEmbedder {
  readonly dimension: number;
  private readonly scales: number[];

  constructor(
    private readonly parts: Array<{ embedder: FaceEmbedder; weight: number }>,
    readonly templateModelId: string,
    readonly templateVersion: number,
  ) {
    const total = parts.reduce((n, p) => n + p.weight, 0);
    if (parts.length < 2 || parts.some((p) => !(p.weight > 0)) || Math.abs(total - 1) > 1e-6) {
      throw new Error('a fusion needs two or more recognisers with positive weights summing to 1');
    }
    this.scales = parts.map((p) => Math.sqrt(p.weight));
    this.dimension = parts.reduce((n, p) => n + p.embedder.dimension, 0);
  }

  async embed(image: RgbImage, face: FaceLandmarks): Promise<Float32Array> {
    const vectors = await Promise.all(this.parts.map((p) => p.embedder.embed(image, face)));
    const out = new Float32Array(this.dimension);
    let offset = 0;
    vectors.forEach((v, i) => {
      for (let j = 0; j < v.length; j++) out[offset + j] = v[j] * this.scales[i];
      offset += v.length;
    });
    return out;
  }
}
