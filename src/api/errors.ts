import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FaceproofError, type ErrorCode } from '../core/errors.ts';
import { envelope } from './envelope.ts';

/** Fastify's and its plugins' own error codes, mapped onto the public ones. */
const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_parameter',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_parameter',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_parameter',
  FST_REQ_FILE_TOO_LARGE: 'image_too_large',
  FST_FILES_LIMIT: 'invalid_parameter',
  FST_FIELDS_LIMIT: 'invalid_parameter',
  FST_PARTS_LIMIT: 'invalid_parameter',
  FST_PROTO_VIOLATION: 'invalid_parameter',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
  FST_ERR_BAD_URL: 'invalid_parameter',
  FST_ERR_ASYNC_CONSTRAINT: 'invalid_parameter',
};

/** The multipart parser (busboy) throws plain errors; these are its messages for malformed bodies. */
const MULTIPART_PARSE_ERROR = /^(Multipart: |Malformed part header|Unexpected end of (multipart data|form)|Part terminated early)/;

export function sendError(request: FastifyRequest, reply: FastifyReply, err: FaceproofError) {
  const error: { code: string; message: string; field?: string } = { code: err.code, message: err.message };
  if (err.field) error.field = err.field;
  return reply.code(err.status).send({ ...envelope(request), error });
}

/** Turns anything thrown into {"error": {code, message, field?}} with the documented status. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | FaceproofError | Error, request, reply) => {
    return sendError(request, reply, toPublicError(err, request));
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new FaceproofError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}

function toPublicError(err: FastifyError | FaceproofError | Error, request: FastifyRequest): FaceproofError {
  if (err instanceof FaceproofError) return err;
  const fe = err as FastifyError & { validationContext?: string };
  if (fe.validation) {
    const first = fe.validation[0];
    const where = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : (first?.params as { missingProperty?: string })?.missingProperty;
    const field = where || (fe.validationContext === 'body' ? undefined : fe.validationContext);
    return new FaceproofError('invalid_parameter', `${fe.validationContext ?? 'request'}${where ? `.${where}` : ''} ${first?.message ?? 'is invalid'}`, field);
  }
  const mapped = fe.code ? FRAMEWORK_CODES[fe.code] : undefined;
  if (mapped) return new FaceproofError(mapped, fe.message);
  if (MULTIPART_PARSE_ERROR.test(err.message)) {
    return new FaceproofError('invalid_parameter', `the multipart body cannot be parsed: ${err.message}`);
  }
  if (err instanceof SyntaxError || err instanceof RangeError) {
    // JSON.parse failures and stack exhaustion on absurdly nested input are the client's doing.
    return new FaceproofError('invalid_parameter', `the request body is not acceptable JSON: ${err.message}`);
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new FaceproofError(fe.statusCode === 413 ? 'payload_too_large' : fe.statusCode === 415 ? 'unsupported_media_type' : 'invalid_parameter', fe.message);
  }
  request.log.error({ err }, 'unhandled error');
  return new FaceproofError('internal_error', 'an internal error occurred; the request id identifies it in the server log');
}
