import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { BLOB_GRACE_MS, ImageStore, blobKey } from '../src/core/image-store.ts';
import type { BlobStore } from '../src/core/ports.ts';
import { openDatabase } from '../src/store/sqlite/database.ts';
import { SqliteImageRepository } from '../src/store/sqlite/image-repository.ts';
import { FolderBlobStore } from '../src/store/blob/folder-blob-store.ts';
import { FileStore } from '../src/core/file-store.ts';
import { SqliteFileRepository } from '../src/store/sqlite/file-repository.ts';

/**
 * A stored image's bytes are written before its row, and erased after it. kill -9 in between (seen
 * by `npm run bench:crash`) left a file that no row names: never served, but never erased either,
 * and a retried DELETE answers 404 while the photo stays on disk. The bytes are now marked pending
 * until their row settles them, and the retention sweeper erases what a crash left.
 */
const limits = { maxBytes: 15 << 20, maxPixels: 5e7, minSide: 32, maxWorkingSide: 2048 };
const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 120, b: 40 } } }).png().toBuffer();

function folder() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-leftovers-'));
  const db = openDatabase(path.join(root, 'faceproof.db'));
  const blobs = new FolderBlobStore(path.join(root, 'blobs'));
  const clock = { now: new Date() };
  const open = (store: BlobStore = blobs) => new ImageStore(new SqliteImageRepository(db), store, limits, () => clock.now);
  const files = () => fs.readdirSync(path.join(root, 'blobs'), { recursive: true }).map(String).filter((f) => fs.statSync(path.join(root, 'blobs', f)).isFile()).sort();
  const marks = () => db.prepare('SELECT key FROM pending_blobs ORDER BY key').pluck().all() as string[];
  return { root, db, blobs, clock, open, files, marks };
}

describe('bytes a crash leaves without their image row', () => {
  it('a store that died after writing the bytes: erased by the sweeper once the grace period is over, other images untouched', async () => {
    const f = folder();
    const kept = await f.open().store('default', { kind: 'bytes', data: photo }, {});
    expect(f.marks()).toEqual([]);
    // The process "dies" between the file and its row.
    const dying: BlobStore = { ...f.blobs, get: (k) => f.blobs.get(k), delete: (k) => f.blobs.delete(k), put: async (k, b) => { await f.blobs.put(k, b); throw new Error('killed'); } };
    await expect(f.open(dying).store('default', { kind: 'bytes', data: photo }, {})).rejects.toThrow('killed');
    expect(f.files()).toHaveLength(2);
    const [orphan] = f.marks();
    expect(orphan).toMatch(/^default\/images\/img_/);

    const restarted = f.open();
    // Within the grace period the row may still come (a store in progress in another process).
    expect(await restarted.sweepExpired()).toBe(0);
    expect(f.files()).toHaveLength(2);
    f.clock.now = new Date(f.clock.now.getTime() + BLOB_GRACE_MS + 1000);
    expect(await restarted.sweepExpired()).toBe(0); // no image expired; the orphan is not an image
    expect(f.files()).toEqual([path.join('default', 'images', kept.id)]);
    expect(f.marks()).toEqual([]);
    expect((await restarted.read('default', kept.id)).bytes.equals(photo)).toBe(true);
    f.db.close();
  });

  it('an erasure that died after deleting the row: the bytes are erased at the next sweep', async () => {
    const f = folder();
    const images = f.open();
    const image = await images.store('default', { kind: 'bytes', data: photo }, {});
    // The row's transaction committed (with its mark), then the process died before the file went.
    const key = blobKey('default', image.id);
    expect(await new SqliteImageRepository(f.db).delete('default', image.id, { key, due: f.clock.now.toISOString() })).toBe(true);
    expect(f.files()).toHaveLength(1);
    await expect(images.delete('default', image.id)).rejects.toThrow(/no image/); // the client's retry
    await f.open().sweepExpired();
    expect(f.files()).toEqual([]);
    expect(f.marks()).toEqual([]);
    f.db.close();
  });

  it('a mark whose row did come keeps the bytes', async () => {
    const f = folder();
    const image = await f.open().store('default', { kind: 'bytes', data: photo }, {});
    await new SqliteImageRepository(f.db).markPendingBlob(blobKey('default', image.id), f.clock.now.toISOString());
    await f.open().sweepExpired();
    expect(f.marks()).toEqual([]);
    expect((await f.open().read('default', image.id)).bytes.equals(photo)).toBe(true);
    f.db.close();
  });

  it('interrupted writes of the blob folder are removed once older than the grace period, and a finished write leaves none', async () => {
    const f = folder();
    await f.open().store('default', { kind: 'bytes', data: photo }, {});
    const partial = path.join(f.root, 'blobs', '.partial');
    expect(fs.readdirSync(partial)).toEqual([]);
    fs.writeFileSync(path.join(partial, 'old'), photo);
    const old = new Date(Date.now() - 2 * BLOB_GRACE_MS);
    fs.utimesSync(path.join(partial, 'old'), old, old);
    fs.writeFileSync(path.join(partial, 'recent'), photo);
    await f.open().sweepExpired();
    expect(fs.readdirSync(partial)).toEqual(['recent']);
    f.db.close();
  });
});

