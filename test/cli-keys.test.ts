import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTestApp, TEST_BOOTSTRAP_KEY, SQLITE_ONLY } from './helpers/app.ts';
import { b64, selfieCrop } from './helpers/images.ts';
import type { Services } from '../src/bootstrap.ts';
import { freshDataFolder } from '../bench/lib/fresh-data.ts';

/**
 * Credentials and keys are never changed as a side effect: only `faceproof serve` syncs the
 * bootstrap key and creates missing keys; every other command, run as an operator would (often
 * without the server's environment), changes only what it is asked to, or refuses in one line.
 */

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** `faceproof …` as a user runs it, without the server's key variables unless `env` gives them. */
function cli(args: string[], env: Record<string, string>): { code: number; stdout: string; stderr: string; json: () => any } {
  const inherited = { ...process.env };
  for (const name of ['FACEPROOF_BOOTSTRAP_KEY', 'FACEPROOF_MASTER_KEY', 'FACEPROOF_MASTER_KEY_FILE', 'FACEPROOF_DATA_DIR']) delete inherited[name];
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...inherited, ...env }, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

/** A refusal: non-zero exit, nothing on stdout, one line on stderr naming the problem, no stack trace. */
function expectRefused(r: ReturnType<typeof cli>, message: RegExp) {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(lines[0]).not.toMatch(/\bat .*\.ts:\d+/);
}

/** Every file under the data folder's keys/, by content digest. */
function keyFiles(dataDir: string): Record<string, string> {
  const root = path.join(dataDir, 'keys');
  const out: Record<string, string> = {};
  if (!fs.existsSync(root)) return out;
  for (const rel of fs.readdirSync(root, { recursive: true }) as string[]) {
    const file = path.join(root, rel);
    if (fs.statSync(file).isFile()) out[rel] = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  }
  return out;
}

describe.skipIf(SQLITE_ONLY)('beside a running server, commands run without its FACEPROOF_BOOTSTRAP_KEY', () => {
  const dataDir = tmp('faceproof-cli-keys-');
  const folder = tmp('faceproof-cli-keys-folder-');
  const env = { FACEPROOF_DATA_DIR: dataDir };
  let server: FastifyInstance;
  let services: Services;
  let alice: Buffer;

  beforeAll(async () => {
    fs.writeFileSync(path.join(folder, 'alice.jpg'), await selfieCrop(3, 830, 100));
    alice = await selfieCrop(1, 1250, 0);
    ({ app: server, services } = await createTestApp({ FACEPROOF_DATA_DIR: dataDir }));
  });
  afterAll(async () => { await server.close(); });

  const withKey = async (key: string) => server.inject({ url: '/v1/collections', headers: { 'x-api-key': key } });

  it('`faceproof index` indexes, and the bootstrap key keeps working: no key is created, replaced or revoked', async () => {
    const keysBefore = keyFiles(dataDir);
    const rowBefore = await services.administration.key('bootstrap');
    const r = cli(['index', folder, '--collection', 'staff'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ collection: 'staff', created: true, indexed_faces: 1, failed: [] });
    expect((await withKey(TEST_BOOTSTRAP_KEY)).statusCode).toBe(200);
    expect(await services.administration.key('bootstrap')).toEqual(rowBefore);
    expect(keyFiles(dataDir)).toEqual(keysBefore);
  }, 180_000);

  it('nor does any other command, with the variable unset or set to another value', async () => {
    // A signed decision of the server, for `verify` to check with the data folder's keys.
    const search = await server.inject({ method: 'POST', url: '/v1/collections/staff/search', payload: { image: { base64: b64(alice) } } });
    expect(search.statusCode, search.body).toBe(200);
    const response = path.join(folder, 'response.json');
    fs.writeFileSync(response, search.body);

    const keysBefore = keyFiles(dataDir);
    const rowBefore = await services.administration.key('bootstrap');
    const other = { ...env, FACEPROOF_BOOTSTRAP_KEY: 'another-bootstrap-key-0123456789' };
    for (const [args, e] of [
      [['clients', 'list'], env], [['keys', 'list'], other], [['clients', 'create', 'shop'], env], [['keys', 'create', '--client', 'shop', '--scopes', 'detect'], other],
      [['keys', 'create', '--client', 'shop', '--scopes', 'compare', '--signing'], env],
      [['audit', 'verify'], other], [['encryption', 'status'], env], [['signing-keys', 'list'], other],
    ] as const) {
      const r = cli([...args], e);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const verified = cli(['verify', response], env);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.json()).toMatchObject({ valid: true });
    const compared = cli(['compare', path.join(folder, 'alice.jpg'), path.join(folder, 'alice.jpg')], other);
    expect(compared.code, compared.stderr).toBe(0);
    expect(compared.json()).toMatchObject({ decision: 'match' });

    expect((await withKey(TEST_BOOTSTRAP_KEY)).statusCode).toBe(200);
    const refused = await withKey('another-bootstrap-key-0123456789');
    expect(refused.statusCode).toBe(401);
    expect(await services.administration.key('bootstrap')).toEqual(rowBefore);
    expect(keyFiles(dataDir)).toEqual(keysBefore);
  }, 180_000);

  it('`faceproof keys revoke bootstrap` revokes it at once; a server start with the variable gives it back, a start without it revokes it', async () => {
    const revoked = cli(['keys', 'revoke', 'bootstrap'], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.json()).toMatchObject({ key_id: 'bootstrap', revoked_at: expect.any(String) });
    expect((await withKey(TEST_BOOTSTRAP_KEY)).json().error.code).toBe('key_revoked');

    const restarted = await createTestApp({ FACEPROOF_DATA_DIR: dataDir });
    await restarted.app.close();
    expect((await withKey(TEST_BOOTSTRAP_KEY)).statusCode).toBe(200);

    const withoutIt = await createTestApp({ FACEPROOF_DATA_DIR: dataDir, FACEPROOF_BOOTSTRAP_KEY: '' });
    await withoutIt.app.close();
    expect((await withKey(TEST_BOOTSTRAP_KEY)).json().error.code).toBe('key_revoked');
  }, 180_000);
});

