import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import type { RequestRecord } from '../../../core/request-records.ts';
import type { AppServices } from '../../app.ts';
import { envelope } from '../../envelope.ts';
import { TRUSTVISION_PREFIX, TrustVisionEnvelope } from './descriptor.ts';

const tags = ['trustvision'];

/** Answers that are never kept: credentials (a secret), the lookups themselves, settings. */
const NOT_KEPT = /^\/v1\/(temporary_credential|requests_by_|client_settings)/;

/** The manual's service name of an operation: its first path segment without `_sync` (compare_faces, images, transactions, …). */
export function serviceName(path: string): string {
  return (path.replace(/^\/v1\//, '').split('/')[0] || 'unknown').replace(/_sync$/, '');
}

/** final_result's parts, each the latest answer of one service. */
const FINAL_PARTS: Array<[string, string]> = [
  ['card_tampering', 'detect_id_card_tampering'],
  ['card_sanity', 'verify_id_card_sanity'],
  ['search_faces', 'search_faces'],
  ['liveness_check', 'verify_face_liveness'],
  ['portrait_sanity', 'verify_portrait_sanity'],
];

type FileRef = { id: string; label: string | null };

/**
 * The stored images and files a request named (`id`, `image_id`, `file_id`, `file_ids` anywhere in
 * its body, with the `label` beside them) or made (an upload's image_id / file_id, a conversion's
 * images); a label not given is the stored one.
 */
async function inputsOf(services: AppServices, tenantId: string, body: unknown, data: Record<string, unknown>): Promise<FileRef[]> {
  const found = new Map<string, string | null>();
  const add = (id: unknown, label: unknown) => {
    if (typeof id !== 'string' || id.length === 0 || id.length > 64 || found.size >= 50) return;
    if (!found.has(id) || (found.get(id) === null && typeof label === 'string')) found.set(id, typeof label === 'string' ? label : null);
  };
  const walk = (value: unknown, depth: number) => {
    if (depth > 4 || value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return;
    if (Array.isArray(value)) { value.slice(0, 100).forEach((v) => walk(v, depth + 1)); return; }
    const o = value as Record<string, unknown>;
    for (const key of ['id', 'image_id', 'file_id']) add(o[key], o.label);
    if (Array.isArray(o.file_ids)) o.file_ids.slice(0, 100).forEach((id) => add(id, undefined));
    for (const v of Object.values(o)) walk(v, depth + 1);
  };
  walk(body, 0);
  add(data.image_id, (body as Record<string, unknown> | undefined)?.label);
  add(data.file_id, (body as Record<string, unknown> | undefined)?.label);
  if (Array.isArray(data.images)) for (const i of data.images as Array<Record<string, unknown>>) add(i?.id, i?.label);
  return Promise.all([...found].map(async ([id, label]) => {
    if (label !== null) return { id, label };
    try {
      return { id, label: id.startsWith('file_') ? (await services.files.describe(tenantId, id)).label : (await services.images.describe(tenantId, id)).label };
    } catch {
      return { id, label: null };
    }
  }));
}

/** Keeps each TrustVision answer (200, JSON, not a GET) so that requests_by_* can give it back. */
function keepAnswers(app: FastifyInstance, services: AppServices): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url;
    const records = services.requestRecords;
    if (!records || !route?.startsWith(`${TRUSTVISION_PREFIX}/`)) return payload;
    const path = route.slice(TRUSTVISION_PREFIX.length);
    const principal = request.caller?.principal;
    if (request.method === 'GET' || reply.statusCode !== 200 || typeof payload !== 'string' || NOT_KEPT.test(path) || !principal) return payload;
    try {
      const response = JSON.parse(payload) as { data?: Record<string, unknown> };
      const data = response?.data && typeof response.data === 'object' ? response.data : {};
      const tenantId = request.caller.tenantId;
      await records.keep({
        tenantId,
        requestId: typeof data.request_id === 'string' && data.request_id ? data.request_id.slice(0, 128) : request.id,
        xRequestId: envelope(request).client_request_id ?? null,
        clientId: request.caller.clientId,
        keyId: principal.keyId,
        service: serviceName(path),
        inputs: await inputsOf(services, tenantId, request.body, data),
        response,
        at: new Date().toISOString(),
      });
    } catch (err) {
      request.log.error({ err }, 'the answer could not be kept for requests_by_*');
    }
    return payload;
  });
}

function recordsOf(services: AppServices) {
  if (!services.requestRecords) throw new FaceproofError('service_unavailable', 'this server keeps no answers');
  return services.requestRecords;
}

/** One kept request as requests_by_x_req_id lists it: its answer's data with who asked and what it took. */
function listed(r: RequestRecord) {
  const response = (r.response ?? {}) as { data?: Record<string, unknown>; errors?: unknown[] };
  return {
    data: { ...(response.data ?? {}), request_id: r.requestId, x_request_id: r.xRequestId ?? '', access_key_id: r.keyId ?? '', file_ids: r.inputs.map((f) => ({ id: f.id, label: f.label ?? '' })) },
    ...(response.errors ? { errors: response.errors } : {}),
  };
}

