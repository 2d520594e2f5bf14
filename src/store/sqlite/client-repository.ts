import type { Db } from './database.ts';
import type { ApiClient, ApiKeyRecord, ClientRepository } from '../../core/api-clients.ts';
import type { Scope } from '../../core/scopes.ts';

interface ClientRow { id: string; tenant_id: string; name: string; status: ApiClient['status']; rate_per_second: number | null; burst: number | null; created_at: string; updated_at: string }
interface KeyRow {
  id: string; client_id: string; parent_key_id: string | null; label: string | null; scopes: string; secret_sha256: string;
  secret_sealed: Buffer | null; created_at: string; expires_at: string | null; revoked_at: string | null;
}

const toClient = (r: ClientRow): ApiClient => ({
  id: r.id, tenantId: r.tenant_id, name: r.name, status: r.status, ratePerSecond: r.rate_per_second, burst: r.burst, createdAt: r.created_at, updatedAt: r.updated_at,
});
const toKey = (r: KeyRow): ApiKeyRecord => ({
  id: r.id, clientId: r.client_id, parentKeyId: r.parent_key_id, label: r.label, scopes: JSON.parse(r.scopes) as Scope[], secretSha256: r.secret_sha256,
  secretSealed: r.secret_sealed, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at,
});
const keyParams = (k: ApiKeyRecord) => [k.id, k.clientId, k.parentKeyId, k.label, JSON.stringify(k.scopes), k.secretSha256, k.secretSealed, k.createdAt, k.expiresAt, k.revokedAt];

export class SqliteClientRepository implements ClientRepository {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      createTenant: db.prepare('INSERT OR IGNORE INTO tenants (id, name, created_at) VALUES (?, ?, ?)'),
      insertClient: db.prepare('INSERT INTO clients (id, tenant_id, name, status, rate_per_second, burst, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      getClient: db.prepare('SELECT * FROM clients WHERE id = ?'),
      listClients: db.prepare('SELECT * FROM clients ORDER BY created_at, id'),
      insertKey: db.prepare(`INSERT INTO api_keys (id, client_id, parent_key_id, label, scopes, secret_sha256, secret_sealed, created_at, expires_at, revoked_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      // An upsert, not INSERT OR REPLACE: replacing would delete the row its temporary credentials refer to.
      upsertKey: db.prepare(`INSERT INTO api_keys (id, client_id, parent_key_id, label, scopes, secret_sha256, secret_sealed, created_at, expires_at, revoked_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET scopes = excluded.scopes, secret_sha256 = excluded.secret_sha256, secret_sealed = excluded.secret_sealed,
          created_at = excluded.created_at, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at`),
      getKey: db.prepare('SELECT * FROM api_keys WHERE id = ?'),
      listKeys: db.prepare('SELECT * FROM api_keys ORDER BY created_at, id'),
      listClientKeys: db.prepare('SELECT * FROM api_keys WHERE client_id = ? ORDER BY created_at, id'),
      revokeKey: db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    };
    this.db = db;
  }

  private readonly db: Db;

  async createTenantIfMissing(tenantId: string): Promise<void> {
    this.s.createTenant.run(tenantId, tenantId, new Date().toISOString());
  }

  async insertClient(c: ApiClient): Promise<void> {
    this.s.insertClient.run(c.id, c.tenantId, c.name, c.status, c.ratePerSecond, c.burst, c.createdAt, c.updatedAt);
  }

  async getClient(id: string): Promise<ApiClient | undefined> {
    const row = this.s.getClient.get(id) as ClientRow | undefined;
    return row && toClient(row);
  }

  async listClients(): Promise<ApiClient[]> {
    return (this.s.listClients.all() as ClientRow[]).map(toClient);
  }

  async updateClient(id: string, changes: Partial<Pick<ApiClient, 'status' | 'ratePerSecond' | 'burst' | 'name'>> & { updatedAt: string }): Promise<ApiClient | undefined> {
    const columns: Record<string, string> = { status: 'status', ratePerSecond: 'rate_per_second', burst: 'burst', name: 'name', updatedAt: 'updated_at' };
    const set = Object.keys(changes).filter((k) => k in columns);
    this.db.prepare(`UPDATE clients SET ${set.map((k) => `${columns[k]} = ?`).join(', ')} WHERE id = ?`)
      .run(...set.map((k) => (changes as Record<string, unknown>)[k]), id);
    return this.getClient(id);
  }

  async insertKey(key: ApiKeyRecord): Promise<void> {
    this.s.insertKey.run(...keyParams(key));
  }

  async upsertKey(key: ApiKeyRecord): Promise<void> {
    this.s.upsertKey.run(...keyParams(key));
  }

  async getKey(id: string): Promise<ApiKeyRecord | undefined> {
    const row = this.s.getKey.get(id) as KeyRow | undefined;
    return row && toKey(row);
  }

  async listKeys(clientId?: string): Promise<ApiKeyRecord[]> {
    const rows = (clientId ? this.s.listClientKeys.all(clientId) : this.s.listKeys.all()) as KeyRow[];
    return rows.map(toKey);
  }

  async revokeKey(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    this.s.revokeKey.run(at, id);
    return this.getKey(id);
  }
}
