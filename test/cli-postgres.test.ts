import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { runCli } from './helpers/cli.ts';
import { selfieCrop } from './helpers/images.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { testDatabase, type TestDatabase } from './helpers/postgres.ts';

// The `faceproof` administration commands against a PostgreSQL database (issue 20: "CLI commands
// work against the PostgreSQL database"), beside a running server on the same database: what the
// CLI writes, the server serves at once, and what the server wrote, the CLI reads. The CLI's own data
// folder is another one than the server's, as on another machine: only the database is shared.

const BOOTSTRAP = 'cli-postgres-bootstrap-key-0123456789';
const MASTER_KEY = randomBytes(32).toString('base64');

let database: TestDatabase;
let server: RunningServer;
let cliDir: string;
let folder: string;
const cli = (args: string[]) => runCli(args, cliDir, { FACEPROOF_DATABASE_URL: database.url, FACEPROOF_MASTER_KEY: MASTER_KEY });
const asKey = (key: string, url: string, init: RequestInit = {}) => fetch(`${server.base}${url}`, { ...init, headers: { 'x-api-key': key, 'content-type': 'application/json', ...(init.headers ?? {}) } });

beforeAll(async () => {
  database = await testDatabase('cli');
  server = await startServer('cli-postgres', BOOTSTRAP, { FACEPROOF_DATABASE_URL: database.url, FACEPROOF_MASTER_KEY: MASTER_KEY });
  cliDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-cli-pg-'));
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-cli-pg-photos-'));
  fs.mkdirSync(path.join(folder, 'alice'));
  fs.writeFileSync(path.join(folder, 'alice', 'portrait.jpg'), await selfieCrop(3, 830, 100));
  fs.writeFileSync(path.join(folder, 'dave.jpg'), await selfieCrop(1, 50, 100));
}, 120_000);
afterAll(async () => {
  server?.stop();
  await database?.drop();
  for (const dir of [cliDir, folder]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('faceproof on PostgreSQL, beside a running server', () => {
  it('creates a client and a key the server accepts at once; disabling and revoking take effect there', async () => {
    expect(cli(['clients', 'create', 'branch-9'])).toMatchObject({ code: 0, out: { client_id: 'branch-9' } });
    const created = cli(['keys', 'create', '--client', 'branch-9', '--scopes', 'collections,audit']);
    expect(created.code).toBe(0);
    const key = created.out as { key_id: string; api_key: string };
    expect((await asKey(key.api_key, '/v1/collections')).status).toBe(200);
    expect(cli(['clients', 'disable', 'branch-9']).out).toMatchObject({ status: 'disabled' });
    expect((await asKey(key.api_key, '/v1/collections')).status).toBe(403);
    expect(cli(['clients', 'enable', 'branch-9']).code).toBe(0);
    expect((await asKey(key.api_key, '/v1/collections')).status).toBe(200);
    expect(cli(['keys', 'revoke', key.key_id]).out).toMatchObject({ key_id: key.key_id });
    expect((await (await asKey(key.api_key, '/v1/collections')).json()).error.code).toBe('key_revoked');
    // The server's bootstrap client is in the same database.
    expect((cli(['clients', 'list']).out as unknown as Array<{ client_id: string }>).map((c) => c.client_id).sort()).toEqual(['bootstrap', 'branch-9']);
  });

  it('bulk-indexes a folder into a collection the running server searches without a restart', async () => {
    const indexed = cli(['index', folder, '--collection', 'staff']);
    expect(indexed).toMatchObject({ code: 0, out: { collection: 'staff', created: true, images: 2, indexed_faces: 2, failed: [] } });
    const described = await (await asKey(BOOTSTRAP, '/v1/collections/staff')).json();
    expect(described).toMatchObject({ name: 'staff', face_count: 2 });
    const portrait = fs.readFileSync(path.join(folder, 'alice', 'portrait.jpg')).toString('base64');
    const found = await (await asKey(BOOTSTRAP, '/v1/collections/staff/search', { method: 'POST', body: JSON.stringify({ image: { base64: portrait } }) })).json();
    expect(found.results[0][0]).toMatchObject({ external_id: 'alice' });
  }, 120_000);

  it('lists and rotates the signing keys the server signs with, and verifies the audit chain the server and the CLI wrote', async () => {
    const listed = cli(['signing-keys', 'list']);
    expect(listed.code).toBe(0);
    const jwks = await (await fetch(`${server.base}/.well-known/jwks.json`)).json() as { keys: Array<{ kid: string }> };
    const kids = (listed.out as unknown as Array<{ kid: string }>).map((k) => k.kid);
    expect(kids).toEqual(expect.arrayContaining(jwks.keys.map((k) => k.kid)));
    const rotated = cli(['signing-keys', 'rotate']);
    expect(rotated.code).toBe(0);
    expect(cli(['signing-keys', 'list']).out).toHaveLength(kids.length + 1);
    const verified = cli(['audit', 'verify']);
    expect(verified).toMatchObject({ code: 0, out: { valid: true } });
    expect((verified.out as { records: number }).records).toBeGreaterThan(5);
  });

  it('says plainly what it does not do on PostgreSQL yet: the template master-key commands (exit 2, one line)', () => {
    const status = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'encryption', 'status'], {
      env: { ...process.env, FACEPROOF_DATA_DIR: cliDir, FACEPROOF_DATABASE_URL: database.url, FACEPROOF_MASTER_KEY: MASTER_KEY }, encoding: 'utf8',
    });
    expect(status.status).toBe(2);
    expect(status.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^faceproof: `faceproof encryption` works on the embedded SQLite store; with FACEPROOF_DATABASE_URL set/)]);
  });
});
