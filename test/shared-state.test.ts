import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type PostgresDatabase } from '../src/store/postgres/database.ts';
import { PgSigningKeys } from '../src/store/postgres/signing-keys.ts';
import { PgSecrets } from '../src/store/postgres/secrets.ts';
import { PgRateBuckets } from '../src/store/postgres/rate-buckets.ts';
import { PgChallengeStore } from '../src/store/postgres/challenge-store.ts';
import { MasterKeyring } from '../src/store/crypto/master-keyring.ts';
import { JwtAccessTokens } from '../src/store/crypto/jwt-access-tokens.ts';
import { signedPayload, verifySignedResponse } from '../src/core/result-signing.ts';
import { MemoryChallengeStore, type ChallengeStore } from '../src/core/challenge-store.ts';
import { MemoryRateBuckets, type RateBuckets } from '../src/core/rate-buckets.ts';
import { ChallengeService } from '../src/core/challenges.ts';
import { ActiveAuthenticationChallenges } from '../src/core/documents/active-authentication-challenges.ts';
import type { LivenessService } from '../src/core/liveness.ts';
import { FaceproofError } from '../src/core/errors.ts';
import { testDatabase, type TestDatabase } from './helpers/postgres.ts';

/**
 * State several nodes on one PostgreSQL share (issue 20): result-signing keys, the access-token
 * secret, rate buckets and drawn challenges. Each "node" is a pool of its own on one real database
 * (FACEPROOF_TEST_DATABASE_URL's server, else an embedded one), as separate processes would be.
 */

const databases: TestDatabase[] = [];
const pools: PostgresDatabase[] = [];
const signers: PgSigningKeys[] = [];
afterAll(async () => {
  for (const s of signers) s.close();
  for (const p of pools) await p.close().catch(() => {});
  for (const d of databases) await d.drop();
});

async function freshDatabase(name: string): Promise<string> {
  const db = await testDatabase(name);
  databases.push(db);
  return db.url;
}
/** `n` nodes' pools on `url`, opened together (each migrates, as nodes starting together do). */
async function nodes(url: string, n: number): Promise<PostgresDatabase[]> {
  const opened = await Promise.all(Array.from({ length: n }, (_, i) => openPostgres(url, { max: 4, applicationName: `node-${i}` })));
  pools.push(...opened);
  return opened;
}
async function openKeys(...args: Parameters<typeof PgSigningKeys.open>): Promise<PgSigningKeys> {
  const keys = await PgSigningKeys.open(...args);
  signers.push(keys);
  return keys;
}

