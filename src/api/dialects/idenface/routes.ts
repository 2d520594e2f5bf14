import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import type { InlineImageSource } from '../../../core/image-input.ts';
import type { ImageType } from '../../../core/calibration.ts';
import type { FaceQuality } from '../../../core/quality.ts';
import { parseSecurityLevel } from '../../../core/liveness-model.ts';
import { scopesFromServiceFlags, type Scope } from '../../../core/scopes.ts';
import { idenfaceNormalizedScore } from '../../../core/vendor-scores.ts';
import { livenessProbability, sideAngles, sideAngleViolation, type SideAngles } from '../../../core/face-side-angles.ts';
import { PayloadEncryption } from '../../../core/payload-encryption.ts';
import { shrinkImage } from '../../../core/image-shrink.ts';
import { documentPortraitPng } from '../../../core/documents/document-portrait.ts';
import type { AppServices } from '../../app.ts';
import { FAILED, IDFCTR, IdenfaceError, IdenfaceFailure, idenface, operationOf, PASSED, PATHS } from './descriptor.ts';

const tags = ['idenface'];

/** The manual's limit on an image field: String(1.5MB), plus room for an E2E1 envelope's key, IV and tag. */
export const IMAGE_CHARS = 1.5 * 1024 * 1024 + 1024;
const ONE_IMAGE_BODY = IMAGE_CHARS + 64 * 1024;
const TWO_IMAGE_BODY = 2 * IMAGE_CHARS + 64 * 1024;

/** The manual's token lifetime: its example's exp − iat is 36,000 s. */
const TOKEN_TTL_SECONDS = 36_000;
/** The manual's acquisition requirement: pitch and yaw within −30±3 to 30±3 degrees; roll up to 45. */
const MAX_TURN = 33;
const MAX_ROLL = 45;
/** Suggested thresholds of the manual's tables. */
const DEFAULT_SIMILARITY_THRESHOLD = 0.7;
const DEFAULT_LIVENESS_THRESHOLD = 0.5;

// ---------------------------------------------------------------- request schemas

const ImageString = Type.String({
  minLength: 1, maxLength: IMAGE_CHARS,
  description: 'The image (JPEG, PNG or WebP) in base64 (URL-safe or standard, padding optional), or an E2E1 envelope of it (see retrieve_pubky)',
});
const Range = Type.Array(Type.Number({ minimum: -180, maximum: 180 }), { minItems: 2, maxItems: 2, description: '[minimum, maximum], degrees' });
const Parameter = Type.Object({
  angle_calibration: Type.Optional(Type.Boolean({ description: 'Angles from the learned pose model (true, default) or from the landmarks alone (false)' })),
  occlusion: Type.Optional(Type.Boolean({ description: 'Check occlusion and sunglasses (default true)' })),
  face_angle_difference: Type.Optional(Type.Number({ minimum: 0, maximum: 180, description: 'Largest |right − left| side angle (suggested 15)' })),
  face_left_angle_range: Type.Optional(Range),
  face_right_angle_range: Type.Optional(Range),
  liveness: Type.Optional(Type.Boolean({ description: 'Check liveness (needs the enableLiveness flag / liveness scope)' })),
  liveness_threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 50, description: 'Up to 1: a threshold on `probability` (suggested 0.5); above 1: on `score`, its logit' })),
  liveness_calibration: Type.Optional(Type.String({ pattern: '^(SOFT|REGULAR|HARDENED|soft|regular|hardened)$', description: 'SOFT, REGULAR (default) or HARDENED' })),
  liveness_pipeline: Type.Optional(Type.String({ maxLength: 64, description: 'Accepted and ignored: one liveness pipeline' })),
  similarity_threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Threshold on normalized_score (suggested 0.7 = FAR 1e-4)' })),
  use_urlsafe_base64: Type.Optional(Type.Boolean({ description: 'Accepted: both base64 alphabets are read either way' })),
}, { additionalProperties: false });
const Meta = Type.Object({
  os: Type.Optional(Type.String({ maxLength: 32 })),
  manufacturer: Type.Optional(Type.String({ maxLength: 64 })),
  model: Type.Optional(Type.String({ maxLength: 64 })),
  cropped: Type.Optional(Type.Integer({ minimum: 0, maximum: 1 })),
}, { additionalProperties: false });
/** As /v1/users' user ids (letters, digits, _ . @ : -), so a person enrolled here is also /v1/users/{user_id}; empty allowed. */
const Id = (description: string) => Type.String({ pattern: '^[\\w.@:-]{0,128}$', description });
const Common = {
  transaction_id: Type.Optional(Id('The transaction id; verify: the enrolment\'s, when user_id is empty')),
  user_id: Type.Optional(Id('The person; empty: the transaction id')),
  channel_id: Type.Optional(Type.String({ maxLength: 64 })),
  user_name: Type.Optional(Type.String({ maxLength: 200 })),
  parameter: Type.Optional(Parameter),
};
const PhotoBody = Type.Object({
  ...Common,
  image_info: ImageString,
  category: Type.Optional(Type.String({ maxLength: 32, description: 'SELFIE (or SLEFIE); anything else (VISA, …) is a document' })),
  type: Type.Optional(Type.String({ maxLength: 64 })),
  meta: Type.Optional(Meta),
}, { additionalProperties: false });
type PhotoBody = Static<typeof PhotoBody>;
type ParameterT = Static<typeof Parameter>;

