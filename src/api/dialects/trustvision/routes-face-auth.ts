import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import type { ImageType } from '../../../core/calibration.ts';
import type { Recording } from '../../../core/liveness.ts';
import type { UserEvent } from '../../../core/ports.ts';
import { faceExpiry, isUnregistered, type EnrolInput, type UserView } from '../../../core/users.ts';
import type { AppServices } from '../../app.ts';
import { TRUSTVISION_PREFIX, TrustVisionEnvelope } from './descriptor.ts';
import { failureBody, failureOf, ImageData, metadataOf } from './routes-collections.ts';
import { Failure, imageSourceOf } from './shared.ts';

const tags = ['trustvision'];
type ImageDataT = Static<typeof ImageData>;

/**
 * "Selfie or original image have more than 1 faces" (400 incorrect_number_of_faces): another whole
 * face at least this share of the largest's width, as the selfie quality profiles judge it; an ID
 * card's smaller "ghost" portrait is allowed as the id_document profile allows it.
 */
const OTHER_FACE_SHARE = 0.6;
const ID_CARD_OTHER_FACE_SHARE = 0.8;

const Frame = Type.Object({ base64: Type.String({ minLength: 1 }), label: Type.Optional(Type.String({ maxLength: 64 })), index: Type.Optional(Type.Integer({ minimum: 0 })), metadata: ImageData.properties.metadata }, { additionalProperties: true });
const Video = Type.Object({ id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), metadata: ImageData.properties.metadata, frames: Type.Optional(Type.Array(Frame, { minItems: 1, maxItems: 300 })) }, { additionalProperties: true });
const Gesture = Type.String({ maxLength: 32, description: 'left, right, up or down' });
const Probes = {
  faces: Type.Optional(Type.Array(ImageData, { maxItems: 50 })),
  gesture_faces: Type.Optional(Type.Array(Type.Object({ gesture: Gesture, images: Type.Array(ImageData, { maxItems: 50 }) }, { additionalProperties: true }), { maxItems: 50 })),
  videos: Type.Optional(Type.Array(Video, { maxItems: 50 })),
  gesture_videos: Type.Optional(Type.Array(Type.Object({ gesture: Gesture, videos: Type.Array(Video, { maxItems: 50 }) }, { additionalProperties: true }), { maxItems: 50 })),
};
const Context = {
  cus_user_id: Type.String({ minLength: 1, maxLength: 256 }),
  device_id: Type.Optional(Type.String({ maxLength: 256 })),
  app_id: Type.Optional(Type.String({ maxLength: 128 })),
  lat: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })),
  lng: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })),
};
const HistoryFilter = {
  history_return_count: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
  history_return_status: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('all')])),
};
const RegisterBody = Type.Object({
  ...Context, ...Probes, ...HistoryFilter,
  face_in_id_card: Type.Optional(ImageData),
  face_type: Type.Optional(Type.Union([Type.Literal('selfie'), Type.Literal('id_card')])),
  selfie_type: Type.Optional(Type.String({ maxLength: 64 })),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  face_priority: Type.Optional(Type.Union([Type.Literal('selfie'), Type.Literal('id_card')])),
}, { additionalProperties: true });
const AuthBody = Type.Object({
  ...Context, ...Probes, ...HistoryFilter,
  auth_type: Type.Optional(Type.String({ maxLength: 64 })),
  client_transaction_id: Type.Optional(Type.String({ maxLength: 256 })),
  selfie_type: Type.Optional(Type.String({ maxLength: 64 })),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
}, { additionalProperties: true });
const UserBody = Type.Object({ cus_user_id: Context.cus_user_id }, { additionalProperties: true });
const UnregisterBody = Type.Object(Context, { additionalProperties: true });

const History = Type.Object({
  id: Type.String(), client_id: Type.String(), cus_user_id: Type.String(), face_auth_id: Type.String(), id_card_face_id: Type.String(), live_face_id: Type.String(),
  device_id: Type.String(), app_id: Type.String(), latitude: Type.Union([Type.Number(), Type.Null()]), longitude: Type.Union([Type.Number(), Type.Null()]),
  created_at: Type.String(), auth_action: Type.String(), status: Type.String(), result: Type.String(),
  metadata: Type.Record(Type.String(), Type.Unknown()), face_type: Type.String(),
}, { additionalProperties: true });
const Metadata = Type.Record(Type.String(), Type.Unknown());

