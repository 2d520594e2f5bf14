import type { FileRepository, StoredFileRecord, StoredFrame } from '../../core/ports.ts';
import type { Db } from './database.ts';

/** Uploaded media and frame lists in SQLite; every statement is scoped by tenant_id. */
export class SqliteFileRepository implements FileRepository {
  constructor(private readonly db: Db) {}

  async insert(r: StoredFileRecord, blobKeys: string[]): Promise<void> {
    const insertFile = this.db.prepare(`INSERT INTO files (tenant_id, id, kind, media_type, label, metadata, bytes, sha256, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const insertFrame = this.db.prepare(`INSERT INTO file_frames (tenant_id, file_id, frame_index, label, metadata, format, width, height, bytes, sha256)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      insertFile.run(r.tenantId, r.id, r.kind, r.mediaType, r.label, JSON.stringify(r.metadata), r.bytes, r.sha256, r.createdAt);
      for (const f of r.frames) {
        insertFrame.run(r.tenantId, r.id, f.index, f.label, JSON.stringify(f.metadata), f.format, f.width, f.height, f.bytes, f.sha256);
      }
      for (const key of blobKeys) this.clear.run(key);
    })();
  }

  private get mark() { return this.db.prepare('INSERT OR REPLACE INTO pending_blobs (key, due) VALUES (?, ?)'); }
  private get clear() { return this.db.prepare('DELETE FROM pending_blobs WHERE key = ?'); }

  async markPendingBlobs(keys: string[], due: string): Promise<void> {
    const mark = this.mark;
    this.db.transaction(() => { for (const key of keys) mark.run(key, due); })();
  }

  async clearPendingBlob(key: string): Promise<void> {
    this.clear.run(key);
  }

  async pendingBlobs(now: string, limit: number): Promise<string[]> {
    return this.db.prepare("SELECT key FROM pending_blobs WHERE due <= ? AND key LIKE '%/files/%' ORDER BY due LIMIT ?").pluck().all(now, limit) as string[];
  }

  async get(tenantId: string, id: string): Promise<StoredFileRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM files WHERE tenant_id = ? AND id = ?').get(tenantId, id) as
      { id: string; tenant_id: string; kind: StoredFileRecord['kind']; media_type: string | null; label: string | null; metadata: string; bytes: number; sha256: string | null; created_at: string } | undefined;
    if (!row) return undefined;
    const frames = (this.db.prepare('SELECT * FROM file_frames WHERE tenant_id = ? AND file_id = ? ORDER BY frame_index').all(tenantId, id) as
      Array<{ frame_index: number; label: string | null; metadata: string; format: StoredFrame['format']; width: number; height: number; bytes: number; sha256: string }>)
      .map((f): StoredFrame => ({ index: f.frame_index, label: f.label, metadata: JSON.parse(f.metadata) as Record<string, unknown>, format: f.format, width: f.width, height: f.height, bytes: f.bytes, sha256: f.sha256 }));
    return {
      id: row.id, tenantId: row.tenant_id, kind: row.kind, mediaType: row.media_type, label: row.label,
      metadata: JSON.parse(row.metadata) as Record<string, unknown>, bytes: row.bytes, sha256: row.sha256, createdAt: row.created_at, frames,
    };
  }

  async delete(tenantId: string, id: string, pending?: { keys: string[]; due: string }): Promise<boolean> {
    return this.db.transaction(() => {
      const deleted = this.db.prepare('DELETE FROM files WHERE tenant_id = ? AND id = ?').run(tenantId, id).changes > 0;
      if (deleted && pending) for (const key of pending.keys) this.mark.run(key, pending.due);
      return deleted;
    })();
  }
}
