import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../src/store/sqlite/database.ts';
import { openDatabase } from '../src/store/sqlite/database.ts';
import { openPostgres, type PostgresDatabase } from '../src/store/postgres/database.ts';
import { TemplateCodec } from '../src/store/sqlite/template-codec.ts';
import { MasterKeyring } from '../src/store/crypto/master-keyring.ts';
import { FaceproofError } from '../src/core/errors.ts';
import type {
  KeptFaceWithVector, SessionFace, SessionRepository, TrustAnchorRepository, UserEvent, UserRecord, UserRepository,
} from '../src/core/ports.ts';
import type { ApiKeyRecord, ClientRepository } from '../src/core/api-clients.ts';
import type { ReplayGuard } from '../src/core/authentication.ts';
import { AuditTrail, type AuditFacts, type AuditRepository } from '../src/core/audit.ts';
import type { TransactionRepository } from '../src/core/transactions.ts';
import type { UsageRepository, UsageRow } from '../src/core/usage.ts';
import { RequestRecords, type RequestRecordRepository, type SealedRequestRecord } from '../src/core/request-records.ts';
import { ClientSettingsStore, type ClientSettingsRepository } from '../src/core/client-settings.ts';
import { VerifiedChips, idNumberHash, type VerifiedChipRepository } from '../src/core/documents/verified-chips.ts';
import { TrustStore } from '../src/core/documents/trust-store.ts';
import { SqliteUserRepository } from '../src/store/sqlite/user-repository.ts';
import { SqliteSessionRepository } from '../src/store/sqlite/session-repository.ts';
import { SqliteClientRepository } from '../src/store/sqlite/client-repository.ts';
import { SqliteReplayGuard } from '../src/store/sqlite/replay-guard.ts';
import { SqliteAuditRepository } from '../src/store/sqlite/audit-repository.ts';
import { SqliteTransactionRepository } from '../src/store/sqlite/transaction-repository.ts';
import { SqliteUsageRepository } from '../src/store/sqlite/usage-repository.ts';
import { SqliteClientSettingsRepository, SqliteRequestRecordRepository } from '../src/store/sqlite/request-record-repository.ts';
import { SqliteTrustAnchorRepository } from '../src/store/sqlite/trust-anchor-repository.ts';
import { SqliteVerifiedChipRepository } from '../src/store/sqlite/verified-chip-repository.ts';
import { PgUserRepository } from '../src/store/postgres/user-repository.ts';
import { PgSessionRepository } from '../src/store/postgres/session-repository.ts';
import { PgClientRepository } from '../src/store/postgres/client-repository.ts';
import { PgReplayGuard } from '../src/store/postgres/replay-guard.ts';
import { PgAuditRepository } from '../src/store/postgres/audit-repository.ts';
import { PgTransactionRepository } from '../src/store/postgres/transaction-repository.ts';
import { PgUsageRepository } from '../src/store/postgres/usage-repository.ts';
import { PgClientSettingsRepository, PgRequestRecordRepository } from '../src/store/postgres/request-record-repository.ts';
import { PgTrustAnchorRepository } from '../src/store/postgres/trust-anchor-repository.ts';
import { PgVerifiedChipRepository } from '../src/store/postgres/verified-chip-repository.ts';
import { testDatabase, type TestDatabase } from './helpers/postgres.ts';
import { makeCertificate, makeCrl, makeKey, type SignatureSpec, type TestCertificate } from './helpers/test-passports.ts';

/**
 * The record repositories (users, sessions, clients and keys, replay guard, audit trail,
 * transactions, usage, kept answers, client settings, trust anchors, verified chips): one suite run
 * against the SQLite adapters and the PostgreSQL ones, so that both keep every promise of the ports.
 * Then, on PostgreSQL alone, what several nodes writing at once must not break.
 */

interface Repositories {
  users: UserRepository;
  sealedUsers: UserRepository;
  sessions: SessionRepository;
  clients: ClientRepository;
  /** A replay guard whose clock the test sets. */
  replays: (now: () => number) => ReplayGuard;
  audit: AuditRepository;
  transactions: TransactionRepository;
  usage: UsageRepository;
  requestRecords: RequestRecordRepository;
  clientSettings: ClientSettingsRepository;
  trustAnchors: TrustAnchorRepository;
  verifiedChips: VerifiedChipRepository;
  /** A statement without parameters, the same text on both (to tamper, to count). */
  sql(text: string): Promise<Array<Record<string, unknown>>>;
  /** Makes every insert into user_events fail, or stops doing so (a crash between a change and its history). */
  failHistory(on: boolean): Promise<void>;
}

interface Backend {
  name: string;
  setup(): Promise<void>;
  /** Empty repositories for one test. */
  fresh(): Promise<Repositories>;
  teardown(): Promise<void>;
}

const keyringDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-store-records-'));
const ring = MasterKeyring.openFile(path.join(keyringDir, 'master.json'));
const sealing = TemplateCodec.withKeys(ring, { seal: true });
afterAll(() => fs.rmSync(keyringDir, { recursive: true, force: true }));

function sqliteBackend(): Backend {
  let db: Db | undefined;
  return {
    name: 'SQLite',
    async setup() {},
    async fresh() {
      db?.close();
      const d = openDatabase(':memory:');
      db = d;
      return {
        users: new SqliteUserRepository(d), sealedUsers: new SqliteUserRepository(d, sealing), sessions: new SqliteSessionRepository(d),
        clients: new SqliteClientRepository(d), replays: (now) => new SqliteReplayGuard(d, now), audit: new SqliteAuditRepository(d),
        transactions: new SqliteTransactionRepository(d), usage: new SqliteUsageRepository(d), requestRecords: new SqliteRequestRecordRepository(d),
        clientSettings: new SqliteClientSettingsRepository(d), trustAnchors: new SqliteTrustAnchorRepository(d), verifiedChips: new SqliteVerifiedChipRepository(d),
        async sql(text) {
          const statement = d.prepare(text);
          if (statement.reader) return statement.all() as Array<Record<string, unknown>>;
          statement.run();
          return [];
        },
        async failHistory(on) {
          d.exec(on ? "CREATE TEMP TRIGGER fail_history BEFORE INSERT ON user_events BEGIN SELECT RAISE(ABORT, 'history not written'); END" : 'DROP TRIGGER fail_history');
        },
      };
    },
    async teardown() { db?.close(); },
  };
}

/** Tables this suite writes, emptied between tests (a fresh database per test would cost seconds). */
const TABLES = ['users', 'user_faces', 'user_events', 'sessions', 'session_faces', 'audit_records', 'audit_prunes', 'api_keys', 'clients', 'auth_replays',
  'transactions', 'usage_counters', 'request_records', 'client_settings', 'trust_anchors', 'verified_chips'];

let pgDatabase: TestDatabase | undefined;
async function pgUrl(): Promise<string> {
  pgDatabase ??= await testDatabase('store records');
  return pgDatabase.url;
}