/** The nodes share FACEPROOF_MASTER_KEY: each has its own ring from the same value. */
const masterKey = randomBytes(32).toString('base64');
const ring = () => MasterKeyring.fromEnvironment(masterKey);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('result-signing keys in PostgreSQL', () => {
  let url: string;
  let node: PgSigningKeys[];
  beforeAll(async () => {
    url = await freshDatabase('signing');
    const dbs = await nodes(url, 3);
    // Three first starts at once on an empty table.
    node = await Promise.all(dbs.map((db) => openKeys(db, ring(), { refreshMs: 100 })));
  });

  it('three nodes starting together on an empty database make one key, which all sign with and publish', async () => {
    const { rows } = await pools[pools.length - 1].query<{ n: number }>('SELECT count(*)::int AS n FROM signing_keys');
    expect(rows[0].n).toBe(1);
    const kids = node.map((k) => k.list());
    expect(kids[0]).toHaveLength(1);
    expect(kids[1]).toEqual(kids[0]);
    expect(kids[2]).toEqual(kids[0]);
    expect(kids[0][0].active).toBe(true);
  });

  it('a result signed on one node verifies against another node\'s JWKS; the private key is stored sealed', async () => {
    const body: Record<string, unknown> = { request_id: 'r1', decision: 'match', score: 0.93 };
    body.signature = await node[0].signDetached(signedPayload(body));
    const check = await verifySignedResponse(body, node[2].publicKeys());
    expect(check).toMatchObject({ valid: true, kid: node[0].list()[0].kid, alg: 'ES256' });
    expect(await verifySignedResponse({ ...body, score: 0.94 }, node[1].publicKeys())).toMatchObject({ valid: false });
    // The JWKS carries no private part, and the row holds none in the clear.
    expect(node[1].publicKeys().keys[0]).not.toHaveProperty('d');
    const { rows } = await pools[0].query<{ public_jwk: Record<string, unknown>; sealed_private_jwk: Buffer }>('SELECT public_jwk, sealed_private_jwk FROM signing_keys');
    expect(rows[0].public_jwk).not.toHaveProperty('d');
    expect(rows[0].sealed_private_jwk.toString('latin1')).not.toContain('"d"');
  });

  it('a key rotated on one node is published by the others within their refresh, and then signs there', async () => {
    const before = node[1].list()[0].kid;
    const oldBody: Record<string, unknown> = { request_id: 'old' };
    oldBody.signature = await node[1].signDetached(signedPayload(oldBody));

    const rotatedAt = performance.now();
    const kid = await node[0].rotate();
    expect(node[0].list().map((k) => k.kid)).toEqual([kid, before]);
    const lags: number[] = [];
    for (const other of [node[1], node[2]]) {
      while (!other.publicKeys().keys.some((k) => k.kid === kid)) {
        expect(performance.now() - rotatedAt, 'published within a few refreshes').toBeLessThan(2000);
        await sleep(10);
      }
      lags.push(performance.now() - rotatedAt);
    }
    console.log(`rotation seen by the other nodes after ${lags.map((ms) => ms.toFixed(0)).join(' and ')} ms (refresh every 100 ms)`);
    expect(node[2].list()).toEqual([{ kid, created: expect.any(String), active: true }, { kid: before, created: expect.any(String), active: false }]);

    // The other node now signs with the new key; the old key's signatures still verify everywhere.
    const newBody: Record<string, unknown> = { request_id: 'new' };
    newBody.signature = await node[2].signDetached(signedPayload(newBody));
    expect(await verifySignedResponse(newBody, node[1].publicKeys())).toMatchObject({ valid: true, kid });
    expect(await verifySignedResponse(oldBody, node[0].publicKeys())).toMatchObject({ valid: true, kid: before });
  });

  it('a node without periodic refresh learns an unknown kid when asked about it; bogus kids stay unknown', async () => {
    const [db] = await nodes(url, 1);
    const quiet = await openKeys(db, ring(), { refreshMs: 0, unknownKidRefreshMs: 0 });
    const kid = await node[1].rotate();
    expect(quiet.publicKeys().keys.some((k) => k.kid === kid)).toBe(false);
    expect(await quiet.knows(kid)).toBe(true);
    expect(quiet.publicKeys().keys[0].kid).toBe(kid);
    expect(await quiet.knows('no-such-kid')).toBe(false);
  });

  it('read-only opens (CLI) create nothing; a node under another master key cannot sign', async () => {
    const [empty] = await nodes(await freshDatabase('signing_ro'), 1);
    const reader = await openKeys(empty, ring(), { create: false, refreshMs: 0 });
    expect(reader.list()).toEqual([]);
    await expect(reader.signDetached(new Uint8Array([1]))).rejects.toThrow(/no signing key/);
    expect((await empty.query('SELECT 1 FROM signing_keys')).rowCount).toBe(0);

    const [db] = await nodes(url, 1);
    const stranger = await openKeys(db, MasterKeyring.fromEnvironment(randomBytes(32).toString('base64')), { refreshMs: 0 });
    expect(stranger.list()).toEqual(node[0].list()); // public keys need no master key
    await expect(stranger.signDetached(new Uint8Array([1]))).rejects.toThrow(/master key/);
  });
});

