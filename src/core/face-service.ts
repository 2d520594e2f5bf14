import type { DecodedImage, ImageHeader } from '../engine/image/decode.ts';
import { encodeJpeg } from '../engine/image/decode.ts';
import type { FaceAnalysis, FaceEngine } from '../engine/face-engine.ts';
import { FaceproofError } from './errors.ts';
import { decodeBase64, type ImageSource } from './image-input.ts';
import { DEFAULT_TENANT } from './image-store.ts';
import type { ImageLoader } from './image-loader.ts';
import { encodeTemplate, decodeTemplate, assertCompatible, cosineSimilarity, type FaceTemplate } from './template.ts';
import type { Calibrator, CalibratedScore, ImageType } from './calibration.ts';
import type { TemplateModel } from './ports.ts';

/** One side of a comparison: an image (largest face, or every face) or a stored template. */
export type FaceInput = { kind: 'image'; source: ImageSource } | { kind: 'template'; template: string };

/** Refuses a face whose portrait quality is not good under a named profile (422 quality_rejected). */
export interface QualityGate {
  /** `oneFaceExpected`: another person in the picture is itself a failure. */
  enforce(image: DecodedImage, faces: FaceAnalysis[], profile: string, field: string, oneFaceExpected: boolean): Promise<void>;
}

export interface DetectOptions {
  tenantId?: string;
  /** Enforce portrait quality under this profile before answering. */
  qualityProfile?: string;
  autoRotate: boolean;
  returnTemplates: boolean;
  returnFaceImages: boolean;
}

export interface DetectedFace {
  face: FaceAnalysis;
  template?: string;
  /** JPEG of the aligned face chip. */
  faceImage?: Buffer;
}

export interface DetectResult {
  image: { width: number; height: number };
  faces: DetectedFace[];
}

export interface CompareRequest {
  tenantId?: string;
  source: FaceInput;
  target: FaceInput;
  sourceType: ImageType;
  targetType: ImageType;
  allFaces: boolean;
  autoRotate: boolean;
  qualityProfile?: string;
}

export interface ComparedPair extends CalibratedScore {
  sourceIndex: number;
  targetIndex: number;
}

export interface CompareResult extends CalibratedScore {
  /** The compared face of each side; absent for a template. */
  sourceFace?: FaceAnalysis;
  targetFace?: FaceAnalysis;
  pairs?: ComparedPair[];
  /** With `allFaces`: every face of each side, in the order of the pairs' indexes (undefined for a template). */
  sourceFaces?: Array<FaceAnalysis | undefined>;
  targetFaces?: Array<FaceAnalysis | undefined>;
}

export interface EmbeddedFace {
  /** Absent when the face came as a template. */
  face?: FaceAnalysis;
  vector: Float32Array;
}

interface EmbeddedSide {
  faces: EmbeddedFace[];
}

export interface FacesOfOptions {
  tenantId: string;
  /** Where the input sits in the request, for error messages. */
  field: string;
  allFaces: boolean;
  autoRotate: boolean;
  /** Enforce portrait quality of the image's chosen faces under this profile. */
  qualityProfile?: string;
  /**
   * Refuse an image showing another whole face at least this share of the largest's width (422
   * quality_rejected, image_has_multiple_faces), as a quality profile's otherFaceShare does.
   */
  otherFaceShare?: number;
}

/** The 1:1 use cases: find faces, and compare two faces with a calibrated decision. */
export class FaceService {
  constructor(
    private readonly engine: FaceEngine,
    private readonly calibrator: Calibrator,
    private readonly loader: ImageLoader,
    private readonly quality?: QualityGate,
  ) {}

  private load(source: ImageSource, tenantId: string, field: string): Promise<DecodedImage> {
    return this.loader.load(source, tenantId, field);
  }

  /** An image's container, size and bytes, read from its header (no pixel decoded). */
  inspectImage(source: ImageSource, tenantId: string, field: string): Promise<ImageHeader> {
    return this.loader.inspect(source, tenantId, field);
  }

  private async enforceQuality(image: DecodedImage, faces: FaceAnalysis[], profile: string | undefined, field: string, oneFaceExpected: boolean): Promise<void> {
    if (profile === undefined || faces.length === 0) return;
    if (!this.quality) throw new FaceproofError('invalid_parameter', 'quality checks are not available in this deployment', 'quality_profile');
    await this.quality.enforce(image, faces, profile, field, oneFaceExpected);
  }

