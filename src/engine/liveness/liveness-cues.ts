import type { Box } from '../detect/types.ts';
import type { RgbImage } from '../image/raster.ts';
import type { InferencePool, ModelRunner } from '../onnx/session.ts';
import { contextRegion, cropToPlanar } from '../crop/box-crop.ts';
import { detailRatio } from '../quality/face-measures.ts';

/**
 * A Silent-Face-style anti-spoofing CNN (faceplugin's fr_liveness: the face with its surroundings,
 * 128², three logits of which one is "live") plus colour and texture cues of recaptured faces.
 */
export interface LivenessModelConfig {
  model: string;
  inputSize: number;
  /** The detector box scaled by this, slid inside the image: the model judges the face's context. */
  contextScale: number;
  channelOrder: 'rgb' | 'bgr';
  /** Index of the live class among the logits. */
  liveClass: number;
}

/**
 * What a presentation-attack decision is made from, per face. Replays on a screen and prints are
 * re-imaged light: a screen's backlight pushes the colours towards blue and flattens their saturation,
 * and recapture loses fine detail. These cues are measured on the face's own box, resized to a fixed
 * size so the face's pixel size does not enter them.
 */
export interface LivenessCues {
  /** The CNN's probability of the live class. */
  model: number;
  /** Mean HSV saturation of the face, 0..1. */
  saturation: number;
  /** Mean of blue over red per pixel. */
  blueRed: number;
  /** Mean Cb chroma (YCbCr, 128 is neutral). */
  chromaBlue: number;
  /** Fine detail, scale-free (the quality measure `sharpness`, see detailRatio). */
  detail: number;
  /** 1st percentile of the face's luminance: a screen or paper cannot show deep black. */
  blackLevel: number;
  /** Median Cr minus median Cb: skin under daylight or room light is warm, a backlit screen cooler. */
  warmth: number;
}

const CUE_SIZE = 128;

export class LivenessCueExtractor {
  private constructor(private readonly session: ModelRunner, private readonly config: LivenessModelConfig) {}

  static async load(config: LivenessModelConfig, pool: InferencePool): Promise<LivenessCueExtractor> {
    return new LivenessCueExtractor(await pool.load(config.model, 'all', 'liveness'), config);
  }

  /** `box` is in the raster's pixel coordinates. */
  async cues(image: RgbImage, box: Box): Promise<LivenessCues> {
    const model = await this.modelScore(image, box);
    return { model, ...colourCues(image, box) };
  }

  private async modelScore(image: RgbImage, box: Box): Promise<number> {
    const { inputSize: S, contextScale, channelOrder, liveClass } = this.config;
    const input = new Float32Array(3 * S * S);
    cropToPlanar(image, contextRegion(image, box, contextScale), S, input);
    if (channelOrder === 'bgr') {
      const plane = S * S;
      const red = input.slice(0, plane);
      input.copyWithin(0, 2 * plane, 3 * plane);
      input.set(red, 2 * plane);
    }
    const out = await this.session.run({ [this.session.inputNames[0]]: { data: input, dims: [1, 3, S, S] } });
    const logits = out[this.session.outputNames[0]].data;
    const max = Math.max(...logits);
    let sum = 0;
    for (const l of logits) sum += Math.exp(l - max);
    return Math.exp(logits[liveClass] - max) / sum;
  }
}

/** Colour and detail cues of the face box (see LivenessCues). */
export function colourCues(image: RgbImage, box: Box): Omit<LivenessCues, 'model'> {
  const S = CUE_SIZE, plane = S * S;
  const p = new Float32Array(3 * plane);
  cropToPlanar(image, contextRegion(image, box, 1), S, p);
  const luma = new Float32Array(plane);
  const cbs = new Float32Array(plane), crs = new Float32Array(plane);
  let saturation = 0, blueRed = 0, chromaBlue = 0;
  for (let i = 0; i < plane; i++) {
    const r = p[i], g = p[plane + i], b = p[2 * plane + i];
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    saturation += max > 0 ? (max - min) / max : 0;
    blueRed += b / Math.max(1, r);
    const cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
    chromaBlue += cb;
    cbs[i] = cb;
    crs[i] = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
    luma[i] = 0.299 * r + 0.587 * g + 0.114 * b;
  }
  const sorted = (a: Float32Array) => a.slice().sort();
  const lumaSorted = sorted(luma);
  return {
    saturation: saturation / plane, blueRed: blueRed / plane, chromaBlue: chromaBlue / plane, detail: detailRatio(luma, S),
    blackLevel: lumaSorted[Math.floor(0.01 * (plane - 1))],
    warmth: sorted(crs)[plane >> 1] - sorted(cbs)[plane >> 1],
  };
}
