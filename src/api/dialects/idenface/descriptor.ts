import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { FaceproofError, type ErrorCode } from '../../../core/errors.ts';
import type { DialectDescriptor, DialectReply } from '../dialect.ts';

/** iDenFace's controller API lives at https://HOST/api/controller/…; here at http://HOST:PORT/idenface/api/controller/…. */
export const BASE = '/api/controller';
export const PATHS = {
  token: `${BASE}/generate_token`,
  publicKey: `${BASE}/retrieve_pubky`,
  cardEnroll: `${BASE}/self_card_enroll`,
  cardVerify: `${BASE}/self_card_verify`,
  selfieEnroll: `${BASE}/self_self_enroll`,
  selfieVerify: `${BASE}/self_self_verify`,
  findImage: `${BASE}/find_image`,
  photoDetect: `${BASE}/photo_detect`,
  photoCompare: `${BASE}/photo_compare`,
} as const;

/** The Face 1:1 table of the manual: name, HTTP status, message. */
export const F11: Record<string, { name: string; http: number; message: string }> = {
  F11_0000: { name: 'SUCCESS', http: 200, message: 'Operation Success.' },
  F11_0001: { name: 'INTERNAL_SERVER_ERROR', http: 500, message: 'Internal server error.' },
  F11_0200: { name: 'READ_IMAGE_FAILED', http: 200, message: 'Failed to read the uploaded image.' },
  F11_0201: { name: 'READ_VECTOR_FAILED', http: 200, message: 'Failed to read the uploaded feature vector.' },
  F11_0204: { name: 'INPUT_VALIDATE_FAILED', http: 422, message: 'Failed to validate the body of the current request.' },
  F11_0205: { name: 'BASE64_DECODE_FAILED', http: 200, message: 'Failed to decode the base64 encoded string.' },
  F11_0300: { name: 'FACE_DETECT_FAILED', http: 200, message: 'Failed to detect face from the uploaded image.' },
  F11_0301: { name: 'FACE_ANGLE_INVALID', http: 200, message: 'The angle of the detected face is invalid.' },
  F11_0302: { name: 'LANDMARK_POSITION_INVALID', http: 200, message: 'The position of the detected landmark is invalid.' },
  F11_0303: { name: 'FACE_ROLL_INVALID', http: 200, message: 'The roll of the detected face is invalid.' },
  F11_0304: { name: 'MULTIPLE_FACES_DETECTED', http: 200, message: 'Multiple faces are detected.' },
  F11_0306: { name: 'FACE_IS_OCCLUDED', http: 200, message: 'The detected face is occluded.' },
  F11_0307: { name: 'FACE_LEFT_ANGLE_INVALID', http: 200, message: 'The face left angle of the uploaded image is invalid.' },
  F11_0308: { name: 'FACE_RIGHT_ANGLE_INVALID', http: 200, message: 'The face right angle of the uploaded image is invalid.' },
  F11_0309: { name: 'FACE_ANGLE_DIFFERENCE_INVALID', http: 200, message: 'The face angle difference of the uploaded image is invalid.' },
  F11_0310: { name: 'ANGLE_DETECT_FAILED_OR_FACE_IS_OCCLUDED', http: 200, message: 'Failed to detect correct face angle or the detected face is occluded.' },
  F11_0400: { name: 'FEATURE_EXTRACT_FAILED', http: 200, message: 'Failed to extract feature from the uploaded image.' },
};

