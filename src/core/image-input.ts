import { decodeImage, ImageRejectedError, probeImage, type DecodedImage, type DecodeLimits, type ImageHeader } from '../engine/image/decode.ts';
import { FaceproofError } from './errors.ts';

/** Where an image comes from, once the transport (JSON or multipart) has been read. */
export type ImageSource =
  | { kind: 'base64'; data: string }
  | { kind: 'bytes'; data: Uint8Array }
  | { kind: 'stored'; imageId: string };

/** An image given in the request itself. */
export type InlineImageSource = Exclude<ImageSource, { kind: 'stored' }>;

const DATA_URL = /^data:[\w.+-]+\/[\w.+-]+(;[\w-]+=[\w.-]+)*;base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes standard or URL-safe base64, with or without a `data:` prefix, padding or line breaks.
 * Node's own decoder silently skips invalid characters, so the alphabet is checked first.
 */
export function decodeBase64(text: string, field: string): Uint8Array {
  let s = text.trim().replace(DATA_URL, '').replace(/\s+/g, '');
  if (s.length === 0) throw new FaceproofError('base64_decode_failed', 'the base64 string is empty', field);
  s = s.replace(/-/g, '+').replace(/_/g, '/');
  if (!BASE64.test(s)) throw new FaceproofError('base64_decode_failed', 'the string contains characters outside the base64 alphabet', field);
  const unpadded = s.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) throw new FaceproofError('base64_decode_failed', 'the base64 string has an impossible length', field);
  return Buffer.from(unpadded, 'base64');
}

/** Turns inline image bytes into pixels, mapping every rejection to its public error code. */
export async function loadImage(source: InlineImageSource, limits: DecodeLimits, field: string): Promise<DecodedImage & { bytes: Uint8Array }> {
  const bytes = source.kind === 'base64' ? decodeBase64(source.data, field) : source.data;
  try {
    return { ...(await decodeImage(bytes, limits)), bytes };
  } catch (err) {
    throw publicRejection(err, field);
  }
}

/** What an inline image's header says (container, size, bytes), without decoding its pixels. */
export async function inspectImage(source: InlineImageSource, limits: DecodeLimits, field: string): Promise<ImageHeader> {
  const bytes = source.kind === 'base64' ? decodeBase64(source.data, field) : source.data;
  try {
    return await probeImage(bytes, limits);
  } catch (err) {
    throw publicRejection(err, field);
  }
}

/** The engine's refusal of an image as its public error code (any other error unchanged). */
export function publicRejection(err: unknown, field: string): unknown {
  if (!(err instanceof ImageRejectedError)) return err;
  switch (err.reason) {
    case 'too_large':
    case 'too_many_pixels':
      return new FaceproofError('image_too_large', err.message, field);
    case 'too_small':
      return new FaceproofError('image_dimensions_invalid', err.message, field);
    default:
      return new FaceproofError('invalid_image_format', err.message, field);
  }
}

/** An image's container and size, read from its header. */
export type { ImageHeader } from '../engine/image/decode.ts';
