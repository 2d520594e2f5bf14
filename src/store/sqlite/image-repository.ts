import type { ImageRepository, StoredImageRecord } from '../../core/ports.ts';
import type { Db } from './database.ts';

interface Row {
  tenant_id: string; id: string; label: string | null; metadata: string; format: StoredImageRecord['format'];
  width: number; height: number; bytes: number; sha256: string; created_at: string; expires_at: string | null;
}

const toRecord = (r: Row): StoredImageRecord => ({
  id: r.id, tenantId: r.tenant_id, label: r.label, metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  format: r.format, width: r.width, height: r.height, bytes: r.bytes, sha256: r.sha256,
  createdAt: r.created_at, expiresAt: r.expires_at,
});

/** Stored images in SQLite; every statement is scoped by tenant_id. */
export class SqliteImageRepository implements ImageRepository {
  private readonly statements;

  constructor(private readonly db: Db) {
    this.statements = {
      insert: db.prepare(`INSERT INTO images (tenant_id, id, label, metadata, format, width, height, bytes, sha256, created_at, expires_at)
        VALUES (@tenantId, @id, @label, @metadata, @format, @width, @height, @bytes, @sha256, @createdAt, @expiresAt)`),
      get: db.prepare('SELECT * FROM images WHERE tenant_id = ? AND id = ?'),
      update: db.prepare('UPDATE images SET label = ?, metadata = ? WHERE tenant_id = ? AND id = ?'),
      delete: db.prepare('DELETE FROM images WHERE tenant_id = ? AND id = ?'),
      expired: db.prepare('SELECT tenant_id, id FROM images WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?'),
      mark: db.prepare('INSERT OR REPLACE INTO pending_blobs (key, due) VALUES (?, ?)'),
      clear: db.prepare('DELETE FROM pending_blobs WHERE key = ?'),
      // Stored files mark their bytes in the same table (FileStore): an image's sweeper takes only image keys.
      pending: db.prepare("SELECT key FROM pending_blobs WHERE due <= ? AND key LIKE '%/images/%' ORDER BY due LIMIT ?").pluck(),
    };
  }

  async insert(record: StoredImageRecord, blobKey: string): Promise<void> {
    this.db.transaction(() => {
      this.statements.insert.run({ ...record, metadata: JSON.stringify(record.metadata) });
      this.statements.clear.run(blobKey);
    })();
  }

  async get(tenantId: string, id: string): Promise<StoredImageRecord | undefined> {
    const row = this.statements.get.get(tenantId, id) as Row | undefined;
    return row && toRecord(row);
  }

  async update(tenantId: string, id: string, changes: { label?: string | null; metadata?: Record<string, unknown> }): Promise<StoredImageRecord | undefined> {
    const current = await this.get(tenantId, id);
    if (!current) return undefined;
    const label = changes.label !== undefined ? changes.label : current.label;
    const metadata = changes.metadata ?? current.metadata;
    this.statements.update.run(label, JSON.stringify(metadata), tenantId, id);
    return { ...current, label, metadata };
  }

  async delete(tenantId: string, id: string, blob: { key: string; due: string }): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.statements.delete.run(tenantId, id).changes === 0) return false;
      this.statements.mark.run(blob.key, blob.due);
      return true;
    })();
  }

  async markPendingBlob(key: string, due: string): Promise<void> {
    this.statements.mark.run(key, due);
  }

  async clearPendingBlob(key: string): Promise<void> {
    this.statements.clear.run(key);
  }

  async pendingBlobs(now: string, limit: number): Promise<string[]> {
    return this.statements.pending.all(now, limit) as string[];
  }

  async expired(now: string, limit: number): Promise<Array<{ tenantId: string; id: string }>> {
    return (this.statements.expired.all(now, limit) as Array<{ tenant_id: string; id: string }>).map((r) => ({ tenantId: r.tenant_id, id: r.id }));
  }
}
