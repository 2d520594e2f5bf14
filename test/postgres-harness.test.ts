import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { embeddedServer, testDatabase, type TestDatabase } from './helpers/postgres.ts';
import { quoted } from './helpers/child-output.ts';

/** Whether a server still lists the database. */
async function exists(serverUrl: string, name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

/** A database is usable for what the store needs: tables, bytes, JSONB, and it is empty to begin with. */
async function exercise(db: TestDatabase): Promise<void> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows: [facts] } = await client.query<{ db: string; encoding: string; tables: string }>(
      "SELECT current_database() AS db, pg_encoding_to_char(encoding) AS encoding, (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') AS tables FROM pg_database WHERE datname = current_database()");
    expect(facts).toEqual({ db: db.name, encoding: 'UTF8', tables: '0' });
    await client.query('CREATE TABLE t (id TEXT PRIMARY KEY, bytes BYTEA, meta JSONB)');
    await client.query('INSERT INTO t VALUES ($1, $2, $3)', ['é', Buffer.from([0, 255, 1]), { a: 1 }]);
    const { rows } = await client.query('SELECT * FROM t');
    expect(rows).toEqual([{ id: 'é', bytes: Buffer.from([0, 255, 1]), meta: { a: 1 } }]);
  } finally {
    await client.end();
  }
}

const databaseUrl = process.env.FACEPROOF_TEST_DATABASE_URL;
if (!databaseUrl) console.log('FACEPROOF_TEST_DATABASE_URL is not set: the test of databases on an external PostgreSQL server skips (the embedded ones run)');

describe('test databases', () => {
  const made: TestDatabase[] = [];
  afterAll(async () => { for (const db of made) await db.drop(); });

  it.skipIf(!databaseUrl)("on FACEPROOF_TEST_DATABASE_URL's server: a fresh database each, dropped afterwards", async () => {
    const [a, b] = await Promise.all([testDatabase('harness external'), testDatabase('harness external')]);
    made.push(a, b);
    expect(a.server).toBe('external');
    expect(a.name).not.toBe(b.name);
    expect(new URL(a.url).host).toBe(new URL(databaseUrl!).host);
    await exercise(a);
    await exercise(b); // b did not see a's table
    expect(await exists(databaseUrl!, a.name)).toBe(true);
    await a.drop();
    expect(await exists(databaseUrl!, a.name)).toBe(false);
  });

  it('on the embedded PostgreSQL: started once per process, a fresh database each, dropped afterwards', async () => {
    const server = await embeddedServer();
    console.log(`embedded PostgreSQL: initdb ${server.initdbMs.toFixed(0)} ms, start ${server.startMs.toFixed(0)} ms (pid ${server.pid}, ${server.dir})`);
    expect(await embeddedServer()).toBe(server); // one per process
    const [a, b] = await Promise.all([testDatabase('harness embedded', { embedded: true }), testDatabase('harness embedded', { embedded: true })]);
    made.push(a, b);
    expect([a.server, b.server]).toEqual(['embedded', 'embedded']);
    expect(new URL(a.url).port).toBe(new URL(server.url).port);
    expect(a.name).not.toBe(b.name);
    await exercise(a);
    await exercise(b);
    // A connection left open does not keep a database from being dropped.
    const forgotten = new pg.Client({ connectionString: a.url });
    await forgotten.connect();
    forgotten.on('error', () => {}); // the drop ends it
    await a.drop();
    expect(await exists(server.url, a.name)).toBe(false);
    await forgotten.end().catch(() => {});
  });

  it('without FACEPROOF_TEST_DATABASE_URL a process uses the embedded PostgreSQL, and stops it at exit', () => {
    // Another process, as a test file is: where the variable is unset, its database is on an
    // embedded server, which is gone, with its folder, once the process has exited.
    const env = { ...process.env };
    delete env.FACEPROOF_TEST_DATABASE_URL;
    const script = `
      import { testDatabase, embeddedServer } from './test/helpers/postgres.ts';
      import pg from 'pg';
      const db = await testDatabase('child');
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query('SELECT current_database() AS name');
      await client.end();
      const server = await embeddedServer();
      console.log(JSON.stringify({ server: db.server, name: rows[0].name, expected: db.name, pid: server.pid, dir: server.dir, startMs: server.startMs }));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: 60_000 });
    expect(child.status, quoted(child.stderr)).toBe(0);
    const out = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { server: string; name: string; expected: string; pid: number; dir: string; startMs: number };
    expect(out.server).toBe('embedded');
    expect(out.name).toBe(out.expected);
    expect(fs.existsSync(out.dir)).toBe(false);
    // The postmaster was told to quit at exit; give it a moment to finish.
    const deadline = Date.now() + 10_000;
    const alive = () => { try { process.kill(out.pid, 0); return true; } catch { return false; } };
    while (alive() && Date.now() < deadline) spawnSync('sleep', ['0.1']);
    expect(alive()).toBe(false);
  });

  it("a test process killed with SIGKILL leaves its server running, and the next one to start an embedded server ends it", async () => {
    const env = { ...process.env };
    delete env.FACEPROOF_TEST_DATABASE_URL;
    const start = (holdOn: boolean) => spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
      import { embeddedServer } from './test/helpers/postgres.ts';
      const server = await embeddedServer();
      console.log(JSON.stringify({ pid: server.pid, dir: server.dir }));
      ${holdOn ? 'setInterval(() => {}, 1000);' : ''}`], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const started = (child: ChildProcess) => new Promise<{ pid: number; dir: string }>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as { pid: number; dir: string });
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before its server started`)));
    });
    const killed = start(true);
    const abandoned = await started(killed);
    const gone = new Promise((resolve) => killed.once('exit', resolve));
    killed.kill('SIGKILL');
    await gone;
    const running = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    expect(running(abandoned.pid)).toBe(true); // no exit handler ran
    expect(fs.existsSync(abandoned.dir)).toBe(true);

    const next = start(false);
    await started(next);
    await new Promise((resolve) => next.once('exit', resolve));
    const deadline = Date.now() + 10_000;
    while (running(abandoned.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(running(abandoned.pid)).toBe(false);
    expect(fs.existsSync(abandoned.dir)).toBe(false);
  });
});
