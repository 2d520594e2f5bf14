import type { Db } from './database.ts';
import type { RequestRecordRepository, SealedRequestRecord } from '../../core/request-records.ts';
import type { ClientSettings, ClientSettingsRepository } from '../../core/client-settings.ts';

interface Row {
  tenant_id: string; request_id: string; x_request_id: string | null; client_id: string; key_id: string | null; service: string; at: string; sealed: Buffer;
}

const toRecord = (r: Row): SealedRequestRecord => ({
  tenantId: r.tenant_id, requestId: r.request_id, xRequestId: r.x_request_id, clientId: r.client_id, keyId: r.key_id, service: r.service, at: r.at, sealed: r.sealed,
});

export class SqliteRequestRecordRepository implements RequestRecordRepository {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      put: db.prepare(`INSERT OR REPLACE INTO request_records (tenant_id, request_id, x_request_id, client_id, key_id, service, at, sealed)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      get: db.prepare('SELECT * FROM request_records WHERE tenant_id = ? AND request_id = ?'),
      byX: db.prepare('SELECT * FROM request_records WHERE tenant_id = ? AND x_request_id = ? ORDER BY at, rowid LIMIT ?'),
      prune: db.prepare('DELETE FROM request_records WHERE at < ?'),
    };
  }

  async put(r: SealedRequestRecord): Promise<void> {
    this.s.put.run(r.tenantId, r.requestId, r.xRequestId, r.clientId, r.keyId, r.service, r.at, r.sealed);
  }

  async get(tenantId: string, requestId: string): Promise<SealedRequestRecord | undefined> {
    const row = this.s.get.get(tenantId, requestId) as Row | undefined;
    return row && toRecord(row);
  }

  async byXRequestId(tenantId: string, xRequestId: string, limit: number): Promise<SealedRequestRecord[]> {
    return (this.s.byX.all(tenantId, xRequestId, limit) as Row[]).map(toRecord);
  }

  async prune(before: string): Promise<number> {
    return this.s.prune.run(before).changes;
  }
}

export class SqliteClientSettingsRepository implements ClientSettingsRepository {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      get: db.prepare('SELECT settings FROM client_settings WHERE tenant_id = ? AND client_id = ? AND flow_id = ?'),
      put: db.prepare('INSERT OR REPLACE INTO client_settings (tenant_id, client_id, flow_id, settings, updated_at) VALUES (?, ?, ?, ?, ?)'),
    };
  }

  async get(tenantId: string, clientId: string, flowId: string): Promise<ClientSettings | undefined> {
    const row = this.s.get.get(tenantId, clientId, flowId) as { settings: string } | undefined;
    return row && JSON.parse(row.settings) as ClientSettings;
  }

  async put(tenantId: string, clientId: string, flowId: string, settings: ClientSettings, at: string): Promise<void> {
    this.s.put.run(tenantId, clientId, flowId, JSON.stringify(settings), at);
  }
}
