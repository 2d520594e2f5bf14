import type { ImageSource } from '../../core/image-input.ts';
import type { FaceInput } from '../../core/face-service.ts';
import { FaceproofError } from '../../core/errors.ts';

/** A JSON image object or a multipart file field, as the core's image source. */
export function imageSourceOf(value: unknown, field: string): ImageSource {
  if (Buffer.isBuffer(value)) return { kind: 'bytes', data: value };
  if (value && typeof value === 'object' && typeof (value as { base64?: unknown }).base64 === 'string') {
    return { kind: 'base64', data: (value as { base64: string }).base64 };
  }
  if (value && typeof value === 'object' && typeof (value as { image_id?: unknown }).image_id === 'string') {
    return { kind: 'stored', imageId: (value as { image_id: string }).image_id };
  }
  throw new FaceproofError('invalid_parameter', `${field} must be a file field (multipart) or an object {"base64": "..."} or {"image_id": "..."} (JSON)`, field);
}

export function faceInputOf(value: unknown, field: string): FaceInput {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value) && typeof (value as { template?: unknown }).template === 'string') {
    return { kind: 'template', template: (value as { template: string }).template };
  }
  return { kind: 'image', source: imageSourceOf(value, field) };
}

/** Multipart metadata arrives as text; it must be a JSON object. */
export function parseMetadata(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value))) return value as Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(String(value)) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch { /* reported below */ }
  throw new FaceproofError('invalid_parameter', 'metadata must be a JSON object', 'metadata');
}

/** A body that names its face by exactly one of `image` (file, base64 or image_id) or `template`. */
export function imageOrTemplateOf(body: { image?: unknown; template?: unknown }): FaceInput {
  if (body.image !== undefined && body.template !== undefined) throw new FaceproofError('invalid_parameter', 'give image or template, not both', 'template');
  if (typeof body.template === 'string') return { kind: 'template', template: body.template };
  if (body.image === undefined) throw new FaceproofError('invalid_parameter', 'image or template is required', 'image');
  return { kind: 'image', source: imageSourceOf(body.image, 'image') };
}
