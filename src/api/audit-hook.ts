import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditInputArchive, AuditTrail } from '../core/audit.ts';
import type { Outcome, UsageMeter } from '../core/usage.ts';
import { serviceOf } from './route-service.ts';
import { envelope } from './envelope.ts';

declare module 'fastify' {
  interface FastifyRequest {
    auditResult?: Record<string, unknown>;
    /** How the request ended for billing, where its status does not say (a vendor dialect that answers failures with 200). */
    outcome?: Outcome;
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Called with each image, video or frame found in a request (when raw inputs are kept). */
export type MediaSink = (bytes: Buffer, sha256: string) => void;

/** How deep a request's inputs are described: what lies deeper is named, not walked. */
const MAX_DEPTH = 8;

/**
 * The request's inputs without their pixels: an image or video (base64 or file) becomes its SHA-256
 * and size, a template its SHA-256; ids and small options are kept; long text is cut. `keep`, when
 * given, receives the bytes themselves. Whatever a client sent can be described: numbers JSON
 * cannot hold (1e400 parses to Infinity) become text, and nesting, cycles and objects that are not
 * plain data (a half-read multipart body) are cut short, so no input can cost a request its record.
 */
export function describeInputs(value: unknown, key = '', keep?: MediaSink, depth = 0): unknown {
  const media = (bytes: Buffer) => {
    const digest = sha256(bytes);
    keep?.(bytes, digest);
    return { sha256: digest, bytes: bytes.length, ...(keep ? { kept: true } : {}) };
  };
  if (Buffer.isBuffer(value)) return media(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'string') {
    if (key === 'base64') return media(Buffer.from(value.replace(/^data:[^,]*,/, ''), 'base64'));
    if (key === 'template') return { template_sha256: sha256(Buffer.from(value)) };
    return value.length > 200 ? `${value.slice(0, 200)}…` : value;
  }
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => describeInputs(v, key, keep, depth + 1));
  // Plain data: object literals, null-prototype maps (Fastify's route params), nothing with a class.
  const proto = Object.getPrototypeOf(value) as object | null;
  const plain = proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null;
  if (!plain) return `[${(value as object).constructor?.name || 'object'}]`;
  const entries = Object.entries(value as Record<string, unknown>).slice(0, 100);
  if (entries.length === 1 && entries[0][0] === 'base64') return describeInputs(entries[0][1], 'base64', keep, depth + 1);
  return Object.fromEntries(entries.map(([k, v]) => [k.length > 100 ? `${k.slice(0, 100)}…` : k, describeInputs(v, k, keep, depth + 1)]));
}

const RESULT_KEYS = ['decision', 'score', 'far', 'similarity', 'is_live', 'verdict', 'status', 'reason', 'signature'] as const;
const COUNTED = ['faces', 'results', 'images', 'matches', 'events', 'collections'] as const;

type Box = { x: number; y: number; width: number; height: number };
const boxOf = (v: unknown): Box | undefined => {
  const b = (v as { box?: Record<string, unknown> } | null)?.box;
  if (!b || typeof b !== 'object') return undefined;
  const { x, y, width, height } = b;
  return [x, y, width, height].every((n) => typeof n === 'number' && Number.isFinite(n)) ? { x, y, width, height } as Box : undefined;
};

/**
 * Where the answer found faces: the boxes of each top-level field holding a face or a list of faces
 * (`faces`, `source_face`, `target_face`, `query_faces`…), in the image's pixels, 50 a field at
 * most. Numbers only, no picture: with FACEPROOF_AUDIT_KEEP_INPUTS the console draws them over the
 * kept input; without it they still say where in the judged image (known by its digest) the faces were.
 */
function boxesOf(body: Record<string, unknown>): Record<string, Box[]> | undefined {
  const out: Record<string, Box[]> = {};
  for (const [k, v] of Object.entries(body).slice(0, 100)) {
    const found = (Array.isArray(v) ? v.slice(0, 50) : [v]).map(boxOf).filter((b): b is Box => !!b);
    if (found.length) out[k] = found;
  }
  return Object.keys(out).length ? out : undefined;
}

/** What was decided, from the body sent: the decision fields, list sizes, face boxes, the error code, the signature. */
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
  const boxes = boxesOf(body);
  if (boxes) out.boxes = boxes;
  const error = body.error as { code?: string } | undefined;
  if (error?.code) out.error = error.code;
  return out;
}

