import type { FastifyInstance, RouteOptions } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { FaceproofError } from '../core/errors.ts';
import { ErrorResponse } from './v1/schemas.ts';
import { accessOf } from './caller.ts';
import { dialectOf } from './dialects/registry.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Media types the route's body may be sent as; absent: the route takes no body. */
    bodyMediaTypes?: string[];
    /** The body has required fields, so a request without one is refused rather than read as {}. */
    bodyRequired?: boolean;
  }
}

/** The credential schemes of the OpenAPI document; every authenticated operation accepts each. */
export const SECURITY_SCHEMES = ['apiKey', 'bearer', 'accessToken', 'trustVisionHmac'] as const;

type JsonSchema = TSchema & { required?: string[]; minProperties?: number; anyOf?: JsonSchema[]; oneOf?: JsonSchema[]; type?: unknown; additionalProperties?: unknown };
type BodySchema = JsonSchema & { content?: Record<string, { schema: JsonSchema }> };

const needsFields = (s: JsonSchema): boolean => {
  const branches = s.anyOf ?? s.oneOf;
  if (branches) return branches.every(needsFields);
  return (s.required?.length ?? 0) > 0 || (s.minProperties ?? 0) > 0;
};

/**
 * Multipart text fields are checked as strictly as JSON: an unknown field (a typo such as
 * `return_template`) is refused instead of silently ignored.
 */
const strictObject = (s: JsonSchema): JsonSchema => (s.type === 'object' && s.additionalProperties === undefined ? { ...s, additionalProperties: false } : s);

/**
 * Derives what every route's contract shares from its schema and access, in one place, so the
 * OpenAPI document cannot drift from what the server does:
 * - the error statuses the shared hooks can answer (auth, scope, validation, limits, timeout,
 *   rate, internal), with the error schema;
 * - the security requirement, naming the scope the route needs;
 * - which media types the body may have and whether it may be absent.
 */
export function registerRouteContract(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const schema = route.schema as (RouteOptions['schema'] & { hide?: boolean; security?: unknown; description?: string; response?: Record<string, unknown> }) | undefined;
    if (!schema || schema.hide) return;
    const access = accessOf(route.url);
    const body = schema.body as BodySchema | undefined;
    const config = (route.config ?? {}) as NonNullable<RouteOptions['config']>;
    if (body) {
      if (body.content) {
        for (const [type, media] of Object.entries(body.content)) if (type.startsWith('multipart/')) media.schema = strictObject(media.schema);
        config.bodyMediaTypes = Object.keys(body.content);
        config.bodyRequired = Object.values(body.content).some((m) => needsFields(m.schema));
      } else {
        config.bodyMediaTypes = ['application/json'];
        config.bodyRequired = needsFields(body);
      }
      route.config = config;
    }

    const statuses = new Set<number>([408, 500]);
    if (body || schema.querystring || schema.params) statuses.add(400);
    // Fastify reads a body on every method but GET and HEAD, schema or not: too large or of an unknown type.
    const methods = ([] as string[]).concat(route.method);
    if (body || methods.some((m) => m !== 'GET' && m !== 'HEAD')) { statuses.add(413); statuses.add(415); }
    if (schema.params) statuses.add(404);
    // Any authenticated request may name a transaction (X-Transaction-Id): unknown is 404, finished 409.
    if (access !== 'public') [400, 401, 403, 404, 409, 429].forEach((s) => statuses.add(s));
    if (config.usesEngine) statuses.add(429);
    // A vendor dialect answers in its own shape, and some vendors answer failures with 200 (their
    // success schema covers them).
    const dialect = dialectOf(route.url)?.dialect;
    const errorSchema = dialect?.errorSchema ?? ErrorResponse;
    const answered = dialect ? new Set([...statuses].map((st) => dialect.statusOf(st)).filter((st) => st >= 400)) : statuses;
    const response = { ...(schema.response ?? {}) };
    for (const status of [...answered].sort()) if (!(status in response)) response[status] = errorSchema;
    schema.response = response;

    if (access === 'public') {
      schema.security = [];
    } else {
      const roles = access === 'authenticated' ? [] : [access];
      schema.security = SECURITY_SCHEMES.map((name) => ({ [name]: roles }));
      const needs = access === 'authenticated' ? 'Needs any valid credential.' : `Needs the \`${access}\` scope.`;
      schema.description = schema.description ? `${schema.description}\n\n${needs}` : needs;
    }
  });
}

/**
 * Refuses a body the route cannot read (multipart sent to a JSON-only route, JSON to a
 * multipart-only one) before it is read, and, once parsed, reads an absent body as {} where every
 * field is optional and refuses it where some are required. Registered after the multipart plugin,
 * whose preValidation hook is what turns the parts into the body.
 */
export function registerBodyRules(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // An empty JSON body is no body: the route's rule below decides, as for a request without one.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, text, done) => {
    const body = String(text);
    if (body.trim() === '') return done(null, undefined);
    return json(request, body, done);
  });
  app.addHook('onRequest', async (request) => {
    const types = request.routeOptions.config.bodyMediaTypes;
    const header = request.headers['content-type'];
    if (!types || !header) return;
    const essence = header.split(';')[0].trim().toLowerCase();
    if (!types.includes(essence)) {
      throw new FaceproofError('unsupported_media_type', `this route takes ${types.join(' or ')}, not ${essence || 'an empty content type'}`, 'content-type');
    }
    if (essence === 'multipart/form-data') {
      // RFC 2046 limits a boundary to 70 characters; the multipart parser fails on longer ones.
      const boundary = /;\s*boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(header);
      const value = boundary?.[1] ?? boundary?.[2] ?? '';
      if (value.length < 1 || value.length > 70) throw new FaceproofError('invalid_parameter', 'a multipart body needs a boundary of 1 to 70 characters in its content type', 'content-type');
    }
  });
  // Text coerced to a number ("1e400" in a query, a path or a multipart field) can be Infinity,
  // which Ajv's range checks let through: no field of this API takes a number that is not finite.
  app.addHook('preHandler', async (request) => {
    for (const [part, value] of [['query', request.query], ['params', request.params], ['body', request.body]] as const) {
      const where = nonFinite(value);
      if (where !== undefined) throw new FaceproofError('invalid_parameter', `${part}${where ? `.${where}` : ''} must be a finite number`, where || part);
    }
  });
  app.addHook('preValidation', async (request) => {
    const { bodyMediaTypes, bodyRequired } = request.routeOptions.config;
    if (!bodyMediaTypes || request.body !== undefined) return;
    if (bodyRequired) throw FaceproofError.missing(`this request needs a body, sent as ${bodyMediaTypes.join(' or ')}`);
    request.body = {};
  });
}

/** The dotted path of the first number in `value` that is not finite, or undefined. */
function nonFinite(value: unknown, path = '', depth = 0): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || depth > 32) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = nonFinite(item, path ? `${path}.${key}` : key, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
