import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FaceproofError, type ErrorCode } from '../core/errors.ts';
import { envelope } from './envelope.ts';
import { dialectOf } from './dialects/registry.ts';

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
const MULTIPART_PARSE_ERROR = /^(Multipart: |Malformed part header|Unexpected end of (multipart data|form)|Part terminated early|The needle cannot have a length bigger than)/;

/** Answers a failure: in the vendor's shape on a dialect's routes, as {"request_id", "error"} elsewhere. */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: FaceproofError) {
  const vendor = dialectOf(request.routeOptions.url ?? request.url);
  if (vendor) {
    const answer = vendor.dialect.errorReply(err, request);
    if (answer.headers) reply.headers(answer.headers);
    return reply.code(answer.status).send(answer.body);
  }
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
    const { path, message } = describeValidation(fe.validation as ValidationIssue[]);
    const field = path || (fe.validationContext === 'body' ? undefined : fe.validationContext);
    const text = `${fe.validationContext ?? 'request'}${path ? `.${path}` : ''} ${message}`;
    return (fe.validation as ValidationIssue[])[0]?.keyword === 'required' ? FaceproofError.missing(text, field) : new FaceproofError('invalid_parameter', text, field);
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

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: { missingProperty?: string; additionalProperty?: string; allowedValue?: unknown; allowedValues?: unknown[] };
}

/**
 * One readable sentence from Ajv's errors: the allowed values of an enumeration (a union of
 * literals reports one `const` error per value), the name of an unknown field, the fields one of
 * which a union of objects needs.
 */
export function describeValidation(issues: ValidationIssue[]): { path: string; message: string } {
  const dotted = (p: string) => p.slice(1).replace(/\//g, '.');
  const first = issues[0];
  if (!first) return { path: '', message: 'is invalid' };
  const union = issues.find((i) => i.keyword === 'anyOf' || i.keyword === 'oneOf');
  if (union) {
    const branches = issues.filter((i) => i !== union && i.instancePath.startsWith(union.instancePath));
    const path = dotted(union.instancePath);
    const consts = branches.filter((i) => i.keyword === 'const' && i.instancePath === union.instancePath);
    const types = [...new Set(branches.filter((i) => i.keyword === 'type' && i.instancePath === union.instancePath).map((i) => i.message?.replace(/^must be /, '')))];
    if (consts.length) {
      const values = consts.map((i) => JSON.stringify(i.params.allowedValue));
      return { path, message: `must be one of ${values.join(', ')}${types.length ? ` or ${types.join(' or ')}` : ''}` };
    }
    const unknown = branches.find((i) => i.keyword === 'additionalProperties');
    const needed = [...new Set(branches.filter((i) => i.keyword === 'required' && i.instancePath === union.instancePath).map((i) => i.params.missingProperty))];
    if (needed.length) {
      const extra = unknown ? ` (unknown field "${unknown.params.additionalProperty}")` : '';
      return { path, message: `must be an object with one of the fields ${needed.map((n) => `"${n}"`).join(', ')}${extra}` };
    }
    if (types.length === branches.length && types.length > 0) return { path, message: `must be ${types.join(' or ')}` };
  }
  if (first.keyword === 'enum' && first.params.allowedValues) {
    return { path: dotted(first.instancePath), message: `must be one of ${first.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}` };
  }
  if (first.keyword === 'additionalProperties' && first.params.additionalProperty !== undefined) {
    const name = first.params.additionalProperty;
    const parent = dotted(first.instancePath);
    return { path: parent ? `${parent}.${name}` : name, message: 'is not a known field' };
  }
  if (first.keyword === 'required' && first.params.missingProperty !== undefined) {
    const parent = dotted(first.instancePath);
    const name = first.params.missingProperty;
    return { path: parent ? `${parent}.${name}` : name, message: 'is required' };
  }
  return { path: dotted(first.instancePath), message: first.message ?? 'is invalid' };
}
