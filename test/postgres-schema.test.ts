import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/sqlite/database.ts';
import { openPostgres, type PostgresDatabase, type Queryable } from '../src/store/postgres/database.ts';
import { POSTGRES_MIGRATIONS } from '../src/store/postgres/migrations.ts';
import { PostgresBlobStore } from '../src/store/postgres/blob-store.ts';
import { testDatabase, type TestDatabase } from './helpers/postgres.ts';

/**
 * The PostgreSQL schema and its plumbing, on a real PostgreSQL (FACEPROOF_TEST_DATABASE_URL's
 * server, else an embedded one): migrations, transactions, the schema against SQLite's, the blob store.
 */

const ALL_VERSIONS = POSTGRES_MIGRATIONS.map((_, i) => i + 1);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const databases: TestDatabase[] = [];
const opened: PostgresDatabase[] = [];
async function freshDatabase(name: string): Promise<TestDatabase> {
  const db = await testDatabase(name);
  databases.push(db);
  return db;
}
async function open(url: string, options?: Parameters<typeof openPostgres>[1]): Promise<PostgresDatabase> {
  const db = await openPostgres(url, options);
  opened.push(db);
  return db;
}
afterAll(async () => {
  for (const db of opened) await db.close().catch(() => {});
  for (const db of databases) await db.drop();
});

async function versions(db: Queryable): Promise<number[]> {
  return (await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
}

/** Tables and their columns as PostgreSQL has them: name → column → facts. */
async function pgColumns(db: Queryable): Promise<Map<string, Map<string, { type: string; notNull: boolean; collation: string | null }>>> {
  const { rows } = await db.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string; collation_name: string | null }>(
    "SELECT table_name, column_name, data_type, is_nullable, collation_name FROM information_schema.columns WHERE table_schema = 'public'");
  const tables = new Map<string, Map<string, { type: string; notNull: boolean; collation: string | null }>>();
  for (const r of rows) {
    if (!tables.has(r.table_name)) tables.set(r.table_name, new Map());
    tables.get(r.table_name)!.set(r.column_name, { type: r.data_type, notNull: r.is_nullable === 'NO', collation: r.collation_name });
  }
  return tables;
}

