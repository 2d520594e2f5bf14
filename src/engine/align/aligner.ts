import type { RgbImage } from '../image/raster.ts';
import { applyAffine, invertAffine, warpAffineToPlanar, downscaleRegion, type AffineMatrix } from '../image/raster.ts';
import { similarityTransform, type Point } from '../geometry.ts';
import { templatePoints, type AlignmentTemplate } from './templates.ts';

export interface AlignerConfig {
  kind: 'similarity';
  template: AlignmentTemplate;
  /** Chip side in pixels: the embedder's input size. */
  size: number;
  /** dlib-style padding around the mean face (dlib68 only). */
  padding: number;
}

export interface FaceLandmarks {
  /** 68 points in iBUG order, in raster pixels. */
  landmarks68: Point[];
  /** Eyes (image left, image right), nose tip, mouth corners (image left, right). */
  points5: Point[];
}

/** Computes the similarity transform that puts a face's landmarks on the template, ArcFace/dlib style. */
export class SimilarityAligner {
  private readonly target: Point[];
  private readonly uses: 'landmarks68' | 'points5';

  constructor(readonly config: AlignerConfig) {
    const t = templatePoints(config.template, config.size, config.padding);
    this.target = t.target;
    this.uses = t.uses;
  }

  transformFor(face: FaceLandmarks): AffineMatrix {
    const from = this.uses === 'landmarks68' ? face.landmarks68.slice(17, 68) : face.points5;
    return similarityTransform(from, this.target);
  }

  /**
   * Samples the chip into `out` (planar, 3 × size × size) starting at `offset`. When the face is much
   * larger than the chip, the raster is box-filtered first so that bilinear sampling does not alias.
   */
  sample(image: RgbImage, face: FaceLandmarks, out: Float32Array, offset: number, channelOrder: 'rgb' | 'bgr', flip: boolean): void {
    const forward = this.transformFor(face);
    const scale = Math.hypot(forward[0], forward[3]);
    const shrink = Math.floor(1 / scale);
    let source = image;
    let m: AffineMatrix = forward;
    if (shrink >= 2) {
      // Only the part of the raster the chip covers is filtered: a face's surroundings, not the whole photo.
      const k = shrink;
      const inverse = invertAffine(forward);
      const last = this.config.size - 1;
      const corners = [[0, 0], [last, 0], [0, last], [last, last]].map(([u, v]) => applyAffine(inverse, u, v));
      const x0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[0]))) - k);
      const y0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[1]))) - k);
      const x1 = Math.min(image.width, Math.ceil(Math.max(...corners.map((c) => c[0]))) + k);
      const y1 = Math.min(image.height, Math.ceil(Math.max(...corners.map((c) => c[1]))) + k);
      if (x1 - x0 >= k && y1 - y0 >= k) {
        source = downscaleRegion(image, k, x0, y0, x1 - x0, y1 - y0);
        // Downscaled pixel j covers raster pixels from x0 + j·k, centred at x0 + j·k + (k − 1)/2.
        const ox = x0 + (k - 1) / 2;
        const oy = y0 + (k - 1) / 2;
        m = [forward[0] * k, forward[1] * k, forward[2] + forward[0] * ox + forward[1] * oy,
          forward[3] * k, forward[4] * k, forward[5] + forward[3] * ox + forward[4] * oy];
      }
    }
    warpAffineToPlanar(source, invertAffine(m), this.config.size, this.config.size, out, { offset, channelOrder, flip });
  }
}

export function points5From68(landmarks: readonly Point[]): Point[] {
  const centre = (from: number, to: number): Point => {
    let x = 0, y = 0;
    for (let i = from; i <= to; i++) { x += landmarks[i][0]; y += landmarks[i][1]; }
    return [x / (to - from + 1), y / (to - from + 1)];
  };
  return [centre(36, 41), centre(42, 47), landmarks[30], landmarks[48], landmarks[54]];
}
