import { Type } from '@sinclair/typebox';
import { Base64Image, Envelope, Signed, FaceSchema, ImageInput } from './schemas.ts';
import { QUALITY_PROFILES, QUALITY_VERDICTS } from '../../core/quality.ts';
import { GESTURES } from '../../core/challenges.ts';

/** Schemas of quality, liveness and age. */

const Verdict = Type.Union(QUALITY_VERDICTS.map((v) => Type.Literal(v)));
const Level = Type.String({
  pattern: '^(LOW|MEDIUM|HIGH|SOFT|REGULAR|HARDENED|low|medium|high|soft|regular|hardened)$',
  description: 'LOW, MEDIUM (default) or HIGH; iDenFace’s SOFT, REGULAR, HARDENED are aliases',
});

export const QualityBody = Type.Object({
  image: ImageInput,
  profile: Type.Optional(Type.Union(Object.keys(QUALITY_PROFILES).map((p) => Type.Literal(p)), { default: 'selfie_mobile' })),
  min_inter_eye_distance: Type.Optional(Type.Number({ minimum: 0, description: 'Pixels; overrides the profile' })),
  max_yaw: Type.Optional(Type.Number({ minimum: 0, maximum: 90 })),
  max_pitch: Type.Optional(Type.Number({ minimum: 0, maximum: 90 })),
  max_roll: Type.Optional(Type.Number({ minimum: 0, maximum: 180 })),
  face_angle_difference: Type.Optional(Type.Number({ minimum: 0, maximum: 90, description: 'iDenFace: one limit for yaw and pitch' })),
  occlusion: Type.Optional(Type.Boolean({ description: 'iDenFace: judge occlusion and sunglasses (default true)' })),
}, { additionalProperties: false });

const Measures = Type.Object({
  sharpness: Type.Number(), image_brightness: Type.Number(), image_dark_fraction: Type.Number(), image_bright_fraction: Type.Number(),
  face_brightness: Type.Number(), face_contrast: Type.Number(), blockiness: Type.Number(),
  inter_eye_distance: Type.Number({ description: 'px' }),
  landmark_consistency: Type.Number({ description: 'inter-eye distance / face box width; about 0.45 when the landmarks sit on the face' }),
  face_size_ratio: Type.Number({ description: 'face box area / image area' }),
  yaw: Type.Number(), pitch: Type.Number(), roll: Type.Number(),
  left_eye_open: Type.Number(), right_eye_open: Type.Number(),
  occlusion: Type.Object({ left_eye: Type.Number(), right_eye: Type.Number(), nose: Type.Number(), mouth: Type.Number() }),
  eye_darkness: Type.Object({ left: Type.Number(), right: Type.Number() }),
  eye_band_dark_fraction: Type.Number(),
});

export const QualityResponse = Type.Object({
  ...Envelope,
  ...Signed,
  verdict: Verdict,
  profile: Type.String(),
  image: Type.Object({ width: Type.Integer(), height: Type.Integer() }),
  faces: Type.Array(Type.Object({
    verdict: Verdict, reasons: Type.Array(Verdict), quality: Type.Integer({ minimum: 0, maximum: 100 }), eyes: Type.String(),
    box: FaceSchema.properties.box, measures: Measures,
  })),
});

export const LivenessBody = Type.Object({
  images: Type.Optional(Type.Array(ImageInput, { minItems: 1, maxItems: 10, description: 'Still images of one session' })),
  video: Type.Optional(Base64Image),
  file_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A video or frame list stored with POST /v1/files' })),
  security_level: Type.Optional(Level),
  return_best_frame: Type.Optional(Type.Boolean({ default: false })),
  reference: Type.Optional(ImageInput),
}, { additionalProperties: false });

const FrameVerdict = Type.Object({ is_live: Type.Boolean(), score: Type.Number(), reason: Type.Optional(Type.String()), timestamp: Type.Optional(Type.Number()) });

export const LivenessResponse = Type.Object({
  ...Envelope,
  ...Signed,
  is_live: Type.Boolean(), score: Type.Number(), security_level: Type.String(), threshold: Type.Number(),
  reason: Type.Optional(Type.String({ description: 'spoof, no_face, multiple_faces, low_quality or identity_changed' })),
  images: Type.Array(FrameVerdict),
  video: Type.Optional(Type.Object({
    duration_seconds: Type.Number(), frames_sampled: Type.Integer(), frames_with_face: Type.Integer(), frames_per_second: Type.Number(),
    motion: Type.Number(), blinks: Type.Integer(), same_identity: Type.Boolean(),
    best_frame: Type.Optional(Type.Object({ timestamp: Type.Number(), image: Type.Optional(Type.String()), face: Type.Optional(Type.String()) })),
  })),
  reference: Type.Optional(Type.Object({ decision: Type.String(), score: Type.Number(), far: Type.Number(), similarity: Type.Number() })),
});

export const ChallengeResponse = Type.Object({
  ...Envelope,
  challenge_id: Type.String(), nonce: Type.String(),
  gestures: Type.Array(Type.Union(GESTURES.map((g) => Type.Literal(g)))),
  expires_at: Type.String({ format: 'date-time' }),
});

export const ChallengeParams = Type.Object({ challenge_id: Type.String({ minLength: 1, maxLength: 64 }) });

export const ChallengeAnswerBody = Type.Object({
  nonce: Type.String({ minLength: 1, maxLength: 128 }),
  video: Type.Optional(Base64Image),
  file_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  security_level: Type.Optional(Level),
}, { additionalProperties: false });

export const ChallengeOutcomeResponse = Type.Object({
  ...Envelope,
  ...Signed,
  challenge_id: Type.String(),
  status: Type.Union(['SUCCESS', 'FAILED', 'SPOOF', 'TIMEOUT'].map((s) => Type.Literal(s))),
  reason: Type.Optional(Type.String()),
  expected: Type.Array(Type.String()),
  observed: Type.Array(Type.String()),
  liveness_score: Type.Number(),
  same_identity: Type.Boolean(),
});

export const AgeBody = Type.Object({
  image: ImageInput,
  threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 120, description: 'Adds above_threshold to each face' })),
}, { additionalProperties: false });

export const AgeResponse = Type.Object({
  ...Envelope,
  ...Signed,
  faces: Type.Array(Type.Object({ age: Type.Number(), above_threshold: Type.Optional(Type.Boolean()), box: FaceSchema.properties.box })),
});

export const AgeConsistencyBody = Type.Object({
  document: ImageInput,
  selfie: ImageInput,
  max_age_difference: Type.Optional(Type.Number({ minimum: 0, maximum: 100, default: 15 })),
}, { additionalProperties: false });

export const AgeConsistencyResponse = Type.Object({
  ...Envelope,
  ...Signed,
  verdict: Type.Union([Type.Literal('age_match'), Type.Literal('age_not_match')]),
  document_age: Type.Number(), selfie_age: Type.Number(), difference: Type.Number(), max_age_difference: Type.Number(),
});