const TokenBody = Type.Object({
  enableEncryptor: Type.Optional(Type.Boolean({ description: 'Accepted; encrypted fields are read from any caller' })),
  enableFace11: Type.Optional(Type.Boolean()),
  enableFaceManager: Type.Optional(Type.Boolean()),
  enableImageManager: Type.Optional(Type.Boolean()),
  enableLiveness: Type.Optional(Type.Boolean()),
  subject: Type.Optional(Type.String({ maxLength: 200 })),
}, { additionalProperties: false });

const FindImageBody = Type.Object({
  channel_id: Type.Optional(Type.String({ maxLength: 64 })),
  image_id: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Integer()], { description: 'An image_id a call returned' }),
  shrunk_image: Type.Optional(Type.Boolean({ description: 'A JPEG at most 480 px a side (true) or the original (false, default)' })),
}, { additionalProperties: false });

const CompareImage = Type.Object({
  data: Type.Union([Type.Array(ImageString, { minItems: 1, maxItems: 1 }), ImageString]),
  category: Type.Optional(Type.String({ maxLength: 32 })),
  type: Type.Optional(Type.String({ maxLength: 64 })),
  meta: Type.Optional(Meta),
}, { additionalProperties: false });
const CompareBody = Type.Object({
  ...Common,
  image_info1: Type.Optional(CompareImage), image_info2: Type.Optional(CompareImage),
  image_info_1: Type.Optional(ImageString), category_1: Type.Optional(Type.String({ maxLength: 32 })), type_1: Type.Optional(Type.String({ maxLength: 64 })), meta_1: Type.Optional(Meta),
  image_info_2: Type.Optional(ImageString), category_2: Type.Optional(Type.String({ maxLength: 32 })), type_2: Type.Optional(Type.String({ maxLength: 64 })), meta_2: Type.Optional(Meta),
}, { additionalProperties: false, minProperties: 1, description: 'The two images as image_info1/image_info2 objects (the example) or image_info_1/image_info_2 strings (the table)' });
type CompareBody = Static<typeof CompareBody>;

// ---------------------------------------------------------------- response schemas

const Box = Type.Array(Type.Integer(), { minItems: 4, maxItems: 4, description: '[left, top, right, bottom] in pixels' });
const Angles = Type.Array(Type.Number(), { minItems: 3, maxItems: 3, description: '[left side angle, right side angle, |right − left|] in degrees' });
const ExtractResult = Type.Object({
  pipeline: Type.String(), adapter: Type.String(), face_side_angles: Angles, face_bbox: Box,
  face_vector: Type.Optional(Type.String({ description: 'The face template, base64url' })),
});
const VerifyResult = Type.Object({
  ...ExtractResult.properties,
  normalized_score: Type.Number({ description: '0–1; 0.7 is FAR 1e-4, each 0.1 a decade' }),
  original_score: Type.Number({ description: 'Cosine similarity' }),
});
const CompareResult = Type.Object({
  original_score: Type.Number(), normalized_score: Type.Number(),
  face_1_bbox: Box, face_1_side_angles: Angles, face_2_bbox: Box, face_2_side_angles: Angles,
  adapter: Type.String(), pipeline: Type.String(),
});
const Sub = (result: TSchema) => Type.Object({ result, reason: Type.Null(), message: Type.String(), status: Type.Literal('F11_0000') });
const LivenessSub = Type.Object({
  result: Type.Object({
    score: Type.Number({ description: 'logit of probability' }), probability: Type.Number(), error_code: Type.Null(), error: Type.Null(),
    quality: Type.Number({ description: 'Portrait quality 0–1' }),
  }),
  reason: Type.Null(), message: Type.String(), status: Type.Literal('LIV_0000'),
});
const Controller = { status: Type.String({ description: 'IDFCTR_0000, or IDFCTR_0310 / IDFCTR_0311 below a threshold' }), message: Type.String() };
const Stored = {
  face_id: Type.Optional(Type.String({ description: 'The person (user_id)' })),
  face_feature_id: Type.Optional(Type.String({ description: 'The enrolled face (template) enrolled or matched' })),
  image_id: Type.Optional(Type.String({ description: 'The stored image (find_image)' })),
  pk: Type.Optional(Type.Integer()),
};
const Answer = (responseBody: TSchema, title: string) => Type.Object({
  transaction_id: Type.String(),
  transaction_status: Type.Integer({ description: '2: passed, 3: below a threshold' }),
  channel_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  responseBody,
  status: Type.Literal('OK'),
}, { title });
/** Face routes answer their Face 1:1 failures with 200 too: either body. */
const OrFailure = (success: TSchema) => Type.Union([success, IdenfaceError]);

