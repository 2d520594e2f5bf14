import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import type { InlineImageSource } from '../../../core/image-input.ts';
import type { ImageType, CalibratedScore } from '../../../core/calibration.ts';
import type { LivenessResult, Recording } from '../../../core/liveness.ts';
import type { Gesture } from '../../../core/challenges.ts';
import type { FaceQuality, QualityReport, QualityProfile } from '../../../core/quality.ts';
import type { SecurityLevel } from '../../../core/liveness-model.ts';
import type { AppServices } from '../../app.ts';
import { TRUSTVISION_PREFIX, TrustVisionEnvelope, TrustVisionError } from './descriptor.ts';
import { Failure, imageSourceOf } from './shared.ts';

const tags = ['trustvision'];

// ---------------------------------------------------------------------------------------------
// Request schemas: the manual's ImageData, FrameData, video and gesture objects.

const StringJson = Type.Union([Type.String({ maxLength: 16384 }), Type.Record(Type.String(), Type.Unknown())], { description: 'string_json: a JSON object as text (the object itself is accepted too)' });

/** The manual's ImageData: a stored image by `id` (from POST /v1/images), or `base64` with its label and metadata. */
const ImageData = Type.Object({
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'ID of an image from the Upload Image API (wins over base64 if both are sent)' })),
  base64: Type.Optional(Type.String({ minLength: 1, contentEncoding: 'base64', description: 'The image (JPEG or PNG) in base64' })),
  label: Type.Optional(Type.String({ maxLength: 64, description: 'A label of the Label table; an id_card.* label makes the image an ID-document photo for the comparison thresholds' })),
  metadata: Type.Optional(StringJson),
}, { additionalProperties: false });
type ImageDataT = Static<typeof ImageData>;

const FrameData = Type.Object({
  base64: Type.String({ minLength: 1, contentEncoding: 'base64', description: 'One frame (JPEG or PNG) in base64' }),
  label: Type.Optional(Type.String({ maxLength: 64 })),
  index: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'The frame\'s place in the video; frames are ordered by it' })),
  metadata: Type.Optional(StringJson),
}, { additionalProperties: false });

const Video = Type.Object({
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'ID of a video or frame list from the Upload File API (POST /v1/files)' })),
  metadata: Type.Optional(StringJson),
  frames: Type.Optional(Type.Array(FrameData, { minItems: 1, maxItems: 50, description: 'The video\'s frames, taken as sampled at 5 a second' })),
}, { additionalProperties: false });
type VideoT = Static<typeof Video>;

const GESTURES = { left: 'turn_left', right: 'turn_right', up: 'look_up', down: 'look_down' } as const satisfies Record<string, Gesture>;
const GestureImage = Type.Object({
  gesture: Type.Union(Object.keys(GESTURES).map((g) => Type.Literal(g)), { description: 'The gesture the images show: left, right, up or down (the subject\'s own directions)' }),
  images: Type.Array(ImageData, { minItems: 1, maxItems: 4 }),
}, { additionalProperties: false });

const SELFIE_TYPES = ['id_card', 'light', 'passive', 'active', 'flash', 'flash_8', 'flash_16', 'flash_32', 'flash_edge', 'flash_advanced'] as const;
const SelfieType = Type.Union(SELFIE_TYPES.map((t) => Type.Literal(t)), { description: 'The manual\'s selfie_type table; see docs/dialects/trustvision-faces.md for what each changes' });

const CompareBody = Type.Object({
  image1: ImageData,
  image2: ImageData,
  type: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('2'), Type.Literal('3'), Type.Literal(1), Type.Literal(2), Type.Literal(3)], {
    description: '1 ID vs ID, 2 ID (image1) vs selfie (image2), 3 selfie vs selfie; by default from the labels (id_card.* is an ID photo), else selfie vs selfie',
  })),
}, { additionalProperties: false });

const DetectBody = Type.Object({
  image: ImageData,
  return_embedding: Type.Optional(Type.Boolean({ description: 'Add each face\'s embedding (the unit-length vector the comparisons use)' })),
}, { additionalProperties: false });