describe('`faceproof verify` without --jwks', () => {
  it('refuses on a data folder without signing keys, and creates none', () => {
    const dataDir = tmp('faceproof-verify-empty-');
    const response = path.join(tmp('faceproof-verify-response-'), 'response.json');
    fs.writeFileSync(response, JSON.stringify({ decision: 'match', signature: 'eyJhbGciOiJFUzI1NiJ9..c2ln' }));
    expectRefused(cli(['verify', response], { FACEPROOF_DATA_DIR: dataDir }), /no signing keys in .*keys\/signing; pass --jwks FILE/);
    expect(fs.readdirSync(dataDir)).toEqual([]);
    const missing = path.join(dataDir, 'nowhere');
    expectRefused(cli(['verify', response], { FACEPROOF_DATA_DIR: missing }), /no signing keys in/);
    expect(fs.existsSync(missing)).toBe(false);
  }, 180_000);
});

describe('`faceproof signing-keys`', () => {
  it('`list` reads (nothing on a fresh folder, and creates nothing); `rotate` adds exactly one key', () => {
    const dataDir = tmp('faceproof-signing-keys-');
    const listed = cli(['signing-keys', 'list'], { FACEPROOF_DATA_DIR: dataDir });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.json()).toEqual([]);
    expect(fs.readdirSync(dataDir)).toEqual([]);
    const rotated = cli(['signing-keys', 'rotate'], { FACEPROOF_DATA_DIR: dataDir });
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.json()).toEqual([expect.objectContaining({ active: true })]);
    expect(Object.keys(keyFiles(dataDir))).toHaveLength(1);
  }, 180_000);
});

describe('the master key, from commands', () => {
  it('is never created by reading or by keys that need no sealing; the first signing key creates it; `encryption reseal|rotate` refuse without one', () => {
    const dataDir = tmp('faceproof-master-');
    const env = { FACEPROOF_DATA_DIR: dataDir };
    const masterFile = path.join(dataDir, 'keys', 'master.json');
    for (const args of [['clients', 'create', 'shop'], ['keys', 'create', '--client', 'shop', '--scopes', 'detect'], ['keys', 'list'], ['encryption', 'status']]) {
      expect(cli(args, env).code).toBe(0);
    }
    expect(keyFiles(dataDir)).toEqual({});
    expectRefused(cli(['encryption', 'reseal'], env), /no master key: FACEPROOF_MASTER_KEY is unset and .*master\.json does not exist/);
    expectRefused(cli(['encryption', 'rotate'], env), /no master key/);
    expect(fs.existsSync(masterFile)).toBe(false);
    expectRefused(cli(['keys', 'revoke', 'bootstrap'], env), /no bootstrap key/);

    // A signing key's secret is the first value to seal: the command was asked to store it.
    expect(cli(['keys', 'create', '--client', 'shop', '--scopes', 'detect', '--signing'], env).code).toBe(0);
    expect(Object.keys(keyFiles(dataDir))).toEqual(['master.json']);
  }, 180_000);

  it('is never made up for a folder already sealed under another key (the server\'s FACEPROOF_MASTER_KEY left out): the command refuses', () => {
    const dataDir = tmp('faceproof-master-env-');
    const folder = tmp('faceproof-master-env-folder-');
    const serverKey = Buffer.alloc(32, 9).toString('base64');
    // A secret sealed under the environment's key, as a server run with FACEPROOF_MASTER_KEY would seal it.
    expect(cli(['clients', 'create', 'shop'], { FACEPROOF_DATA_DIR: dataDir }).code).toBe(0);
    expect(cli(['keys', 'create', '--client', 'shop', '--scopes', 'detect', '--signing'], { FACEPROOF_DATA_DIR: dataDir, FACEPROOF_MASTER_KEY: serverKey }).code).toBe(0);
    expect(keyFiles(dataDir)).toEqual({});
    // The same without the variable.
    expectRefused(cli(['keys', 'create', '--client', 'shop', '--scopes', 'detect', '--signing'], { FACEPROOF_DATA_DIR: dataDir }), /holds values sealed under master key \d+, but FACEPROOF_MASTER_KEY is unset/);
    expectRefused(cli(['index', folder, '--collection', 'staff'], { FACEPROOF_DATA_DIR: dataDir }), /holds values sealed under master key/);
    expect(keyFiles(dataDir)).toEqual({});
  }, 180_000);
});

