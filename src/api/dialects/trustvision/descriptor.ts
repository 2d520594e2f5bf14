import type { FastifyRequest } from 'fastify';
import { Type, type TSchema } from '@sinclair/typebox';
import type { ErrorCode, FaceproofError } from '../../../core/errors.ts';
import type { DialectDescriptor, DialectReply } from '../dialect.ts';

/** TrustVision's base URL is http://HOST:PORT/trustvision/api; its paths (`/v1/images`, …) are below. */
export const TRUSTVISION_PREFIX = '/trustvision/api';

/** One error of the envelope: the manual's error code, a message, and a detail object (`field`, …). */
export const TrustVisionErrorItem = Type.Object({
  code: Type.String(),
  message: Type.String(),
  detail: Type.Object({ field: Type.Optional(Type.String()) }, { additionalProperties: true }),
}, { title: 'TrustVisionErrorItem' });

/** The manual's envelope: `data` on success; on error `data` empty and `errors` listed. */
export const TrustVisionEnvelope = <T extends TSchema>(data: T) => Type.Object({
  data,
  errors: Type.Optional(Type.Array(TrustVisionErrorItem)),
});

export const TrustVisionError = Type.Object({
  data: Type.Object({}, { additionalProperties: false }),
  errors: Type.Array(TrustVisionErrorItem, { minItems: 1 }),
}, { title: 'TrustVisionError' });

/** The HTTP-level codes of the manual's tables, by Faceproof error. */
const CODE: Partial<Record<ErrorCode, { code: string; status: number }>> = {
  invalid_parameter: { code: 'invalid_parameter_exception', status: 400 },
  base64_decode_failed: { code: 'invalid_parameter_exception', status: 400 },
  template_invalid: { code: 'invalid_parameter_exception', status: 400 },
  invalid_chip_data: { code: 'invalid_parameter_exception', status: 400 },
  template_version_mismatch: { code: 'invalid_parameter_exception', status: 400 },
  image_dimensions_invalid: { code: 'invalid_parameter_exception', status: 400 },
  already_exists: { code: 'invalid_parameter_exception', status: 400 },
  transaction_closed: { code: 'invalid_parameter_exception', status: 400 },
  request_time_too_skewed: { code: 'request_time_too_skewed', status: 400 },
  unauthenticated: { code: 'access_denied_exception', status: 401 },
  invalid_credentials: { code: 'access_denied_exception', status: 401 },
  invalid_signature: { code: 'access_denied_exception', status: 401 },
  request_replayed: { code: 'access_denied_exception', status: 401 },
  token_expired: { code: 'access_denied_exception', status: 401 },
  key_expired: { code: 'access_denied_exception', status: 401 },
  key_revoked: { code: 'access_denied_exception', status: 401 },
  client_disabled: { code: 'access_denied_exception', status: 401 },
  insufficient_scope: { code: 'access_denied_exception', status: 401 },
  method_not_allowed: { code: 'not_allow_delete_exception', status: 405 },
  request_timeout: { code: 'request_timeout_exception', status: 408 },
  image_too_large: { code: 'image_too_large_exception', status: 413 },
  payload_too_large: { code: 'image_too_large_exception', status: 413 },
  invalid_image_format: { code: 'invalid_image_format_exception', status: 415 },
  unsupported_media_type: { code: 'invalid_image_format_exception', status: 415 },
  invalid_file_format: { code: 'invalid_file_format_exception', status: 415 },
  too_many_requests: { code: 'rate_limit_exception', status: 429 },
  rate_limit_exceeded: { code: 'rate_limit_exception', status: 429 },
  internal_error: { code: 'internal_server_error', status: 500 },
  service_unavailable: { code: 'internal_server_error', status: 500 },
};

/**
 * Which 404 the manual names: a request looked up by id, a face-authentication user, a file, or
 * (every other table) an image.
 */
