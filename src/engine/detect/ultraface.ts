import type { RgbImage } from '../image/raster.ts';
import { openSession, float32Tensor, type InferenceThreads, type ort } from '../onnx/session.ts';
import { nonMaxSuppression, type DetectedBox, type FaceDetector } from './types.ts';

/**
 * Configuration of an Ultra-Light-Fast-style single-shot detector: one input [1,3,H,W], outputs
 * `scores` [1,N,2] (background, face) and `boxes` [1,N,4] as corners normalised to 0..1.
 */
export interface UltraFaceConfig {
  kind: 'ultraface';
  model: string;
  inputWidth: number;
  inputHeight: number;
  /** Per-channel (value − mean) / std applied to 0..255 RGB. */
  mean: [number, number, number];
  std: [number, number, number];
  scoreThreshold: number;
  iouThreshold: number;
  maxFaces: number;
}

export class UltraFaceDetector implements FaceDetector {
  private constructor(readonly id: string, private readonly session: ort.InferenceSession, private readonly config: UltraFaceConfig) {}

  static async load(id: string, config: UltraFaceConfig, threads: InferenceThreads): Promise<UltraFaceDetector> {
    return new UltraFaceDetector(id, await openSession(config.model, threads), config);
  }

  async detect(image: RgbImage): Promise<DetectedBox[]> {
    const { inputWidth: W, inputHeight: H } = this.config;
    const input = this.preprocess(image);
    const out = await this.session.run({ [this.session.inputNames[0]]: float32Tensor(input, [1, 3, H, W]) });
    const scores = out.scores.data as Float32Array;
    const boxes = out.boxes.data as Float32Array;
    const n = scores.length / 2;
    const candidates: DetectedBox[] = [];
    for (let i = 0; i < n; i++) {
      const confidence = scores[i * 2 + 1];
      if (confidence < this.config.scoreThreshold) continue;
      const x1 = clamp(boxes[i * 4], 0, 1) * image.width;
      const y1 = clamp(boxes[i * 4 + 1], 0, 1) * image.height;
      const x2 = clamp(boxes[i * 4 + 2], 0, 1) * image.width;
      const y2 = clamp(boxes[i * 4 + 3], 0, 1) * image.height;
      if (x2 - x1 < 2 || y2 - y1 < 2) continue;
      candidates.push({ x: x1, y: y1, width: x2 - x1, height: y2 - y1, confidence });
    }
    return nonMaxSuppression(candidates, this.config.iouThreshold, this.config.maxFaces);
  }

  /** Bilinear resize of the whole image to the network's input, normalised, planar. */
  private preprocess(image: RgbImage): Float32Array {
    const { inputWidth: W, inputHeight: H, mean, std } = this.config;
    const out = new Float32Array(3 * W * H);
    const plane = W * H;
    const sx = image.width / W;
    const sy = image.height / H;
    const src = image.data;
    for (let v = 0; v < H; v++) {
      const y = Math.max(0, (v + 0.5) * sy - 0.5);
      const y0 = Math.min(image.height - 1, Math.floor(y));
      const y1 = Math.min(image.height - 1, y0 + 1);
      const fy = y - y0;
      for (let u = 0; u < W; u++) {
        const x = Math.max(0, (u + 0.5) * sx - 0.5);
        const x0 = Math.min(image.width - 1, Math.floor(x));
        const x1 = Math.min(image.width - 1, x0 + 1);
        const fx = x - x0;
        const p00 = (y0 * image.width + x0) * 3;
        const p01 = (y0 * image.width + x1) * 3;
        const p10 = (y1 * image.width + x0) * 3;
        const p11 = (y1 * image.width + x1) * 3;
        for (let c = 0; c < 3; c++) {
          const top = src[p00 + c] * (1 - fx) + src[p01 + c] * fx;
          const bottom = src[p10 + c] * (1 - fx) + src[p11 + c] * fx;
          out[c * plane + v * W + u] = (top * (1 - fy) + bottom * fy - mean[c]) / std[c];
        }
      }
    }
    return out;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
