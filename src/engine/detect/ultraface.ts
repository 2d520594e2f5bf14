import { warpAffineToPlanar, type RgbImage } from '../image/raster.ts';
import type { InferencePool, ModelRunner } from '../onnx/session.ts';
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
  /** Tiles zoom in on texture that fools the model more often (animal faces, patterns), so they need more confidence. */
  tileScoreThreshold: number;
  iouThreshold: number;
  maxFaces: number;
  /**
   * Finer passes over overlapping tiles (2×2, then 4×4, …) find faces too small for the whole-image
   * pass. A finer pass runs only when the previous one found no face or a face near its size limit,
   * so a selfie costs one pass and a group photo a few.
   */
  maxTileLevels: number;
  /** Smallest face, in network input pixels, that the model finds reliably. */
  minInputFace: number;
}

interface Region { x: number; y: number; width: number; height: number }

export class UltraFaceDetector implements FaceDetector {
  private constructor(readonly id: string, private readonly session: ModelRunner, private readonly config: UltraFaceConfig) {}

  static async load(id: string, config: UltraFaceConfig, pool: InferencePool): Promise<UltraFaceDetector> {
    return new UltraFaceDetector(id, await pool.load(config.model, 'all', 'detector'), config);
  }

  async detect(image: RgbImage): Promise<DetectedBox[]> {
    const { inputWidth: W, inputHeight: H, minInputFace, iouThreshold, maxFaces } = this.config;
    const found: DetectedBox[] = [];
    let kept: DetectedBox[] = [];
    for (let level = 0; level <= this.config.maxTileLevels; level++) {
      const regions = tiles(image, 2 ** level, W, H);
      for (const region of regions) found.push(...(await this.detectRegion(image, region, level > 0)));
      kept = nonMaxSuppression(found, iouThreshold, maxFaces);
      if (level === 0 && kept.length === 0) {
        // A face that fills the frame (a tight crop, a close selfie) is larger than the model's biggest
        // anchors: look again with the image shrunk to half the input, framed in black.
        const zoomedOut = { x: -image.width / 2, y: -image.height / 2, width: image.width * 2, height: image.height * 2 };
        kept = nonMaxSuppression((await this.detectRegion(image, zoomedOut, false)).flatMap((b) => clipToImage(b, image)), iouThreshold, maxFaces);
        if (kept.length > 0) break;
      }
      // The face size this level can still see; smaller faces need the next level.
      const region = regions[0];
      const limit = minInputFace * Math.max(region.width / W, region.height / H);
      const smallest = Math.min(...kept.map((b) => Math.min(b.width, b.height)));
      const native = region.width <= W && region.height <= H;
      if (native || (kept.length > 0 && smallest > 3 * limit)) break;
    }
    return kept;
  }

  private async detectRegion(image: RgbImage, region: Region, dropEdgeCut: boolean): Promise<DetectedBox[]> {
    const { inputWidth: W, inputHeight: H } = this.config;
    const input = this.preprocess(image, region);
    const out = await this.session.run({ [this.session.inputNames[0]]: { data: input, dims: [1, 3, H, W] } });
    const scores = out.scores.data;
    const boxes = out.boxes.data;
    const n = scores.length / 2;
    const candidates: DetectedBox[] = [];
    const margin = 2;
    for (let i = 0; i < n; i++) {
      const confidence = scores[i * 2 + 1];
      if (confidence < (dropEdgeCut ? this.config.tileScoreThreshold : this.config.scoreThreshold)) continue;
      const x1 = region.x + clamp(boxes[i * 4], 0, 1) * region.width;
      const y1 = region.y + clamp(boxes[i * 4 + 1], 0, 1) * region.height;
      const x2 = region.x + clamp(boxes[i * 4 + 2], 0, 1) * region.width;
      const y2 = region.y + clamp(boxes[i * 4 + 3], 0, 1) * region.height;
      if (x2 - x1 < 2 || y2 - y1 < 2) continue;
      // A box touching a tile edge inside the image is probably a face cut in two; a neighbouring tile sees it whole.
      if (dropEdgeCut && (
        (region.x > 0 && x1 <= region.x + margin) || (region.y > 0 && y1 <= region.y + margin)
        || (region.x + region.width < image.width && x2 >= region.x + region.width - margin)
        || (region.y + region.height < image.height && y2 >= region.y + region.height - margin))) continue;
      candidates.push({ x: x1, y: y1, width: x2 - x1, height: y2 - y1, confidence });
    }
    return candidates;
  }

  /** One region of the image resized to the network's input (edges clamped, as a plain resize), normalised. */
  private preprocess(image: RgbImage, region: Region): Float32Array {
    // Inside the image, edges are clamped as a plain resize would; a zoomed-out region is framed in black.
    const inside = region.x >= 0 && region.y >= 0;
    const { inputWidth: W, inputHeight: H, mean, std } = this.config;
    const out = new Float32Array(3 * W * H);
    const sx = region.width / W;
    const sy = region.height / H;
    // Output pixel centres map onto the region's pixel centres: x = region.x + (u + 0.5)·sx − 0.5.
    warpAffineToPlanar(image, [sx, 0, region.x + sx / 2 - 0.5, 0, sy, region.y + sy / 2 - 0.5], W, H, out, { border: inside ? 'clamp' : 'zero' });
    const plane = W * H;
    for (let c = 0; c < 3; c++) {
      for (let i = c * plane, end = i + plane; i < end; i++) out[i] = (out[i] - mean[c]) / std[c];
    }
    return out;
  }
}

/** An n×n grid of tiles overlapping by a quarter, never smaller than the network input (unless the image is). */
function tiles(image: RgbImage, n: number, W: number, H: number): Region[] {
  if (n === 1) return [{ x: 0, y: 0, width: image.width, height: image.height }];
  const tw = Math.min(image.width, Math.max(W, Math.ceil((image.width / n) * 1.25)));
  const th = Math.min(image.height, Math.max(H, Math.ceil((image.height / n) * 1.25)));
  const nx = Math.max(1, Math.ceil((image.width - tw) / (tw * 0.75)) + 1);
  const ny = Math.max(1, Math.ceil((image.height - th) / (th * 0.75)) + 1);
  const out: Region[] = [];
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const x = nx === 1 ? 0 : Math.round(((image.width - tw) * i) / (nx - 1));
      const y = ny === 1 ? 0 : Math.round(((image.height - th) * j) / (ny - 1));
      out.push({ x, y, width: tw, height: th });
    }
  }
  return out;
}

/** The part of a box inside the image; nothing when less than half of it is. */
function clipToImage(box: DetectedBox, image: RgbImage): DetectedBox[] {
  const x1 = Math.max(0, box.x), y1 = Math.max(0, box.y);
  const x2 = Math.min(image.width, box.x + box.width), y2 = Math.min(image.height, box.y + box.height);
  if ((x2 - x1) * (y2 - y1) < 0.5 * box.width * box.height) return [];
  return [{ x: x1, y: y1, width: x2 - x1, height: y2 - y1, confidence: box.confidence }];
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