  async detect(source: ImageSource, options: DetectOptions, field = 'image'): Promise<DetectResult> {
    const image = await this.load(source, options.tenantId ?? DEFAULT_TENANT, field);
    const faces = await this.engine.analyze(image, { autoRotate: options.autoRotate });
    await this.enforceQuality(image, faces, options.qualityProfile, field, false);
    const detected = await Promise.all(faces.map(async (face): Promise<DetectedFace> => ({
      face,
      template: options.returnTemplates ? encodeTemplate(this.templateOf(await this.engine.embed(image, face))) : undefined,
      faceImage: options.returnFaceImages ? await encodeJpeg(this.engine.alignedFace(image, face)) : undefined,
    })));
    return { image: { width: image.width, height: image.height }, faces: detected };
  }

  async compare(request: CompareRequest): Promise<CompareResult> {
    const [source, target] = await Promise.all([
      this.embedSide(request.source, 'source', request),
      this.embedSide(request.target, 'target', request),
    ]);
    const assess = (i: number, j: number) =>
      this.calibrator.assess(cosineSimilarity(source.faces[i].vector, target.faces[j].vector), request.sourceType, request.targetType);
    const result: CompareResult = { ...assess(0, 0), sourceFace: source.faces[0].face, targetFace: target.faces[0].face };
    if (request.allFaces) {
      result.pairs = [];
      result.sourceFaces = source.faces.map((f) => f.face);
      result.targetFaces = target.faces.map((f) => f.face);
      for (let i = 0; i < source.faces.length; i++) {
        for (let j = 0; j < target.faces.length; j++) result.pairs.push({ sourceIndex: i, targetIndex: j, ...assess(i, j) });
      }
    }
    return result;
  }

  private async embedSide(input: FaceInput, field: string, { allFaces, autoRotate, tenantId, qualityProfile }: CompareRequest): Promise<EmbeddedSide> {
    return { faces: await this.facesOf(input, { field, allFaces, autoRotate, tenantId: tenantId ?? DEFAULT_TENANT, qualityProfile }) };
  }

  /**
   * The faces of an input with their embeddings: the largest face of an image (or every face, largest
   * first), or the one face of a template. An image without a face is `no_face_detected`.
   */
  async facesOf(input: FaceInput, options: FacesOfOptions): Promise<EmbeddedFace[]> {
    const { field, tenantId } = options;
    if (input.kind === 'template') return [{ vector: this.parseTemplate(input.template, `${field}.template`).vector }];
    const image = await this.load(input.source, tenantId, field);
    const faces = await this.engine.analyze(image, { autoRotate: options.autoRotate });
    if (faces.length === 0) throw new FaceproofError('no_face_detected', `no face was found in the ${field} image`, field);
    if (options.otherFaceShare !== undefined) {
      // A face cut by the image border is a bystander at the edge of the frame, not a second subject.
      const whole = (f: FaceAnalysis) => f.box.x > 1 && f.box.y > 1 && f.box.x + f.box.width < image.width - 1 && f.box.y + f.box.height < image.height - 1;
      if (faces.slice(1).some((f) => whole(f) && f.box.width >= faces[0].box.width * options.otherFaceShare!)) {
        throw new FaceproofError('quality_rejected', `the ${field} image shows more than one face: image_has_multiple_faces`, field);
      }
    }
    const chosen = options.allFaces ? faces : faces.slice(0, 1);
    await this.enforceQuality(image, faces, options.qualityProfile, field, !options.allFaces);
    return Promise.all(chosen.map(async (face) => ({ face, vector: await this.engine.embed(image, face) })));
  }

  /** The template model this service's engine produces. */
  get templateModel(): TemplateModel {
    return { modelId: this.engine.templateModelId, version: this.engine.templateVersion, dimension: this.engine.dimension };
  }

  encodeVector(vector: Float32Array): string {
    return encodeTemplate(this.templateOf(vector));
  }

  parseTemplate(base64: string, field: string): FaceTemplate {
    let bytes: Uint8Array;
    try {
      bytes = decodeBase64(base64, field);
    } catch {
      throw new FaceproofError('template_invalid', 'the template is not valid base64', field);
    }
    const template = decodeTemplate(bytes, field);
    assertCompatible(template, { modelId: this.engine.templateModelId, version: this.engine.templateVersion, dimension: this.engine.dimension }, field);
    return template;
  }

  private templateOf(vector: Float32Array): FaceTemplate {
    return { modelId: this.engine.templateModelId, version: this.engine.templateVersion, vector };
  }

  /** Decodes and analyses without embedding; used by the CLI and benchmarks. */
  async analyze(source: ImageSource, autoRotate = false): Promise<{ image: DecodedImage; faces: FaceAnalysis[] }> {
    const image = await this.load(source, DEFAULT_TENANT, 'image');
    return { image, faces: await this.engine.analyze(image, { autoRotate }) };
  }

  embed(image: DecodedImage, face: FaceAnalysis): Promise<Float32Array> {
    return this.engine.embed(image, face);
  }

  get calibration(): Calibrator {
    return this.calibrator;
  }
}