function postgresBackend(): Backend {
  let db: PostgresDatabase;
  return {
    name: 'PostgreSQL',
    async setup() {
      db = await openPostgres(await pgUrl(), { max: 4 });
      await db.query(`CREATE OR REPLACE FUNCTION fail_history() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'history not written'; END $$`);
    },
    async fresh() {
      await db.query(`TRUNCATE ${TABLES.join(', ')} RESTART IDENTITY CASCADE`);
      await db.query('DROP TRIGGER IF EXISTS fail_history ON user_events');
      return {
        users: new PgUserRepository(db), sealedUsers: new PgUserRepository(db, sealing), sessions: new PgSessionRepository(db),
        clients: new PgClientRepository(db), replays: (now) => new PgReplayGuard(db, now), audit: new PgAuditRepository(db),
        transactions: new PgTransactionRepository(db), usage: new PgUsageRepository(db), requestRecords: new PgRequestRecordRepository(db),
        clientSettings: new PgClientSettingsRepository(db), trustAnchors: new PgTrustAnchorRepository(db), verifiedChips: new PgVerifiedChipRepository(db),
        async sql(text) { return (await db.query(text)).rows; },
        async failHistory(on) {
          await db.query(on ? 'CREATE TRIGGER fail_history BEFORE INSERT ON user_events FOR EACH ROW EXECUTE FUNCTION fail_history()' : 'DROP TRIGGER fail_history ON user_events');
        },
      };
    },
    async teardown() { await db?.close(); },
  };
}

afterAll(async () => { await pgDatabase?.drop(); });

const vector = (seed: number, dimension = 8) => Float32Array.from({ length: dimension }, (_, i) => Math.sin(seed * 7 + i) + i / 10);
const face = (id: string, seed: number, createdAt = '2026-01-01T00:00:00.000Z', imageId: string | null = null): KeptFaceWithVector => ({
  id, imageType: 'SELFIE', imageId, box: imageId ? { x: 1, y: 2, width: 30, height: 40 } : null, createdAt, vector: vector(seed),
});
const user = (tenantId: string, userId: string, metadata: Record<string, unknown> = {}): UserRecord => ({
  tenantId, userId, status: 'active', metadata, model: { modelId: 'arcface', version: 2 }, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
});
const event = (action: UserEvent['action'], at: string, detail: Record<string, unknown> = {}): Omit<UserEvent, 'seq'> => ({ action, result: 'ok', detail, requestId: `req-${action}-${at}`, at });
const plain = <T extends { vector: Float32Array }>(faces: T[]) => faces.map((f) => ({ ...f, vector: Array.from(f.vector) }));
const rejection = async (promise: Promise<unknown>): Promise<unknown> => promise.then(() => { throw new Error('expected a rejection'); }, (err: unknown) => err);

