import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTestApp } from './helpers/app.ts';
import { runCli } from './helpers/cli.ts';
import { b64, blankImage, selfieCrop } from './helpers/images.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-cli-index-'));
const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-cli-folder-'));
let app: FastifyInstance | undefined;

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
});
afterAll(async () => { await app?.close(); });

describe('faceproof index DIR --collection NAME', () => {
  it('bulk-indexes a folder and reports what it did, naming the images without a face', () => {
    const { code, out } = runCli(['index', folder, '--collection', 'staff'], dataDir);
    expect(code).toBe(0);
    expect(out).toMatchObject({ collection: 'staff', created: true, images: 4, indexed_faces: 3, identities: 4, no_face: ['empty/wall.png'], failed: [] });
  }, 120_000);

  it('refuses a path that is not a folder', () => {
    const { code, out } = runCli(['index', path.join(folder, 'dave.jpg'), '--collection', 'staff'], dataDir);
    expect(code).not.toBe(0);
    expect(out).toMatchObject({ error: { code: 'invalid_parameter' } });
  }, 120_000);

  it('leaves a collection the server then searches by the identities the folder named', async () => {
    ({ app } = await createTestApp({ FACEPROOF_DATA_DIR: dataDir }));
    const described = (await app.inject({ method: 'GET', url: '/v1/collections/staff' })).json();
    expect(described).toMatchObject({ name: 'staff', face_count: 3 });
    // alice from another photograph than the one indexed
    const res = await app.inject({ method: 'POST', url: '/v1/collections/staff/search', payload: { image: { base64: b64(await selfieCrop(1, 1250, 0)) } } });
    expect(res.statusCode, res.body).toBe(200);
    const [hits] = res.json().results;
    expect(hits.map((h: { external_id: string }) => h.external_id)).toEqual(['alice']);
    expect(hits[0].metadata).toEqual({ file: 'alice/portrait.jpg' });
  }, 120_000);
});