describe('migrations', () => {
  it('apply on an empty database, once: reopening changes nothing', async () => {
    const { url } = await freshDatabase('schema apply');
    const t0 = performance.now();
    const db = await open(url);
    const firstMs = performance.now() - t0;
    expect(db.migrated).toEqual(ALL_VERSIONS);
    expect(await versions(db)).toEqual(ALL_VERSIONS);
    const { rows: applied } = await db.query<{ applied_at: string }>('SELECT applied_at FROM schema_migrations');
    for (const r of applied) expect(r.applied_at).toMatch(ISO);
    const { rows: tenants } = await db.query('SELECT id, name, created_at FROM tenants');
    expect(tenants).toEqual([{ id: 'default', name: 'default', created_at: expect.stringMatching(ISO) }]);
    const before = await pgColumns(db);
    await db.close();

    const t1 = performance.now();
    const again = await open(url);
    const againMs = performance.now() - t1;
    expect(again.migrated).toEqual([]);
    expect(await again.migrate()).toEqual([]);
    expect(await versions(again)).toEqual(ALL_VERSIONS);
    expect(await pgColumns(again)).toEqual(before);
    expect((await again.query('SELECT count(*) AS n FROM tenants')).rows[0]).toEqual({ n: 1 });
    console.log(`migrations: ${ALL_VERSIONS.length} applied to an empty database in ${firstMs.toFixed(0)} ms; an up-to-date open takes ${againMs.toFixed(0)} ms`);
  });

  it('started by several nodes at once: every open succeeds and each migration runs once', async () => {
    const { url } = await freshDatabase('schema concurrent');
    const nodes = await Promise.all([1, 2, 3].map((n) => open(url, { applicationName: `node-${n}`, max: 2 })));
    expect(nodes.flatMap((n) => n.migrated).sort((a, b) => a - b)).toEqual(ALL_VERSIONS);
    expect(await versions(nodes[0]!)).toEqual(ALL_VERSIONS);
    expect((await nodes[1]!.query('SELECT count(*) AS n FROM tenants')).rows[0]).toEqual({ n: 1 });
  });

  it('several migrations started at once run in order, each once, even when each must wait for the others', async () => {
    // Made slow on purpose, so that the nodes overlap in every migration rather than one finishing first.
    const { url } = await freshDatabase('schema concurrent slow');
    const migrations = [1, 2, 3].map((v) => `SELECT pg_sleep(0.2); CREATE TABLE m${v} (x int); INSERT INTO m${v} VALUES (${v})`);
    const nodes = await Promise.all([1, 2, 3].map(() => open(url, { migrations, max: 1 })));
    expect(nodes.flatMap((n) => n.migrated).sort()).toEqual([1, 2, 3]);
    for (const v of [1, 2, 3]) expect((await nodes[0]!.query(`SELECT count(*) AS n FROM m${v}`)).rows[0]).toEqual({ n: 1 });
  });

  it('a failing migration is rolled back whole and not recorded; the next open applies it once fixed', async () => {
    const { url } = await freshDatabase('schema failing');
    const good = 'CREATE TABLE a (x int)';
    await expect(openPostgres(url, { migrations: [good, 'CREATE TABLE b (x int); SELECT 1 / 0'] })).rejects.toThrow(/division by zero/);
    const db = await open(url, { migrate: false });
    expect(await versions(db)).toEqual([1]);
    expect((await db.query("SELECT to_regclass('b') AS b")).rows[0]).toEqual({ b: null });
    expect(await db.migrate([good, 'CREATE TABLE b (x int)'])).toEqual([2]);
    expect(await versions(db)).toEqual([1, 2]);
  });
});

