import type { FaceEngine, FaceAnalysis } from '../engine/face-engine.ts';
import { encodeJpeg, type DecodedImage, type DecodeLimits } from '../engine/image/decode.ts';
import { sampleVideo, VideoDecodeError, type VideoSampling } from '../engine/video/video-frames.ts';
import type { FaceService } from './face-service.ts';
import type { ImageLoader } from './image-loader.ts';
import type { FileStore } from './file-store.ts';
import { loadImage, type ImageSource, type InlineImageSource } from './image-input.ts';
import { cosineSimilarity } from './template.ts';
import type { Calibrator, CalibratedScore } from './calibration.ts';
import { FaceproofError } from './errors.ts';
import { livenessScore, type LivenessModel, type SecurityLevel } from './liveness-model.ts';

export type LivenessReason = 'spoof' | 'no_face' | 'multiple_faces' | 'low_quality' | 'identity_changed';

export interface FrameVerdict {
  isLive: boolean;
  score: number;
  reason?: LivenessReason;
  /** Seconds into the video, for video frames. */
  timestamp?: number;
}

export interface LivenessResult {
  isLive: boolean;
  score: number;
  securityLevel: SecurityLevel;
  threshold: number;
  reason?: LivenessReason;
  images: FrameVerdict[];
  video?: VideoSummary;
  reference?: CalibratedScore;
}

export interface VideoSummary {
  durationSeconds: number;
  framesSampled: number;
  framesWithFace: number;
  /** Seconds of the video in which a face is seen (frames with a face over the sampling rate): SenseID's short_time. */
  faceSeconds: number;
  /** Frames decoded and analysed per second of processing time. */
  framesPerSecond: number;
  /** Median movement of the face centre between frames, in face widths. */
  motion: number;
  blinks: number;
  sameIdentity: boolean;
  bestFrame?: { timestamp: number; image?: string; face?: string };
}

export interface VideoOptions {
  securityLevel: SecurityLevel;
  returnBestFrame: boolean;
  reference?: ImageSource;
  /** Look for the reference's face at quarter turns too. */
  referenceAutoRotate?: boolean;
}

/** A face analysed for liveness and the temporal checks, one per image or video frame. */
export interface AnalysedFrame {
  image: DecodedImage;
  faces: FaceAnalysis[];
  score: number;
  reason?: LivenessReason;
  timestamp?: number;
  eyesOpen?: number;
  vector?: Float32Array;
}

/** A recording: video bytes, a stored file (video or frame list), or frames sent with the request (index orders them). */
export type Recording = { bytes: Uint8Array } | { fileId: string } | { frames: Array<{ source: InlineImageSource; index?: number; field: string }> };

export interface LivenessSettings {
  /** Smallest inter-eye distance (px) the cues are trusted on. */
  minInterEyeDistance: number;
  video: VideoSampling;
  /** Shortest video accepted, seconds (SenseID's short_time). */
  minVideoSeconds: number;
}

/** Passive liveness of images, frame lists and videos, with per-level thresholds from the fitted model. */
export class LivenessService {
  constructor(
    private readonly faces: FaceService,
    private readonly loader: ImageLoader,
    private readonly engine: FaceEngine,
    private readonly files: FileStore,
    private readonly calibrator: Calibrator,
    private readonly model: LivenessModel,
    private readonly limits: DecodeLimits,
    readonly settings: LivenessSettings,
  ) {}

  threshold(level: SecurityLevel): number {
    return this.model.thresholds[level];
  }

  /** Images of one session: each judged, then fused (mean score; any non-spoof failure decides). */
  async checkImages(sources: ImageSource[], tenantId: string, level: SecurityLevel): Promise<LivenessResult> {
    return this.fuse(await this.analyseImages(sources, tenantId), level);
  }