const LivenessBody = Type.Object({
  images: Type.Array(ImageData, { minItems: 1, maxItems: 4, description: 'Frontal images: passive 1–3, active (with gesture_images) 2–4' }),
  gesture_images: Type.Optional(Type.Array(GestureImage, { maxItems: 4 })),
  videos: Type.Optional(Type.Array(Video, { maxItems: 3 })),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Collected during the liveness check; kept in nothing, accepted' })),
  selfie_type: Type.Optional(SelfieType),
}, { additionalProperties: false });

const VideoLivenessBody = Type.Object({
  videos: Type.Array(Video, { minItems: 1, maxItems: 3 }),
}, { additionalProperties: false });

const PortraitBody = Type.Object({
  image: ImageData,
  selfie_type: Type.Optional(SelfieType),
}, { additionalProperties: false });

const OtpImage = Type.Object({
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  base64: Type.Optional(Type.String({ minLength: 1, contentEncoding: 'base64' })),
  label: Type.Optional(Type.String({ maxLength: 64 })),
  metadata: Type.Optional(StringJson),
}, { additionalProperties: false });
const FaceOtpBody = Type.Object({
  selfie: Type.Array(OtpImage, { minItems: 1, maxItems: 4, description: 'All judged for liveness; the first is compared with original' }),
  original: OtpImage,
}, { additionalProperties: false });

const CARD_TYPES = ['global.passport', 'in.aadhaar', 'in.pan', 'in.voter', 'in.passport', 'in.national_id', 'vn.national_id', 'vn.cmnd_old', 'vn.cmnd_new', 'vn.cccd', 'vn.cccd_new', 'vn.tcc',
  'vn.passport', 'vn.passport_new', 'ph.national_id', 'ph.nid', 'ph.ump', 'ph.tin', 'ph.dl', 'ph.sss', 'ph.passport', 'ph.postal', 'ph.philhealth', 'ph.prc', 'ph.loyalty'] as const;
const IdentityBody = Type.Object({
  card_type: Type.Union(CARD_TYPES.map((t) => Type.Literal(t)), { description: 'The manual\'s Card type table' }),
  image1: ImageData,
  image2: Type.Optional(ImageData),
}, { additionalProperties: false });

// ---------------------------------------------------------------------------------------------
// Response schemas.

const Status = Type.Union([Type.Literal('success'), Type.Literal('failure')]);
const RequestId = Type.String({ description: "This request's id (Faceproof's X-Request-Id): requests_by_req_id finds it" });
const Score01 = Type.Number({ minimum: 0, maximum: 1 });
const BoundingBox = Type.Object({ top: Type.Integer(), right: Type.Integer(), bottom: Type.Integer(), left: Type.Integer(), angle: Type.Integer({ description: 'Degrees the image was turned to find the face (0 unless rotated)' }) });
const Face = Type.Object({ id: Type.String(), bounding_box: BoundingBox, embedding: Type.Optional(Type.Array(Type.Number())) });
const ImageFaces = Type.Object({ id: Type.String({ description: 'The stored image\'s id; "" for an image sent as base64 (not stored)' }), transformed_image_id: Type.String(), faces: Type.Array(Face) });
const Result = Type.Union([Type.Literal('matched'), Type.Literal('unmatched'), Type.Literal('unsure')]);
const Pair = Type.Object({ face1_id: Type.String(), face2_id: Type.String(), score: Type.Number({ minimum: 0, maximum: 1, description: 'Faceproof\'s calibrated score: −log10(FAR)/6' }), result: Result });
const Verdict = Type.Object({ id: Type.Optional(Type.String()), is_live: Type.Boolean(), score: Score01 });

