import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { AuditInputArchive, AuditRecord, AuditTrail } from '../../core/audit.ts';
import { FaceproofError } from '../../core/errors.ts';
import { envelope } from '../envelope.ts';
import { Envelope, errorResponses } from './schemas.ts';

const RecordSchema = Type.Object({
  seq: Type.Integer(), request_id: Type.String(), client_request_id: Type.Union([Type.String(), Type.Null()]), client_id: Type.String(),
  transaction_id: Type.Optional(Type.String()), method: Type.String(), route: Type.String(), service: Type.String(), status: Type.Integer(), latency_ms: Type.Number(),
  inputs: Type.Object({}, { additionalProperties: true, description: 'Parameters and body, images and templates replaced by their SHA-256' }),
  result: Type.Object({}, { additionalProperties: true, description: 'Decision fields, list sizes, error code and signature of the response' }),
  at: Type.String(), prev_hash: Type.String(), hash: Type.String(),
}, { title: 'AuditRecord' });

const ListQuery = Type.Object({
  client_request_id: Type.Optional(Type.String({ maxLength: 128, description: 'Every request that sent this X-Request-Id' })),
  transaction_id: Type.Optional(Type.String({ maxLength: 64, description: 'Every request made within this transaction' })),
  client_id: Type.Optional(Type.String({ maxLength: 64 })),
  service: Type.Optional(Type.String({ maxLength: 32 })),
  status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
  decision: Type.Optional(Type.String({
    minLength: 1, maxLength: 64,
    description: 'Records whose result says this word (exact, case-sensitive): its decision (match, uncertain, no_match), else its status when that is text (SUCCESS, FAILED, active…), else its verdict (quality good, face_too_small…; age_match…)',
  })),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc', description: 'asc: oldest first (the default); desc: newest first. A next_cursor pages on in the same order' })),
}, { additionalProperties: false });

const VerificationSchema = Type.Object({
  ...Envelope,
  valid: Type.Boolean(),
  records: Type.Integer({ description: 'Records of this tenant checked' }),
  chain_records: Type.Integer({ description: 'Records of the whole chain checked (every tenant\'s records are links of one chain)' }),
  broken_at: Type.Optional(Type.Integer({ description: 'Sequence number of the first record that breaks the chain' })),
  reason: Type.Optional(Type.String()),
  ms: Type.Number({ description: 'Time the check took' }),
}, { title: 'AuditVerification' });

/** Records per page of the NDJSON export. */
const EXPORT_PAGE = 1000;

const describe = (r: AuditRecord) => ({
  seq: r.seq, request_id: r.requestId, client_request_id: r.clientRequestId, client_id: r.clientId, ...(r.transactionId ? { transaction_id: r.transactionId } : {}), method: r.method, route: r.route,
  service: r.service, status: r.status, latency_ms: r.latencyMs, inputs: r.inputs, result: r.result, at: r.at, prev_hash: r.prevHash, hash: r.hash,
});

/** Looking up the audit trail: one request, a filtered page, or an export of everything (NDJSON). */
export function auditRoutes(app: FastifyInstance, trail: AuditTrail, archive?: AuditInputArchive): void {
  const tags = ['audit'];
  app.get<{ Params: { request_id: string } }>('/v1/audit/records/:request_id', {
    schema: { tags, summary: 'The audit record of one request', params: Type.Object({ request_id: Type.String({ minLength: 1, maxLength: 64 }) }), response: { 200: Type.Object({ ...Envelope, record: RecordSchema }), ...errorResponses(400, 404) } },
  }, async (request) => ({ ...envelope(request), record: describe(await trail.get(request.caller.tenantId, request.params.request_id)) }));

  app.get<{ Querystring: Static<typeof ListQuery> }>('/v1/audit/records', {
    schema: {
      tags, summary: 'Audit records, oldest first (or newest first with order=desc), filtered',
      description: 'By client request id (all requests that shared one X-Request-Id), transaction, client, service, HTTP status, decision word and time range, filtered by the database; next_cursor pages on in the same order.',
      querystring: ListQuery, response: { 200: Type.Object({ ...Envelope, records: Type.Array(RecordSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses(400) },
    },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 100;
    const desc = q.order === 'desc';
    const cursor = q.cursor ? Number(q.cursor) : undefined;
    const records = await trail.list(request.caller.tenantId, {
      clientRequestId: q.client_request_id, transactionId: q.transaction_id, clientId: q.client_id, service: q.service, status: q.status, decision: q.decision, from: q.from, to: q.to,
      ...(desc ? { beforeSeq: cursor, newestFirst: true } : { afterSeq: cursor }), limit,
    });
    return { ...envelope(request), records: records.map(describe), next_cursor: records.length === limit ? String(records[records.length - 1].seq) : null };
  });

  app.get('/v1/audit/verify', {
    schema: {
      tags, summary: 'Verify the audit trail\'s hash chain',
      description: 'Recomputes every record\'s hash (SHA-256 of the previous hash and the record\'s canonical facts) and checks every link, from the retention anchor on, as `faceproof audit verify` does. The chain is one sequence for all tenants, so the whole of it is walked; `records` counts this tenant\'s. Synchronous: about 10 µs a record.',
      response: { 200: VerificationSchema, ...errorResponses(400) },
    },
  }, async (request) => {
    const started = performance.now();
    const v = await trail.verify(request.caller.tenantId);
    return {
      ...envelope(request), valid: v.valid, records: v.tenantRecords ?? 0, chain_records: v.records,
      ...(v.brokenAt !== undefined ? { broken_at: v.brokenAt } : {}), ...(v.reason ? { reason: v.reason } : {}), ms: Math.round((performance.now() - started) * 10) / 10,
    };
  });

  app.get('/v1/audit/export', {
    schema: {
      tags, summary: 'Every audit record of the tenant, one JSON object per line (application/x-ndjson)',
      response: { 200: { description: 'One record per line, oldest first, as GET /v1/audit/records describes them', content: { 'application/x-ndjson': { schema: { type: 'string' } } } } },
    },
  }, async (request, reply) => {
    // Streamed a page at a time, yielding between pages: a trail of any length takes one page of
    // memory, and other requests are answered while it streams (it was one string, built in one go).
    const tenantId = request.caller.tenantId;
    async function* pages() {
      for (let after: number | undefined; ;) {
        const page = await trail.list(tenantId, { afterSeq: after, limit: EXPORT_PAGE });
        if (page.length) yield page.map((r) => `${JSON.stringify(describe(r))}\n`).join('');
        if (page.length < EXPORT_PAGE) return;
        after = page[page.length - 1].seq;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return reply.type('application/x-ndjson').send(Readable.from(pages()));
  });

  app.get<{ Params: { sha256: string } }>('/v1/audit/inputs/:sha256', {
    schema: {
      tags, summary: 'The raw image or video an audit record refers to by SHA-256 (only when FACEPROOF_AUDIT_KEEP_INPUTS is on)',
      params: Type.Object({ sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }) }),
      response: { 200: { description: 'The bytes as received', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, ...errorResponses(400, 404) },
    },
  }, async (request, reply) => {
    if (!archive) throw new FaceproofError('not_found', 'raw inputs are not kept by this server (FACEPROOF_AUDIT_KEEP_INPUTS)', 'sha256');
    return reply.type('application/octet-stream').send(await archive.get(request.caller.tenantId, request.params.sha256));
  });
}