type ContextBody = { cus_user_id: string; device_id?: string; app_id?: string; lat?: number; lng?: number };

/** A history event as the manual's history item. */
function historyItem(e: UserEvent, userId: string) {
  const d = e.detail;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  const success = e.result === 'registered' || e.result === 'match' || e.result === 'unregistered';
  const result = success ? '' : e.result === 'no_match' ? 'unmatched' : String(d.reason ?? d.error ?? e.result);
  return {
    id: String(d.history_id ?? `${e.seq}`), client_id: str(d.client_id), cus_user_id: userId,
    face_auth_id: str(d.face_auth_id), id_card_face_id: str(d.id_card_face_id), live_face_id: str(d.live_face_id),
    device_id: str(d.device_id), app_id: str(d.app_id), latitude: num(d.latitude), longitude: num(d.longitude),
    created_at: e.at, auth_action: e.action === 'authenticate' ? 'login' : e.action, status: success ? 'success' : 'failure', result,
    metadata: (d.metadata && typeof d.metadata === 'object' ? d.metadata : {}) as Record<string, unknown>,
    face_type: str(d.face_type) || 'selfie',
    ...(typeof d.auth_type === 'string' ? { auth_type: d.auth_type } : {}),
    ...(typeof d.client_transaction_id === 'string' ? { client_transaction_id: d.client_transaction_id } : {}),
  };
}

