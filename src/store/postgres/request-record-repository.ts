import type { RequestRecordRepository, SealedRequestRecord } from '../../core/request-records.ts';
import type { ClientSettings, ClientSettingsRepository } from '../../core/client-settings.ts';
import type { PostgresDatabase, Queryable } from './database.ts';
import { jsonb, run } from './statements.ts';

interface Row {
  tenant_id: string; request_id: string; x_request_id: string | null; client_id: string; key_id: string | null; service: string; at: string; sealed: Buffer;
}

const toRecord = (r: Row): SealedRequestRecord => ({
  tenantId: r.tenant_id, requestId: r.request_id, xRequestId: r.x_request_id, clientId: r.client_id, keyId: r.key_id, service: r.service, at: r.at, sealed: r.sealed,
});

const COLUMNS = 'tenant_id, request_id, x_request_id, client_id, key_id, service, at, sealed';

const SQL = {
  remove: 'DELETE FROM request_records WHERE tenant_id = $1 AND request_id = $2',
  insert: `INSERT INTO request_records (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  get: `SELECT ${COLUMNS} FROM request_records WHERE tenant_id = $1 AND request_id = $2`,
  byX: `SELECT ${COLUMNS} FROM request_records WHERE tenant_id = $1 AND x_request_id = $2 ORDER BY at, seq LIMIT $3`,
  prune: 'DELETE FROM request_records WHERE at < $1',
};

/** Kept (sealed) answers in PostgreSQL, as SqliteRequestRecordRepository keeps them. */
export class PgRequestRecordRepository implements RequestRecordRepository {
  constructor(private readonly db: PostgresDatabase) {}

  async put(r: SealedRequestRecord): Promise<void> {
    // A delete and an insert, not an upsert: SQLite's INSERT OR REPLACE gives the replacing row a
    // new rowid, so a retried request's record sorts after those made since; here a new seq does.
    await this.db.transaction(async (tx) => {
      await run(tx, 'fp-request-records-remove', SQL.remove, [r.tenantId, r.requestId]);
      await run(tx, 'fp-request-records-insert', SQL.insert, [r.tenantId, r.requestId, r.xRequestId, r.clientId, r.keyId, r.service, r.at, r.sealed]);
    });
  }

  async get(tenantId: string, requestId: string): Promise<SealedRequestRecord | undefined> {
    const row = (await run<Row>(this.db, 'fp-request-records-get', SQL.get, [tenantId, requestId])).rows[0];
    return row && toRecord(row);
  }

  async byXRequestId(tenantId: string, xRequestId: string, limit: number): Promise<SealedRequestRecord[]> {
    return (await run<Row>(this.db, 'fp-request-records-by-x', SQL.byX, [tenantId, xRequestId, limit])).rows.map(toRecord);
  }

  async prune(before: string): Promise<number> {
    return (await run(this.db, 'fp-request-records-prune', SQL.prune, [before])).rowCount ?? 0;
  }
}

/** Per-client SDK settings in PostgreSQL. */
export class PgClientSettingsRepository implements ClientSettingsRepository {
  constructor(private readonly db: Queryable) {}

  async get(tenantId: string, clientId: string, flowId: string): Promise<ClientSettings | undefined> {
    const { rows } = await run<{ settings: ClientSettings }>(this.db, 'fp-client-settings-get',
      'SELECT settings FROM client_settings WHERE tenant_id = $1 AND client_id = $2 AND flow_id = $3', [tenantId, clientId, flowId]);
    return rows[0]?.settings;
  }

  async put(tenantId: string, clientId: string, flowId: string, settings: ClientSettings, at: string): Promise<void> {
    await run(this.db, 'fp-client-settings-put', `INSERT INTO client_settings (tenant_id, client_id, flow_id, settings, updated_at) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (tenant_id, client_id, flow_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
    [tenantId, clientId, flowId, jsonb(settings), at]);
  }
}
