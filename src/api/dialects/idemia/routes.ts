import { randomUUID, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FaceproofError } from '../../../core/errors.ts';
import type { ImageType } from '../../../core/calibration.ts';
import { idemiaFarPercent, idemiaScore } from '../../../core/vendor-scores.ts';
import { signedPayload } from '../../../core/result-signing.ts';
import { assertCallbackUrl, CallbackNotifier } from '../../../core/callbacks.ts';
import type { CalibratedScore } from '../../../core/calibration.ts';
import type { SessionFace, SessionRecord } from '../../../core/ports.ts';
import type { AppServices } from '../../app.ts';
import { VERSION } from '../../../version.ts';
import { APP, idemia, IdemiaError } from './descriptor.ts';
import {
  AgeIn, AgeOut, AgesMultipart, CapabilitiesOut, CreateSessionBody, DirectFaceMultipart, FaceIn, FaceJson, FaceMultipart, FaceOut, FaceParams, ImageQuery,
  MatchesParams, MatchImagesMultipart, MatchMultipart, MatchOut, SessionOut, SessionParams,
} from './schemas.ts';

const tags = ['idemia'];
const V2 = `${idemia.prefix}${APP}/v2`;
const V3 = `${idemia.prefix}${APP}/v3`;
const IMAGE_TYPES: readonly ImageType[] = ['ID_DOCUMENT', 'SELFIE', 'VIDEO_FRAME'];
/** The manual's quality of a face that could not be coded (its "No person detected" age example). */
const NO_FACE_QUALITY = -10000;

type Json = Record<string, unknown>;
/** What detection says of a face, for IDEMIA's quality and landmarks. */
interface Detected { confidence?: number; interEyeDistance?: number; eyes?: { x1: number; y1: number; x2: number; y2: number } }

/**
 * IDEMIA's template quality (above 100: good; negative: send again), from what core measures of the
 * face: 300 × the detector's confidence, scaled down below the manual's 60 pixels between the eyes.
 */
export function idemiaQuality(d: Detected): number | undefined {
  if (d.confidence === undefined || d.interEyeDistance === undefined) return undefined;
  return Math.round(300 * d.confidence * Math.min(1, d.interEyeDistance / 60));
}

const r2 = (v: number) => Math.round(v * 100) / 100;
const detectedOf = (face: { confidence: number; interEyeDistance: number; points5: Array<[number, number]> } | undefined): Detected => {
  if (!face) return {};
  const [left, right] = face.points5;
  return { confidence: face.confidence, interEyeDistance: face.interEyeDistance, eyes: { x1: r2(left[0]), y1: r2(left[1]), x2: r2(right[0]), y2: r2(right[1]) } };
};

/** Drops undefined members, so what is signed is what is sent. */
const defined = <T extends Json>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** The text of a part: a field's value or a file's content, trimmed, one pair of surrounding double quotes dropped (curl -F 'x="v"'). */
function textOf(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  let text: string;
  if (Buffer.isBuffer(value)) text = value.toString('utf8');
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'boolean' || typeof value === 'number') text = String(value);
  else throw new FaceproofError('invalid_parameter', `${field} must be text`, field);
  text = text.trim();
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1);
  return text;
}

function booleanOf(value: unknown, field: string): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const text = textOf(value, field);
  if (text === undefined || text === '' || text === 'null') return undefined;
  if (/^true$/i.test(text)) return true;
  if (/^false$/i.test(text)) return false;
  throw new FaceproofError('invalid_parameter', `${field} must be true or false`, field);
}

function imageTypeOf(value: unknown, field: string, allowed: readonly ImageType[] = IMAGE_TYPES): ImageType {
  const text = textOf(value, field);
  if (text === undefined || text === '') return 'SELFIE';
  if (!(allowed as readonly string[]).includes(text)) throw new FaceproofError('invalid_parameter', `${field} must be one of ${allowed.join(', ')}`, field);
  return text as ImageType;
}

