import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ErrorCode, FaceproofError } from '../../../core/errors.ts';
import type { DialectDescriptor, DialectReply } from '../dialect.ts';

export const TOKEN_PATH = '/openapi/auth/ticket/v1/generate-token';
export const CHECK_PATH = '/openapi/face-recognition/v4/check';

/** Whether ADVANCE charges for the answer (its manual tags every status code `free` or `pay`). */
export type PricingStrategy = 'FREE' | 'PAY';

/** ADVANCE's response: every answer, success or failure, has these six fields. */
export const AdvanceResponse = <T extends ReturnType<typeof Type.Object>>(data: T) => Type.Object({
  code: Type.String({ description: 'Status code: SUCCESS or one of the codes of docs/dialects.md' }),
  message: Type.String(),
  data: Type.Union([data, Type.Null()]),
  extra: Type.Union([Type.String(), Type.Null()], { description: 'Exception message, where there is one' }),
  transactionId: Type.String({ description: "The request id (Faceproof's X-Request-Id): the audit record's key" }),
  pricingStrategy: Type.Union([Type.Literal('FREE'), Type.Literal('PAY')]),
}, { title: 'AdvanceResponse' });

const AdvanceError = AdvanceResponse(Type.Object({}));

/** An ADVANCE status code with its message (the manual's wording) and whether it is charged. */
interface AdvanceCode { code: string; message: string; pricing: PricingStrategy }

const IAM = (message: string): AdvanceCode => ({ code: 'IAM_FAILED', message, pricing: 'FREE' });
const CLIENT_ERROR: Partial<Record<ErrorCode, string>> = {
  not_found: 'HTTP 404 - Not Found',
  method_not_allowed: 'HTTP 405 - Method Not Allowed',
  unsupported_media_type: 'HTTP 415 - Unsupported Media Type',
  payload_too_large: 'HTTP 413 - Payload Too Large',
};

/** Which picture a failure is about (the core names them source and target): the manual's codes name the first or the second. */
const side = (field: string | undefined): 'FIRST' | 'SECOND' => (/^(secondImage|target)/.test(field ?? '') ? 'SECOND' : 'FIRST');
const sideWord = (field: string | undefined) => (side(field) === 'FIRST' ? 'first' : 'second');

