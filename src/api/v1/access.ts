import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ClientAdministration } from '../../core/api-clients.ts';
import { describeClient, describeIssued, describeKey } from '../../core/api-client-views.ts';
import type { Authenticator } from '../../core/authentication.ts';
import { FaceproofError } from '../../core/errors.ts';
import { parseScopes, scopesFromServiceFlags, SCOPES, type Scope } from '../../core/scopes.ts';
import { envelope } from '../envelope.ts';
import { Envelope, errorResponses } from './schemas.ts';

const ScopeList = Type.Array(Type.Union([...SCOPES, '*'].map((s) => Type.Literal(s))), { minItems: 1, uniqueItems: true, description: `Services the key may use (${SCOPES.join(', ')}); "*" for all` });
const ServiceFlags = Type.Record(Type.String({ maxLength: 64 }), Type.Boolean(), {
  description: 'Alternative to scopes: iDenFace flags (enableFace11, enableLiveness, …), TrustVision service names, or scope names, each true/false',
});

const ClientSchema = Type.Object({
  client_id: Type.String(), tenant_id: Type.String(), name: Type.String(), status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
  rate_per_second: Type.Union([Type.Number(), Type.Null()]), burst: Type.Union([Type.Integer(), Type.Null()]), created_at: Type.String(), updated_at: Type.String(),
}, { title: 'ApiClient' });
const KeySchema = Type.Object({
  key_id: Type.String(), client_id: Type.String(), parent_key_id: Type.Union([Type.String(), Type.Null()]), label: Type.Union([Type.String(), Type.Null()]),
  scopes: Type.Array(Type.String()), signing: Type.Boolean({ description: 'The key can sign requests (TV HMAC) and obtain ADVANCE tokens' }),
  created_at: Type.String(), expires_at: Type.Union([Type.String(), Type.Null()]), revoked_at: Type.Union([Type.String(), Type.Null()]),
}, { title: 'ApiKey' });
const IssuedKeySchema = Type.Object({
  ...KeySchema.properties,
  secret: Type.String({ description: 'Shown once, never stored in the clear' }),
  api_key: Type.String({ description: '"<key_id>.<secret>", for X-API-Key, apikey or Authorization: Bearer' }),
}, { title: 'IssuedApiKey' });
const TokenSchema = Type.Object({
  ...Envelope, token: Type.String(), token_type: Type.Literal('Bearer'), expires_at: Type.String(), expired_time: Type.Integer({ description: 'expires_at in ms (ADVANCE)' }), scopes: Type.Array(Type.String()),
});

const CreateClientBody = Type.Object({
  client_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_.-]*$' }),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  tenant_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_.-]*$', description: 'The tenant whose data the client acts on; default: a new tenant named like the client' })),
  rate_per_second: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100000 })),
  burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
}, { additionalProperties: false });
const UpdateClientBody = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
  rate_per_second: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 100000 }), Type.Null()])),
  burst: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 100000 }), Type.Null()])),
}, { additionalProperties: false });
const CreateKeyBody = Type.Object({
  scopes: ScopeList,
  label: Type.Optional(Type.String({ maxLength: 200 })),
  signing: Type.Optional(Type.Boolean({ default: false, description: 'Keep the secret (sealed under the master key) so the key can sign requests: TV HMAC and ADVANCE token exchange' })),
  expires_in_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 * 365 * 86400 })),
}, { additionalProperties: false });
const TokenBody = Type.Object({
  scopes: Type.Optional(ScopeList),
  services: Type.Optional(ServiceFlags),
  subject: Type.Optional(Type.String({ maxLength: 200 })),
  ttl_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400, default: 3600 })),
}, { additionalProperties: true, description: 'iDenFace flags (enableFace11: true, …) may also be given at the top level' });
const TemporaryCredentialBody = Type.Object({
  duration_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400, default: 900 })),
  scopes: Type.Optional(ScopeList),
  services: Type.Optional(ServiceFlags),
}, { additionalProperties: false });
const AdvanceTokenBody = Type.Object({
  accessKey: Type.String({ minLength: 1, maxLength: 64 }),
  timestamp: Type.Union([Type.String({ maxLength: 13 }), Type.Integer()]),
  signature: Type.String({ minLength: 64, maxLength: 64 }),
  periodSecond: Type.Optional(Type.Union([Type.String({ pattern: '^[0-9]{1,6}$' }), Type.Integer()])),
}, { additionalProperties: false });

