import type { Db } from './database.ts';
import type { VerifiedChip, VerifiedChipRepository } from '../../core/documents/verified-chips.ts';

/** One row per identity-number hash of each verified chip (migration 11), so that check_nfc is one index lookup. */
interface Row { tenant_id: string; id_hash: string; sod_sha512: string; input_fields: string; request_id: string; at: string }

export class SqliteVerifiedChipRepository implements VerifiedChipRepository {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      put: db.prepare('INSERT INTO verified_chips (tenant_id, id_hash, sod_sha512, input_fields, request_id, at) VALUES (?, ?, ?, ?, ?, ?)'),
      latest: db.prepare('SELECT * FROM verified_chips WHERE tenant_id = ? AND id_hash = ? ORDER BY at DESC, rowid DESC LIMIT 1'),
      hashes: db.prepare('SELECT id_hash FROM verified_chips WHERE tenant_id = ? AND request_id = ?'),
      prune: db.prepare('DELETE FROM verified_chips WHERE at < ?'),
    };
  }

  async put(r: VerifiedChip): Promise<void> {
    this.db.transaction(() => {
      for (const h of r.idHashes) this.s.put.run(r.tenantId, h, r.sodSha512, JSON.stringify(r.inputFields), r.requestId, r.at);
    })();
  }

  async latest(tenantId: string, idHash: string): Promise<VerifiedChip | undefined> {
    const row = this.s.latest.get(tenantId, idHash) as Row | undefined;
    if (!row) return undefined;
    const idHashes = (this.s.hashes.all(tenantId, row.request_id) as Array<{ id_hash: string }>).map((h) => h.id_hash);
    return { tenantId: row.tenant_id, idHashes, sodSha512: row.sod_sha512, inputFields: JSON.parse(row.input_fields) as string[], requestId: row.request_id, at: row.at };
  }

  async prune(before: string): Promise<number> {
    return this.s.prune.run(before).changes;
  }
}
