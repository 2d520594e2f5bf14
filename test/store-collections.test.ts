import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CollectionRecord, CollectionRepository, FileRepository, ImageRepository, IndexJournal, NewCollectionFace, StoredFileRecord, StoredImageRecord } from '../src/core/ports.ts';
import { FaceproofError } from '../src/core/errors.ts';
import { MasterKeyring } from '../src/store/crypto/master-keyring.ts';
import { TemplateCodec } from '../src/store/sqlite/template-codec.ts';
import { openDatabase } from '../src/store/sqlite/database.ts';
import { SqliteCollectionRepository } from '../src/store/sqlite/collection-repository.ts';
import { SqliteImageRepository } from '../src/store/sqlite/image-repository.ts';
import { SqliteFileRepository } from '../src/store/sqlite/file-repository.ts';
import { openPostgres, type PostgresDatabase } from '../src/store/postgres/database.ts';
import { PgCollectionRepository, type PgCollectionOptions } from '../src/store/postgres/collection-repository.ts';
import { PgImageRepository } from '../src/store/postgres/image-repository.ts';
import { PgFileRepository } from '../src/store/postgres/file-repository.ts';
import { UsearchIndexProvider } from '../src/store/vector/usearch-indexes.ts';
import { testDatabase } from './helpers/postgres.ts';

/**
 * The collection, image and file repositories: one suite run against SQLite and against
 * PostgreSQL (FACEPROOF_TEST_DATABASE_URL's server, else an embedded one), so both adapters keep
 * the same behaviour and errors. Then what only PostgreSQL has: several nodes writing one
 * collection at once while another catches up, and pruning that waits for the other nodes.
 */

type Collections = CollectionRepository & IndexJournal;

interface Backend {
  name: 'sqlite' | 'postgres';
  collections: Collections;
  images: ImageRepository;
  files: FileRepository;
  /** Another collection repository on the same database (another codec, or a PostgreSQL option). */
  collectionsWith(codec: TemplateCodec, options?: PgCollectionOptions): Collections;
  addTenant(id: string): Promise<void>;
  /** Flips one byte in the middle of a face's stored template (damage on disk). */
  damageTemplate(faceId: string): Promise<void>;
  close(): Promise<void>;
}

async function sqliteBackend(): Promise<Backend> {
  const db = openDatabase(':memory:');
  return {
    name: 'sqlite',
    collections: new SqliteCollectionRepository(db),
    images: new SqliteImageRepository(db),
    files: new SqliteFileRepository(db),
    collectionsWith: (codec) => new SqliteCollectionRepository(db, codec),
    async addTenant(id) { db.prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, '')").run(id, id); },
    async damageTemplate(faceId) {
      const blob = Buffer.from(db.prepare('SELECT template FROM faces WHERE id = ?').pluck().get(faceId) as Buffer);
      blob[blob.length >> 1] ^= 1;
      db.prepare('UPDATE faces SET template = ? WHERE id = ?').run(blob, faceId);
    },
    async close() { db.close(); },
  };
}

async function postgresBackend(): Promise<Backend> {
  const database = await testDatabase('store collections');
  const db = await openPostgres(database.url, { max: 4 });
  return {
    name: 'postgres',
    // Removals kept no time at all, so that pruning means what it means with SQLite (one node); the default is tested below.
    collections: new PgCollectionRepository(db, TemplateCodec.plain(), { removalRetentionMs: 0 }),
    images: new PgImageRepository(db),
    files: new PgFileRepository(db),
    collectionsWith: (codec, options) => new PgCollectionRepository(db, codec, options ?? { removalRetentionMs: 0 }),
    async addTenant(id) { await db.query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $1, '')", [id]); },
    async damageTemplate(faceId) {
      const blob = (await db.query<{ template: Buffer }>('SELECT template FROM faces WHERE id = $1', [faceId])).rows[0].template;
      blob[blob.length >> 1] ^= 1;
      await db.query('UPDATE faces SET template = $1 WHERE id = $2', [blob, faceId]);
    },
    async close() { await db.close(); await database.drop(); },
  };
}

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));
const model = { modelId: 'test-model', version: 1, dimension: 8 };

let seed = 7;
const rand = () => { seed = (seed * 48271) % 2147483647; return seed / 2147483647; };
const vector = (dim = 8) => Float32Array.from({ length: dim }, () => rand() - 0.5);

function newFace(id: string, extra: Partial<NewCollectionFace> = {}): NewCollectionFace {
  return { id, externalId: null, metadata: {}, imageId: null, box: null, vector: vector(), createdAt: '2026-01-01T00:00:00.000Z', ...extra };
}
const faces = (prefix: string, n: number, extra: Partial<NewCollectionFace> = {}) => Array.from({ length: n }, (_, i) => newFace(`${prefix}${i}`, extra));

async function expectError(promise: Promise<unknown>, code: string): Promise<FaceproofError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err, `expected ${code}`).toBeInstanceOf(FaceproofError);
  expect((err as FaceproofError).code).toBe(code);
  return err as FaceproofError;
}

const backends = [
  { name: 'sqlite', open: sqliteBackend },
  { name: 'postgres', open: postgresBackend },
] as const;

