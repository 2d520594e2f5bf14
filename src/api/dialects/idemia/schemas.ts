import { Type, type TSchema } from '@sinclair/typebox';
import { FileField } from '../../v1/schemas.ts';

const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);

export const ImageTypeName = Type.Union([Type.Literal('ID_DOCUMENT'), Type.Literal('SELFIE'), Type.Literal('VIDEO_FRAME')], { description: 'The kind of image' });

export const LandmarksEyes = Type.Object({ x1: Type.Number(), y1: Type.Number(), x2: Type.Number(), y2: Type.Number() }, { title: 'LandmarksEyes' });
export const LandmarksBox = Type.Object({ x: Type.Number(), y: Type.Number(), width: Type.Number(), height: Type.Number() }, { title: 'LandmarksBox' });
export const Landmarks = Type.Object({ eyes: Opt(LandmarksEyes), box: Opt(LandmarksBox) }, { title: 'Landmarks' });

/** IDEMIA's Face object as this server answers it (manual, "Objects: Face" and GetFace). */
export const FaceOut = Type.Object({
  id: Type.String(),
  friendlyName: Opt(Type.Union([Type.String(), Type.Null()])),
  digest: Opt(Type.String({ description: 'SHA-256 (hex) of the image file' })),
  mode: Type.String({ description: 'The biometric algorithm: the template model of this server (GET /v2/capabilities)' }),
  imageType: Type.String(),
  quality: Opt(Type.Number({ description: 'Above 100: a good template; negative: send the face again' })),
  landmarks: Opt(Landmarks),
  imageRotationEnabled: Opt(Type.Union([Type.Boolean(), Type.Null()])),
  template: Opt(Type.String({ description: "A Faceproof template (base64), as /v1/detect's return_templates gives" })),
  templateVersion: Opt(Type.Number({ description: "The template model's version, the one in the template's own header" })),
  correlationId: Opt(Type.String()),
  evidenceId: Opt(Type.String()),
  created: Opt(Type.String({ format: 'date-time' })),
  expires: Opt(Type.String({ format: 'date-time' })),
  signature: Opt(Type.String({ description: 'JWS (compact, payload attached) over the object without its signature; keys at /.well-known/jwks.json' })),
}, { title: 'IdemiaFace' });

