import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { IMAGE_TYPES } from '../../core/calibration.ts';
import { QUALITY_PROFILES } from '../../core/quality.ts';

/** Schemas of the native v1 API: they validate requests and generate the OpenAPI document. */

export const Base64Image = Type.Object(
  {
    base64: Type.String({
      minLength: 1,
      description: 'JPEG, PNG or WebP bytes in standard or URL-safe base64, with or without a data: prefix',
    }),
  },
  { additionalProperties: false, title: 'Base64Image' },
);

export const TemplateInput = Type.Object(
  { template: Type.String({ minLength: 1, description: 'A template returned by /v1/detect' }) },
  { additionalProperties: false, title: 'TemplateInput' },
);

export const StoredImageInput = Type.Object(
  { image_id: Type.String({ minLength: 1, maxLength: 64, description: 'An image stored with POST /v1/images' }) },
  { additionalProperties: false, title: 'StoredImage' },
);

export const ImageInput = Type.Union([Base64Image, StoredImageInput], { title: 'ImageInput' });
export const FaceInput = Type.Union([Base64Image, StoredImageInput, TemplateInput], { title: 'FaceInput' });

export const ImageTypeSchema = Type.Union(IMAGE_TYPES.map((t) => Type.Literal(t)), {
  default: 'SELFIE',
  description: 'What kind of picture this is; selects the decision thresholds of the pair',
});

/** Enforce portrait quality: a face that is not `good` under the profile gets 422 quality_rejected. */
export const QualityProfileOption = Type.Union(Object.keys(QUALITY_PROFILES).map((p) => Type.Literal(p)), {
  description: 'Refuse the image (422 quality_rejected, naming the verdict) unless its face is good under this quality profile (see /v1/quality)',
});

export const AutoRotate = Type.Boolean({ default: false, description: 'When no face is found, also try the image turned by 90°, 180° and 270°' });

export const DetectJsonBody = Type.Object(
  {
    image: ImageInput,
    return_templates: Type.Optional(Type.Boolean({ default: false })),
    return_face_images: Type.Optional(Type.Boolean({ default: false, description: 'Add the aligned face chip as base64 JPEG' })),
    auto_rotate: Type.Optional(AutoRotate),
    quality_profile: Type.Optional(QualityProfileOption),
  },
  { additionalProperties: false },
);

/** Multipart variants: file fields are raw bytes, other fields are text coerced to their types. */
export const FileField = (description: string) => Type.Unsafe<Buffer>({ format: 'binary', description });

export const DetectMultipartBody = Type.Object({
  image: FileField('The image file'),
  return_templates: Type.Optional(Type.Boolean()),
  return_face_images: Type.Optional(Type.Boolean()),
  auto_rotate: Type.Optional(Type.Boolean()),
  quality_profile: Type.Optional(QualityProfileOption),
});

export const CompareJsonBody = Type.Object(
  {
    source: FaceInput,
    target: FaceInput,
    source_type: Type.Optional(ImageTypeSchema),
    target_type: Type.Optional(ImageTypeSchema),
    all_faces: Type.Optional(Type.Boolean({ default: false, description: 'Also compare every face of the source with every face of the target' })),
    auto_rotate: Type.Optional(AutoRotate),
    quality_profile: Type.Optional(QualityProfileOption),
  },
  { additionalProperties: false },
);

export const CompareMultipartBody = Type.Object({
  source: FileField('The source image file'),
  target: FileField('The target image file'),
  source_type: Type.Optional(ImageTypeSchema),
  target_type: Type.Optional(ImageTypeSchema),
  all_faces: Type.Optional(Type.Boolean()),
  auto_rotate: Type.Optional(Type.Boolean()),
  quality_profile: Type.Optional(QualityProfileOption),
});

/** [x, y] in pixels (a pair as an array of two, which every OpenAPI version reads alike). */
const PointSchema = Type.Array(Type.Number(), { minItems: 2, maxItems: 2, description: '[x, y] in pixels' });

export const FaceSchema = Type.Object({
  box: Type.Object({ x: Type.Number(), y: Type.Number(), width: Type.Number(), height: Type.Number() }),
  confidence: Type.Number(),
  landmarks: Type.Object({
    left_eye: PointSchema,
    right_eye: PointSchema,
    nose: PointSchema,
    mouth_left: PointSchema,
    mouth_right: PointSchema,
  }, { description: 'Left and right as seen in the image' }),
  pose: Type.Object({ yaw: Type.Number(), pitch: Type.Number(), roll: Type.Number() }, { description: 'Degrees' }),
  inter_eye_distance: Type.Number({ description: 'Pixels between the eye centres' }),
  rotation: Type.Optional(Type.Number({ description: 'Degrees clockwise the image was turned to find this face (auto_rotate)' })),
  template: Type.Optional(Type.String()),
  face_image: Type.Optional(Type.String({ description: 'Aligned face chip, base64 JPEG' })),
});

export const Envelope = { request_id: Type.String(), client_request_id: Type.Optional(Type.String()) };

/** On every decision: the proof that this server gave it (docs/signing.md). */
export const Signed = {
  signature: Type.Optional(Type.String({
    description: 'Compact JWS (ES256, with kid) with a detached payload: this body without `signature`, canonicalised by RFC 8785. Public keys: GET /.well-known/jwks.json',
  })),
};

export const DetectResponse = Type.Object({
  ...Envelope,
  image: Type.Object({ width: Type.Integer(), height: Type.Integer() }),
  faces: Type.Array(FaceSchema),
});

