import type { Box } from '../detect/types.ts';
import type { RgbImage } from '../image/raster.ts';
import type { InferencePool, ModelRunner } from '../onnx/session.ts';
import { cropToPlanar } from '../crop/box-crop.ts';

/** A Hopenet-style pose regressor (faceplugin's fr_pose): 66 bins of 3° per angle, ImageNet input. */
export interface HeadPoseModelConfig {
  model: string;
  inputSize: number;
  /** The box grown by this share of its size on every side. */
  margin: number;
}

export interface LearnedPose {
  /** Degrees, positive when the face turns towards the image's right (the engine's convention). */
  yaw: number;
  /** Degrees, positive up. */
  pitch: number;
  roll: number;
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

export class HeadPoseModel {
  private constructor(private readonly session: ModelRunner, private readonly config: HeadPoseModelConfig) {}

  static async load(config: HeadPoseModelConfig, pool: InferencePool): Promise<HeadPoseModel> {
    return new HeadPoseModel(await pool.load(config.model, 'all', 'pose'), config);
  }

  /** `box` is in the raster's pixel coordinates. */
  async estimate(image: RgbImage, box: Box): Promise<LearnedPose> {
    const { inputSize: S, margin } = this.config;
    const plane = S * S;
    const input = new Float32Array(3 * plane);
    cropToPlanar(image, { x: box.x - box.width * margin, y: box.y - box.height * margin, width: box.width * (1 + 2 * margin), height: box.height * (1 + 2 * margin) }, S, input);
    for (let c = 0; c < 3; c++) for (let i = c * plane, end = i + plane; i < end; i++) input[i] = (input[i] / 255 - MEAN[c]) / STD[c];
    const out = await this.session.run({ [this.session.inputNames[0]]: { data: input, dims: [1, 3, S, S] } });
    const [yaw, pitch, roll] = this.session.outputNames.map((name) => expectedAngle(out[name].data));
    // The model's yaw is positive towards the image's left: flipped to the engine's convention.
    return { yaw: round1(-yaw), pitch: round1(pitch), roll: round1(roll) };
  }
}

/** Softmax expectation over 66 bins of 3° starting at −99°. */
function expectedAngle(logits: Float32Array): number {
  const max = Math.max(...logits);
  let sum = 0, weighted = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i] - max);
    sum += e;
    weighted += e * i;
  }
  return (weighted / sum) * 3 - 99;
}

const round1 = (v: number) => Math.round(v * 10) / 10;