describe.each([sqliteBackend(), postgresBackend()])('record repositories on $name', (backend) => {
  let r: Repositories;
  beforeAll(() => backend.setup());
  afterAll(() => backend.teardown());
  beforeEach(async () => {
    r = await backend.fresh();
    for (const t of ['t1', 't2']) await r.clients.createTenantIfMissing(t);
  });

  describe('users', () => {
    it('creates a user with faces and an event, reads them back, refuses the same user twice (already_exists), per tenant', async () => {
      const alice = user('t1', 'alice', { team: 'blue', n: 3, nested: { a: [1, 'x'] } });
      await r.users.create(alice, [face('f2', 2, '2026-01-01T00:00:01.000Z', 'img-1'), face('f1', 1)], event('register', '2026-01-01T00:00:00.000Z'));
      expect(await r.users.get('t1', 'alice')).toEqual(alice);
      const faces = await r.users.faces('t1', 'alice');
      expect(faces.map((f) => f.id)).toEqual(['f1', 'f2']); // by created_at, then id
      expect(plain(faces)).toEqual(plain([face('f1', 1), face('f2', 2, '2026-01-01T00:00:01.000Z', 'img-1')]));
      const err = await rejection(r.users.create(alice, [face('f9', 9)]));
      expect(err).toBeInstanceOf(FaceproofError);
      expect(err).toMatchObject({ code: 'already_exists', field: 'user_id' });
      // The refused create left nothing: not its face, not its event.
      expect((await r.users.faces('t1', 'alice')).map((f) => f.id)).toEqual(['f1', 'f2']);
      expect(await r.users.history('t1', 'alice', { limit: 10 })).toHaveLength(1);
      // Another tenant neither sees alice nor is kept from having its own.
      expect(await r.users.get('t2', 'alice')).toBeUndefined();
      expect(await r.users.faces('t2', 'alice')).toEqual([]);
      await r.users.create(user('t2', 'alice'), [face('g1', 5)]);
      expect((await r.users.faces('t2', 'alice')).map((f) => f.id)).toEqual(['g1']);
    });

    it('adds and removes faces, sets status and metadata, replaces faces, each with its event; history pages newest first', async () => {
      await r.users.create(user('t1', 'bob'), [face('b1', 1)], event('register', '2026-01-01T00:00:00.000Z'));
      await r.users.addFaces('t1', 'bob', [face('b2', 2, '2026-01-02T00:00:00.000Z', 'img-b')], '2026-01-02T00:00:00.000Z', event('add_faces', '2026-01-02T00:00:00.000Z', { faces: ['b2'] }));
      expect((await r.users.get('t1', 'bob'))!.updatedAt).toBe('2026-01-02T00:00:00.000Z');
      expect(await r.users.facesFromImage('t1', 'img-b')).toEqual([{ userId: 'bob', faceId: 'b2' }]);
      expect(await r.users.facesFromImage('t2', 'img-b')).toEqual([]);
      expect(await r.users.removeFace('t1', 'bob', 'b1', '2026-01-03T00:00:00.000Z', event('remove_face', '2026-01-03T00:00:00.000Z'))).toBe(true);
      // Nothing removed: no event, no change of updated_at.
      expect(await r.users.removeFace('t1', 'bob', 'b1', '2026-01-04T00:00:00.000Z', event('remove_face', '2026-01-04T00:00:00.000Z'))).toBe(false);
      expect(await r.users.removeFace('t2', 'bob', 'b2', '2026-01-04T00:00:00.000Z')).toBe(false);
      expect((await r.users.get('t1', 'bob'))!.updatedAt).toBe('2026-01-03T00:00:00.000Z');
      await r.users.setStatus('t1', 'bob', 'inactive', '2026-01-05T00:00:00.000Z', event('deactivate', '2026-01-05T00:00:00.000Z'));
      expect(await r.users.get('t1', 'bob')).toMatchObject({ status: 'inactive', updatedAt: '2026-01-05T00:00:00.000Z' });
      await r.users.setMetadata('t1', 'bob', { role: 'teller' }, '2026-01-06T00:00:00.000Z');
      expect(await r.users.get('t1', 'bob')).toMatchObject({ metadata: { role: 'teller' }, updatedAt: '2026-01-06T00:00:00.000Z' });
      await r.users.replaceFaces('t1', 'bob', [face('b3', 3), face('b4', 4)], { role: 'manager' }, '2026-01-07T00:00:00.000Z', event('register', '2026-01-07T00:00:00.000Z'));
      expect((await r.users.faces('t1', 'bob')).map((f) => f.id)).toEqual(['b3', 'b4']);
      expect((await r.users.get('t1', 'bob'))!.metadata).toEqual({ role: 'manager' });
      await r.users.recordEvent('t1', 'bob', { action: 'authenticate', result: 'match', detail: { score: 0.91 }, requestId: null, at: '2026-01-08T00:00:00.000Z' });
      const history = await r.users.history('t1', 'bob', { limit: 10 });
      expect(history.map((e) => e.action)).toEqual(['authenticate', 'register', 'deactivate', 'remove_face', 'add_faces', 'register']);
      expect(history[0]).toMatchObject({ result: 'match', detail: { score: 0.91 }, requestId: null, at: '2026-01-08T00:00:00.000Z' });
      expect(history[4]!.detail).toEqual({ faces: ['b2'] });
      const first = await r.users.history('t1', 'bob', { limit: 4 });
      const rest = await r.users.history('t1', 'bob', { beforeSeq: first[3]!.seq, limit: 4 });
      expect([...first, ...rest]).toEqual(history);
      expect(await r.users.history('t2', 'bob', { limit: 10 })).toEqual([]);
    });

    it('deletes a user with their faces and history; false when there was none', async () => {
      await r.users.create(user('t1', 'carol'), [face('c1', 1, undefined, 'img-c')], event('register', '2026-01-01T00:00:00.000Z'));
      expect(await r.users.delete('t2', 'carol')).toBe(false);
      expect(await r.users.delete('t1', 'carol')).toBe(true);
      expect(await r.users.get('t1', 'carol')).toBeUndefined();
      expect(await r.users.faces('t1', 'carol')).toEqual([]);
      expect(await r.users.history('t1', 'carol', { limit: 10 })).toEqual([]);
      expect(await r.users.facesFromImage('t1', 'img-c')).toEqual([]);
      expect(await r.users.delete('t1', 'carol')).toBe(false);
      // The same user id may register again, with a history of its own.
      await r.users.create(user('t1', 'carol'), [face('c1', 1)]);
      expect(await r.users.history('t1', 'carol', { limit: 10 })).toEqual([]);
    });

    it('writes a change and its history event together or not at all (crash-atomicity)', async () => {
      await r.failHistory(true);
      await expect(r.users.create(user('t1', 'dave'), [face('d1', 1), face('d2', 2)], event('register', '2026-01-01T00:00:00.000Z'))).rejects.toThrow('history not written');
      expect(await r.users.get('t1', 'dave')).toBeUndefined();
      expect(await r.sql("SELECT count(*) AS n FROM user_faces WHERE user_id = 'dave'")).toEqual([{ n: 0 }]);
      await r.failHistory(false);
      await r.users.create(user('t1', 'dave'), [face('d1', 1), face('d2', 2)], event('register', '2026-01-01T00:00:00.000Z'));
      await r.failHistory(true);
      await expect(r.users.addFaces('t1', 'dave', [face('d3', 3)], '2026-01-02T00:00:00.000Z', event('add_faces', '2026-01-02T00:00:00.000Z'))).rejects.toThrow('history not written');
      await expect(r.users.removeFace('t1', 'dave', 'd1', '2026-01-02T00:00:00.000Z', event('remove_face', '2026-01-02T00:00:00.000Z'))).rejects.toThrow('history not written');
      await expect(r.users.setStatus('t1', 'dave', 'inactive', '2026-01-02T00:00:00.000Z', event('deactivate', '2026-01-02T00:00:00.000Z'))).rejects.toThrow('history not written');
      await expect(r.users.replaceFaces('t1', 'dave', [face('d9', 9)], { x: 1 }, '2026-01-02T00:00:00.000Z', event('register', '2026-01-02T00:00:00.000Z'))).rejects.toThrow('history not written');
      await r.failHistory(false);
      const dave = await r.users.get('t1', 'dave');
      expect(dave).toMatchObject({ status: 'active', metadata: {}, updatedAt: '2026-01-01T00:00:00.000Z' });
      expect((await r.users.faces('t1', 'dave')).map((f) => f.id)).toEqual(['d1', 'd2']);
      expect((await r.users.history('t1', 'dave', { limit: 10 })).map((e) => e.action)).toEqual(['register']);
    });

    it('seals templates at rest through the codec and opens them again', async () => {
      await r.sealedUsers.create(user('t1', 'erin'), [face('e1', 1)]);
      const [row] = await r.sql("SELECT template FROM user_faces WHERE id = 'e1'");
      const stored = row!.template as Buffer;
      expect(stored.length).toBe(8 * 4 + 33); // the raw floats plus the seal, never a multiple of 4
      expect(stored.includes(Buffer.from(vector(1).buffer))).toBe(false);
      expect(Array.from((await r.sealedUsers.faces('t1', 'erin'))[0]!.vector)).toEqual(Array.from(vector(1)));
      // Without the keys a sealed template is not read as floats.
      await expect(r.users.faces('t1', 'erin').then((f) => f[0]!.vector)).rejects.toThrow(/sealed/);
    });
  });

  describe('sessions', () => {
    const session = (tenantId: string, id: string, expiresAt: string, imageStorageEnabled = true) => ({
      tenantId, id, imageStorageEnabled, metadata: { purpose: 'kyc' }, model: { modelId: 'arcface', version: 2 }, createdAt: '2026-01-01T00:00:00.000Z', expiresAt,
    });
    const sessionFace = (id: string, seed: number, imageId: string | null, imageOwned: boolean, details?: SessionFace['details']): SessionFace & { vector: Float32Array } => ({
      id, imageType: 'ID_DOCUMENT', imageId, imageOwned, box: { x: 0, y: 0, width: 10, height: 12 }, createdAt: `2026-01-01T00:00:0${seed}.000Z`, vector: vector(seed),
      ...(details ? { details } : {}),
    });

    it('creates, reads, refuses the same id twice, keeps faces with and without details, per tenant', async () => {
      const s = session('t1', 's1', '2026-01-02T00:00:00.000Z');
      await r.sessions.create(s);
      expect(await r.sessions.get('t1', 's1')).toEqual(s);
      expect(await r.sessions.get('t2', 's1')).toBeUndefined();
      await expect(r.sessions.create(s)).rejects.toThrow();
      await r.sessions.create(session('t1', 's-off', '2026-01-02T00:00:00.000Z', false));
      expect((await r.sessions.get('t1', 's-off'))!.imageStorageEnabled).toBe(false);
      const details = { digest: 'ab'.repeat(32), eyes: { x1: 1, y1: 2, x2: 3, y2: 4 }, confidence: 0.99, autoRotate: false, metadata: { name: 'Ann' } };
      const faces = [sessionFace('a', 1, 'img-1', true, details), sessionFace('b', 2, 'img-2', false), sessionFace('c', 3, null, false)];
      await r.sessions.addFaces('t1', 's1', faces);
      const read = await r.sessions.faces('t1', 's1');
      expect(plain(read)).toEqual(plain(faces));
      expect('details' in read[1]!).toBe(false);
      expect(await r.sessions.faces('t2', 's1')).toEqual([]);
      expect(await r.sessions.facesFromImage('t1', 'img-2')).toEqual([{ sessionId: 's1', faceId: 'b' }]);
      expect(await r.sessions.facesFromImage('t2', 'img-2')).toEqual([]);
    });

    it('removes a face (its image when the session owned it), deletes a session with the images it owned', async () => {
      await r.sessions.create(session('t1', 's2', '2026-01-02T00:00:00.000Z'));
      await r.sessions.addFaces('t1', 's2', [sessionFace('a', 1, 'img-1', true), sessionFace('b', 2, 'img-2', false), sessionFace('c', 3, 'img-3', true)]);
      expect(await r.sessions.removeFace('t1', 's2', 'a')).toEqual({ deleted: true, ownedImage: 'img-1' });
      expect(await r.sessions.removeFace('t1', 's2', 'b')).toEqual({ deleted: true, ownedImage: null });
      expect(await r.sessions.removeFace('t1', 's2', 'b')).toEqual({ deleted: false, ownedImage: null });
      expect(await r.sessions.removeFace('t2', 's2', 'c')).toEqual({ deleted: false, ownedImage: null });
      expect(await r.sessions.delete('t2', 's2')).toEqual({ deleted: false, ownedImages: [] });
      expect(await r.sessions.delete('t1', 's2')).toEqual({ deleted: true, ownedImages: ['img-3'] });
      expect(await r.sessions.get('t1', 's2')).toBeUndefined();
      expect(await r.sessions.faces('t1', 's2')).toEqual([]);
      expect(await r.sessions.delete('t1', 's2')).toEqual({ deleted: false, ownedImages: [] });
    });

    it('lists expired sessions of every tenant, oldest expiry first, up to the limit', async () => {
      await r.sessions.create(session('t1', 'late', '2026-01-03T00:00:00.000Z'));
      await r.sessions.create(session('t2', 'early', '2026-01-01T00:00:00.000Z'));
      await r.sessions.create(session('t1', 'mid', '2026-01-02T00:00:00.000Z'));
      await r.sessions.create(session('t1', 'future', '2027-01-01T00:00:00.000Z'));
      expect(await r.sessions.expired('2026-01-03T00:00:00.000Z', 10)).toEqual([{ tenantId: 't2', id: 'early' }, { tenantId: 't1', id: 'mid' }, { tenantId: 't1', id: 'late' }]);
      expect(await r.sessions.expired('2026-01-03T00:00:00.000Z', 2)).toHaveLength(2);
      expect(await r.sessions.expired('2025-01-01T00:00:00.000Z', 10)).toEqual([]);
    });
  });

  describe('clients and keys', () => {
    const client = (id: string, tenantId: string, createdAt: string) => ({ id, tenantId, name: `Client ${id}`, status: 'active' as const, ratePerSecond: null, burst: null, createdAt, updatedAt: createdAt });
    const key = (id: string, clientId: string, createdAt: string, extra: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
      id, clientId, parentKeyId: null, label: null, scopes: ['compare', 'images'], secretSha256: createHash('sha256').update(id).digest('hex'), secretSealed: null,
      createdAt, expiresAt: null, revokedAt: null, ...extra,
    });

    it('creates tenants once, inserts, lists and updates clients; refuses a client id twice', async () => {
      await r.clients.createTenantIfMissing('t3');
      await r.clients.createTenantIfMissing('t3');
      expect(await r.sql("SELECT count(*) AS n FROM tenants WHERE id = 't3'")).toEqual([{ n: 1 }]);
      await r.clients.insertClient(client('zed', 't1', '2026-01-02T00:00:00.000Z'));
      await r.clients.insertClient(client('amy', 't3', '2026-01-02T00:00:00.000Z'));
      await r.clients.insertClient(client('old', 't1', '2026-01-01T00:00:00.000Z'));
      await expect(r.clients.insertClient(client('amy', 't1', '2026-01-03T00:00:00.000Z'))).rejects.toThrow();
      // A client of a tenant that does not exist is refused (foreign key).
      await expect(r.clients.insertClient(client('ghost', 'no-such-tenant', '2026-01-03T00:00:00.000Z'))).rejects.toThrow();
      expect((await r.clients.listClients()).map((c) => c.id)).toEqual(['old', 'amy', 'zed']);
      expect(await r.clients.getClient('amy')).toEqual(client('amy', 't3', '2026-01-02T00:00:00.000Z'));
      expect(await r.clients.getClient('nobody')).toBeUndefined();
      expect(await r.clients.updateClient('amy', { ratePerSecond: 2.5, burst: 10, updatedAt: '2026-01-04T00:00:00.000Z' }))
        .toMatchObject({ ratePerSecond: 2.5, burst: 10, status: 'active', name: 'Client amy', updatedAt: '2026-01-04T00:00:00.000Z' });
      expect(await r.clients.updateClient('amy', { status: 'disabled', name: 'Amy', ratePerSecond: null, updatedAt: '2026-01-05T00:00:00.000Z' }))
        .toMatchObject({ ratePerSecond: null, burst: 10, status: 'disabled', name: 'Amy' });
      expect(await r.clients.updateClient('nobody', { status: 'disabled', updatedAt: '2026-01-05T00:00:00.000Z' })).toBeUndefined();
    });

    it('keeps keys with scopes and sealed secrets, upserts the bootstrap key without losing its temporary credentials, revokes once', async () => {
      await r.clients.insertClient(client('c1', 't1', '2026-01-01T00:00:00.000Z'));
      await r.clients.insertClient(client('c2', 't2', '2026-01-01T00:00:00.000Z'));
      const sealed = ring.seal(Buffer.from('secret'), 'api-key-secret');
      const k1 = key('k1', 'c1', '2026-01-02T00:00:00.000Z', { label: 'main', secretSealed: sealed, scopes: ['compare', 'admin'], expiresAt: '2027-01-01T00:00:00.000Z' });
      await r.clients.insertKey(k1);
      await r.clients.insertKey(key('k0', 'c1', '2026-01-01T00:00:00.000Z'));
      await r.clients.insertKey(key('k2', 'c2', '2026-01-01T00:00:00.000Z'));
      await expect(r.clients.insertKey(key('k1', 'c1', '2026-01-03T00:00:00.000Z'))).rejects.toThrow();
      expect(await r.clients.getKey('k1')).toEqual(k1);
      expect(await r.clients.getKey('nope')).toBeUndefined();
      expect((await r.clients.listKeys()).map((k) => k.id)).toEqual(['k0', 'k2', 'k1']);
      expect((await r.clients.listKeys('c1')).map((k) => k.id)).toEqual(['k0', 'k1']);
      // A temporary credential of k1; then k1's row is replaced (new secret, new scopes): the child stays.
      await r.clients.insertKey(key('tmp', 'c1', '2026-01-03T00:00:00.000Z', { parentKeyId: 'k1', expiresAt: '2026-01-03T01:00:00.000Z' }));
      const replaced = { ...k1, scopes: ['compare' as const], secretSha256: 'f'.repeat(64), secretSealed: null, createdAt: '2026-01-04T00:00:00.000Z' };
      await r.clients.upsertKey(replaced);
      expect(await r.clients.getKey('k1')).toEqual(replaced);
      expect((await r.clients.getKey('tmp'))!.parentKeyId).toBe('k1');
      await r.clients.upsertKey(key('fresh', 'c2', '2026-01-05T00:00:00.000Z'));
      expect(await r.clients.getKey('fresh')).toBeDefined();
      expect((await r.clients.revokeKey('k1', '2026-02-01T00:00:00.000Z'))!.revokedAt).toBe('2026-02-01T00:00:00.000Z');
      expect((await r.clients.revokeKey('k1', '2026-03-01T00:00:00.000Z'))!.revokedAt).toBe('2026-02-01T00:00:00.000Z'); // the first revocation stays
      expect(await r.clients.revokeKey('nope', '2026-03-01T00:00:00.000Z')).toBeUndefined();
    });
  });

  describe('the replay guard', () => {
    it('accepts a signature once, until it expires and is pruned', async () => {
      let now = 10_000;
      const guard = r.replays(() => now);
      expect(await guard.firstUse('sig-a', 5_000.2)).toBe(true);
      expect(await guard.firstUse('sig-a', 5_000.2)).toBe(false);
      expect(await guard.firstUse('sig-b', 50_000)).toBe(true);
      expect(await r.sql("SELECT expires_at FROM auth_replays WHERE digest = 'sig-a'")).toEqual([{ expires_at: 5001 }]); // rounded up
      // The thousandth call prunes what has expired first (sig-a), not what has not (sig-b).
      for (let i = 3; i < 999; i++) await guard.firstUse(`filler-${i}`, 50_000);
      now = 20_000;
      expect(await guard.firstUse('sig-b', 50_000)).toBe(false); // call 999
      expect(await guard.firstUse('sig-a', 60_000)).toBe(true); // call 1000: pruned, so new again
      expect(await guard.firstUse('sig-b', 50_000)).toBe(false);
    });
  });

  describe('the audit trail', () => {
    const facts = (i: number, extra: Partial<AuditFacts> = {}): AuditFacts => ({
      tenantId: 't1', requestId: `req-${i}`, clientRequestId: null, clientId: 'client-a', method: 'POST', route: '/v1/compare', service: 'compare',
      status: 200, latencyMs: 12.5 + i, inputs: { image: { sha256: 'ab'.repeat(32) } }, result: { decision: 'match', score: 0.9 }, at: `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z`, ...extra,
    });

    it('chains records over every tenant, reads them back exactly, finds them by request id', async () => {
      const trail = new AuditTrail(r.audit);
      const odd = { text: 'nul \u0000 here, é, \u{1F600}, "quotes"', z: 1, a: [3, 1, 2], nested: { b: 2, a: 1 } };
      const written = [
        await trail.record(facts(0)),
        await trail.record(facts(1, { tenantId: 't2', inputs: odd, transactionId: 'tx-1' })),
        await trail.record(facts(2, { clientRequestId: 'x-2' })),
      ];
      expect(written.map((w) => w.seq)).toEqual([written[0]!.seq, written[0]!.seq + 1, written[0]!.seq + 2]);
      expect(written[1]!.prevHash).toBe(written[0]!.hash);
      expect(await r.audit.get('t2', 'req-1')).toEqual(written[1]);
      // Kept as written: key order included (the chain hashes the content).
      expect(JSON.stringify((await r.audit.get('t2', 'req-1'))!.inputs)).toBe(JSON.stringify(odd));
      expect(await r.audit.get('t1', 'req-1')).toBeUndefined();
      expect('transactionId' in (await r.audit.get('t1', 'req-0'))!).toBe(false);
      expect(await trail.verify()).toEqual({ valid: true, records: 3 });
      expect(await trail.verify('t1')).toEqual({ valid: true, records: 3, tenantRecords: 2 });
      // The same request id twice is refused.
      await expect(trail.record(facts(0))).rejects.toThrow();
    });

    it('lists by every filter, decision included, oldest or newest first, in pages', async () => {
      const trail = new AuditTrail(r.audit);
      const specs: Array<Partial<AuditFacts>> = [
        { result: { decision: 'match' } }, { result: { status: 'FAILED' }, service: 'liveness' }, { result: { verdict: 'REAL' }, clientId: 'client-b' },
        { result: { decision: 'no_match' }, status: 422 }, { result: {}, clientRequestId: 'x-4', transactionId: 'tx-9' }, { result: { decision: 'match' }, tenantId: 't2' },
        { result: { decision: 'match', status: 'ignored' } },
      ];
      const recs = [];
      for (const [i, spec] of specs.entries()) recs.push(await trail.record(facts(i, spec)));
      const ids = async (q: Parameters<AuditRepository['list']>[1], tenant = 't1') => (await r.audit.list(tenant, q)).map((x) => x.requestId);
      expect(await ids({ limit: 100 })).toEqual(['req-0', 'req-1', 'req-2', 'req-3', 'req-4', 'req-6']);
      expect(await ids({ limit: 100, newestFirst: true })).toEqual(['req-6', 'req-4', 'req-3', 'req-2', 'req-1', 'req-0']);
      expect(await ids({ limit: 2 })).toEqual(['req-0', 'req-1']);
      expect(await ids({ limit: 2, afterSeq: recs[1]!.seq })).toEqual(['req-2', 'req-3']);
      expect(await ids({ limit: 2, newestFirst: true, beforeSeq: recs[4]!.seq })).toEqual(['req-3', 'req-2']);
      expect(await ids({ limit: 100, decision: 'match' })).toEqual(['req-0', 'req-6']);
      expect(await ids({ limit: 100, decision: 'FAILED' })).toEqual(['req-1']);
      expect(await ids({ limit: 100, decision: 'REAL' })).toEqual(['req-2']);
      expect(await ids({ limit: 100, decision: 'ignored' })).toEqual([]);
      expect(await ids({ limit: 100, decision: 'match' }, 't2')).toEqual(['req-5']);
      expect(await ids({ limit: 100, clientId: 'client-b' })).toEqual(['req-2']);
      expect(await ids({ limit: 100, service: 'liveness' })).toEqual(['req-1']);
      expect(await ids({ limit: 100, status: 422 })).toEqual(['req-3']);
      expect(await ids({ limit: 100, clientRequestId: 'x-4' })).toEqual(['req-4']);
      expect(await ids({ limit: 100, transactionId: 'tx-9' })).toEqual(['req-4']);
      expect(await ids({ limit: 100, from: '2026-01-01T00:00:02.000Z', to: '2026-01-01T00:00:04.000Z' })).toEqual(['req-2', 'req-3']);
      expect(await ids({ limit: 100, decision: 'match', from: '2026-01-01T00:00:01.000Z', newestFirst: true })).toEqual(['req-6']);
      expect(await r.audit.list('t1', { limit: 1, transactionId: 'tx-9' })).toEqual([recs[4]]);
    });

    it('verification finds a modified, a removed and a reordered record', async () => {
      const trail = new AuditTrail(r.audit);
      const recs = [];
      for (let i = 0; i < 4; i++) recs.push(await trail.record(facts(i)));
      await r.sql(`UPDATE audit_records SET result = '{"decision":"no_match","score":0.9}' WHERE request_id = 'req-1'`);
      expect(await trail.verify()).toMatchObject({ valid: false, brokenAt: recs[1]!.seq, reason: 'this record was modified' });
      await r.sql("DELETE FROM audit_records WHERE request_id = 'req-1'");
      expect(await trail.verify()).toMatchObject({ valid: false, brokenAt: recs[2]!.seq, reason: expect.stringContaining('removed') });
      await r.sql("DELETE FROM audit_records WHERE request_id IN ('req-0', 'req-2', 'req-3')");
      await trail.record(facts(10));
      await trail.record(facts(11));
      // req-10 and req-11 swap places (their seqs exchanged).
      const [a, b] = (await r.audit.list('t1', { limit: 10 })).map((x) => x.seq);
      await r.sql(`UPDATE audit_records SET seq = 0 WHERE seq = ${a}`);
      await r.sql(`UPDATE audit_records SET seq = ${a} WHERE seq = ${b}`);
      await r.sql(`UPDATE audit_records SET seq = ${b} WHERE seq = 0`);
      expect(await trail.verify()).toMatchObject({ valid: false, reason: expect.stringContaining('reordered') });
    });

    it('walks more than one page of records in order', async () => {
      const trail = new AuditTrail(r.audit);
      for (let i = 0; i < 1005; i++) await trail.record(facts(i, { at: '2026-01-01T00:00:00.000Z' }));
      const seqs: number[] = [];
      for await (const record of r.audit.all()) seqs.push(record.seq);
      expect(seqs).toHaveLength(1005);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(await trail.verify()).toEqual({ valid: true, records: 1005 });
    }, 60_000);

    it('prunes old records keeping the chain verifiable from its anchor, and continues from the anchor when none is left', async () => {
      const trail = new AuditTrail(r.audit);
      const recs = [];
      for (let i = 0; i < 5; i++) recs.push(await trail.record(facts(i)));
      expect(await r.audit.anchor()).toBeUndefined();
      expect(await trail.prune('2026-01-01T00:00:00.000Z')).toBe(0);
      expect(await trail.prune('2026-01-01T00:00:02.000Z')).toBe(2);
      expect(await r.audit.anchor()).toEqual({ upToSeq: recs[1]!.seq, lastHash: recs[1]!.hash });
      expect(await trail.verify()).toEqual({ valid: true, records: 3 });
      expect(await trail.prune('2027-01-01T00:00:00.000Z')).toBe(3);
      expect(await r.audit.anchor()).toEqual({ upToSeq: recs[4]!.seq, lastHash: recs[4]!.hash });
      const next = await trail.record(facts(9));
      expect(next.prevHash).toBe(recs[4]!.hash);
      expect(next.seq).toBeGreaterThan(recs[4]!.seq);
      expect(await trail.verify()).toEqual({ valid: true, records: 1 });
      const [prune] = await r.sql('SELECT at FROM audit_prunes ORDER BY up_to_seq DESC LIMIT 1');
      expect(prune!.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });
  });

  describe('transactions and usage', () => {
    it('opens, reads and finishes a transaction once, per tenant; refuses an id twice', async () => {
      const t = { id: 'tx-1', tenantId: 't1', clientId: 'c', referenceId: 'ref', channel: 'web', metadata: { loan: 1200, who: { a: 'b' } }, status: 'open' as const, outcome: null, createdAt: '2026-01-01T00:00:00.000Z', finishedAt: null };
      await r.transactions.insert(t);
      await expect(r.transactions.insert(t)).rejects.toThrow();
      expect(await r.transactions.get('t1', 'tx-1')).toEqual(t);
      expect(await r.transactions.get('t2', 'tx-1')).toBeUndefined();
      expect(await r.transactions.finish('t2', 'tx-1', 'approved', '2026-01-02T00:00:00.000Z')).toBeUndefined();
      expect(await r.transactions.finish('t1', 'tx-1', 'approved', '2026-01-02T00:00:00.000Z')).toEqual({ ...t, status: 'finished', outcome: 'approved', finishedAt: '2026-01-02T00:00:00.000Z' });
      expect(await r.transactions.finish('t1', 'tx-1', 'declined', '2026-01-03T00:00:00.000Z')).toMatchObject({ outcome: 'approved', finishedAt: '2026-01-02T00:00:00.000Z' });
      expect(await r.transactions.finish('t1', 'nope', null, '2026-01-03T00:00:00.000Z')).toBeUndefined();
    });

    it('adds usage into counters and answers per tenant, between two days inclusive, optionally one client', async () => {
      const row = (day: string, clientId: string, service: string, outcome: UsageRow['outcome'], billable: boolean, count = 1): UsageRow => ({ day, clientId, service, outcome, billable, count });
      await r.usage.add('t1', row('2026-01-01', 'a', 'compare', 'processed', true));
      await r.usage.add('t1', row('2026-01-01', 'a', 'compare', 'processed', true, 4));
      await r.usage.add('t1', row('2026-01-01', 'a', 'compare', 'rejected', false));
      await r.usage.add('t1', row('2026-01-02', 'b', 'detect', 'failed', false, 2));
      await r.usage.add('t1', row('2026-01-03', 'a', 'compare', 'processed', true));
      await r.usage.add('t2', row('2026-01-01', 'a', 'compare', 'processed', true, 7));
      expect(await r.usage.query('t1', { from: '2026-01-01', to: '2026-01-02' })).toEqual([
        row('2026-01-01', 'a', 'compare', 'processed', true, 5), row('2026-01-01', 'a', 'compare', 'rejected', false), row('2026-01-02', 'b', 'detect', 'failed', false, 2),
      ]);
      expect(await r.usage.query('t1', { from: '2026-01-01', to: '2026-01-03', clientId: 'a' })).toHaveLength(3);
      expect(await r.usage.query('t1', { from: '2026-01-04', to: '2026-01-09' })).toEqual([]);
      expect(await r.usage.query('t2', { from: '2026-01-01', to: '2026-01-01' })).toEqual([row('2026-01-01', 'a', 'compare', 'processed', true, 7)]);
    });
  });

  describe('kept answers and client settings', () => {
    it('keeps an answer sealed, finds it by request id and X-Request-Id, and prunes it', async () => {
      const records = new RequestRecords(r.requestRecords, ring);
      const base = { tenantId: 't1', xRequestId: 'x1', clientId: 'c', keyId: 'k', service: 'compare_faces', inputs: [{ id: 'img_1', label: 'portrait' }] };
      await records.keep({ ...base, requestId: 'r1', response: { data: { status: 'success', secret_field: 'in-the-answer' } }, at: '2026-01-01T00:00:00.000Z' });
      await records.keep({ ...base, requestId: 'r2', response: { data: { status: 'failure' } }, at: '2026-01-02T00:00:00.000Z' });
      expect(await records.get('t1', 'r1')).toMatchObject({ ...base, requestId: 'r1', response: { data: { status: 'success' } } });
      await expect(records.get('t2', 'r1')).rejects.toThrow(/no kept request/);
      expect((await records.byXRequestId('t1', 'x1')).map((x) => x.requestId)).toEqual(['r1', 'r2']);
      expect((await records.byXRequestId('t1', 'x1', 1)).map((x) => x.requestId)).toEqual(['r1']);
      const [row] = await r.sql("SELECT sealed FROM request_records WHERE request_id = 'r1'");
      expect((row!.sealed as Buffer).includes(Buffer.from('in-the-answer'))).toBe(false);
      expect(ring.open(row!.sealed as Buffer, 'request-response').toString()).toContain('in-the-answer');
      expect(await records.prune('2026-01-02T00:00:00.000Z')).toBe(1);
      expect((await records.byXRequestId('t1', 'x1')).map((x) => x.requestId)).toEqual(['r2']);
    });

    it('replaces a record of the same request id, which then sorts after the records made since (as SQLite\'s INSERT OR REPLACE)', async () => {
      const at = '2026-01-01T00:00:00.000Z';
      const record = (requestId: string, sealed: string): SealedRequestRecord => ({ tenantId: 't1', requestId, xRequestId: 'x', clientId: 'c', keyId: null, service: 's', at, sealed: Buffer.from(sealed) });
      await r.requestRecords.put(record('r1', 'first'));
      await r.requestRecords.put(record('r2', 'other'));
      await r.requestRecords.put(record('r1', 'retried'));
      expect((await r.requestRecords.get('t1', 'r1'))!.sealed.toString()).toBe('retried');
      expect((await r.requestRecords.byXRequestId('t1', 'x', 10)).map((x) => x.requestId)).toEqual(['r2', 'r1']);
      expect(await r.requestRecords.byXRequestId('t2', 'x', 10)).toEqual([]);
      expect(await r.requestRecords.prune('2030-01-01T00:00:00.000Z')).toBe(2);
    });

    it('gives the defaults until a client sets its own, per flow, and never turns encryption on', async () => {
      const store = new ClientSettingsStore(r.clientSettings);
      expect((await store.get('t', 'c')).settings.enable_encryption).toBe(false);
      await store.update('t', 'c', '', { country: 'in', settings: { scan_qr: 'with_card' } });
      expect(await store.get('t', 'c')).toMatchObject({ country: 'in', settings: { scan_qr: 'with_card', enable_compare_faces: true } });
      expect((await store.get('t', 'other')).country).toBe('vn');
      expect((await store.get('t', 'c', 'flow-a')).country).toBe('in');
      await expect(store.update('t', 'c', '', { settings: { enable_encryption: true } })).rejects.toThrow(/enable_encryption/);
      // A second update replaces the row.
      await store.update('t', 'c', '', { country: 'th' });
      expect((await store.get('t', 'c')).country).toBe('th');
      expect(await r.sql("SELECT count(*) AS n FROM client_settings WHERE client_id = 'c'")).toEqual([{ n: 1 }]);
    });
  });

  describe('documents: trust anchors and verified chips', () => {
    const ecSig: SignatureSpec = { scheme: 'ecdsa', hash: 'sha256' };
    const root = (cn: string): TestCertificate => makeCertificate({
      subject: [['C', 'UT'], ['CN', cn]], key: makeKey({ kind: 'ec', curve: 'prime256v1' }), signature: ecSig, serial: 1, ca: true,
      notBefore: new Date(Date.now() - 86400_000), notAfter: new Date(Date.now() + 10 * 365 * 86400_000),
    });

    it('imports anchors once each, lists oldest first, removes; the revision follows every change', async () => {
      const store = new TrustStore(r.trustAnchors);
      const [a, b] = [root('CSCA A'), root('CSCA B')];
      const crl = makeCrl({ issuer: a, signature: ecSig, revoked: [31], thisUpdate: new Date(Date.now() - 86400_000), nextUpdate: new Date(Date.now() + 86400_000) });
      const r0 = await r.trustAnchors.revision();
      const first = await store.import(a.der, 'a.der');
      expect(first).toMatchObject({ kind: 'certificate', added: 1, already_present: 0 });
      const r1 = await r.trustAnchors.revision();
      expect(r1).not.toBe(r0);
      expect(await store.import(a.der, 'again.der')).toMatchObject({ added: 0, already_present: 1 });
      expect(await r.trustAnchors.revision()).toBe(r1);
      await store.import(b.der, 'b.der');
      await store.import(crl, 'a.crl');
      const list = await r.trustAnchors.list();
      expect(list.map((x) => x.kind)).toEqual(['certificate', 'certificate', 'crl']);
      expect(list[0]!.source).toBe('a.der (certificate)');
      expect(Buffer.from(list[0]!.der).equals(Buffer.from(a.der))).toBe(true);
      expect(list[0]!.der).toBeInstanceOf(Uint8Array);
      expect(await r.trustAnchors.get(list[1]!.id)).toEqual(list[1]);
      expect(await r.trustAnchors.get('nope')).toBeUndefined();
      const before = await r.trustAnchors.revision();
      expect(await r.trustAnchors.remove(list[0]!.id)).toBe(true);
      expect(await r.trustAnchors.remove(list[0]!.id)).toBe(false);
      expect(await r.trustAnchors.revision()).not.toBe(before);
      // Removing the newest and adding another leaves the count as it was, yet the revision moves.
      const afterRemove = await r.trustAnchors.revision();
      await r.trustAnchors.remove(list[2]!.id);
      await r.trustAnchors.insert([list[2]!]);
      expect(await r.trustAnchors.revision()).not.toBe(afterRemove);
      // One insert of several: only the new ones are reported.
      expect(await r.trustAnchors.insert([list[0]!, list[1]!])).toEqual(new Set([list[0]!.sha256]));
      // A name's comparison key joins its attributes with NUL; names may hold backslashes (and NUL): all read back as written.
      expect(list[0]!.nameKey).toContain('\u0000');
      const odd = { ...list[1]!, id: 'odd', sha256: 'e'.repeat(64), subject: 'CN=a\\0b\\\\c\u0000d\\', issuer: '\\', nameKey: '2.5.4.3=x\u0000\u00002.5.4.6=\\0', country: 'U\u0000T', source: 'C:\\certs\\a.der' };
      await r.trustAnchors.insert([odd]);
      expect(await r.trustAnchors.get('odd')).toEqual(odd);
    });

    it('keeps verified chips as hashes only, per tenant, the latest first', async () => {
      const chips = new VerifiedChips(r.verifiedChips);
      await chips.record({ tenantId: 't1', idNumbers: ['ab 123<<'], sod: Buffer.from('sod-1'), inputFields: ['dg1'], requestId: 'r1', at: new Date('2024-01-01') });
      await chips.record({ tenantId: 't1', idNumbers: ['AB123', '0011'], sod: Buffer.from('sod-2'), inputFields: ['dg1', 'dg2'], requestId: 'r2', at: new Date('2024-02-01') });
      expect((await chips.find('t1', 'AB123'))?.requestId).toBe('r2');
      expect((await chips.find('t1', idNumberHash('0011')))?.inputFields).toEqual(['dg1', 'dg2']);
      expect(await chips.find('t2', 'AB123')).toBeUndefined();
      expect(await chips.prune('2024-01-15')).toBeGreaterThanOrEqual(1);
      expect((await chips.find('t1', 'AB123'))?.requestId).toBe('r2');
      // Two records of one instant: the later put is the latest, with every hash of its request.
      const at = '2024-03-01T00:00:00.000Z';
      await r.verifiedChips.put({ tenantId: 't1', idHashes: ['h1'], sodSha512: 's1', inputFields: ['dg1'], requestId: 'r3', at });
      await r.verifiedChips.put({ tenantId: 't1', idHashes: ['h1', 'h2'], sodSha512: 's2', inputFields: ['dg2'], requestId: 'r4', at });
      expect(await r.verifiedChips.latest('t1', 'h1')).toEqual({ tenantId: 't1', idHashes: ['h1', 'h2'], sodSha512: 's2', inputFields: ['dg2'], requestId: 'r4', at });
    });
  });
});

