import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CollectionService, CollectionSummary, SearchResult } from '../../core/collections.ts';
import type { CollectionFace, FaceSelector } from '../../core/ports.ts';
import { FaceproofError } from '../../core/errors.ts';
import { envelope } from '../envelope.ts';
import { errorResponses } from './schemas.ts';
import { imageOrTemplateOf, parseMetadata } from './inputs.ts';
import {
  CollectionFaceParams, CollectionListResponse, CollectionParams, CollectionResponse, CreateCollectionBody, DeleteFacesBody, DeletedResponse,
  FaceListResponse, FaceResponse, FindFacesBody, IndexFacesBody, IndexFacesMultipartBody, IndexFacesResponse, IndexTemplatesBody, InquiriesQuery, InquiriesResponse, ListFacesQuery,
  MultiSearchBody, SearchBody, SearchMultipartBody, SearchResponse, type MultiSearchJson, type SearchJson,
} from './collection-schemas.ts';

const describeCollection = (c: CollectionSummary) => ({
  name: c.name, kind: c.kind, description: c.description, metadata: c.metadata, face_count: c.faceCount,
  template: { model_id: c.model.modelId, version: c.model.version, dimension: c.model.dimension }, created_at: c.createdAt,
});

export const describeFace = (f: CollectionFace) => ({
  face_id: f.id, external_id: f.externalId, metadata: f.metadata, box: f.box, image_id: f.imageId, created_at: f.createdAt,
});

function page(faces: CollectionFace[], limit: number) {
  return { faces: faces.map(describeFace), next_cursor: faces.length === limit ? String(faces[faces.length - 1].key) : null };
}

/** An inquiries page's cursor: the last inquiry's instant and client, opaque to clients. */
const inquiryCursor = (at: string, clientId: string) => Buffer.from(JSON.stringify([at, clientId])).toString('base64url');

function parseInquiryCursor(cursor: string): { at: string; clientId: string } {
  try {
    const [at, clientId] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof at === 'string' && typeof clientId === 'string') return { at, clientId };
  } catch { /* refused below */ }
  throw new FaceproofError('invalid_parameter', 'cursor is not a next_cursor of this list', 'cursor');
}

function searchResponse(request: FastifyRequest, result: SearchResult) {
  const t = result.threshold;
  return {
    ...envelope(request),
    results: result.queries.map((q) => q.hits.map((h) => ({
      face_id: h.face.id, external_id: h.face.externalId, collection: h.collection, score: h.score, far: h.far,
      similarity: Math.round(h.similarity * 1e4) / 1e4, metadata: h.face.metadata, image_id: h.face.imageId,
      ...(h.history ? { history: h.history } : {}),
    }))),
    query_faces: result.queries.map((q) => ({ box: q.box ?? null })),
    threshold: {
      basis: t.basis, score: t.score, similarity: Math.round(t.similarity * 1e4) / 1e4, far: t.far,
      gallery_faces: t.galleryFaces, expected_fpir: t.expectedFpir, extrapolated: t.extrapolated,
    },
  };
}

function searchOptions(request: FastifyRequest, body: SearchJson | MultiSearchJson) {
  return {
    maxResults: body.max_results, maxFar: body.max_far, minScore: body.min_score,
    allFaces: body.all_faces ?? true, autoRotate: body.auto_rotate ?? false, clientId: request.caller.clientId,
  };
}

