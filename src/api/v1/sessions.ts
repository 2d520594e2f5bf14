import type { FastifyInstance } from 'fastify';
import type { ImageType } from '../../core/calibration.ts';
import type { SessionService } from '../../core/sessions.ts';
import type { SessionRecord } from '../../core/ports.ts';
import { FaceproofError } from '../../core/errors.ts';
import { envelope } from '../envelope.ts';
import { errorResponses } from './schemas.ts';
import { imageOrTemplateOf } from './inputs.ts';
import { describeKeptFace } from './users.ts';
import {
  AddSessionFacesBody, AddSessionFacesMultipartBody, CreateSessionBody, KeptFacesResponse, MatchSessionBody, MatchSessionMultipartBody, MatchSessionResponse, SessionFaceParams, SessionFaceResponse, SessionParams, SessionResponse,
} from './user-schemas.ts';

const describeSession = (s: SessionRecord, faceCount: number) => ({
  session_id: s.id, image_storage_enabled: s.imageStorageEnabled, metadata: s.metadata, face_count: faceCount, created_at: s.createdAt, expires_at: s.expiresAt,
});

/** One-to-few sessions (IDEMIA's bio-sessions): short-lived face sets ranked against a reference. */
export function sessionRoutes(app: FastifyInstance, sessions: SessionService): void {
  const tags = ['sessions'];

  app.post<{ Body: { ttl_seconds?: number; image_storage_enabled?: boolean; metadata?: Record<string, unknown> } }>('/v1/sessions', {
    schema: { tags, summary: 'Open a session', body: CreateSessionBody, response: { 201: SessionResponse, ...errorResponses(400) } },
  }, async (request, reply) => {
    const b = request.body;
    const session = await sessions.create(request.caller.tenantId, { ttlSeconds: b.ttl_seconds, imageStorageEnabled: b.image_storage_enabled ?? false, metadata: b.metadata });
    return reply.code(201).send({ ...envelope(request), ...describeSession(session, 0) });
  });

  app.get<{ Params: { session_id: string } }>('/v1/sessions/:session_id', {
    schema: { tags, summary: 'Describe a session', params: SessionParams, response: { 200: SessionResponse, ...errorResponses(400, 404) } },
  }, async (request) => {
    const { tenantId } = request.caller;
    const session = await sessions.get(tenantId, request.params.session_id);
    return { ...envelope(request), ...describeSession(session, (await sessions.listFaces(tenantId, session.id)).length) };
  });

  app.delete<{ Params: { session_id: string } }>('/v1/sessions/:session_id', {
    schema: {
      tags, summary: 'End a session now', description: 'Erases its faces, templates and the images it stored.',
      params: SessionParams, response: { 204: { type: 'null', description: 'Erased' }, ...errorResponses(400, 404) },
    },
  }, async (request, reply) => {
    await sessions.delete(request.caller.tenantId, request.params.session_id);
    return reply.code(204).send();
  });

  app.post<{ Params: { session_id: string }; Body: { image?: unknown; template?: string; image_type?: ImageType; all_faces?: boolean } }>('/v1/sessions/:session_id/faces', {
    config: { usesEngine: true },
    schema: { tags, summary: 'Add the faces of an image or a template', params: SessionParams,
      body: { content: { 'application/json': { schema: AddSessionFacesBody }, 'multipart/form-data': { schema: AddSessionFacesMultipartBody } } },
      response: { 201: KeptFacesResponse, ...errorResponses(400, 404, 409, 413, 415, 422, 429) } },
  }, async (request, reply) => {
    const b = request.body;
    const faces = await sessions.addFaces(request.caller.tenantId, request.params.session_id, imageOrTemplateOf(b), { imageType: b.image_type ?? 'SELFIE', allFaces: b.all_faces ?? false });
    return reply.code(201).send({ ...envelope(request), faces: faces.map(describeKeptFace) });
  });

  app.get<{ Params: { session_id: string } }>('/v1/sessions/:session_id/faces', {
    schema: { tags, summary: 'List a session’s faces', params: SessionParams, response: { 200: KeptFacesResponse, ...errorResponses(400, 404) } },
  }, async (request) => ({ ...envelope(request), faces: (await sessions.listFaces(request.caller.tenantId, request.params.session_id)).map(describeKeptFace) }));

  app.get<{ Params: { session_id: string; face_id: string } }>('/v1/sessions/:session_id/faces/:face_id', {
    schema: { tags, summary: 'Describe one face of a session', description: 'With image storage enabled, image_id names the stored copy (GET /v1/images/{image_id}).', params: SessionFaceParams, response: { 200: SessionFaceResponse, ...errorResponses(400, 404) } },
  }, async (request) => ({ ...envelope(request), ...describeKeptFace(await sessions.getFace(request.caller.tenantId, request.params.session_id, request.params.face_id)) }));

  app.delete<{ Params: { session_id: string; face_id: string } }>('/v1/sessions/:session_id/faces/:face_id', {
    schema: { tags, summary: 'Remove a face from a session', params: SessionFaceParams, response: { 204: { type: 'null', description: 'Removed' }, ...errorResponses(400, 404) } },
  }, async (request, reply) => {
    await sessions.deleteFace(request.caller.tenantId, request.params.session_id, request.params.face_id);
    return reply.code(204).send();
  });

  app.post<{ Params: { session_id: string }; Body: { reference_face_id?: string; image?: unknown; template?: string; image_type?: ImageType } }>('/v1/sessions/:session_id/match', {
    config: { usesEngine: true, signed: true },
    schema: {
      tags, summary: 'Rank every face of the session against a reference',
      description: 'The reference is one of the session’s faces (reference_face_id) or a new image or template. Best first, each with score, FAR and decision.',
      params: SessionParams,
      body: { content: { 'application/json': { schema: MatchSessionBody }, 'multipart/form-data': { schema: MatchSessionMultipartBody } } },
      response: { 200: MatchSessionResponse, ...errorResponses(400, 404, 409, 413, 415, 422, 429) },
    },
  }, async (request) => {
    const b = request.body;
    const reference = b.reference_face_id !== undefined
      ? (b.image !== undefined || b.template !== undefined ? badReference() : { faceId: b.reference_face_id })
      : { input: imageOrTemplateOf(b), imageType: b.image_type ?? 'SELFIE' as ImageType };
    const ranked = await sessions.match(request.caller.tenantId, request.params.session_id, reference);
    return {
      ...envelope(request),
      matches: ranked.map((r) => ({ face_id: r.face.id, image_type: r.face.imageType, score: r.score, far: r.far, similarity: r.similarity, decision: r.decision })),
    };
  });
}

function badReference(): never {
  throw new FaceproofError('invalid_parameter', 'give reference_face_id, or image or template, not both', 'reference_face_id');
}
