import type { ImageRepository, StoredImageRecord } from '../../core/ports.ts';
import type { PostgresDatabase } from './database.ts';
import { jsonb, run } from './statements.ts';

interface Row {
  tenant_id: string; id: string; label: string | null; metadata: Record<string, unknown>; format: StoredImageRecord['format'];
  width: number; height: number; bytes: number; sha256: string; created_at: string; expires_at: string | null;
}

const toRecord = (r: Row): StoredImageRecord => ({
  id: r.id, tenantId: r.tenant_id, label: r.label, metadata: r.metadata,
  format: r.format, width: r.width, height: r.height, bytes: r.bytes, sha256: r.sha256,
  createdAt: r.created_at, expiresAt: r.expires_at,
});

/** A pending mark, set or moved to a new due time (SQLite's INSERT OR REPLACE). */
const MARK = 'INSERT INTO pending_blobs (key, due) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET due = excluded.due';

/** Stored images in PostgreSQL, as SqliteImageRepository; every statement is scoped by tenant_id. */
export class PgImageRepository implements ImageRepository {
  constructor(private readonly db: PostgresDatabase) {}

  async insert(record: StoredImageRecord, blobKey: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await run(tx, 'fp-images-insert', `INSERT INTO images (tenant_id, id, label, metadata, format, width, height, bytes, sha256, created_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [record.tenantId, record.id, record.label, jsonb(record.metadata), record.format, record.width, record.height, record.bytes, record.sha256, record.createdAt, record.expiresAt]);
      await run(tx, 'fp-pending-clear', 'DELETE FROM pending_blobs WHERE key = $1', [blobKey]);
    });
  }

  async get(tenantId: string, id: string): Promise<StoredImageRecord | undefined> {
    const { rows } = await run<Row>(this.db, 'fp-images-get', 'SELECT * FROM images WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return rows[0] && toRecord(rows[0]);
  }

  /** One statement (SQLite reads, then writes): two nodes changing one image each keep the field they did not name. */
  async update(tenantId: string, id: string, changes: { label?: string | null; metadata?: Record<string, unknown> }): Promise<StoredImageRecord | undefined> {
    const { rows } = await run<Row>(this.db, 'fp-images-update', `UPDATE images
      SET label = CASE WHEN $3 THEN $4 ELSE label END, metadata = COALESCE($5::jsonb, metadata)
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id, changes.label !== undefined, changes.label ?? null, changes.metadata === undefined ? null : jsonb(changes.metadata)]);
    return rows[0] && toRecord(rows[0]);
  }

  async delete(tenantId: string, id: string, blob: { key: string; due: string }): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { rowCount } = await run(tx, 'fp-images-delete', 'DELETE FROM images WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      if (!rowCount) return false;
      await run(tx, 'fp-pending-mark', MARK, [blob.key, blob.due]);
      return true;
    });
  }

  async markPendingBlob(key: string, due: string): Promise<void> {
    await run(this.db, 'fp-pending-mark', MARK, [key, due]);
  }

  async clearPendingBlob(key: string): Promise<void> {
    await run(this.db, 'fp-pending-clear', 'DELETE FROM pending_blobs WHERE key = $1', [key]);
  }

  /** Stored files mark their bytes in the same table: only image keys. ILIKE, as SQLite's LIKE ignores ASCII case. */
  async pendingBlobs(now: string, limit: number): Promise<string[]> {
    const { rows } = await run<{ key: string }>(this.db, 'fp-images-pending',
      "SELECT key FROM pending_blobs WHERE due <= $1 AND key ILIKE '%/images/%' ORDER BY due LIMIT $2", [now, limit]);
    return rows.map((r) => r.key);
  }

  async expired(now: string, limit: number): Promise<Array<{ tenantId: string; id: string }>> {
    const { rows } = await run<{ tenant_id: string; id: string }>(this.db, 'fp-images-expired',
      'SELECT tenant_id, id FROM images WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2', [now, limit]);
    return rows.map((r) => ({ tenantId: r.tenant_id, id: r.id }));
  }
}