describe('the access-token secret in PostgreSQL', () => {
  it('is one secret for every node, created once by nodes starting together, sealed at rest', async () => {
    const dbs = await nodes(await freshDatabase('secrets'), 3);
    const secrets = dbs.map((db) => new PgSecrets(db, ring()));
    expect(await secrets[0].get('token-hs256')).toBeUndefined();
    const got = await Promise.all(secrets.map((s) => s.getOrCreate('token-hs256')));
    expect(got[0]).toHaveLength(32);
    expect(got[1].equals(got[0])).toBe(true);
    expect(got[2].equals(got[0])).toBe(true);
    expect((await dbs[0].query('SELECT name FROM server_secrets')).rows).toEqual([{ name: 'token-hs256' }]);
    const { rows } = await dbs[0].query<{ sealed: Buffer }>('SELECT sealed FROM server_secrets');
    expect(rows[0].sealed.includes(got[0])).toBe(false);

    // A token issued by one node verifies on another.
    const [a, b] = got.map((secret) => JwtAccessTokens.fromSecret(secret));
    const { token } = await a.issue({ clientId: 'c1', keyId: 'k1', scopes: [] }, 60);
    expect(await b.verify(token)).toMatchObject({ clientId: 'c1', keyId: 'k1' });
    // Without the secret (a CLI command before any server ran): nothing verifies.
    await expect(JwtAccessTokens.fromSecret(undefined).verify(token)).rejects.toThrow(FaceproofError);
    // Another master key cannot open it.
    await expect(new PgSecrets(dbs[1], MasterKeyring.fromEnvironment(randomBytes(32).toString('base64'))).get('token-hs256')).rejects.toThrow();
  });
});

describe('rate buckets', () => {
  let pg: PgRateBuckets[];
  beforeAll(async () => {
    const dbs = await nodes(await freshDatabase('rate'), 2);
    pg = dbs.map((db) => new PgRateBuckets(db));
  });

  it('shared by two nodes, allow exactly the burst at once, then refuse with the seconds until a token is free', async () => {
    const client = `client-${randomBytes(4).toString('hex')}`;
    // 24 requests at once, alternating between the nodes; half a token a second refills nothing meanwhile.
    const waits = await Promise.all(Array.from({ length: 24 }, (_, i) => pg[i % 2].take(client, 0.5, 5)));
    expect(waits.filter((w) => w === 0)).toHaveLength(5);
    for (const w of waits.filter((w) => w > 0)) {
      expect(w).toBeGreaterThan(1.5);
      expect(w).toBeLessThanOrEqual(2);
    }
    // Another client has its own budget.
    expect(await pg[1].take(`${client}-other`, 0.5, 5)).toBe(0);
  });

  it('refill at the client\'s rate up to its burst, as the in-memory buckets do', async () => {
    const client = `client-${randomBytes(4).toString('hex')}`;
    // 20 tokens a second, burst 2: two at once, the third refused for about 1/20 s.
    expect(await pg[0].take(client, 20, 2)).toBe(0);
    expect(await pg[1].take(client, 20, 2)).toBe(0);
    const wait = await pg[0].take(client, 20, 2);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(0.05);
    await sleep(wait * 1000 + 20);
    expect(await pg[1].take(client, 20, 2)).toBe(0);
    // Idle for long: back to the burst, never beyond it.
    await sleep(300);
    const after = await Promise.all([0, 1, 2].map((i) => pg[i % 2].take(client, 20, 2)));
    expect(after.filter((w) => w === 0)).toHaveLength(2);

    // The same steps on the in-memory buckets, on a driven clock, give the same answers.
    let now = 0;
    const memory: RateBuckets = new MemoryRateBuckets(() => now);
    expect([await memory.take('c', 20, 2), await memory.take('c', 20, 2)]).toEqual([0, 0]);
    expect(await memory.take('c', 20, 2)).toBeCloseTo(0.05, 5);
    now += 60;
    expect(await memory.take('c', 20, 2)).toBe(0);
  });

  it('take in one statement: its latency', async () => {
    const client = `client-${randomBytes(4).toString('hex')}`;
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t = performance.now();
      await pg[i % 2].take(client, 1e6, 1e6);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2);
    console.log(`rate-bucket take: median ${at(0.5)} ms, p99 ${at(0.99)} ms over ${times.length} sequential takes`);
    expect(times[Math.floor(times.length / 2)]).toBeLessThan(50);

    // Contended: one client's row, 8 takes in flight on two nodes at a time (they queue on its lock).
    const started = performance.now();
    let done = 0;
    await Promise.all(Array.from({ length: 8 }, async (_, worker) => {
      for (let i = 0; i < 50; i++, done++) await pg[worker % 2].take(client, 1e6, 1e6);
    }));
    const seconds = (performance.now() - started) / 1000;
    console.log(`rate-bucket take on one client's row, 8 in flight over 2 pools: ${(done / seconds).toFixed(0)} takes/s`);
  });
});

