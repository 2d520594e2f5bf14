import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Calibrator } from '../src/core/calibration.ts';
import { CollectionService } from '../src/core/collections.ts';
import type { FaceService } from '../src/core/face-service.ts';
import { UserService } from '../src/core/users.ts';
import { openDatabase, type Db } from '../src/store/sqlite/database.ts';
import { SqliteCollectionRepository } from '../src/store/sqlite/collection-repository.ts';
import { SqliteUserRepository } from '../src/store/sqlite/user-repository.ts';
import { UsearchIndexProvider } from '../src/store/vector/usearch-indexes.ts';

/**
 * A write that takes two steps must leave, whatever stops it between them (kill -9, a failed
 * statement), either both or a state the next start repairs: never half of it for good.
 */
const MODEL = { modelId: 'test-model', version: 1, dimension: 4 };
let seed = 1;
const nextVector = () => Float32Array.from({ length: 4 }, () => { seed = (seed * 48271) % 2147483647; return seed / 2147483647 - 0.5; });
// Template inputs only: no engine, the "template" text is ignored and a fresh vector comes back.
const faces = {
  templateModel: MODEL,
  facesOf: async () => [{ vector: nextVector() }],
  parseTemplate: () => ({ ...MODEL, vector: nextVector() }),
} as unknown as FaceService;
const template = { input: { kind: 'template' as const, template: 'x' }, imageType: 'SELFIE' as const };

let dirs: string[] = [];
afterEach(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); dirs = []; });
function database(): { db: Db; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-atomic-'));
  dirs.push(dir);
  return { db: openDatabase(path.join(dir, 'faceproof.db')), dir };
}
const failHistory = (db: Db) => db.exec("CREATE TEMP TRIGGER fail_history BEFORE INSERT ON user_events BEGIN SELECT RAISE(ABORT, 'history not written'); END");
const count = (db: Db, sql: string) => db.prepare(sql).pluck().get() as number;

describe('a user change and its history event are one write', () => {
  it('register, add faces, remove a face and deactivate either happen with their event or not at all', async () => {
    const { db } = database();
    const users = new UserService(new SqliteUserRepository(db), faces, {} as Calibrator);

    failHistory(db);
    await expect(users.register('default', 'alice', [template, template], {}, 'r1')).rejects.toThrow('history not written');
    expect(count(db, 'SELECT COUNT(*) FROM users')).toBe(0);
    expect(count(db, 'SELECT COUNT(*) FROM user_faces')).toBe(0);
    db.exec('DROP TRIGGER fail_history');
    await users.register('default', 'alice', [template, template], {}, 'r2');

    failHistory(db);
    await expect(users.addFaces('default', 'alice', [template], 'r3')).rejects.toThrow('history not written');
    const faceIds = (await users.get('default', 'alice')).faces.map((f) => f.id);
    expect(faceIds).toHaveLength(2);
    await expect(users.removeFace('default', 'alice', faceIds[0], 'r4')).rejects.toThrow('history not written');
    await expect(users.setActive('default', 'alice', false, 'r5')).rejects.toThrow('history not written');
    db.exec('DROP TRIGGER fail_history');
    const alice = await users.get('default', 'alice');
    expect([alice.status, alice.faces.length]).toEqual(['active', 2]);
    expect((await users.history('default', 'alice', { limit: 10 })).map((e) => e.action)).toEqual(['register']);

    // A re-registration replaces every face and the metadata with its event, or changes nothing:
    // stopped while the old faces are erased, it must not leave the new ones beside them.
    db.exec("CREATE TEMP TRIGGER fail_erase BEFORE DELETE ON user_faces BEGIN SELECT RAISE(ABORT, 'faces not erased'); END");
    await expect(users.reregister('default', 'alice', [template], { v: 2 }, 'r6')).rejects.toThrow('faces not erased');
    db.exec('DROP TRIGGER fail_erase');
    expect((await users.get('default', 'alice')).faces.map((f) => f.id)).toEqual(faceIds);
    expect((await users.history('default', 'alice', { limit: 10 })).map((e) => e.action)).toEqual(['register']);
    await users.reregister('default', 'alice', [template], { v: 2 }, 'r7');
    const again = await users.get('default', 'alice');
    expect(again.faces).toHaveLength(1);
    expect(again.faces[0].id).not.toBe(faceIds[0]);
    db.close();
  });
});

describe('deleting a collection', () => {
  async function setup() {
    const { db, dir } = database();
    const repository = new SqliteCollectionRepository(db);
    const options = { dir: path.join(dir, 'indexes'), quantization: 'f32' as const, connectivity: 16, expansionAdd: 64, expansionSearch: 64, snapshotEvery: 1 };
    const provider = new UsearchIndexProvider(repository, options);
    const service = (p: UsearchIndexProvider) => new CollectionService(repository, p, faces, {} as Calibrator, { fpir: 0.01, candidates: 10, maxResults: 10 });
    const collections = service(provider);
    await collections.create('default', { name: 'gallery', kind: 'gallery' });
    await collections.indexTemplates('default', 'gallery', [{ template: 'x' }, { template: 'x' }, { template: 'x' }]);
    await provider.close(); // snapshots the index
    const id = (await repository.get('default', 'gallery'))!.id;
    const files = () => fs.readdirSync(options.dir).filter((f) => f.startsWith(`c${id}.`));
    expect(files()).toHaveLength(1);
    return { db, repository, options, provider: new UsearchIndexProvider(repository, options), service, files };
  }

  it('never leaves index files (the faces\' projections) without their collection when stopped half-way', async () => {
    const { db, repository, provider, service, files } = await setup();
    // Stopped after the first step, here a failing second one: the files must not outlive the rows.
    const dropFails = Object.assign(Object.create(provider) as UsearchIndexProvider, { drop() { throw new Error('killed'); } });
    await expect(service(dropFails).delete('default', 'gallery')).rejects.toThrow('killed');
    expect(files().length === 0 || repository.get('default', 'gallery') !== undefined).toBe(true);
    db.close();
  });

  it('a collection whose files went but whose rows stayed gets its index back from the rows', async () => {
    const { db, repository, options, provider, service, files } = await setup();
    db.exec("CREATE TEMP TRIGGER keep_collections BEFORE DELETE ON collections BEGIN SELECT RAISE(ABORT, 'killed'); END");
    await expect(service(provider).delete('default', 'gallery')).rejects.toThrow('killed');
    db.exec('DROP TRIGGER keep_collections');
    expect(files()).toEqual([]);
    const record = (await repository.get('default', 'gallery'))!;
    expect((await new UsearchIndexProvider(repository, options).open(record)).size).toBe(3);
    db.close();
  });
});