/** final_result: the journey's input files by role, and the latest answer of each service it names. */
function finalResult(records: RequestRecord[]) {
  const files = new Map<string, string>();
  for (const r of records) for (const f of r.inputs) if (f.label && !files.has(f.id)) files.set(f.id, f.label);
  const entries = [...files];
  const selfies = entries.filter(([, label]) => label === 'portrait' || label.startsWith('selfie')).map(([id, label]) => ({ id, label }));
  const front = entries.filter(([, label]) => /^id_card\..+\.front$/.test(label)).at(-1)?.[0];
  const back = entries.filter(([, label]) => /^id_card\..+\.back$/.test(label)).at(-1)?.[0];
  const result: Record<string, unknown> = {
    full_input_file: {
      ...(front ? { id_card_front_id: front } : {}),
      ...(back ? { id_card_back_id: back } : {}),
      ...(selfies.length ? { main_selfie_id: selfies[0].id } : {}),
      selfies,
    },
  };
  for (const [part, service] of FINAL_PARTS) {
    const latest = records.filter((r) => r.service === service).at(-1);
    if (latest) result[part] = (latest.response as { data?: unknown })?.data ?? {};
  }
  return result;
}

/** A stable id for a client's channel name (the manual answers a channel_id with each transaction). */
function channelId(tenantId: string, channel: string | null): string {
  const h = createHash('sha256').update(`${tenantId}\n${channel ?? ''}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const OpenBody = Type.Object({
  reference_id: Type.Optional(Type.String({ maxLength: 128 })),
  channel_name: Type.Optional(Type.String({ maxLength: 64 })),
  metadata: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Type.Union([Type.String(), Type.Number(), Type.Boolean()]))),
  agent_number: Type.Optional(Type.String({ maxLength: 128 })),
  agent_name: Type.Optional(Type.String({ maxLength: 256 })),
  client_transaction_id: Type.Optional(Type.String({ maxLength: 128 })),
  client_apk_version_number: Type.Optional(Type.String({ maxLength: 64 })),
  brand_identifier: Type.Optional(Type.String({ maxLength: 128 })),
  customer_name: Type.Optional(Type.String({ maxLength: 256 })),
}, { additionalProperties: false });
const INDIA_FIELDS = ['agent_number', 'agent_name', 'client_transaction_id', 'client_apk_version_number', 'brand_identifier', 'customer_name'] as const;
const FinishBody = Type.Object({
  vilcaf_number: Type.Optional(Type.String({ maxLength: 128 })),
  status_code: Type.Optional(Type.Integer({ minimum: -2147483648, maximum: 2147483647 })),
}, { additionalProperties: false });
const TransactionParams = Type.Object({ transaction_id: Type.String({ minLength: 1, maxLength: 64 }) });

const RequestIdParams = Type.Object({ request_id: Type.String({ minLength: 1, maxLength: 128 }) });
const XRequestIdParams = Type.Object({ x_request_id: Type.String({ minLength: 1, maxLength: 128 }) });
const MaxResults = Type.Object({ max_results: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Default 100' })) }, { additionalProperties: false });
const AnyObject = Type.Object({}, { additionalProperties: true });
const FileRefs = Type.Array(Type.Object({ id: Type.String(), label: Type.String(), gesture: Type.Optional(Type.String()) }));

const SettingsData = Type.Object({
  country: Type.String(),
  card_types: Type.Array(AnyObject),
  settings: AnyObject,
});
const SettingsQuery = Type.Object({ flow_id: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false });
const SettingsBody = Type.Object({
  flow_id: Type.Optional(Type.String({ maxLength: 64 })),
  country: Type.Optional(Type.String({ minLength: 2, maxLength: 8 })),
  card_types: Type.Optional(Type.Array(AnyObject, { maxItems: 100 })),
  settings: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 200 })),
}, { additionalProperties: false });

/** TrustVision's transactions, request records (requests_by_*) and client settings. */
export function trustvisionRecordRoutes(app: FastifyInstance, services: AppServices): void {
  keepAnswers(app, services);
  const { transactions } = services;

  app.post<{ Body: Static<typeof OpenBody> }>(`${TRUSTVISION_PREFIX}/v1/transactions`, {
    schema: {
      tags, summary: 'Create a transaction (a customer journey); later requests join it with X-Transaction-Id',
      body: OpenBody,
      response: { 200: TrustVisionEnvelope(Type.Object({ id: Type.String(), channel_id: Type.String() })) },
    },
  }, async (request) => {
    const b = request.body ?? {};
    const india = Object.fromEntries(INDIA_FIELDS.filter((k) => b[k] !== undefined).map((k) => [k, b[k]]));
    const t = await transactions.open(request.caller.tenantId, request.caller.clientId, { referenceId: b.reference_id, channel: b.channel_name, metadata: { ...(b.metadata ?? {}), ...india } });
    return { data: { id: t.id, channel_id: channelId(t.tenantId, t.channel) } };
  });

  app.post<{ Params: Static<typeof TransactionParams>; Body: Static<typeof FinishBody> }>(`${TRUSTVISION_PREFIX}/v1/transactions/:transaction_id/finish`, {
    schema: {
      tags, summary: 'Finish a transaction; requests naming it afterwards are refused',
      params: TransactionParams,
      body: FinishBody,
      response: { 200: TrustVisionEnvelope(Type.Object({ id: Type.String() })) },
    },
  }, async (request) => {
    const b = request.body ?? {};
    const given = Object.fromEntries(Object.entries({ vilcaf_number: b.vilcaf_number, status_code: b.status_code }).filter(([, v]) => v !== undefined));
    try {
      const t = await transactions.finish(request.caller.tenantId, request.params.transaction_id, Object.keys(given).length ? JSON.stringify(given) : undefined);
      return { data: { id: t.id } };
    } catch (err) {
      // The manual's table for finish has no 404: an unknown transaction is a parameter that violates a constraint.
      if (err instanceof FaceproofError && err.code === 'not_found') throw new FaceproofError('invalid_parameter', `no transaction ${request.params.transaction_id}`, 'transaction_id');
      throw err;
    }
  });

  app.get<{ Params: Static<typeof RequestIdParams> }>(`${TRUSTVISION_PREFIX}/v1/requests_by_req_id/:request_id`, {
    schema: {
      tags, summary: "Get request by request_id: the earlier request's answer as it was sent, with its service name",
      params: RequestIdParams,
      response: { 200: TrustVisionEnvelope(Type.Object({ service: Type.String(), request_id: Type.String() }, { additionalProperties: true })) },
    },
  }, async (request) => {
    const r = await recordsOf(services).get(request.caller.tenantId, request.params.request_id);
    const response = (r.response ?? {}) as { data?: Record<string, unknown> };
    return { ...response, data: { ...(response.data ?? {}), request_id: r.requestId, service: r.service } };
  });

  app.get<{ Params: Static<typeof XRequestIdParams>; Querystring: Static<typeof MaxResults> }>(`${TRUSTVISION_PREFIX}/v1/requests_by_x_req_id/:x_request_id`, {
    schema: {
      tags, summary: 'Get requests by x-request-id: every kept request sent with that X-Request-Id, by service, their input files and final_result',
      params: XRequestIdParams,
      querystring: MaxResults,
      response: {
        200: TrustVisionEnvelope(Type.Object({
          file_ids: FileRefs,
          final_result: Type.Object({
            full_input_file: Type.Object({
              id_card_front_id: Type.Optional(Type.String()), id_card_back_id: Type.Optional(Type.String()), main_selfie_id: Type.Optional(Type.String()),
              selfies: FileRefs,
            }),
          }, { additionalProperties: true }),
        }, { additionalProperties: Type.Array(Type.Object({ data: AnyObject, errors: Type.Optional(Type.Array(AnyObject)) })) })),
      },
    },
  }, async (request) => {
    const found = await recordsOf(services).byXRequestId(request.caller.tenantId, request.params.x_request_id, request.query.max_results ?? 100);
    if (found.length === 0) throw new FaceproofError('not_found', `no kept request with x-request-id ${request.params.x_request_id}`, 'x_request_id');
    const byService: Record<string, unknown[]> = {};
    for (const r of found) (byService[r.service] ??= []).push(listed(r));
    const files = new Map<string, string>();
    for (const r of found) for (const f of r.inputs) if (!files.has(f.id) || !files.get(f.id)) files.set(f.id, f.label ?? '');
    return { data: { file_ids: [...files].map(([id, label]) => ({ id, label })), ...byService, final_result: finalResult(found) } };
  });

  app.get<{ Querystring: Static<typeof SettingsQuery> }>(`${TRUSTVISION_PREFIX}/v1/client_settings`, {
    schema: {
      tags, summary: "Get client settings: the client's country, card types and SDK settings (per flow_id when given)",
      querystring: SettingsQuery,
      response: { 200: TrustVisionEnvelope(SettingsData) },
    },
  }, async (request) => ({ data: await settingsOf(services).get(request.caller.tenantId, request.caller.clientId, request.query.flow_id ?? '') }));

  app.post<{ Body: Static<typeof SettingsBody> }>(`${TRUSTVISION_PREFIX}/v1/client_settings`, {
    schema: {
      tags, summary: "Set client settings: country and card_types replace, settings merge key by key (enable_encryption stays false); answers them as GET does",
      body: SettingsBody,
      response: { 200: TrustVisionEnvelope(SettingsData) },
    },
  }, async (request) => {
    const { flow_id, ...changes } = request.body ?? {};
    return { data: await settingsOf(services).update(request.caller.tenantId, request.caller.clientId, flow_id ?? '', changes) };
  });
}

function settingsOf(services: AppServices) {
  if (!services.clientSettings) throw new FaceproofError('service_unavailable', 'this server keeps no client settings');
  return services.clientSettings;
}