const CardEnrollAnswer = Answer(Type.Object({ ...Controller, ...Stored, feature_extract_response: Sub(ExtractResult), face_liveness_response: Type.Optional(LivenessSub) }), 'IdenfaceCardEnroll');
const SelfieEnrollAnswer = Answer(Type.Object({ ...Controller, ...Stored, face_extract_response: Sub(ExtractResult), face_liveness_response: Type.Optional(LivenessSub) }), 'IdenfaceSelfieEnroll');
const VerifyAnswer = Answer(Type.Object({ ...Controller, ...Stored, face_verify_response: Sub(VerifyResult), face_liveness_response: Type.Optional(LivenessSub) }), 'IdenfaceVerify');
const DetectAnswer = Answer(Type.Object({ ...Controller, face_extract_response: Sub(ExtractResult), face_liveness_response: Type.Optional(LivenessSub) }), 'IdenfacePhotoDetect');
const CompareAnswer = Answer(Type.Object({
  ...Controller, transaction_id: Type.Null(), session_id: Type.Null(), face_compare_response: Sub(CompareResult),
}), 'IdenfaceCompare');
const FindImageAnswer = Type.Object({
  status: Type.Literal('OK'),
  responseBody: Type.Object({
    ...Controller, image_info: Type.String({ description: 'base64url, padded' }),
    face_id: Type.Union([Type.String(), Type.Null()]), face_feature_id: Type.Union([Type.String(), Type.Null()]),
  }),
}, { title: 'IdenfaceFindImage' });

// ---------------------------------------------------------------- translation helpers

const MESSAGES = {
  extract: 'Success to extract feature from the uploaded image.',
  verify: 'Success to perform verification.',
  compare: 'Success to compare two uploaded faces.',
  liveness: 'Operation Success.',
};

/** SELFIE (and the manual's SLEFIE) is a selfie; any other category (VISA, passport, card) a document. */
const imageTypeOf = (category: string | undefined, fallback: ImageType): ImageType => {
  if (category === undefined || category === '') return fallback;
  return /^(SELFIE|SLEFIE)$/i.test(category) ? 'SELFIE' : 'ID_DOCUMENT';
};
const profileOf = (type: ImageType) => (type === 'ID_DOCUMENT' ? 'id_document' : 'selfie_mobile');

function requireScope(request: FastifyRequest, scope: Scope, flag: string): void {
  const principal = request.caller.principal;
  if (principal && !principal.scopes.includes(scope)) throw new FaceproofError('insufficient_scope', `this token does not enable ${flag} (the "${scope}" scope)`, 'authorization');
}

/** Padded base64url, which Python's urlsafe_b64decode and Java's Base64.getUrlDecoder both read. */
const base64Url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
const round = (v: number, digits = 6) => Number(v.toFixed(digits));
const boxOf = (b: { x: number; y: number; width: number; height: number }) => [b.x, b.y, b.x + b.width, b.y + b.height].map(Math.round);
const anglesOf = (a: SideAngles) => [round(a.left), round(a.right), round(a.difference)];

/** What the photo checks found: the face, its side angles and its portrait quality. */
interface PhotoFacts {
  face: FaceQuality;
  angles: SideAngles;
}

/** What a liveness check answered. */
interface LivenessFacts {
  live: boolean;
  response: Static<typeof LivenessSub>;
}

/** One request's translation: its image fields, checks and answers, with the core services. */
class Translator {
  constructor(private readonly services: AppServices, private readonly request: FastifyRequest) {}

  get tenantId(): string {
    return this.request.caller.tenantId;
  }

  /** A field's image: plain base64, or an E2E1 envelope opened with the server's key (its plaintext the image's bytes or their base64). */
  image(value: string | undefined, field: string): InlineImageSource {
    if (typeof value !== 'string' || value === '') throw FaceproofError.missing(`${field} is required`, field);
    if (!PayloadEncryption.isEnvelope(value)) return { kind: 'base64', data: value };
    const encryption = this.services.payloadEncryption;
    if (!encryption) throw new FaceproofError('service_unavailable', 'end-to-end encryption is not available in this process', field);
    const plain = encryption.decrypt(value, field);
    const text = plain.toString('latin1');
    return /^[A-Za-z0-9+/=_\-\s]+$/.test(text) ? { kind: 'base64', data: text } : { kind: 'bytes', data: plain };
  }