/** Neither path tested here reaches the engine (a spent, expired or mis-nonced challenge is answered before any frame is read). */
const noEngine = new Proxy({}, { get: (_, name) => { throw new Error(`the liveness engine was reached (${String(name)})`); } }) as LivenessService;
const settings = { ttlSeconds: 60, turnDegrees: 15, closedEyes: 0.3 };

describe.each([
  ['in memory', async (): Promise<ChallengeStore[]> => { const shared = new MemoryChallengeStore(); return [shared, shared]; }],
  ['in PostgreSQL, two nodes', async (): Promise<ChallengeStore[]> => (await nodes(await freshDatabase('challenges'), 2)).map((db) => new PgChallengeStore(db))],
])('challenge stores, %s', (_name, makeStores) => {
  let stores: ChallengeStore[];
  beforeAll(async () => {
    stores = await makeStores();
  });

  it('a liveness challenge drawn on one node is answered on another, once only, even when answered on both at once', async () => {
    let now = new Date('2030-01-01T00:00:00Z');
    const [a, b] = stores.map((store) => new ChallengeService(noEngine, settings, () => now, undefined, store));
    const c = await a.create('default');
    expect(await b.gesturesOf('default', c.id)).toEqual(c.gestures);
    expect(await b.gesturesOf('other', c.id)).toEqual([]);
    await expect(b.verify('other', c.id, c.nonce, { bytes: Buffer.alloc(0) }, 'LOW')).rejects.toThrow(expect.objectContaining({ code: 'not_found' }));

    // Ten answers at once on both nodes (a wrong nonce, so the one that gets it is answered without the engine).
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => [a, b][i % 2].verify('default', c.id, 'wrong', { bytes: Buffer.alloc(0) }, 'LOW')));
    expect(outcomes.filter((o) => o.reason === 'nonce_mismatch')).toHaveLength(1);
    expect(outcomes.filter((o) => o.reason === 'challenge_already_used')).toHaveLength(9);
    expect(await a.gesturesOf('default', c.id)).toEqual(c.gestures); // still told, after it is spent

    // Past its expiry: TIMEOUT; a minute later, the next challenge drawn sweeps it away.
    const late = await b.create('default');
    now = new Date(now.getTime() + 61_000);
    expect(await a.verify('default', late.id, late.nonce, { bytes: Buffer.alloc(0) }, 'LOW')).toMatchObject({ status: 'TIMEOUT', reason: 'challenge_expired' });
    now = new Date(now.getTime() + 61_000);
    await a.create('default');
    await expect(b.verify('default', late.id, late.nonce, { bytes: Buffer.alloc(0) }, 'LOW')).rejects.toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(await b.gesturesOf('default', c.id)).toEqual([]);
  });

  it('a chip nonce issued on one node is taken once, by its tenant, within its lifetime, on any node', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const [a, b] = stores.map((store) => new ActiveAuthenticationChallenges(300_000, 100, () => now, store));
    const issued = await a.issue('default');
    await expect(b.take('other', issued.challenge_id)).rejects.toThrow(expect.objectContaining({ code: 'challenge_invalid' }));
    const takes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => [a, b][i % 2].take('default', issued.challenge_id)));
    const got = takes.filter((t) => t.status === 'fulfilled');
    expect(got).toHaveLength(1);
    expect((got[0] as PromiseFulfilledResult<Buffer>).value.toString('base64')).toBe(issued.challenge);
    for (const t of takes.filter((t) => t.status === 'rejected')) expect((t as PromiseRejectedResult).reason).toMatchObject({ code: 'challenge_invalid' });

    const expiring = await b.issue('default');
    now += 300_001;
    await expect(a.take('default', expiring.challenge_id)).rejects.toThrow(/expired/);
  });
});
