import pg from 'pg';
import { POSTGRES_MIGRATIONS } from './migrations.ts';

/** What repositories run statements on: the pool (one statement, any connection) or one transaction's client. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string | pg.QueryConfig<unknown[]>, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface PostgresOptions {
  /** Connections in the pool (node-postgres' default is 10). */
  max?: number;
  /** Shown in pg_stat_activity, to tell nodes apart. */
  applicationName?: string;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** The migrations to apply; the schema's own unless a test names others. */
  migrations?: readonly string[];
  /**
   * Errors of idle pooled connections (the server restarted, a network cut): the pool drops the
   * connection and makes a new one when next needed; this only hears of it. Default: ignored.
   */
  onIdleError?: (err: Error) => void;
}

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  /** Default read committed, PostgreSQL's own default. */
  isolation?: IsolationLevel;
  /** Tries in all when the database aborts the transaction for a conflict (40001, 40P01); default 5. */
  attempts?: number;
}

/** The advisory lock every node takes around migrating: one number, the same everywhere ("faceproof" in ASCII, truncated). */
export const MIGRATION_LOCK_KEY = 0x66616365_70726f6fn;

/** SQLSTATEs that mean "this transaction lost a race; run it again": serialization failure and deadlock. */
const RETRYABLE = new Set(['40001', '40P01']);

/** BIGINT comes back as a number (node-postgres gives strings, since it may exceed 2^53): keys, counts, byte sizes. */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`BIGINT ${text} is beyond JavaScript's safe integers`);
  return n;
}

/** This pool's type parsers: the defaults but for BIGINT, and without touching node-postgres' global table. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A PostgreSQL database: a connection pool, its schema brought up to date, and transactions that
 * are retried when PostgreSQL aborts them for a conflict with another writer (another node).
 */
export class PostgresDatabase implements Queryable {
  /** Versions this open applied (empty when the schema was already up to date, or another node did it). */
  migrated: number[] = [];

  constructor(readonly pool: pg.Pool) {}

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string | pg.QueryConfig<unknown[]>, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(text as pg.QueryConfig<unknown[]>, values);
  }

  /**
   * Runs `fn` in one transaction on one connection: committed when it resolves, rolled back when it
   * throws. When PostgreSQL aborts it for a serialization failure or a deadlock (the other party
   * went on), `fn` runs again from the start, after a short random pause, up to `attempts` times in
   * all; so `fn` must do nothing outside the database that cannot be repeated.
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const attempts = options.attempts ?? 5;
    const begin = options.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation.toUpperCase()}` : 'BEGIN';
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query(begin);
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        // A failed ROLLBACK means the connection itself is gone: the pool must not hand it out again.
        await client.query('ROLLBACK').catch((rollbackError: Error) => { broken = rollbackError; });
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string' && RETRYABLE.has(code) && attempt < attempts) {
          await sleep(Math.random() * 10 * 2 ** attempt); // the two parties apart, further each time
          continue;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  /**
   * Applies the migrations not yet recorded in schema_migrations, each in its own transaction,
   * holding a transaction-level advisory lock: nodes started together queue there, and each
   * migration's check and run happen under it, so none runs twice. Returns the versions applied here.
   */
  async migrate(migrations: readonly string[] = POSTGRES_MIGRATIONS): Promise<number[]> {
    const applied: number[] = [];
    // Up to date, the usual case of a node starting: nothing to lock, nothing to create (so a role
    // without CREATE can run nodes once the schema is in place).
    const exists = (await this.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t")).rows[0]?.t;
    if (exists) {
      const recorded = new Set((await this.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      if (migrations.every((_, i) => recorded.has(i + 1))) return applied;
    }
    const locked = async <T>(fn: (tx: Queryable) => Promise<T>) =>
      this.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
        return fn(tx);
      });
    // CREATE TABLE IF NOT EXISTS is not safe against itself run concurrently, hence under the lock too.
    const done = await locked(async (tx) => {
      await tx.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
      return new Set((await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    });
    for (const [i, sql] of migrations.entries()) {
      const version = i + 1;
      if (done.has(version)) continue;
      const ran = await locked(async (tx) => {
        // Looked at again under the lock: another node may have applied it since the first look.
        if ((await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [version])).rowCount) return false;
        await tx.query(sql);
        await tx.query(`INSERT INTO schema_migrations (version, applied_at)
          VALUES ($1, to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`, [version]);
        return true;
      });
      if (ran) applied.push(version);
    }
    this.migrated.push(...applied);
    return applied;
  }

  /** Closes every connection; waits for those in use to be released. */
  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Opens a pool on `url` (postgres://user:password@host:port/database, node-postgres' connection
 * string) and, unless told not to, brings the schema up to date. Fails, leaving nothing open, when
 * the server cannot be reached or a migration fails (that migration is rolled back whole).
 */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<PostgresDatabase> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'faceproof',
    types: TYPES,
  });
  // Without a listener an idle connection's error would be thrown from the pool and end the process.
  pool.on('error', options.onIdleError ?? (() => {}));
  const db = new PostgresDatabase(pool);
  try {
    if (options.migrate ?? true) await db.migrate(options.migrations);
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return db;
}
