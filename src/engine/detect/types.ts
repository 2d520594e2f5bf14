import type { RgbImage } from '../image/raster.ts';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DetectedBox extends Box {
  confidence: number;
}

/** Finds face boxes in a raster. Implementations own their model and preprocessing. */
export interface FaceDetector {
  readonly id: string;
  detect(image: RgbImage): Promise<DetectedBox[]>;
}

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.width, b.x + b.width);
  const y2 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy non-maximum suppression, highest confidence first. */
export function nonMaxSuppression(boxes: DetectedBox[], iouThreshold: number, maxFaces: number): DetectedBox[] {
  const sorted = [...boxes].sort((a, b) => b.confidence - a.confidence);
  const kept: DetectedBox[] = [];
  for (const box of sorted) {
    if (kept.length >= maxFaces) break;
    if (kept.every((k) => iou(k, box) < iouThreshold)) kept.push(box);
  }
  return kept;
}
