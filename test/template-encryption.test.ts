import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTestApp, SQLITE_ONLY } from './helpers/app.ts';
import { runCli } from './helpers/cli.ts';
import { b64, selfieCrop } from './helpers/images.ts';
import type { Services } from '../src/bootstrap.ts';
import { openMasterKeyring, templateCodec } from '../src/bootstrap.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { decodeTemplate, cosineSimilarity } from '../src/core/template.ts';
import { FaceproofError } from '../src/core/errors.ts';
import { MasterKeyring, SEAL_OVERHEAD } from '../src/store/crypto/master-keyring.ts';
import { openDatabase, type Db } from '../src/store/sqlite/database.ts';
import { SqliteCollectionRepository } from '../src/store/sqlite/collection-repository.ts';
import { TemplateCodec, TemplateIntegrityError, TEMPLATE_PURPOSE } from '../src/store/sqlite/template-codec.ts';
import { resealColumns, sealedColumns, sealingStatus, TEMPLATE_COLUMNS } from '../src/store/sqlite/template-reseal.ts';

const DIM = 640;
const TABLES = ['faces', 'user_faces', 'session_faces'] as const;
const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

function randomVector(dim = DIM): Float32Array {
  const v = Float32Array.from({ length: dim }, () => Math.random() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** The first 4 × dim bytes of a BLOB read as little-endian floats (what a thief reading the file would try). */
function asRawFloats(blob: Buffer, dim = DIM): Float32Array {
  const out = new Float32Array(dim);
  new Uint8Array(out.buffer).set(blob.subarray(0, dim * 4));
  return out;
}

function flipByte(db: Db, table: string, where: string, param: unknown, offset?: number): void {
  const row = db.prepare(`SELECT rowid AS r, template FROM ${table} WHERE ${where}`).get(param) as { r: number; template: Buffer };
  const blob = Buffer.from(row.template);
  const at = offset ?? Math.floor(blob.length / 2);
  blob[at] ^= 0x01;
  db.prepare(`UPDATE ${table} SET template = ? WHERE rowid = ?`).run(blob, row.r);
}

describe('template codec and re-seal (no models)', () => {
  const ring = MasterKeyring.openFile(path.join(tmp('faceproof-keys-'), 'master.json'));

  it('seals a template to 4 × dim + 33 bytes that opens to the same floats, and still reads raw ones', () => {
    const codec = TemplateCodec.withKeys(ring, { seal: true });
    const v = randomVector();
    const sealed = codec.encode(v);
    expect(sealed.length).toBe(DIM * 4 + SEAL_OVERHEAD);
    expect(sealed.length % 4).not.toBe(0);
    expect(codec.decode(sealed)).toEqual(v);
    expect(asRawFloats(sealed)).not.toEqual(v);
    const raw = TemplateCodec.withKeys(ring, { seal: false }).encode(v);
    expect(raw.length).toBe(DIM * 4);
    expect(codec.decode(raw)).toEqual(v);
    expect(() => TemplateCodec.plain().decode(sealed)).toThrow(/no master key/);
  });

  it('refuses a sealed template with any byte changed, and tells a missing key apart from damage', () => {
    const codec = TemplateCodec.withKeys(ring, { seal: true });
    const sealed = codec.encode(randomVector());
    // Format byte, IV, ciphertext, tag: every one is authenticated.
    for (const at of [0, 7, 20, 1000, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at] ^= 0x80;
      expect(() => codec.decode(bad, 'face f1')).toThrow(TemplateIntegrityError);
    }
    // A template sealed for another purpose (an API secret, say) is not accepted as a template.
    const otherPurpose = ring.seal(Buffer.from(new Float32Array(DIM).buffer), 'api-key-secret');
    expect(() => codec.decode(otherPurpose)).toThrow(TemplateIntegrityError);
    const stranger = MasterKeyring.openFile(path.join(tmp('faceproof-keys-'), 'master.json'));
    const foreign = TemplateCodec.withKeys(stranger, { seal: true }).encode(randomVector());
    let err: unknown;
    try { codec.decode(foreign, 'face f2'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(TemplateIntegrityError);
    expect((err as Error).message).toMatch(/face f2 is sealed under master key \d+, which this server does not hold/);
  });

  it('re-seals raw and old-key rows in batches, can be interrupted, and does nothing the second time', async () => {
    const file = path.join(tmp('faceproof-keys-'), 'master.json');
    const keys = MasterKeyring.openFile(file);
    const db = openDatabase(':memory:');
    const plainRepo = new SqliteCollectionRepository(db);
    const c = await plainRepo.create({ tenantId: 'default', name: 'c', kind: 'gallery', description: null, metadata: {}, model: { modelId: 'm', version: 1, dimension: 16 }, createdAt: '' });
    const vectors = Array.from({ length: 2500 }, () => randomVector(16));
    await plainRepo.addFaces('default', c.id, vectors.map((vector, i) => ({ id: `f${i}`, externalId: null, metadata: {}, imageId: null, box: null, vector, createdAt: '' })));
    const columns = TEMPLATE_COLUMNS.filter((t) => t.table === 'faces');
    const all = { sealRaw: () => true, batch: 1000 };
    expect(sealingStatus(db, columns)[0]).toMatchObject({ rows: 2500, raw: 2500, sealed: {} });

    const first = resealColumns(db, keys, columns, all)[0];
    expect(first).toMatchObject({ rows: 2500, sealed: 2500, resealed: 0, current: 0, unreadable: [] });
    const old = keys.activeKeyId;
    expect(sealingStatus(db, columns)[0]).toMatchObject({ raw: 0, sealed: { [old]: 2500 } });

    // Rotation interrupted after the first batch: the committed batch is under the new key, the rest under the old one.
    const fresh = keys.rotate();
    let budget = 1500;
    const failing = Object.assign(Object.create(keys) as MasterKeyring, {
      seal: (plain: Uint8Array, purpose: string) => { if (--budget < 0) throw new Error('interrupted'); return keys.seal(plain, purpose); },
    });
    expect(() => resealColumns(db, failing, columns, all)).toThrow('interrupted');
    expect(sealingStatus(db, columns)[0].sealed).toEqual({ [fresh]: 1000, [old]: 1500 });
    const resumed = resealColumns(db, keys, columns, all)[0];
    expect(resumed).toMatchObject({ rows: 2500, current: 1000, resealed: 1500, sealed: 0 });
    expect(resealColumns(db, keys, columns, all)[0]).toMatchObject({ rows: 2500, current: 2500, resealed: 0, sealed: 0 });
    keys.retireOldKeys();

    const repo = new SqliteCollectionRepository(db, TemplateCodec.withKeys(keys, { seal: true }));
    const back = await repo.vectorsAfter(c.id, 0, 10_000);
    expect(back).toHaveLength(2500);
    back.forEach((b, i) => expect(b.vector).toEqual(vectors[i]));

    // A damaged row is reported, never rewritten, and the rest goes on.
    flipByte(db, 'faces', 'id = ?', 'f7');
    const damaged = db.prepare("SELECT template FROM faces WHERE id = 'f7'").pluck().get() as Buffer;
    keys.rotate();
    const withDamage = resealColumns(db, keys, columns, all)[0];
    expect(withDamage).toMatchObject({ resealed: 2499, unreadable: [8] });
    expect(db.prepare("SELECT template FROM faces WHERE id = 'f7'").pluck().get()).toEqual(damaged);
    // With sealing off, raw rows stay raw but sealed ones still move to the active key.
    db.prepare("UPDATE faces SET template = ? WHERE id = 'f8'").run(Buffer.from(vectors[8].buffer));
    keys.rotate();
    expect(resealColumns(db, keys, columns, { sealRaw: () => false })[0]).toMatchObject({ leftRaw: 1, resealed: 2498, unreadable: [8] });
    db.close();
  });
});

describe('API key secrets are re-sealed with the templates', () => {
  it('finds the api_keys table and moves its sealed secrets to the active key, purpose kept', () => {
    const keys = MasterKeyring.openFile(path.join(tmp('faceproof-keys-'), 'master.json'));
    const db = openDatabase(':memory:');
    expect(sealedColumns(db).map((c) => `${c.table}.${c.column}`)).toEqual(['faces.template', 'user_faces.template', 'session_faces.template', 'api_keys.secret_sealed', 'request_records.sealed']);
    db.prepare("INSERT INTO clients (id, tenant_id, name, status, created_at, updated_at) VALUES ('c1', 'default', 'c', 'active', '', '')").run();
    const insertKey = db.prepare("INSERT INTO api_keys (id, client_id, scopes, secret_sha256, secret_sealed, created_at) VALUES (?, 'c1', '[]', '', ?, '')");
    insertKey.run('k1', keys.seal(Buffer.from('secret-one'), 'api-key-secret'));
    insertKey.run('k2', null);
    keys.rotate();
    const [apiKeys] = resealColumns(db, keys, sealedColumns(db).filter((c) => c.table === 'api_keys'), { sealRaw: () => true });
    expect(apiKeys).toMatchObject({ rows: 1, resealed: 1, unreadable: [] });
    const sealed = db.prepare("SELECT secret_sealed FROM api_keys WHERE id = 'k1'").pluck().get() as Buffer;
    expect(keys.keyIdOf(sealed)).toBe(keys.activeKeyId);
    expect(keys.open(sealed, 'api-key-secret').toString()).toBe('secret-one');
    db.close();
  });
});

describe.skipIf(SQLITE_ONLY)('templates at rest, through the API (real models and database)', () => {
  let dataDir: string;
  let app: FastifyInstance;
  let services: Services;
  let config: Config;
  let personA: Buffer;
  let personAElsewhere: Buffer;
  let personB: Buffer;
  let sessionId: string;
  const post = (url: string, payload: object = {}) => app.inject({ method: 'POST', url, payload });
  const blobs = (table: string) => services.db!.prepare(`SELECT template FROM ${table}`).pluck().all() as Buffer[];
  let running = false;
  const stop = async () => { if (running) await app.close(); running = false; };
  const reopen = async (env: Record<string, string> = {}) => {
    await stop();
    ({ app, services, config } = await createTestApp({ FACEPROOF_DATA_DIR: dataDir, ...env }));
    running = true;
  };
  const templateOf = async (image: Buffer) => decodeTemplate(Buffer.from(
    (await post('/v1/detect', { image: { base64: b64(image) }, return_templates: true })).json().faces[0].template, 'base64'), 't').vector;

  beforeAll(async () => {
    dataDir = tmp('faceproof-encryption-');
    personA = await selfieCrop(3, 830, 100);
    personAElsewhere = await selfieCrop(1, 1250, 0);
    personB = await selfieCrop(3, 370, 200);
  });
  afterAll(stop);

  it('with FACEPROOF_ENCRYPT_TEMPLATES=false, writes raw little-endian templates', async () => {
    await reopen({ FACEPROOF_ENCRYPT_TEMPLATES: 'false' });
    expect((await post('/v1/collections', { name: 'people' })).statusCode).toBe(201);
    expect((await post('/v1/collections/people/faces', { image: { base64: b64(personA) }, external_id: 'a-raw' })).statusCode).toBe(201);
    expect((await post('/v1/users', { user_id: 'alice', faces: [{ image: { base64: b64(personA) } }] })).statusCode).toBe(201);
    sessionId = (await post('/v1/sessions', { ttl_seconds: 3600 })).json().session_id;
    expect((await post(`/v1/sessions/${sessionId}/faces`, { image: { base64: b64(personA) } })).statusCode).toBe(201);
    const template = await templateOf(personA);
    for (const table of TABLES) {
      const [blob] = blobs(table);
      expect(blob.length).toBe(DIM * 4);
      expect(cosineSimilarity(asRawFloats(blob), template)).toBeCloseTo(1, 5);
    }
  });

  it('with encryption on (the default) reads those raw rows and seals every template it writes', async () => {
    await reopen();
    expect(config.encryptTemplates).toBe(true);
    // The raw rows still serve search, authentication and sessions.
    const found = (await post('/v1/collections/people/search', { image: { base64: b64(personAElsewhere) } })).json();
    expect(found.results[0][0]).toMatchObject({ external_id: 'a-raw' });
    expect((await post('/v1/users/alice/authenticate', { image: { base64: b64(personAElsewhere) } })).json().decision).toBe('match');

    expect((await post('/v1/collections/people/faces', { image: { base64: b64(personB) }, external_id: 'b' })).statusCode).toBe(201);
    expect((await post('/v1/users/alice/faces', { faces: [{ image: { base64: b64(personAElsewhere) } }] })).statusCode).toBe(201);
    expect((await post('/v1/users', { user_id: 'bob', faces: [{ image: { base64: b64(personB) } }] })).statusCode).toBe(201);
    expect((await post(`/v1/sessions/${sessionId}/faces`, { image: { base64: b64(personB) } })).statusCode).toBe(201);

    const templateB = await templateOf(personB);
    const keyring = openMasterKeyring(config);
    for (const table of TABLES) {
      const sealed = blobs(table).filter((b) => b.length % 4 !== 0);
      expect(sealed.length, table).toBeGreaterThanOrEqual(1);
      for (const blob of sealed) {
        expect(blob.length).toBe(DIM * 4 + SEAL_OVERHEAD);
        expect(keyring.keyIdOf(blob)).toBe(keyring.activeKeyId);
        // Read as raw floats, a sealed template is noise: nothing like any face's template.
        const guess = asRawFloats(blob);
        expect(guess).not.toEqual(templateB);
        expect(Math.abs(cosineSimilarity(guess.map((x) => (Number.isFinite(x) ? x : 0)), templateB))).toBeLessThan(0.3);
      }
    }
    // …and opened with the key it is the template the API returns.
    const bobBlob = services.db!.prepare("SELECT template FROM user_faces WHERE user_id = 'bob'").pluck().get() as Buffer;
    expect(cosineSimilarity(templateCodec(config, keyring).decode(bobBlob), templateB)).toBeCloseTo(1, 5);
    const ranked = (await post('/v1/collections/people/search', { image: { base64: b64(personB) } })).json();
    expect(ranked.results[0][0]).toMatchObject({ external_id: 'b' });
    expect((await post('/v1/users/bob/authenticate', { image: { base64: b64(personB) } })).json().decision).toBe('match');
    const matches = (await post(`/v1/sessions/${sessionId}/match`, { image: { base64: b64(personB) } })).json().matches;
    expect(matches).toHaveLength(2);
    await stop();
  });

  it('`faceproof encryption status` counts raw and sealed rows; `reseal` seals the raw ones, and a second run does nothing', () => {
    const before = runCli(['encryption', 'status'], dataDir);
    expect(before.code).toBe(0);
    const active = String((before.out.keys as { active: number }).active);
    const byTable = (out: Record<string, unknown>) => Object.fromEntries((out.tables as Array<{ table: string }>).map((t) => [t.table, t]));
    expect(byTable(before.out)).toMatchObject({
      faces: { rows: 2, raw: 1, sealed_by_key: { [active]: 1 } },
      user_faces: { rows: 3, raw: 1, sealed_by_key: { [active]: 2 } },
      session_faces: { rows: 2, raw: 1, sealed_by_key: { [active]: 1 } },
    });
    const resealed = runCli(['encryption', 'reseal'], dataDir);
    expect(resealed.code).toBe(0);
    expect(byTable(resealed.out)).toMatchObject({
      faces: { sealed_from_raw: 1, already_current: 1, resealed: 0, unreadable: 0 },
      user_faces: { sealed_from_raw: 1, already_current: 2 },
      session_faces: { sealed_from_raw: 1, already_current: 1 },
    });
    const after = byTable(runCli(['encryption', 'status'], dataDir).out);
    expect(after).toMatchObject({ faces: { raw: 0, sealed_by_key: { [active]: 2 } }, user_faces: { raw: 0, sealed_by_key: { [active]: 3 } } });
    const again = runCli(['encryption', 'reseal'], dataDir);
    expect(byTable(again.out)).toMatchObject({ faces: { sealed_from_raw: 0, resealed: 0, already_current: 2 }, user_faces: { already_current: 3 } });
  });

  it('`faceproof encryption rotate` re-seals everything under a new key and retires the old one; search still finds the face', async () => {
    const keyFile = loadConfig({ FACEPROOF_DATA_DIR: dataDir }).masterKey.file;
    const oldKey = (JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { keys: Array<{ id: number }> }).keys[0].id;
    const rotated = runCli(['encryption', 'rotate'], dataDir);
    expect(rotated.code).toBe(0);
    expect(rotated.out).toMatchObject({ rotated: true, previous_key: oldKey, retired_keys: 1 });
    const fresh = rotated.out.active_key as number;
    expect(fresh).not.toBe(oldKey);
    const stored = JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { keys: Array<{ id: number }> };
    expect(stored.keys.map((k) => k.id)).toEqual([fresh]);
    const status = runCli(['encryption', 'status'], dataDir).out.tables as Array<{ table: string; raw: number; sealed_by_key: Record<string, number> }>;
    for (const t of status.filter((s) => (TABLES as readonly string[]).includes(s.table))) {
      expect(t.raw).toBe(0);
      expect(Object.keys(t.sealed_by_key)).toEqual([String(fresh)]);
    }

    await reopen();
    const found = (await post('/v1/collections/people/search', { image: { base64: b64(personAElsewhere) } })).json();
    expect(found.results[0][0]).toMatchObject({ external_id: 'a-raw' });
    expect((await post('/v1/users/alice/authenticate', { image: { base64: b64(personAElsewhere) } })).json()).toMatchObject({ decision: 'match', compared_faces: 2 });
    expect((await post(`/v1/sessions/${sessionId}/match`, { image: { base64: b64(personA) } })).json().matches[0].similarity).toBeGreaterThan(0.9);
  });

  it('with FACEPROOF_MASTER_KEY, `rotate` explains the steps instead of rotating', () => {
    const r = runCli(['encryption', 'rotate'], tmp('faceproof-envkey-'), { FACEPROOF_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') });
    expect(r.code).toBe(1);
    expect(r.out).toMatchObject({ rotated: false });
    expect((r.out.steps as string[]).join(' ')).toMatch(/first in FACEPROOF_MASTER_KEY.*encryption reseal/);
  });

  it('a template altered on disk is never used: search leaves the face out (and warns), authentication fails naming the face', async () => {
    const warnings: string[] = [];
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation(((w: string | Error) => { warnings.push(String(w)); }) as typeof process.emitWarning);
    try {
      const faceA = services.db!.prepare("SELECT id FROM faces WHERE external_id = 'a-raw'").pluck().get() as string;
      flipByte(services.db!, 'faces', 'id = ?', faceA);
      // The index still proposes the face; its stored template no longer opens, so it is not scored.
      const search = await post('/v1/collections/people/search', { image: { base64: b64(personAElsewhere) }, max_far: 1 });
      expect(search.statusCode).toBe(200);
      const hits = search.json().results[0] as Array<{ face_id: string; external_id: string }>;
      expect(hits.map((h) => h.face_id)).not.toContain(faceA);
      expect(hits.map((h) => h.external_id)).toContain('b');
      expect(warnings.join('\n')).toMatch(new RegExp(`${faceA}.*failed its integrity check.*left out of the search`));
      // Rebuilding an index from the rows stops at it, naming the face.
      const rows = new SqliteCollectionRepository(services.db!, templateCodec(config));
      const collectionId = (await rows.get('default', 'people'))!.id;
      await expect(rows.vectorsAfter(collectionId, 0, 100)).rejects.toThrow(new RegExp(`face ${faceA}.*delete that face`));
      try { await rows.vectorsAfter(collectionId, 0, 100); } catch (e) { expect((e as FaceproofError).code).toBe('internal_error'); }
      // Deleting the face named does not read templates; the rebuild then goes through.
      expect((await app.inject({ method: 'DELETE', url: `/v1/collections/people/faces/${faceA}` })).statusCode).toBe(204);
      expect(await rows.vectorsAfter(collectionId, 0, 100)).toHaveLength(1);

      // One of alice's two templates altered: 1:1 authentication refuses to answer rather than compare with the other alone.
      const [damaged, intact] = services.db!.prepare("SELECT id FROM user_faces WHERE user_id = 'alice' ORDER BY created_at, id").pluck().all() as string[];
      flipByte(services.db!, 'user_faces', 'id = ?', damaged, 5);
      const auth = await post('/v1/users/alice/authenticate', { image: { base64: b64(personAElsewhere) } });
      expect(auth.statusCode).toBe(500);
      expect(auth.json().error).toMatchObject({ code: 'internal_error' });
      expect(auth.json().error.message).toMatch(new RegExp(`face ${damaged} of user "alice" failed its integrity check`));
      // The face named can be deleted (that does not read templates), and authentication works again.
      expect((await app.inject({ method: 'DELETE', url: `/v1/users/alice/faces/${damaged}` })).statusCode).toBe(204);
      expect((await post('/v1/users/alice/authenticate', { image: { base64: b64(personAElsewhere) } })).json()).toMatchObject({ decision: 'match', best_face_id: intact, compared_faces: 1 });

      // A session face altered: matching in the session fails the same way.
      const sessionFace = services.db!.prepare('SELECT id FROM session_faces WHERE session_id = ? ORDER BY created_at, id').pluck().get(sessionId) as string;
      flipByte(services.db!, 'session_faces', 'id = ?', sessionFace, 100);
      const match = await post(`/v1/sessions/${sessionId}/match`, { image: { base64: b64(personA) } });
      expect(match.statusCode).toBe(500);
      expect(match.json().error.message).toMatch(new RegExp(`face ${sessionFace} of session ${sessionId} failed its integrity check`));

      // Re-sealing reports the damaged value, leaves it as it is, and exits 1.
      await stop();
      const reseal = runCli(['encryption', 'reseal'], dataDir);
      expect(reseal.code).toBe(1);
      const tables = reseal.out.tables as Array<{ table: string; unreadable: number }>;
      expect(tables.find((t) => t.table === 'session_faces')!.unreadable).toBe(1);
      expect(tables.find((t) => t.table === 'faces')!.unreadable).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });
});
