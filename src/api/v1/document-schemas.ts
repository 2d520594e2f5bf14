import { Type, type Static } from '@sinclair/typebox';
import { Envelope, FileField, ImageInput, Signed } from './schemas.ts';

const Base64File = (description: string) => Type.String({ minLength: 1, description: `${description}, base64` });
const Box = Type.Object({ x: Type.Number(), y: Type.Number(), width: Type.Number(), height: Type.Number() });
const Point = Type.Tuple([Type.Number(), Type.Number()]);
const ReturnImages = Type.Boolean({ default: false, description: 'Add the straightened page (base64 PNG) to each document' });

export const FORMATS = ['TD1', 'TD2', 'TD3', 'MRVA', 'MRVB'] as const;

const MrzSchema = Type.Object({
  lines: Type.Array(Type.String()),
  valid: Type.Boolean({ description: 'Every check digit holds' }),
  fields: Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]), { description: 'document_code, issuing_state, document_number, surname, given_names, nationality, birth_date, sex, expiry_date, optional_data, …' }),
  checks: Type.Record(Type.String(), Type.String(), { description: 'Each check digit: valid, invalid or absent' }),
  confidence: Type.Optional(Type.Record(Type.String(), Type.Number())),
  corrections: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
});

export const ReadDocumentSchema = Type.Object({
  format: Type.Union(FORMATS.map((f) => Type.Literal(f))),
  mrz: MrzSchema,
  quad: Type.Array(Point, { minItems: 4, maxItems: 4, description: 'The document\'s corners in the image, clockwise from its top-left' }),
  page: Type.Object({ width: Type.Integer(), height: Type.Integer(), image: Type.Optional(Type.String({ description: 'With return_images: the straightened page, base64 PNG' })) }),
  portrait: Type.Union([Type.Object({
    box: Box,
    page_box: Box,
    template: Type.Union([Type.String(), Type.Null()], { description: 'The portrait\'s face template (null when the engine finds no face in it)' }),
  }), Type.Null()]),
  capture: Type.Object({
    issues: Type.Array(Type.String(), { description: 'blurred, glare, cut_corners, too_small' }),
    measures: Type.Object({}, { additionalProperties: true }),
  }),
});

export const ReadDocumentJsonBody = Type.Object({ image: ImageInput, return_images: Type.Optional(ReturnImages) }, { additionalProperties: false });
export const ReadDocumentMultipartBody = Type.Object({ image: FileField('The photo or scan of the document'), return_images: Type.Optional(Type.Boolean()) });
export type ReadDocumentBody = Static<typeof ReadDocumentJsonBody> | Static<typeof ReadDocumentMultipartBody>;

export const ReadDocumentResponse = Type.Object({ ...Envelope, documents: Type.Array(ReadDocumentSchema) });

const ActiveAuthenticationAnswer = Type.Object({
  challenge_id: Type.String({ minLength: 1, maxLength: 64 }),
  signature: Base64File('The chip\'s answer to INTERNAL AUTHENTICATE with the challenge'),
}, { additionalProperties: false });

const ChipFields = {
  sod: Base64File('EF.SOD as read from the chip (tag 0x77)'),
  data_groups: Type.Record(Type.String({ pattern: '^(?:[Dd][Gg])?\\d{1,2}$' }), Base64File('The data group'), { description: 'Data groups by number ("1", "2", … "16")' }),
  active_authentication: Type.Optional(ActiveAuthenticationAnswer),
};

export const ChipVerifyBody = Type.Object({
  ...ChipFields,
  mrz: Type.Optional(Type.String({ maxLength: 200, description: 'The printed MRZ (lines separated by newlines), compared with DG1' })),
  selfie: Type.Optional(ImageInput),
}, { additionalProperties: false });
export type ChipVerifyJson = Static<typeof ChipVerifyBody>;

const FaceMatchSchema = Type.Object({ score: Type.Number(), far: Type.Number(), decision: Type.String(), threshold: Type.Number() });

const PassiveAuthenticationSchema = Type.Object({
  valid: Type.Boolean(),
  hashes: Type.Record(Type.String(), Type.String(), { description: 'Per data group: valid, invalid or absent' }),
  signature: Type.String({ description: 'valid or invalid' }),
  chain: Type.String({ description: 'valid, untrusted, expired, not_yet_valid, revoked or invalid' }),
  failure: Type.Optional(Type.String()),
}, { additionalProperties: true });

export const ChipReportSchema = Type.Object({
  passive_authentication: PassiveAuthenticationSchema,
  active_authentication: Type.Optional(Type.Object({ valid: Type.Boolean(), algorithm: Type.Optional(Type.String()), failure: Type.Optional(Type.String()) })),
  dg1: Type.Union([Type.Object({ format: Type.String(), lines: Type.Array(Type.String()), valid: Type.Boolean(), fields: Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()])) }), Type.Null()]),
  mrz_comparison: Type.Optional(Type.Object({ match: Type.Boolean(), differing_fields: Type.Array(Type.String()) })),
  face: Type.Union([Type.Object({
    format: Type.String(), width: Type.Integer(), height: Type.Integer(),
    image: Type.String({ description: 'The chip\'s face, base64 PNG' }),
    template: Type.Union([Type.String(), Type.Null()]),
    selfie_match: Type.Optional(FaceMatchSchema),
  }), Type.Null()]),
  unreadable_data_groups: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Data groups that could not be parsed, with why' })),
});

export const ChipVerifyResponse = Type.Object({ ...Envelope, ...Signed, ...ChipReportSchema.properties });

export const ChallengeResponse = Type.Object({
  ...Envelope,
  challenge_id: Type.String(),
  challenge: Type.String({ description: '8 random bytes, base64: send them to the chip in INTERNAL AUTHENTICATE' }),
  expires_at: Type.String({ format: 'date-time' }),
});

export const VerifyDocumentBody = Type.Object({
  documents: Type.Optional(Type.Array(ImageInput, { maxItems: 2, description: 'Photos or scans of the document (front and back); the first with an MRZ is read' })),
  chip: Type.Optional(Type.Object(ChipFields, { additionalProperties: false })),
  selfies: Type.Optional(Type.Array(ImageInput, { maxItems: 3 })),
  max_age_difference: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'Years tolerated between the birth date\'s age and the selfie\'s estimated age (default 15)' })),
  return_images: Type.Optional(ReturnImages),
}, { additionalProperties: false });
export type VerifyDocumentJson = Static<typeof VerifyDocumentBody>;

const CheckSchema = Type.Object({ result: Type.Union(['pass', 'fail', 'review', 'not_checked'].map((r) => Type.Literal(r))), reason: Type.Optional(Type.String()) }, { additionalProperties: true });

export const VerifyDocumentResponse = Type.Object({
  ...Envelope,
  ...Signed,
  decision: Type.Union([Type.Literal('accept'), Type.Literal('review'), Type.Literal('reject')]),
  reasons: Type.Array(Type.String()),
  checks: Type.Record(Type.String(), CheckSchema),
  document: Type.Union([ReadDocumentSchema, Type.Null()]),
  chip: Type.Union([ChipReportSchema, Type.Null()]),
});