/** A Face object as a client sends it (CreateFaceFromJson, the `face` and `referenceFace` parts): fields the server does not use are accepted. */
const faceInFields = {
  id: Opt(Type.String({ maxLength: 256 })),
  friendlyName: Opt(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])),
  digest: Opt(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  mode: Opt(Type.Union([Type.String({ maxLength: 64 }), Type.Null()], { description: "Accepted and not used: faces are coded with this server's algorithm" })),
  imageType: Opt(ImageTypeName),
  quality: Opt(Type.Union([Type.Number(), Type.Null()])),
  landmarks: Opt(Type.Union([Landmarks, Type.Null()])),
  template: Opt(Type.String({ maxLength: 65536 })),
  templateVersion: Opt(Type.Union([Type.Number(), Type.Null()])),
  imageRotationEnabled: Opt(Type.Union([Type.Boolean(), Type.String({ maxLength: 5 }), Type.Null()])),
  signatureDisabled: Opt(Type.Union([Type.Boolean(), Type.String({ maxLength: 5 }), Type.Null()])),
  created: Opt(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  expires: Opt(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  signature: Opt(Type.Union([Type.String({ maxLength: 16384 }), Type.Null()])),
  correlationId: Opt(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  evidenceId: Opt(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
};
export const FaceIn = Type.Object(faceInFields, { title: 'IdemiaFaceIn', additionalProperties: true });
export const FaceJson = Type.Object({ ...faceInFields, template: Type.String({ minLength: 1, maxLength: 65536 }) }, { title: 'IdemiaFaceJson', additionalProperties: true });

export const AgeIn = Type.Object({
  threshold: Type.Integer({ minimum: 0, maximum: 150 }),
  imageType: Opt(Type.Union([Type.Literal('SELFIE'), Type.Literal('VIDEO_FRAME')])),
  signatureDisabled: Opt(Type.Union([Type.Boolean(), Type.String({ maxLength: 5 }), Type.Null()])),
  imageRotationEnabled: Opt(Type.Union([Type.Boolean(), Type.String({ maxLength: 5 }), Type.Null()])),
}, { title: 'IdemiaAge', additionalProperties: true });

/** A multipart part that may come as a file (curl -F 'x=@file') or as a text field: a JSON object, a word, a boolean. */
export const Part = (description: string) => Type.Unsafe<unknown>({ description: `${description} (a text part or a file part)` });
const OptPart = (description: string) => Type.Optional(Part(description));

export const CreateSessionBody = Type.Object({
  correlationId: Opt(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  evidenceId: Opt(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  imageStorageEnabled: Opt(Type.Union([Type.Boolean(), Type.Null()])),
  ttlSeconds: Opt(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Default and maximum: FACEPROOF_SESSION_TTL_SECONDS and FACEPROOF_SESSION_MAX_TTL_SECONDS' })),
  callbackURL: Opt(Type.Union([Type.String({ maxLength: 2048 }), Type.Null()], { description: 'POSTed {"sessionId"} once each face is created, with retries' })),
}, { additionalProperties: true });

export const SessionOut = Type.Object({
  id: Type.String(),
  correlationId: Opt(Type.String()),
  evidenceId: Opt(Type.String()),
  imageStorageEnabled: Type.Boolean(),
  created: Type.String({ format: 'date-time' }),
  expires: Type.String({ format: 'date-time' }),
  signature: Opt(Type.String()),
}, { title: 'IdemiaBioSession' });

const faceParts = {
  face: OptPart('The Face JSON object: imageType, friendlyName, imageRotationEnabled, mode'),
  image: FileField('The face image to process'),
  mode: OptPart('Accepted and not used'),
  imageType: OptPart('ID_DOCUMENT, SELFIE (default) or VIDEO_FRAME, when not in the face part'),
  friendlyName: OptPart('A friendly name, when not in the face part'),
  imageRotationEnabled: OptPart('true or false, when not in the face part'),
};
export const FaceMultipart = Type.Object(faceParts);
export const DirectFaceMultipart = Type.Object({
  ...faceParts,
  signatureDisabled: OptPart('true: no signature'),
  correlationId: OptPart('A custom identifier'),
  evidenceId: OptPart('An evidence identifier'),
});

export const MatchImagesMultipart = Type.Object({
  referenceImage: FileField('The reference face image'),
  candidateImage: FileField('The candidate face image'),
  referenceImageType: OptPart('ID_DOCUMENT, SELFIE (default) or VIDEO_FRAME'),
  candidateImageType: OptPart('ID_DOCUMENT, SELFIE (default) or VIDEO_FRAME'),
  correlationId: OptPart('A custom identifier'),
  evidenceId: OptPart('An evidence identifier'),
  imageRotationEnabled: OptPart('true or false'),
});

export const MatchMultipart = Type.Object({
  candidateImage: FileField('The candidate face image'),
  candidateImageType: OptPart('ID_DOCUMENT, SELFIE (default) or VIDEO_FRAME'),
  referenceFace: Part('The reference Face JSON object, with its template'),
  correlationId: OptPart('A custom identifier'),
  evidenceId: OptPart('An evidence identifier'),
  imageRotationEnabled: OptPart('true or false'),
});

export const AgesMultipart = Type.Object({
  image: FileField('The face image to process'),
  age: Part('The Age JSON object: threshold, imageType, signatureDisabled, imageRotationEnabled'),
  correlationId: OptPart('A custom identifier'),
  evidenceId: OptPart('An evidence identifier'),
});

const MatchFace = Type.Object({
  id: Type.String(),
  friendlyName: Opt(Type.Union([Type.String(), Type.Null()])),
  digest: Opt(Type.String()),
  mode: Type.String(),
  imageType: Type.String(),
  quality: Opt(Type.Number()),
  imageRotationEnabled: Opt(Type.Union([Type.Boolean(), Type.Null()])),
  landmarks: Opt(Landmarks),
}, { title: 'IdemiaMatchFace' });

export const MatchOut = Type.Object({
  reference: MatchFace,
  candidate: MatchFace,
  score: Type.Number({ description: 'IDEMIA\'s scale: falseAcceptanceRate % = 10^(−(score − 2500) / 500); 3500 ↔ 0.01 %, 4000 ↔ 0.001 %' }),
  falseAcceptanceRate: Type.Number({ description: 'In percent' }),
  correlationId: Opt(Type.String()),
  evidenceId: Opt(Type.String()),
  created: Type.String({ format: 'date-time' }),
  expires: Opt(Type.String({ format: 'date-time' })),
  signature: Opt(Type.String()),
}, { title: 'IdemiaMatch' });

export const AgeOut = Type.Object({
  id: Type.String(),
  aboveThreshold: Opt(Type.Boolean()),
  ageEstimated: Opt(Type.Number()),
  threshold: Type.Number(),
  digest: Type.String(),
  imageType: Type.String(),
  quality: Type.Integer(),
  correlationId: Opt(Type.String()),
  evidenceId: Opt(Type.String()),
  created: Type.String({ format: 'date-time' }),
  signature: Opt(Type.String()),
}, { title: 'IdemiaAgeResult' });

export const CapabilitiesOut = Type.Object({ currentMode: Type.Array(Type.String()), version: Type.String() }, { title: 'IdemiaCapabilities' });

export const SessionParams = Type.Object({ bioSessionId: Type.String({ minLength: 1, maxLength: 128 }) });
export const FaceParams = Type.Object({ bioSessionId: Type.String({ minLength: 1, maxLength: 128 }), faceId: Type.String({ minLength: 1, maxLength: 128 }) });
export const MatchesParams = Type.Object({ bioSessionId: Type.String({ minLength: 1, maxLength: 128 }), referenceFaceId: Type.String({ minLength: 1, maxLength: 128 }) });
export const ImageQuery = Type.Object({ compression: Opt(Type.Boolean({ description: 'Accepted; the image comes back as it was sent' })) });
