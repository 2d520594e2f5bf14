import type { AgeEstimatorConfig } from './age-estimator.ts';
import type { EyeStateConfig } from './eye-state.ts';
import type { HeadPoseModelConfig } from './head-pose-model.ts';
import type { LivenessModelConfig } from '../liveness/liveness-cues.ts';
import { resolveModelSpec } from '../pipeline.ts';

/** The models behind quality, liveness and age, each with its preprocessing (docs/models.md). */
export interface AttributeModelsConfig {
  age: AgeEstimatorConfig;
  eyes: EyeStateConfig;
  liveness: LivenessModelConfig;
  pose: HeadPoseModelConfig;
}

/**
 * face-api's AgeGenderNet measured MAE 5.0 on UTKFace where faceplugin's SSR-Net (fr_age) answered
 * about 35 years for every face (MAE 22.4); fr_eye, fr_liveness and fr_pose are faceplugin's. The
 * learned pose is for quality checks: on LFW the landmark geometry spreads yaw 1.5× wider (p5/p95
 * ±31° against ±20°; correlation 0.98).
 */
export const DEFAULT_ATTRIBUTE_MODELS: AttributeModelsConfig = {
  age: { model: 'faceapi:package:@vladmandic/face-api/model', inputSize: 112, cropScale: 1.1, flip: true },
  eyes: { model: 'package:faceplugin-face-recognition-js/model/fr_eye.onnx', inputSize: 24, padding: 1.6 },
  liveness: { model: 'package:faceplugin-face-recognition-js/model/fr_liveness.onnx', inputSize: 128, contextScale: 2.7, channelOrder: 'rgb', liveClass: 0 },
  pose: { model: 'package:faceplugin-face-recognition-js/model/fr_pose.onnx', inputSize: 224, margin: 0.25 },
};

export function resolveAttributeModels(config: AttributeModelsConfig): AttributeModelsConfig {
  return {
    age: { ...config.age, model: resolveModelSpec(config.age.model) },
    eyes: { ...config.eyes, model: resolveModelSpec(config.eyes.model) },
    liveness: { ...config.liveness, model: resolveModelSpec(config.liveness.model) },
    pose: { ...config.pose, model: resolveModelSpec(config.pose.model) },
  };
}
