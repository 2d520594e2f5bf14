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
  // Collections and their faces. `faces.key` is the vector-index key: AUTOINCREMENT so a key is never
  // reused, which lets an index snapshot be brought up to date by "faces with a larger key" plus
  // the removals logged after it.
  `CREATE TABLE collections (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('gallery', 'watchlist')),
     description TEXT,
     metadata TEXT NOT NULL DEFAULT '{}',
     template_model TEXT NOT NULL,
     template_version INTEGER NOT NULL,
     dimension INTEGER NOT NULL,
     created_at TEXT NOT NULL,
     UNIQUE (tenant_id, name)
   );
   CREATE TABLE faces (
     key INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     tenant_id TEXT NOT NULL,
     collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
     external_id TEXT,
     metadata TEXT NOT NULL DEFAULT '{}',
     image_id TEXT,
     box TEXT,
     template BLOB NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE INDEX faces_by_collection ON faces (collection_id, key);
   CREATE INDEX faces_by_external_id ON faces (collection_id, external_id) WHERE external_id IS NOT NULL;
   CREATE INDEX faces_by_image ON faces (tenant_id, image_id) WHERE image_id IS NOT NULL;
   CREATE TABLE face_removals (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     collection_id INTEGER NOT NULL,
     face_key INTEGER NOT NULL
   );
   CREATE INDEX face_removals_by_collection ON face_removals (collection_id, seq);
   CREATE TABLE watchlist_inquiries (
     face_key INTEGER NOT NULL REFERENCES faces(key) ON DELETE CASCADE,
     tenant_id TEXT NOT NULL,
     client_id TEXT NOT NULL,
     at TEXT NOT NULL
   );
   CREATE INDEX watchlist_inquiries_by_face ON watchlist_inquiries (face_key, at);
   CREATE TABLE users (
     tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
     user_id TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
     metadata TEXT NOT NULL DEFAULT '{}',
     template_model TEXT NOT NULL,
     template_version INTEGER NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (tenant_id, user_id)
   );
   CREATE TABLE user_faces (
     id TEXT NOT NULL PRIMARY KEY,
     tenant_id TEXT NOT NULL,
     user_id TEXT NOT NULL,
     image_type TEXT NOT NULL,
     image_id TEXT,
     box TEXT,
     template BLOB NOT NULL,
     created_at TEXT NOT NULL,
     FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, user_id) ON DELETE CASCADE
   );
   CREATE INDEX user_faces_by_user ON user_faces (tenant_id, user_id);
   CREATE INDEX user_faces_by_image ON user_faces (tenant_id, image_id) WHERE image_id IS NOT NULL;
   CREATE TABLE user_events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     tenant_id TEXT NOT NULL,
     user_id TEXT NOT NULL,
     action TEXT NOT NULL,
     result TEXT NOT NULL,
     detail TEXT NOT NULL DEFAULT '{}',
     request_id TEXT,
     at TEXT NOT NULL
   );
   CREATE INDEX user_events_by_user ON user_events (tenant_id, user_id, seq);
   CREATE TABLE sessions (
     tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
     id TEXT NOT NULL,
     image_storage_enabled INTEGER NOT NULL,
     metadata TEXT NOT NULL DEFAULT '{}',
     template_model TEXT NOT NULL,
     template_version INTEGER NOT NULL,
     created_at TEXT NOT NULL,
     expires_at TEXT NOT NULL,
     PRIMARY KEY (tenant_id, id)
   );
   CREATE INDEX sessions_by_expiry ON sessions (expires_at);
   CREATE TABLE session_faces (
     tenant_id TEXT NOT NULL,
     session_id TEXT NOT NULL,
     id TEXT NOT NULL,
     image_type TEXT NOT NULL,
     image_id TEXT,
     image_owned INTEGER NOT NULL DEFAULT 0,
     box TEXT,
     template BLOB NOT NULL,
     created_at TEXT NOT NULL,
     PRIMARY KEY (tenant_id, session_id, id),
     FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
   );`,
  // The audit trail: append-only, one hash chain over every tenant's records (seq order). No
  // foreign keys: a record outlives what it describes (erasure removes data, not its history).
  `CREATE TABLE audit_records (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     tenant_id TEXT NOT NULL,
     request_id TEXT NOT NULL UNIQUE,
     client_request_id TEXT,
     client_id TEXT NOT NULL,
     method TEXT NOT NULL,
     route TEXT NOT NULL,
     service TEXT NOT NULL,
     status INTEGER NOT NULL,
     latency_ms REAL NOT NULL,
     inputs TEXT NOT NULL,
     result TEXT NOT NULL,
     at TEXT NOT NULL,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL
   );
   CREATE INDEX audit_by_tenant ON audit_records (tenant_id, seq);
   CREATE INDEX audit_by_client_request ON audit_records (tenant_id, client_request_id) WHERE client_request_id IS NOT NULL;
   CREATE TABLE audit_prunes (
     up_to_seq INTEGER PRIMARY KEY,
     last_hash TEXT NOT NULL,
     at TEXT NOT NULL
   );`,
  // API clients and their keys. A client acts for one tenant; several clients may share one.
  // Key secrets are kept as SHA-256 digests; keys allowed to sign requests (HMAC) also keep the
  // secret sealed under the master key, because verifying an HMAC needs it.
  `CREATE TABLE clients (
     id TEXT PRIMARY KEY,
     tenant_id TEXT NOT NULL REFERENCES tenants(id),
     name TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
     rate_per_second REAL,
     burst INTEGER,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     client_id TEXT NOT NULL REFERENCES clients(id),
     parent_key_id TEXT REFERENCES api_keys(id),
     label TEXT,
     scopes TEXT NOT NULL,
     secret_sha256 TEXT NOT NULL,
     secret_sealed BLOB,
     created_at TEXT NOT NULL,
     expires_at TEXT,
     revoked_at TEXT
   );
   CREATE INDEX api_keys_by_client ON api_keys (client_id);
   CREATE TABLE auth_replays (
     digest TEXT PRIMARY KEY,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX auth_replays_expiry ON auth_replays (expires_at);
   CREATE TABLE transactions (
     tenant_id TEXT NOT NULL REFERENCES tenants(id),
     id TEXT NOT NULL,
     client_id TEXT NOT NULL,
     reference_id TEXT,
     channel TEXT,
     metadata TEXT NOT NULL DEFAULT '{}',
     status TEXT NOT NULL CHECK (status IN ('open', 'finished')),
     outcome TEXT,
     created_at TEXT NOT NULL,
     finished_at TEXT,
     PRIMARY KEY (tenant_id, id)
   );
   CREATE TABLE usage_counters (
     tenant_id TEXT NOT NULL,
     client_id TEXT NOT NULL,
     day TEXT NOT NULL,
     service TEXT NOT NULL,
     outcome TEXT NOT NULL,
     billable INTEGER NOT NULL,
     count INTEGER NOT NULL,
     PRIMARY KEY (tenant_id, client_id, day, service, outcome, billable)
   );
   ALTER TABLE audit_records ADD COLUMN transaction_id TEXT;
   CREATE INDEX audit_by_transaction ON audit_records (tenant_id, transaction_id) WHERE transaction_id IS NOT NULL;`,
  // Blob files that may exist without a row: marked before an image's bytes are written (cleared with
  // the row's insert) and when its row is erased (cleared once the file is gone). A kill -9 in between
  // leaves the mark, and the retention sweeper erases the file once it is due.
  `CREATE TABLE pending_blobs (
     key TEXT PRIMARY KEY,
     due TEXT NOT NULL
   );
   CREATE INDEX pending_blobs_by_due ON pending_blobs (due);`,
  // What a session face keeps beyond its template (IDEMIA's face resource): the image's digest, the
  // eyes, the detector's confidence, the client's name for it (JSON, see SessionFaceDetails).
  'ALTER TABLE session_faces ADD COLUMN details TEXT;',
  // The API client that indexed each collection face (TrustVision's alert counts the members with a suspect face).
  'ALTER TABLE faces ADD COLUMN indexed_by TEXT;',
  // Answers kept for TrustVision's requests_by_* (sealed) and per-client SDK settings.
  `CREATE TABLE IF NOT EXISTS request_records (
     tenant_id TEXT NOT NULL,
     request_id TEXT NOT NULL,
     x_request_id TEXT,
     client_id TEXT NOT NULL,
     key_id TEXT,
     service TEXT NOT NULL,
     at TEXT NOT NULL,
     sealed BLOB NOT NULL,
     PRIMARY KEY (tenant_id, request_id)
   );
   CREATE INDEX IF NOT EXISTS request_records_by_x ON request_records (tenant_id, x_request_id) WHERE x_request_id IS NOT NULL;
   CREATE INDEX IF NOT EXISTS request_records_by_at ON request_records (at);
   CREATE TABLE IF NOT EXISTS client_settings (
     tenant_id TEXT NOT NULL,
     client_id TEXT NOT NULL,
     flow_id TEXT NOT NULL,
     settings TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (tenant_id, client_id, flow_id)
   );`,
  // 10. Trust anchors for chip verification (CSCA certificates and CRLs): server-wide, not per tenant.
  // name_key and the key identifiers index the chain lookup without parsing every certificate.
  `CREATE TABLE trust_anchors (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     kind TEXT NOT NULL CHECK (kind IN ('certificate', 'crl')),
     subject TEXT NOT NULL,
     issuer TEXT NOT NULL,
     serial TEXT NOT NULL,
     country TEXT,
     not_before TEXT NOT NULL,
     not_after TEXT NOT NULL,
     subject_key_id TEXT,
     authority_key_id TEXT,
     name_key TEXT NOT NULL,
     sha256 TEXT NOT NULL UNIQUE,
     source TEXT NOT NULL,
     added_at TEXT NOT NULL,
     der BLOB NOT NULL
   );`,
  // 11. Chips verified here (TrustVision's check_nfc): identity numbers as SHA-256 only, never in clear.
  `CREATE TABLE verified_chips (
     tenant_id TEXT NOT NULL,
     id_hash TEXT NOT NULL,
     sod_sha512 TEXT NOT NULL,
     input_fields TEXT NOT NULL,
     request_id TEXT NOT NULL,
     at TEXT NOT NULL
   );
   CREATE INDEX verified_chips_by_id ON verified_chips (tenant_id, id_hash, at);
   CREATE INDEX verified_chips_by_at ON verified_chips (at);`,
  // 12. The audit trail by decision word (GET /v1/audit/records?decision=): a generated column read
  // from the stored result (its decision, else its status when text, else its verdict: what the
  // console shows), indexed for the records that have one. Virtual and derived, so appends are
  // unchanged, existing records are covered without rewriting them, and nothing hashed changes.
  // json_valid first: a record whose result is not JSON has no decision rather than failing here.
  `ALTER TABLE audit_records ADD COLUMN decision TEXT GENERATED ALWAYS AS (
     CASE WHEN json_valid(result) THEN COALESCE(
       CASE json_type(result, '$.decision') WHEN 'text' THEN json_extract(result, '$.decision') END,
       CASE json_type(result, '$.status') WHEN 'text' THEN json_extract(result, '$.status') END,
       CASE json_type(result, '$.verdict') WHEN 'text' THEN json_extract(result, '$.verdict') END) END) VIRTUAL;
   CREATE INDEX audit_by_decision ON audit_records (tenant_id, decision, seq) WHERE decision IS NOT NULL;`,
  // 13. A watch-list's inquiries newest first (GET /v1/collections/{name}/inquiries), a page at a time.
  'CREATE INDEX watchlist_inquiries_by_tenant ON watchlist_inquiries (tenant_id, at, client_id);',
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
