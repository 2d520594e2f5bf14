import type { BlobStore } from '../../core/ports.ts';
import type { Queryable } from './database.ts';

/**
 * Blobs as rows of the `blobs` table, so every node sees the same bytes with nothing shared but
 * the database (and they are in its backups). Each put is one statement, hence atomic: a reader
 * sees the whole blob or none, and a write a crash interrupted leaves nothing behind (so there is no
 * sweepInterrupted). A BYTEA holds at most 1 GB; what Faceproof stores is far below that.
 */
export class PostgresBlobStore implements BlobStore {
  constructor(private readonly db: Queryable) {}

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.db.query({
      name: 'blob-put',
      text: 'INSERT INTO blobs (key, bytes) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET bytes = excluded.bytes',
      // node-postgres sends a Buffer as BYTEA; a plain Uint8Array would go as text.
      values: [key, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)],
    });
  }

  async get(key: string): Promise<Buffer | undefined> {
    const { rows } = await this.db.query<{ bytes: Buffer }>({ name: 'blob-get', text: 'SELECT bytes FROM blobs WHERE key = $1', values: [key] });
    return rows[0]?.bytes;
  }

  async delete(key: string): Promise<void> {
    await this.db.query({ name: 'blob-delete', text: 'DELETE FROM blobs WHERE key = $1', values: [key] });
  }
}