/** The manual's status code for a Faceproof error on one of ADVANCE's routes. */
export function advanceCodeOf(err: FaceproofError, path: string): AdvanceCode {
  const onToken = path === TOKEN_PATH;
  switch (err.code) {
    case 'invalid_parameter':
      if (onToken && err.field === 'timestamp') return { code: 'PARAMETER_ERROR', message: 'Timestamp error', pricing: 'FREE' };
      if (err.missing) return onToken ? { code: 'PARAMETER_ERROR', message: 'Parameter should not be empty', pricing: 'FREE' } : { code: 'EMPTY_PARAMETER_ERROR', message: 'Parameter should not be empty', pricing: 'FREE' };
      return { code: 'PARAMETER_ERROR', message: err.message, pricing: 'FREE' };
    case 'request_time_too_skewed':
      return onToken ? { code: 'PARAMETER_ERROR', message: 'Timestamp error', pricing: 'FREE' } : IAM('Access denied: Token not found or expired');
    case 'invalid_signature':
      return onToken ? { code: 'PARAMETER_ERROR', message: 'Signature error', pricing: 'FREE' } : IAM('Access denied: Token not found or expired');
    case 'invalid_credentials':
      return onToken ? IAM('Access Key not found') : IAM('Access denied: Token not found or expired');
    case 'unauthenticated':
    case 'token_expired':
    case 'key_expired':
    case 'key_revoked':
    case 'request_replayed':
      return IAM('Access denied: Token not found or expired');
    case 'client_disabled':
      return onToken ? { code: 'ACCOUNT_DISABLED', message: 'Account Disabled', pricing: 'FREE' } : IAM('Account is disabled. Please contact your sales manager for help');
    case 'insufficient_scope':
      return IAM('You are not authorized by the Identity and Access Management system');
    case 'base64_decode_failed':
    case 'invalid_image_format':
    case 'invalid_file_format':
      return { code: 'IMAGE_INVALID_FORMAT', message: 'Invalid image format, image format should be one of jpeg/jpg/png, and request content type should be image/jpeg or image/png', pricing: 'FREE' };
    case 'image_too_large':
    case 'image_dimensions_invalid':
      return { code: 'IMAGE_INVALID_SIZE', message: 'Invalid image size, max image size should be less than 2M, and image dimension should be between 256 * 256 and 4096 * 4096', pricing: 'FREE' };
    case 'payload_too_large':
      // Two pictures of under 2 MB each fit the body limit: a larger body is a picture over it.
      return onToken ? { code: 'CLIENT_ERROR', message: CLIENT_ERROR.payload_too_large!, pricing: 'FREE' } : advanceCodeOf({ ...err, code: 'image_too_large' } as FaceproofError, path);
    case 'no_face_detected':
      return { code: `NO_FACE_DETECTED_FROM_${side(err.field)}_IMAGE`, message: `No Face detected from the uploaded ${sideWord(err.field)} picture`, pricing: 'PAY' };
    case 'quality_rejected':
      return { code: `${side(err.field)}_IMAGE_LOW_QUALITY_FACE`, message: `Face quality is too low of the uploaded ${sideWord(err.field)} picture`, pricing: 'PAY' };
    case 'too_many_requests':
    case 'rate_limit_exceeded':
      return { code: 'SERVICE_BUSY', message: 'Rate limit is exceeded, please retry after the suggested time in HTTP Header.', pricing: 'FREE' };
    case 'request_timeout':
      return { code: 'RETRY_LATER', message: 'Query failed, please retry after the suggested time in HTTP Header.', pricing: 'FREE' };
    case 'internal_error':
    case 'service_unavailable':
      return { code: 'ERROR', message: 'Server error', pricing: 'FREE' };
    default: {
      const client = CLIENT_ERROR[err.code];
      return client ? { code: 'CLIENT_ERROR', message: client, pricing: 'FREE' } : { code: 'PARAMETER_ERROR', message: err.message, pricing: 'FREE' };
    }
  }
}

/** The codes whose manual examples carry no exception message. */
const WITHOUT_EXTRA = /^(IAM_FAILED|ACCOUNT_DISABLED|IMAGE_INVALID_|NO_FACE_|FIRST_IMAGE_|SECOND_IMAGE_|SERVICE_BUSY|RETRY_LATER)/;

/**
 * ADVANCE answers every request with HTTP 200 and its status code in the body (its manual: SERVICE_BUSY
 * "may migrate to HTTP 429 in the future"); only a server error is a 5xx here.
 */
export const advance: DialectDescriptor = {
  name: 'advance',
  title: 'ADVANCE.AI face comparison and token authentication (seeds/003)',
  prefix: '/advance',
  serviceOf: (path) => (path === CHECK_PATH ? 'compare' : path === TOKEN_PATH ? 'auth' : 'system'),
  publicPaths: [TOKEN_PATH],
  statusOf: (status) => (status >= 500 ? 500 : 200),
  errorSchema: AdvanceError,
  errorReply(err: FaceproofError, request: FastifyRequest): DialectReply {
    const path = (request.routeOptions.url ?? request.url.split('?')[0]).slice(advance.prefix.length);
    const c = advanceCodeOf(err, path);
    // Charged answers are processed work; free ones were refused before any (usage metering).
    request.outcome = c.pricing === 'PAY' ? 'no_result' : err.status >= 500 ? 'failed' : 'rejected';
    return {
      status: err.status >= 500 ? 500 : 200,
      // SERVICE_BUSY keeps the Retry-After the rate limit set; a timed-out request is worth another try later.
      headers: c.code === 'RETRY_LATER' ? { 'retry-after': '10' } : undefined,
      body: { code: c.code, message: c.message, data: null, extra: WITHOUT_EXTRA.test(c.code) ? null : err.message, transactionId: request.id, pricingStrategy: c.pricing },
    };
  },
};
