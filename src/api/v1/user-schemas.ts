import { Type } from '@sinclair/typebox';
import { Envelope, Signed, ImageInput, ImageTypeSchema, Metadata, QualityProfileOption } from './schemas.ts';
import { BoxSchema, Cursor, FileField, Template } from './collection-schemas.ts';

/** Schemas of users (face authentication) and sessions (one-to-few). */

export const UserId = Type.String({ pattern: '^[\\w.@:-]{1,128}$', description: 'Your identifier for the user: letters, digits, _ . @ : -' });
export const UserParams = Type.Object({ user_id: UserId });
export const UserFaceParams = Type.Object({ user_id: UserId, face_id: Type.String({ minLength: 1, maxLength: 64 }) });

export const FaceToKeep = Type.Object({
  image: Type.Optional(ImageInput),
  template: Type.Optional(Template),
  image_type: Type.Optional(ImageTypeSchema),
  quality_profile: Type.Optional(QualityProfileOption),
}, { additionalProperties: false, title: 'FaceToKeep', description: 'image or template; the largest face of an image is kept' });

export const KeptFaceSchema = Type.Object({
  face_id: Type.String(),
  image_type: Type.String(),
  image_id: Type.Union([Type.Null(), Type.String()]),
  box: Type.Union([Type.Null(), BoxSchema]),
  created_at: Type.String(),
});

export const RegisterUserBody = Type.Object({
  user_id: UserId,
  faces: Type.Array(FaceToKeep, { minItems: 1, maxItems: 20, description: 'Selfies and/or an ID document photo' }),
  metadata: Type.Optional(Metadata),
}, { additionalProperties: false });

export const AddUserFacesBody = Type.Object({ faces: Type.Array(FaceToKeep, { minItems: 1, maxItems: 20 }) }, { additionalProperties: false });

export const UserResponse = Type.Object({
  ...Envelope,
  user_id: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('inactive')]),
  metadata: Metadata,
  faces: Type.Array(KeptFaceSchema),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const AuthenticateBody = Type.Object({
  image: Type.Optional(ImageInput),
  template: Type.Optional(Template),
  image_type: Type.Optional(ImageTypeSchema),
}, { additionalProperties: false });

export const AuthenticateMultipartBody = Type.Object({ image: FileField, image_type: Type.Optional(ImageTypeSchema) });

export const AuthenticateResponse = Type.Object({
  ...Envelope,
  ...Signed,
  user_id: Type.String(),
  decision: Type.Union([Type.Literal('match'), Type.Literal('no_match')]),
  score: Type.Number({ description: 'Calibrated 0..1 of the fused decision' }),
  far: Type.Number({ description: 'False-accept rate of the fused decision (best of all enrolled faces)' }),
  similarity: Type.Number({ description: 'Best cosine similarity' }),
  best_face_id: Type.String(),
  compared_faces: Type.Integer(),
  threshold: Type.Object({ far: Type.Number(), score: Type.Number() }),
});

export const KeptFacesResponse = Type.Object({ ...Envelope, faces: Type.Array(KeptFaceSchema) });

export const HistoryQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Cursor),
}, { additionalProperties: false });

export const HistoryResponse = Type.Object({
  ...Envelope,
  events: Type.Array(Type.Object({
    action: Type.String(), result: Type.String(), detail: Metadata, request_id: Type.Union([Type.Null(), Type.String()]), at: Type.String(),
  })),
  next_cursor: Type.Union([Type.Null(), Type.String()]),
});

export const SessionParams = Type.Object({ session_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const SessionFaceParams = Type.Object({ session_id: Type.String({ minLength: 1, maxLength: 64 }), face_id: Type.String({ minLength: 1, maxLength: 64 }) });

export const CreateSessionBody = Type.Object({
  ttl_seconds: Type.Optional(Type.Integer({ minimum: 1, description: 'Seconds the session lives (default and maximum in docs/configuration.md)' })),
  image_storage_enabled: Type.Optional(Type.Boolean({ default: false, description: 'Keep a copy of each image added, erased with the session' })),
  metadata: Type.Optional(Metadata),
}, { additionalProperties: false });

export const SessionResponse = Type.Object({
  ...Envelope,
  session_id: Type.String(),
  image_storage_enabled: Type.Boolean(),
  metadata: Metadata,
  face_count: Type.Integer(),
  created_at: Type.String(),
  expires_at: Type.String(),
});

export const AddSessionFacesBody = Type.Object({
  image: Type.Optional(ImageInput),
  template: Type.Optional(Template),
  image_type: Type.Optional(ImageTypeSchema),
  all_faces: Type.Optional(Type.Boolean({ default: false, description: 'Add every face of the image, not only the largest' })),
}, { additionalProperties: false });

export const AddSessionFacesMultipartBody = Type.Object({ image: FileField, image_type: Type.Optional(ImageTypeSchema), all_faces: Type.Optional(Type.Boolean()) });

export const SessionFaceResponse = Type.Object({ ...Envelope, ...KeptFaceSchema.properties });

export const MatchSessionBody = Type.Object({
  reference_face_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A face of the session, ranked against all the others' })),
  image: Type.Optional(ImageInput),
  template: Type.Optional(Template),
  image_type: Type.Optional(ImageTypeSchema),
}, { additionalProperties: false });

export const MatchSessionMultipartBody = Type.Object({ image: FileField, image_type: Type.Optional(ImageTypeSchema) });

export const MatchSessionResponse = Type.Object({
  ...Envelope,
  ...Signed,
  matches: Type.Array(Type.Object({
    face_id: Type.String(),
    image_type: Type.String(),
    score: Type.Number(),
    far: Type.Number(),
    similarity: Type.Number(),
    decision: Type.Union([Type.Literal('match'), Type.Literal('uncertain'), Type.Literal('no_match')]),
  }), { description: 'Every face of the session, best first' }),
});
