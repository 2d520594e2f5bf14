import type { FaceEngine, FaceAnalysis } from '../engine/face-engine.ts';
import type { DecodedImage } from '../engine/image/decode.ts';
import type { PixelMeasures } from '../engine/quality/face-measures.ts';
import type { EyeOpenness } from '../engine/attributes/eye-state.ts';
import type { QualityGate } from './face-service.ts';
import type { ImageLoader } from './image-loader.ts';
import type { ImageSource } from './image-input.ts';
import { FaceproofError } from './errors.ts';
import { measureBackground, type BackgroundMeasure } from './background.ts';

/**
 * Verdicts in the seed vendors' vocabulary (TrustVision's portrait checks), plus two of ours for
 * what theirs cannot say: `face_tilted` (roll) and `image_compressed` (JPEG blocking). Listed in the
 * order a face is judged: the first that applies is the face's verdict, all that apply are its reasons.
 */
export const QUALITY_VERDICTS = [
  'good', 'image_has_no_faces', 'image_has_multiple_faces', 'face_too_small', 'face_too_big',
  'image_too_dark', 'image_too_bright', 'face_too_dark', 'face_too_bright', 'image_compressed', 'image_too_blur',
  'face_tilted', 'left', 'right', 'up', 'down', 'sunglasses', 'closed_eye', 'face_occluded',
] as const;
export type QualityVerdict = (typeof QUALITY_VERDICTS)[number];

/** Thresholds of one use; any field can be overridden per request. */
export interface QualityProfile {
  minInterEyeDistance: number;
  /** Face box area over image area. */
  minFaceShare: number;
  maxFaceShare: number;
  maxYaw: number;
  maxPitch: number;
  maxRoll: number;
  minSharpness: number;
  minImageBrightness: number;
  maxImageBrightness: number;
  /** Largest share of the image that may be clipped black or white. */
  maxClippedFraction: number;
  minFaceBrightness: number;
  maxFaceBrightness: number;
  maxBlockiness: number;
  /** Below this probability an eye counts as closed. */
  minEyeOpen: number;
  /** Eyes smaller than this inter-eye distance (px) are too few pixels to call open or closed. */
  minEyeStateInterEye: number;
  /** iDenFace's `occlusion` switch: judge occlusion and sunglasses at all. */
  occlusion: boolean;
  /** Above this share of non-skin pixels the nose or mouth counts as covered. */
  maxOcclusion: number;
  /** Below this eye-region/skin luminance ratio, with both eyes dark, the face wears sunglasses. */
  maxEyeDarkness: number;
  /** Above this share of very dark pixels in the eye band, the eyes are covered (see eyeBandDarkFraction). */
  maxEyeBandDark: number;
  /** Inter-eye distance over box width below which the landmarks missed the face (occluded, blurred, turned). */
  minLandmarkConsistency: number;
  /** Faces wholly inside the image and at least this share of the largest face's width count as another person. */
  otherFaceShare: number;
}

const BASE: QualityProfile = {
  minInterEyeDistance: 60, minFaceShare: 0.05, maxFaceShare: 0.9, maxYaw: 30, maxPitch: 30, maxRoll: 45,
  minSharpness: 0.16, minImageBrightness: 35, maxImageBrightness: 210, maxClippedFraction: 0.6,
  minFaceBrightness: 45, maxFaceBrightness: 215, maxBlockiness: 1.6, minEyeOpen: 0.5, minEyeStateInterEye: 40,
  occlusion: true, maxOcclusion: 0.8, maxEyeDarkness: 0.22, maxEyeBandDark: 0.8, otherFaceShare: 0.6, minLandmarkConsistency: 0.3,
};

/** iDenFace's acquisition requirements: inter-eye ≥ 60 px on mobile, 150 px on desktop; |yaw|, |pitch| ≤ 30°; roll ≤ 45°; one face. */
export const QUALITY_PROFILES: Record<string, QualityProfile> = {
  selfie_mobile: { ...BASE },
  selfie_desktop: { ...BASE, minInterEyeDistance: 150, minFaceShare: 0.03 },
  // A portrait on a card: small in the frame, hardly rolled; printing and scanning lower sharpness.
  // Many ID cards print a second, smaller "ghost" portrait: only a face nearly as large counts as another person.
  id_document: { ...BASE, minInterEyeDistance: 30, minFaceShare: 0.005, maxRoll: 30, minSharpness: 0.09, otherFaceShare: 0.8 },
  // Only what makes a comparison unreliable: a face too small or too blurred to carry its identity,
  // or a picture too dark or burnt out to show it (ADVANCE's "low quality face"). Pose, eyes, occlusion,
  // framing and other faces are left to the comparison itself.
  comparison: {
    ...BASE, minInterEyeDistance: 20, minFaceShare: 0, maxFaceShare: 1, maxYaw: 90, maxPitch: 90, maxRoll: 180, minSharpness: 0.08,
    minImageBrightness: 15, maxImageBrightness: 240, maxClippedFraction: 0.9, minFaceBrightness: 20, maxFaceBrightness: 240, maxBlockiness: 3,
    minEyeOpen: 0, occlusion: false, minLandmarkConsistency: 0, otherFaceShare: Number.POSITIVE_INFINITY,
  },
};