const CompareData = Type.Object({ status: Status, image1: Type.Optional(ImageFaces), image2: Type.Optional(ImageFaces), compare_faces: Type.Optional(Type.Array(Pair)), request_id: RequestId });
const DetectData = Type.Object({ status: Status, image: Type.Optional(ImageFaces), request_id: RequestId });
const GestureDetail = Type.Object({ gesture: Type.String(), observed: Type.Array(Type.String()), performed: Type.Boolean() });
const LivenessData = Type.Object({
  status: Status,
  is_live: Type.Optional(Type.Boolean()),
  score: Type.Optional(Score01),
  images: Type.Optional(Type.Array(Verdict)),
  videos: Type.Optional(Type.Array(Verdict)),
  main_image_id: Type.Optional(Type.String()),
  details: Type.Optional(Type.Union([Type.Null(), Type.Object({ gestures: Type.Array(GestureDetail), same_person: Type.Boolean() })])),
  request_id: RequestId,
});
const VideoLivenessData = Type.Object({ status: Status, is_live: Type.Optional(Type.Boolean()), score: Type.Optional(Score01), videos: Type.Optional(Type.Array(Verdict)), request_id: RequestId });
const PortraitData = Type.Object({
  status: Status,
  image: Type.Object({ id: Type.String() }),
  portrait_sanity: Type.Optional(Type.Object({ verdict: Type.String(), score: Score01 })),
  request_id: RequestId,
});
const OtpData = Type.Object({
  status: Status,
  is_live: Type.Optional(Type.Boolean()),
  compare_faces: Type.Optional(Type.Object({ face1_id: Type.String(), face2_id: Type.String(), score: Score01, result: Result })),
  request_id: RequestId,
});
const Check = Type.Object({ verdict: Type.String(), score: Score01, name: Type.String(), info: Type.String() });
const IdentityData = Type.Object({
  status: Status,
  verify_identity: Type.Optional(Type.Object({ score: Score01, verdict: Type.String(), details: Type.Union([Type.Array(Check), Type.Null()]), score_details: Type.Union([Type.Array(Check), Type.Null()]) })),
  image1_id: Type.String(),
  image2_id: Type.String(),
  request_id: RequestId,
});

const reply200 = <T extends TSchema>(data: T) => ({ 200: TrustVisionEnvelope(data) });

// ---------------------------------------------------------------------------------------------
// Translation helpers.

/** A `failure` verdict of the manual: HTTP 200, data.status "failure", the reason in `errors`. */
class Failed extends Error {
  constructor(readonly code: string, message: string, readonly field?: string) { super(message); }
}

function failure(request: FastifyRequest, f: Failed, data: Record<string, unknown> = {}) {
  // The request was answered but gave no result: metered as such.
  request.outcome = 'no_result';
  return { data: { status: 'failure' as const, ...data, request_id: request.id }, errors: [{ code: f.code, message: f.message, detail: f.field ? { field: f.field } : {} }] };
}


/** The id the answer names an image by: the stored one, or "" for an image sent inline (Faceproof stores nothing the client did not upload). */
const idOf = (image: { id?: string } | undefined) => image?.id ?? '';

