import type { ApiClient, ApiKeyRecord, ClientRepository } from '../../core/api-clients.ts';
import type { Scope } from '../../core/scopes.ts';
import type { Queryable } from './database.ts';
import { jsonb, run } from './statements.ts';

interface ClientRow { id: string; tenant_id: string; name: string; status: ApiClient['status']; rate_per_second: number | null; burst: number | null; created_at: string; updated_at: string }
interface KeyRow {
  id: string; client_id: string; parent_key_id: string | null; label: string | null; scopes: Scope[]; secret_sha256: string;
  secret_sealed: Buffer | null; created_at: string; expires_at: string | null; revoked_at: string | null;
}

const toClient = (r: ClientRow): ApiClient => ({
  id: r.id, tenantId: r.tenant_id, name: r.name, status: r.status, ratePerSecond: r.rate_per_second, burst: r.burst, createdAt: r.created_at, updatedAt: r.updated_at,
});
const toKey = (r: KeyRow): ApiKeyRecord => ({
  id: r.id, clientId: r.client_id, parentKeyId: r.parent_key_id, label: r.label, scopes: r.scopes, secretSha256: r.secret_sha256,
  secretSealed: r.secret_sealed, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at,
});
const keyParams = (k: ApiKeyRecord) => [k.id, k.clientId, k.parentKeyId, k.label, jsonb(k.scopes), k.secretSha256, k.secretSealed, k.createdAt, k.expiresAt, k.revokedAt];

const SQL = {
  createTenant: 'INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
  insertClient: 'INSERT INTO clients (id, tenant_id, name, status, rate_per_second, burst, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
  getClient: 'SELECT * FROM clients WHERE id = $1',
  listClients: 'SELECT * FROM clients ORDER BY created_at, id',
  insertKey: `INSERT INTO api_keys (id, client_id, parent_key_id, label, scopes, secret_sha256, secret_sealed, created_at, expires_at, revoked_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  // An upsert, not a delete and insert: that would take the rows of its temporary credentials with it.
  upsertKey: `INSERT INTO api_keys (id, client_id, parent_key_id, label, scopes, secret_sha256, secret_sealed, created_at, expires_at, revoked_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (id) DO UPDATE SET scopes = excluded.scopes, secret_sha256 = excluded.secret_sha256, secret_sealed = excluded.secret_sealed,
      created_at = excluded.created_at, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at`,
  getKey: 'SELECT * FROM api_keys WHERE id = $1',
  listKeys: 'SELECT * FROM api_keys ORDER BY created_at, id',
  listClientKeys: 'SELECT * FROM api_keys WHERE client_id = $1 ORDER BY created_at, id',
  revokeKey: 'UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL',
};

const CLIENT_COLUMNS: Record<string, string> = { status: 'status', ratePerSecond: 'rate_per_second', burst: 'burst', name: 'name', updatedAt: 'updated_at' };

/**
 * API clients and their keys in PostgreSQL, as SqliteClientRepository keeps them. Every node reads
 * keys from here at each request, so a revocation made on one node holds on every node at once.
 */
export class PgClientRepository implements ClientRepository {
  constructor(private readonly db: Queryable) {}

  async createTenantIfMissing(tenantId: string): Promise<void> {
    await run(this.db, 'fp-clients-create-tenant', SQL.createTenant, [tenantId, tenantId, new Date().toISOString()]);
  }

  async insertClient(c: ApiClient): Promise<void> {
    await run(this.db, 'fp-clients-insert', SQL.insertClient, [c.id, c.tenantId, c.name, c.status, c.ratePerSecond, c.burst, c.createdAt, c.updatedAt]);
  }

  async getClient(id: string): Promise<ApiClient | undefined> {
    const row = (await run<ClientRow>(this.db, 'fp-clients-get', SQL.getClient, [id])).rows[0];
    return row && toClient(row);
  }

  async listClients(): Promise<ApiClient[]> {
    return (await run<ClientRow>(this.db, 'fp-clients-list', SQL.listClients)).rows.map(toClient);
  }

  async updateClient(id: string, changes: Partial<Pick<ApiClient, 'status' | 'ratePerSecond' | 'burst' | 'name'>> & { updatedAt: string }): Promise<ApiClient | undefined> {
    const set = Object.keys(changes).filter((k) => k in CLIENT_COLUMNS);
    await run(this.db, undefined, `UPDATE clients SET ${set.map((k, i) => `${CLIENT_COLUMNS[k]} = $${i + 1}`).join(', ')} WHERE id = $${set.length + 1}`,
      [...set.map((k) => (changes as Record<string, unknown>)[k]), id]);
    return this.getClient(id);
  }

  async insertKey(key: ApiKeyRecord): Promise<void> {
    await run(this.db, 'fp-clients-insert-key', SQL.insertKey, keyParams(key));
  }

  async upsertKey(key: ApiKeyRecord): Promise<void> {
    await run(this.db, 'fp-clients-upsert-key', SQL.upsertKey, keyParams(key));
  }

  async getKey(id: string): Promise<ApiKeyRecord | undefined> {
    const row = (await run<KeyRow>(this.db, 'fp-clients-get-key', SQL.getKey, [id])).rows[0];
    return row && toKey(row);
  }

  async listKeys(clientId?: string): Promise<ApiKeyRecord[]> {
    const { rows } = clientId
      ? await run<KeyRow>(this.db, 'fp-clients-list-client-keys', SQL.listClientKeys, [clientId])
      : await run<KeyRow>(this.db, 'fp-clients-list-keys', SQL.listKeys);
    return rows.map(toKey);
  }

  async revokeKey(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    await run(this.db, 'fp-clients-revoke-key', SQL.revokeKey, [at, id]);
    return this.getKey(id);
  }
}
