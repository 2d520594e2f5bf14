import { mainThreadTurn } from './main-thread-turns.ts';
import fs from 'node:fs';
import type { DecodedImage } from './image/decode.ts';
import { applyAffine, rotateRgb, unrotatePoint, createRgbImage, warpAffineToRgb, type AffineMatrix, type RgbImage } from './image/raster.ts';
import { UltraFaceDetector } from './detect/ultraface.ts';
import type { Box, DetectedBox } from './detect/types.ts';
import { faceGeometry, implausibility, uprightness, AS_SENT_PREFERENCE, SURELY_UPRIGHT, type FaceGeometry } from './detect/face-plausibility.ts';
import { Landmarker68 } from './landmarks/landmarker.ts';
import { SimilarityAligner, points5From68, type FaceLandmarks } from './align/aligner.ts';
import { Embedder } from './embed/embedder.ts';
import { FusedEmbedder, type FaceEmbedder } from './embed/fused-embedder.ts';
import { estimateHeadPose, type HeadPose } from './pose/head-pose.ts';
import { distance, type Point } from './geometry.ts';
import { resolvePipeline, type PipelineConfig } from './pipeline.ts';
import { InferencePool, type InferenceStats, type InferenceThreads } from './onnx/session.ts';
import { AgeEstimator } from './attributes/age-estimator.ts';
import { EyeStateClassifier, type EyeOpenness } from './attributes/eye-state.ts';
import { HeadPoseModel, type LearnedPose } from './attributes/head-pose-model.ts';
import { DEFAULT_ATTRIBUTE_MODELS, resolveAttributeModels, type AttributeModelsConfig } from './attributes/models.ts';
import { LivenessCueExtractor, type LivenessCues } from './liveness/liveness-cues.ts';
import { imageExposure, measureFace, type PixelMeasures } from './quality/face-measures.ts';

/** One face found in an image, in the original image's pixel coordinates (after EXIF orientation). */
export interface FaceAnalysis {
  box: Box;
  confidence: number;
  /** Eyes (image left, image right), nose tip, mouth corners (image left, image right). */
  points5: Point[];
  landmarks68: Point[];
  pose: HeadPose;
  interEyeDistance: number;
  /** Quarter turns clockwise that made the face detectable (auto-rotation), 0 when upright. */
  rotation: 0 | 1 | 2 | 3;
  /** Landmarks in the decoded working raster, for alignment. */
  readonly raster: FaceLandmarks;
}

export interface ModelInfo {
  role: 'detector' | 'landmarks' | 'embedder' | 'age' | 'eyes' | 'liveness' | 'pose';
  source: string;
  bytes: number;
}

export interface EngineInfo {
  pipelineId: string;
  templateModelId: string;
  templateVersion: number;
  dimension: number;
  chipSize: number;
  models: ModelInfo[];
}

export interface AnalyzeOptions {
  /** Also try the image turned by 90°, 180° and 270°, and keep the turn whose face looks most upright. */
  autoRotate: boolean;
  /** Without auto-rotation: look only at the image turned by these quarter turns (a video's frames share the turn found on one). */
  turn?: 0 | 1 | 2 | 3;
}

/** Roll beyond which landmarks are found again on a patch turned upright. */
const ROLL_REFINE_DEGREES = 20;

/** Eyes closer than this share of the box width mean the landmarks missed the face (LFW p5: 0.38). */
const LANDMARKS_MISSED = 0.3;

/** Distance between the eye centres of 68 landmarks. */
function eyeSpan(lm: readonly Point[]): number {
  const [l, r] = points5From68(lm);
  return distance(l, r);
}

/** One detection and its landmarks, in the raster the detector saw. */
interface Examined {
  box: DetectedBox;
  landmarks: Point[];
  /** The shape of the landmark net's first answer, before any roll correction: how upright the face looks. */
  upright: FaceGeometry;
  plausible: boolean;
}

/** Detection, landmarks, pose, alignment and embedding over decoded images. Models load once. */
export class FaceEngine {
  private constructor(
    private readonly config: PipelineConfig,
    private readonly attributes: AttributeModelsConfig,
    private readonly pool: InferencePool,
    private readonly detector: UltraFaceDetector,
    private readonly landmarker: Landmarker68,
    private readonly aligner: SimilarityAligner,
    private readonly embedder: FaceEmbedder,
    private readonly ages: AgeEstimator,
    private readonly eyes: EyeStateClassifier,
    private readonly liveness: LivenessCueExtractor,
    private readonly poses: HeadPoseModel,
  ) {}