  get pipeline(): string {
    return this.services.service.calibration.table.pipelineId;
  }

  get adapter(): string {
    const m = this.services.service.templateModel;
    return `${m.modelId}-v${m.version}`;
  }

  /**
   * The manual's photo checks, in its code order: readable, one face, roll, pose, side-angle ranges,
   * occlusion. Reported as Face 1:1 codes, or as Liveness codes when liveness was asked for (the
   * liveness stage judges the presentation first, as the manual's answers list it first).
   */
  async checkPhoto(source: InlineImageSource, field: string, parameter: ParameterT, type: ImageType, stage: 'F11' | 'LIV'): Promise<PhotoFacts> {
    const fail = (n: string, detail: string): never => { throw new IdenfaceFailure(`${stage}_${n}`, detail, field); };
    let report;
    try {
      report = await this.services.quality.assess(source, this.tenantId, profileOf(type), { occlusion: parameter.occlusion ?? true }, field);
    } catch (err) {
      if (err instanceof FaceproofError && err.code === 'base64_decode_failed') fail('0205', err.message);
      if (err instanceof FaceproofError && ['invalid_image_format', 'image_dimensions_invalid', 'image_too_large'].includes(err.code)) fail('0200', err.message);
      throw err;
    }
    if (report.faces.length === 0) fail('0300', `no face was found in ${field}`);
    if (report.verdict === 'image_has_multiple_faces') fail('0304', `${field} shows more than one face`);
    const face = report.faces[0];
    const m = face.measures;
    if (Math.abs(m.roll) > MAX_ROLL) fail('0303', `the face is rolled by ${m.roll.toFixed(1)}°; at most ${MAX_ROLL}°`);
    if (m.landmarkConsistency < 0.3) fail('0310', 'the landmarks do not sit on the face: its angle cannot be measured, or it is occluded');
    const pose = parameter.angle_calibration === false ? face.face.pose : { yaw: m.yaw, pitch: m.pitch };
    if (Math.abs(pose.yaw) > MAX_TURN || Math.abs(pose.pitch) > MAX_TURN) fail('0301', `yaw ${pose.yaw.toFixed(1)}°, pitch ${pose.pitch.toFixed(1)}°: each must be within ±${MAX_TURN}°`);
    const angles = sideAngles(pose);
    const broken = sideAngleViolation(angles, { left: parameter.face_left_angle_range as [number, number] | undefined, right: parameter.face_right_angle_range as [number, number] | undefined, maxDifference: parameter.face_angle_difference });
    const shown = `face_side_angles ${anglesOf(angles).join(', ')}`;
    if (broken === 'left') fail('0307', `${shown}: the left angle is outside face_left_angle_range`);
    if (broken === 'right') fail('0308', `${shown}: the right angle is outside face_right_angle_range`);
    if (broken === 'difference') fail('0309', `${shown}: the difference is above face_angle_difference`);
    if (parameter.occlusion !== false && (face.reasons.includes('face_occluded') || face.reasons.includes('sunglasses'))) fail('0306', `the face is ${face.reasons.includes('sunglasses') ? 'behind sunglasses' : 'occluded'}`);
    return { face, angles };
  }

  /** Passive liveness of one image at the level of liveness_calibration, judged against liveness_threshold. */
  async checkLiveness(source: InlineImageSource, field: string, parameter: ParameterT, facts: PhotoFacts): Promise<LivenessFacts> {
    requireScope(this.request, 'liveness', 'enableLiveness');
    const level = parseSecurityLevel(parameter.liveness_calibration ?? 'REGULAR', 'MEDIUM');
    const result = await this.services.liveness.checkImages([source], this.tenantId, level);
    if (result.reason === 'no_face') throw new IdenfaceFailure('LIV_0300', `no face was found in ${field}`, field);
    if (result.reason === 'multiple_faces') throw new IdenfaceFailure('LIV_0304', `${field} shows more than one face`, field);
    if (result.reason === 'low_quality') throw new IdenfaceFailure('LIV_0302', 'the face is too small for its features to be placed', field);
    const { probability, logit } = livenessProbability(result.score, result.threshold);
    const threshold = parameter.liveness_threshold ?? DEFAULT_LIVENESS_THRESHOLD;
    return {
      live: threshold <= 1 ? probability >= threshold : logit >= threshold,
      response: {
        result: { score: round(logit), probability: round(probability, 8), error_code: null, error: null, quality: round(facts.face.quality / 100, 4) },
        reason: null, message: MESSAGES.liveness, status: 'LIV_0000',
      },
    };
  }