  /** Each image loaded and analysed (`fields` name them in errors; `images[i]` by default). */
  analyseImages(sources: ImageSource[], tenantId: string, temporal = false, fields?: string[]): Promise<AnalysedFrame[]> {
    return Promise.all(sources.map(async (s, i) => this.analyse(await this.loader.load(s, tenantId, fields?.[i] ?? `images[${i}]`), temporal)));
  }

  /** A video (bytes or stored file) or a stored list of frames. */
  async checkVideo(input: Recording, tenantId: string, options: VideoOptions): Promise<LivenessResult> {
    const started = performance.now();
    const decoded = await this.decodeFrames(input, tenantId);
    if (decoded.durationSeconds < this.settings.minVideoSeconds) {
      throw new FaceproofError('short_time', `the video lasts ${decoded.durationSeconds.toFixed(2)} s; at least ${this.settings.minVideoSeconds} s are needed`, 'video');
    }
    const frames: AnalysedFrame[] = [];
    for (const f of decoded.frames) frames.push({ ...(await this.analyse(f.image, true)), timestamp: f.timestamp });
    // One camera, one orientation: the turn most frames were found at is the video's, and a frame
    // found at another (a face rolled far enough for the models to nearly tie on upside down) is
    // read again at the video's turn, so that its identity and eyes are measured on the face upright.
    const turns = frames.filter((f) => f.faces.length > 0).map((f) => f.faces[0].rotation);
    const turn = turns.length ? ([0, 1, 2, 3] as const).reduce((a, b) => (turns.filter((t) => t === b).length > turns.filter((t) => t === a).length ? b : a)) : undefined;
    for (const [i, f] of frames.entries()) {
      if (turn !== undefined && f.faces.length > 0 && f.faces[0].rotation !== turn) frames[i] = { ...(await this.analyse(f.image, true, turn)), timestamp: f.timestamp };
    }
    const result = this.fuse(frames, options.securityLevel);
    const withFace = frames.filter((f) => f.faces.length > 0);
    const motion = medianMotion(withFace);
    const blinks = countBlinks(withFace.map((f) => f.eyesOpen ?? 1));
    const sameIdentity = this.sameIdentity(withFace);
    if (!sameIdentity && !result.reason) { result.isLive = false; result.reason = 'identity_changed'; }
    const best = bestFrame(withFace);
    const video: VideoSummary = {
      durationSeconds: round(decoded.durationSeconds, 2), framesSampled: frames.length, framesWithFace: withFace.length,
      faceSeconds: round(Math.min(decoded.durationSeconds, withFace.length / this.settings.video.fps), 2),
      framesPerSecond: round(frames.length / ((performance.now() - started) / 1000), 1), motion: round(motion, 4), blinks, sameIdentity,
    };
    if (best) {
      video.bestFrame = { timestamp: best.timestamp ?? 0 };
      if (options.returnBestFrame) {
        video.bestFrame.image = (await encodeJpeg(best.image.rgb)).toString('base64');
        video.bestFrame.face = (await encodeJpeg(this.engine.alignedFace(best.image, best.faces[0]))).toString('base64');
      }
    }
    result.video = video;
    if (options.reference && best?.vector) {
      const [ref] = await this.faces.facesOf({ kind: 'image', source: options.reference }, { tenantId, field: 'reference', allFaces: false, autoRotate: options.referenceAutoRotate ?? false });
      result.reference = this.calibrator.assess(cosineSimilarity(ref.vector, best.vector), 'SELFIE', 'VIDEO_FRAME');
    }
    return result;
  }