describe.each(backends)('collections, images and files on $name', ({ open }) => {
  let b: Backend;
  const opened: Backend[] = [];
  const fresh = async () => { b = await open(); opened.push(b); return b; };
  afterEach(async () => { for (const x of opened.splice(0)) await x.close(); });

  const collection = (name = 'gallery', extra: Partial<CollectionRecord> = {}) => b.collections.create({
    tenantId: 'default', name, kind: 'gallery', description: null, metadata: {}, model, createdAt: '2026-01-01T00:00:00.000Z', ...extra,
  });

  it('creates, gets, lists, counts and deletes collections, each tenant seeing its own', async () => {
    await fresh();
    await b.addTenant('other');
    const g = await collection('g', { description: 'the gallery', metadata: { team: 'kyc', n: 3, nested: { a: [1, 'x'] } } });
    const w = await collection('w', { kind: 'watchlist' });
    expect(w.id).toBeGreaterThan(g.id);
    expect(await b.collections.get('default', 'g')).toEqual(g);
    expect(g).toMatchObject({ kind: 'gallery', description: 'the gallery', metadata: { team: 'kyc', n: 3, nested: { a: [1, 'x'] } }, model });
    // Names are ordered byte by byte, as the core orders them.
    await collection('B');
    await collection('a');
    expect((await b.collections.list('default')).map((c) => c.name)).toEqual(['B', 'a', 'g', 'w']);
    expect(await b.collections.get('other', 'g')).toBeUndefined();
    expect(await b.collections.list('other')).toEqual([]);
    const err = await expectError(collection('g'), 'already_exists');
    expect(err.field).toBe('name');
    expect(err.message).toBe('a collection named "g" already exists');
    // Another tenant may use the name.
    await b.collections.create({ tenantId: 'other', name: 'g', kind: 'gallery', description: null, metadata: {}, model, createdAt: '' });

    await b.collections.addFaces('default', g.id, faces('f', 3));
    await b.collections.addFaces('default', w.id, faces('wf', 1));
    expect(await b.collections.count(g.id)).toBe(3);
    const byName = (x: { tenantId: string; name: string }) => `${x.tenantId}/${x.name}`;
    expect((await b.collections.sizes()).sort((x, y) => (byName(x) < byName(y) ? -1 : 1))).toEqual([
      { tenantId: 'default', name: 'B', faces: 0 }, { tenantId: 'default', name: 'a', faces: 0 }, { tenantId: 'default', name: 'g', faces: 3 },
      { tenantId: 'default', name: 'w', faces: 1 }, { tenantId: 'other', name: 'g', faces: 0 },
    ]);
    expect(await b.collections.delete('other', g.id)).toBe(false); // not that tenant's
    expect(await b.collections.delete('default', g.id)).toBe(true);
    expect(await b.collections.delete('default', g.id)).toBe(false);
    expect(await b.collections.get('default', 'g')).toBeUndefined();
    expect(await b.collections.count(g.id)).toBe(0);
    expect(await b.collections.count(w.id)).toBe(1);
  });

  it('adds faces with increasing keys, never reused after a deletion, and reads them back as written', async () => {
    await fresh();
    const c = await collection();
    const box = { x: 1, y: 2.5, width: 30, height: 40 };
    const first = await b.collections.addFaces('default', c.id, [
      newFace('a', { externalId: 'ext-1', metadata: { name: 'Ann', vip: true, score: 0.5, none: null, list: [1, 2] }, imageId: 'img-1', box, indexedBy: 'client-1' }),
      newFace('b'), newFace('c'),
    ]);
    expect(first.map((f) => f.id)).toEqual(['a', 'b', 'c']);
    for (let i = 1; i < first.length; i++) expect(first[i].key).toBeGreaterThan(first[i - 1].key);
    expect(first[0]).not.toHaveProperty('vector');
    expect(await b.collections.getFace(c.id, 'a')).toEqual({
      key: first[0].key, id: 'a', externalId: 'ext-1', metadata: { name: 'Ann', vip: true, score: 0.5, none: null, list: [1, 2] },
      imageId: 'img-1', box, createdAt: '2026-01-01T00:00:00.000Z', indexedBy: 'client-1',
    });
    expect(await b.collections.getFace(c.id, 'b')).toMatchObject({ externalId: null, imageId: null, box: null, indexedBy: null, metadata: {} });
    expect(await b.collections.getFace(c.id + 1000, 'a')).toBeUndefined();
    expect(await b.collections.addFaces('default', c.id, [])).toEqual([]);

    const maxKey = first[2].key;
    expect(await b.collections.removeFaces(c.id, { faceIds: ['c'] })).toEqual([maxKey]);
    const again = await b.collections.addFaces('default', c.id, [newFace('d')]);
    expect(again[0].key).toBeGreaterThan(maxKey);
    // Nor after the whole collection went.
    await b.collections.delete('default', c.id);
    const c2 = await collection();
    expect((await b.collections.addFaces('default', c2.id, [newFace('e')]))[0].key).toBeGreaterThan(again[0].key);
  });

  it('refuses faces for a collection deleted meanwhile (not_found), and keeps none of them', async () => {
    await fresh();
    const c = await collection();
    await b.collections.delete('default', c.id);
    const err = await expectError(b.collections.addFaces('default', c.id, faces('x', 3)), 'not_found');
    expect(err.field).toBe('collection');
    expect(await b.collections.keysAfter(c.id, 0)).toEqual([]);
    // A face id is unique across collections: the same row twice fails the whole batch.
    const d = await collection('d');
    await expect(b.collections.addFaces('default', d.id, [newFace('dup'), newFace('dup')])).rejects.toThrow();
    expect(await b.collections.count(d.id)).toBe(0);
  });

  it('finds faces by external id and by exact metadata fields, paged by key', async () => {
    await fresh();
    const c = await collection();
    const other = await collection('other');
    const added = await b.collections.addFaces('default', c.id, [
      newFace('s1', { externalId: 'p-1', metadata: { branch: 'north', level: 2, vip: true, note: null } }),
      newFace('s2', { externalId: 'p-1', metadata: { branch: 'south', level: 2, vip: false } }),
      newFace('s3', { externalId: 'p-2', metadata: { branch: 'north', level: '2', vip: 'true' } }),
      newFace('s4', { metadata: { branch: 'north', level: 2, 'a.b c': 'x' } }),
    ]);
    await b.collections.addFaces('default', other.id, [newFace('o1', { externalId: 'p-1', metadata: { branch: 'north' } })]);
    const ids = async (q: Parameters<Collections['findFaces']>[1], id = c.id) => (await b.collections.findFaces(id, q)).map((f) => f.id);
    expect(await ids({ externalId: 'p-1', limit: 10 })).toEqual(['s1', 's2']);
    expect(await ids({ metadata: { branch: 'north' }, limit: 10 })).toEqual(['s1', 's3', 's4']);
    // Types matter: 2 is not "2", true is not "true".
    expect(await ids({ metadata: { level: 2 }, limit: 10 })).toEqual(['s1', 's2', 's4']);
    expect(await ids({ metadata: { level: '2' }, limit: 10 })).toEqual(['s3']);
    expect(await ids({ metadata: { vip: true }, limit: 10 })).toEqual(['s1']);
    expect(await ids({ metadata: { vip: 'true' }, limit: 10 })).toEqual(['s3']);
    // null matches a field present and null, not a missing one.
    expect(await ids({ metadata: { note: null }, limit: 10 })).toEqual(['s1']);
    expect(await ids({ metadata: { 'a.b c': 'x' }, limit: 10 })).toEqual(['s4']);
    expect(await ids({ metadata: { branch: 'north', level: 2 }, externalId: 'p-1', limit: 10 })).toEqual(['s1']);
    expect(await ids({ metadata: { branch: 'north' }, limit: 2 })).toEqual(['s1', 's3']);
    expect(await ids({ metadata: { branch: 'north' }, afterKey: added[2].key, limit: 2 })).toEqual(['s4']);
    expect(await ids({ limit: 10 })).toEqual(['s1', 's2', 's3', 's4']);
    expect(await ids({ externalId: 'nobody', limit: 10 })).toEqual([]);
  });

  it('removes faces by id, by external id or all, logging each removal for the indexes', async () => {
    await fresh();
    const c = await collection();
    const other = await collection('other');
    const added = await b.collections.addFaces('default', c.id, [
      newFace('r1', { externalId: 'e1' }), newFace('r2', { externalId: 'e2' }), newFace('r3', { externalId: 'e2' }), newFace('r4'), newFace('r5'),
    ]);
    const key = Object.fromEntries(added.map((f) => [f.id, f.key]));
    await b.collections.addFaces('default', other.id, [newFace('o1', { externalId: 'e1' })]);
    expect(await b.collections.lastRemovalSeq(c.id)).toBe(0);
    expect(await b.collections.removalsAfter(c.id, 0)).toEqual({ keys: [], lastSeq: 0 });

    expect(await b.collections.removeFaces(c.id, { faceIds: ['r1', 'nobody', 'o1'] })).toEqual([key.r1]);
    expect(await b.collections.removeFaces(c.id, { faceIds: [] })).toEqual([]);
    const afterFirst = await b.collections.lastRemovalSeq(c.id);
    expect(afterFirst).toBeGreaterThan(0);
    expect((await b.collections.removeFaces(c.id, { externalIds: ['e2'] })).sort((x, y) => x - y)).toEqual([key.r2, key.r3]);
    expect(await b.collections.removeFaces(c.id, { externalIds: ['e1'] })).toEqual([]);
    expect(await b.collections.getFace(other.id, 'o1')).toBeDefined();
    expect((await b.collections.removeFaces(c.id, { all: true })).sort((x, y) => x - y)).toEqual([key.r4, key.r5]);
    expect(await b.collections.count(c.id)).toBe(0);
    expect(await b.collections.count(other.id)).toBe(1);

    const all = await b.collections.removalsAfter(c.id, 0);
    expect(all.keys.sort((x, y) => x - y)).toEqual([key.r1, key.r2, key.r3, key.r4, key.r5]);
    expect(all.lastSeq).toBe(await b.collections.lastRemovalSeq(c.id));
    const later = await b.collections.removalsAfter(c.id, afterFirst);
    expect(later.keys.sort((x, y) => x - y)).toEqual([key.r2, key.r3, key.r4, key.r5]);
    expect(await b.collections.removalsAfter(c.id, all.lastSeq)).toEqual({ keys: [], lastSeq: all.lastSeq });
    expect(await b.collections.lastRemovalSeq(other.id)).toBe(0);

    // Pruned up to a snapshot's seq: only what came after stays.
    await b.collections.pruneRemovals(c.id, afterFirst);
    expect((await b.collections.removalsAfter(c.id, 0)).keys.sort((x, y) => x - y)).toEqual([key.r2, key.r3, key.r4, key.r5]);
    await b.collections.pruneRemovals(c.id, all.lastSeq);
    expect(await b.collections.removalsAfter(c.id, 0)).toEqual({ keys: [], lastSeq: 0 });
    // Deleting a collection forgets its removals.
    await b.collections.removeFaces(other.id, { all: true });
    await b.collections.delete('default', other.id);
    expect(await b.collections.lastRemovalSeq(other.id)).toBe(0);
  });

  it('gives the vectors and faces of the keys asked, in this collection only', async () => {
    await fresh();
    const c = await collection();
    const other = await collection('other');
    const list = faces('v', 5);
    const added = await b.collections.addFaces('default', c.id, list);
    const foreign = await b.collections.addFaces('default', other.id, [newFace('x')]);
    const keys = [added[3].key, added[0].key, foreign[0].key, 999_999];
    const vectors = await b.collections.vectorsOf(c.id, keys);
    expect(vectors.sort((x, y) => x.key - y.key)).toEqual([{ key: added[0].key, vector: list[0].vector }, { key: added[3].key, vector: list[3].vector }]);
    expect((await b.collections.facesByKeys(c.id, keys)).map((f) => f.id).sort()).toEqual(['v0', 'v3']);
    expect(await b.collections.vectorsOf(c.id, [])).toEqual([]);
    expect(await b.collections.facesByKeys(c.id, [])).toEqual([]);
  });

  it('replays faces by key in pages, gives keys after a key, and finds the faces indexed from an image', async () => {
    await fresh();
    await b.addTenant('other');
    const c = await collection();
    const list = faces('p', 2500, { imageId: null });
    list[10].imageId = 'img-9';
    list[2400].imageId = 'img-9';
    const added = await b.collections.addFaces('default', c.id, list);
    const otherTenant = await b.collections.create({ tenantId: 'other', name: 'g', kind: 'gallery', description: null, metadata: {}, model, createdAt: '' });
    await b.collections.addFaces('other', otherTenant.id, [newFace('ot', { imageId: 'img-9' })]);
    const replayed: Array<{ key: number; vector: Float32Array }> = [];
    for (let after = 0; ;) {
      const page = await b.collections.vectorsAfter(c.id, after, 1000);
      if (!page.length) break;
      expect(page.length).toBeLessThanOrEqual(1000);
      replayed.push(...page);
      after = page[page.length - 1].key;
    }
    expect(replayed.map((r) => r.key)).toEqual(added.map((f) => f.key));
    replayed.forEach((r, i) => expect(r.vector).toEqual(list[i].vector));
    expect(await b.collections.keysAfter(c.id, 0)).toEqual(added.map((f) => f.key));
    expect(await b.collections.keysAfter(c.id, added[2497].key)).toEqual([added[2498].key, added[2499].key]);
    expect(await b.collections.keysAfter(c.id, added[2499].key)).toEqual([]);
    await b.collections.removeFaces(c.id, { faceIds: ['p2498'] });
    expect(await b.collections.keysAfter(c.id, added[2497].key)).toEqual([added[2499].key]);
    expect((await b.collections.facesFromImage('default', 'img-9')).sort((x, y) => x.faceId.localeCompare(y.faceId))).toEqual([
      { collectionId: c.id, faceId: 'p10' }, { collectionId: c.id, faceId: 'p2400' }]);
    expect(await b.collections.facesFromImage('other', 'img-9')).toEqual([{ collectionId: otherTenant.id, faceId: 'ot' }]);
    expect(await b.collections.facesFromImage('default', 'img-none')).toEqual([]);
  });

  it('records watch-list inquiries, counts them per window, and pages them newest first', async () => {
    await fresh();
    const w = await collection('w', { kind: 'watchlist' });
    const other = await collection('other', { kind: 'watchlist' });
    const [f1, f2, f3] = await b.collections.addFaces('default', w.id, [newFace('f1', { externalId: 'x1', imageId: 'i1' }), newFace('f2'), newFace('f3')]);
    const [o1] = await b.collections.addFaces('default', other.id, [newFace('o1')]);
    const now = new Date('2026-03-10T12:00:00.000Z');
    const ago = (days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();
    await b.collections.recordInquiries('default', 'branch-1', [f1.key], ago(40));
    await b.collections.recordInquiries('default', 'branch-2', [f1.key, f2.key], ago(5));
    await b.collections.recordInquiries('default', 'branch-1', [f1.key], ago(1));
    await b.collections.recordInquiries('default', 'branch-1', [f1.key, f2.key], ago(0.5));
    await b.collections.recordInquiries('default', 'branch-3', [o1.key], ago(0.5));
    await b.collections.recordInquiries('default', 'branch-1', [], ago(0));

    const history = await b.collections.inquiryHistory([f1.key, f2.key, f3.key, f1.key], now, [1, 7, 90]);
    expect([...history.keys()]).toEqual([f1.key, f2.key, f3.key]);
    expect(history.get(f1.key)).toEqual([{ days: 1, inquiries: 2, clients: 1 }, { days: 7, inquiries: 3, clients: 2 }, { days: 90, inquiries: 4, clients: 2 }]);
    expect(history.get(f2.key)).toEqual([{ days: 1, inquiries: 1, clients: 1 }, { days: 7, inquiries: 2, clients: 2 }, { days: 90, inquiries: 2, clients: 2 }]);
    expect(history.get(f3.key)).toEqual([{ days: 1, inquiries: 0, clients: 0 }, { days: 7, inquiries: 0, clients: 0 }, { days: 90, inquiries: 0, clients: 0 }]);
    expect((await b.collections.inquiryHistory([], now, [1])).size).toBe(0);

    // Newest first; one inquiry per client and instant, naming the faces it matched.
    const all = await b.collections.inquiries('default', w.id, { limit: 100 });
    expect(all).toEqual([
      { at: ago(0.5), clientId: 'branch-1', faces: [{ id: 'f1', externalId: 'x1', imageId: 'i1' }, { id: 'f2', externalId: null, imageId: null }] },
      { at: ago(1), clientId: 'branch-1', faces: [{ id: 'f1', externalId: 'x1', imageId: 'i1' }] },
      { at: ago(5), clientId: 'branch-2', faces: [{ id: 'f1', externalId: 'x1', imageId: 'i1' }, { id: 'f2', externalId: null, imageId: null }] },
      { at: ago(40), clientId: 'branch-1', faces: [{ id: 'f1', externalId: 'x1', imageId: 'i1' }] },
    ]);
    // Two clients at one instant: ordered by client id, descending, and the cursor splits them.
    await b.collections.recordInquiries('default', 'branch-2', [f3.key], ago(0.5));
    const walked: typeof all = [];
    let before: { at: string; clientId: string } | undefined;
    for (;;) {
      const page = await b.collections.inquiries('default', w.id, { before, limit: 2 });
      walked.push(...page);
      if (page.length < 2) break;
      before = { at: page[1].at, clientId: page[1].clientId };
    }
    expect(walked.map((i) => `${i.at} ${i.clientId}`)).toEqual([
      `${ago(0.5)} branch-2`, `${ago(0.5)} branch-1`, `${ago(1)} branch-1`, `${ago(5)} branch-2`, `${ago(40)} branch-1`]);
    expect(await b.collections.inquiries('other-tenant', w.id, { limit: 10 })).toEqual([]);
    expect((await b.collections.inquiries('default', other.id, { limit: 10 })).map((i) => i.clientId)).toEqual(['branch-3']);
    // A deleted face takes its part of the history with it.
    await b.collections.removeFaces(w.id, { faceIds: ['f1'] });
    expect((await b.collections.inquiries('default', w.id, { limit: 100 })).map((i) => `${i.at} ${i.clientId}`)).toEqual([
      `${ago(0.5)} branch-2`, `${ago(0.5)} branch-1`, `${ago(5)} branch-2`]);
    expect((await b.collections.inquiryHistory([f1.key], now, [90])).get(f1.key)).toEqual([{ days: 90, inquiries: 0, clients: 0 }]);
    // And a deleted collection all of it.
    await b.collections.delete('default', w.id);
    expect(await b.collections.inquiries('default', w.id, { limit: 100 })).toEqual([]);
  });

  it('seals templates through the TemplateCodec, reads raw ones, and leaves out or refuses a damaged one', async () => {
    await fresh();
    const keys = MasterKeyring.openFile(path.join(tmp('faceproof-keys-'), 'master.json'));
    const warnings: string[] = [];
    const sealed = b.collectionsWith(TemplateCodec.withKeys(keys, { seal: true, warn: (m) => warnings.push(m) }));
    const c = await collection();
    const rawList = faces('raw', 3);
    const sealedList = faces('sealed', 3);
    const raw = await b.collections.addFaces('default', c.id, rawList);
    const added = await sealed.addFaces('default', c.id, sealedList);
    const back = await sealed.vectorsAfter(c.id, 0, 100);
    expect(back.map((x) => x.vector)).toEqual([...rawList, ...sealedList].map((f) => f.vector));
    // The plain codec cannot open sealed rows: a configuration fault, not damage.
    await expect(b.collections.vectorsAfter(c.id, raw[2].key, 100)).rejects.toThrow('is sealed, and no master key was given');

    await b.damageTemplate('sealed1');
    const found = await sealed.vectorsOf(c.id, [raw[0].key, added[0].key, added[1].key]);
    expect(found.map((x) => x.key).sort((x, y) => x - y)).toEqual([raw[0].key, added[0].key]);
    expect(warnings).toEqual([expect.stringContaining('face sealed1')]);
    const refused = await expectError(sealed.vectorsAfter(c.id, 0, 100), 'internal_error');
    expect(refused.message).toContain('face sealed1');
    // The damaged face can still be deleted, which mends the collection.
    expect(await sealed.removeFaces(c.id, { faceIds: ['sealed1'] })).toEqual([added[1].key]);
    expect(await sealed.vectorsAfter(c.id, 0, 100)).toHaveLength(5);
  });

  it('keeps a vector index equal to the database through churn and a reopen from its snapshot (index-churn)', async () => {
    await fresh();
    const c = await collection('churn');
    const options = { dir: path.join(tmp('faceproof-store-churn-'), 'indexes'), quantization: 'f32', connectivity: 16, expansionAdd: 64, expansionSearch: 64, snapshotEvery: 1_000_000 } as const;
    const live = new Map<number, string>();
    const churn = async (index: Awaited<ReturnType<UsearchIndexProvider['open']>>, from: number, to: number) => {
      for (let round = from; round < to; round++) {
        const list = faces(`c${round}_`, 1 + Math.floor(rand() * 40));
        const added = await b.collections.addFaces('default', c.id, list);
        index.add(added.map((f) => f.key), list.map((f) => f.vector));
        added.forEach((f) => live.set(f.key, f.id));
        const victims = [...live.keys()].filter(() => rand() < 0.35);
        index.remove(await b.collections.removeFaces(c.id, { faceIds: victims.map((k) => live.get(k)!) }));
        for (const k of victims) live.delete(k);
      }
    };
    const provider = new UsearchIndexProvider(b.collections, options);
    await churn(await provider.open(c), 0, 40);
    await provider.close();
    const reopened = await new UsearchIndexProvider(b.collections, options).open(c);
    expect(reopened.size).toBe(live.size);
    await churn(reopened, 40, 60);
    expect(reopened.size).toBe(live.size);
    expect(await b.collections.count(c.id)).toBe(live.size);
    // A third process opening from the (older) snapshot catches up on adds and removals from the journal: it holds exactly the live faces.
    const third = await new UsearchIndexProvider(b.collections, options).open(c);
    expect(third.size).toBe(live.size);
    const native = (third as unknown as { native: { contains(k: bigint): boolean } }).native;
    expect([...live.keys()].filter((key) => !native.contains(BigInt(key)))).toEqual([]);
    expect((await b.collections.keysAfter(c.id, 0)).sort((x, y) => x - y)).toEqual([...live.keys()].sort((x, y) => x - y));
  });

  it('does not bring back a face whose deletion committed while a refresh was reading it (refreshes of one index run one at a time)', async () => {
    await fresh();
    const c = await collection('refresh-race');
    const options = { dir: path.join(tmp('faceproof-store-race-'), 'indexes'), quantization: 'f32', connectivity: 16, expansionAdd: 64, expansionSearch: 64, snapshotEvery: 1_000_000 } as const;
    // The real journal; one read of vectors is held after it returned, as a slow round trip would be.
    let hold: { read: () => void; release: Promise<void> } | undefined;
    const journal: IndexJournal = {
      vectorsAfter: async (...args) => {
        const rows = await b.collections.vectorsAfter(...args);
        const h = hold;
        hold = undefined;
        if (h) { h.read(); await h.release; }
        return rows;
      },
      removalsAfter: (...args) => b.collections.removalsAfter(...args),
      lastRemovalSeq: (...args) => b.collections.lastRemovalSeq(...args),
      pruneRemovals: (...args) => b.collections.pruneRemovals(...args),
      keysAfter: (...args) => b.collections.keysAfter(...args),
      count: (...args) => b.collections.count(...args),
    };
    const provider = new UsearchIndexProvider(journal, options);
    const index = await provider.open(c);
    // Another node stores a face; this node's next request reads its vector...
    const list = faces('raced', 1);
    const [added] = await b.collections.addFaces('default', c.id, list);
    let release = () => {};
    const read = new Promise<void>((r) => { hold = { read: r, release: new Promise((done) => { release = done; }) }; });
    const first = provider.open(c);
    await read;
    // ...the face is deleted (on another node) before that read is applied, and a second request refreshes meanwhile.
    expect(await b.collections.removeFaces(c.id, { faceIds: ['raced0'] })).toEqual([added.key]);
    const second = provider.open(c);
    // Unserialised, the second refresh finishes within milliseconds (applying the removal before the
    // face is added); serialised, it waits for the first, so the hold is let go after at most 1 s.
    await Promise.race([second, new Promise((r) => setTimeout(r, 1000))]);
    release();
    await Promise.all([first, second]);
    await provider.open(c);
    expect(index.size).toBe(0);
    expect(index.search(list[0].vector, 1, 10)).toEqual([]);
  });

  const image = (id: string, extra: Partial<StoredImageRecord> = {}): StoredImageRecord => ({
    id, tenantId: 'default', label: 'front', metadata: { side: 'front', n: 1 }, format: 'jpeg', width: 640, height: 480, bytes: 12_345,
    sha256: 'ab'.repeat(32), createdAt: '2026-01-01T00:00:00.000Z', expiresAt: null, ...extra,
  });

  it('stores images: insert clears the pending mark, get, update, delete marks the blob, tenant scoped', async () => {
    await fresh();
    await b.addTenant('other');
    await b.images.markPendingBlob('default/images/i1', '2026-01-01T00:05:00.000Z');
    await b.images.markPendingBlob('default/images/i2', '2026-01-01T00:06:00.000Z');
    await b.images.insert(image('i1'), 'default/images/i1');
    expect(await b.images.pendingBlobs('2026-02-01T00:00:00.000Z', 10)).toEqual(['default/images/i2']);
    expect(await b.images.get('default', 'i1')).toEqual(image('i1'));
    expect(await b.images.get('other', 'i1')).toBeUndefined();
    await expect(b.images.insert(image('i1'), 'default/images/i1')).rejects.toThrow();

    expect(await b.images.update('default', 'i1', { label: null })).toEqual(image('i1', { label: null }));
    expect(await b.images.update('default', 'i1', { metadata: { side: 'back' } })).toEqual(image('i1', { label: null, metadata: { side: 'back' } }));
    expect(await b.images.update('default', 'i1', { label: 'again' })).toEqual(image('i1', { label: 'again', metadata: { side: 'back' } }));
    expect(await b.images.update('default', 'i1', {})).toEqual(image('i1', { label: 'again', metadata: { side: 'back' } }));
    expect(await b.images.get('default', 'i1')).toEqual(image('i1', { label: 'again', metadata: { side: 'back' } }));
    expect(await b.images.update('other', 'i1', { label: 'x' })).toBeUndefined();

    expect(await b.images.delete('other', 'i1', { key: 'other/images/i1', due: '2026-01-01T00:00:00.000Z' })).toBe(false);
    expect(await b.images.pendingBlobs('2027-01-01T00:00:00.000Z', 10)).toEqual(['default/images/i2']);
    expect(await b.images.delete('default', 'i1', { key: 'default/images/i1', due: '2026-01-01T00:00:00.000Z' })).toBe(true);
    expect(await b.images.get('default', 'i1')).toBeUndefined();
    // Oldest due first; not yet due is not given; a file's mark is not an image's.
    await b.files.markPendingBlobs(['default/files/f1/media'], '2025-01-01T00:00:00.000Z');
    expect(await b.images.pendingBlobs('2026-01-01T00:05:59.000Z', 10)).toEqual(['default/images/i1']);
    expect(await b.images.pendingBlobs('2027-01-01T00:00:00.000Z', 10)).toEqual(['default/images/i1', 'default/images/i2']);
    expect(await b.images.pendingBlobs('2027-01-01T00:00:00.000Z', 1)).toEqual(['default/images/i1']);
    // Marking again moves the due time.
    await b.images.markPendingBlob('default/images/i1', '2026-12-01T00:00:00.000Z');
    expect(await b.images.pendingBlobs('2027-01-01T00:00:00.000Z', 10)).toEqual(['default/images/i2', 'default/images/i1']);
    await b.images.clearPendingBlob('default/images/i2');
    expect(await b.images.pendingBlobs('2027-01-01T00:00:00.000Z', 10)).toEqual(['default/images/i1']);
  });

  it('gives the images whose retention ran out, of every tenant, oldest first', async () => {
    await fresh();
    await b.addTenant('other');
    await b.images.insert(image('keep'), 'default/images/keep');
    await b.images.insert(image('late', { expiresAt: '2026-01-03T00:00:00.000Z' }), 'default/images/late');
    await b.images.insert(image('early', { tenantId: 'other', expiresAt: '2026-01-02T00:00:00.000Z' }), 'other/images/early');
    await b.images.insert(image('future', { expiresAt: '2026-06-01T00:00:00.000Z' }), 'default/images/future');
    expect(await b.images.expired('2026-01-03T00:00:00.000Z', 10)).toEqual([{ tenantId: 'other', id: 'early' }, { tenantId: 'default', id: 'late' }]);
    expect(await b.images.expired('2026-01-03T00:00:00.000Z', 1)).toEqual([{ tenantId: 'other', id: 'early' }]);
    expect(await b.images.expired('2026-01-01T00:00:00.000Z', 10)).toEqual([]);
  });

  it('stores files with their frames: insert clears the marks, get, delete marks the blobs, tenant scoped', async () => {
    await fresh();
    await b.addTenant('other');
    const frames: StoredFileRecord['frames'] = [0, 1, 2].map((index) => ({
      index, label: index === 1 ? null : `frame ${index}`, metadata: { i: index }, format: 'png', width: 100 + index, height: 80, bytes: 1000 + index, sha256: String(index).repeat(64),
    }));
    const record: StoredFileRecord = {
      id: 'file1', tenantId: 'default', kind: 'frames', mediaType: null, label: 'selfie video', metadata: { flow: 'kyc' }, bytes: 3003, sha256: null,
      createdAt: '2026-01-01T00:00:00.000Z', frames,
    };
    const keys = frames.map((f) => `default/files/file1/frames/${f.index}`);
    await b.files.markPendingBlobs([...keys, keys[0]], '2026-01-01T00:00:00.000Z');
    await b.files.markPendingBlobs(['default/files/file2/media'], '2026-01-01T00:00:00.000Z');
    await b.images.markPendingBlob('default/images/i9', '2025-01-01T00:00:00.000Z');
    expect((await b.files.pendingBlobs('2026-01-01T00:00:00.000Z', 10)).sort()).toEqual([...keys, 'default/files/file2/media'].sort());
    await b.files.insert(record, keys);
    expect(await b.files.pendingBlobs('2026-01-01T00:00:00.000Z', 10)).toEqual(['default/files/file2/media']);
    expect(await b.files.get('default', 'file1')).toEqual(record);
    expect(await b.files.get('other', 'file1')).toBeUndefined();
    const video: StoredFileRecord = { id: 'file2', tenantId: 'default', kind: 'video', mediaType: 'video/mp4', label: null, metadata: {}, bytes: 99, sha256: 'cd'.repeat(32), createdAt: '2026-01-02T00:00:00.000Z', frames: [] };
    await b.files.insert(video, ['default/files/file2/media']);
    expect(await b.files.get('default', 'file2')).toEqual(video);
    expect(await b.files.pendingBlobs('2027-01-01T00:00:00.000Z', 10)).toEqual([]);

    expect(await b.files.delete('other', 'file1', { keys, due: '2026-02-01T00:00:00.000Z' })).toBe(false);
    expect(await b.files.delete('default', 'file1', { keys, due: '2026-02-01T00:00:00.000Z' })).toBe(true);
    expect(await b.files.get('default', 'file1')).toBeUndefined();
    expect(await b.files.pendingBlobs('2026-01-31T00:00:00.000Z', 10)).toEqual([]);
    expect((await b.files.pendingBlobs('2026-02-01T00:00:00.000Z', 10)).sort()).toEqual([...keys].sort());
    expect(await b.files.pendingBlobs('2026-02-01T00:00:00.000Z', 2)).toHaveLength(2);
    await b.files.clearPendingBlob(keys[1]);
    expect((await b.files.pendingBlobs('2026-02-01T00:00:00.000Z', 10)).sort()).toEqual([keys[0], keys[2]]);
    expect(await b.files.delete('default', 'file2')).toBe(true);
    expect(await b.files.delete('default', 'file2')).toBe(false);
    expect(await b.images.pendingBlobs('2027-01-01T00:00:00.000Z', 10)).toEqual(['default/images/i9']);
  });

  it('measures: 10,000 faces inserted in one call, then replayed in one page of 10,000', async () => {
    await fresh();
    const dim = 512;
    const c = await collection('bulk', { model: { ...model, dimension: dim } });
    const list = Array.from({ length: 10_000 }, (_, i) => newFace(`bulk${i}`, { vector: vector(dim), metadata: { n: i } }));
    const t0 = performance.now();
    await b.collections.addFaces('default', c.id, list);
    const insertMs = performance.now() - t0;
    const t1 = performance.now();
    const page = await b.collections.vectorsAfter(c.id, 0, 10_000);
    const replayMs = performance.now() - t1;
    const t2 = performance.now();
    const keys = await b.collections.keysAfter(c.id, 0);
    const keysMs = performance.now() - t2;
    expect(page).toHaveLength(10_000);
    expect(keys).toHaveLength(10_000);
    expect(page[9_999].vector).toEqual(list[9_999].vector);
    console.log(`${b.name}: addFaces 10,000 × ${dim}-d in ${insertMs.toFixed(0)} ms; vectorsAfter 10,000 in ${replayMs.toFixed(0)} ms; keysAfter 10,000 in ${keysMs.toFixed(0)} ms`);
  });
});

describe('PostgreSQL with several nodes on one database', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });
  async function nodes(n: number, options?: PgCollectionOptions): Promise<{ dbs: PostgresDatabase[]; repos: PgCollectionRepository[] }> {
    const database = await testDatabase('store nodes');
    cleanup.push(() => database.drop());
    const dbs: PostgresDatabase[] = [];
    for (let i = 0; i < n; i++) {
      const db = await openPostgres(database.url, { max: 4, applicationName: `node-${i}` });
      cleanup.push(() => db.close());
      dbs.push(db);
    }
    return { dbs, repos: dbs.map((db) => new PgCollectionRepository(db, TemplateCodec.plain(), options)) };
  }
  const record = { tenantId: 'default', name: 'shared', kind: 'gallery' as const, description: null, metadata: {}, model, createdAt: '' };

  it('a node catching up by "keys above the last one I read" never skips a face or a removal while two nodes write at once', async () => {
    const { repos: [a, b, reader] } = await nodes(3);
    const c = await a.create(record);
    const written: number[] = [];
    const removed: number[] = [];
    let writing = true;
    // Four writers per node, many small batches, each also removing one of its own faces now and then.
    const writer = async (repo: PgCollectionRepository, name: string) => {
      for (let i = 0; i < 60; i++) {
        const added = await repo.addFaces('default', c.id, faces(`${name}_${i}_`, 1 + (i % 4)));
        written.push(...added.map((f) => f.key));
        if (i % 5 === 4) removed.push(...await repo.removeFaces(c.id, { faceIds: [added[0].id] }));
      }
    };
    const seen = new Set<number>();
    const applied = new Set<number>();
    let polls = 0;
    const poll = async () => {
      let lastKey = 0;
      let lastSeq = 0;
      for (;;) {
        const done = !writing; // read before polling: the last poll starts after every write committed
        const keys = await reader.keysAfter(c.id, lastKey);
        for (const k of keys) seen.add(k);
        if (keys.length) lastKey = keys[keys.length - 1];
        const removals = await reader.removalsAfter(c.id, lastSeq);
        removals.keys.forEach((k) => applied.add(k));
        lastSeq = removals.lastSeq;
        polls++;
        if (done) return;
      }
    };
    const polling = poll();
    await Promise.all([a, b].flatMap((repo, n) => [0, 1, 2, 3].map((w) => writer(repo, `n${n}w${w}`))));
    writing = false;
    await polling;
    expect(written.length).toBe(8 * 60 * 2.5);
    expect(new Set(written).size).toBe(written.length);
    // Every key written was read by the reader, though it only ever asked for keys above the last one it had.
    expect(written.filter((k) => !seen.has(k))).toEqual([]);
    expect(removed.filter((k) => !applied.has(k))).toEqual([]);
    expect(removed.length).toBe(8 * 12);
    expect(await reader.count(c.id)).toBe(written.length - removed.length);
    console.log(`two nodes, 8 writers: ${written.length} faces in ${8 * 60} transactions and ${removed.length} removals, read by a third node in ${polls} polls, none skipped`);
  });

  it('a collection deleted on one node while another adds faces: each add either lands whole before the deletion or fails not_found', async () => {
    const { repos: [a, b] } = await nodes(2);
    const c = await a.create(record);
    const adds = Array.from({ length: 30 }, (_, i) => b.addFaces('default', c.id, faces(`d${i}_`, 3)).then(() => 'added', (e: unknown) => e));
    await new Promise((r) => setTimeout(r, 5));
    expect(await a.delete('default', c.id)).toBe(true);
    const outcomes = await Promise.all(adds);
    for (const o of outcomes) if (o !== 'added') expect(o).toMatchObject({ code: 'not_found', field: 'collection' });
    expect(await a.count(c.id)).toBe(0);
    expect(await a.keysAfter(c.id, 0)).toEqual([]);
    expect(await a.lastRemovalSeq(c.id)).toBe(0);
  });

  it('keeps removals younger than the retention whatever a snapshot says, for the nodes that have not applied them', async () => {
    const { dbs: [db], repos: [node] } = await nodes(1);
    const c = await node.create(record);
    await node.addFaces('default', c.id, faces('k', 4));
    await node.removeFaces(c.id, { faceIds: ['k0', 'k1'] });
    const last = await node.lastRemovalSeq(c.id);
    // The default retention: a snapshot up to `last` forgets nothing yet.
    await node.pruneRemovals(c.id, last);
    expect((await node.removalsAfter(c.id, 0)).keys).toHaveLength(2);
    // Logged two days ago: forgotten, up to the snapshot's seq only.
    await db.query("UPDATE face_removals SET removed_at = now() - interval '2 days' WHERE collection_id = $1", [c.id]);
    await node.removeFaces(c.id, { faceIds: ['k2'] });
    await db.query("UPDATE face_removals SET removed_at = now() - interval '2 days' WHERE collection_id = $1", [c.id]);
    await node.pruneRemovals(c.id, last);
    const left = await node.removalsAfter(c.id, 0);
    expect(left.keys).toHaveLength(1);
    expect(left.lastSeq).toBeGreaterThan(last);
    // A shorter retention, as an option.
    await node.removeFaces(c.id, { faceIds: ['k3'] });
    await new PgCollectionRepository(db, TemplateCodec.plain(), { removalRetentionMs: 0 }).pruneRemovals(c.id, await node.lastRemovalSeq(c.id));
    expect(await node.lastRemovalSeq(c.id)).toBe(0);
  });
});