/** The Liveness table of the manual. */
export const LIV: Record<string, { name: string; http: number; message: string }> = {
  LIV_0000: { name: 'SUCCESS', http: 200, message: 'Operation Success.' },
  LIV_0001: { name: 'INTERNAL_SERVER_ERROR', http: 500, message: 'Internal Server Error' },
  LIV_0200: { name: 'READ_IMAGE_FAILED', http: 400, message: 'Unable to read the uploaded image.' },
  LIV_0204: { name: 'INPUT_VALIDATE_FAILED', http: 422, message: 'Unable to verify the subject of the current request.' },
  LIV_0205: { name: 'BASE64_DECODE_FAILED', http: 400, message: 'Unable to decode the Base64 encoded string.' },
  LIV_0300: { name: 'FACE_DETECT_FAILED', http: 400, message: 'No faces detected in the uploaded image.' },
  LIV_0301: { name: 'FACE_ANGLE_INVALID', http: 400, message: 'Invalid face angles detected.' },
  LIV_0302: { name: 'LANDMARK_POSITION_INVALID', http: 400, message: 'Invalid feature point positions detected.' },
  LIV_0303: { name: 'FACE_ROLL_INVALID', http: 400, message: 'Invalid face roll angles detected.' },
  LIV_0304: { name: 'MULTIPLE_FACES_DETECTED', http: 422, message: 'Multiple faces detected.' },
  LIV_0306: { name: 'FACE_IS_OCCLUDED', http: 400, message: 'Faces in the uploaded image are obscured.' },
  LIV_0307: { name: 'FACE_LEFT_ANGLE_INVALID', http: 400, message: 'Invalid left-side face angle in the uploaded image.' },
  LIV_0308: { name: 'FACE_RIGHT_ANGLE_INVALID', http: 400, message: 'Invalid right-side face angle in the uploaded image.' },
  LIV_0309: { name: 'FACE_ANGLE_DIFFERENCE_INVALID', http: 400, message: 'Invalid difference in face angles in the uploaded image.' },
  LIV_0310: { name: 'ANGLE_DETECT_FAILED_OR_FACE_IS_OCCLUDED', http: 400, message: 'Unable to detect the correct face angles or faces are obscured in the uploaded image.' },
};

/**
 * The controller's own codes. The manual prints only IDFCTR_0000; the others are Faceproof's, named
 * after the HTTP status they come with (docs/dialects/idenface.md).
 */
export const IDFCTR: Record<string, { http: number; message: string }> = {
  IDFCTR_0000: { http: 200, message: 'Operation successful.' },
  IDFCTR_0001: { http: 500, message: 'Internal server error.' },
  IDFCTR_0204: { http: 422, message: 'Failed to validate the body of the current request.' },
  IDFCTR_0300: { http: 200, message: 'The face service could not process the uploaded image.' },
  IDFCTR_0301: { http: 400, message: 'The liveness service could not process the uploaded image.' },
  IDFCTR_0310: { http: 200, message: 'The face is not live: its probability is below liveness_threshold.' },
  IDFCTR_0311: { http: 200, message: 'The faces do not match: normalized_score is below similarity_threshold.' },
  IDFCTR_0401: { http: 401, message: 'Unauthorized: a valid JWT (Authorization: Bearer) or API key is required.' },
  IDFCTR_0403: { http: 403, message: 'Forbidden: the token does not enable this service.' },
  IDFCTR_0404: { http: 404, message: 'Not found.' },
  IDFCTR_0405: { http: 405, message: 'Method not allowed.' },
  IDFCTR_0408: { http: 408, message: 'Request timeout.' },
  IDFCTR_0409: { http: 409, message: 'Conflict.' },
  IDFCTR_0413: { http: 413, message: 'Payload too large.' },
  IDFCTR_0415: { http: 415, message: 'Unsupported media type: send application/json.' },
  IDFCTR_0429: { http: 429, message: 'Too many requests: retry later.' },
  IDFCTR_0503: { http: 503, message: 'Service unavailable.' },
};

/** transaction_status: 2 the operation completed and passed the thresholds sent, 3 it did not. */
export const PASSED = 2;
export const FAILED = 3;

/**
 * A failure whose iDenFace code the dialect knows (a face or liveness check of the manual's tables),
 * carried through the shared error path to `errorReply`.
 */
export class IdenfaceFailure extends FaceproofError {
  constructor(readonly vendorCode: string, detail: string, field?: string) {
    super('quality_rejected', detail, field);
  }
}