/** A face id, stable for the same image and face: a UUID from the image (its id, or its bytes) and the face's place. */
function faceId(image: { id?: string; base64?: string }, index: number): string {
  const h = createHash('sha256').update(image.id !== undefined ? `id:${image.id}` : `b64:${image.base64 ?? ''}`).update(`:${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

interface Boxed { box: { x: number; y: number; width: number; height: number }; rotation: number }
const boundingBox = (f: Boxed) => ({
  top: Math.round(f.box.y), right: Math.round(f.box.x + f.box.width), bottom: Math.round(f.box.y + f.box.height), left: Math.round(f.box.x), angle: f.rotation * 90,
});

/** matched at Faceproof's `match` decision, unsure at `uncertain`, unmatched below. */
const resultOf = (s: CalibratedScore) => (s.decision === 'match' ? 'matched' as const : s.decision === 'uncertain' ? 'unsure' as const : 'unmatched' as const);
const r4 = (v: number) => Math.round(v * 1e4) / 1e4;

const isIdLabel = (label: string | undefined) => label !== undefined && label.startsWith('id_card.');
function imageTypes(body: Static<typeof CompareBody>): [ImageType, ImageType] {
  switch (String(body.type ?? '')) {
    case '1': return ['ID_DOCUMENT', 'ID_DOCUMENT'];
    case '2': return ['ID_DOCUMENT', 'SELFIE'];
    case '3': return ['SELFIE', 'SELFIE'];
    default: return [isIdLabel(body.image1.label) ? 'ID_DOCUMENT' : 'SELFIE', isIdLabel(body.image2.label) ? 'ID_DOCUMENT' : 'SELFIE'];
  }
}

/** Core's field names (source, target) as the request's (image1, image2). */
function renamed(err: unknown, names: Record<string, string>): unknown {
  if (!(err instanceof FaceproofError) || err.field === undefined) return err;
  const head = err.field.split(/[.[]/)[0];
  if (!(head in names)) return err;
  const again = new FaceproofError(err.code, err.message.replace(new RegExp(`\\b${head}\\b`), names[head]), names[head] + err.field.slice(head.length));
  again.missing = err.missing;
  return again;
}

/** Faceproof's refusal "no face" as the operation's failure code. */
function noFace<T>(code: string, run: () => Promise<T>, names: Record<string, string> = {}): Promise<T> {
  return run().catch((caught: unknown) => {
    const err = renamed(caught, names);
    if (err instanceof FaceproofError && err.code === 'no_face_detected') throw new Failed(code, err.message, err.field);
    throw err;
  });
}

/**
 * A TrustVision portrait verdict from Faceproof's quality report: the first failing check of the face
 * in Faceproof's order; pose up/down, a rolled head, JPEG blocking and a covered face are `not_qualified`
 * (the manual has no word for them); closed eyes and sunglasses are the eye pair ("open_eye,closed_eye").
 * With `background`, a good portrait whose background is not white is `not_white_background`.
 */
function portraitVerdict(report: QualityReport): { verdict: string; score: number } {
  const face: FaceQuality | undefined = report.faces[0];
  if (!face) return { verdict: report.verdict, score: 1 };
  if (report.verdict === 'image_has_multiple_faces') return { verdict: 'image_has_multiple_faces', score: 1 };
  const v = face.verdict;
  if (v === 'good') {
    if (report.background && !report.background.white) return { verdict: 'not_white_background', score: r4(1 - report.background.whiteFraction) };
    return { verdict: 'good', score: r4(face.quality / 100) };
  }
  const confidence = r4(1 - face.quality / 100);
  if (v === 'closed_eye' || v === 'sunglasses') return { verdict: face.eyes, score: confidence };
  if (v === 'up' || v === 'down' || v === 'face_tilted' || v === 'image_compressed' || v === 'face_occluded') return { verdict: 'not_qualified', score: confidence };
  return { verdict: v, score: confidence };
}

/**
 * What selfie_type changes in the portrait check: `id_card` (the chip's portrait of a CCCD, an ID photo)
 * is judged by the ID-document profile, on a white background, which may be as bright as it likes;
 * every other type is a selfie (the mobile profile).
 */
function portraitProfile(selfieType: string | undefined): { profile: string; overrides: Partial<QualityProfile>; background: boolean } {
  if (selfieType === 'id_card') return { profile: 'id_document', overrides: { maxImageBrightness: 255, maxClippedFraction: 1 }, background: true };
  return { profile: 'selfie_mobile', overrides: {}, background: false };
}

/** `light` (Light Authen) is judged at the LOW level; every other selfie_type at the server's default. */
const levelOf = (selfieType: string | undefined, fallback: SecurityLevel): SecurityLevel => (selfieType === 'light' ? 'LOW' : fallback);

/** A video of the request: a stored file by id, or its frames. */
function recordingOf(video: VideoT, field: string): Recording {
  if (video.id !== undefined) return { fileId: video.id };
  if (video.frames) return { frames: video.frames.map((f, j) => ({ source: { kind: 'base64', data: f.base64 } as InlineImageSource, index: f.index, field: `${field}.frames[${j}]` })) };
  throw FaceproofError.missing(`${field}.id or ${field}.frames is required`, field);
}

const incorrectFaces = (reply: FastifyReply, message: string, field: string) =>
  reply.code(400).send({ data: {}, errors: [{ code: 'incorrect_number_of_faces', message, detail: { field } }] });

// ---------------------------------------------------------------------------------------------

/** TrustVision's face operations: compare, detect, liveness (images, gestures, videos), portrait sanity, face OTP, identity (age). */
export function trustvisionFaceRoutes(app: FastifyInstance, services: AppServices, defaultLevel: SecurityLevel = 'MEDIUM'): void {
  const { service: faces, liveness, challenges, quality, age } = services;
  const P = TRUSTVISION_PREFIX;
  const engine = { usesEngine: true };

  /** Runs an operation, turning its `failure` verdicts into the manual's 200 failure answer. */
  const verdicts = <T>(request: FastifyRequest, run: () => Promise<T>, data: () => Record<string, unknown> = () => ({})) =>
    run().catch((err: unknown) => {
      if (err instanceof Failed) return failure(request, err, data());
      throw err;
    });

  /** A video's liveness; a stored file that is not there is the table's image_not_found_exception, named by the video's field. */
  async function videoLiveness(video: VideoT, field: string, tenantId: string, level: SecurityLevel): Promise<LivenessResult> {
    try {
      return await liveness.checkVideo(recordingOf(video, field), tenantId, { securityLevel: level, returnBestFrame: false });
    } catch (err) {
      if (err instanceof FaceproofError && err.code === 'not_found') throw new FaceproofError('not_found', `no video ${video.id}`, `${field}.id`);
      if (err instanceof FaceproofError && (err.code === 'short_time' || err.code === 'invalid_video')) throw new FaceproofError('invalid_parameter', err.message, field);
      throw err;
    }
  }

  const noFaceIn = (result: LivenessResult, field: string) => {
    if (result.reason === 'no_face') throw new Failed('image_has_no_face', `no face was found in ${field}`, field);
  };

  app.post<{ Body: Static<typeof CompareBody> }>(`${P}/v1/compare_faces_sync`, {
    config: engine,
    schema: {
      tags, summary: 'Compare the faces of two images: matched, unmatched or unsure',
      description: 'Every face of image1 against every face of image2 (largest first). result: matched at Faceproof\'s `match` decision, unsure at `uncertain`. No face: status failure, image_has_no_faces.',
      body: CompareBody, response: { ...reply200(CompareData), 404: TrustVisionError },
    },
  }, async (request) => {
    const b = request.body;
    const [sourceType, targetType] = imageTypes(b);
    return verdicts(request, async () => {
      const r = await noFace('image_has_no_faces', () => faces.compare({
        tenantId: request.caller.tenantId,
        source: { kind: 'image', source: imageSourceOf(b.image1, 'image1') },
        target: { kind: 'image', source: imageSourceOf(b.image2, 'image2') },
        sourceType, targetType, allFaces: true, autoRotate: false,
      }), { source: 'image1', target: 'image2' });
      const side = (image: ImageDataT, list: Array<Boxed | undefined>) => ({
        id: idOf(image), transformed_image_id: '', faces: list.map((f, i) => ({ id: faceId(image, i), bounding_box: boundingBox(f!) })),
      });
      return {
        data: {
          status: 'success' as const,
          image1: side(b.image1, r.sourceFaces ?? []),
          image2: side(b.image2, r.targetFaces ?? []),
          compare_faces: (r.pairs ?? []).map((p) => ({ face1_id: faceId(b.image1, p.sourceIndex), face2_id: faceId(b.image2, p.targetIndex), score: r4(p.score), result: resultOf(p) })),
          request_id: request.id,
        },
      };
    });
  });

  app.post<{ Body: Static<typeof DetectBody> }>(`${P}/v1/detect_faces_sync`, {
    config: engine,
    schema: {
      tags, summary: 'Find the faces of an image, with their embeddings if asked',
      description: 'Every face, largest first, with a bounding box and (return_embedding) the unit-length embedding Faceproof compares. An image without a face: success with no faces.',
      body: DetectBody, response: { ...reply200(DetectData), 404: TrustVisionError },
    },
  }, async (request) => {
    const b = request.body;
    const r = await faces.detect(imageSourceOf(b.image, 'image'), { tenantId: request.caller.tenantId, autoRotate: false, returnTemplates: b.return_embedding ?? false, returnFaceImages: false });
    return {
      data: {
        status: 'success' as const,
        image: {
          id: idOf(b.image), transformed_image_id: '',
          faces: r.faces.map((d, i) => ({
            id: faceId(b.image, i), bounding_box: boundingBox(d.face),
            ...(d.template ? { embedding: Array.from(faces.parseTemplate(d.template, 'image').vector) } : {}),
          })),
        },
        request_id: request.id,
      },
    };
  });

  app.post<{ Body: Static<typeof LivenessBody> }>(`${P}/v1/verify_face_liveness_sync`, {
    config: engine,
    schema: {
      tags, summary: 'Liveness of frontal images, of images showing declared gestures, and of videos',
      description: [
        'Passive liveness of `images` (fused as one session); with `gesture_images`, each gesture must be shown by one of its images (a face turned that way) and every image must be the same person;',
        'each video (an uploaded file by id, or its frames) is judged on its own. is_live when all hold; score is the lowest of the images\' fused score and the videos\' scores.',
        'A face missing: status failure, image_has_no_face. selfie_type active needs gesture_images; light is judged at the LOW level.',
      ].join(' '),
      body: LivenessBody, response: { ...reply200(LivenessData), 404: TrustVisionError },
    },
  }, async (request) => {
    const b = request.body;
    const tenantId = request.caller.tenantId;
    const level = levelOf(b.selfie_type, defaultLevel);
    const steps = b.gesture_images ?? [];
    if (steps.length > 0) {
      if (b.images.length < 2) throw new FaceproofError('invalid_parameter', 'with gesture_images, images needs at least 2 frontal images', 'images');
      if (!steps.some((s) => s.gesture === 'left' || s.gesture === 'right')) throw new FaceproofError('invalid_parameter', 'gesture_images needs at least a left or a right gesture', 'gesture_images');
    } else if (b.selfie_type === 'active') {
      throw FaceproofError.missing('selfie_type active (gestures) needs gesture_images', 'gesture_images');
    }
    return verdicts(request, async () => {
      const frontal = { images: b.images.map((img, i) => imageSourceOf(img, `images[${i}]`)), fields: b.images.map((_, i) => `images[${i}]`) };
      let images: LivenessResult;
      let details: Static<typeof LivenessData>['details'] = null;
      let imageIds = b.images.map(idOf);
      let isLive: boolean;
      if (steps.length > 0) {
        const outcome = await challenges.checkGestureImages(tenantId, frontal, steps.map((s, k) => ({
          gesture: GESTURES[s.gesture as keyof typeof GESTURES],
          images: s.images.map((img, j) => imageSourceOf(img, `gesture_images[${k}].images[${j}]`)),
          fields: s.images.map((_, j) => `gesture_images[${k}].images[${j}]`),
        })), level);
        images = outcome.liveness;
        imageIds = [...imageIds, ...steps.flatMap((s) => s.images.map(idOf))];
        const byName = Object.fromEntries(Object.entries(GESTURES).map(([k, v]) => [v, k]));
        details = {
          gestures: outcome.gestures.map((g) => ({ gesture: byName[g.gesture], observed: g.observed.map((o) => byName[o] ?? o), performed: g.performed })),
          same_person: outcome.sameIdentity,
        };
        isLive = outcome.isLive;
      } else {
        images = await liveness.checkImages(frontal.images, tenantId, level);
        isLive = images.isLive;
      }
      const missing = images.images.findIndex((i) => i.reason === 'no_face');
      if (missing >= 0) {
        const fields = [...frontal.fields, ...steps.flatMap((s, k) => s.images.map((_, j) => `gesture_images[${k}].images[${j}]`))];
        throw new Failed('image_has_no_face', `no face was found in ${fields[missing]}`, fields[missing]);
      }
      const videos: Array<{ id?: string; is_live: boolean; score: number }> = [];
      for (const [i, v] of (b.videos ?? []).entries()) {
        const r = await videoLiveness(v, `videos[${i}]`, tenantId, level);
        noFaceIn(r, `videos[${i}]`);
        videos.push({ ...(v.id !== undefined ? { id: v.id } : {}), is_live: r.isLive, score: r.score });
      }
      const mainImage = b.images.find((img) => img.id !== undefined)?.id;
      return {
        data: {
          status: 'success' as const,
          is_live: isLive && videos.every((v) => v.is_live),
          score: Math.min(images.score, ...videos.map((v) => v.score)),
          images: images.images.map((v, i) => ({ id: imageIds[i], is_live: v.isLive, score: v.score })),
          ...(b.videos ? { videos } : {}),
          ...(mainImage !== undefined ? { main_image_id: mainImage } : {}),
          details,
          request_id: request.id,
        },
      };
    });
  });

  app.post<{ Body: Static<typeof VideoLivenessBody> }>(`${P}/v1/verify_face_video_liveness_sync`, {
    config: engine,
    schema: {
      tags, summary: 'Liveness of uploaded videos (or their frames)',
      description: 'Each video judged on its own (at least 2 s; frames are taken at 5 a second); is_live when every video is live, score the lowest. No face in most frames: status failure, image_has_no_face.',
      body: VideoLivenessBody, response: { ...reply200(VideoLivenessData), 404: TrustVisionError },
    },
  }, async (request) => {
    const b = request.body;
    return verdicts(request, async () => {
      const videos: Array<{ id?: string; is_live: boolean; score: number }> = [];
      for (const [i, v] of b.videos.entries()) {
        const r = await videoLiveness(v, `videos[${i}]`, request.caller.tenantId, defaultLevel);
        noFaceIn(r, `videos[${i}]`);
        videos.push({ ...(v.id !== undefined ? { id: v.id } : {}), is_live: r.isLive, score: r.score });
      }
      return { data: { status: 'success' as const, is_live: videos.every((v) => v.is_live), score: Math.min(...videos.map((v) => v.score)), videos, request_id: request.id } };
    });
  });

  app.post<{ Body: Static<typeof PortraitBody> }>(`${P}/v1/verify_portrait_sanity_sync`, {
    config: engine,
    schema: {
      tags, summary: 'Is a portrait good enough: good, or the first issue found',
      description: 'Verdicts: good, image_too_blur, image_too_dark, image_too_bright, face_too_dark, face_too_bright, image_has_no_faces, image_has_multiple_faces, not_white_background (selfie_type id_card), right, left, not_qualified, the eye pair (open_eye,closed_eye, …), face_too_small, face_too_big.',
      body: PortraitBody, response: { ...reply200(PortraitData), 404: TrustVisionError },
    },
  }, async (request) => {
    const b = request.body;
    const { profile, overrides, background } = portraitProfile(b.selfie_type);
    const report = await quality.assess(imageSourceOf(b.image, 'image'), request.caller.tenantId, profile, overrides, 'image', { background });
    return { data: { status: 'success' as const, image: { id: idOf(b.image) }, portrait_sanity: portraitVerdict(report), request_id: request.id } };
  });

  app.post<{ Body: Static<typeof FaceOtpBody> }>(`${P}/v1/face_otp`, {
    config: engine,
    schema: {
      tags, summary: 'A selfie against the original: liveness of every selfie, the first compared with the original',
      description: 'The first selfie must pass the portrait checks (else status failure with the verdict as code: image_has_no_faces, image_has_multiple_faces, image_too_blur, left, …); an original with more than one face is 400 incorrect_number_of_faces.',
      body: FaceOtpBody, response: { ...reply200(OtpData), 400: TrustVisionError, 404: TrustVisionError },
    },
  }, async (request, reply) => {
    const b = request.body;
    const tenantId = request.caller.tenantId;
    const original = imageSourceOf(b.original, 'original');
    const selfies = b.selfie.map((s, i) => imageSourceOf(s, `selfie[${i}]`));
    // The original must show one person: a second face as large (a person, not a card's ghost portrait) is refused.
    const originalReport = await quality.assess(original, tenantId, 'id_document', undefined, 'original');
    if (originalReport.verdict === 'image_has_multiple_faces') return incorrectFaces(reply, 'the original image has more than one face', 'original');
    return verdicts(request, async () => {
      if (originalReport.faces.length === 0) throw new Failed('image_has_no_faces', 'no face was found in the original image', 'original');
      const first = await quality.assess(selfies[0], tenantId, 'selfie_mobile', undefined, 'selfie[0]');
      const verdict = portraitVerdict(first).verdict;
      if (verdict !== 'good') throw new Failed(verdict, `the selfie is not good enough: ${verdict}`, 'selfie[0]');
      const [live, compared] = await Promise.all([
        liveness.analyseImages(selfies, tenantId, false, selfies.map((_, i) => `selfie[${i}]`)).then((frames) => liveness.fuse(frames, defaultLevel)),
        faces.compare({ tenantId, source: { kind: 'image', source: selfies[0] }, target: { kind: 'image', source: original }, sourceType: 'SELFIE', targetType: 'SELFIE', allFaces: false, autoRotate: false }),
      ]);
      const missing = live.images.findIndex((i) => i.reason === 'no_face');
      if (missing >= 0) throw new Failed('image_has_no_face', `no face was found in selfie[${missing}]`, `selfie[${missing}]`);
      return {
        data: {
          status: 'success' as const,
          is_live: live.isLive,
          compare_faces: { face1_id: faceId(b.selfie[0], 0), face2_id: faceId(b.original, 0), score: r4(compared.score), result: resultOf(compared) },
          request_id: request.id,
        },
      };
    });
  });

  app.post<{ Body: Static<typeof IdentityBody> }>(`${P}/v1/verify_identity_sync`, {
    config: engine,
    schema: {
      tags, summary: 'Do the ID card\'s portrait and the selfie have consistent ages: good or age_not_match',
      description: 'The age of the card\'s largest face (image1) against the selfie\'s (image2); apart by more than 15 years: verdict age_not_match, status failure with error age_not_match. image2 is needed: the age check is the only identity check served.',
      body: IdentityBody, response: { ...reply200(IdentityData), 404: TrustVisionError },
    },
  }, async (request) => {
    const b = request.body;
    if (!b.image2) throw FaceproofError.missing('image2 (the portrait) is needed: the age check between the card and the portrait is the identity check served', 'image2');
    const r = await age.consistency(imageSourceOf(b.image1, 'image1'), imageSourceOf(b.image2, 'image2'), request.caller.tenantId).catch((err: unknown) => {
      if (err instanceof FaceproofError && err.code === 'no_face_detected') throw new FaceproofError('no_face_detected', err.message, err.field === 'document' ? 'image1' : 'image2');
      throw err;
    });
    const gap = Math.abs(r.difference);
    const good = r.verdict === 'age_match';
    // Confidence in the verdict: 1 at equal ages (or twice the tolerated gap apart), 0.5 at the tolerated gap.
    const score = r4(good ? 1 - gap / (2 * r.maxDifference) : Math.min(1, gap / (2 * r.maxDifference)));
    const verdict = good ? 'good' : 'age_not_match';
    const data = {
      status: good ? 'success' as const : 'failure' as const,
      verify_identity: {
        score, verdict,
        details: [{ verdict, score, name: 'age', info: `id card portrait about ${Math.round(r.documentAge)} years, portrait about ${Math.round(r.selfieAge)}; at most ${r.maxDifference} apart` }],
        score_details: null,
      },
      image1_id: idOf(b.image1), image2_id: idOf(b.image2), request_id: request.id,
    };
    if (good) return { data };
    request.outcome = 'processed';
    return { data, errors: [{ code: 'age_not_match', message: 'the ages of the id card\'s portrait and the portrait do not match', detail: {} }] };
  });
}
