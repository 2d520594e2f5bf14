import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import type { FaceInput } from '../../../core/face-service.ts';
import { decodeBase64 } from '../../../core/image-input.ts';
import type { CollectionKind, CollectionFace, FaceBox } from '../../../core/ports.ts';
import type { SearchHit, SearchResult } from '../../../core/collections.ts';
import { alertWindows } from '../../../core/watchlist-alerts.ts';
import type { AppServices } from '../../app.ts';
import { TRUSTVISION_PREFIX, TrustVisionEnvelope } from './descriptor.ts';
import { Failure, imageSourceOf } from './shared.ts';

const tags = ['trustvision'];

/** The collection a request without `collection` uses ("the default collection"). */
export const DEFAULT_COLLECTION = 'default';
/** The watch-list ("suspect DB") made when alert_faces_sync finds the client has none; index faces into it by name. */
export const SUSPECT_COLLECTION = 'suspect';

/** The manual's ImageData: a stored image by `id`, or the image itself in `base64` with its label and metadata. */
export const ImageData = Type.Object({
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  base64: Type.Optional(Type.String({ minLength: 1 })),
  label: Type.Optional(Type.String({ maxLength: 64 })),
  metadata: Type.Optional(Type.Union([Type.String({ maxLength: 8192 }), Type.Record(Type.String(), Type.Unknown())], { description: 'string_json: a JSON object as text (an object is accepted too)' })),
}, { additionalProperties: true });
type ImageDataT = Static<typeof ImageData>;

const CollectionName = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'case-sensitive; letters, digits, _ . -; at most 64' });

/** string_json (text holding a JSON object) or an object; undefined when absent. */
export function metadataOf(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  try {
    const parsed = JSON.parse(String(value)) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch { /* reported below */ }
  throw new FaceproofError('invalid_parameter', `${field} must be a JSON object written as a string`, field);
}

/**
 * The manual's `failure` verdict for a refusal about the picture (no face, quality, a short or
 * unreadable video): a 200 answer with status "failure" and the reason in `errors`. Anything else is
 * an HTTP-level error and is thrown again.
 */
export function failureOf(err: unknown): { code: string; message: string; field?: string } {
  if (!(err instanceof FaceproofError) || err.status !== 422) throw err;
  // More than one face is the manual's HTTP-level 400 incorrect_number_of_faces (the descriptor's mapping).
  if (err.code === 'quality_rejected' && err.message.includes('image_has_multiple_faces')) throw err;
  let code: string = err.code;
  if (err.code === 'no_face_detected') code = 'image_has_no_faces';
  if (err.code === 'quality_rejected') {
    const reasons = (err.message.split(': ').pop() ?? '').split(', ');
    const first = reasons.find((r) => /^(image|face)_/.test(r)) ?? 'image_too_blur';
    code = first === 'face_too_dark' ? 'image_too_dark' : first === 'face_too_bright' ? 'image_too_bright' : first;
  }
  return { code, message: err.message, field: err.field };
}

export const failureBody = (f: { code: string; message: string; field?: string }) => ({ errors: [{ code: f.code, message: f.message, detail: f.field ? { field: f.field } : {} }] });

const SearchFace = Type.Object({
  id: Type.String(), image_id: Type.String(), score: Type.Number(),
  metadata: Type.Union([Type.Array(Type.Object({ field: Type.String(), value: Type.Unknown() })), Type.Null()]),
});
const BoundingBox = Type.Object({ top: Type.Number(), right: Type.Number(), bottom: Type.Number(), left: Type.Number(), angle: Type.Number() });
const QueryImage = Type.Object({ id: Type.Optional(Type.String()), faces: Type.Optional(Type.Array(Type.Object({ id: Type.String(), bounding_box: Type.Optional(BoundingBox) }))) });

const IndexBody = Type.Object({
  image: ImageData,
  enable_update_metadata: Type.Optional(Type.Boolean()),
  collection: Type.Optional(CollectionName),
  type: Type.Optional(Type.Integer({ description: '3: selfie vs selfie (the only kind served)' })),
}, { additionalProperties: true });
const SearchBody = Type.Object({
  image: ImageData,
  collection: Type.Optional(CollectionName),
  collections: Type.Optional(Type.Array(CollectionName, { maxItems: 20 })),
  type: Type.Optional(Type.Integer()),
  special_id_type: Type.Optional(Type.String({ maxLength: 128 })),
  max_faces: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
}, { additionalProperties: true });
const AlertBody = Type.Object({
  image: Type.Intersect([ImageData, Type.Object({ embedding: Type.Optional(Type.Array(Type.Number(), { minItems: 1, maxItems: 4096 })) })]),
}, { additionalProperties: true });
const DeleteBody = Type.Object({ image_ids: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 1000 }), collection: Type.Optional(CollectionName) }, { additionalProperties: true });
const MetadataBody = Type.Object({
  metadata: Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
  collection: Type.Optional(CollectionName),
  max_results: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
}, { additionalProperties: true });
const VideoBody = Type.Object({
  video: Type.Object({ id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), base64: Type.Optional(Type.String({ minLength: 1 })), label: Type.Optional(Type.String({ maxLength: 64 })), metadata: ImageData.properties.metadata }, { additionalProperties: true }),
  collection: Type.Optional(CollectionName),
}, { additionalProperties: true });

