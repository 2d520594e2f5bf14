import type { FastifyInstance } from 'fastify';
import type { ImageStore } from '../../core/image-store.ts';
import type { ImageErasure } from '../../core/erasure.ts';
import type { StoredImageRecord } from '../../core/ports.ts';
import { FaceproofError } from '../../core/errors.ts';
import { envelope } from '../envelope.ts';
import { imageSourceOf, parseMetadata } from './inputs.ts';
import {
  ImageIdParams, ImageReadQuery, StoreImageJsonBody, StoreImageMultipartBody, StoredImageResponse, UpdateImageBody, errorResponses,
} from './schemas.ts';

const MIME = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' } as const;

function describe(r: StoredImageRecord) {
  return {
    image_id: r.id, label: r.label, metadata: r.metadata, format: r.format, width: r.width, height: r.height,
    bytes: r.bytes, sha256: r.sha256, created_at: r.createdAt, expires_at: r.expiresAt,
  };
}

/** Stored images: the tenant's own copies of the photos it sends, usable as {"image_id"} anywhere an image is taken. */
export function imageRoutes(app: FastifyInstance, images: ImageStore, erasure: ImageErasure): void {

  app.post<{ Body: { image: unknown; label?: string; metadata?: unknown; ttl_seconds?: number } }>('/v1/images', {
    schema: {
      tags: ['images'],
      summary: 'Store an image',
      description: 'Validates and stores a JPEG, PNG or WebP image with an optional label, metadata and retention; returns its image_id and SHA-256.',
      body: { content: { 'application/json': { schema: StoreImageJsonBody }, 'multipart/form-data': { schema: StoreImageMultipartBody } } },
      response: { 201: StoredImageResponse, ...errorResponses(400, 413, 415) },
    },
  }, async (request, reply) => {
    const body = request.body;
    const source = imageSourceOf(body.image, 'image');
    if (source.kind === 'stored') throw new FaceproofError('invalid_parameter', 'store the image itself, not an image_id', 'image');
    const record = await images.store(request.caller.tenantId, source, { label: body.label, metadata: parseMetadata(body.metadata), ttlSeconds: body.ttl_seconds });
    return reply.code(201).send({ ...envelope(request), ...describe(record) });
  });

  app.get<{ Params: { id: string }; Querystring: { format?: 'binary' | 'base64' } }>('/v1/images/:id', {
    schema: {
      tags: ['images'],
      summary: 'Download a stored image',
      description: 'The file as stored (Content-Type image/jpeg, image/png or image/webp, X-Content-SHA256), or with ?format=base64 its description with the file in base64.',
      params: ImageIdParams,
      querystring: ImageReadQuery,
      response: { 200: { description: 'The image file, or JSON with ?format=base64', content: { 'image/*': { schema: { type: 'string', format: 'binary' } }, 'application/json': { schema: StoredImageResponse } } }, ...errorResponses(400, 404) },
    },
  }, async (request, reply) => {
    const { record, bytes } = await images.read(request.caller.tenantId, request.params.id);
    if (request.query.format === 'base64') return { ...envelope(request), ...describe(record), base64: bytes.toString('base64') };
    return reply.type(MIME[record.format]).header('X-Content-SHA256', record.sha256).send(bytes);
  });

  app.patch<{ Params: { id: string }; Body: { label?: string | null; metadata?: Record<string, unknown> } }>('/v1/images/:id', {
    schema: {
      tags: ['images'],
      summary: 'Change a stored image’s label or metadata',
      params: ImageIdParams,
      body: UpdateImageBody,
      response: { 200: StoredImageResponse, ...errorResponses(400, 404) },
    },
  }, async (request) => ({ ...envelope(request), ...describe(await images.update(request.caller.tenantId, request.params.id, request.body)) }));

  app.delete<{ Params: { id: string } }>('/v1/images/:id', {
    schema: {
      tags: ['images'],
      summary: 'Erase a stored image',
      description: 'Removes the description, the bytes, and every template made from the image (collection faces, user faces, session faces).',
      params: ImageIdParams,
      response: { 204: { type: 'null', description: 'Erased' }, ...errorResponses(400, 404) },
    },
  }, async (request, reply) => {
    await erasure.erase(request.caller.tenantId, request.params.id);
    return reply.code(204).send();
  });
}