const ThresholdSchema = Type.Object({ far: Type.Number(), score: Type.Number(), similarity: Type.Number() });
const Decision = Type.Union([Type.Literal('match'), Type.Literal('uncertain'), Type.Literal('no_match')]);
const Scores = {
  score: Type.Number({ description: 'Calibrated 0..1: −log10(FAR)/6, clamped' }),
  similarity: Type.Number({ description: 'Raw cosine similarity of the embeddings' }),
  far: Type.Number({ description: 'Estimated false-accept rate at this similarity' }),
  decision: Decision,
};

export const CompareResponse = Type.Object({
  ...Envelope,
  ...Signed,
  ...Scores,
  threshold: Type.Number({ description: 'Score at or above which the decision is match' }),
  thresholds: Type.Object({ match: ThresholdSchema, uncertain: ThresholdSchema }),
  source_face: Type.Union([FaceSchema, Type.Null()]),
  target_face: Type.Union([FaceSchema, Type.Null()]),
  pairs: Type.Optional(Type.Array(Type.Object({ source_index: Type.Integer(), target_index: Type.Integer(), ...Scores }))),
});

export const ErrorResponse = Type.Object({
  ...Envelope,
  error: Type.Object({ code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) }),
}, { title: 'Error' });

export const HealthResponse = Type.Object({ ...Envelope, status: Type.Literal('ok'), uptime_seconds: Type.Number() });

export const CapabilitiesResponse = Type.Object({
  ...Envelope,
  version: Type.String(),
  pipeline: Type.String(),
  template: Type.Object({ model_id: Type.String(), version: Type.Integer(), dimension: Type.Integer() }),
  models: Type.Array(Type.Object({ role: Type.String(), source: Type.String(), bytes: Type.Integer() })),
  image_formats: Type.Array(Type.String()),
  image_types: Type.Array(Type.String()),
  limits: Type.Object({
    max_body_bytes: Type.Integer(),
    max_image_bytes: Type.Integer(),
    max_image_pixels: Type.Integer(),
    min_image_side: Type.Integer(),
  }),
  thresholds: Type.Object({
    default: Type.Object({ match_far: Type.Number(), uncertain_far: Type.Number() }),
    pairs: Type.Record(Type.String(), Type.Object({ match_far: Type.Number(), uncertain_far: Type.Number() })),
  }),
  calibration: Type.Object({
    dataset: Type.String(),
    impostor_pairs: Type.Integer(),
    built: Type.String(),
    far_floor: Type.Number(),
    table: Type.Array(ThresholdSchema),
    genuine_pairs: Type.Integer({ description: 'Same-person pairs of the calibration data; the false non-match rates move in steps of one pair in this many' }),
    det: Type.Optional(Type.Array(
      Type.Object({ similarity: Type.Number(), far: Type.Number(), fnmr: Type.Number({ description: 'Share of the genuine pairs scoring below this similarity' }) }),
      { description: 'The DET curve at every point of the calibration table, similarity ascending; absent when the table was built without its genuine side' },
    )),
    thresholds: Type.Array(Type.Object({
      pair: Type.String({ description: '"default", or the image-type pair (e.g. ID_DOCUMENT+SELFIE) whose own thresholds these are' }),
      decision: Type.Union([Type.Literal('match'), Type.Literal('uncertain')], { description: 'The decision reached at or above this threshold' }),
      ...ThresholdSchema.properties,
      fnmr: Type.Optional(Type.Number({ description: 'Estimated false non-match rate of this threshold on the genuine pairs (absent without a DET curve)' })),
    }), { description: 'The decision thresholds in force (FACEPROOF_MATCH_FAR, FACEPROOF_UNCERTAIN_FAR, FACEPROOF_THRESHOLDS) on the calibration' }),
  }),
});

export const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'Any JSON object, kept as given' });
const Label = Type.String({ maxLength: 256 });
const TtlSeconds = Type.Integer({ minimum: 1, maximum: 10 * 365 * 24 * 3600, description: 'Delete the image this many seconds after storing it' });

export const StoreImageJsonBody = Type.Object(
  { image: Base64Image, label: Type.Optional(Label), metadata: Type.Optional(Metadata), ttl_seconds: Type.Optional(TtlSeconds) },
  { additionalProperties: false },
);

export const StoreImageMultipartBody = Type.Object({
  image: FileField('The image file'),
  label: Type.Optional(Label),
  metadata: Type.Optional(Type.String({ description: 'A JSON object, as text' })),
  ttl_seconds: Type.Optional(TtlSeconds),
});

export const UpdateImageBody = Type.Object(
  { label: Type.Optional(Type.Union([Type.Null(), Label])), metadata: Type.Optional(Metadata) },
  { additionalProperties: false, minProperties: 1 },
);

export const ImageIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const ImageReadQuery = Type.Object({
  format: Type.Optional(Type.Union([Type.Literal('binary'), Type.Literal('base64')], { default: 'binary', description: 'binary: the file itself; base64: JSON with the file in base64' })),
}, { additionalProperties: false });

export const StoredImageResponse = Type.Object({
  ...Envelope,
  image_id: Type.String(),
  label: Type.Union([Type.Null(), Type.String()]),
  metadata: Metadata,
  format: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  bytes: Type.Integer(),
  sha256: Type.String({ description: 'SHA-256 of the stored bytes, hex' }),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Type.Union([Type.Null(), Type.String({ format: 'date-time' })]),
  base64: Type.Optional(Type.String()),
});

/** The standard error responses every route can return. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorResponse]));
}

export type DetectJson = Static<typeof DetectJsonBody>;
export type DetectMultipart = Static<typeof DetectMultipartBody>;
export type CompareJson = Static<typeof CompareJsonBody>;
export type CompareMultipart = Static<typeof CompareMultipartBody>;
