import { warpAffineToPlanar, type RgbImage } from '../image/raster.ts';
import type { Point } from '../geometry.ts';
import type { InferencePool, ModelRunner } from '../onnx/session.ts';

/** A 24×24 grey eye-patch classifier with two logits, as faceplugin's fr_eye (measured on LFW: the second is "open"). */
export interface EyeStateConfig {
  model: string;
  inputSize: number;
  /** Patch side relative to the eye's corner-to-corner width. */
  padding: number;
}

/** Probability that each eye is open, image-left eye first (the subject's right eye). */
export interface EyeOpenness { left: number; right: number }

/** 68-point indices: eyelid points whose mean is the eye centre, and the two corners. */
const EYES = [
  { lids: [37, 38, 40, 41], corners: [36, 39] },
  { lids: [43, 44, 46, 47], corners: [42, 45] },
] as const;

export class EyeStateClassifier {
  private constructor(private readonly session: ModelRunner, private readonly config: EyeStateConfig) {}

  static async load(config: EyeStateConfig, pool: InferencePool): Promise<EyeStateClassifier> {
    return new EyeStateClassifier(await pool.load(config.model, 'all', 'eyes'), config);
  }

  async openness(image: RgbImage, landmarks68: readonly Point[]): Promise<EyeOpenness> {
    const [left, right] = await Promise.all(EYES.map((eye) => this.classify(image, landmarks68, eye.lids, eye.corners)));
    return { left, right };
  }

  private async classify(image: RgbImage, lm: readonly Point[], lids: readonly number[], corners: readonly number[]): Promise<number> {
    const S = this.config.inputSize;
    const cx = lids.reduce((s, i) => s + lm[i][0], 0) / lids.length;
    const cy = lids.reduce((s, i) => s + lm[i][1], 0) / lids.length;
    const side = Math.max(2, Math.abs(lm[corners[1]][0] - lm[corners[0]][0]) * this.config.padding);
    const step = side / S;
    const planar = new Float32Array(3 * S * S);
    const x0 = cx - side / 2, y0 = cy - side / 2;
    warpAffineToPlanar(image, [step, 0, x0 + step / 2 - 0.5, 0, step, y0 + step / 2 - 0.5], S, S, planar, { border: 'clamp' });
    const plane = S * S;
    const grey = new Float32Array(plane);
    for (let i = 0; i < plane; i++) grey[i] = (0.299 * planar[i] + 0.587 * planar[plane + i] + 0.114 * planar[2 * plane + i]) / 255;
    const out = await this.session.run({ [this.session.inputNames[0]]: { data: grey, dims: [1, 1, S, S] } });
    const [closed, open] = out[this.session.outputNames[0]].data;
    return 1 / (1 + Math.exp(closed - open));
  }
}