  /** Loads every model into a pool of inference threads; `close()` ends them. */
  static async load(pipeline: PipelineConfig, threads: InferenceThreads, attributeModels: AttributeModelsConfig = DEFAULT_ATTRIBUTE_MODELS): Promise<FaceEngine> {
    const config = resolvePipeline(pipeline);
    const attributes = resolveAttributeModels(attributeModels);
    const pool = InferencePool.start(threads);
    try {
      const aligner = new SimilarityAligner(config.aligner);
      const [ages, eyes, liveness, poses] = await Promise.all([
        AgeEstimator.load(attributes.age, pool),
        EyeStateClassifier.load(attributes.eyes, pool),
        LivenessCueExtractor.load(attributes.liveness, pool),
        HeadPoseModel.load(attributes.pose, pool),
      ]);
      const [detector, landmarker, embedder, ...fused] = await Promise.all([
        UltraFaceDetector.load('detector', config.detector, pool),
        Landmarker68.load('landmarks', config.landmarks, pool),
        Embedder.load(config.embedder, aligner, pool),
        ...(config.fusion?.with ?? []).map((part) => Embedder.load(part.embedder, new SimilarityAligner(part.aligner), pool)),
      ]);
      const fusion = config.fusion;
      const recogniser: FaceEmbedder = fusion
        ? new FusedEmbedder([{ embedder, weight: fusion.weight }, ...fused.map((e, i) => ({ embedder: e, weight: fusion.with[i].weight }))], fusion.template.modelId, fusion.template.version)
        : embedder;
      return new FaceEngine(config, attributes, pool, detector, landmarker, aligner, recogniser, ages, eyes, liveness, poses);
    } catch (err) {
      await pool.close();
      throw err;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** Whether the inference threads are up. */
  ready(): boolean {
    return this.pool.open;
  }

  info(): EngineInfo {
    const model = (role: ModelInfo['role'], spec: string, faceApiFile: string): ModelInfo => {
      const file = spec.startsWith('faceapi:') ? `${spec.slice('faceapi:'.length)}/${faceApiFile}` : spec;
      return { role, source: displaySource(file), bytes: fs.statSync(file).size };
    };
    return {
      pipelineId: this.config.id,
      templateModelId: this.embedder.templateModelId,
      templateVersion: this.embedder.templateVersion,
      dimension: this.embedder.dimension,
      chipSize: this.aligner.config.size,
      models: [
        model('detector', this.config.detector.model, ''),
        model('landmarks', this.config.landmarks.model, 'face_landmark_68_model.bin'),
        model('embedder', this.config.embedder.model, 'face_recognition_model.bin'),
        ...(this.config.fusion?.with ?? []).map((part) => model('embedder', part.embedder.model, 'face_recognition_model.bin')),
        model('age', this.attributes.age.model, 'age_gender_model.bin'),
        model('eyes', this.attributes.eyes.model, ''),
        model('liveness', this.attributes.liveness.model, ''),
        model('pose', this.attributes.pose.model, ''),
      ],
    };
  }

  get templateModelId(): string { return this.embedder.templateModelId; }
  get templateVersion(): number { return this.embedder.templateVersion; }
  get dimension(): number { return this.embedder.dimension; }

  /**
   * Every plausible face in the image, largest first (detections whose landmarks are not a face's are
   * dropped: see face-plausibility.ts). With auto-rotation every quarter turn is scored by its surest
   * plausible face, and the turn whose face looks most upright wins: the detector is nearly as sure of
   * a face upside down or lying on its side as of an upright one, so its confidence alone cannot pick
   * the turn. The image as sent and its 180° turn are always tried; 90° and 270° only when the image
   * as sent is not surely upright or loses to its 180° turn.
   */
  async analyze(image: DecodedImage, options: AnalyzeOptions): Promise<FaceAnalysis[]> {
    let best: { turn: 0 | 1 | 2 | 3; raster: RgbImage; boxes: DetectedBox[]; examined: Map<DetectedBox, Examined>; score: number; upright: number } | undefined;
    for (const turn of options.autoRotate ? ([0, 2, 1, 3] as const) : [options.turn ?? 0]) {
      if (turn === 1 && best?.turn === 0 && best.upright >= SURELY_UPRIGHT) break;
      await mainThreadTurn();
      const raster = rotateRgb(image.rgb, turn);
      const boxes = (await this.detector.detect(raster)).sort((a, b) => b.confidence - a.confidence);
      const examined = new Map<DetectedBox, Examined>();
      let upright = -Infinity;
      if (options.autoRotate) {
        for (const box of boxes) {
          const e = await this.examine(raster, box);
          examined.set(box, e);
          if (e.plausible) {
            upright = uprightness(box.confidence, e.upright);
            break;
          }
        }
        if (upright === -Infinity) continue;
      }
      const score = upright + (turn === 0 ? AS_SENT_PREFERENCE : 0);
      if (!best || score > best.score) best = { turn, raster, boxes, examined, score, upright };
    }
    if (!best) return [];
    const { turn, raster, examined } = best;
    const all = await Promise.all(best.boxes.map((box) => examined.get(box) ?? this.examine(raster, box)));
    const faces = all.filter((e) => e.plausible).map((e) => this.locate(image, turn, e));
    return faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  }

  /**
   * Landmarks of one detection in the raster the detector saw (one inference, a few more for a rolled
   * face) and whether they are a face's.
   */
  private async examine(raster: RgbImage, box: DetectedBox): Promise<Examined> {
    const first = await this.landmarker.locate(raster, box);
    // Candidates in order of preference: the roll-corrected or best-of-rolls answer, then the others.
    let candidates = [first];
    const roll = estimateHeadPose(first).roll;
    if (Math.abs(roll) > ROLL_REFINE_DEGREES) candidates = [await this.locateUpright(raster, box, roll), first];
    else if (eyeSpan(first) < LANDMARKS_MISSED * box.width) candidates = await this.bestOfRolls(raster, box, first);
    // A correction can itself miss (turn a face the wrong way, fold its eyes together): the first
    // candidate whose shape is a face's is kept, and the detection is dropped when none is.
    const plausible = candidates.find((c) => implausibility(faceGeometry(box, c)) === undefined);
    return { box, landmarks: plausible ?? candidates[0], upright: faceGeometry(box, first), plausible: plausible !== undefined };
  }

  /** A face in the original image's coordinates, with its pose. */
  private locate(image: DecodedImage, turn: 0 | 1 | 2 | 3, { box, landmarks }: Examined): FaceAnalysis {
    const landmarks68 = landmarks.map(([x, y]) => unrotatePoint(x, y, turn, image.rgb));
    const rasterFace: FaceLandmarks = { landmarks68, points5: points5From68(landmarks68) };
    const s = image.scale;
    const toOriginal = (p: Point): Point => [p[0] * s, p[1] * s];
    const corners = [unrotatePoint(box.x, box.y, turn, image.rgb), unrotatePoint(box.x + box.width, box.y + box.height, turn, image.rgb)];
    const x1 = Math.min(corners[0][0], corners[1][0]) * s;
    const y1 = Math.min(corners[0][1], corners[1][1]) * s;
    const x2 = Math.max(corners[0][0], corners[1][0]) * s;
    const y2 = Math.max(corners[0][1], corners[1][1]) * s;
    const points5 = rasterFace.points5.map(toOriginal);
    return {
      box: { x: x1, y: y1, width: x2 - x1, height: y2 - y1 },
      confidence: box.confidence,
      points5,
      landmarks68: landmarks68.map(toOriginal),
      pose: estimateHeadPose(landmarks68),
      interEyeDistance: distance(points5[0], points5[1]),
      rotation: turn,
      raster: rasterFace,
    };
  }

  /**
   * Landmarks of a rolled face, found on a patch turned upright: the 68-point net was trained on
   * upright faces and, given one rolled by 40° or more, returns a shape halfway to upright.
   */
  private async locateUpright(raster: RgbImage, box: DetectedBox, rollDegrees: number): Promise<Point[]> {
    const side = Math.max(box.width, box.height);
    const k = Math.min(1, 224 / side);
    const size = Math.round(2 * side * k);
    const a = (rollDegrees * Math.PI) / 180;
    const cos = Math.cos(a) / k, sin = Math.sin(a) / k;
    const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
    // Patch pixel (u, v) ← source centre + R(roll)·(u − size/2, v − size/2)/k: the patch's up is the face's up.
    const toSource: AffineMatrix = [cos, -sin, cx - (cos * size) / 2 + (sin * size) / 2, sin, cos, cy - (sin * size) / 2 - (cos * size) / 2];
    const patch = warpAffineToRgb(raster, toSource, size, size);
    const patchBox = { x: size / 2 - (box.width * k) / 2, y: size / 2 - (box.height * k) / 2, width: box.width * k, height: box.height * k };
    const points = await this.landmarker.locate(patch, patchBox);
    return points.map(([u, v]) => applyAffine(toSource, u, v));
  }

  /**
   * When the landmarks missed the face (eyes far closer together than the box implies), the face
   * may be rolled too far for the net to see it: try patches turned ±45°; the landmarks whose eyes
   * span the box best come first.
   */
  private async bestOfRolls(raster: RgbImage, box: DetectedBox, first: Point[]): Promise<Point[][]> {
    const candidates = [first, await this.locateUpright(raster, box, 45), await this.locateUpright(raster, box, -45)];
    return candidates.sort((a, b) => eyeSpan(b) - eyeSpan(a));
  }

  /** The face's L2-normalised embedding. */
  embed(image: DecodedImage, face: FaceAnalysis): Promise<Float32Array> {
    return this.embedder.embed(image.rgb, face.raster);
  }

  /** Inferences and seconds per model since start (for metrics). */
  inferenceStats(): InferenceStats[] {
    return this.pool.inferenceStats();
  }

  /** Apparent age in years. */
  estimateAge(image: DecodedImage, face: FaceAnalysis): Promise<number> {
    return this.ages.estimate(image.rgb, rasterBox(image, face));
  }

  /** Head pose from a learned regressor (steadier than the landmark geometry of `pose`, 6 ms more). */
  learnedPose(image: DecodedImage, face: FaceAnalysis): Promise<LearnedPose> {
    return this.poses.estimate(image.rgb, rasterBox(image, face));
  }

  /** Probability that each eye is open. */
  eyeOpenness(image: DecodedImage, face: FaceAnalysis): Promise<EyeOpenness> {
    return this.eyes.openness(image.rgb, face.raster.landmarks68);
  }

  /** What a presentation-attack decision is made from (see LivenessCues). */
  livenessCues(image: DecodedImage, face: FaceAnalysis): Promise<LivenessCues> {
    return this.liveness.cues(image.rgb, rasterBox(image, face));
  }

  /** Pixel measures of the face and its image (sharpness, exposure, occlusion…). */
  measure(image: DecodedImage, face: FaceAnalysis): PixelMeasures {
    return measureFace(image.rgb, rasterBox(image, face), face.raster.landmarks68);
  }

  /** Exposure of the whole image: mean luminance and the shares clipped black and white. */
  measureImage(image: DecodedImage): { mean: number; dark: number; bright: number } {
    return imageExposure(image.rgb);
  }

  /** The aligned face chip the embedder sees, as an RGB image. */
  alignedFace(image: DecodedImage, face: FaceAnalysis): RgbImage {
    const size = this.aligner.config.size;
    const planar = new Float32Array(3 * size * size);
    this.aligner.sample(image.rgb, face.raster, planar, 0, 'rgb', false);
    const out = createRgbImage(size, size);
    const plane = size * size;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) out.data[i * 3 + c] = Math.max(0, Math.min(255, Math.round(planar[c * plane + i])));
    }
    return out;
  }
}

/** The face's box in the decoded raster (images over the decode limit are decoded downscaled). */
function rasterBox(image: DecodedImage, face: FaceAnalysis): Box {
  const s = image.scale;
  return { x: face.box.x / s, y: face.box.y / s, width: face.box.width / s, height: face.box.height / s };
}

function displaySource(source: string): string {
  const i = source.lastIndexOf('node_modules/');
  return i >= 0 ? source.slice(i + 'node_modules/'.length) : source;
}
