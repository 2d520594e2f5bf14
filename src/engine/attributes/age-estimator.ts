import type { Box } from '../detect/types.ts';
import type { RgbImage } from '../image/raster.ts';
import type { InferencePool, ModelRunner } from '../onnx/session.ts';
import { buildAgeGenderOnnx } from '../onnx/faceapi-age-gender.ts';
import { cropToPlanar } from '../crop/box-crop.ts';

export interface AgeEstimatorConfig {
  /** `faceapi:<model dir>` builds face-api's AgeGenderNet from its weights. */
  model: string;
  inputSize: number;
  /** Side of the square crop relative to the detector box's larger side. */
  cropScale: number;
  /** Average the estimates of the crop and its mirror image. */
  flip: boolean;
}

/** Apparent age in years from a square crop around the face: face-api's AgeGenderNet. */
export class AgeEstimator {
  private constructor(private readonly session: ModelRunner, private readonly config: AgeEstimatorConfig) {}

  static async load(config: AgeEstimatorConfig, pool: InferencePool): Promise<AgeEstimator> {
    const model = config.model.startsWith('faceapi:') ? buildAgeGenderOnnx(config.model.slice('faceapi:'.length)) : config.model;
    return new AgeEstimator(await pool.load(model, 'all', 'age'), config);
  }

  /** `box` is in the raster's pixel coordinates. */
  async estimate(image: RgbImage, box: Box): Promise<number> {
    const S = this.config.inputSize;
    const side = Math.max(box.width, box.height) * this.config.cropScale;
    const region = { x: box.x + box.width / 2 - side / 2, y: box.y + box.height / 2 - side / 2, width: side, height: side };
    const views = this.config.flip ? 2 : 1;
    const plane = 3 * S * S;
    const input = new Float32Array(plane * views);
    cropToPlanar(image, region, S, input);
    if (views === 2) mirrorPlanar(input, plane, S);
    const out = await this.session.run({ [this.session.inputNames[0]]: { data: input, dims: [views, 3, S, S] } });
    const ages = out.age.data;
    let sum = 0;
    for (let v = 0; v < views; v++) sum += ages[v];
    return Math.max(0, sum / views);
  }
}

/** Writes the mirror image of the first planar chip right after it. */
function mirrorPlanar(buffer: Float32Array, plane: number, size: number): void {
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      const row = c * size * size + y * size;
      for (let x = 0; x < size; x++) buffer[plane + row + x] = buffer[row + size - 1 - x];
    }
  }
}