/** The sub-response of each operation that carries its Face 1:1 or Liveness status. */
const SUB_RESPONSE: Record<string, string> = {
  [PATHS.cardEnroll]: 'feature_extract_response',
  [PATHS.selfieEnroll]: 'face_extract_response',
  [PATHS.photoDetect]: 'face_extract_response',
  [PATHS.cardVerify]: 'face_verify_response',
  [PATHS.selfieVerify]: 'face_verify_response',
  [PATHS.photoCompare]: 'face_compare_response',
};
const FACE_ROUTES = new Set(Object.keys(SUB_RESPONSE));

const CONTROLLER_CODE: Partial<Record<ErrorCode, string>> = {
  unauthenticated: 'IDFCTR_0401', invalid_credentials: 'IDFCTR_0401', invalid_signature: 'IDFCTR_0401', request_time_too_skewed: 'IDFCTR_0401',
  request_replayed: 'IDFCTR_0401', token_expired: 'IDFCTR_0401', key_expired: 'IDFCTR_0401', key_revoked: 'IDFCTR_0401',
  client_disabled: 'IDFCTR_0403', insufficient_scope: 'IDFCTR_0403',
  not_found: 'IDFCTR_0404', method_not_allowed: 'IDFCTR_0405', request_timeout: 'IDFCTR_0408',
  template_version_mismatch: 'IDFCTR_0409', already_exists: 'IDFCTR_0409', user_inactive: 'IDFCTR_0409', transaction_closed: 'IDFCTR_0409',
  payload_too_large: 'IDFCTR_0413', unsupported_media_type: 'IDFCTR_0415',
  too_many_requests: 'IDFCTR_0429', rate_limit_exceeded: 'IDFCTR_0429', service_unavailable: 'IDFCTR_0503',
};

/** The Face 1:1 code of a core failure on a face route (image decoding, face finding, request validation). */
function faceCodeOf(err: FaceproofError): string | undefined {
  if (err instanceof IdenfaceFailure) return err.vendorCode;
  switch (err.code) {
    case 'invalid_parameter': return 'F11_0204';
    case 'base64_decode_failed': return 'F11_0205';
    case 'invalid_image_format': case 'invalid_file_format': case 'image_dimensions_invalid': case 'image_too_large': return 'F11_0200';
    case 'template_invalid': return 'F11_0201';
    case 'no_face_detected': return 'F11_0300';
    case 'quality_rejected': return 'F11_0310';
    case 'internal_error': return 'F11_0001';
    default: return undefined;
  }
}

export interface IdenfaceAnswer { status: number; code: string; body: Record<string, unknown>; workDone: boolean }

/** The operation a request to find_image turned out to be (a comparison or a photo check sent there, as the manual prints). */
export const operationOf = new WeakMap<FastifyRequest, string>();

/** The manual's envelope around a failure: top-level transaction and channel, the controller status, and the failing service's sub-response. */
export function idenfaceFailure(err: FaceproofError, request: FastifyRequest, path: string): IdenfaceAnswer {
  const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<string, unknown>;
  const transactionId = typeof body.transaction_id === 'string' && body.transaction_id !== '' ? body.transaction_id : request.id;
  const channelId = typeof body.channel_id === 'string' ? body.channel_id : null;
  const operation = operationOf.get(request) ?? path;
  const serviceCode = FACE_ROUTES.has(operation) ? faceCodeOf(err) : undefined;
  let status: number;
  let responseBody: Record<string, unknown>;
  if (serviceCode) {
    const entry = (serviceCode.startsWith('LIV_') ? LIV : F11)[serviceCode];
    status = entry.http;
    const controller = status === 422 ? 'IDFCTR_0204' : status >= 500 ? 'IDFCTR_0001' : serviceCode.startsWith('LIV_') ? 'IDFCTR_0301' : 'IDFCTR_0300';
    const sub = serviceCode.startsWith('LIV_') ? 'face_liveness_response' : SUB_RESPONSE[operation];
    responseBody = {
      status: controller, message: IDFCTR[controller].message,
      [sub]: { reason: err.field ? `${err.field}: ${err.message}` : err.message, status: serviceCode, message: entry.message, result: null },
    };
  } else {
    const controller = CONTROLLER_CODE[err.code] ?? (err.status >= 500 ? 'IDFCTR_0001' : 'IDFCTR_0204');
    status = IDFCTR[controller].http;
    responseBody = { status: controller, message: IDFCTR[controller].message, reason: err.message };
  }
  const workDone = serviceCode !== undefined && !/_(0001|0204)$/.test(serviceCode);
  return { status, workDone, code: String(responseBody.status), body: { transaction_id: transactionId, transaction_status: FAILED, channel_id: channelId, responseBody, status: status === 200 ? 'OK' : 'ERROR' } };
}