/** A JSON object sent as a part (a file, a text field, or a field typed application/json) and checked against its schema. */
function jsonPartOf<T>(value: unknown, field: string, schema: TSchema): T {
  let object = value;
  if (Buffer.isBuffer(value) || typeof value === 'string') {
    const text = (Buffer.isBuffer(value) ? value.toString('utf8') : value).trim();
    if (text === '') throw FaceproofError.missing(`${field} is empty`, field);
    try {
      object = JSON.parse(text);
    } catch {
      throw new FaceproofError('invalid_parameter', `${field} is not a JSON object`, field);
    }
  }
  if (object === null || typeof object !== 'object' || Array.isArray(object)) throw new FaceproofError('invalid_parameter', `${field} must be a JSON object`, field);
  const error = Value.Errors(schema, object).First();
  if (error) {
    const path = error.path.replace(/^\//, '').replace(/\//g, '.');
    throw new FaceproofError('invalid_parameter', `${field}${path ? `.${path}` : ''} ${error.message}`, path ? `${field}.${path}` : field);
  }
  return object as T;
}

function imageOf(value: unknown, field: string): Buffer {
  if (value === undefined) throw FaceproofError.missing(`${field} is required`, field);
  if (!Buffer.isBuffer(value)) throw new FaceproofError('invalid_image_format', `${field} must be a file part`, field);
  return value;
}

const optionalText = (value: unknown, field: string, max = 256): string | undefined => {
  const text = textOf(value, field);
  if (text === undefined || text === '' || text === 'null') return undefined;
  if (text.length > max) throw new FaceproofError('invalid_parameter', `${field} is longer than ${max} characters`, field);
  return text;
};

/** The bio-session's own fields, kept in the core session's metadata. */
interface BioSessionFields { correlationId?: string; evidenceId?: string; callbackURL?: string }
const bioFieldsOf = (s: SessionRecord): BioSessionFields => {
  const m = s.metadata;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { correlationId: str(m.correlationId), evidenceId: str(m.evidenceId), callbackURL: str(m.callbackURL) };
};

/** IDEMIA BioServer (seeds/004) over core's sessions, faces, comparisons and ages: translation only. */
export function idemiaRoutes(app: FastifyInstance, services: AppServices): void {
  const { sessions, service } = services;
  const callbacks = new CallbackNotifier({ retryDelaysMs: [1000, 2000, 4000, 8000], timeoutMs: 5000, warn: (m) => app.log.warn(m) });
  app.addHook('onClose', async () => { await callbacks.drain(); });
  const mode = () => service.templateModel.modelId;
  const templateVersion = () => service.templateModel.version;

  /** A JWS over the body without its signature, payload attached (jwt.io reads it); keys at /.well-known/jwks.json. */
  const sign = async <T extends Json>(body: T, disabled = false): Promise<T & { signature?: string }> => {
    const clean = defined(body);
    if (disabled) return clean;
    const payload = signedPayload(clean);
    const [header, , signature] = (await services.signer.signDetached(payload)).split('.');
    return { ...clean, signature: `${header}.${Buffer.from(payload).toString('base64url')}.${signature}` };
  };

  /** multipart/mixed, the manual's Content-Type for faces, read as multipart/form-data (curl -F names its parts alike). */
  const mixedAsFormData = async (request: FastifyRequest) => {
    const type = request.headers['content-type'];
    if (typeof type === 'string' && /^\s*multipart\/mixed/i.test(type)) request.raw.headers['content-type'] = type.replace(/^\s*multipart\/mixed/i, 'multipart/form-data');
  };

  const faceView = (f: SessionFace, session: SessionRecord, template?: string) => {
    const d = f.details ?? {};
    const m = d.metadata ?? {};
    const landmarks = d.eyes ? { eyes: d.eyes } : (m.landmarks as Json | null | undefined) ?? undefined;
    return defined({
      id: f.id,
      friendlyName: m.friendlyName as string | null | undefined,
      digest: d.digest ?? (typeof m.digest === 'string' ? m.digest : undefined),
      mode: mode(),
      imageType: f.imageType,
      quality: idemiaQuality(d) ?? (typeof m.quality === 'number' ? m.quality : undefined),
      landmarks,
      imageRotationEnabled: typeof m.imageRotationEnabled === 'boolean' ? m.imageRotationEnabled : undefined,
      template,
      templateVersion: template === undefined ? undefined : templateVersion(),
      created: f.createdAt,
      expires: session.expiresAt,
    });
  };
  /** A face as a match names it: without template and dates (the manual's GetMatches example). */
  const matchFaceView = (f: SessionFace, session: SessionRecord) => {
    const { created: _c, expires: _e, template: _t, templateVersion: _v, ...rest } = faceView(f, session);
    return rest;
  };
  const scoreOf = (r: Pick<CalibratedScore, 'tailFar'>) => ({ score: idemiaScore(r.tailFar), falseAcceptanceRate: idemiaFarPercent(r.tailFar) });

  const sessionOf = (request: FastifyRequest<{ Params: { bioSessionId: string } }>) => sessions.get(request.caller.tenantId, request.params.bioSessionId);
  const notSupported = (reply: FastifyReply, request: FastifyRequest) => {
    request.outcome = 'rejected';
    return reply.code(403).send({ id: request.id, message: 'Forbidden: replay liveness is not supported by this server (its NativeSDK protocol is not published); use POST /v1/liveness/passive or the challenge liveness of /v1/liveness/challenges' });
  };

  // ---- Capabilities -------------------------------------------------------------------------
  app.get(`${V2}/capabilities`, {
    schema: { tags, summary: 'GetCapabilities: the version and the algorithm faces are coded with', response: { 200: CapabilitiesOut } },
  }, async () => ({ currentMode: [mode()], version: VERSION }));

  // ---- Bio-sessions -------------------------------------------------------------------------
  app.post<{ Body: Json }>(`${V2}/bio-sessions`, {
    schema: {
      tags, summary: 'CreateBioSession: 201 with the session in Location', body: CreateSessionBody,
      response: { 201: { type: 'null', description: 'Location: the bio-session\'s URI' } },
    },
  }, async (request, reply) => {
    const b = request.body;
    const metadata: Json = {};
    for (const name of ['correlationId', 'evidenceId', 'callbackURL'] as const) {
      const value = b[name];
      if (typeof value === 'string' && value !== '') metadata[name] = value;
    }
    if (typeof metadata.callbackURL === 'string') assertCallbackUrl(metadata.callbackURL, 'callbackURL');
    let session: SessionRecord;
    try {
      session = await sessions.create(request.caller.tenantId, { ttlSeconds: (b.ttlSeconds as number | null | undefined) ?? undefined, imageStorageEnabled: b.imageStorageEnabled === true, metadata });
    } catch (err) {
      if (err instanceof FaceproofError && err.field === 'ttl_seconds') throw new FaceproofError(err.code, err.message.replace('ttl_seconds', 'ttlSeconds'), 'ttlSeconds');
      throw err;
    }
    return reply.code(201).header('location', `${V2}/bio-sessions/${session.id}`).send();
  });

  app.get<{ Params: { bioSessionId: string } }>(`${V2}/bio-sessions/:bioSessionId`, {
    schema: { tags, summary: 'GetBioSession', params: SessionParams, response: { 200: SessionOut } },
  }, async (request) => {
    const session = await sessionOf(request);
    const { correlationId, evidenceId } = bioFieldsOf(session);
    return sign({ id: session.id, correlationId, evidenceId, imageStorageEnabled: session.imageStorageEnabled, created: session.createdAt, expires: session.expiresAt });
  });

  app.delete<{ Params: { bioSessionId: string } }>(`${V2}/bio-sessions/:bioSessionId`, {
    schema: { tags, summary: 'DeleteBioSession: its faces, templates and stored images', params: SessionParams, response: { 204: { type: 'null', description: 'Deleted' } } },
  }, async (request, reply) => {
    await sessions.delete(request.caller.tenantId, request.params.bioSessionId);
    return reply.code(204).send();
  });

  // ---- Faces --------------------------------------------------------------------------------
  app.post<{ Params: { bioSessionId: string }; Body: Json }>(`${V2}/bio-sessions/:bioSessionId/faces`, {
    config: { usesEngine: true },
    onRequest: mixedAsFormData,
    schema: {
      tags, summary: 'CreateFaceFromImage (multipart: face + image) or CreateFaceFromJson (a Face with its template)',
      description: 'Faces from an image: the largest face is coded. From JSON: the Face object itself or {"face": Face}; its template must come from this server (GET …/faces/{faceId}).',
      params: SessionParams,
      body: { content: { 'multipart/form-data': { schema: FaceMultipart }, 'multipart/mixed': { schema: FaceMultipart }, 'application/json': { schema: Type.Union([FaceJson, Type.Object({ face: FaceJson }, { additionalProperties: true })]) } } },
      response: { 201: { type: 'null', description: 'Location: the face\'s URI' } },
    },
  }, async (request, reply) => {
    const b = request.body;
    const { tenantId } = request.caller;
    const session = await sessionOf(request);
    let created: SessionFace[];
    if (b.image !== undefined || request.isMultipart()) {
      const image = imageOf(b.image, 'image');
      const face = b.face === undefined ? {} : jsonPartOf<Json>(b.face, 'face', FaceIn);
      const imageType = imageTypeOf(face.imageType ?? b.imageType, 'imageType');
      const rotate = booleanOf(face.imageRotationEnabled ?? b.imageRotationEnabled, 'imageRotationEnabled');
      const friendlyName = face.friendlyName !== undefined ? face.friendlyName : optionalText(b.friendlyName, 'friendlyName', 1024);
      created = await sessions.addFaces(tenantId, session.id, { kind: 'image', source: { kind: 'bytes', data: image } }, {
        imageType, allFaces: false, autoRotate: rotate ?? false, metadata: defined({ friendlyName, imageRotationEnabled: rotate ?? null }),
      });
    } else {
      const face = (b.face && typeof b.face === 'object' && !Array.isArray(b.face) ? b.face : b) as Json;
      created = await sessions.addFaces(tenantId, session.id, { kind: 'template', template: face.template as string }, {
        imageType: imageTypeOf(face.imageType, 'imageType'), allFaces: false,
        metadata: defined({
          friendlyName: face.friendlyName, digest: face.digest, quality: face.quality, landmarks: face.landmarks,
          imageRotationEnabled: typeof face.imageRotationEnabled === 'boolean' ? face.imageRotationEnabled : undefined, sourceId: face.id,
        }),
      });
    }
    const callbackURL = bioFieldsOf(session).callbackURL;
    if (callbackURL) void callbacks.notify(callbackURL, { sessionId: session.id });
    return reply.code(201).header('location', `${V2}/bio-sessions/${session.id}/faces/${created[0].id}`).send();
  });

  app.get<{ Params: { bioSessionId: string } }>(`${V2}/bio-sessions/:bioSessionId/faces`, {
    schema: { tags, summary: 'GetFaces: every face of the bio-session, each signed', params: SessionParams, response: { 200: Type.Array(FaceOut) } },
  }, async (request) => {
    const session = await sessionOf(request);
    const faces = await sessions.listFacesWithTemplates(request.caller.tenantId, session.id);
    return Promise.all(faces.map(({ template, ...f }) => sign(faceView(f, session, template))));
  });

  app.delete<{ Params: { bioSessionId: string } }>(`${V2}/bio-sessions/:bioSessionId/faces`, {
    schema: { tags, summary: 'DeleteFaces: every face of the bio-session', params: SessionParams, response: { 204: { type: 'null', description: 'Deleted' } } },
  }, async (request, reply) => {
    const { tenantId } = request.caller;
    const session = await sessionOf(request);
    for (const face of await sessions.listFaces(tenantId, session.id)) {
      try {
        await sessions.deleteFace(tenantId, session.id, face.id);
      } catch (err) {
        // Deleted meanwhile by another request: gone either way.
        if (!(err instanceof FaceproofError && err.code === 'not_found' && err.field === 'face_id')) throw err;
      }
    }
    return reply.code(204).send();
  });

  app.get<{ Params: { bioSessionId: string; faceId: string } }>(`${V2}/bio-sessions/:bioSessionId/faces/:faceId`, {
    schema: { tags, summary: 'GetFace: with its template, signed', params: FaceParams, response: { 200: FaceOut } },
  }, async (request) => {
    const session = await sessionOf(request);
    const face = (await sessions.listFacesWithTemplates(request.caller.tenantId, session.id)).find((f) => f.id === request.params.faceId);
    if (!face) throw new FaceproofError('not_found', `no face ${request.params.faceId} in bio-session ${session.id}`, 'faceId');
    const { template, ...f } = face;
    return sign(faceView(f, session, template));
  });

  app.get<{ Params: { bioSessionId: string; faceId: string }; Querystring: { compression?: boolean } }>(`${V2}/bio-sessions/:bioSessionId/faces/:faceId/image`, {
    schema: {
      tags, summary: 'GetFaceImage: 204 when the bio-session does not store images', params: FaceParams, querystring: ImageQuery,
      response: { 200: { description: 'The image as it was sent (image/jpeg, image/png, …)', content: { 'image/*': { schema: { type: 'string', format: 'binary' } } } }, 204: { type: 'null', description: 'Storage is not enabled for the bio-session' } },
    },
  }, async (request, reply) => {
    const { tenantId } = request.caller;
    const session = await sessionOf(request);
    const face = await sessions.getFace(tenantId, session.id, request.params.faceId);
    if (!session.imageStorageEnabled || !face.imageId) return reply.code(204).send();
    const { record, bytes } = await services.images.read(tenantId, face.imageId, 'faceId');
    return reply.code(200).type(`image/${record.format}`).send(bytes);
  });

  app.delete<{ Params: { bioSessionId: string; faceId: string } }>(`${V2}/bio-sessions/:bioSessionId/faces/:faceId`, {
    schema: { tags, summary: 'DeleteFace', params: FaceParams, response: { 204: { type: 'null', description: 'Deleted' } } },
  }, async (request, reply) => {
    await sessions.deleteFace(request.caller.tenantId, (await sessionOf(request)).id, request.params.faceId);
    return reply.code(204).send();
  });

  // ---- Matches ------------------------------------------------------------------------------
  app.get<{ Params: { bioSessionId: string; referenceFaceId: string } }>(`${V2}/bio-sessions/:bioSessionId/faces/:referenceFaceId/matches`, {
    schema: {
      tags, summary: 'GetMatches: every other face of the bio-session against the reference, best first, each signed',
      description: 'score: falseAcceptanceRate % = 10^(−(score − 2500) / 500) from the calibrated FAR; recommended thresholds 3500 document/selfie, 4000 selfie/selfie.',
      params: MatchesParams, response: { 200: Type.Array(MatchOut) },
    },
  }, async (request) => {
    const { tenantId } = request.caller;
    const session = await sessions.get(tenantId, request.params.bioSessionId);
    const reference = await sessions.getFace(tenantId, session.id, request.params.referenceFaceId);
    const ranked = await sessions.match(tenantId, session.id, { faceId: reference.id });
    const { correlationId, evidenceId } = bioFieldsOf(session);
    const created = new Date().toISOString();
    return Promise.all(ranked.map((r) => sign({
      reference: matchFaceView(reference, session), candidate: matchFaceView(r.face, session), ...scoreOf(r), correlationId, evidenceId, created, expires: session.expiresAt,
    })));
  });

  // ---- Direct operations (no bio-session) ---------------------------------------------------
  app.post<{ Body: Json }>(`${V2}/faces`, {
    config: { usesEngine: true },
    onRequest: mixedAsFormData,
    schema: {
      tags, summary: 'CreateDirectFaceFromImage: the face of an image with its template, not kept',
      body: { content: { 'multipart/form-data': { schema: DirectFaceMultipart }, 'multipart/mixed': { schema: DirectFaceMultipart } } },
      response: { 200: FaceOut },
    },
  }, async (request) => {
    const b = request.body;
    const image = imageOf(b.image, 'image');
    const face = b.face === undefined ? {} : jsonPartOf<Json>(b.face, 'face', FaceIn);
    const imageType = imageTypeOf(face.imageType ?? b.imageType, 'imageType');
    const rotate = booleanOf(face.imageRotationEnabled ?? b.imageRotationEnabled, 'imageRotationEnabled');
    const signatureDisabled = booleanOf(face.signatureDisabled ?? b.signatureDisabled, 'signatureDisabled') ?? false;
    const friendlyName = face.friendlyName !== undefined ? face.friendlyName : optionalText(b.friendlyName, 'friendlyName', 1024);
    const correlationId = optionalText(face.correlationId ?? b.correlationId, 'correlationId');
    const evidenceId = optionalText(face.evidenceId ?? b.evidenceId, 'evidenceId');
    const result = await service.detect({ kind: 'bytes', data: image }, { tenantId: request.caller.tenantId, autoRotate: rotate ?? false, returnTemplates: true, returnFaceImages: false });
    const found = result.faces[0];
    if (!found) throw new FaceproofError('no_face_detected', 'no face was found in the image', 'image');
    const detected = detectedOf(found.face);
    return sign({
      id: randomUUID(), friendlyName, digest: createHash('sha256').update(image).digest('hex'), mode: mode(), imageType,
      quality: idemiaQuality(detected), landmarks: { eyes: detected.eyes }, imageRotationEnabled: rotate ?? null,
      template: found.template, templateVersion: templateVersion(), correlationId, evidenceId, created: new Date().toISOString(),
    }, signatureDisabled);
  });

  app.post<{ Body: Json }>(`${V2}/match/images`, {
    config: { usesEngine: true, multipartOptions: { limits: { files: 4, fields: 10, parts: 12 } } },
    onRequest: mixedAsFormData,
    schema: {
      tags, summary: 'Images Match: a reference image against a candidate image',
      description: 'Recommended thresholds: 3500 (FAR 0.01 %) document/selfie, 4000 (FAR 0.001 %) selfie/selfie.',
      body: { content: { 'multipart/form-data': { schema: MatchImagesMultipart }, 'multipart/mixed': { schema: MatchImagesMultipart } } },
      response: { 200: MatchOut },
    },
  }, async (request) => {
    const b = request.body;
    const reference = imageOf(b.referenceImage, 'referenceImage');
    const candidate = imageOf(b.candidateImage, 'candidateImage');
    const referenceType = imageTypeOf(b.referenceImageType, 'referenceImageType');
    const candidateType = imageTypeOf(b.candidateImageType, 'candidateImageType');
    const rotate = booleanOf(b.imageRotationEnabled, 'imageRotationEnabled');
    const correlationId = optionalText(b.correlationId, 'correlationId');
    const evidenceId = optionalText(b.evidenceId, 'evidenceId');
    const result = await comparedOrNamed(() => service.compare({
      tenantId: request.caller.tenantId, source: { kind: 'image', source: { kind: 'bytes', data: reference } }, target: { kind: 'image', source: { kind: 'bytes', data: candidate } },
      sourceType: referenceType, targetType: candidateType, allFaces: false, autoRotate: rotate ?? false,
    }), { source: 'referenceImage', target: 'candidateImage' });
    const side = (face: Parameters<typeof detectedOf>[0], imageType: ImageType) => {
      const d = detectedOf(face);
      return defined({ id: randomUUID(), mode: mode(), imageType, quality: idemiaQuality(d), imageRotationEnabled: rotate, landmarks: d.eyes ? { eyes: d.eyes } : undefined });
    };
    return sign({ reference: side(result.sourceFace, referenceType), candidate: side(result.targetFace, candidateType), ...scoreOf(result), correlationId, evidenceId, created: new Date().toISOString() });
  });

  app.post<{ Body: Json }>(`${V2}/match`, {
    config: { usesEngine: true, multipartOptions: { limits: { files: 3, fields: 10, parts: 12 } } },
    onRequest: mixedAsFormData,
    schema: {
      tags, summary: 'Match: a reference face (a Face JSON with its template) against a candidate image',
      description: 'Recommended thresholds: 3500 (FAR 0.01 %) document/selfie, 4000 (FAR 0.001 %) selfie/selfie.',
      body: { content: { 'multipart/form-data': { schema: MatchMultipart }, 'multipart/mixed': { schema: MatchMultipart } } },
      response: { 200: MatchOut },
    },
  }, async (request) => {
    const b = request.body;
    const candidate = imageOf(b.candidateImage, 'candidateImage');
    if (b.referenceFace === undefined) throw FaceproofError.missing('referenceFace is required', 'referenceFace');
    const referenceFace = jsonPartOf<Json>(b.referenceFace, 'referenceFace', FaceJson);
    const referenceType = imageTypeOf(referenceFace.imageType, 'referenceFace.imageType');
    const candidateType = imageTypeOf(b.candidateImageType, 'candidateImageType');
    const rotate = booleanOf(b.imageRotationEnabled, 'imageRotationEnabled');
    const correlationId = optionalText(b.correlationId, 'correlationId');
    const evidenceId = optionalText(b.evidenceId, 'evidenceId');
    const result = await comparedOrNamed(() => service.compare({
      tenantId: request.caller.tenantId, source: { kind: 'template', template: referenceFace.template as string }, target: { kind: 'image', source: { kind: 'bytes', data: candidate } },
      sourceType: referenceType, targetType: candidateType, allFaces: false, autoRotate: rotate ?? false,
    }), { source: 'referenceFace', target: 'candidateImage' });
    const d = detectedOf(result.targetFace);
    return sign({
      reference: defined({ id: typeof referenceFace.id === 'string' ? referenceFace.id : randomUUID(), friendlyName: referenceFace.friendlyName as string | null | undefined, mode: mode(), imageType: referenceType }),
      candidate: defined({ id: randomUUID(), mode: mode(), imageType: candidateType, quality: idemiaQuality(d), imageRotationEnabled: rotate ?? false, landmarks: d.eyes ? { eyes: d.eyes } : undefined }),
      ...scoreOf(result), correlationId, evidenceId, created: new Date().toISOString(),
    });
  });

  app.post<{ Body: Json }>(`${V2}/ages`, {
    config: { usesEngine: true },
    onRequest: mixedAsFormData,
    schema: {
      tags, summary: 'createDirectAgeFromImage: estimated age and whether it is at or above the threshold',
      description: 'No face found: 200 without ageEstimated and aboveThreshold, quality −10000 (the manual\'s "No person detected").',
      body: { content: { 'multipart/form-data': { schema: AgesMultipart }, 'multipart/mixed': { schema: AgesMultipart } } },
      response: { 200: AgeOut },
    },
  }, async (request) => {
    const b = request.body;
    const image = imageOf(b.image, 'image');
    if (b.age === undefined) throw FaceproofError.missing('age is required', 'age');
    const age = jsonPartOf<{ threshold: number; imageType?: ImageType; signatureDisabled?: unknown; imageRotationEnabled?: unknown }>(b.age, 'age', AgeIn);
    const rotate = booleanOf(age.imageRotationEnabled, 'age.imageRotationEnabled') ?? false;
    const signatureDisabled = booleanOf(age.signatureDisabled, 'age.signatureDisabled') ?? false;
    const correlationId = optionalText(b.correlationId, 'correlationId');
    const evidenceId = optionalText(b.evidenceId, 'evidenceId');
    const faces = await services.age.estimate({ kind: 'bytes', data: image }, request.caller.tenantId, age.threshold, 'image', rotate);
    const first = faces[0];
    if (!first) request.outcome = 'no_result';
    return sign({
      id: randomUUID(), aboveThreshold: first?.aboveThreshold, ageEstimated: first?.age, threshold: age.threshold, digest: createHash('sha256').update(image).digest('hex'),
      imageType: age.imageType ?? 'SELFIE', quality: first ? idemiaQuality(detectedOf(first.face)) ?? NO_FACE_QUALITY : NO_FACE_QUALITY,
      correlationId, evidenceId, created: new Date().toISOString(),
    }, signatureDisabled);
  });

  // ---- Replay liveness: not supported -------------------------------------------------------
  // Left out of the OpenAPI document, which lists what the server does (every operation there has a
  // success); docs/dialects/idemia.md documents these answers.
  const replaySummary = 'not supported: 403 (the NativeSDK replay protocol is not published)';
  app.post<{ Params: { bioSessionId: string } }>(`${V2}/bio-sessions/:bioSessionId/init-liveness-parameters`, {
    schema: { hide: true, tags, summary: `initLivenessParameters: ${replaySummary}`, params: SessionParams, body: Type.Unsafe<unknown>({ description: 'The liveness parameters (an object or an array of them)' }), response: { 403: IdemiaError } },
  }, async (request, reply) => { await sessionOf(request); return notSupported(reply, request); });
  app.get<{ Params: { bioSessionId: string } }>(`${V2}/bio-sessions/:bioSessionId/init-liveness-parameters`, {
    schema: { hide: true, tags, summary: `getLivenessParameters: ${replaySummary}`, params: SessionParams, response: { 403: IdemiaError } },
  }, async (request, reply) => { await sessionOf(request); return notSupported(reply, request); });
  app.get<{ Params: { bioSessionId: string } }>(`${V3}/bio-sessions/:bioSessionId/replay-liveness-metadata`, {
    schema: { hide: true, tags, summary: `getReplayStatus (v3): ${replaySummary}`, params: SessionParams, response: { 403: IdemiaError } },
  }, async (request, reply) => { await sessionOf(request); return notSupported(reply, request); });
}

/** A comparison whose failures name the manual's fields (core names its sides source and target). */
async function comparedOrNamed<T>(run: () => Promise<T>, names: { source: string; target: string }): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof FaceproofError && err.field !== undefined) {
      const field = err.field.replace(/^source/, names.source).replace(/^target/, names.target);
      if (field !== err.field) {
        const renamed = new FaceproofError(err.code, err.message.replace(/\bsource\b/, names.source).replace(/\btarget\b/, names.target), field);
        renamed.missing = err.missing;
        throw renamed;
      }
    }
    throw err;
  }
}