export interface FaceQuality {
  verdict: QualityVerdict;
  reasons: QualityVerdict[];
  /** 0..100, higher is better. */
  quality: number;
  face: FaceAnalysis;
  measures: QualityMeasures;
  /** TrustVision's eye pair: "open_eye,closed_eye", image-left eye first; "unknown" for eyes too small to judge. */
  eyes: string;
}

export interface QualityMeasures extends PixelMeasures {
  interEyeDistance: number;
  /** Inter-eye distance over the detector box's width: about 0.45 when the landmarks sit on the face. */
  landmarkConsistency: number;
  faceShare: number;
  yaw: number;
  pitch: number;
  roll: number;
  eyesOpen: EyeOpenness;
}

export interface QualityReport {
  verdict: QualityVerdict;
  profile: string;
  image: { width: number; height: number };
  faces: FaceQuality[];
  /** With `background: true`: the background around the largest face (absent without a face). */
  background?: BackgroundMeasure;
}

export class QualityService implements QualityGate {
  constructor(private readonly engine: FaceEngine, private readonly loader: ImageLoader) {}

  profile(name: string | undefined, overrides: Partial<QualityProfile> = {}): { name: string; profile: QualityProfile } {
    const key = name ?? 'selfie_mobile';
    const base = QUALITY_PROFILES[key];
    if (!base) throw new FaceproofError('invalid_parameter', `unknown quality profile ${key}; use one of ${Object.keys(QUALITY_PROFILES).join(', ')}`, 'profile');
    return { name: key, profile: { ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) } };
  }

  async assess(source: ImageSource, tenantId: string, profileName?: string, overrides?: Partial<QualityProfile>, field = 'image', options: { background?: boolean } = {}): Promise<QualityReport> {
    const { name, profile } = this.profile(profileName, overrides);
    const image = await this.loader.load(source, tenantId, field);
    const found = await this.engine.analyze(image, { autoRotate: false });
    const report: QualityReport = { ...(await this.assessFaces(image, found, profile)), profile: name, image: { width: image.width, height: image.height } };
    if (options.background && found.length > 0) report.background = measureBackground(image, found[0]);
    return report;
  }

  /** Throws 422 quality_rejected, naming the verdict, unless every face judged is good. */
  async enforce(image: DecodedImage, faces: FaceAnalysis[], profileName: string, field: string, oneFaceExpected: boolean): Promise<void> {
    const { name, profile } = this.profile(profileName);
    const report = await this.assessFaces(image, faces, oneFaceExpected ? profile : { ...profile, otherFaceShare: Infinity });
    const bad = report.faces.find((f) => f.verdict !== 'good');
    if (report.verdict !== 'good' || bad) {
      const reasons = bad ? bad.reasons.join(', ') : report.verdict;
      throw new FaceproofError('quality_rejected', `the ${field} image is not good enough for the ${name} profile: ${reasons}`, field);
    }
  }

  /** Judges already-detected faces (largest first) of a decoded image. */
  async assessFaces(image: DecodedImage, found: FaceAnalysis[], profile: QualityProfile): Promise<{ verdict: QualityVerdict; faces: FaceQuality[] }> {
    if (found.length === 0) {
      // A face lost in the dark or in glare is first an exposure problem.
      const e = this.engine.measureImage(image);
      const dark = e.mean < profile.minImageBrightness || e.dark > profile.maxClippedFraction;
      const bright = e.mean > profile.maxImageBrightness || e.bright > profile.maxClippedFraction / 2;
      return { verdict: dark ? 'image_too_dark' : bright ? 'image_too_bright' : 'image_has_no_faces', faces: [] };
    }
    const faces = await Promise.all(found.map((face) => this.judge(image, face, profile)));
    // A face cut by the image border is a bystander at the edge of the frame, not a second subject.
    const whole = (f: FaceAnalysis) => f.box.x > 1 && f.box.y > 1 && f.box.x + f.box.width < image.width - 1 && f.box.y + f.box.height < image.height - 1;
    const others = found.slice(1).filter((f) => whole(f) && f.box.width >= found[0].box.width * profile.otherFaceShare).length;
    if (others > 0) {
      for (const f of faces) {
        f.reasons.unshift('image_has_multiple_faces');
        f.verdict = 'image_has_multiple_faces';
      }
      return { verdict: 'image_has_multiple_faces', faces };
    }
    return { verdict: faces[0].verdict, faces };
  }

  private async judge(image: DecodedImage, face: FaceAnalysis, p: QualityProfile): Promise<FaceQuality> {
    const pixels = this.engine.measure(image, face);
    const [eyesOpen, learned] = await Promise.all([this.engine.eyeOpenness(image, face), this.engine.learnedPose(image, face)]);
    const landmarkConsistency = face.interEyeDistance / Math.max(1, face.box.width);
    const landmarksHold = landmarkConsistency >= p.minLandmarkConsistency;
    const measures: QualityMeasures = {
      ...pixels,
      // When the landmarks missed the face, its size comes from the detector box (eyes ≈ 0.45 box widths apart on LFW).
      interEyeDistance: landmarksHold ? face.interEyeDistance : 0.45 * face.box.width,
      landmarkConsistency,
      faceShare: (face.box.width * face.box.height) / (image.width * image.height),
      // Yaw from the learned model (the landmark geometry overstates it by half); pitch and roll from
      // the landmarks (the model reads LFW's level portraits 9° downwards, and its roll strays on
      // faces near the image border).
      yaw: learned.yaw, pitch: face.pose.pitch, roll: face.pose.roll,
      eyesOpen,
    };
    const m = measures;
    const sunglasses = p.occlusion && ((m.eyeDarkness.left < p.maxEyeDarkness && m.eyeDarkness.right < p.maxEyeDarkness) || m.eyeBandDarkFraction > p.maxEyeBandDark);
    const eyesJudged = m.interEyeDistance >= p.minEyeStateInterEye;
    const eyeState = (open: number) => (sunglasses ? 'sunglasses' : !eyesJudged ? 'unknown' : open >= p.minEyeOpen ? 'open_eye' : 'closed_eye');
    const failing: Record<QualityVerdict, boolean> = {
      good: false, image_has_no_faces: false, image_has_multiple_faces: false,
      face_too_small: m.interEyeDistance < p.minInterEyeDistance || m.faceShare < p.minFaceShare,
      face_too_big: m.faceShare > p.maxFaceShare,
      image_too_dark: m.imageBrightness < p.minImageBrightness || m.imageDarkFraction > p.maxClippedFraction,
      image_too_bright: m.imageBrightness > p.maxImageBrightness || m.imageBrightFraction > p.maxClippedFraction,
      face_too_dark: m.faceBrightness < p.minFaceBrightness,
      face_too_bright: m.faceBrightness > p.maxFaceBrightness,
      image_compressed: m.blockiness > p.maxBlockiness,
      image_too_blur: m.sharpness < p.minSharpness,
      face_tilted: Math.abs(m.roll) > p.maxRoll,
      // The subject's own left: in an unmirrored picture their face turns towards the image's right.
      left: m.yaw > p.maxYaw,
      right: m.yaw < -p.maxYaw,
      up: m.pitch > p.maxPitch,
      down: m.pitch < -p.maxPitch,
      sunglasses,
      closed_eye: !sunglasses && eyesJudged && (eyesOpen.left < p.minEyeOpen || eyesOpen.right < p.minEyeOpen),
      // Landmarks that miss a clearly detected face mean its features are not visible where they should be.
      face_occluded: p.occlusion && (Math.max(m.occlusion.nose, m.occlusion.mouth) > p.maxOcclusion || !landmarksHold),
    };
    const reasons = QUALITY_VERDICTS.filter((v) => failing[v]);
    return {
      verdict: reasons[0] ?? 'good',
      reasons,
      quality: overallQuality(m, p),
      face,
      measures,
      eyes: `${eyeState(eyesOpen.left)},${eyeState(eyesOpen.right)}`,
    };
  }
}

