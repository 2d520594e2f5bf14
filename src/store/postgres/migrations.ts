/**
 * The PostgreSQL schema, as numbered migrations applied in order by openPostgres (database.ts).
 *
 * Migration 1 is the SQLite store's schema as it stands after its 13 migrations
 * (src/store/sqlite/database.ts), written as one final schema rather than replayed, plus the
 * `blobs` table of the PostgreSQL blob store. Later changes append migrations; an applied one is
 * never edited, since every database that ran it keeps what it made.
 *
 * Types, and why:
 * - Text is `TEXT COLLATE "C"` everywhere: byte order, as SQLite's BINARY collation and as the core
 *   compares strings (ISO timestamps, cursors such as `at <= ? AND client_id < ?`), whatever the
 *   database's default collation is (a bank's may well be en_US, which orders otherwise).
 * - Timestamps stay TEXT in the ISO form the SQLite store keeps ("2026-11-30T22:05:45.101Z"): the
 *   core writes and compares them as strings.
 * - Keys that SQLite's AUTOINCREMENT assigned are BIGSERIAL: a sequence never hands a value out
 *   twice, so `faces.key` stays never reused and increasing (an aborted insert leaves a gap, as in
 *   SQLite). Caveat for whoever catches indexes up by "key > last seen": with several writers a
 *   smaller key can commit after a larger one has been read.
 * - Counts of bytes and other integers that may pass 2^31 are BIGINT (openPostgres parses BIGINT
 *   into numbers); SQLite's REAL (a double) is DOUBLE PRECISION; its 0/1 flags are BOOLEAN.
 * - Templates, sealed secrets and other bytes are BYTEA.
 * - JSON kept as objects (metadata, boxes, details, scopes, settings) is JSONB. JSONB does not keep
 *   key order and refuses the escape \u0000 (no TEXT column takes a NUL either): the repositories
 *   must account for both.
 * - The audit trail's `inputs` and `result` stay TEXT, exactly as written: the hash chain covers
 *   their content, and the record must read back the same (no JSONB normalisation, no refusal of a
 *   \u0000 a client sent). Its `decision` is a STORED generated column computed from `result` as
 *   SQLite's migration 12 computes it (by faceproof_audit_decision).
 * - Foreign keys and their ON DELETE CASCADE are SQLite's, no more, no fewer (the audit trail has
 *   none on purpose: a record outlives what it describes).
 * - Rows that SQLite ordered by its implicit rowid (request_records, verified_chips) get an explicit
 *   `seq` for that order.
 */

/** Text compared byte by byte, as SQLite and the core compare it. */
const T = 'TEXT COLLATE "C"';