describe('the schema', () => {
  let db: PostgresDatabase;
  beforeAll(async () => {
    db = await open((await freshDatabase('schema')).url);
  });

  it("has every table, column, NOT NULL and index of SQLite's schema, text compared byte by byte", async () => {
    const sqlite = openDatabase(':memory:');
    const sqliteTables = (sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('sqlite_sequence', 'schema_migrations')").pluck().all() as string[]).sort();
    const pgTables = await pgColumns(db);
    // Beyond SQLite's: the migrations' own record, the PostgreSQL blob store, and the state that is
    // in one process's memory or the data folder's files with SQLite, shared here by the nodes (migration 3).
    const shared = ['signing_keys', 'server_secrets', 'rate_buckets', 'challenges'];
    expect([...pgTables.keys()].sort()).toEqual([...sqliteTables, 'blobs', 'schema_migrations', ...shared].sort());
    const extraColumns: string[] = [];
    for (const table of sqliteTables) {
      const columns = sqlite.prepare(`SELECT name, "notnull" AS not_null, type FROM pragma_table_xinfo('${table}')`).all() as Array<{ name: string; not_null: number; type: string }>;
      const pgTable = pgTables.get(table)!;
      for (const c of columns) {
        const pgColumn = pgTable.get(c.name);
        expect(pgColumn, `${table}.${c.name}`).toBeDefined();
        if (c.not_null) expect(pgColumn!.notNull, `${table}.${c.name} NOT NULL`).toBe(true);
        // Text SQLite compares with BINARY; here "C", whatever the database's default.
        if (c.type === 'TEXT' && pgColumn!.type === 'text' && !['inputs', 'result'].includes(c.name)) expect(pgColumn!.collation, `${table}.${c.name}`).toBe('C');
      }
      for (const name of pgTable.keys()) if (!columns.some((c) => c.name === name)) extraColumns.push(`${table}.${name}`);
    }
    // Only the explicit order SQLite's rowid gave, and when a face removal was logged (migration 2: kept a safe age for other nodes).
    expect(extraColumns.sort()).toEqual(['face_removals.removed_at', 'request_records.seq', 'verified_chips.seq']);
    const sqliteIndexes = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").pluck().all() as string[];
    const pgIndexes = new Set((await db.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")).rows.map((r) => r.indexname));
    expect(sqliteIndexes.filter((i) => !pgIndexes.has(i))).toEqual([]);
    // Foreign keys: SQLite's, each with its ON DELETE rule.
    const sqliteKeys = sqliteTables.flatMap((t) => (sqlite.prepare(`SELECT DISTINCT id, "table", on_delete FROM pragma_foreign_key_list('${t}')`).all() as Array<{ table: string; on_delete: string }>)
      .map((k) => `${t} -> ${k.table} ${k.on_delete}`));
    const { rows: pgKeys } = await db.query<{ key: string }>(`
      SELECT c.conrelid::regclass::text || ' -> ' || c.confrelid::regclass::text || ' ' ||
             CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END AS key
      FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace`);
    expect(pgKeys.map((k) => k.key).sort()).toEqual(sqliteKeys.sort());
    sqlite.close();
  });

  it('orders text as SQLite does (bytes), not by the locale', async () => {
    await db.query("INSERT INTO tenants (id, name, created_at) VALUES ('t-order', 'x', '2026-01-01T00:00:00.000Z')");
    for (const name of ['b', 'B', 'a', 'é', 'A', '_'])
      await db.query("INSERT INTO collections (tenant_id, name, kind, template_model, template_version, dimension, created_at) VALUES ('t-order', $1, 'gallery', 'm', 1, 4, '2026-01-01T00:00:00.000Z')", [name]);
    const { rows } = await db.query<{ name: string }>("SELECT name FROM collections WHERE tenant_id = 't-order' ORDER BY name");
    expect(rows.map((r) => r.name)).toEqual(['A', 'B', '_', 'a', 'b', 'é']); // JavaScript's sort, and SQLite's BINARY
    expect(rows.map((r) => r.name)).toEqual(rows.map((r) => r.name).sort());
  });

  it('never reuses a face key, and a collection takes its faces and their inquiries with it', async () => {
    await db.query("INSERT INTO tenants (id, name, created_at) VALUES ('t-faces', 'x', '2026-01-01T00:00:00.000Z')");
    const { rows: [collection] } = await db.query<{ id: number }>(
      "INSERT INTO collections (tenant_id, name, kind, template_model, template_version, dimension, created_at) VALUES ('t-faces', 'c', 'watchlist', 'm', 1, 4, '2026-01-01T00:00:00.000Z') RETURNING id");
    expect(typeof collection!.id).toBe('number');
    const addFace = async (id: string) => (await db.query<{ key: number }>(
      "INSERT INTO faces (id, tenant_id, collection_id, metadata, box, template, created_at) VALUES ($1, 't-faces', $2, $3, $4, $5, '2026-01-01T00:00:00.000Z') RETURNING key",
      [id, collection!.id, { who: 'x' }, { x: 1, y: 2, width: 3, height: 4 }, Buffer.from([1, 2, 3])])).rows[0]!.key;
    const first = await addFace('f1');
    const second = await addFace('f2');
    expect(typeof first).toBe('number');
    expect(second).toBeGreaterThan(first);
    await db.query('DELETE FROM faces WHERE key = $1', [second]);
    const third = await addFace('f3');
    expect(third).toBeGreaterThan(second); // the deleted key is not handed out again
    await db.query("INSERT INTO watchlist_inquiries (face_key, tenant_id, client_id, at) VALUES ($1, 't-faces', 'client', '2026-01-02T00:00:00.000Z')", [first]);
    const { rows: [face] } = await db.query('SELECT metadata, box, template FROM faces WHERE key = $1', [first]);
    expect(face).toEqual({ metadata: { who: 'x' }, box: { x: 1, y: 2, width: 3, height: 4 }, template: Buffer.from([1, 2, 3]) });
    await db.query('DELETE FROM collections WHERE id = $1', [collection!.id]);
    expect((await db.query("SELECT count(*) AS n FROM faces WHERE tenant_id = 't-faces'")).rows[0]).toEqual({ n: 0 });
    expect((await db.query("SELECT count(*) AS n FROM watchlist_inquiries WHERE tenant_id = 't-faces'")).rows[0]).toEqual({ n: 0 });
  });

  it("derives an audit record's decision from its stored result exactly as SQLite's generated column does", async () => {
    const results = [
      '{"decision":"match","status":"x"}', '{"status":"PASS"}', '{"verdict":"REAL"}', '{"decision":1,"status":null,"verdict":"FAKE"}',
      '{"decision":{"a":1}}', '{}', '[1,2]', '"match"', 'not json', '{"decision":"é \\" ü"}', '{"nested":{"decision":"no"}}',
      '{"status":"ok","other":"\\u0000"}', // an escaped NUL elsewhere does not hide the decision
    ];
    const sqlite = openDatabase(':memory:');
    const insert = sqlite.prepare(`INSERT INTO audit_records (tenant_id, request_id, client_id, method, route, service, status, latency_ms, inputs, result, at, prev_hash, hash)
      VALUES ('t', ?, 'c', 'POST', '/r', 's', 200, 1.5, '{}', ?, '2026-01-01T00:00:00.000Z', 'p', 'h')`);
    results.forEach((result, i) => insert.run(`r${i}`, result));
    const expected = sqlite.prepare('SELECT result, decision FROM audit_records ORDER BY seq').all();
    sqlite.close();
    for (const [i, result] of results.entries()) {
      await db.query(`INSERT INTO audit_records (tenant_id, request_id, client_id, method, route, service, status, latency_ms, inputs, result, at, prev_hash, hash)
        VALUES ('t-audit', $1, 'c', 'POST', '/r', 's', 200, 1.5, '{}', $2, '2026-01-01T00:00:00.000Z', 'p', 'h')`, [`audit-${i}`, result]);
    }
    const { rows } = await db.query("SELECT result, decision FROM audit_records WHERE tenant_id = 't-audit' ORDER BY seq");
    expect(rows).toEqual(expected);
    expect(rows.filter((r) => r.decision !== null)).toHaveLength(6);
    // Kept exactly as written (the hash chain covers it), not normalised.
    expect((await db.query("SELECT inputs FROM audit_records WHERE request_id = 'audit-0'")).rows[0]).toEqual({ inputs: '{}' });
  });
});

describe('transactions', () => {
  let db: PostgresDatabase;
  beforeAll(async () => {
    db = await open((await freshDatabase('transactions')).url, { max: 4 });
    await db.query('CREATE TABLE accounts (id int PRIMARY KEY, v int NOT NULL)');
  });
  const reset = () => db.query('TRUNCATE accounts; INSERT INTO accounts VALUES (1, 0), (2, 0)');
  const values = async () => (await db.query<{ v: number }>('SELECT v FROM accounts ORDER BY id')).rows.map((r) => r.v);

  /** Resolves once `n` parties have arrived: lines up the first attempts of two transactions. */
  function barrier(n: number): () => Promise<void> {
    let arrived = 0;
    let open!: () => void;
    const opened = new Promise<void>((resolve) => { open = resolve; });
    return () => { if (++arrived === n) open(); return opened; };
  }

  it('commits what resolves and rolls back what throws', async () => {
    await reset();
    expect(await db.transaction(async (tx) => { await tx.query('UPDATE accounts SET v = 5 WHERE id = 1'); return 'done'; })).toBe('done');
    await expect(db.transaction(async (tx) => { await tx.query('UPDATE accounts SET v = 7 WHERE id = 2'); throw new Error('changed my mind'); })).rejects.toThrow('changed my mind');
    expect(await values()).toEqual([5, 0]);
  });

  it('runs again a transaction PostgreSQL aborted for a serialization failure (40001)', async () => {
    await reset();
    // Write skew: each reads both rows, then writes the one the other read. Serializable lets one commit.
    const arrive = barrier(2);
    let calls = 0;
    const add = (id: number) => db.transaction(async (tx) => {
      const first = ++calls <= 2;
      const { rows: [sum] } = await tx.query<{ s: number }>('SELECT sum(v)::int AS s FROM accounts');
      if (first) await arrive();
      await tx.query('UPDATE accounts SET v = $1 + 1 WHERE id = $2', [sum!.s, id]);
    }, { isolation: 'serializable' });
    await Promise.all([add(1), add(2)]);
    expect(calls).toBe(3); // one of the two ran twice
    expect((await values()).sort()).toEqual([1, 2]); // the rerun saw the other's write
  });

  it('runs again the victim of a deadlock (40P01)', async () => {
    await reset();
    const arrive = barrier(2);
    let calls = 0;
    const both = (a: number, b: number) => db.transaction(async (tx) => {
      const first = ++calls <= 2;
      await tx.query('UPDATE accounts SET v = v + 1 WHERE id = $1', [a]);
      if (first) await arrive(); // each holds one row and wants the other's
      await tx.query('UPDATE accounts SET v = v + 1 WHERE id = $1', [b]);
    });
    await Promise.all([both(1, 2), both(2, 1)]);
    expect(calls).toBe(3);
    expect(await values()).toEqual([2, 2]);
  });

  it('gives up after its attempts, and never retries other errors', async () => {
    let calls = 0;
    const conflict = Object.assign(new Error('could not serialize access'), { code: '40001' });
    await expect(db.transaction(async () => { calls++; throw conflict; }, { attempts: 3 })).rejects.toBe(conflict);
    expect(calls).toBe(3);
    calls = 0;
    await expect(db.transaction(async (tx) => { calls++; await tx.query('SELECT 1 / 0'); })).rejects.toMatchObject({ code: '22012' });
    expect(calls).toBe(1);
    // The pool is still whole: every connection came back usable.
    expect(await Promise.all([1, 2, 3, 4, 5].map(() => db.query('SELECT 1 AS one')))).toHaveLength(5);
  });
});

describe('the PostgreSQL blob store', () => {
  let stores: PostgresBlobStore[];
  beforeAll(async () => {
    const { url } = await freshDatabase('blobs');
    // Two nodes on one database.
    stores = [new PostgresBlobStore(await open(url)), new PostgresBlobStore(await open(url))];
  });

  it('gives back the bytes put, to every node: empty, small, 10 MB, a view into a larger buffer', async () => {
    const [a, b] = stores as [PostgresBlobStore, PostgresBlobStore];
    const big = randomBytes(10 * 1024 * 1024);
    const backing = randomBytes(64);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 8, 16);
    const cases: Array<[string, Uint8Array]> = [['t/images/empty', new Uint8Array(0)], ['t/images/small', randomBytes(1000)], ['t/files/big', big], ['t/images/view', view]];
    for (const [key, bytes] of cases) await a.put(key, bytes);
    for (const [key, bytes] of cases) {
      const got = await b.get(key);
      expect(Buffer.isBuffer(got)).toBe(true);
      expect(got!.equals(Buffer.from(bytes))).toBe(true);
    }
    await b.put('t/images/small', Buffer.from('replaced'));
    expect((await a.get('t/images/small'))!.toString()).toBe('replaced');
  });

  it('deletes, and a missing blob is undefined', async () => {
    const [a, b] = stores as [PostgresBlobStore, PostgresBlobStore];
    await a.put('t/images/gone', Buffer.from('x'));
    await b.delete('t/images/gone');
    expect(await a.get('t/images/gone')).toBeUndefined();
    expect(await a.get('t/images/never')).toBeUndefined();
    await a.delete('t/images/never'); // nothing to delete is not an error
  });
});