const SubResponseError = Type.Object({
  reason: Type.Union([Type.String(), Type.Null()]), status: Type.String({ description: 'F11_xxxx or LIV_xxxx' }), message: Type.String(), result: Type.Null(),
});

/** Every failure of the dialect: the manual's envelope with the controller's status and, for a face or liveness failure, the failing sub-response. */
export const IdenfaceError = Type.Object({
  transaction_id: Type.String(),
  transaction_status: Type.Integer({ description: '3: failed' }),
  channel_id: Type.Union([Type.String(), Type.Null()]),
  responseBody: Type.Object({
    status: Type.String({ description: 'IDFCTR_xxxx' }),
    message: Type.String(),
    reason: Type.Optional(Type.String()),
    feature_extract_response: Type.Optional(SubResponseError),
    face_extract_response: Type.Optional(SubResponseError),
    face_verify_response: Type.Optional(SubResponseError),
    face_compare_response: Type.Optional(SubResponseError),
    face_liveness_response: Type.Optional(SubResponseError),
  }),
  status: Type.Union([Type.Literal('OK'), Type.Literal('ERROR')]),
}, { title: 'IdenfaceError' });

const SERVICES: Record<string, string> = {
  [PATHS.token]: 'auth',
  [PATHS.publicKey]: 'auth',
  [PATHS.cardEnroll]: 'users',
  [PATHS.cardVerify]: 'users',
  [PATHS.selfieEnroll]: 'users',
  [PATHS.selfieVerify]: 'users',
  [PATHS.findImage]: 'images',
  [PATHS.photoDetect]: 'quality',
  [PATHS.photoCompare]: 'compare',
};

/**
 * Toppan iDenFace's controller API (seeds/000). Its Face 1:1 failures are HTTP 200 with the code in
 * the body, its Liveness failures 400 (422 for validation and several faces), the controller's own
 * failures the HTTP status they are named after.
 */
export const idenface: DialectDescriptor = {
  name: 'idenface',
  title: 'Toppan iDenFace controller API: token, public key, card and selfie enrolment and verification, photo checks and comparison (seeds/000)',
  prefix: '/idenface',
  serviceOf: (path) => SERVICES[path] ?? 'system',
  publicPaths: [],
  // Validation is 422 (F11_0204); a core face failure (no face, unreadable image: 400 or 422 in Faceproof) is a Face 1:1 code at 200.
  statusOf: (status) => (status === 400 ? 422 : status === 422 ? 200 : status),
  errorSchema: IdenfaceError,
  errorReply(err: FaceproofError, request: FastifyRequest): DialectReply {
    const path = (request.routeOptions.url ?? request.url.split('?')[0]).slice(idenface.prefix.length);
    const answer = idenfaceFailure(err, request, path);
    // A face or liveness code is work done on the image (billable); controller failures refused it.
    request.outcome = answer.workDone ? 'no_result' : answer.status >= 500 ? 'failed' : 'rejected';
    return { status: answer.status, body: answer.body };
  },
};
