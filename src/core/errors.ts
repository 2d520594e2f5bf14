/**
 * Every error a client can receive, with its HTTP status. The table is the contract: docs/errors.md
 * documents each code, and the API serialises errors as {"error": {"code", "message", "field"?}}.
 */
export const ERROR_STATUS = {
  invalid_parameter: 400,
  base64_decode_failed: 400,
  invalid_image_format: 400,
  invalid_file_format: 400,
  image_dimensions_invalid: 400,
  template_invalid: 400,
  invalid_chip_data: 400,
  invalid_certificate: 400,
  unauthenticated: 401,
  invalid_credentials: 401,
  invalid_signature: 401,
  request_time_too_skewed: 401,
  request_replayed: 401,
  token_expired: 401,
  key_expired: 401,
  key_revoked: 401,
  client_disabled: 403,
  insufficient_scope: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  template_version_mismatch: 409,
  already_exists: 409,
  user_inactive: 409,
  transaction_closed: 409,
  image_too_large: 413,
  payload_too_large: 413,
  unsupported_media_type: 415,
  no_face_detected: 422,
  quality_rejected: 422,
  short_time: 422,
  invalid_video: 422,
  no_document_detected: 422,
  challenge_invalid: 409,
  too_many_requests: 429,
  rate_limit_exceeded: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class FaceproofError extends Error {
  /** An invalid_parameter that is a required field (or body) left out: some vendor APIs tell it apart. */
  missing = false;

  constructor(readonly code: ErrorCode, message: string, readonly field?: string) {
    super(message);
    this.name = 'FaceproofError';
  }

  /** A required field or body that the request left out. */
  static missing(message: string, field?: string): FaceproofError {
    const err = new FaceproofError('invalid_parameter', message, field);
    err.missing = true;
    return err;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}