/** Health and readiness probes: a load balancer's, answered many times a minute. */
const PROBES = new Set(['/v1/health', '/v1/health/ready']);

/**
 * Records every request, whatever its status (probes only when `auditProbes`), in the audit trail,
 * and counts it for its client, as its response is sent.
 */
export function registerAudit(app: FastifyInstance, trail: AuditTrail, usage: UsageMeter, options: { archive?: AuditInputArchive; auditProbes?: boolean } = {}): AuditRecorder {
  const { archive, auditProbes = false } = options;
  // The landing page and the console's files (GET /, /console) are pages, not requests of the API.
  const audited = (request: FastifyRequest) => !request.routeOptions.config?.staticAsset && (auditProbes || !PROBES.has(request.routeOptions.url ?? ''));
  const recorded = new WeakSet<FastifyRequest>();
  const record: AuditRecorder = async (request, reply) => {
    if (!audited(request) || recorded.has(request)) return;
    recorded.add(request);
    const tenantId = request.caller?.tenantId ?? 'default';
    // An unmatched path is recorded as sent, without its query and cut short: it names no route.
    const route = request.routeOptions.url ?? request.url.split('?')[0].slice(0, 200);
    const service = serviceOf(route);
    const base = {
      tenantId,
      requestId: request.id,
      clientRequestId: envelope(request).client_request_id ?? null,
      clientId: request.caller?.clientId ?? 'anonymous',
      ...(request.transactionId ? { transactionId: request.transactionId } : {}),
      method: request.method,
      route,
      service,
      status: reply.statusCode,
      latencyMs: Math.round(reply.elapsedTime * 10) / 10,
      result: request.auditResult ?? {},
      at: new Date().toISOString(),
    };
    try {
      const consent = consentHeaders(request);
      const inputs = describeInputs({ params: request.params, query: request.query, body: request.body, ...(consent ? { consent } : {}) }, '', archive && ((bytes, digest) => {
        archive.keep(tenantId, digest, bytes).catch((err: unknown) => request.log.error({ err }, 'an audit input could not be kept'));
      })) as Record<string, unknown>;
      await trail.record({ ...base, inputs });
    } catch (err) {
      // The request is still recorded, with why its inputs are not.
      request.log.error({ err }, 'the audit record could not be written with its inputs');
      try {
        await trail.record({ ...base, inputs: { unrecorded: String((err as Error).message ?? err).slice(0, 200) } });
      } catch (again) {
        request.log.error({ err: again }, 'the audit record could not be written');
      }
    }
    if (!request.caller?.principal) return;
    try {
      await usage.count(request.caller.tenantId, request.caller.clientId, service, reply.statusCode, !!request.routeOptions.config.usesEngine, new Date(), request.outcome);
    } catch (err) {
      request.log.error({ err }, 'usage could not be counted');
    }
  };
  // Written as the response goes out, before its first byte: a client never holds an answer whose
  // record a crash could still lose (the write is awaited, committed by then).
  app.addHook('onSend', async (request, reply, payload) => {
    if (!audited(request)) return payload;
    if (typeof payload === 'string') request.auditResult = describeResult(payload);
    await record(request, reply);
    return payload;
  });
  return record;
}

/**
 * The end user's consent as the client passed it in `X-UC-*` headers (TrustVision's user-consent
 * headers): evidence of what the person agreed to, kept with the request's record.
 */
function consentHeaders(request: FastifyRequest): Record<string, string> | undefined {
  const found = Object.entries(request.headers).filter(([name, value]) => name.startsWith('x-uc-') && value !== undefined);
  if (found.length === 0) return undefined;
  return Object.fromEntries(found.slice(0, 32).map(([name, value]) => [name, String(value).slice(0, 1000)]));
}

/** Writes a request's audit record (and counts its usage), once, as its response is sent. */
export type AuditRecorder = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