  /** Photo checks, then liveness where asked. */
  async checkAll(source: InlineImageSource, field: string, parameter: ParameterT, type: ImageType): Promise<{ facts: PhotoFacts; liveness?: LivenessFacts }> {
    if (parameter.liveness) requireScope(this.request, 'liveness', 'enableLiveness');
    const facts = await this.checkPhoto(source, field, parameter, type, parameter.liveness ? 'LIV' : 'F11');
    return { facts, liveness: parameter.liveness ? await this.checkLiveness(source, field, parameter, facts) : undefined };
  }

  extractResult(facts: PhotoFacts, vector?: Float32Array) {
    return {
      pipeline: this.pipeline, adapter: this.adapter, face_side_angles: anglesOf(facts.angles), face_bbox: boxOf(facts.face.face.box),
      ...(vector ? { face_vector: base64Url(Buffer.from(this.services.service.encodeVector(vector), 'base64')) } : {}),
    };
  }

  async embed(source: InlineImageSource | { kind: 'stored'; imageId: string }, field: string): Promise<Float32Array> {
    const [found] = await this.services.service.facesOf({ kind: 'image', source }, { tenantId: this.tenantId, field, allFaces: false, autoRotate: false });
    return found.vector;
  }
}

/**
 * The portrait of the document a card photo shows (ICAO 9303: found by its MRZ), as a PNG crop and
 * its box in the photo; null (enrol from the photo's largest face, as before) when the photo is
 * marked cropped (meta.cropped = 1), identity documents are not configured, no document is read,
 * or the document has no portrait with a face.
 */
async function documentPortraitOf(services: AppServices, source: InlineImageSource, tenantId: string, meta: { cropped?: number } | undefined): Promise<{ png: Buffer; box: { x: number; y: number; width: number; height: number } } | null> {
  if (!services.documents || meta?.cropped === 1) return null;
  let found;
  try {
    found = await services.documents.read(source, tenantId, 'image_info');
  } catch (err) {
    // An image the reader cannot take is answered by the photo checks with the manual's codes.
    if (err instanceof FaceproofError && err.status < 500) return null;
    throw err;
  }
  const d = found.find((f) => f.portrait?.template);
  if (!d?.portrait) return null;
  const png = await documentPortraitPng(d);
  return png ? { png, box: d.portrait.box } : null;
}

/** The transaction of a request: the client's, or the request id. */
const transactionOf = (request: FastifyRequest, body: { transaction_id?: string }) => (body.transaction_id ? body.transaction_id : request.id);
const controller = (passed: boolean, failure: 'IDFCTR_0310' | 'IDFCTR_0311') => {
  const code = passed ? 'IDFCTR_0000' : failure;
  return { status: code, message: IDFCTR[code].message };
};

