import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditInputArchive, AuditTrail } from '../core/audit.ts';
import type { UsageMeter } from '../core/usage.ts';
import { serviceOf } from './route-service.ts';
import { envelope } from './envelope.ts';

declare module 'fastify' {
  interface FastifyRequest {
    auditResult?: Record<string, unknown>;
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Called with each image, video or frame found in a request (when raw inputs are kept). */
export type MediaSink = (bytes: Buffer, sha256: string) => void;

/**
 * The request's inputs without their pixels: an image or video (base64 or file) becomes its SHA-256
 * and size, a template its SHA-256; ids and small options are kept; long text is cut. `keep`, when
 * given, receives the bytes themselves.
 */
export function describeInputs(value: unknown, key = '', keep?: MediaSink): unknown {
  const media = (bytes: Buffer) => {
    const digest = sha256(bytes);
    keep?.(bytes, digest);
    return { sha256: digest, bytes: bytes.length, ...(keep ? { kept: true } : {}) };
  };
  if (Buffer.isBuffer(value)) return media(value);
  if (typeof value === 'string') {
    if (key === 'base64') return media(Buffer.from(value.replace(/^data:[^,]*,/, ''), 'base64'));
    if (key === 'template') return { template_sha256: sha256(Buffer.from(value)) };
    return value.length > 200 ? `${value.slice(0, 200)}…` : value;
  }
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => describeInputs(v, key, keep));
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1 && entries[0][0] === 'base64') return describeInputs(entries[0][1], 'base64', keep);
    return Object.fromEntries(entries.map(([k, v]) => [k, describeInputs(v, k, keep)]));
  }
  return value;
}

const RESULT_KEYS = ['decision', 'score', 'far', 'similarity', 'is_live', 'verdict', 'status', 'reason', 'signature'] as const;
const COUNTED = ['faces', 'results', 'images', 'matches', 'events', 'collections'] as const;

/** What was decided, from the body sent: the decision fields, list sizes, the error code, the signature. */
export function describeResult(payload: string): Record<string, unknown> {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    return {};
  }
  if (!body || typeof body !== 'object') return {};
  const out: Record<string, unknown> = {};
  for (const k of RESULT_KEYS) if (body[k] !== undefined) out[k] = body[k];
  for (const k of COUNTED) if (Array.isArray(body[k])) out[`${k}_count`] = (body[k] as unknown[]).length;
  const error = body.error as { code?: string } | undefined;
  if (error?.code) out.error = error.code;
  return out;
}

/** Records every /v1 request (health checks aside) in the audit trail, and counts it for its client, once its response is sent. */
export function registerAudit(app: FastifyInstance, trail: AuditTrail, usage: UsageMeter, archive?: AuditInputArchive): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (typeof payload === 'string' && audited(request)) request.auditResult = describeResult(payload);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    if (!audited(request)) return;
    const tenantId = request.caller?.tenantId ?? 'default';
    try {
      trail.record({
        tenantId,
        requestId: request.id,
        clientRequestId: envelope(request).client_request_id ?? null,
        clientId: request.caller?.clientId ?? 'anonymous',
        ...(request.transactionId ? { transactionId: request.transactionId } : {}),
        method: request.method,
        route: request.routeOptions.url ?? request.url,
        service: serviceOf(request.routeOptions.url ?? request.url),
        status: reply.statusCode,
        latencyMs: Math.round(reply.elapsedTime * 10) / 10,
        inputs: describeInputs({ params: request.params, query: request.query, body: request.body }, '', archive && ((bytes, digest) => {
          archive.keep(tenantId, digest, bytes).catch((err: unknown) => request.log.error({ err }, 'an audit input could not be kept'));
        })) as Record<string, unknown>,
        result: request.auditResult ?? {},
        at: new Date().toISOString(),
      });
    } catch (err) {
      request.log.error({ err }, 'the audit record could not be written');
    }
    if (!request.caller?.principal) return;
    try {
      usage.count(request.caller.tenantId, request.caller.clientId, serviceOf(request.routeOptions.url ?? request.url), reply.statusCode, !!request.routeOptions.config.usesEngine, new Date());
    } catch (err) {
      request.log.error({ err }, 'usage could not be counted');
    }
  });
}

function audited(request: FastifyRequest): boolean {
  const route = request.routeOptions.url ?? request.url;
  return route.startsWith('/v1/') && route !== '/v1/health';
}