const IndexData = Type.Object({ request_id: Type.String(), status: Type.String(), image: Type.Optional(Type.Object({ id: Type.String() })), ...Failure });

/** A face's metadata as the manual's list of {field, value}; null when it has none. */
const metadataList = (m: Record<string, unknown>) => (Object.keys(m).length ? Object.entries(m).map(([field, value]) => ({ field, value })) : null);
const searchFace = (h: SearchHit) => ({ id: h.face.id, image_id: h.face.imageId ?? h.face.externalId ?? '', score: h.score, metadata: metadataList(h.face.metadata) });
const boundingBox = (b: FaceBox | undefined) => (b ? { top: b.y, right: b.x + b.width, bottom: b.y + b.height, left: b.x, angle: 0 } : undefined);

/** TrustVision's face collections: index, search, alert (watch-lists with their history), delete, metadata search, index from a video. */
export function trustvisionCollectionRoutes(app: FastifyInstance, services: AppServices): void {
  const { collections, images, service, liveness } = services;

  /** TrustVision's collections exist once named: made on first use (a gallery; `suspect` a watch-list). */
  const ensure = async (tenantId: string, name: string, kind: CollectionKind = name === SUSPECT_COLLECTION ? 'watchlist' : 'gallery') => {
    try {
      await collections.describe(tenantId, name);
    } catch (err) {
      if (!(err instanceof FaceproofError) || err.code !== 'not_found') throw err;
      try { await collections.create(tenantId, { name, kind, description: 'made by the TrustVision API' }); } catch (e) { if (!(e instanceof FaceproofError) || e.code !== 'already_exists') throw e; }
    }
  };

  /** The query face of a search or alert: the image (stored or inline), or an embedding from detect_faces_sync. */
  const queryOf = (image: ImageDataT & { embedding?: number[] }): FaceInput => {
    if (image.embedding && image.id === undefined && image.base64 === undefined) return { kind: 'template', template: service.encodeVector(new Float32Array(image.embedding)) };
    return { kind: 'image', source: imageSourceOf(image, 'image') };
  };

  /** Stores an inline image (its id is the answer's image.id and the indexed face's image_id); a stored one is checked. */
  const storedIdOf = async (tenantId: string, image: ImageDataT, updateMetadata: boolean): Promise<{ id: string; metadata: Record<string, unknown> }> => {
    const metadata = metadataOf(image.metadata, 'image.metadata');
    if (image.id !== undefined) {
      const record = await images.describe(tenantId, image.id, 'image.id');
      if (metadata && updateMetadata) return { id: image.id, metadata: (await images.update(tenantId, image.id, { metadata })).metadata };
      return { id: image.id, metadata: record.metadata };
    }
    const source = imageSourceOf(image, 'image');
    if (source.kind !== 'base64') throw FaceproofError.missing('image.id or image.base64 is required', 'image');
    const record = await images.store(tenantId, source, { label: image.label, metadata: metadata ?? {} }, 'image.base64');
    return { id: record.id, metadata: record.metadata };
  };

  const index = async (request: FastifyRequest, imageId: string, metadata: Record<string, unknown>, collection: string, qualityProfile?: string) => {
    const { tenantId, clientId } = request.caller;
    await ensure(tenantId, collection);
    await collections.index(tenantId, collection, { kind: 'image', source: { kind: 'stored', imageId } }, {
      externalId: imageId, metadata, allFaces: false, autoRotate: false, indexedBy: clientId, qualityProfile,
    });
  };

  app.post<{ Body: Static<typeof IndexBody> }>(`${TRUSTVISION_PREFIX}/v1/index_faces_sync`, {
    config: { usesEngine: true },
    schema: {
      tags, summary: 'Index the face of an image into a collection',
      description: 'The largest face of the image (by id, or base64 which is stored first) is added to `collection` (default "default"; made on first use; "suspect" is a watch-list), with the image\'s metadata. No face: 200 with status "failure" and image_has_no_faces.',
      body: IndexBody, response: { 200: TrustVisionEnvelope(IndexData) },
    },
  }, async (request) => {
    const b = request.body;
    const { id, metadata } = await storedIdOf(request.caller.tenantId, b.image, b.enable_update_metadata === true);
    try {
      await index(request, id, metadata, b.collection ?? DEFAULT_COLLECTION);
    } catch (err) {
      request.outcome = 'no_result';
      return { data: { request_id: request.id, status: 'failure', image: { id } }, ...failureBody(failureOf(err)) };
    }
    return { data: { request_id: request.id, status: 'success', image: { id } } };
  });

  app.post<{ Body: Static<typeof SearchBody> }>(`${TRUSTVISION_PREFIX}/v1/search_faces_sync`, {
    config: { usesEngine: true },
    schema: {
      tags, summary: 'Search the faces of an image in one or several collections',
      description: 'Every face of the image is searched; `faces` holds one list per face (best first, at most max_faces, default 10). With `collections`, `faces_in_collection` gives the same per collection and `faces` their merged ranking.',
      body: SearchBody,
      response: {
        200: TrustVisionEnvelope(Type.Object({
          request_id: Type.String(), status: Type.String(), image: Type.Optional(Type.Object({ id: Type.Optional(Type.String()) })),
          faces: Type.Optional(Type.Array(Type.Array(SearchFace))),
          faces_in_collection: Type.Optional(Type.Record(Type.String(), Type.Array(Type.Array(SearchFace)))),
          ...Failure,
        })),
      },
    },
  }, async (request) => {
    const b = request.body;
    const { tenantId, clientId } = request.caller;
    const names = b.collections && b.collections.length > 0 ? [...new Set(b.collections)] : [b.collection ?? DEFAULT_COLLECTION];
    for (const n of names) await ensure(tenantId, n);
    const maxResults = b.max_faces ?? 10;
    const input = queryOf(b.image);
    const image = b.image.id !== undefined ? { id: b.image.id } : {};
    let results: SearchResult[];
    try {
      // One search per collection, so that each gives its own best max_faces.
      results = [];
      for (const n of names) results.push(await collections.search(tenantId, [n], input, { maxResults, allFaces: true, autoRotate: false, clientId }));
    } catch (err) {
      request.outcome = 'no_result';
      return { data: { request_id: request.id, status: 'failure', image }, ...failureBody(failureOf(err)) };
    }
    const perFace = results[0].queries.map((_, i) => results.flatMap((r) => r.queries[i]?.hits ?? []).sort((x, y) => y.similarity - x.similarity).slice(0, maxResults));
    if (perFace.every((hits) => hits.length === 0)) request.outcome = 'no_result';
    const data: Record<string, unknown> = { request_id: request.id, status: 'success', image, faces: perFace.map((hits) => hits.map(searchFace)) };
    if (b.collections && b.collections.length > 0) {
      data.faces_in_collection = Object.fromEntries(names.map((n, i) => [n, results[i].queries.map((q) => q.hits.map(searchFace))]));
    }
    return { data };
  });

  app.post<{ Body: Static<typeof AlertBody> }>(`${TRUSTVISION_PREFIX}/v1/alert_faces_sync`, {
    config: { usesEngine: true },
    schema: {
      tags, summary: 'Suspect faces like this one in the watch-lists, with their history',
      description: 'Searches every watch-list of the client\'s tenant (a "suspect" watch-list is made if there is none). Per face of the image: the suspect faces found and, per period (last_1day … last_180day), the suspect faces indexed and the members (API clients) who indexed them, and the earlier inquiries that found this person and the members who made them. This inquiry is recorded after it is answered.',
      body: AlertBody,
      response: {
        200: TrustVisionEnvelope(Type.Object({
          request_id: Type.String(), status: Type.String(), image: Type.Optional(QueryImage),
          faces: Type.Optional(Type.Array(Type.Array(Type.Object({ name: Type.String(), score: Type.Number(), created_at: Type.String(), applied_service: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: true })))),
          history: Type.Optional(Type.Array(Type.Array(Type.Object({
            period: Type.String(), num_suspect_faces: Type.Integer(), num_member_suspect_faces: Type.Integer(), num_inquiry: Type.Integer(), num_member_inquiry: Type.Integer(),
          })))),
          ...Failure,
        })),
      },
    },
  }, async (request) => {
    const { tenantId, clientId } = request.caller;
    let watchlists = (await collections.list(tenantId)).filter((c) => c.kind === 'watchlist').map((c) => c.name);
    if (watchlists.length === 0) {
      await ensure(tenantId, SUSPECT_COLLECTION, 'watchlist');
      watchlists = (await collections.list(tenantId)).filter((c) => c.kind === 'watchlist').map((c) => c.name);
    }
    const input = queryOf(request.body.image);
    const imageId = request.body.image.id;
    let result: SearchResult;
    try {
      result = await collections.search(tenantId, watchlists, input, { allFaces: true, autoRotate: false, clientId });
    } catch (err) {
      request.outcome = 'no_result';
      return { data: { request_id: request.id, status: 'failure' }, ...failureBody(failureOf(err)) };
    }
    const now = new Date();
    const image = input.kind === 'image'
      ? { ...(imageId !== undefined ? { id: imageId } : {}), faces: result.queries.map((q) => ({ id: randomUUID(), bounding_box: boundingBox(q.box) })) }
      : undefined;
    if (result.queries.every((q) => q.hits.length === 0)) request.outcome = 'no_result';
    return {
      data: {
        request_id: request.id, status: 'success', ...(image ? { image } : {}),
        faces: result.queries.map((q) => q.hits.map((h, i) => ({
          name: `Face ${i + 1}`, score: h.score, created_at: h.face.createdAt,
          applied_service: typeof h.face.metadata.applied_service === 'string' ? h.face.metadata.applied_service : null,
        }))),
        history: result.queries.map((q) => alertWindows(q.hits, now).map((w) => ({
          period: `last_${w.days}day`, num_suspect_faces: w.suspectFaces, num_member_suspect_faces: w.suspectClients, num_inquiry: w.inquiries, num_member_inquiry: w.inquiryClients,
        }))),
      },
    };
  });

  app.post<{ Body: Static<typeof DeleteBody> }>(`${TRUSTVISION_PREFIX}/v1/delete_faces`, {
    schema: {
      tags, summary: 'Delete the faces indexed from these images',
      description: 'Removes from `collection` (default "default") every face indexed from the images named. 404 image_not_found_exception when none of them is indexed there.',
      body: DeleteBody, response: { 200: TrustVisionEnvelope(Type.Object({ request_id: Type.String() })) },
    },
  }, async (request) => {
    const removed = await collections.deleteFaces(request.caller.tenantId, request.body.collection ?? DEFAULT_COLLECTION, { externalIds: [...new Set(request.body.image_ids)] });
    if (removed === 0) throw new FaceproofError('not_found', 'none of these images has a face indexed in the collection', 'image_ids');
    return { data: { request_id: request.id } };
  });

  app.post<{ Body: Static<typeof MetadataBody> }>(`${TRUSTVISION_PREFIX}/v1/search_metadata`, {
    schema: {
      tags, summary: 'Faces whose metadata has these values',
      description: 'Exact match of every key given on the faces\' top-level metadata, in `collection` (default "default"), at most max_results (default 10), oldest first.',
      body: MetadataBody,
      response: {
        200: TrustVisionEnvelope(Type.Object({
          request_id: Type.String(), status: Type.String(),
          faces: Type.Array(Type.Object({ id: Type.String(), image_id: Type.String(), metadata: Type.Record(Type.String(), Type.Unknown()) })),
        })),
      },
    },
  }, async (request) => {
    const b = request.body;
    let found: CollectionFace[] = [];
    try {
      found = await collections.findFaces(request.caller.tenantId, b.collection ?? DEFAULT_COLLECTION, { metadata: b.metadata, limit: b.max_results ?? 10 });
    } catch (err) {
      if (!(err instanceof FaceproofError) || err.code !== 'not_found') throw err;
    }
    if (found.length === 0) request.outcome = 'no_result';
    return { data: { request_id: request.id, status: 'success', faces: found.map((f) => ({ id: f.id, image_id: f.imageId ?? f.externalId ?? '', metadata: f.metadata })) } };
  });

  app.post<{ Body: Static<typeof VideoBody> }>(`${TRUSTVISION_PREFIX}/v1/index_faces_video`, {
    config: { usesEngine: true },
    schema: {
      tags, summary: 'Index the best frame of a video into a collection',
      description: 'The video (an uploaded file by id, or base64) is read; its best frame with a face is stored as an image and indexed if it passes portrait sanity (quality profile selfie_mobile). A video too short, unreadable, without a face or whose best frame fails sanity: 200 with status "failure" and the reason.',
      body: VideoBody,
      response: { 200: TrustVisionEnvelope(Type.Object({ request_id: Type.String(), status: Type.String(), image: Type.Optional(Type.Object({ id: Type.String() })), video_id: Type.Optional(Type.String()), ...Failure })) },
    },
  }, async (request) => {
    const { tenantId } = request.caller;
    const { video, collection } = request.body;
    const metadata = metadataOf(video.metadata, 'video.metadata') ?? {};
    let recording: { fileId: string } | { bytes: Uint8Array };
    if (video.id !== undefined) recording = { fileId: video.id };
    else if (video.base64 !== undefined) recording = { bytes: decodeBase64(video.base64, 'video.base64') };
    else throw FaceproofError.missing('video.id or video.base64 is required', 'video');
    const videoId = video.id !== undefined ? { video_id: video.id } : {};
    let imageId: string | undefined;
    try {
      const checked = await liveness.checkVideo(recording, tenantId, { securityLevel: 'MEDIUM', returnBestFrame: true });
      const frame = checked.video?.bestFrame?.image;
      if (!frame) throw new FaceproofError('no_face_detected', 'no frame of the video shows a face', 'video');
      imageId = (await images.store(tenantId, { kind: 'base64', data: frame }, { label: video.label ?? 'portrait', metadata: { ...metadata, source_video: video.id ?? null } }, 'video')).id;
      await index(request, imageId, metadata, collection ?? DEFAULT_COLLECTION, 'selfie_mobile');
    } catch (err) {
      request.outcome = 'no_result';
      return { data: { request_id: request.id, status: 'failure', ...(imageId ? { image: { id: imageId } } : {}), ...videoId }, ...failureBody(failureOf(err)) };
    }
    return { data: { request_id: request.id, status: 'success', image: { id: imageId }, ...videoId } };
  });
}