/** Toppan iDenFace's controller API (seeds/000): translation only; the work is core's. */
export function idenfaceRoutes(app: FastifyInstance, services: AppServices): void {
  const at = (path: string) => `${idenface.prefix}${path}`;

  app.post<{ Body: Static<typeof TokenBody> }>(at(PATHS.token), {
    schema: {
      tags, summary: 'A JWT whose services follow the enable* flags (Authorization: Bearer on every later call)',
      description: 'Called with an API key (X-API-Key, apikey or Authorization: Bearer): the token holds at most that key\'s scopes. enableFace11: compare, detect, quality; enableFaceManager: users, collections, sessions; enableImageManager: images; enableLiveness: liveness; no flag: all of the key\'s. Valid 36,000 s.',
      body: TokenBody,
      response: { 200: Type.Object({ responseBody: Type.Object({ jwt: Type.String() }), status: Type.Literal('OK') }, { title: 'IdenfaceToken' }) },
    },
  }, async (request) => {
    const { enableEncryptor: _encryptor, subject, ...flags } = request.body;
    const scopes = Object.keys(flags).length ? scopesFromServiceFlags(flags as Record<string, boolean>) : undefined;
    const issued = await services.authenticator.issueToken(request.caller.principal!, { scopes, ttlSeconds: TOKEN_TTL_SECONDS, subject });
    return { responseBody: { jwt: issued.token }, status: 'OK' };
  });

  app.post<{ Body: Record<string, never> }>(at(PATHS.publicKey), {
    schema: {
      tags, summary: 'The server\'s RSA public key for end-to-end encryption of image fields (E2E1)',
      description: 'key: hex of the DER SubjectPublicKeyInfo of an RSA-2048 key. Encrypt an image field as E2E1.<RSA-OAEP-SHA-256(AES key)>.<IV>.<AES-256-GCM(image) ‖ tag>, each part base64url; see docs/dialects/idenface.md.',
      body: Type.Object({}, { additionalProperties: false }),
      response: { 200: Type.Object({ responseBody: Type.Object({ key: Type.String({ pattern: '^[0-9A-F]+$' }) }), status: Type.Literal('OK') }, { title: 'IdenfacePublicKey' }) },
    },
  }, async () => {
    const encryption = services.payloadEncryption;
    if (!encryption) throw new FaceproofError('service_unavailable', 'end-to-end encryption is not available in this process');
    return { responseBody: { key: encryption.publicKeyDer().toString('hex').toUpperCase() }, status: 'OK' };
  });

  /** Enrolment: checks (and liveness where asked), the image stored, the face enrolled to the person (new, or one more face). */
  const enroll = (path: string, fallbackType: ImageType, sub: 'feature_extract_response' | 'face_extract_response', response: TSchema, summary: string) => {
    app.post<{ Body: PhotoBody }>(at(path), {
      config: { usesEngine: true },
      bodyLimit: ONE_IMAGE_BODY,
      schema: { tags, summary, body: PhotoBody, response: { 200: OrFailure(response), 400: IdenfaceError } },
    }, async (request) => {
      const b = request.body;
      const t = new Translator(services, request);
      const parameter = b.parameter ?? {};
      const type = imageTypeOf(b.category, fallbackType);
      const transactionId = transactionOf(request, b);
      const userId = b.user_id ? b.user_id : transactionId;
      const source = t.image(b.image_info, 'image_info');
      // A card with a readable document: the person is the document's portrait, not the photo's largest face.
      const portrait = path === PATHS.cardEnroll && type === 'ID_DOCUMENT' ? await documentPortraitOf(services, source, t.tenantId, b.meta) : null;
      const checked = await t.checkAll(portrait ? { kind: 'bytes', data: portrait.png } : source, 'image_info', parameter, type);
      const { liveness } = checked;
      // face_bbox: where the portrait is in the photo sent (the checks ran on its crop).
      const facts = portrait ? { ...checked.facts, face: { ...checked.facts.face, face: { ...checked.facts.face.face, box: portrait.box } } } : checked.facts;
      const base = { transaction_id: transactionId, channel_id: b.channel_id ?? null, status: 'OK' as const };
      if (liveness && !liveness.live) {
        return { ...base, transaction_status: FAILED, responseBody: { ...controller(false, 'IDFCTR_0310'), [sub]: { result: t.extractResult(facts), reason: null, message: MESSAGES.extract, status: 'F11_0000' }, face_liveness_response: liveness.response } };
      }
      const metadata = { idenface: { operation: path.slice(path.lastIndexOf('/') + 1), face_id: userId, channel_id: b.channel_id ?? null, category: b.category ?? null, type: b.type ?? null, meta: b.meta ?? null } };
      const stored = await services.images.store(t.tenantId, source, { metadata }, 'image_info');
      // The portrait's crop is stored too and enrolled from, so that erasing it erases the face made from it.
      const enrolled = portrait
        ? await services.images.store(t.tenantId, { kind: 'bytes', data: portrait.png }, { metadata: { idenface: { ...metadata.idenface, document_portrait_of: stored.id } } }, 'image_info').catch(async (err: unknown) => {
          await services.images.delete(t.tenantId, stored.id).catch(() => undefined);
          throw err;
        })
        : stored;
      try {
        const input = { input: { kind: 'image' as const, source: { kind: 'stored' as const, imageId: enrolled.id } }, imageType: type };
        let exists = true;
        try { await services.users.get(t.tenantId, userId); } catch (err) { if (err instanceof FaceproofError && err.code === 'not_found') exists = false; else throw err; }
        const face = exists
          ? (await services.users.addFaces(t.tenantId, userId, [input], request.id))[0]
          : (await services.users.register(t.tenantId, userId, [input], { user_name: b.user_name ?? null, channel_id: b.channel_id ?? null }, request.id)).faces.at(-1)!;
        const vector = await t.embed({ kind: 'stored', imageId: enrolled.id }, 'image_info');
        await services.images.update(t.tenantId, stored.id, { metadata: { idenface: { ...metadata.idenface, face_feature_id: face.id, ...(portrait ? { enrolled_from: 'document_portrait', portrait_image_id: enrolled.id } : {}) } } });
        return {
          ...base, transaction_status: PASSED,
          responseBody: {
            ...controller(true, 'IDFCTR_0310'),
            [sub]: { result: t.extractResult(facts, vector), reason: null, message: MESSAGES.extract, status: 'F11_0000' },
            ...(liveness ? { face_liveness_response: liveness.response } : {}),
            face_id: userId, pk: 0, face_feature_id: face.id, image_id: stored.id,
          },
        };
      } catch (err) {
        await services.images.delete(t.tenantId, stored.id).catch(() => undefined);
        if (enrolled !== stored) await services.images.delete(t.tenantId, enrolled.id).catch(() => undefined);
        throw err;
      }
    });
  };
  enroll(PATHS.cardEnroll, 'ID_DOCUMENT', 'feature_extract_response', CardEnrollAnswer, 'Enrol a person from the photo of an ID card or passport (card:selfie)');
  enroll(PATHS.selfieEnroll, 'SELFIE', 'face_extract_response', SelfieEnrollAnswer, 'Enrol a person from a selfie (selfie:selfie), with liveness where asked');

  /** Verification: checks (and liveness where asked), the selfie compared with the person's enrolled faces, the selfie stored. */
  const verify = (path: string, summary: string) => {
    app.post<{ Body: PhotoBody }>(at(path), {
      config: { usesEngine: true },
      bodyLimit: ONE_IMAGE_BODY,
      schema: {
        tags, summary,
        description: 'The person is user_id, or, when it is empty, the transaction_id of the enrolment. transaction_status 2 and IDFCTR_0000: normalized_score ≥ similarity_threshold (default 0.7) and, where asked, live; otherwise 3 with IDFCTR_0310 (not live) or IDFCTR_0311 (below the threshold).',
        body: PhotoBody, response: { 200: OrFailure(VerifyAnswer), 400: IdenfaceError },
      },
    }, async (request) => {
      const b = request.body;
      const t = new Translator(services, request);
      const parameter = b.parameter ?? {};
      const userId = b.user_id || b.transaction_id;
      if (!userId) throw FaceproofError.missing('user_id (or, for a person enrolled without one, the enrolment\'s transaction_id) is required', 'user_id');
      await services.users.get(t.tenantId, userId);
      const source = t.image(b.image_info, 'image_info');
      const probeType = imageTypeOf(b.category, 'SELFIE');
      const { facts, liveness } = await t.checkAll(source, 'image_info', parameter, probeType);
      const vector = await t.embed(source, 'image_info');
      const auth = await services.users.authenticate(t.tenantId, userId, { input: { kind: 'template', template: services.service.encodeVector(vector) }, imageType: probeType }, request.id);
      const normalized = idenfaceNormalizedScore(auth.tailFar);
      const similar = normalized >= (parameter.similarity_threshold ?? DEFAULT_SIMILARITY_THRESHOLD);
      const live = liveness ? liveness.live : true;
      const metadata = { idenface: { operation: path.slice(path.lastIndexOf('/') + 1), face_id: userId, face_feature_id: auth.bestFaceId, channel_id: b.channel_id ?? null, category: b.category ?? null, type: b.type ?? null, meta: b.meta ?? null } };
      const stored = await services.images.store(t.tenantId, source, { metadata }, 'image_info');
      const passed = similar && live;
      return {
        transaction_id: transactionOf(request, b), transaction_status: passed ? PASSED : FAILED, channel_id: b.channel_id ?? null,
        responseBody: {
          ...controller(passed, live ? 'IDFCTR_0311' : 'IDFCTR_0310'),
          ...(liveness ? { face_liveness_response: liveness.response } : {}),
          face_verify_response: {
            result: { ...t.extractResult(facts, vector), normalized_score: round(normalized, 7), original_score: round(auth.similarity, 7) },
            reason: null, message: MESSAGES.verify, status: 'F11_0000',
          },
          face_id: userId, pk: 0, face_feature_id: auth.bestFaceId, image_id: stored.id,
        },
        status: 'OK',
      };
    });
  };
  verify(PATHS.cardVerify, 'Verify a selfie against the person enrolled from a card (card:selfie)');
  verify(PATHS.selfieVerify, 'Verify a selfie against the person enrolled from selfies (selfie:selfie)');

  const photoDetect = async (request: FastifyRequest, b: PhotoBody) => {
    requireScope(request, 'quality', 'enableFace11');
    const t = new Translator(services, request);
    const parameter = b.parameter ?? {};
    const source = t.image(b.image_info, 'image_info');
    const { facts, liveness } = await t.checkAll(source, 'image_info', parameter, imageTypeOf(b.category, 'SELFIE'));
    const passed = liveness ? liveness.live : true;
    return {
      transaction_id: transactionOf(request, b), transaction_status: passed ? PASSED : FAILED,
      ...(b.channel_id !== undefined ? { channel_id: b.channel_id } : {}),
      responseBody: {
        ...controller(passed, 'IDFCTR_0310'),
        ...(liveness ? { face_liveness_response: liveness.response } : {}),
        face_extract_response: { reason: null, status: 'F11_0000', message: MESSAGES.extract, result: t.extractResult(facts) },
      },
      status: 'OK',
    };
  };

  const photoCompare = async (request: FastifyRequest, b: CompareBody) => {
    requireScope(request, 'compare', 'enableFace11');
    const t = new Translator(services, request);
    const parameter = b.parameter ?? {};
    const side = (n: 1 | 2) => {
      const object = b[`image_info${n}`];
      const flat = b[`image_info_${n}`];
      const data = object ? (Array.isArray(object.data) ? object.data[0] : object.data) : flat;
      if (data === undefined) throw FaceproofError.missing(`image_info${n} (or image_info_${n}) is required`, `image_info${n}`);
      const field = object ? `image_info${n}` : `image_info_${n}`;
      return { source: t.image(data, field), field, type: imageTypeOf(object ? object.category : b[`category_${n}`], 'SELFIE') };
    };
    const [one, two] = [side(1), side(2)];
    const [facts1, facts2] = await Promise.all([
      t.checkPhoto(one.source, one.field, parameter, one.type, 'F11'),
      t.checkPhoto(two.source, two.field, parameter, two.type, 'F11'),
    ]);
    const result = await services.service.compare({
      tenantId: t.tenantId, source: { kind: 'image', source: one.source }, target: { kind: 'image', source: two.source },
      sourceType: one.type, targetType: two.type, allFaces: false, autoRotate: false,
    });
    const normalized = idenfaceNormalizedScore(result.tailFar);
    const passed = normalized >= (parameter.similarity_threshold ?? DEFAULT_SIMILARITY_THRESHOLD);
    return {
      transaction_id: transactionOf(request, b), transaction_status: passed ? PASSED : FAILED, channel_id: b.channel_id ?? null,
      responseBody: {
        ...controller(passed, 'IDFCTR_0311'), transaction_id: null, session_id: null,
        face_compare_response: {
          reason: null, status: 'F11_0000', message: MESSAGES.compare,
          result: {
            original_score: round(result.similarity, 7), normalized_score: round(normalized, 7),
            face_1_bbox: boxOf(facts1.face.face.box), face_1_side_angles: anglesOf(facts1.angles),
            face_2_bbox: boxOf(facts2.face.face.box), face_2_side_angles: anglesOf(facts2.angles),
            adapter: t.adapter, pipeline: t.pipeline,
          },
        },
      },
      status: 'OK',
    };
  };

  app.post<{ Body: PhotoBody }>(at(PATHS.photoDetect), {
    config: { usesEngine: true },
    bodyLimit: ONE_IMAGE_BODY,
    schema: {
      tags, summary: 'Validate a photo for enrolment: readable, one face, pose and side angles, occlusion, and liveness where asked',
      body: PhotoBody, response: { 200: OrFailure(DetectAnswer), 400: IdenfaceError },
    },
  }, async (request) => photoDetect(request, request.body));

  app.post<{ Body: CompareBody }>(at(PATHS.photoCompare), {
    config: { usesEngine: true },
    bodyLimit: TWO_IMAGE_BODY,
    schema: {
      tags, summary: 'Compare two photos: original_score (cosine) and normalized_score (0.7 = FAR 1e-4)',
      description: 'The manual prints this operation\'s URL as find_image; that URL answers it too.',
      body: CompareBody, response: { 200: OrFailure(CompareAnswer) },
    },
  }, async (request) => photoCompare(request, request.body));

  app.post<{ Body: Static<typeof FindImageBody> | PhotoBody | CompareBody }>(at(PATHS.findImage), {
    config: { usesEngine: true },
    bodyLimit: TWO_IMAGE_BODY,
    schema: {
      tags, summary: 'Find an image by image_id (shrunk on request); the manual also prints this URL for photo_detect and the comparison, whose bodies it answers as those operations',
      body: Type.Union([FindImageBody, PhotoBody, CompareBody]),
      response: { 200: Type.Union([FindImageAnswer, DetectAnswer, CompareAnswer, IdenfaceError]), 400: IdenfaceError },
    },
  }, async (request) => {
    const body = request.body as Record<string, unknown>;
    if (!('image_id' in body)) {
      // A body with image_info is a photo check; any other one (image_info1/image_info2, image_info_1/image_info_2, or none) a comparison.
      const compare = !('image_info' in body);
      operationOf.set(request, compare ? PATHS.photoCompare : PATHS.photoDetect);
      return compare ? photoCompare(request, body as CompareBody) : photoDetect(request, body as PhotoBody);
    }
    const b = body as Static<typeof FindImageBody>;
    const tenantId = request.caller.tenantId;
    const { record, bytes } = await services.images.read(tenantId, String(b.image_id), 'image_id');
    const meta = (record.metadata.idenface ?? {}) as { face_id?: string; face_feature_id?: string };
    const out = b.shrunk_image ? await shrinkImage(bytes) : bytes;
    return {
      status: 'OK',
      responseBody: { image_info: base64Url(out), face_id: meta.face_id ?? null, face_feature_id: meta.face_feature_id ?? null, ...controller(true, 'IDFCTR_0310') },
    };
  });
}

