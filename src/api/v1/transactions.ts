import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Transaction, TransactionService } from '../../core/transactions.ts';
import type { AuditTrail } from '../../core/audit.ts';
import type { UsageMeter } from '../../core/usage.ts';
import { envelope } from '../envelope.ts';
import { Envelope, errorResponses } from './schemas.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The open transaction named in X-Transaction-Id, recorded with the request in the audit trail. */
    transactionId?: string;
  }
}

const TransactionSchema = Type.Object({
  transaction_id: Type.String(), client_id: Type.String(), reference_id: Type.Union([Type.String(), Type.Null()]), channel: Type.Union([Type.String(), Type.Null()]),
  metadata: Type.Object({}, { additionalProperties: true }), status: Type.Union([Type.Literal('open'), Type.Literal('finished')]),
  outcome: Type.Union([Type.String(), Type.Null()]), created_at: Type.String(), finished_at: Type.Union([Type.String(), Type.Null()]),
}, { title: 'Transaction' });
const RequestSummary = Type.Object({
  request_id: Type.String(), client_request_id: Type.Union([Type.String(), Type.Null()]), method: Type.String(), route: Type.String(), service: Type.String(),
  status: Type.Integer(), at: Type.String(), result: Type.Object({}, { additionalProperties: true }),
});

const describe = (t: Transaction) => ({
  transaction_id: t.id, client_id: t.clientId, reference_id: t.referenceId, channel: t.channel, metadata: t.metadata,
  status: t.status, outcome: t.outcome, created_at: t.createdAt, finished_at: t.finishedAt,
});

const OpenBody = Type.Object({
  reference_id: Type.Optional(Type.String({ maxLength: 128, description: 'The client\'s own id for this journey' })),
  channel: Type.Optional(Type.String({ maxLength: 64, description: 'e.g. web, mobile, branch' })),
  metadata: Type.Optional(Type.Object({}, { additionalProperties: true })),
}, { additionalProperties: false });
const FinishBody = Type.Object({ outcome: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false });
const Params = Type.Object({ transaction_id: Type.String({ minLength: 1, maxLength: 64 }) });

/** A request naming X-Transaction-Id joins that open transaction of its tenant (404 / 409 otherwise). */
export function registerTransactionHeader(app: FastifyInstance, transactions: TransactionService): void {
  app.addHook('preHandler', async (request) => {
    const named = request.headers['x-transaction-id'];
    if (typeof named !== 'string' || !request.caller.principal) return;
    request.transactionId = (await transactions.join(request.caller.tenantId, named)).id;
  });
}

/** Transactions (TrustVision): open, pass X-Transaction-Id on later requests, finish; read back with their requests. */
export function transactionRoutes(app: FastifyInstance, transactions: TransactionService, audit: AuditTrail): void {
  const tags = ['transactions'];

  app.post<{ Body: Static<typeof OpenBody> }>('/v1/transactions', {
    schema: { tags, summary: 'Open a transaction', body: OpenBody, response: { 201: Type.Object({ ...Envelope, transaction: TransactionSchema }), ...errorResponses(400, 401) } },
  }, async (request, reply) => {
    const b = request.body;
    const t = await transactions.open(request.caller.tenantId, request.caller.clientId, { referenceId: b.reference_id, channel: b.channel, metadata: b.metadata });
    return reply.code(201).send({ ...envelope(request), transaction: describe(t) });
  });

  app.get<{ Params: Static<typeof Params> }>('/v1/transactions/:transaction_id', {
    schema: {
      tags, summary: 'A transaction with the requests made in it and their results (from the audit trail)', params: Params,
      response: { 200: Type.Object({ ...Envelope, transaction: TransactionSchema, requests: Type.Array(RequestSummary) }), ...errorResponses(401, 404) },
    },
  }, async (request) => {
    const t = await transactions.get(request.caller.tenantId, request.params.transaction_id);
    const records = await audit.list(request.caller.tenantId, { transactionId: t.id, limit: 1000 });
    return {
      ...envelope(request), transaction: describe(t),
      requests: records.map((r) => ({ request_id: r.requestId, client_request_id: r.clientRequestId, method: r.method, route: r.route, service: r.service, status: r.status, at: r.at, result: r.result })),
    };
  });

  app.post<{ Params: Static<typeof Params>; Body: Static<typeof FinishBody> }>('/v1/transactions/:transaction_id/finish', {
    schema: { tags, summary: 'Finish a transaction; later requests naming it get 409 transaction_closed', params: Params, body: FinishBody, response: { 200: Type.Object({ ...Envelope, transaction: TransactionSchema }), ...errorResponses(401, 404, 409) } },
  }, async (request) => ({ ...envelope(request), transaction: describe(await transactions.finish(request.caller.tenantId, request.params.transaction_id, request.body?.outcome)) }));
}

const UsageQuery = Type.Object({
  from: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'First day (UTC, inclusive); default: 30 days ago' })),
  to: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Last day (UTC, inclusive); default: today' })),
  client_id: Type.Optional(Type.String({ maxLength: 64 })),
}, { additionalProperties: false });

/** Usage per day, client, service and outcome, for the caller's tenant. */
export function usageRoutes(app: FastifyInstance, usage: UsageMeter): void {
  app.get<{ Querystring: Static<typeof UsageQuery> }>('/v1/usage', {
    schema: {
      tags: ['audit'], summary: 'Requests per day, client, service and outcome; billable ones marked',
      description: 'Outcomes: processed (2xx), no_result (422: processed, no usable face), rejected (other 4xx), failed (5xx). Billable: processed or no_result on a route that runs the face engine.',
      querystring: UsageQuery,
      response: {
        200: Type.Object({
          ...Envelope, from: Type.String(), to: Type.String(), requests: Type.Integer(), billable: Type.Integer(),
          usage: Type.Array(Type.Object({ day: Type.String(), client_id: Type.String(), service: Type.String(), outcome: Type.String(), billable: Type.Boolean(), count: Type.Integer() })),
        }),
        ...errorResponses(400, 401, 403),
      },
    },
  }, async (request) => {
    const today = new Date();
    const to = request.query.to ?? today.toISOString().slice(0, 10);
    const from = request.query.from ?? new Date(today.getTime() - 30 * 86400_000).toISOString().slice(0, 10);
    const report = await usage.report(request.caller.tenantId, { from, to, clientId: request.query.client_id });
    return {
      ...envelope(request), from, to, requests: report.requests, billable: report.billable,
      usage: report.rows.map((r) => ({ day: r.day, client_id: r.clientId, service: r.service, outcome: r.outcome, billable: r.billable, count: r.count })),
    };
  });
}
