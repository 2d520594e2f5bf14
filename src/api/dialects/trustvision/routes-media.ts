import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import { renderPdfPages } from '../../../core/pdf-pages.ts';
import type { StoredFileRecord } from '../../../core/ports.ts';
import type { AppServices } from '../../app.ts';
import { FileField } from '../../v1/schemas.ts';
import { TRUSTVISION_PREFIX, TrustVisionEnvelope, TrustVisionErrorItem } from './descriptor.ts';

const tags = ['trustvision'];

/** The manual's Label table: an image's `label` MUST be one of these. */
export const IMAGE_LABELS: readonly string[] = [
  'portrait', 'qr_code',
  ...['global.passport', 'in.aadhaar', 'in.pan', 'in.voter', 'in.passport', 'vn.national_id', 'vn.cmnd_old', 'vn.cmnd_new', 'vn.cccd', 'vn.cccd_new', 'vn.tcc',
    'ph.national_id', 'ph.nid', 'ph.ump', 'ph.tin', 'ph.dl', 'ph.sss', 'ph.passport', 'ph.postal', 'ph.philhealth', 'ph.prc', 'ph.loyalty']
    .flatMap((card) => [`id_card.${card}.front`, `id_card.${card}.back`]),
  'id_card.vn.passport.front', 'id_card.vn.passport_new.front', 'doc.vn.business_license',
];
const LABELS = new Set(IMAGE_LABELS);

const MIME = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' } as const;
const MAX_ID = 64;

/** `string_json` in the manual: a JSON object as text, or (JSON bodies) the object itself. */
const StringJson = Type.Union([Type.String({ maxLength: 16384 }), Type.Record(Type.String(), Type.Unknown())], { description: 'key-value: a JSON object, or its text' });
const Label = Type.String({ maxLength: 64, description: "One of the manual's Label table (portrait, qr_code, id_card.vn.national_id.front, …)" });

/** The manual's metadata: keys are strings, values strings, numbers or booleans. */
export function metadataOf(value: unknown, field = 'metadata'): Record<string, unknown> | undefined {
  if (value === undefined || value === '') return undefined;
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try { parsed = JSON.parse(value); } catch { throw new FaceproofError('invalid_parameter', `${field} must be a JSON object (key-value)`, field); }
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new FaceproofError('invalid_parameter', `${field} must be a JSON object (key-value)`, field);
  for (const [key, v] of Object.entries(parsed)) {
    if (!['string', 'number', 'boolean'].includes(typeof v)) throw new FaceproofError('invalid_parameter', `${field}.${key} must be a string, a number or a boolean`, field);
  }
  return parsed as Record<string, unknown>;
}

function labelOf(value: unknown, field = 'label'): string {
  if (typeof value !== 'string' || value === '') throw FaceproofError.missing(`${field} is required`, field);
  if (!LABELS.has(value)) throw new FaceproofError('invalid_parameter', `${field} ${JSON.stringify(value.slice(0, 64))} is not in the Label table`, field);
  return value;
}

/** X-DOWNLOAD-BASE64: true (or 1, yes). */
function wantsBase64(request: FastifyRequest): boolean {
  const h = request.headers['x-download-base64'];
  return typeof h === 'string' && /^(true|1|yes)$/i.test(h.trim());
}

function idParam(value: string, field: string): string {
  if (value.length < 1 || value.length > MAX_ID) throw new FaceproofError('invalid_parameter', `${field} must be 1 to ${MAX_ID} characters`, field);
  return value;
}

/** The stored bytes, or with X-DOWNLOAD-BASE64 a data URL of them as text. */
function sendMedia(request: FastifyRequest, reply: FastifyReply, type: string, bytes: Buffer, sha256: string | null) {
  if (wantsBase64(request)) return reply.type('text/plain; charset=utf-8').send(`data:${type};base64,${bytes.toString('base64')}`);
  return reply.type(type).header('X-Content-SHA256', sha256 ?? createHash('sha256').update(bytes).digest('hex')).send(bytes);
}

const UploadMultipart = Type.Object({
  file: FileField('The image file (JPEG or PNG; WebP is taken too)'),
  label: Label,
  metadata: Type.Optional(Type.String({ maxLength: 16384, description: 'A JSON object as text: {"id":"123456789","type":1}' })),
  tag: Type.Optional(Type.String({ maxLength: 256, description: 'India only; taken and not used' })),
});
const UploadJson = Type.Object({
  base64: Type.String({ minLength: 1, description: 'The image file in base64 (a data: URL prefix is taken)' }),
  label: Label,
  metadata: Type.Optional(StringJson),
  tag: Type.Optional(Type.String({ maxLength: 256 })),
}, { additionalProperties: false });