/** An ISO timestamp of now, in the form the SQLite store writes (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')). */
const NOW_ISO = `to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export const POSTGRES_MIGRATIONS: readonly string[] = [
  // 1. Everything the SQLite store holds, as of its migration 13, and the blob store's table.
  `
  -- Tenants, stored images and files (SQLite migrations 1-2).
  CREATE TABLE tenants (
    id ${T} PRIMARY KEY,
    name ${T} NOT NULL,
    created_at ${T} NOT NULL
  );
  INSERT INTO tenants (id, name, created_at) VALUES ('default', 'default', ${NOW_ISO});

  CREATE TABLE images (
    tenant_id ${T} NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id ${T} NOT NULL,
    label ${T},
    metadata JSONB NOT NULL DEFAULT '{}',
    format ${T} NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    sha256 ${T} NOT NULL,
    created_at ${T} NOT NULL,
    expires_at ${T},
    PRIMARY KEY (tenant_id, id)
  );
  CREATE INDEX images_expiry ON images (expires_at) WHERE expires_at IS NOT NULL;

  CREATE TABLE files (
    tenant_id ${T} NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id ${T} NOT NULL,
    kind ${T} NOT NULL CHECK (kind IN ('video', 'audio', 'frames')),
    media_type ${T},
    label ${T},
    metadata JSONB NOT NULL DEFAULT '{}',
    bytes BIGINT NOT NULL,
    sha256 ${T},
    created_at ${T} NOT NULL,
    PRIMARY KEY (tenant_id, id)
  );
  CREATE TABLE file_frames (
    tenant_id ${T} NOT NULL,
    file_id ${T} NOT NULL,
    frame_index INTEGER NOT NULL,
    label ${T},
    metadata JSONB NOT NULL DEFAULT '{}',
    format ${T} NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    sha256 ${T} NOT NULL,
    PRIMARY KEY (tenant_id, file_id, frame_index),
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE
  );

  -- Collections and their faces (SQLite migrations 3, 8, 13). faces.key is the vector-index key:
  -- from a sequence, so never reused, which lets an index snapshot catch up on "faces with a larger
  -- key" plus the removals logged after it.
  CREATE TABLE collections (
    id BIGSERIAL PRIMARY KEY,
    tenant_id ${T} NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name ${T} NOT NULL,
    kind ${T} NOT NULL CHECK (kind IN ('gallery', 'watchlist')),
    description ${T},
    metadata JSONB NOT NULL DEFAULT '{}',
    template_model ${T} NOT NULL,
    template_version INTEGER NOT NULL,
    dimension INTEGER NOT NULL,
    created_at ${T} NOT NULL,
    UNIQUE (tenant_id, name)
  );
  CREATE TABLE faces (
    key BIGSERIAL PRIMARY KEY,
    id ${T} NOT NULL UNIQUE,
    tenant_id ${T} NOT NULL,
    collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    external_id ${T},
    metadata JSONB NOT NULL DEFAULT '{}',
    image_id ${T},
    box JSONB,
    template BYTEA NOT NULL,
    created_at ${T} NOT NULL,
    indexed_by ${T}
  );
  CREATE INDEX faces_by_collection ON faces (collection_id, key);
  CREATE INDEX faces_by_external_id ON faces (collection_id, external_id) WHERE external_id IS NOT NULL;
  CREATE INDEX faces_by_image ON faces (tenant_id, image_id) WHERE image_id IS NOT NULL;
  CREATE TABLE face_removals (
    seq BIGSERIAL PRIMARY KEY,
    collection_id BIGINT NOT NULL,
    face_key BIGINT NOT NULL
  );
  CREATE INDEX face_removals_by_collection ON face_removals (collection_id, seq);
  CREATE TABLE watchlist_inquiries (
    face_key BIGINT NOT NULL REFERENCES faces(key) ON DELETE CASCADE,
    tenant_id ${T} NOT NULL,
    client_id ${T} NOT NULL,
    at ${T} NOT NULL
  );
  CREATE INDEX watchlist_inquiries_by_face ON watchlist_inquiries (face_key, at);
  CREATE INDEX watchlist_inquiries_by_tenant ON watchlist_inquiries (tenant_id, at, client_id);

  -- Users who authenticate with their face, and their history (SQLite migration 3).
  CREATE TABLE users (
    tenant_id ${T} NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id ${T} NOT NULL,
    status ${T} NOT NULL CHECK (status IN ('active', 'inactive')),
    metadata JSONB NOT NULL DEFAULT '{}',
    template_model ${T} NOT NULL,
    template_version INTEGER NOT NULL,
    created_at ${T} NOT NULL,
    updated_at ${T} NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
  );
  CREATE TABLE user_faces (
    id ${T} NOT NULL PRIMARY KEY,
    tenant_id ${T} NOT NULL,
    user_id ${T} NOT NULL,
    image_type ${T} NOT NULL,
    image_id ${T},
    box JSONB,
    template BYTEA NOT NULL,
    created_at ${T} NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, user_id) ON DELETE CASCADE
  );
  CREATE INDEX user_faces_by_user ON user_faces (tenant_id, user_id);
  CREATE INDEX user_faces_by_image ON user_faces (tenant_id, image_id) WHERE image_id IS NOT NULL;
  CREATE TABLE user_events (
    seq BIGSERIAL PRIMARY KEY,
    tenant_id ${T} NOT NULL,
    user_id ${T} NOT NULL,
    action ${T} NOT NULL,
    result ${T} NOT NULL,
    detail JSONB NOT NULL DEFAULT '{}',
    request_id ${T},
    at ${T} NOT NULL
  );
  CREATE INDEX user_events_by_user ON user_events (tenant_id, user_id, seq);

  -- Short-lived one-to-few sessions (SQLite migrations 3, 7).
  CREATE TABLE sessions (
    tenant_id ${T} NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id ${T} NOT NULL,
    image_storage_enabled BOOLEAN NOT NULL,
    metadata JSONB NOT NULL DEFAULT '{}',
    template_model ${T} NOT NULL,
    template_version INTEGER NOT NULL,
    created_at ${T} NOT NULL,
    expires_at ${T} NOT NULL,
    PRIMARY KEY (tenant_id, id)
  );
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);
  CREATE TABLE session_faces (
    tenant_id ${T} NOT NULL,
    session_id ${T} NOT NULL,
    id ${T} NOT NULL,
    image_type ${T} NOT NULL,
    image_id ${T},
    image_owned BOOLEAN NOT NULL DEFAULT false,
    box JSONB,
    template BYTEA NOT NULL,
    created_at ${T} NOT NULL,
    -- What a session face keeps beyond its template (IDEMIA's face resource, see SessionFaceDetails).
    details JSONB,
    PRIMARY KEY (tenant_id, session_id, id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
  );

  -- The audit trail (SQLite migrations 4, 5, 12): append-only and hash-chained. No foreign keys: a
  -- record outlives what it describes (erasure removes data, not its history).
  --
  -- A record's decision word (GET /v1/audit/records?decision=), read from the stored result as
  -- SQLite's migration 12 reads it: its decision, else its status, else its verdict, the first that
  -- is a string; none when the result is not a JSON object, or not JSON (json_valid() there; any
  -- error here, rather than refusing the append). IMMUTABLE (it reads only its argument), as a
  -- generated column requires. PostgreSQL's text holds no NUL, so reading any field of a result
  -- holding an escaped one fails; it is read again with those escapes as U+FFFD, so that such a
  -- string elsewhere does not hide the decision.
  CREATE FUNCTION faceproof_audit_decision(result text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
  DECLARE
    candidate text;
    j json;
  BEGIN
    FOREACH candidate IN ARRAY ARRAY[result, replace(result, '\\u0000', '\\ufffd')] LOOP
      BEGIN
        j := candidate::json;
        IF json_typeof(j) IS DISTINCT FROM 'object' THEN
          RETURN NULL;
        END IF;
        RETURN COALESCE(
          CASE WHEN json_typeof(j -> 'decision') = 'string' THEN j ->> 'decision' END,
          CASE WHEN json_typeof(j -> 'status') = 'string' THEN j ->> 'status' END,
          CASE WHEN json_typeof(j -> 'verdict') = 'string' THEN j ->> 'verdict' END);
      EXCEPTION WHEN others THEN
        -- not JSON, or a NUL: the next candidate, if any
      END;
    END LOOP;
    RETURN NULL;
  END
  $$;
  CREATE TABLE audit_records (
    seq BIGSERIAL PRIMARY KEY,
    tenant_id ${T} NOT NULL,
    request_id ${T} NOT NULL UNIQUE,
    client_request_id ${T},
    client_id ${T} NOT NULL,
    method ${T} NOT NULL,
    route ${T} NOT NULL,
    service ${T} NOT NULL,
    status INTEGER NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    inputs TEXT NOT NULL,
    result TEXT NOT NULL,
    at ${T} NOT NULL,
    prev_hash ${T} NOT NULL,
    hash ${T} NOT NULL,
    transaction_id ${T},
    decision ${T} GENERATED ALWAYS AS (faceproof_audit_decision(result)) STORED
  );
  CREATE INDEX audit_by_tenant ON audit_records (tenant_id, seq);
  CREATE INDEX audit_by_client_request ON audit_records (tenant_id, client_request_id) WHERE client_request_id IS NOT NULL;
  CREATE INDEX audit_by_transaction ON audit_records (tenant_id, transaction_id) WHERE transaction_id IS NOT NULL;
  CREATE INDEX audit_by_decision ON audit_records (tenant_id, decision, seq) WHERE decision IS NOT NULL;
  CREATE TABLE audit_prunes (
    up_to_seq BIGINT PRIMARY KEY,
    last_hash ${T} NOT NULL,
    at ${T} NOT NULL
  );

  -- API clients and their keys (SQLite migration 5). Secrets are kept as SHA-256 digests; keys
  -- allowed to sign requests (HMAC) also keep the secret sealed under the master key.
  CREATE TABLE clients (
    id ${T} PRIMARY KEY,
    tenant_id ${T} NOT NULL REFERENCES tenants(id),
    name ${T} NOT NULL,
    status ${T} NOT NULL CHECK (status IN ('active', 'disabled')),
    rate_per_second DOUBLE PRECISION,
    burst INTEGER,
    created_at ${T} NOT NULL,
    updated_at ${T} NOT NULL
  );
  CREATE TABLE api_keys (
    id ${T} PRIMARY KEY,
    client_id ${T} NOT NULL REFERENCES clients(id),
    parent_key_id ${T} REFERENCES api_keys(id),
    label ${T},
    scopes JSONB NOT NULL,
    secret_sha256 ${T} NOT NULL,
    secret_sealed BYTEA,
    created_at ${T} NOT NULL,
    expires_at ${T},
    revoked_at ${T}
  );
  CREATE INDEX api_keys_by_client ON api_keys (client_id);
  -- Used request signatures (HMAC, ADVANCE); expires_at in milliseconds since the epoch.
  CREATE TABLE auth_replays (
    digest ${T} PRIMARY KEY,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX auth_replays_expiry ON auth_replays (expires_at);

  -- Clients' transactions and usage metering (SQLite migration 5).
  CREATE TABLE transactions (
    tenant_id ${T} NOT NULL REFERENCES tenants(id),
    id ${T} NOT NULL,
    client_id ${T} NOT NULL,
    reference_id ${T},
    channel ${T},
    metadata JSONB NOT NULL DEFAULT '{}',
    status ${T} NOT NULL CHECK (status IN ('open', 'finished')),
    outcome ${T},
    created_at ${T} NOT NULL,
    finished_at ${T},
    PRIMARY KEY (tenant_id, id)
  );
  CREATE TABLE usage_counters (
    tenant_id ${T} NOT NULL,
    client_id ${T} NOT NULL,
    day ${T} NOT NULL,
    service ${T} NOT NULL,
    outcome ${T} NOT NULL,
    billable BOOLEAN NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, day, service, outcome, billable)
  );

  -- Blobs that may exist without a row (SQLite migration 6): marked before an image's bytes are
  -- written (cleared with the row's insert) and when its row is erased (cleared once the blob is
  -- gone); the retention sweeper erases what is still marked once it is due.
  CREATE TABLE pending_blobs (
    key ${T} PRIMARY KEY,
    due ${T} NOT NULL
  );
  CREATE INDEX pending_blobs_by_due ON pending_blobs (due);

  -- Answers kept for TrustVision's requests_by_* (sealed) and per-client SDK settings (SQLite
  -- migration 9). seq orders rows of one x_request_id as SQLite's rowid did.
  CREATE TABLE request_records (
    tenant_id ${T} NOT NULL,
    request_id ${T} NOT NULL,
    x_request_id ${T},
    client_id ${T} NOT NULL,
    key_id ${T},
    service ${T} NOT NULL,
    at ${T} NOT NULL,
    sealed BYTEA NOT NULL,
    seq BIGSERIAL NOT NULL,
    PRIMARY KEY (tenant_id, request_id)
  );
  CREATE INDEX request_records_by_x ON request_records (tenant_id, x_request_id) WHERE x_request_id IS NOT NULL;
  CREATE INDEX request_records_by_at ON request_records (at);
  CREATE TABLE client_settings (
    tenant_id ${T} NOT NULL,
    client_id ${T} NOT NULL,
    flow_id ${T} NOT NULL,
    settings JSONB NOT NULL,
    updated_at ${T} NOT NULL,
    PRIMARY KEY (tenant_id, client_id, flow_id)
  );

  -- Trust anchors for chip verification, server-wide (SQLite migration 10).
  CREATE TABLE trust_anchors (
    seq BIGSERIAL PRIMARY KEY,
    id ${T} NOT NULL UNIQUE,
    kind ${T} NOT NULL CHECK (kind IN ('certificate', 'crl')),
    subject ${T} NOT NULL,
    issuer ${T} NOT NULL,
    serial ${T} NOT NULL,
    country ${T},
    not_before ${T} NOT NULL,
    not_after ${T} NOT NULL,
    subject_key_id ${T},
    authority_key_id ${T},
    name_key ${T} NOT NULL,
    sha256 ${T} NOT NULL UNIQUE,
    source ${T} NOT NULL,
    added_at ${T} NOT NULL,
    der BYTEA NOT NULL
  );

  -- Chips verified here (SQLite migration 11): identity numbers as SHA-256 only. seq breaks ties
  -- of one instant as SQLite's rowid did.
  CREATE TABLE verified_chips (
    seq BIGSERIAL PRIMARY KEY,
    tenant_id ${T} NOT NULL,
    id_hash ${T} NOT NULL,
    sod_sha512 ${T} NOT NULL,
    input_fields JSONB NOT NULL,
    request_id ${T} NOT NULL,
    at ${T} NOT NULL
  );
  CREATE INDEX verified_chips_by_id ON verified_chips (tenant_id, id_hash, at);
  CREATE INDEX verified_chips_by_at ON verified_chips (at);

  -- The PostgreSQL blob store (blob-store.ts): images, files and kept audit inputs, shared by every
  -- node. EXTERNAL storage: out of line but never compressed, since what lands here is already
  -- compressed (JPEG, PNG, WebP, video) and trying again costs CPU on every write.
  CREATE TABLE blobs (
    key ${T} PRIMARY KEY,
    bytes BYTEA NOT NULL
  );
  ALTER TABLE blobs ALTER COLUMN bytes SET STORAGE EXTERNAL;
  `,

  // 2. When each face removal was logged. With several nodes, a removal may only be forgotten once
  // every node's index has applied it; the nodes do not report how far they got, so
  // PgCollectionRepository.pruneRemovals keeps every removal younger than a safe age (a day by
  // default) and needs to know each one's age. Rows already there count as logged now.
  'ALTER TABLE face_removals ADD COLUMN removed_at TIMESTAMPTZ NOT NULL DEFAULT now();',
  // 3. State that lived in one process or in files of the data folder, shared by every node:
  // result-signing keys, named secrets (the access-token key), rate buckets and drawn challenges.
  `
  -- Result-signing keys (PgSigningKeys): the one with the highest seq signs, every one is published.
  -- seq rather than created_at orders them: nodes' clocks may disagree. The private JWK is sealed by
  -- the master keyring under the purpose "signing-key:<kid>", so a row cannot be passed off as another's.
  CREATE TABLE signing_keys (
    seq BIGSERIAL PRIMARY KEY,
    kid ${T} NOT NULL UNIQUE,
    alg ${T} NOT NULL,
    created_at ${T} NOT NULL,
    public_jwk JSONB NOT NULL,
    sealed_private_jwk BYTEA NOT NULL
  );

  -- Named server secrets (PgSecrets), sealed by the master keyring under "server-secret:<name>".
  CREATE TABLE server_secrets (
    name ${T} PRIMARY KEY,
    sealed BYTEA NOT NULL,
    created_at ${T} NOT NULL
  );

  -- Per-client token buckets (PgRateBuckets), written by every authenticated request: UNLOGGED, as
  -- the in-memory buckets, a crash (or a failover: the replica has none) refills them, which errs
  -- on the side of serving; in exchange no WAL is written for them. "at" is the database's clock in
  -- seconds since the epoch, one clock for every node. "granted": whether the last take got a token.
  CREATE UNLOGGED TABLE rate_buckets (
    client_id ${T} PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    granted BOOLEAN NOT NULL
  );

  -- Challenges drawn on one node and answered on any (PgChallengeStore): liveness challenges and
  -- chip active-authentication nonces. No foreign key to tenants: they live minutes, and a
  -- tenant's erasure need not wait for them. keep_until: when the row may be forgotten (the
  -- services judge expiry themselves, from the payload).
  CREATE TABLE challenges (
    kind ${T} NOT NULL,
    id ${T} NOT NULL,
    tenant_id ${T} NOT NULL,
    payload JSONB NOT NULL,
    used BOOLEAN NOT NULL DEFAULT false,
    keep_until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, id)
  );
  CREATE INDEX challenges_keep_until ON challenges (kind, keep_until);
  `,
];