describe('`faceproof detect`', () => {
  it('keeps nothing: the configured data folder is not even created', async () => {
    const image = path.join(tmp('faceproof-detect-'), 'alice.jpg');
    fs.writeFileSync(image, await selfieCrop(3, 830, 100));
    const dataDir = path.join(tmp('faceproof-detect-data-'), 'data');
    const r = cli(['detect', image], { FACEPROOF_DATA_DIR: dataDir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().faces).toHaveLength(1);
    expect(fs.existsSync(dataDir)).toBe(false);
  }, 180_000);
});

describe('benchmarks', () => {
  it('work on a fresh data folder of their own, master key file included, never the inherited one', () => {
    const saved = { dir: process.env.FACEPROOF_DATA_DIR, file: process.env.FACEPROOF_MASTER_KEY_FILE };
    process.env.FACEPROOF_DATA_DIR = '/srv/faceproof/data';
    process.env.FACEPROOF_MASTER_KEY_FILE = '/srv/faceproof/master.json';
    try {
      const fresh = freshDataFolder('test');
      expect(fresh.config.dataDir).toBe(fresh.dir);
      expect(fresh.config.masterKey.file).toBe(path.join(fresh.dir, 'keys', 'master.json'));
      expect(fresh.env).toEqual({ FACEPROOF_DATA_DIR: fresh.dir, FACEPROOF_MASTER_KEY_FILE: path.join(fresh.dir, 'keys', 'master.json') });
      expect(fs.readdirSync(fresh.dir)).toEqual([]);
      fresh.remove();
      expect(fs.existsSync(fresh.dir)).toBe(false);
    } finally {
      for (const [name, value] of [['FACEPROOF_DATA_DIR', saved.dir], ['FACEPROOF_MASTER_KEY_FILE', saved.file]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('a setting the server cannot start with', () => {
  it('is named in one line on stderr with exit code 2, no stack trace, and nothing is created', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-badconfig-'));
    const data = path.join(dir, 'data');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], { env: { ...process.env, FACEPROOF_DATA_DIR: data, FACEPROOF_PORT: 'eighty' }, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('faceproof: FACEPROOF_PORT must be a non-negative integer, got "eighty"');
    expect(fs.existsSync(data)).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('administration commands on a folder without a database', () => {
  it('refuse (exit 2) instead of leaving an empty database there; `clients create` starts one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-nodb-'));
    const typo = path.join(dir, 'typo');
    for (const args of [['clients', 'list'], ['keys', 'list'], ['clients', 'disable', 'acme'], ['keys', 'revoke', 'k1']]) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, FACEPROOF_DATA_DIR: typo }, encoding: 'utf8' });
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/no Faceproof database in/);
    }
    expect(fs.existsSync(typo)).toBe(false);
    const created = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'clients', 'create', 'acme'], { env: { ...process.env, FACEPROOF_DATA_DIR: typo }, encoding: 'utf8' });
    expect(created.status, created.stderr).toBe(0);
    expect(fs.existsSync(path.join(typo, 'faceproof.db'))).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('the server on a folder sealed under a master key it was not given', () => {
  it('refuses to start (exit 2, naming the key) instead of making up a new key file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-sealed-'));
    const masterKey = Buffer.alloc(32, 9).toString('base64');
    // A server that does start would never exit: the time limit turns that into a failure.
    const cli = (args: string[], env: Record<string, string>) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, FACEPROOF_DATA_DIR: dir, ...env }, encoding: 'utf8', timeout: 40_000 });
    expect(cli(['clients', 'create', 'acme'], { FACEPROOF_MASTER_KEY: masterKey }).status).toBe(0);
    expect(cli(['keys', 'create', '--client', 'acme', '--scopes', 'compare', '--signing'], { FACEPROOF_MASTER_KEY: masterKey }).status).toBe(0);
    const serve = cli(['serve'], { FACEPROOF_MASTER_KEY: '', FACEPROOF_PORT: '0', FACEPROOF_LOG_LEVEL: 'silent' });
    expect(serve.status, serve.stderr).toBe(2);
    expect(serve.stderr).toMatch(/sealed under master key .* FACEPROOF_MASTER_KEY is unset/);
    expect(fs.existsSync(path.join(dir, 'keys', 'master.json'))).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