const PatchBody = Type.Object({
  metadata: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
  label: Type.Optional(Label),
  override: Type.Optional(Type.Boolean({ description: 'true replaces the metadata; false (default) adds to it' })),
}, { additionalProperties: false });

const FrameData = Type.Object({
  base64: Type.Optional(Type.String({ minLength: 1 })),
  label: Type.Optional(Type.String({ maxLength: 64 })),
  index: Type.Optional(Type.Integer({ minimum: 0 })),
  metadata: Type.Optional(StringJson),
}, { additionalProperties: false });
const FilesMultipart = Type.Object({
  file: FileField('The video or audio file'),
  label: Type.Union([Type.Literal('video'), Type.Literal('audio')]),
  metadata: Type.Optional(Type.String({ maxLength: 16384, description: 'A JSON object as text' })),
  parent_id: Type.Optional(Type.String({ maxLength: 64, description: 'Taken and not used' })),
});
const FilesJson = Type.Object({
  frames: Type.Array(FrameData, { minItems: 1 }),
  metadata: Type.Optional(StringJson),
  parent_id: Type.Optional(Type.String({ maxLength: 64 })),
}, { additionalProperties: false });

const DeleteFilesBody = Type.Object({
  file_ids: Type.Array(Type.String({ minLength: 1, maxLength: MAX_ID }), { minItems: 1, maxItems: 100 }),
}, { additionalProperties: false });

const ConvertPdfMultipart = Type.Object({
  file: FileField('The PDF file'),
  pages: Type.String({ maxLength: 65536, description: 'JSON array of {"index": 1-based page, "label", "metadata"?}' }),
  metadata: Type.Optional(Type.String({ maxLength: 16384, description: 'A JSON object as text, kept with every page image' })),
});
const PageSpec = Type.Object({ index: Type.Integer({ minimum: 1 }), label: Type.String({ maxLength: 64 }), metadata: Type.Optional(StringJson) });

const ImageIdParams = Type.Object({ image_id: Type.String({ maxLength: 256 }) });
const FileIdParams = Type.Object({ file_id: Type.String({ maxLength: 256 }) });
const binary = (description: string, type: string) => ({ description, content: { [type]: { schema: { type: 'string', format: 'binary' } }, 'text/plain': { schema: { type: 'string', description: 'With X-DOWNLOAD-BASE64: true, a data: URL' } } } });