describe('bytes a crash leaves without their stored file row', () => {
  const clip = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypmp42'), Buffer.alloc(64, 7)]);
  const openFiles = (f: ReturnType<typeof folder>, store: BlobStore = f.blobs) => new FileStore(new SqliteFileRepository(f.db), store, { ...limits, maxFrames: 10 }, () => f.clock.now);

  it('a store that died after writing the bytes: erased once the grace period is over; images\' marks and other files untouched', async () => {
    const f = folder();
    const kept = await openFiles(f).storeMedia('default', clip, 'video');
    const frames = await openFiles(f).storeFrames('default', [{ source: { kind: 'bytes', data: photo } }, { source: { kind: 'bytes', data: photo } }]);
    const dying: BlobStore = { ...f.blobs, get: (k) => f.blobs.get(k), delete: (k) => f.blobs.delete(k), put: async (k, b) => { await f.blobs.put(k, b); throw new Error('killed'); } };
    await expect(openFiles(f, dying).storeFrames('default', [{ source: { kind: 'bytes', data: photo } }])).rejects.toThrow('killed');
    await expect(f.open(dying).store('default', { kind: 'bytes', data: photo }, {})).rejects.toThrow('killed');
    expect(f.marks().filter((k) => k.includes('/files/'))).toHaveLength(1);
    expect(f.marks().filter((k) => k.includes('/images/'))).toHaveLength(1);

    f.clock.now = new Date(f.clock.now.getTime() + BLOB_GRACE_MS + 1000);
    expect(await openFiles(f).sweepPendingBytes()).toBe(1);
    // The image sweeper's mark is its own: the file sweeper left it.
    expect(f.marks()).toEqual(f.marks().filter((k) => k.includes('/images/')));
    expect(f.marks()).toHaveLength(1);
    expect((await openFiles(f).readMedia('default', kept.id)).bytes.equals(clip)).toBe(true);
    expect((await openFiles(f).readFrame('default', frames.id, 1)).bytes.equals(photo)).toBe(true);
    expect(f.files().filter((x) => x.includes('files'))).toHaveLength(3);
    f.db.close();
  });

  it('an erasure that died after deleting the row: the bytes are erased at the next sweep', async () => {
    const f = folder();
    const stored = await openFiles(f).storeFrames('default', [{ source: { kind: 'bytes', data: photo } }, { source: { kind: 'bytes', data: photo } }]);
    const keys = [0, 1].map((i) => `default/files/${stored.id}/frames/${i}`);
    expect(await new SqliteFileRepository(f.db).delete('default', stored.id, { keys, due: f.clock.now.toISOString() })).toBe(true);
    expect(f.files()).toHaveLength(2);
    expect(await openFiles(f).delete('default', [stored.id])).toEqual({ deleted: [], notFound: [stored.id] });
    expect(await openFiles(f).sweepPendingBytes()).toBe(2);
    expect(f.files()).toEqual([]);
    expect(f.marks()).toEqual([]);
    f.db.close();
  });
});