/** Collections (galleries and watch-lists) and 1:N search. */
export function collectionRoutes(app: FastifyInstance, collections: CollectionService): void {
  const tags = ['collections'];

  app.post<{ Body: { name: string; kind?: 'gallery' | 'watchlist'; description?: string; metadata?: Record<string, unknown> } }>('/v1/collections', {
    schema: { tags, summary: 'Create a collection', body: CreateCollectionBody, response: { 201: CollectionResponse, ...errorResponses(400, 409) } },
  }, async (request, reply) => {
    const { name, kind, description, metadata } = request.body;
    const created = await collections.create(request.caller.tenantId, { name, kind: kind ?? 'gallery', description, metadata });
    return reply.code(201).send({ ...envelope(request), ...describeCollection(created) });
  });

  app.get('/v1/collections', {
    schema: { tags, summary: 'List collections', response: { 200: CollectionListResponse } },
  }, async (request) => ({ ...envelope(request), collections: (await collections.list(request.caller.tenantId)).map(describeCollection) }));

  app.get<{ Params: { name: string } }>('/v1/collections/:name', {
    schema: { tags, summary: 'Describe a collection and count its faces', params: CollectionParams, response: { 200: CollectionResponse, ...errorResponses(400, 404) } },
  }, async (request) => ({ ...envelope(request), ...describeCollection(await collections.describe(request.caller.tenantId, request.params.name)) }));

  app.delete<{ Params: { name: string } }>('/v1/collections/:name', {
    schema: {
      tags, summary: 'Delete a collection', description: 'Erases its faces, their templates, watch-list history and index files.',
      params: CollectionParams, response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses(400, 404) },
    },
  }, async (request, reply) => {
    await collections.delete(request.caller.tenantId, request.params.name);
    return reply.code(204).send();
  });

  app.post<{ Params: { name: string }; Body: { image?: unknown; template?: string; external_id?: string; metadata?: unknown; all_faces?: boolean; auto_rotate?: boolean; quality_profile?: string } }>('/v1/collections/:name/faces', {
    config: { usesEngine: true },
    schema: {
      tags, summary: 'Index the faces of an image or a template',
      description: 'The largest face of the image (or every face with all_faces), an image_id, or a template. Returns the face_id and box of each indexed face.',
      params: CollectionParams,
      body: { content: { 'application/json': { schema: IndexFacesBody }, 'multipart/form-data': { schema: IndexFacesMultipartBody } } },
      response: { 201: IndexFacesResponse, ...errorResponses(400, 404, 409, 413, 415, 422, 429) },
    },
  }, async (request, reply) => {
    const body = request.body;
    const faces = await collections.index(request.caller.tenantId, request.params.name, imageOrTemplateOf(body), {
      externalId: body.external_id, metadata: parseMetadata(body.metadata), allFaces: body.all_faces ?? false, autoRotate: body.auto_rotate ?? false,
      qualityProfile: body.quality_profile,
    });
    return reply.code(201).send({ ...envelope(request), faces: faces.map(describeFace) });
  });

  app.post<{ Params: { name: string }; Body: { faces: Array<{ template: string; external_id?: string; metadata?: Record<string, unknown> }> } }>('/v1/collections/:name/faces/batch', {
    schema: {
      tags, summary: 'Index up to 1,000 templates at once', description: 'All or nothing: one transaction.',
      params: CollectionParams, body: IndexTemplatesBody, response: { 201: IndexFacesResponse, ...errorResponses(400, 404, 409, 413) },
    },
  }, async (request, reply) => {
    const faces = await collections.indexTemplates(request.caller.tenantId, request.params.name,
      request.body.faces.map((f) => ({ template: f.template, externalId: f.external_id, metadata: f.metadata })));
    return reply.code(201).send({ ...envelope(request), faces: faces.map(describeFace) });
  });

  app.get<{ Params: { name: string }; Querystring: { external_id?: string; limit?: number; cursor?: string } }>('/v1/collections/:name/faces', {
    schema: { tags, summary: 'List faces, optionally by external_id', params: CollectionParams, querystring: ListFacesQuery, response: { 200: FaceListResponse, ...errorResponses(400, 404) } },
  }, async (request) => {
    const limit = request.query.limit ?? 100;
    const faces = await collections.findFaces(request.caller.tenantId, request.params.name, {
      externalId: request.query.external_id, afterKey: request.query.cursor ? Number(request.query.cursor) : undefined, limit,
    });
    return { ...envelope(request), ...page(faces, limit) };
  });

  app.post<{ Params: { name: string }; Body: { metadata: Record<string, string | number | boolean | null>; external_id?: string; limit?: number; cursor?: string } }>('/v1/collections/:name/faces/find', {
    schema: { tags, summary: 'Find faces by metadata (exact field match)', params: CollectionParams, body: FindFacesBody, response: { 200: FaceListResponse, ...errorResponses(400, 404) } },
  }, async (request) => {
    const limit = request.body.limit ?? 100;
    for (const [field, value] of Object.entries(request.body.metadata)) {
      if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) {
        throw new FaceproofError('invalid_parameter', `metadata.${field} must be a string, number, boolean or null`, `metadata.${field}`);
      }
    }
    const faces = await collections.findFaces(request.caller.tenantId, request.params.name, {
      metadata: request.body.metadata, externalId: request.body.external_id, afterKey: request.body.cursor ? Number(request.body.cursor) : undefined, limit,
    });
    return { ...envelope(request), ...page(faces, limit) };
  });

  app.get<{ Params: { name: string; face_id: string } }>('/v1/collections/:name/faces/:face_id', {
    schema: { tags, summary: 'Describe one face', params: CollectionFaceParams, response: { 200: FaceResponse, ...errorResponses(400, 404) } },
  }, async (request) => ({ ...envelope(request), ...describeFace(await collections.getFace(request.caller.tenantId, request.params.name, request.params.face_id)) }));

  app.delete<{ Params: { name: string; face_id: string } }>('/v1/collections/:name/faces/:face_id', {
    schema: { tags, summary: 'Delete one face', params: CollectionFaceParams, response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses(400, 404) } },
  }, async (request, reply) => {
    await collections.getFace(request.caller.tenantId, request.params.name, request.params.face_id);
    await collections.deleteFaces(request.caller.tenantId, request.params.name, { faceIds: [request.params.face_id] });
    return reply.code(204).send();
  });

  app.post<{ Params: { name: string }; Body: { face_ids?: string[]; external_ids?: string[]; all?: true } }>('/v1/collections/:name/faces/delete', {
    schema: {
      tags, summary: 'Delete faces by id, by external id, or all', description: 'Exactly one of face_ids, external_ids or all. Unknown ids are ignored; `deleted` counts what was removed.',
      params: CollectionParams, body: DeleteFacesBody, response: { 200: DeletedResponse, ...errorResponses(400, 404) },
    },
  }, async (request) => {
    const b = request.body;
    const selector: FaceSelector = b.face_ids ? { faceIds: b.face_ids } : b.external_ids ? { externalIds: b.external_ids } : { all: true };
    return { ...envelope(request), deleted: await collections.deleteFaces(request.caller.tenantId, request.params.name, selector) };
  });

  app.get<{ Params: { name: string }; Querystring: { limit?: number; cursor?: string } }>('/v1/collections/:name/inquiries', {
    schema: {
      tags, summary: 'A watch-list\'s history: the searches that hit it, newest first',
      description: 'Each search whose results held faces of this watch-list (on this route, /v1/search or a vendor dialect\'s): when, which API client, and which faces. Faces deleted since are left out, with their part of the history. A gallery records none.',
      params: CollectionParams, querystring: InquiriesQuery, response: { 200: InquiriesResponse, ...errorResponses(400, 404) },
    },
  }, async (request) => {
    const limit = request.query.limit ?? 50;
    const { collection, inquiries } = await collections.inquiries(request.caller.tenantId, request.params.name, {
      limit, ...(request.query.cursor ? { before: parseInquiryCursor(request.query.cursor) } : {}),
    });
    const last = inquiries[inquiries.length - 1];
    return {
      ...envelope(request), collection: collection.name, kind: collection.kind,
      inquiries: inquiries.map((i) => ({ at: i.at, client_id: i.clientId, faces: i.faces.map((f) => ({ face_id: f.id, external_id: f.externalId, image_id: f.imageId })) })),
      next_cursor: inquiries.length === limit ? inquiryCursor(last.at, last.clientId) : null,
    };
  });

  app.post<{ Params: { name: string }; Body: SearchJson }>('/v1/collections/:name/search', {
    config: { usesEngine: true, signed: true },
    schema: {
      tags, summary: 'Search a collection with a face (1:N)',
      description: 'Top candidates for every face of the query image (or the template), best first. Without max_far or min_score the threshold follows the collection size so that someone enrolled nowhere gets a candidate at most FACEPROOF_SEARCH_FPIR of the time (default 1 %); `threshold` says what was used.',
      params: CollectionParams,
      body: { content: { 'application/json': { schema: SearchBody }, 'multipart/form-data': { schema: SearchMultipartBody } } },
      response: { 200: SearchResponse, ...errorResponses(400, 404, 409, 413, 415, 422, 429) },
    },
  }, async (request) => {
    const result = await collections.search(request.caller.tenantId, [request.params.name], imageOrTemplateOf(request.body), searchOptions(request, request.body));
    return searchResponse(request, result);
  });

  app.post<{ Body: MultiSearchJson }>('/v1/search', {
    config: { usesEngine: true, signed: true },
    schema: {
      tags, summary: 'Search several collections at once',
      description: 'As /v1/collections/{name}/search over the union of the collections; the default threshold follows their total size.',
      body: MultiSearchBody, response: { 200: SearchResponse, ...errorResponses(400, 404, 409, 413, 415, 422, 429) },
    },
  }, async (request) => {
    const result = await collections.search(request.caller.tenantId, request.body.collections, imageOrTemplateOf(request.body), searchOptions(request, request.body));
    return searchResponse(request, result);
  });
}
