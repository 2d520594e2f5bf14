import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { FileStore } from '../../core/file-store.ts';
import type { StoredFileRecord } from '../../core/ports.ts';
import { FaceproofError } from '../../core/errors.ts';
import { envelope } from '../envelope.ts';
import { Envelope, Metadata, errorResponses } from './schemas.ts';
import { parseMetadata } from './inputs.ts';

const FrameInput = Type.Object({
  base64: Type.String({ minLength: 1 }),
  index: Type.Optional(Type.Integer({ minimum: 0, description: 'Position of the frame in the video; defaults to its position in the list' })),
  label: Type.Optional(Type.String({ maxLength: 256 })),
  metadata: Type.Optional(Metadata),
}, { additionalProperties: false });
const FramesBody = Type.Object({ frames: Type.Array(FrameInput, { minItems: 1 }), metadata: Type.Optional(Metadata) }, { additionalProperties: false });
const MediaBody = Type.Object({
  file: Type.Unsafe<Buffer>({ format: 'binary', description: 'The video or audio file' }),
  label: Type.Union([Type.Literal('video'), Type.Literal('audio')]),
  metadata: Type.Optional(Type.String({ description: 'A JSON object, as text' })),
});
const FileParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const FrameParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), index: Type.Integer({ minimum: 0 }) });
const FileDescription = Type.Object({
  ...Envelope,
  file_id: Type.String(),
  kind: Type.Union([Type.Literal('video'), Type.Literal('audio'), Type.Literal('frames')]),
  media_type: Type.Union([Type.Null(), Type.String()]),
  metadata: Metadata,
  bytes: Type.Integer(),
  sha256: Type.Union([Type.Null(), Type.String()]),
  created_at: Type.String(),
  frames: Type.Array(Type.Object({
    index: Type.Integer(), label: Type.Union([Type.Null(), Type.String()]), metadata: Metadata,
    format: Type.String(), width: Type.Integer(), height: Type.Integer(), bytes: Type.Integer(), sha256: Type.String(),
  })),
  base64: Type.Optional(Type.String()),
});

function describe(r: StoredFileRecord) {
  return { file_id: r.id, kind: r.kind, media_type: r.mediaType, metadata: r.metadata, bytes: r.bytes, sha256: r.sha256, created_at: r.createdAt, frames: r.frames };
}

/** Uploaded videos, audio and frame lists (TrustVision's /v1/files), for the video checks that build on them. */
export function fileRoutes(app: FastifyInstance, files: FileStore): void {

  app.post<{ Body: { file?: unknown; label?: 'video' | 'audio'; metadata?: unknown; frames?: Array<{ base64: string; index?: number; label?: string; metadata?: Record<string, unknown> }> } }>('/v1/files', {
    schema: {
      tags: ['files'],
      summary: 'Upload a video, an audio file, or a list of video frames',
      description: 'multipart/form-data with `file` and `label` (video or audio), or JSON {"frames": [{"base64", "index"?, "label"?, "metadata"?}]}. Returns the file_id.',
      body: { content: { 'application/json': { schema: FramesBody }, 'multipart/form-data': { schema: MediaBody } } },
      response: { 201: FileDescription, ...errorResponses(400, 413, 415) },
    },
  }, async (request, reply) => {
    const body = request.body;
    let record: StoredFileRecord;
    if (body.frames) {
      record = await files.storeFrames(request.caller.tenantId, body.frames.map((f) => ({ source: { kind: 'base64', data: f.base64 }, index: f.index, label: f.label, metadata: f.metadata })), parseMetadata(body.metadata));
    } else {
      if (!Buffer.isBuffer(body.file)) throw new FaceproofError('invalid_parameter', 'file must be a file field', 'file');
      record = await files.storeMedia(request.caller.tenantId, body.file, body.label!, parseMetadata(body.metadata));
    }
    return reply.code(201).send({ ...envelope(request), ...describe(record) });
  });

  app.get<{ Params: { id: string }; Querystring: { format?: 'binary' | 'base64' } }>('/v1/files/:id', {
    schema: {
      tags: ['files'],
      summary: 'Download a video or audio file, or describe a list of frames',
      description: 'A video or audio file comes back as stored (its media type, X-Content-SHA256); ?format=base64 gives its description with the file in base64. A list of frames comes back as its description.',
      params: FileParams,
      querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('binary'), Type.Literal('base64')])) }, { additionalProperties: false }),
      response: { 200: { description: 'The file, or JSON', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } }, 'application/json': { schema: FileDescription } } }, ...errorResponses(400, 404) },
    },
  }, async (request, reply) => {
    const record = await files.describe(request.caller.tenantId, request.params.id);
    if (record.kind === 'frames') return { ...envelope(request), ...describe(record) };
    const { bytes } = await files.readMedia(request.caller.tenantId, record.id);
    if (request.query.format === 'base64') return { ...envelope(request), ...describe(record), base64: bytes.toString('base64') };
    return reply.type(record.mediaType ?? 'application/octet-stream').header('X-Content-SHA256', record.sha256 ?? '').send(bytes);
  });

  app.get<{ Params: { id: string; index: number } }>('/v1/files/:id/frames/:index', {
    schema: {
      tags: ['files'],
      summary: 'Download one frame of a frame list',
      params: FrameParams,
      response: { 200: { description: 'The frame image', content: { 'image/*': { schema: { type: 'string', format: 'binary' } } } }, ...errorResponses(400, 404) },
    },
  }, async (request, reply) => {
    const { frame, bytes } = await files.readFrame(request.caller.tenantId, request.params.id, request.params.index);
    return reply.type(`image/${frame.format}`).header('X-Content-SHA256', frame.sha256).send(bytes);
  });

  app.delete<{ Params: { id: string } }>('/v1/files/:id', {
    schema: { tags: ['files'], summary: 'Erase a file', params: FileParams, response: { 204: { type: 'null', description: 'Erased' }, ...errorResponses(400, 404) } },
  }, async (request, reply) => {
    const { notFound } = await files.delete(request.caller.tenantId, [request.params.id]);
    if (notFound.length > 0) throw new FaceproofError('not_found', `no file ${request.params.id}`, 'file_id');
    return reply.code(204).send();
  });

  app.post<{ Body: { file_ids: string[] } }>('/v1/files/delete', {
    schema: {
      tags: ['files'],
      summary: 'Erase several files at once',
      body: Type.Object({ file_ids: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 1000, uniqueItems: true }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ ...Envelope, deleted: Type.Array(Type.String()), not_found: Type.Array(Type.String()) }), ...errorResponses(400) },
    },
  }, async (request) => {
    const { deleted, notFound } = await files.delete(request.caller.tenantId, request.body.file_ids);
    return { ...envelope(request), deleted, not_found: notFound };
  });
}