  /** Frames of a video or stored frame list, decoded, in time order. */
  async decodeFrames(input: Recording, tenantId: string): Promise<{ durationSeconds: number; frames: Array<{ image: DecodedImage; timestamp: number }> }> {
    if ('frames' in input) {
      const indexes = input.frames.map((f, i) => f.index ?? i);
      if (new Set(indexes).size !== indexes.length) throw new FaceproofError('invalid_parameter', 'frame indexes must be unique', input.frames[0]?.field ?? 'frames');
      const frames = await Promise.all(input.frames.map(async (f, i) => ({ image: await loadImage(f.source, this.limits, f.field), index: indexes[i] })));
      frames.sort((a, b) => a.index - b.index);
      // Frames sent with the request carry indexes, not times: taken as sampled at the video rate, like a stored frame list.
      const fps = this.settings.video.fps;
      return { durationSeconds: frames.length / fps, frames: frames.map((f, i) => ({ image: f.image, timestamp: i / fps })) };
    }
    if ('fileId' in input) {
      const record = await this.files.describe(tenantId, input.fileId);
      if (record.kind === 'frames') {
        const frames = await Promise.all(record.frames.map(async (f) => ({ image: await loadImage({ kind: 'bytes', data: (await this.files.readFrame(tenantId, input.fileId, f.index)).bytes }, this.limits, `frames[${f.index}]`), index: f.index })));
        frames.sort((a, b) => a.index - b.index);
        // A frame list carries indexes, not times: frames are taken as sampled at the video rate.
        const fps = this.settings.video.fps;
        return { durationSeconds: frames.length / fps, frames: frames.map((f, i) => ({ image: f.image, timestamp: i / fps })) };
      }
      if (record.kind !== 'video') throw new FaceproofError('invalid_parameter', `file ${input.fileId} is not a video`, 'file_id');
      return this.decodeFrames({ bytes: (await this.files.readMedia(tenantId, input.fileId)).bytes }, tenantId);
    }
    let sampled;
    try {
      sampled = await sampleVideo(input.bytes, this.settings.video);
    } catch (err) {
      if (err instanceof VideoDecodeError) throw new FaceproofError('invalid_video', err.message, 'video');
      throw err;
    }
    const frames = await Promise.all(sampled.frames.map(async (f) => ({ image: await loadImage({ kind: 'bytes', data: f.png }, this.limits, 'video'), timestamp: f.timestamp })));
    return { durationSeconds: sampled.durationSeconds, frames };
  }

  /** One image's faces and, for a single usable face, its live score (and, for video, eyes and identity). */
  async analyse(image: DecodedImage, temporal = false, turn?: 0 | 1 | 2 | 3): Promise<AnalysedFrame> {
    // A capture is upright far more often than not: the quarter turns are tried only when the image
    // as sent has no plausible face. (Choosing among turns when it has one can read a face rolled
    // by 45° as upside down, which the models are then surer of.)
    let faces = await this.engine.analyze(image, { autoRotate: false, turn: turn ?? 0 });
    if (faces.length === 0 && turn === undefined) faces = await this.engine.analyze(image, { autoRotate: true });
    if (faces.length === 0) return { image, faces, score: 0, reason: 'no_face' };
    const main = faces[0];
    if (faces.slice(1).some((f) => f.box.width >= main.box.width * 0.5)) return { image, faces, score: 0, reason: 'multiple_faces' };
    if (main.interEyeDistance < this.settings.minInterEyeDistance) return { image, faces, score: 0, reason: 'low_quality' };
    const cues = await this.engine.livenessCues(image, main);
    const frame: AnalysedFrame = { image, faces, score: livenessScore(this.model, cues) };
    if (temporal) {
      const [eyes, vector] = await Promise.all([this.engine.eyeOpenness(image, main), this.engine.embed(image, main)]);
      frame.eyesOpen = Math.min(eyes.left, eyes.right);
      frame.vector = vector;
    }
    return frame;
  }

