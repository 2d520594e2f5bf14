import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ErrorCode, FaceproofError } from '../../../core/errors.ts';
import type { DialectDescriptor, DialectReply } from '../dialect.ts';

/** The manual's base path, below the dialect's prefix: http://HOST:PORT/idemia/bioserver-app/v2/… */
export const APP = '/bioserver-app';

/** IDEMIA's error object (manual, "API Errors"): an identifier of the error and a message. */
export const IdemiaError = Type.Object({
  id: Type.String({ description: "Identifies the error: the request id (Faceproof's X-Request-Id), the audit record's key" }),
  message: Type.String(),
}, { title: 'IdemiaError' });

/** The manual's wording of each status it documents. */
export const STATUS_MESSAGE: Record<number, string> = {
  400: 'Something is wrong with the request',
  401: 'Authentication is required',
  403: 'Missing permissions',
  404: 'Unable to find a bio-session or a face for the given identifier',
  409: 'Conflict',
  413: 'The request was too big',
  429: 'Server is currently experiencing high demand. Request can be sent again after a few seconds.',
  500: 'Internal error',
};

/**
 * Faceproof's statuses the manual has no row for, answered with the manual's nearest: every refusal
 * of what was sent (415 media type, 422 no face or unusable picture) is its 400, a wrong method on a
 * known path its 404, a request that ran out of time or a server not ready its 429 (retry shortly).
 */
const STATUS: Record<number, number> = { 405: 404, 408: 429, 415: 400, 422: 400, 503: 429 };

/** Codes answered otherwise than their status says. */
const CODE_STATUS: Partial<Record<ErrorCode, number>> = {
  // A template of another algorithm: the manual's "newer versions … don't support the previous version".
  template_version_mismatch: 400,
};

export function idemiaStatusOf(status: number): number {
  return STATUS[status] ?? status;
}

/** The service of a path below the prefix: its scope, audit and usage. */
export function idemiaServiceOf(path: string): string {
  if (/\/(init-liveness-parameters|replay-liveness-metadata)$/.test(path)) return 'liveness';
  if (path.startsWith(`${APP}/v2/bio-sessions`) || path.startsWith(`${APP}/v3/bio-sessions`)) return 'sessions';
  if (path === `${APP}/v2/faces`) return 'detect';
  if (path === `${APP}/v2/match` || path === `${APP}/v2/match/images`) return 'compare';
  if (path === `${APP}/v2/ages`) return 'age';
  return 'system';
}

/**
 * IDEMIA BioServer answers failures with an HTTP status from the operation's table and the body
 * {"id", "message"}; the message says what was wrong, after the manual's wording of the status.
 */
export const idemia: DialectDescriptor = {
  name: 'idemia',
  title: 'IDEMIA Biometric Services (BioServer): bio-sessions, faces, matches, direct matches, ages (seeds/004)',
  prefix: '/idemia',
  serviceOf: idemiaServiceOf,
  publicPaths: [],
  statusOf: idemiaStatusOf,
  errorSchema: IdemiaError,
  errorReply(err: FaceproofError, request: FastifyRequest): DialectReply {
    const status = CODE_STATUS[err.code] ?? idemiaStatusOf(err.status);
    // No face, an unusable picture: the work was done and found nothing (usage metering).
    if (err.status === 422) request.outcome = 'no_result';
    // The rate limit and the engine's queue set their own Retry-After; a timeout or a server not ready is worth another try shortly.
    const headers = err.code === 'request_timeout' || err.code === 'service_unavailable' ? { 'retry-after': '2' } : undefined;
    // A path no route serves names no bio-session or face.
    const lead = status === 404 && err.field === undefined ? 'Not found' : STATUS_MESSAGE[status] ?? STATUS_MESSAGE[400];
    const detail = err.field ? `${err.message} (${err.field})` : err.message;
    return { status, body: { id: request.id, message: `${lead}: ${detail}` }, headers };
  },
};
