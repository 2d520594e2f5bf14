import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** Schema changes in order; each runs once, in a transaction, and is recorded in schema_migrations. */
const MIGRATIONS: string[] = [
  `CREATE TABLE tenants (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   INSERT INTO tenants (id, name, created_at) VALUES ('default', 'default', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
   CREATE TABLE images (
     tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
     id TEXT NOT NULL,
     label TEXT,
     metadata TEXT NOT NULL DEFAULT '{}',
     format TEXT NOT NULL,
     width INTEGER NOT NULL,
     height INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     created_at TEXT NOT NULL,
     expires_at TEXT,
     PRIMARY KEY (tenant_id, id)
   );
   CREATE INDEX images_expiry ON images (expires_at) WHERE expires_at IS NOT NULL;`,
  `CREATE TABLE files (
     tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
     id TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('video', 'audio', 'frames')),
     media_type TEXT,
     label TEXT,
     metadata TEXT NOT NULL DEFAULT '{}',
     bytes INTEGER NOT NULL,
     sha256 TEXT,
     created_at TEXT NOT NULL,
     PRIMARY KEY (tenant_id, id)
   );
   CREATE TABLE file_frames (
     tenant_id TEXT NOT NULL,
     file_id TEXT NOT NULL,
     frame_index INTEGER NOT NULL,
     label TEXT,
     metadata TEXT NOT NULL DEFAULT '{}',
     format TEXT NOT NULL,
     width INTEGER NOT NULL,
     height INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     PRIMARY KEY (tenant_id, file_id, frame_index),
     FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE
   );`,
];

/** Opens (creating if needed) the SQLite database with WAL, foreign keys and the schema up to date. */
export function openDatabase(file: string): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    if (applied.has(version)) return;
    db.transaction(() => {
      db.exec(sql);
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))").run(version);
    })();
  });
  return db;
}

export function createTenant(db: Db, id: string, name = id): void {
  db.prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))").run(id, name);
}
