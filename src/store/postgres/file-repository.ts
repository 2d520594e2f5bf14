import type { FileRepository, StoredFileRecord, StoredFrame } from '../../core/ports.ts';
import type { PostgresDatabase, Queryable } from './database.ts';
import { jsonb, run } from './statements.ts';

interface FileRow {
  id: string; tenant_id: string; kind: StoredFileRecord['kind']; media_type: string | null; label: string | null;
  metadata: Record<string, unknown>; bytes: number; sha256: string | null; created_at: string;
}

interface FrameRow {
  frame_index: number; label: string | null; metadata: Record<string, unknown>; format: StoredFrame['format']; width: number; height: number; bytes: number; sha256: string;
}

/**
 * Pending marks for several keys in one statement, set or moved to `due` (SQLite's INSERT OR
 * REPLACE). DISTINCT: one INSERT … ON CONFLICT DO UPDATE may not touch a row twice.
 */
const MARK_MANY = `INSERT INTO pending_blobs (key, due) SELECT DISTINCT k, $2 FROM unnest($1::text[]) AS k
  ON CONFLICT (key) DO UPDATE SET due = excluded.due`;

/** Uploaded media and frame lists in PostgreSQL, as SqliteFileRepository; every statement is scoped by tenant_id. */
export class PgFileRepository implements FileRepository {
  constructor(private readonly db: PostgresDatabase) {}

  async insert(r: StoredFileRecord, blobKeys: string[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await run(tx, 'fp-files-insert', `INSERT INTO files (tenant_id, id, kind, media_type, label, metadata, bytes, sha256, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [r.tenantId, r.id, r.kind, r.mediaType, r.label, jsonb(r.metadata), r.bytes, r.sha256, r.createdAt]);
      if (r.frames.length) {
        // Every frame in one statement, column by column.
        const f = r.frames;
        await run(tx, 'fp-files-insert-frames', `INSERT INTO file_frames (tenant_id, file_id, frame_index, label, metadata, format, width, height, bytes, sha256)
          SELECT $1, $2, * FROM unnest($3::int[], $4::text[], $5::jsonb[], $6::text[], $7::int[], $8::int[], $9::bigint[], $10::text[])`,
        [r.tenantId, r.id, f.map((x) => x.index), f.map((x) => x.label), f.map((x) => jsonb(x.metadata)), f.map((x) => x.format),
          f.map((x) => x.width), f.map((x) => x.height), f.map((x) => x.bytes), f.map((x) => x.sha256)]);
      }
      if (blobKeys.length) await run(tx, 'fp-pending-clear-many', 'DELETE FROM pending_blobs WHERE key = ANY($1::text[])', [blobKeys]);
    });
  }

  async markPendingBlobs(keys: string[], due: string): Promise<void> {
    await this.mark(this.db, keys, due);
  }

  async clearPendingBlob(key: string): Promise<void> {
    await run(this.db, 'fp-pending-clear', 'DELETE FROM pending_blobs WHERE key = $1', [key]);
  }

  /** Stored images mark their bytes in the same table: only file keys. ILIKE, as SQLite's LIKE ignores ASCII case. */
  async pendingBlobs(now: string, limit: number): Promise<string[]> {
    const { rows } = await run<{ key: string }>(this.db, 'fp-files-pending',
      "SELECT key FROM pending_blobs WHERE due <= $1 AND key ILIKE '%/files/%' ORDER BY due LIMIT $2", [now, limit]);
    return rows.map((x) => x.key);
  }

  async get(tenantId: string, id: string): Promise<StoredFileRecord | undefined> {
    const { rows } = await run<FileRow>(this.db, 'fp-files-get', 'SELECT * FROM files WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    const row = rows[0];
    if (!row) return undefined;
    const { rows: frames } = await run<FrameRow>(this.db, 'fp-files-get-frames',
      'SELECT * FROM file_frames WHERE tenant_id = $1 AND file_id = $2 ORDER BY frame_index', [tenantId, id]);
    return {
      id: row.id, tenantId: row.tenant_id, kind: row.kind, mediaType: row.media_type, label: row.label, metadata: row.metadata,
      bytes: row.bytes, sha256: row.sha256, createdAt: row.created_at,
      frames: frames.map((f): StoredFrame => ({ index: f.frame_index, label: f.label, metadata: f.metadata, format: f.format, width: f.width, height: f.height, bytes: f.bytes, sha256: f.sha256 })),
    };
  }

  async delete(tenantId: string, id: string, pending?: { keys: string[]; due: string }): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { rowCount } = await run(tx, 'fp-files-delete', 'DELETE FROM files WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      const deleted = (rowCount ?? 0) > 0;
      if (deleted && pending) await this.mark(tx, pending.keys, pending.due);
      return deleted;
    });
  }

  private async mark(db: Queryable, keys: string[], due: string): Promise<void> {
    if (keys.length) await run(db, 'fp-pending-mark-many', MARK_MANY, [keys, due]);
  }
}