  fuse(frames: AnalysedFrame[], level: SecurityLevel): LivenessResult {
    const threshold = this.threshold(level);
    const images: FrameVerdict[] = frames.map((f) => ({
      isLive: !f.reason && f.score >= threshold,
      score: round(f.score, 4),
      ...(f.reason ? { reason: f.reason } : !(f.score >= threshold) ? { reason: 'spoof' as const } : {}),
      ...(f.timestamp !== undefined ? { timestamp: round(f.timestamp, 3) } : {}),
    }));
    const usable = frames.filter((f) => !f.reason);
    // Video tolerates frames without a usable face (a turn, a blink); still images do not.
    const video = frames.some((f) => f.timestamp !== undefined);
    const blocking = video ? (usable.length * 2 < frames.length ? frames.find((f) => f.reason)?.reason : undefined) : frames.find((f) => f.reason)?.reason;
    const score = usable.length ? usable.reduce((s, f) => s + f.score, 0) / usable.length : 0;
    const reason: LivenessReason | undefined = blocking ?? (usable.length === 0 ? 'no_face' : score >= threshold ? undefined : 'spoof');
    return { isLive: !reason, score: round(score, 4), securityLevel: level, threshold, ...(reason ? { reason } : {}), images };
  }

  /**
   * One person in every still: each image's face is compared with the best one and must be a `match`
   * (no tolerance for a miss, unlike a video's frames: stills are few, sharp and chosen by the client).
   */
  samePersonInStills(frames: AnalysedFrame[]): boolean {
    const withVector = frames.filter((f) => f.vector !== undefined);
    if (withVector.length < 2) return true;
    const reference = bestFrame(withVector)!.vector!;
    return withVector.every((f) => this.calibrator.assess(cosineSimilarity(reference, f.vector!), 'SELFIE', 'SELFIE').decision === 'match');
  }

  /**
   * One person throughout: frames are compared with the best frame, and a run of mismatching frames
   * (at least 3, or a fifth of the frames) or mismatches in over 40 % of them means another person.
   * Single frames that miss are tolerated: a blur or a half-detected face can embed badly.
   */
  sameIdentity(frames: AnalysedFrame[]): boolean {
    const withVector = frames.filter((f) => f.vector !== undefined);
    if (withVector.length < 2) return true;
    const reference = bestFrame(withVector)!.vector!;
    const mismatch = withVector.map((f) => this.calibrator.assess(cosineSimilarity(reference, f.vector!), 'VIDEO_FRAME', 'VIDEO_FRAME').decision === 'no_match');
    let run = 0, longest = 0;
    for (const m of mismatch) { run = m ? run + 1 : 0; longest = Math.max(longest, run); }
    const total = mismatch.filter(Boolean).length;
    return longest < Math.max(3, Math.ceil(0.2 * withVector.length)) && total <= 0.4 * withVector.length;
  }
}

const round = (v: number, d: number) => Number(v.toFixed(d));

/** Median displacement of the face centre between consecutive frames, in face widths. */
export function medianMotion(frames: AnalysedFrame[]): number {
  const steps: number[] = [];
  for (let i = 1; i < frames.length; i++) {
    const a = frames[i - 1].faces[0].box, b = frames[i].faces[0].box;
    steps.push(Math.hypot(a.x + a.width / 2 - (b.x + b.width / 2), a.y + a.height / 2 - (b.y + b.height / 2)) / Math.max(1, a.width));
  }
  steps.sort((x, y) => x - y);
  return steps.length ? steps[steps.length >> 1] : 0;
}

/** Eyes closing (openness < 0.3) between frames where they are open (> 0.6). */
export function countBlinks(openness: number[]): number {
  let blinks = 0, state: 'open' | 'closed' | 'unknown' = 'unknown';
  for (const o of openness) {
    if (o > 0.6) state = 'open';
    else if (o < 0.3 && state === 'open') { blinks++; state = 'closed'; }
  }
  return blinks;
}

/** The frame to keep: a usable face, large, frontal and sharp-scored. */
function bestFrame(frames: AnalysedFrame[]): AnalysedFrame | undefined {
  const rank = (f: AnalysedFrame) => (f.reason ? -1 : f.faces[0].interEyeDistance * Math.cos((f.faces[0].pose.yaw * Math.PI) / 180) * (f.eyesOpen ?? 1));
  return frames.reduce<AnalysedFrame | undefined>((best, f) => (!best || rank(f) > rank(best) ? f : best), undefined);
}
