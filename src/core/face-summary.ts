import type { FaceAnalysis } from '../engine/face-engine.ts';
import type { CalibratedScore } from './calibration.ts';

type XY = [number, number];

/** The public description of one face, as the native API and the CLI print it. */
export interface FaceSummary {
  box: { x: number; y: number; width: number; height: number };
  confidence: number;
  landmarks: { left_eye: XY; right_eye: XY; nose: XY; mouth_left: XY; mouth_right: XY };
  pose: { yaw: number; pitch: number; roll: number };
  inter_eye_distance: number;
  /** Degrees clockwise the image was turned to find the face (auto-rotation). */
  rotation?: number;
  template?: string;
  face_image?: string;
}

const r1 = (v: number) => Math.round(v * 10) / 10;
const r4 = (v: number) => Math.round(v * 1e4) / 1e4;
const point = (p: [number, number]): [number, number] => [r1(p[0]), r1(p[1])];

export function summarizeFace(face: FaceAnalysis, extra: { template?: string; faceImage?: Buffer } = {}): FaceSummary {
  const [leftEye, rightEye, nose, mouthLeft, mouthRight] = face.points5;
  const json: FaceSummary = {
    box: { x: r1(face.box.x), y: r1(face.box.y), width: r1(face.box.width), height: r1(face.box.height) },
    confidence: r4(face.confidence),
    landmarks: {
      left_eye: point(leftEye),
      right_eye: point(rightEye),
      nose: point(nose),
      mouth_left: point(mouthLeft),
      mouth_right: point(mouthRight),
    },
    pose: face.pose,
    inter_eye_distance: r1(face.interEyeDistance),
  };
  if (face.rotation) json.rotation = face.rotation * 90;
  if (extra.template) json.template = extra.template;
  if (extra.faceImage) json.face_image = extra.faceImage.toString('base64');
  return json;
}

export function summarizeScore(s: CalibratedScore) {
  return { score: s.score, similarity: s.similarity, far: s.far, decision: s.decision };
}