/** TrustVision's face authentication: register (again), authenticate, status, unregister, with their histories. */
export function trustvisionFaceAuthRoutes(app: FastifyInstance, services: AppServices): void {
  const { users, liveness } = services;

  /** The best frame of each video (an uploaded file, or frames sent), as a JPEG to compare. */
  const videoFrames = async (tenantId: string, videos: Array<Static<typeof Video>>, field: string): Promise<string[]> => Promise.all(videos.map(async (v, i) => {
    let recording: Recording;
    if (v.id !== undefined) recording = { fileId: v.id };
    else if (v.frames) recording = { frames: v.frames.map((f, j) => ({ source: { kind: 'base64', data: f.base64 }, index: f.index, field: `${field}[${i}].frames[${j}].base64` })) };
    else throw FaceproofError.missing(`${field}[${i}].id or ${field}[${i}].frames is required`, `${field}[${i}]`);
    const checked = await liveness.checkVideo(recording, tenantId, { securityLevel: 'MEDIUM', returnBestFrame: true });
    const frame = checked.video?.bestFrame?.image;
    if (!frame) throw new FaceproofError('no_face_detected', `no frame of ${field}[${i}] shows a face`, `${field}[${i}]`);
    return frame;
  }));

  /** Every face the request gives, in the manual's order: faces, gesture faces, videos' best frames, gesture videos'. */
  const probesOf = async (request: FastifyRequest, b: Static<typeof AuthBody> | Static<typeof RegisterBody>, selfieType: ImageType, qualityProfile?: string): Promise<EnrolInput[]> => {
    const image = (img: ImageDataT, field: string, imageType: ImageType): EnrolInput => ({ input: { kind: 'image', source: imageSourceOf(img, field) }, imageType, qualityProfile, otherFaceShare: imageType === 'ID_DOCUMENT' ? ID_CARD_OTHER_FACE_SHARE : OTHER_FACE_SHARE });
    const out: EnrolInput[] = [];
    (b.faces ?? []).forEach((img, i) => out.push(image(img, `faces[${i}]`, selfieType)));
    (b.gesture_faces ?? []).forEach((g, i) => g.images.forEach((img, j) => out.push(image(img, `gesture_faces[${i}].images[${j}]`, 'SELFIE'))));
    const frames = [
      ...(await videoFrames(request.caller.tenantId, b.videos ?? [], 'videos')),
      ...(await videoFrames(request.caller.tenantId, (b.gesture_videos ?? []).flatMap((g) => g.videos), 'gesture_videos')),
    ];
    for (const f of frames) out.push({ input: { kind: 'image', source: { kind: 'base64', data: f } }, imageType: 'VIDEO_FRAME', qualityProfile, otherFaceShare: OTHER_FACE_SHARE });
    return out;
  };

  const context = (request: FastifyRequest, b: ContextBody, extra: Record<string, unknown>) => ({
    history_id: request.id, client_id: request.caller.clientId,
    ...(b.device_id !== undefined ? { device_id: b.device_id } : {}), ...(b.app_id !== undefined ? { app_id: b.app_id } : {}),
    ...(b.lat !== undefined ? { latitude: b.lat } : {}), ...(b.lng !== undefined ? { longitude: b.lng } : {}),
    ...extra,
  });

  const userMetadata = (user: UserView) => {
    const expiry = faceExpiry(user);
    return { ...user.metadata, ...(expiry ? { expiry_date_face: expiry } : {}) };
  };

  const histories = async (tenantId: string, userId: string, actions: Array<UserEvent['action']>, b: { history_return_count?: number; history_return_status?: string }) => {
    const wanted = b.history_return_status ?? 'all';
    return (await users.history(tenantId, userId, { limit: 1000 })).filter((e) => actions.includes(e.action)).map((e) => historyItem(e, userId))
      .filter((h) => wanted === 'all' || h.status === wanted).slice(0, b.history_return_count ?? 10);
  };

  const findUser = async (tenantId: string, userId: string): Promise<UserView | undefined> => {
    try {
      return await users.get(tenantId, userId);
    } catch (err) {
      if (err instanceof FaceproofError && err.code === 'not_found') return undefined;
      throw err;
    }
  };

  const storedId = (img: ImageDataT | undefined) => img?.id ?? '';

  app.post<{ Body: Static<typeof RegisterBody> }>(`${TRUSTVISION_PREFIX}/v1/face_auth_register`, {
    config: { usesEngine: true },
    schema: {
      tags, summary: 'Register a user\'s face (again) for face authentication',
      description: 'The faces given (selfies, gesture images, the best frame of each video, the face of the ID card) become the user\'s enrolled faces; registering again replaces them and the metadata, and keeps the history. Device, app, place and metadata are kept in the history. A deactivated user: 200 with status "failure" and face_auth_user_deactivated; a picture without a face or of poor quality: status "failure" with its reason.',
      body: RegisterBody,
      response: {
        200: TrustVisionEnvelope(Type.Object({
          status: Type.String(), request_id: Type.String(), user_metadata: Type.Optional(Metadata), register_id: Type.String(), histories: Type.Optional(Type.Array(History)), ...Failure,
        })),
      },
    },
  }, async (request) => {
    const b = request.body;
    const { tenantId } = request.caller;
    if (!b.faces?.length && !b.face_in_id_card && !b.gesture_faces?.length && !b.videos?.length && !b.gesture_videos?.length) {
      throw FaceproofError.missing('faces or face_in_id_card is required', 'faces');
    }
    const idCardSelfies = b.face_type === 'id_card' || b.selfie_type === 'id_card';
    const faceType = idCardSelfies || (!b.faces?.length && b.face_in_id_card) ? 'id_card' : 'selfie';
    const ctx = context(request, b, {
      face_type: faceType, metadata: b.metadata ?? {}, face_auth_id: idCardSelfies ? '' : storedId(b.faces?.[0]),
      id_card_face_id: idCardSelfies ? storedId(b.faces?.[0]) : storedId(b.face_in_id_card), live_face_id: storedId(b.faces?.[0]),
      ...(b.selfie_type !== undefined ? { selfie_type: b.selfie_type } : {}), ...(b.face_priority !== undefined ? { face_priority: b.face_priority } : {}),
    });
    const base = { request_id: request.id, register_id: request.id };
    const existing = await findUser(tenantId, b.cus_user_id);
    if (existing && existing.status !== 'active') {
      request.outcome = 'rejected';
      return { data: { status: 'failure', ...base, user_metadata: userMetadata(existing) }, ...failureBody({ code: 'face_auth_user_deactivated', message: 'the user is deactivated', field: 'cus_user_id' }) };
    }
    let user: UserView;
    try {
      const inputs = await probesOf(request, b, idCardSelfies ? 'ID_DOCUMENT' : 'SELFIE');
      if (b.face_in_id_card) inputs.push({ input: { kind: 'image', source: imageSourceOf(b.face_in_id_card, 'face_in_id_card') }, imageType: 'ID_DOCUMENT', otherFaceShare: ID_CARD_OTHER_FACE_SHARE });
      user = await users.reregister(tenantId, b.cus_user_id, inputs, b.metadata ?? {}, request.id, ctx);
    } catch (err) {
      const failure = failureOf(err);
      request.outcome = 'no_result';
      const after = await findUser(tenantId, b.cus_user_id);
      return {
        data: { status: 'failure', ...base, ...(after ? { user_metadata: userMetadata(after), histories: await histories(tenantId, b.cus_user_id, ['register'], b) } : {}) },
        ...failureBody(failure),
      };
    }
    return { data: { status: 'success', ...base, user_metadata: userMetadata(user), histories: await histories(tenantId, b.cus_user_id, ['register'], b) } };
  });

  app.post<{ Body: Static<typeof AuthBody> }>(`${TRUSTVISION_PREFIX}/v1/face_auth`, {
    config: { usesEngine: true },
    schema: {
      tags, summary: 'Authenticate a registered user with new faces',
      description: 'Every face given is compared with every enrolled face; the best pair decides (its false-accept rate corrected for the comparisons made): "matched" at Faceproof\'s match decision, else "unmatched". Each face must pass the comparison quality profile (sanity_verdict "good"); liveness is not checked here (is_live absent). A deactivated or unregistered user, a picture without a face or of poor quality: 200 with status "failure" and the manual\'s code. An unknown user: 404 face_auth_user_not_found_exception.',
      body: AuthBody,
      response: {
        200: TrustVisionEnvelope(Type.Object({
          status: Type.String(), request_id: Type.String(), auth_id: Type.String(),
          auth_check: Type.Optional(Type.Object({ score: Type.Number(), result: Type.String() })),
          user_metadata: Type.Optional(Metadata),
          validate_faces_result: Type.Optional(Type.Object({ sanity_verdict: Type.String(), sanity_check: Type.Optional(Type.Unknown()) }, { additionalProperties: true })),
          client_transaction_id: Type.Optional(Type.String()),
          histories: Type.Optional(Type.Array(History)),
          ...Failure,
        })),
      },
    },
  }, async (request) => {
    const b = request.body;
    const { tenantId } = request.caller;
    if (!b.faces?.length && !b.gesture_faces?.length && !b.videos?.length && !b.gesture_videos?.length) throw FaceproofError.missing('faces is required', 'faces');
    const user = await users.get(tenantId, b.cus_user_id); // 404 face_auth_user_not_found_exception
    const ctx = context(request, b, {
      face_type: user.faces.some((f) => f.imageType !== 'ID_DOCUMENT') || user.faces.length === 0 ? 'selfie' : 'id_card',
      metadata: b.metadata ?? {}, live_face_id: storedId(b.faces?.[0]),
      face_auth_id: user.faces.find((f) => f.imageType !== 'ID_DOCUMENT')?.imageId ?? '', id_card_face_id: user.faces.find((f) => f.imageType === 'ID_DOCUMENT')?.imageId ?? '',
      ...(b.auth_type !== undefined ? { auth_type: b.auth_type } : {}), ...(b.client_transaction_id !== undefined ? { client_transaction_id: b.client_transaction_id } : {}),
      ...(b.selfie_type !== undefined ? { selfie_type: b.selfie_type } : {}),
    });
    const base = { request_id: request.id, auth_id: request.id, ...(b.client_transaction_id !== undefined ? { client_transaction_id: b.client_transaction_id } : {}) };
    const failed = async (code: string, message: string, field?: string) => ({
      data: { status: 'failure', ...base, user_metadata: userMetadata(await users.get(tenantId, b.cus_user_id)), histories: await histories(tenantId, b.cus_user_id, ['authenticate'], b) },
      ...failureBody({ code, message, field }),
    });
    try {
      const probes = await probesOf(request, b, 'SELFIE', 'comparison');
      const result = await users.authenticate(tenantId, b.cus_user_id, probes, request.id, ctx);
      if (result.decision !== 'match') request.outcome = 'no_result';
      return {
        data: {
          status: 'success', ...base, auth_check: { score: result.score, result: result.decision === 'match' ? 'matched' : 'unmatched' },
          user_metadata: userMetadata(await users.get(tenantId, b.cus_user_id)),
          validate_faces_result: { sanity_verdict: 'good' },
          histories: await histories(tenantId, b.cus_user_id, ['authenticate'], b),
        },
      };
    } catch (err) {
      if (err instanceof FaceproofError && err.code === 'user_inactive') {
        request.outcome = 'rejected';
        return isUnregistered(user)
          ? failed('face_auth_user_unregistered', 'the user is unregistered from face_auth service', 'cus_user_id')
          : failed('face_auth_user_deactivated', 'the user is deactivated', 'cus_user_id');
      }
      const f = failureOf(err);
      request.outcome = 'no_result';
      return failed(f.code, f.message, f.field);
    }
  });

  app.post<{ Body: Static<typeof UserBody> }>(`${TRUSTVISION_PREFIX}/v1/face_auth_user`, {
    schema: {
      tags, summary: 'Is this user registered for face authentication?',
      description: 'verdict "registered" with the face types enrolled, the registration history and the metadata (with expiry_date_face); "not_registered" for a user never registered or unregistered (is_unregistered tells which).',
      body: UserBody,
      response: {
        200: TrustVisionEnvelope(Type.Object({
          status: Type.String(), verdict: Type.String(), face_types: Type.Optional(Type.Array(Type.String())), histories: Type.Optional(Type.Array(History)),
          metadata: Type.Optional(Metadata), is_deactivated: Type.Optional(Type.Boolean()), is_unregistered: Type.Optional(Type.Boolean()),
        })),
      },
    },
  }, async (request) => {
    const { tenantId } = request.caller;
    const user = await findUser(tenantId, request.body.cus_user_id);
    if (!user) return { data: { status: 'success', verdict: 'not_registered' } };
    if (isUnregistered(user)) return { data: { status: 'success', verdict: 'not_registered', metadata: user.metadata, is_deactivated: user.status !== 'active', is_unregistered: true } };
    const types = new Set(user.faces.map((f) => (f.imageType === 'ID_DOCUMENT' ? 'id_card' : 'selfie')));
    return {
      data: {
        status: 'success', verdict: 'registered', face_types: (['selfie', 'id_card'] as const).filter((t) => types.has(t)),
        histories: await histories(tenantId, user.userId, ['register'], {}), metadata: userMetadata(user),
        is_deactivated: user.status !== 'active', is_unregistered: false,
      },
    };
  });

  app.post<{ Body: Static<typeof UnregisterBody> }>(`${TRUSTVISION_PREFIX}/v1/face_auth_unregister`, {
    schema: {
      tags, summary: 'Unregister a user from face authentication',
      description: 'The user\'s enrolled faces are erased; the user and the history are kept with is_unregistered true, so that face_auth answers face_auth_user_unregistered until the user registers again. An unknown user: 404 face_auth_user_not_found_exception.',
      body: UnregisterBody,
      response: {
        200: TrustVisionEnvelope(Type.Object({
          status: Type.String(), unregister_id: Type.String(),
          face_auth_user: Type.Object({
            id: Type.String(), client_id: Type.String(), access_key_id: Type.String(), face_auth_id: Type.String(), id_card_face_id: Type.String(), cus_user_id: Type.String(),
            device_id: Type.String(), app_id: Type.String(), latitude: Type.Union([Type.Number(), Type.Null()]), longitude: Type.Union([Type.Number(), Type.Null()]),
            metadata: Metadata, is_deactivated: Type.Boolean(), is_unregistered: Type.Boolean(), created_at: Type.String(), updated_at: Type.String(),
          }, { additionalProperties: true }),
        })),
      },
    },
  }, async (request) => {
    const b = request.body;
    const { tenantId } = request.caller;
    const before = await users.get(tenantId, b.cus_user_id); // 404 face_auth_user_not_found_exception
    const user = await users.withdraw(tenantId, b.cus_user_id, request.id, context(request, b, {}));
    const principal = request.caller.principal as { keyId?: string } | null;
    return {
      data: {
        status: 'success', unregister_id: request.id,
        face_auth_user: {
          id: user.userId, client_id: request.caller.clientId, access_key_id: principal?.keyId ?? '',
          face_auth_id: before.faces.find((f) => f.imageType !== 'ID_DOCUMENT')?.imageId ?? '', id_card_face_id: before.faces.find((f) => f.imageType === 'ID_DOCUMENT')?.imageId ?? '',
          cus_user_id: user.userId, device_id: b.device_id ?? '', app_id: b.app_id ?? '', latitude: b.lat ?? null, longitude: b.lng ?? null,
          metadata: user.metadata, is_deactivated: user.status !== 'active', is_unregistered: true, created_at: user.createdAt, updated_at: user.updatedAt,
        },
      },
    };
  });
}
