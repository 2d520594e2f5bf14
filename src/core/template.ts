import { createHash } from 'node:crypto';
import { FaceproofError } from './errors.ts';

/** A face template: the embedding plus what is needed to refuse comparing it with an incompatible one. */
export interface FaceTemplate {
  modelId: string;
  version: number;
  vector: Float32Array;
}

const MAGIC = 'FPT1';
const CHECKSUM_BYTES = 4;

/**
 * Layout (little-endian): "FPT1" · model-id length (u8) · model id (UTF-8) · version (u16) ·
 * dimension (u16) · dimension × f32 · first 4 bytes of SHA-256 over everything before.
 * Binary rather than JSON so a 128-D template is ~560 bytes of base64 and survives any transport.
 */
export function encodeTemplate(template: FaceTemplate): string {
  const id = Buffer.from(template.modelId, 'utf8');
  if (id.length > 255) throw new Error('template model id longer than 255 bytes');
  const dim = template.vector.length;
  const body = Buffer.alloc(4 + 1 + id.length + 2 + 2 + dim * 4);
  let o = body.write(MAGIC, 0, 'ascii');
  o = body.writeUInt8(id.length, o);
  o += id.copy(body, o);
  o = body.writeUInt16LE(template.version, o);
  o = body.writeUInt16LE(dim, o);
  for (let i = 0; i < dim; i++) o = body.writeFloatLE(template.vector[i], o);
  return Buffer.concat([body, checksum(body)]).toString('base64');
}

export function decodeTemplate(bytes: Uint8Array, field: string): FaceTemplate {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const invalid = (why: string) => new FaceproofError('template_invalid', `not a Faceproof template: ${why}`, field);
  if (buf.length < 4 + 1 + 2 + 2 + CHECKSUM_BYTES || buf.toString('ascii', 0, 4) !== MAGIC) throw invalid('unknown format');
  const body = buf.subarray(0, buf.length - CHECKSUM_BYTES);
  if (!checksum(body).equals(buf.subarray(buf.length - CHECKSUM_BYTES))) throw invalid('checksum mismatch (the template was altered or truncated)');
  const idLength = buf.readUInt8(4);
  let o = 5;
  if (o + idLength + 4 > body.length) throw invalid('truncated header');
  const modelId = buf.toString('utf8', o, o + idLength);
  o += idLength;
  const version = buf.readUInt16LE(o);
  const dim = buf.readUInt16LE(o + 2);
  o += 4;
  if (dim === 0 || o + dim * 4 !== body.length) throw invalid('length does not match its dimension');
  const vector = new Float32Array(dim);
  for (let i = 0; i < dim; i++) vector[i] = buf.readFloatLE(o + i * 4);
  if (!vector.every(Number.isFinite)) throw invalid('non-finite values');
  return { modelId, version, vector };
}

/** Throws `template_version_mismatch` unless the template was made by the given model and version. */
export function assertCompatible(template: FaceTemplate, expected: { modelId: string; version: number; dimension: number }, field: string): void {
  if (template.modelId !== expected.modelId || template.version !== expected.version || template.vector.length !== expected.dimension) {
    throw new FaceproofError(
      'template_version_mismatch',
      `the template was made by ${template.modelId} v${template.version} (${template.vector.length}-D); this server compares ${expected.modelId} v${expected.version} (${expected.dimension}-D)`,
      field,
    );
  }
}

export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return dot / (Math.sqrt(na * nb) || 1);
}

function checksum(body: Buffer): Buffer {
  return createHash('sha256').update(body).digest().subarray(0, CHECKSUM_BYTES);
}
