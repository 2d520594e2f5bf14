import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { FaceproofError, type ErrorCode } from '../../../core/errors.ts';
import type { DialectDescriptor, DialectReply } from '../dialect.ts';

/** The manual's one printed path, and the others named in its shape (docs/dialects/senseid.md). */
export const PATHS = {
  silentImageVerification: '/identity/silent_image_verification/stateless',
  silentDetection: '/liveness/silent_detection/stateless',
  imageVerification: '/identity/image_verification/stateless',
  multiFaceVerification: '/identity/multi_face_verification/stateless',
  livenessImageVerification: '/identity/liveness_image_verification/stateless',
  qualityCheck: '/quality/check/stateless',
} as const;

/** SenseID's error body (every table of the manual): numeric code, message, request id. */
export const SenseIdError = Type.Object({
  code: Type.Integer({ description: 'SenseID code (1200, 2003–2008, 4000, 4004, 4007), or the HTTP status where the manual has no code (401, 403, 404, 408, 409, 411, 413, 429, 500)' }),
  message: Type.String(),
  request_id: Type.String({ description: "The request id (Faceproof's X-Request-Id): the audit record's key" }),
}, { title: 'SenseIdError' });

/** A SenseID code with the manual's "field value" (its message) and the HTTP status it is answered with. */
export interface SenseIdCode { code: number; message: string; status: number }

const BAD_REQUEST = (code: number, message: string): SenseIdCode => ({ code, message, status: 400 });
export const CODES = {
  invalidArgument: BAD_REQUEST(1200, 'invalid argument'),
  invalidImageSize: BAD_REQUEST(2003, 'invalid image size'),
  invalidContentLength: BAD_REQUEST(2004, 'invalid content length'),
  invalidImageType: BAD_REQUEST(2005, 'invalid image type or corrupted'),
  corruptedImage: BAD_REQUEST(2006, 'corrupted image error'),
  corruptedLivenessData: BAD_REQUEST(2007, 'corrupted liveness data error'),
  invalidVideo: BAD_REQUEST(2008, 'invalid video error'),
  detectionFailed: BAD_REQUEST(4000, 'detection failed'),
  faceOcclusion: BAD_REQUEST(4004, 'face occlusion'),
  livenessFailed: BAD_REQUEST(4007, 'liveness silent check failed'),
  lengthRequired: { code: 411, message: 'LENGTH_REQUIRED', status: 411 },
} satisfies Record<string, SenseIdCode>;

/** The manual's HTTP status table (400, 404, 411, 413, 500), plus what it leaves out (credentials, rate, timeout). */
const HTTP: Record<number, string> = {
  401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 408: 'REQUEST_TIMEOUT', 409: 'CONFLICT',
  411: 'LENGTH_REQUIRED', 413: 'PAYLOAD_TOO_LARGE', 429: 'TOO_MANY_REQUESTS', 500: 'INTERNAL_ERROR',
};
const httpCode = (status: number): SenseIdCode => ({ code: status, message: HTTP[status], status });

/**
 * A failure a SenseID route names with the manual's code itself, where the core's code alone does not
 * tell which the manual means (a corrupted image on the multi-face comparison, a short video on the
 * video-only liveness, liveness data that is no video, a face occluded, a missing Content-Length).
 */
export class SenseIdFailure extends FaceproofError {
  constructor(readonly senseId: SenseIdCode, core: ErrorCode, message: string, field?: string) {
    super(core, message, field);
  }
}

/** The SenseID code of a Faceproof error on one of its routes. */
export function senseIdCodeOf(err: FaceproofError): SenseIdCode {
  if (err instanceof SenseIdFailure) return err.senseId;
  switch (err.code) {
    case 'invalid_parameter':
    case 'base64_decode_failed':
    case 'unsupported_media_type':
    case 'template_invalid':
      return CODES.invalidArgument;
    case 'image_dimensions_invalid':
      return CODES.invalidImageSize;
    case 'image_too_large':
      // The decoder's pixel limit is a size in pixels (2003); its byte limit a file size (2004).
      return /pixels/.test(err.message) ? CODES.invalidImageSize : CODES.invalidContentLength;
    case 'invalid_image_format':
    case 'invalid_file_format':
      return CODES.invalidImageType;
    case 'invalid_video':
    case 'short_time':
      return CODES.invalidVideo;
    case 'no_face_detected':
      return CODES.detectionFailed;
    case 'quality_rejected':
      return CODES.faceOcclusion;
    case 'unauthenticated':
    case 'invalid_credentials':
    case 'invalid_signature':
    case 'request_time_too_skewed':
    case 'request_replayed':
    case 'token_expired':
    case 'key_expired':
    case 'key_revoked':
      return httpCode(401);
    case 'client_disabled':
    case 'insufficient_scope':
      return httpCode(403);
    case 'not_found':
    case 'method_not_allowed':
      return httpCode(404);
    case 'request_timeout':
      return httpCode(408);
    case 'template_version_mismatch':
    case 'already_exists':
    case 'user_inactive':
    case 'transaction_closed':
      return httpCode(409);
    case 'payload_too_large':
      return httpCode(413);
    case 'too_many_requests':
    case 'rate_limit_exceeded':
      return httpCode(429);
    case 'internal_error':
    case 'service_unavailable':
      return httpCode(500);
    default:
      return err.status >= 500 ? httpCode(500) : CODES.invalidArgument;
  }
}

/** Codes answered after the engine looked at the input: work done, though nothing to return. */
const PROCESSED = new Set([4000, 4004, 4007]);

/**
 * SenseID answers a success with HTTP 200 and code 1000, and a failure with its HTTP status (400 for
 * every numeric code of its tables) and {code, message, request_id}.
 */
export const senseid: DialectDescriptor = {
  name: 'senseid',
  title: 'SenseID (SenseTime) stateless verification, silent liveness and quality check (seeds/001)',
  prefix: '/senseid',
  serviceOf(path) {
    switch (path) {
      case PATHS.imageVerification:
      case PATHS.multiFaceVerification:
        return 'compare';
      case PATHS.silentImageVerification:
      case PATHS.silentDetection:
      case PATHS.livenessImageVerification:
        return 'liveness';
      case PATHS.qualityCheck:
        return 'quality';
      default:
        return 'system';
    }
  },
  publicPaths: [],
  statusOf(status) {
    if (status === 415 || status === 422) return 400;
    if (status === 405) return 404;
    return status >= 500 ? 500 : status;
  },
  errorSchema: SenseIdError,
  errorReply(err: FaceproofError, request: FastifyRequest): DialectReply {
    const c = senseIdCodeOf(err);
    request.outcome = PROCESSED.has(c.code) ? 'no_result' : c.status >= 500 ? 'failed' : 'rejected';
    return { status: c.status, body: { code: c.code, message: c.message, request_id: request.id } };
  },
};
