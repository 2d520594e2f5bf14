import type { RgbImage } from '../image/raster.ts';
import { warpAffineToPlanar } from '../image/raster.ts';
import type { Box } from '../detect/types.ts';
import type { Point } from '../geometry.ts';
import type { InferencePool, ModelRunner } from '../onnx/session.ts';
import { buildFaceLandmark68Onnx } from '../onnx/faceapi-landmarks.ts';

/**
 * A 68-point (iBUG/dlib order) landmark regressor that reads a square crop around the detector's box
 * and outputs [1, 136] coordinates normalised to that crop.
 */
export interface Landmark68Config {
  kind: 'crop68';
  /** ONNX file path, or `faceapi:<model dir>` to build face-api's landmark net from its weights. */
  model: string;
  inputSize: number;
  channels: 'rgb' | 'gray';
  /** (value − mean) / std on 0..255 values. */
  mean: number;
  std: number;
  /** Side of the square crop relative to the box's larger side. */
  cropScale: number;
}

export class Landmarker68 {
  private constructor(readonly id: string, private readonly session: ModelRunner, private readonly config: Landmark68Config) {}

  static async load(id: string, config: Landmark68Config, pool: InferencePool): Promise<Landmarker68> {
    const model = config.model.startsWith('faceapi:') ? buildFaceLandmark68Onnx(config.model.slice('faceapi:'.length)) : config.model;
    return new Landmarker68(id, await pool.load(model, 'all', 'landmarks'), config);
  }

  async locate(image: RgbImage, box: Box): Promise<Point[]> {
    const { inputSize: S, channels, mean, std, cropScale } = this.config;
    const side = Math.max(box.width, box.height) * cropScale;
    const x0 = box.x + box.width / 2 - side / 2;
    const y0 = box.y + box.height / 2 - side / 2;
    const step = side / S;
    const planar = new Float32Array(3 * S * S);
    // Sample pixel centres of the crop: output (u, v) ← source (x0 + (u + 0.5)·step − 0.5, …).
    warpAffineToPlanar(image, [step, 0, x0 + step / 2 - 0.5, 0, step, y0 + step / 2 - 0.5], S, S, planar);
    const plane = S * S;
    let input: Float32Array;
    if (channels === 'gray') {
      input = new Float32Array(plane);
      for (let i = 0; i < plane; i++) {
        input[i] = (0.299 * planar[i] + 0.587 * planar[plane + i] + 0.114 * planar[2 * plane + i] - mean) / std;
      }
    } else {
      input = planar;
      for (let i = 0; i < input.length; i++) input[i] = (input[i] - mean) / std;
    }
    const dims = [1, channels === 'gray' ? 1 : 3, S, S];
    const out = await this.session.run({ [this.session.inputNames[0]]: { data: input, dims } });
    const coords = out[this.session.outputNames[0]].data;
    const points: Point[] = [];
    for (let i = 0; i < 68; i++) points.push([x0 + coords[2 * i] * side, y0 + coords[2 * i + 1] * side]);
    return points;
  }
}