/** Linear ramp from 0 at `bad` to 1 at `good` (either order). */
function ramp(value: number, bad: number, good: number): number {
  const t = (value - bad) / (good - bad);
  return Math.min(1, Math.max(0, t));
}

/**
 * One number 0..100 in the spirit of OFIQ's unified score: each component is mapped to 0..1 around
 * the profile's own limit (0.5 at the limit) and the geometric mean taken, so one bad component
 * pulls the score down more than several middling ones.
 */
function overallQuality(m: QualityMeasures, p: QualityProfile): number {
  const around = (value: number, limit: number, higherIsBetter: boolean) => (higherIsBetter ? ramp(value, limit * 0.5, limit * 1.5) : ramp(value, limit * 1.5, limit * 0.5));
  const components = [
    around(m.sharpness, p.minSharpness, true),
    around(m.interEyeDistance, p.minInterEyeDistance, true),
    Math.min(around(m.faceBrightness, p.minFaceBrightness, true), around(m.faceBrightness, p.maxFaceBrightness, false)),
    around(Math.abs(m.yaw), p.maxYaw, false),
    around(Math.abs(m.pitch), p.maxPitch, false),
    around(Math.abs(m.roll), p.maxRoll, false),
    around(m.blockiness - 1, p.maxBlockiness - 1, false),
    m.interEyeDistance >= p.minEyeStateInterEye ? Math.min(m.eyesOpen.left, m.eyesOpen.right) : 1,
    around(Math.max(m.occlusion.nose, m.occlusion.mouth), p.maxOcclusion, false),
  ].map((c) => Math.max(0.01, c));
  const geometricMean = Math.exp(components.reduce((s, c) => s + Math.log(c), 0) / components.length);
  return Math.round(100 * geometricMean);
}
