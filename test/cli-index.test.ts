import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTestApp, TEST_BOOTSTRAP_KEY, SQLITE_ONLY } from './helpers/app.ts';
import { runCli } from './helpers/cli.ts';
import { b64, blankImage, selfieCrop } from './helpers/images.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-cli-index-'));
const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-cli-folder-'));
let server: FastifyInstance;
// the CLI runs with the server's configuration, as an operator would run it
const cliEnv = { FACEPROOF_BOOTSTRAP_KEY: TEST_BOOTSTRAP_KEY };
let aliceElsewhere: Buffer; // alice in another photograph than the one the folder holds

beforeAll(async () => {
  // One identity per sub-folder, or the file name for an image directly in the folder.
  const write = async (file: string, image: Promise<Buffer>) => {
    fs.mkdirSync(path.dirname(path.join(folder, file)), { recursive: true });
    fs.writeFileSync(path.join(folder, file), await image);
  };
  await write('alice/portrait.jpg', selfieCrop(3, 830, 100));
  await write('bob/portrait.jpg', selfieCrop(3, 370, 200));
  await write('dave.jpg', selfieCrop(1, 50, 100));
  await write('empty/wall.png', blankImage(640, 480));
  fs.writeFileSync(path.join(folder, 'notes.txt'), 'not an image');
  aliceElsewhere = await selfieCrop(1, 1250, 0);
  // a server on the same data folder, running all along
  ({ app: server } = await createTestApp({ FACEPROOF_DATA_DIR: dataDir }));
});
afterAll(async () => { await server.close(); });

const search = async (app: FastifyInstance) => {
  const res = await app.inject({ method: 'POST', url: '/v1/collections/staff/search', payload: { image: { base64: b64(aliceElsewhere) } } });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json();
  return { galleryFaces: body.threshold.gallery_faces as number, ids: (body.results[0] as Array<{ external_id: string }>).map((h) => h.external_id), hits: body.results[0] };
};

describe.skipIf(SQLITE_ONLY)('faceproof index DIR --collection NAME', () => {
  it('bulk-indexes a folder while the server runs and reports what it did, naming the images without a face', async () => {
    // the server creates the collection and opens its (empty) index before the CLI fills it
    expect((await server.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'staff' } })).statusCode).toBe(201);
    expect(await search(server)).toMatchObject({ galleryFaces: 0, ids: [] });
    const { code, out } = runCli(['index', folder, '--collection', 'staff'], dataDir, cliEnv);
    expect(code).toBe(0);
    expect(out).toMatchObject({ collection: 'staff', created: false, images: 4, indexed_faces: 3, identities: 4, no_face: ['empty/wall.png'], failed: [] });
  }, 120_000);

  it('refuses a path that is not a folder', () => {
    const { code, out } = runCli(['index', path.join(folder, 'dave.jpg'), '--collection', 'staff'], dataDir, cliEnv);
    expect(code).not.toBe(0);
    expect(out).toMatchObject({ error: { code: 'invalid_parameter' } });
  }, 120_000);

  it('the running server searches what the CLI indexed, by the identities the folder named, without a restart', async () => {
    const described = await server.inject({ method: 'GET', url: '/v1/collections/staff' });
    expect(described.json(), described.body).toMatchObject({ name: 'staff', face_count: 3 });
    const { galleryFaces, ids, hits } = await search(server);
    expect(galleryFaces).toBe(3);
    expect(ids).toEqual(['alice']);
    expect(hits[0].metadata).toEqual({ file: 'alice/portrait.jpg' });
  });

  it('takes in what another process indexes or removes after the server opened the collection', async () => {
    const { app: other } = await createTestApp({ FACEPROOF_DATA_DIR: dataDir });
    try {
      const added = await other.inject({ method: 'POST', url: '/v1/collections/staff/faces', payload: { image: { base64: b64(aliceElsewhere) }, external_id: 'alice-2' } });
      expect(added.statusCode, added.body).toBe(201);
      let seen = await search(server);
      expect(seen.galleryFaces).toBe(4);
      expect(seen.ids[0]).toBe('alice-2'); // the same photograph
      const removed = await other.inject({ method: 'POST', url: '/v1/collections/staff/faces/delete', payload: { external_ids: ['alice', 'alice-2'] } });
      expect(removed.json().deleted).toBe(2);
      seen = await search(server);
      expect(seen.galleryFaces).toBe(2);
      expect(seen.ids).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