/** TrustVision's images, files and PDF conversion, onto core's ImageStore, FileStore and ImageErasure. */
export function trustvisionMediaRoutes(app: FastifyInstance, services: AppServices): void {
  const { images, files, erasure } = services;

  app.post<{ Body: Record<string, unknown> }>(`${TRUSTVISION_PREFIX}/v1/images`, {
    schema: {
      tags, summary: 'Upload image: multipart `file` + `label` (+ `metadata`), or JSON `base64` + `label`; answers its image_id',
      body: { content: { 'multipart/form-data': { schema: UploadMultipart }, 'application/json': { schema: UploadJson } } },
      response: { 200: TrustVisionEnvelope(Type.Object({ image_id: Type.String() })) },
    },
  }, async (request) => {
    const b = request.body;
    const label = labelOf(b.label);
    const metadata = metadataOf(b.metadata);
    let source;
    if (Buffer.isBuffer(b.file)) source = { kind: 'bytes' as const, data: b.file };
    else if (typeof b.base64 === 'string') source = { kind: 'base64' as const, data: b.base64 };
    else throw FaceproofError.missing('file (multipart) or base64 (JSON) is required', b.file !== undefined ? 'file' : 'base64');
    const record = await images.store(request.caller.tenantId, source, { label, metadata }, Buffer.isBuffer(b.file) ? 'file' : 'base64');
    return { data: { image_id: record.id } };
  });

  app.get<{ Params: Static<typeof ImageIdParams> }>(`${TRUSTVISION_PREFIX}/v1/images/:image_id`, {
    schema: {
      tags, summary: 'Download image: the original file, or with header X-DOWNLOAD-BASE64: true a data: URL as text',
      params: ImageIdParams,
      response: { 200: binary('The image as uploaded', 'image/*') },
    },
  }, async (request, reply) => {
    const { record, bytes } = await images.read(request.caller.tenantId, idParam(request.params.image_id, 'image_id'));
    return sendMedia(request, reply, MIME[record.format], bytes, record.sha256);
  });

  app.patch<{ Params: Static<typeof ImageIdParams>; Body: Static<typeof PatchBody> }>(`${TRUSTVISION_PREFIX}/v1/images/:image_id`, {
    schema: {
      tags, summary: "Upload metadata: adds to an image's metadata (or replaces it with override: true), optionally relabels it",
      params: ImageIdParams,
      body: PatchBody,
      response: { 200: TrustVisionEnvelope(Type.Object({ image_id: Type.String(), label: Type.String(), metadata: Type.Record(Type.String(), Type.Unknown()) })) },
    },
  }, async (request) => {
    const tenantId = request.caller.tenantId;
    const id = idParam(request.params.image_id, 'image_id');
    const b = request.body;
    const label = b.label === undefined ? undefined : labelOf(b.label);
    const metadata = metadataOf(b.metadata)!;
    const current = await images.describe(tenantId, id);
    const updated = await images.update(tenantId, id, { ...(label ? { label } : {}), metadata: b.override ? metadata : { ...current.metadata, ...metadata } });
    return { data: { image_id: updated.id, label: updated.label ?? '', metadata: updated.metadata } };
  });

  app.post<{ Body: Record<string, unknown> }>(`${TRUSTVISION_PREFIX}/v1/files`, {
    schema: {
      tags, summary: 'Upload file: multipart `file` + `label` (video or audio), or JSON `frames` (video frames in base64); answers its file_id',
      body: { content: { 'multipart/form-data': { schema: FilesMultipart }, 'application/json': { schema: FilesJson } } },
      response: { 200: TrustVisionEnvelope(Type.Object({ file_id: Type.String() })) },
    },
  }, async (request) => {
    const b = request.body;
    const tenantId = request.caller.tenantId;
    let record: StoredFileRecord;
    if (Array.isArray(b.frames)) {
      const frames = b.frames as Array<Static<typeof FrameData>>;
      record = await files.storeFrames(tenantId, frames.map((f, i) => {
        if (typeof f.base64 !== 'string') throw FaceproofError.missing(`frames.${i}.base64 is required`, `frames.${i}.base64`);
        return { source: { kind: 'base64' as const, data: f.base64 }, index: f.index, label: f.label, metadata: metadataOf(f.metadata, `frames.${i}.metadata`) };
      }), metadataOf(b.metadata));
    } else {
      if (!Buffer.isBuffer(b.file)) throw FaceproofError.missing('file is required', 'file');
      record = await files.storeMedia(tenantId, b.file, b.label as 'video' | 'audio', metadataOf(b.metadata));
    }
    return { data: { file_id: record.id } };
  });

  app.get<{ Params: Static<typeof FileIdParams> }>(`${TRUSTVISION_PREFIX}/v1/files/:file_id`, {
    schema: {
      tags, summary: 'Download file: a video or audio file as uploaded (X-DOWNLOAD-BASE64: true: a data: URL as text); a list of frames as JSON, each frame a data: URL',
      params: FileIdParams,
      response: {
        200: {
          ...binary('The file as uploaded', 'application/octet-stream'),
          content: {
            ...binary('', 'application/octet-stream').content,
            'application/json': { schema: TrustVisionEnvelope(Type.Object({ file_id: Type.String(), frames: Type.Array(Type.Object({ index: Type.Integer(), label: Type.Union([Type.String(), Type.Null()]), metadata: Type.Record(Type.String(), Type.Unknown()), base64: Type.String() })) })) },
          },
        },
      },
    },
  }, async (request, reply) => {
    const tenantId = request.caller.tenantId;
    const record = await files.describe(tenantId, idParam(request.params.file_id, 'file_id'));
    if (record.kind === 'frames') {
      const frames = await Promise.all(record.frames.map(async (f) => {
        const { bytes } = await files.readFrame(tenantId, record.id, f.index);
        return { index: f.index, label: f.label, metadata: f.metadata, base64: `data:image/${f.format};base64,${bytes.toString('base64')}` };
      }));
      return reply.type('application/json').send({ data: { file_id: record.id, frames } });
    }
    const { bytes } = await files.readMedia(tenantId, record.id);
    return sendMedia(request, reply, record.mediaType ?? 'application/octet-stream', bytes, record.sha256);
  });

  app.post<{ Body: Static<typeof DeleteFilesBody> }>(`${TRUSTVISION_PREFIX}/v1/delete_files`, {
    schema: {
      tags, summary: 'Delete files: images (with every template made from them) and files, at most 100 ids; status failure names the ids not found',
      body: DeleteFilesBody,
      response: { 200: TrustVisionEnvelope(Type.Object({ status: Type.Union([Type.Literal('success'), Type.Literal('failure')]) })) },
    },
  }, async (request) => {
    const tenantId = request.caller.tenantId;
    const missing: string[] = [];
    for (const id of new Set(request.body.file_ids)) {
      try {
        if (id.startsWith('file_')) {
          const { notFound } = await files.delete(tenantId, [id]);
          if (notFound.length) missing.push(id);
        } else {
          await erasure.erase(tenantId, id);
        }
      } catch (err) {
        if (err instanceof FaceproofError && err.code === 'not_found') missing.push(id);
        else throw err;
      }
    }
    if (missing.length === 0) return { data: { status: 'success' as const } };
    return {
      data: { status: 'failure' as const },
      errors: missing.map((id) => ({ code: 'file_not_found_exception', message: `no file or image ${id}; the other ids were deleted`, detail: { field: 'file_ids', file_id: id } })),
    };
  });

  app.post<{ Body: Static<typeof ConvertPdfMultipart> }>(`${TRUSTVISION_PREFIX}/v1/convert_pdf_sync`, {
    schema: {
      tags, summary: 'Convert PDF: each page asked for rendered (PDFium, longer side 2400 px, JPEG) and stored as an image with its label and metadata',
      body: { content: { 'multipart/form-data': { schema: ConvertPdfMultipart } } },
      response: {
        200: TrustVisionEnvelope(Type.Object({
          status: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
          images: Type.Optional(Type.Array(Type.Object({ id: Type.String(), page: Type.Integer(), label: Type.String() }))),
          request_id: Type.String(),
        })),
      },
    },
  }, async (request) => {
    const b = request.body;
    if (!Buffer.isBuffer(b.file)) throw FaceproofError.missing('file is required', 'file');
    const pages = pagesOf(b.pages);
    const common = metadataOf(b.metadata) ?? {};
    const rendered = await renderPdfPages(b.file, pages.map((p) => p.index));
    if (rendered.missing.length > 0) {
      request.outcome = 'no_result';
      const errors: Array<Static<typeof TrustVisionErrorItem>> = rendered.missing.map((page) => ({
        code: 'page_does_not_exist', message: `page ${page} does not exist: the PDF has ${rendered.pageCount} page(s)`, detail: { field: 'pages', page },
      }));
      return { data: { status: 'failure' as const, request_id: request.id }, errors };
    }
    const out = [];
    for (const p of pages) {
      const record = await images.store(request.caller.tenantId, { kind: 'bytes', data: rendered.images.get(p.index)! }, { label: p.label, metadata: { ...common, ...(p.metadata ?? {}) } }, 'file');
      out.push({ id: record.id, page: p.index, label: p.label });
    }
    return { data: { status: 'success' as const, images: out, request_id: request.id } };
  });
}

/** `pages`: a JSON array of {index (1-based), label, metadata?}, as text (multipart). */
function pagesOf(text: string): Array<{ index: number; label: string; metadata?: Record<string, unknown> }> {
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch { throw new FaceproofError('invalid_parameter', 'pages must be a JSON array of {"index", "label", "metadata"?}', 'pages'); }
  if (!Array.isArray(parsed) || parsed.length === 0 || parsed.length > 100) throw new FaceproofError('invalid_parameter', 'pages must be a JSON array of 1 to 100 {"index", "label", "metadata"?}', 'pages');
  return parsed.map((p: unknown, i) => {
    const page = p as Partial<Static<typeof PageSpec>> | null;
    if (!page || typeof page !== 'object' || !Number.isInteger(page.index) || (page.index as number) < 1) throw new FaceproofError('invalid_parameter', `pages[${i}].index must be a page number from 1`, 'pages');
    return { index: page.index as number, label: labelOf(page.label, `pages[${i}].label`), metadata: metadataOf(page.metadata, `pages[${i}].metadata`) };
  });
}
