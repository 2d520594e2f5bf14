import type { ApiClient, ApiKeyRecord, IssuedKey } from './api-clients.ts';

/** Clients and keys as the API and the CLI show them (snake_case, never a stored secret). */
export const describeClient = (c: ApiClient) => ({
  client_id: c.id, tenant_id: c.tenantId, name: c.name, status: c.status, rate_per_second: c.ratePerSecond, burst: c.burst, created_at: c.createdAt, updated_at: c.updatedAt,
});

export const describeKey = (k: ApiKeyRecord) => ({
  key_id: k.id, client_id: k.clientId, parent_key_id: k.parentKeyId, label: k.label, scopes: k.scopes, signing: k.secretSealed !== null,
  created_at: k.createdAt, expires_at: k.expiresAt, revoked_at: k.revokedAt,
});

/** A new key with its secret: shown this once. */
export const describeIssued = (i: IssuedKey) => ({ ...describeKey(i.key), secret: i.secret, api_key: i.apiKey });