const describeToken = (t: { token: string; expiresAt: Date; scopes: Scope[] }) => ({
  token: t.token, token_type: 'Bearer' as const, expires_at: t.expiresAt.toISOString(), expired_time: t.expiresAt.getTime(), scopes: t.scopes,
});

/** iDenFace's service flags (its enableEncryptor concerns payload encryption, not a service). */
const IDENFACE_FLAGS = ['enableFace11', 'enableFaceManager', 'enableImageManager', 'enableLiveness'];

/** The scopes a body asks for: `scopes`, else `services` flags, else iDenFace's top-level flags, else undefined (all of the parent's). */
function requestedScopes(body: { scopes?: string[]; services?: Record<string, boolean> } & Record<string, unknown>): Scope[] | undefined {
  if (body.scopes) return parseScopes(body.scopes);
  if (body.services) return scopesFromServiceFlags(body.services);
  const flags = Object.fromEntries(IDENFACE_FLAGS.filter((f) => typeof body[f] === 'boolean').map((f) => [f, body[f] as boolean]));
  return Object.keys(flags).length ? scopesFromServiceFlags(flags) : undefined;
}

/** Client and key administration (admin scope), and the token and temporary-credential exchanges. */
export function accessRoutes(app: FastifyInstance, admin: ClientAdministration, authenticator: Authenticator): void {
  const tags = ['access'];
  app.post<{ Body: Static<typeof CreateClientBody> }>('/v1/admin/clients', {
    schema: { tags, summary: 'Create an API client (admin)', body: CreateClientBody, response: { 201: Type.Object({ ...Envelope, client: ClientSchema }), ...errorResponses(400, 401, 403, 409) } },
  }, async (request, reply) => {
    const b = request.body;
    const client = await admin.createClient({ id: b.client_id, name: b.name, tenantId: b.tenant_id, ratePerSecond: b.rate_per_second, burst: b.burst });
    return reply.code(201).send({ ...envelope(request), client: describeClient(client) });
  });

  app.get('/v1/admin/clients', {
    schema: { tags, summary: 'List API clients (admin)', response: { 200: Type.Object({ ...Envelope, clients: Type.Array(ClientSchema) }), ...errorResponses(401, 403) } },
  }, async (request) => ({ ...envelope(request), clients: (await admin.listClients()).map(describeClient) }));

  const ClientParams = Type.Object({ client_id: Type.String({ minLength: 1, maxLength: 64 }) });
  app.get<{ Params: Static<typeof ClientParams> }>('/v1/admin/clients/:client_id', {
    schema: { tags, summary: 'One API client (admin)', params: ClientParams, response: { 200: Type.Object({ ...Envelope, client: ClientSchema }), ...errorResponses(401, 403, 404) } },
  }, async (request) => ({ ...envelope(request), client: describeClient(await admin.getClient(request.params.client_id)) }));

  app.patch<{ Params: Static<typeof ClientParams>; Body: Static<typeof UpdateClientBody> }>('/v1/admin/clients/:client_id', {
    schema: { tags, summary: 'Disable or enable a client, or change its rate limit (admin)', params: ClientParams, body: UpdateClientBody, response: { 200: Type.Object({ ...Envelope, client: ClientSchema }), ...errorResponses(400, 401, 403, 404) } },
  }, async (request) => {
    const { client_id: id } = request.params;
    const b = request.body;
    let client = await admin.getClient(id);
    if (b.status) client = await admin.setStatus(id, b.status);
    if (b.rate_per_second !== undefined || b.burst !== undefined) {
      client = await admin.setRateLimit(id, b.rate_per_second === undefined ? client.ratePerSecond : b.rate_per_second, b.burst === undefined ? client.burst : b.burst);
    }
    return { ...envelope(request), client: describeClient(client) };
  });

  app.post<{ Params: Static<typeof ClientParams>; Body: Static<typeof CreateKeyBody> }>('/v1/admin/clients/:client_id/keys', {
    schema: { tags, summary: 'Create a key for a client; its secret is in this response only (admin)', params: ClientParams, body: CreateKeyBody, response: { 201: Type.Object({ ...Envelope, key: IssuedKeySchema }), ...errorResponses(400, 401, 403, 404) } },
  }, async (request, reply) => {
    const b = request.body;
    const issued = await admin.createKey(request.params.client_id, { scopes: parseScopes(b.scopes), label: b.label, signing: b.signing, expiresInSeconds: b.expires_in_seconds });
    return reply.code(201).send({ ...envelope(request), key: describeIssued(issued) });
  });

  app.get<{ Params: Static<typeof ClientParams> }>('/v1/admin/clients/:client_id/keys', {
    schema: { tags, summary: 'A client\'s keys, without secrets (admin)', params: ClientParams, response: { 200: Type.Object({ ...Envelope, keys: Type.Array(KeySchema) }), ...errorResponses(401, 403, 404) } },
  }, async (request) => ({ ...envelope(request), keys: (await admin.listKeys(request.params.client_id)).map(describeKey) }));

  const KeyParams = Type.Object({ key_id: Type.String({ minLength: 1, maxLength: 64 }) });
  app.delete<{ Params: Static<typeof KeyParams> }>('/v1/admin/keys/:key_id', {
    schema: { tags, summary: 'Revoke a key, its temporary credentials and tokens (admin)', params: KeyParams, response: { 200: Type.Object({ ...Envelope, key: KeySchema }), ...errorResponses(400, 401, 403, 404) } },
  }, async (request) => ({ ...envelope(request), key: describeKey(await admin.revokeKey(request.params.key_id)) }));

  app.post<{ Body: Static<typeof TokenBody> }>('/v1/auth/token', {
    schema: {
      tags, summary: 'A short-lived JWT (Authorization: Bearer) with at most the caller\'s scopes (iDenFace generate_token)',
      body: TokenBody, response: { 200: TokenSchema, ...errorResponses(400, 401, 403) },
    },
  }, async (request) => {
    const b = request.body as Static<typeof TokenBody> & Record<string, unknown>;
    const issued = await authenticator.issueToken(request.caller.principal!, { scopes: requestedScopes(b), ttlSeconds: b.ttl_seconds ?? 3600, subject: b.subject });
    return { ...envelope(request), ...describeToken(issued) };
  });

  app.post<{ Body: Static<typeof AdvanceTokenBody> }>('/v1/auth/advance-token', {
    schema: {
      tags, security: [], summary: 'ADVANCE token exchange: accessKey, 13-digit timestamp (±300 s) and SHA-256(accessKey + secretKey + timestamp)',
      description: 'The token goes in X-ACCESS-TOKEN (or Authorization: Bearer). periodSecond: 60–86400, default 3600.',
      body: AdvanceTokenBody, response: { 200: TokenSchema, ...errorResponses(400, 401, 403) },
    },
  }, async (request) => {
    const b = request.body;
    const period = b.periodSecond === undefined ? 3600 : Number(b.periodSecond);
    if (!(period >= 60 && period <= 86400)) throw new FaceproofError('invalid_parameter', 'periodSecond must be between 60 and 86400', 'periodSecond');
    const issued = await authenticator.exchangeAdvanceSignature({ accessKey: b.accessKey, timestamp: String(b.timestamp), signature: b.signature, periodSeconds: period });
    return { ...envelope(request), ...describeToken(issued) };
  });

  app.post<{ Body: Static<typeof TemporaryCredentialBody> }>('/v1/auth/temporary-credentials', {
    schema: {
      tags, summary: 'A temporary signing key pair with a subset of the caller\'s scopes (TrustVision temporary_credential)',
      body: TemporaryCredentialBody, response: { 201: Type.Object({ ...Envelope, key: IssuedKeySchema }), ...errorResponses(400, 401, 403) },
    },
  }, async (request, reply) => {
    const principal = request.caller.principal!;
    if (principal.scheme === 'token') throw new FaceproofError('insufficient_scope', 'temporary credentials are made from a key (API key or signed request), not from a token', 'authorization');
    const b = request.body;
    const issued = await admin.createTemporaryCredential(await admin.key(principal.keyId), { scopes: requestedScopes(b), durationSeconds: b.duration_seconds ?? 900 });
    return reply.code(201).send({ ...envelope(request), key: describeIssued(issued) });
  });
}
