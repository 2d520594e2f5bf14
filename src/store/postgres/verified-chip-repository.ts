import type { VerifiedChip, VerifiedChipRepository } from '../../core/documents/verified-chips.ts';
import type { PostgresDatabase } from './database.ts';
import { jsonb, run } from './statements.ts';

/** One row per identity-number hash of each verified chip, so that check_nfc is one index lookup. */
interface Row { tenant_id: string; id_hash: string; sod_sha512: string; input_fields: string[]; request_id: string; at: string }

const SQL = {
  put: 'INSERT INTO verified_chips (tenant_id, id_hash, sod_sha512, input_fields, request_id, at) VALUES ($1, $2, $3, $4, $5, $6)',
  // seq breaks ties of one instant as SQLite's rowid does: the later put wins.
  latest: 'SELECT tenant_id, id_hash, sod_sha512, input_fields, request_id, at FROM verified_chips WHERE tenant_id = $1 AND id_hash = $2 ORDER BY at DESC, seq DESC LIMIT 1',
  hashes: 'SELECT id_hash FROM verified_chips WHERE tenant_id = $1 AND request_id = $2 ORDER BY seq',
  prune: 'DELETE FROM verified_chips WHERE at < $1',
};

/** Chips verified here, in PostgreSQL, as SqliteVerifiedChipRepository keeps them. */
export class PgVerifiedChipRepository implements VerifiedChipRepository {
  constructor(private readonly db: PostgresDatabase) {}

  async put(r: VerifiedChip): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const h of r.idHashes) await run(tx, 'fp-verified-chips-put', SQL.put, [r.tenantId, h, r.sodSha512, jsonb(r.inputFields), r.requestId, r.at]);
    });
  }

  async latest(tenantId: string, idHash: string): Promise<VerifiedChip | undefined> {
    const row = (await run<Row>(this.db, 'fp-verified-chips-latest', SQL.latest, [tenantId, idHash])).rows[0];
    if (!row) return undefined;
    const idHashes = (await run<{ id_hash: string }>(this.db, 'fp-verified-chips-hashes', SQL.hashes, [tenantId, row.request_id])).rows.map((h) => h.id_hash);
    return { tenantId: row.tenant_id, idHashes, sodSha512: row.sod_sha512, inputFields: row.input_fields, requestId: row.request_id, at: row.at };
  }

  async prune(before: string): Promise<number> {
    return (await run(this.db, 'fp-verified-chips-prune', SQL.prune, [before])).rowCount ?? 0;
  }
}