function notFoundCode(path: string, field: string | undefined, routed: boolean): string {
  // A path that names no operation: the manual has no code for it.
  if (!routed) return 'not_found_exception';
  if (path.startsWith('/v1/requests_by_')) return 'request_not_found_exception';
  // A face-authentication call names its user (core's `user_id`) and images: only the user is face_auth_user_not_found_exception.
  if (path.startsWith('/v1/face_auth') && (field === undefined || field === 'user_id')) return 'face_auth_user_not_found_exception';
  if (field === 'file_id' || path.startsWith('/v1/files')) return 'file_not_found_exception';
  return 'image_not_found_exception';
}

/** The Faceproof service of each TrustVision operation (its scope, audit service and usage). */
const SERVICES: Array<[RegExp, string]> = [
  [/^\/v1\/(images|files|delete_files|convert_pdf_sync)\b/, 'images'],
  [/^\/v1\/compare_faces_sync$/, 'compare'],
  [/^\/v1\/detect_faces_sync$/, 'detect'],
  [/^\/v1\/(verify_face_liveness_sync|verify_face_video_liveness_sync|face_otp)$/, 'liveness'],
  [/^\/v1\/verify_portrait_sanity_sync$/, 'quality'],
  [/^\/v1\/(index_faces_sync|index_faces_video|search_faces_sync|alert_faces_sync|delete_faces|search_metadata)$/, 'collections'],
  [/^\/v1\/face_auth/, 'users'],
  [/^\/v1\/verify_identity_sync$/, 'age'],
  [/^\/v1\/(read_id_card_info_sync|verify_id_card_sanity_sync|detect_id_card_tampering_sync|detect_id_cards_sync|read_doc_info_sync|verify_nfc|check_nfc|ekyc)$/, 'documents'],
  [/^\/v1\/requests_by_/, 'audit'],
  [/^\/v1\/transactions\b/, 'transactions'],
  [/^\/v1\/temporary_credential$/, 'auth'],
];

export const trustvision: DialectDescriptor = {
  name: 'trustvision',
  title: 'TrustVision (Trusting Social) API (seeds/002)',
  prefix: TRUSTVISION_PREFIX,
  serviceOf: (path) => SERVICES.find(([pattern]) => pattern.test(path))?.[1] ?? 'system',
  publicPaths: [],
  // The manual's only replay defence is its 15-minute window: a client may sign several requests in one second.
  hmac: { repeatedSignatures: true },
  statusOf: (status) => (status === 403 ? 401 : status === 409 || status === 422 ? 400 : status === 503 ? 500 : status),
  errorSchema: TrustVisionError,
  errorReply(err: FaceproofError, request: FastifyRequest): DialectReply {
    const path = (request.routeOptions.url ?? request.url.split('?')[0]).slice(TRUSTVISION_PREFIX.length);
    let known = err.code === 'not_found' ? { code: notFoundCode(path, err.field, request.routeOptions.url !== undefined), status: 404 } : CODE[err.code];
    // Uploading a file or a PDF, the manual names the 413 file_too_large_exception.
    if (known?.status === 413 && /^\/v1\/(files|convert_pdf_sync)$/.test(path)) known = { code: 'file_too_large_exception', status: 413 };
    // A selfie or original image showing more than one face: the manual's 400 incorrect_number_of_faces.
    if (err.code === 'quality_rejected' && err.message.includes('image_has_multiple_faces')) known = { code: 'incorrect_number_of_faces', status: 400 };
    // Core refusals the tables have no HTTP code for (no face, quality, short video) are invalid input here;
    // the operations that report them as a `failure` verdict do so in their own 200 answers.
    const { code, status } = known ?? { code: 'invalid_parameter_exception', status: 400 };
    if (err.status === 422) request.outcome = 'no_result';
    return {
      status,
      body: { data: {}, errors: [{ code, message: err.message, detail: err.field ? { field: err.field } : {} }] },
    };
  },
};
