import type { FastifyInstance } from 'fastify';
import type { ImageType } from '../../core/calibration.ts';
import type { EnrolInput, UserService, UserView } from '../../core/users.ts';
import type { KeptFace } from '../../core/ports.ts';
import { envelope } from '../envelope.ts';
import { errorResponses } from './schemas.ts';
import { imageOrTemplateOf } from './inputs.ts';
import {
  AddUserFacesBody, AuthenticateBody, AuthenticateMultipartBody, AuthenticateResponse, HistoryQuery, HistoryResponse, KeptFacesResponse, RegisterUserBody, UserFaceParams, UserParams, UserResponse,
} from './user-schemas.ts';

type FaceBody = { image?: unknown; template?: string; image_type?: ImageType; quality_profile?: string };

export const describeKeptFace = (f: KeptFace) => ({ face_id: f.id, image_type: f.imageType, image_id: f.imageId, box: f.box, created_at: f.createdAt });
const describeUser = (u: UserView) => ({
  user_id: u.userId, status: u.status, metadata: u.metadata, faces: u.faces.map(describeKeptFace), created_at: u.createdAt, updated_at: u.updatedAt,
});
const enrolInputs = (faces: FaceBody[]): EnrolInput[] => faces.map((f) => ({ input: imageOrTemplateOf(f), imageType: f.image_type ?? 'SELFIE', qualityProfile: f.quality_profile }));

/** Face authentication: register users with their faces, then authenticate them 1:1. */
export function userRoutes(app: FastifyInstance, users: UserService): void {
  const tags = ['users'];

  app.post<{ Body: { user_id: string; faces: FaceBody[]; metadata?: Record<string, unknown> } }>('/v1/users', {
    config: { usesEngine: true },
    schema: {
      tags, summary: 'Register a user with one or more faces',
      body: RegisterUserBody, response: { 201: UserResponse, ...errorResponses(400, 409, 413, 415, 422, 429) },
    },
  }, async (request, reply) => {
    const { user_id, faces, metadata } = request.body;
    const user = await users.register(request.caller.tenantId, user_id, enrolInputs(faces), metadata ?? {}, request.id);
    return reply.code(201).send({ ...envelope(request), ...describeUser(user) });
  });

  app.get<{ Params: { user_id: string } }>('/v1/users/:user_id', {
    schema: { tags, summary: 'A user’s status and enrolled faces', params: UserParams, response: { 200: UserResponse, ...errorResponses(400, 404) } },
  }, async (request) => ({ ...envelope(request), ...describeUser(await users.get(request.caller.tenantId, request.params.user_id)) }));

  app.post<{ Params: { user_id: string }; Body: FaceBody }>('/v1/users/:user_id/authenticate', {
    config: { usesEngine: true, signed: true },
    schema: {
      tags, summary: 'Authenticate a user with a new image',
      description: 'Compares the largest face with every enrolled face and decides on the best, with its false-accept rate corrected for the number of faces compared. A deactivated user gets 409 user_inactive. Every attempt is kept in the user’s history.',
      params: UserParams,
      body: { content: { 'application/json': { schema: AuthenticateBody }, 'multipart/form-data': { schema: AuthenticateMultipartBody } } },
      response: { 200: AuthenticateResponse, ...errorResponses(400, 404, 409, 413, 415, 422, 429) },
    },
  }, async (request) => {
    const result = await users.authenticate(request.caller.tenantId, request.params.user_id,
      { input: imageOrTemplateOf(request.body), imageType: request.body.image_type ?? 'SELFIE' }, request.id);
    return {
      ...envelope(request), user_id: request.params.user_id, decision: result.decision, score: result.score, far: result.far,
      similarity: result.similarity, best_face_id: result.bestFaceId, compared_faces: result.comparedFaces, threshold: result.threshold,
    };
  });

  app.post<{ Params: { user_id: string }; Body: { faces: FaceBody[] } }>('/v1/users/:user_id/faces', {
    config: { usesEngine: true },
    schema: { tags, summary: 'Enrol more faces', params: UserParams, body: AddUserFacesBody, response: { 201: KeptFacesResponse, ...errorResponses(400, 404, 413, 415, 422, 429) } },
  }, async (request, reply) => {
    const faces = await users.addFaces(request.caller.tenantId, request.params.user_id, enrolInputs(request.body.faces), request.id);
    return reply.code(201).send({ ...envelope(request), faces: faces.map(describeKeptFace) });
  });

  app.delete<{ Params: { user_id: string; face_id: string } }>('/v1/users/:user_id/faces/:face_id', {
    schema: { tags, summary: 'Remove an enrolled face (not the last)', params: UserFaceParams, response: { 204: { type: 'null', description: 'Removed' }, ...errorResponses(400, 404) } },
  }, async (request, reply) => {
    await users.removeFace(request.caller.tenantId, request.params.user_id, request.params.face_id, request.id);
    return reply.code(204).send();
  });

  for (const [action, active] of [['deactivate', false], ['activate', true]] as const) {
    app.post<{ Params: { user_id: string } }>(`/v1/users/:user_id/${action}`, {
      schema: { tags, summary: active ? 'Reactivate a user' : 'Deactivate a user (authentication refused until reactivated)', params: UserParams, response: { 200: UserResponse, ...errorResponses(400, 404) } },
    }, async (request) => ({ ...envelope(request), ...describeUser(await users.setActive(request.caller.tenantId, request.params.user_id, active, request.id)) }));
  }

  app.delete<{ Params: { user_id: string } }>('/v1/users/:user_id', {
    schema: {
      tags, summary: 'Unregister a user', description: 'Erases the user, their templates and their history.',
      params: UserParams, response: { 204: { type: 'null', description: 'Erased' }, ...errorResponses(400, 404) },
    },
  }, async (request, reply) => {
    await users.unregister(request.caller.tenantId, request.params.user_id);
    return reply.code(204).send();
  });

  app.get<{ Params: { user_id: string }; Querystring: { limit?: number; cursor?: string } }>('/v1/users/:user_id/history', {
    schema: { tags, summary: 'Register and authenticate attempts, newest first', params: UserParams, querystring: HistoryQuery, response: { 200: HistoryResponse, ...errorResponses(400, 404) } },
  }, async (request) => {
    const limit = request.query.limit ?? 50;
    const events = await users.history(request.caller.tenantId, request.params.user_id, { limit, beforeSeq: request.query.cursor ? Number(request.query.cursor) : undefined });
    return {
      ...envelope(request),
      events: events.map((e) => ({ action: e.action, result: e.result, detail: e.detail, request_id: e.requestId, at: e.at })),
      next_cursor: events.length === limit ? String(events[events.length - 1].seq) : null,
    };
  });
}