describe('on PostgreSQL only', () => {
  let url: string;
  const nodes: PostgresDatabase[] = [];
  beforeAll(async () => {
    url = await pgUrl();
    // Four nodes: four pools on one database, as four processes would have.
    for (let n = 1; n <= 4; n++) nodes.push(await openPostgres(url, { max: 4, applicationName: `node-${n}` }));
    await nodes[0]!.query(`TRUNCATE ${TABLES.join(', ')} RESTART IDENTITY CASCADE`);
    await nodes[0]!.query("INSERT INTO tenants (id, name, created_at) VALUES ('t1', 't1', '2026-01-01T00:00:00.000Z') ON CONFLICT DO NOTHING");
  });
  afterAll(async () => { for (const n of nodes) await n.close(); });

  const facts = (node: number, i: number): AuditFacts => ({
    tenantId: `tenant-${i % 3}`, requestId: `node-${node}-req-${i}`, clientRequestId: null, clientId: `node-${node}`, method: 'POST', route: '/v1/compare',
    service: 'compare', status: 200, latencyMs: i, inputs: { i }, result: { decision: i % 2 ? 'match' : 'no_match' }, at: new Date().toISOString(),
  });

  /** Runs `count` tasks, `concurrency` at a time. */
  async function inParallel(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => { while (next < count) await task(next++); }));
  }

  it('keeps one linear audit chain with four nodes appending 200 records each at once', async () => {
    await nodes[0]!.query('TRUNCATE audit_records, audit_prunes RESTART IDENTITY');
    const trails = nodes.map((n) => new AuditTrail(new PgAuditRepository(n)));
    // One node alone first, for the figure.
    let t0 = performance.now();
    await inParallel(200, 4, async (i) => { await trails[0]!.record(facts(0, i)); });
    const oneMs = performance.now() - t0;
    t0 = performance.now();
    await Promise.all(trails.map((trail, n) => inParallel(200, 4, async (i) => { await trail.record(facts(n + 1, i)); })));
    const fourMs = performance.now() - t0;
    expect(await trails[2]!.verify()).toEqual({ valid: true, records: 1000 });
    const { rows } = await nodes[3]!.query<{ seq: number; prev_hash: string; hash: string; client_id: string }>('SELECT seq, prev_hash, hash, client_id FROM audit_records ORDER BY seq');
    expect(rows.map((x) => x.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1)); // gapless
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
    // The nodes did interleave: the chain is not four runs one after the other.
    const switches = rows.slice(200).filter((x, i, all) => i > 0 && x.client_id !== all[i - 1]!.client_id).length;
    expect(switches).toBeGreaterThan(10);
    console.log(`audit appends on PostgreSQL: 1 node ${(200 / oneMs * 1000).toFixed(0)}/s (${(oneMs / 200).toFixed(2)} ms each); `
      + `4 nodes at once ${(800 / fourMs * 1000).toFixed(0)}/s in all (${switches} switches between nodes in the chain)`);
  }, 120_000);

  it('accepts a signature offered by four nodes at once exactly once', async () => {
    const guards = nodes.map((n) => new PgReplayGuard(n));
    for (let round = 0; round < 50; round++) {
      const digest = `concurrent-${round}`;
      const answers = await Promise.all(guards.map((g) => g.firstUse(digest, Date.now() + 60_000)));
      expect(answers.filter(Boolean)).toHaveLength(1);
    }
    // And a replay on another node later is refused.
    expect(await guards[3]!.firstUse('concurrent-0', Date.now() + 60_000)).toBe(false);
  });

  it('loses no usage count when four nodes increment one counter at once', async () => {
    const meters = nodes.map((n) => new PgUsageRepository(n));
    const row: UsageRow = { day: '2026-01-01', clientId: 'c', service: 'compare', outcome: 'processed', billable: true, count: 1 };
    await Promise.all(meters.map((m) => inParallel(250, 4, async () => { await m.add('t1', row); })));
    expect(await meters[0]!.query('t1', { from: '2026-01-01', to: '2026-01-01' })).toEqual([{ ...row, count: 1000 }]);
  }, 60_000);

  it('refuses text PostgreSQL cannot store (a NUL) as the client\'s error, where SQLite stores it', async () => {
    const users = new PgUserRepository(nodes[0]!);
    const err = await rejection(users.create(user('t1', 'nul-meta', { name: 'a\u0000b' }), [face('n1', 1)]));
    expect(err).toMatchObject({ code: 'invalid_parameter' });
    const err2 = await rejection(users.get('t1', 'nul\u0000id'));
    expect(err2).toMatchObject({ code: 'invalid_parameter' });
    expect(await users.get('t1', 'nul-meta')).toBeUndefined();
  });

  it('refuses a lone UTF-16 surrogate in JSON (a key or a string) as the client\'s error: PostgreSQL\'s JSON cannot hold one', async () => {
    const users = new PgUserRepository(nodes[0]!);
    for (const metadata of [{ '\ud800': 1 }, { name: 'a\udc00b' }, { nested: ['\ud83d'] }]) {
      expect(await rejection(users.create(user('t1', 'lone', metadata), [face('l1', 1)]))).toMatchObject({ code: 'invalid_parameter' });
    }
    expect(await users.get('t1', 'lone')).toBeUndefined();
    // A whole pair is one character, stored as any other.
    await users.create(user('t1', 'pair', { name: '\ud83d\ude00' }), [face('p1', 1)]);
    expect((await users.get('t1', 'pair'))!.metadata).toEqual({ name: '\u{1F600}' });
  });
});
