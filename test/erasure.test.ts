import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTestApp, SQLITE_ONLY } from './helpers/app.ts';
import { b64, selfieCrop } from './helpers/images.ts';
import type { Services } from '../src/bootstrap.ts';
import type { Config } from '../src/config.ts';

let app: FastifyInstance;
let services: Services;
let config: Config;
let photo: Buffer;
let other: Buffer;

beforeAll(async () => {
  ({ app, services, config } = await createTestApp());
  photo = await selfieCrop(3, 830, 100);
  other = await selfieCrop(3, 370, 200);
});
afterAll(async () => { await app.close(); });

const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload });
const count = (sql: string, ...params: unknown[]) => services.db!.prepare(sql).pluck().get(...params) as number;
const blobFiles = () => fs.readdirSync(path.join(config.dataDir, 'blobs'), { recursive: true }).filter((f) => fs.statSync(path.join(config.dataDir, 'blobs', String(f))).isFile());

describe.skipIf(SQLITE_ONLY)('right to erasure', () => {
  it('deleting a stored image deletes every template made from it: collection, user and session faces', async () => {
    const imageId = (await post('/v1/images', { image: { base64: b64(photo) } })).json().image_id;
    await post('/v1/collections', { name: 'gallery' });
    await post('/v1/collections/gallery/faces', { image: { image_id: imageId }, external_id: 'from-image' });
    await post('/v1/collections/gallery/faces', { image: { base64: b64(other) }, external_id: 'inline' });
    await post('/v1/users', { user_id: 'u1', faces: [{ image: { image_id: imageId } }, { image: { base64: b64(other) } }] });
    await post('/v1/users', { user_id: 'u2', faces: [{ image: { image_id: imageId } }] });
    const session = (await post('/v1/sessions', {})).json().session_id;
    await post(`/v1/sessions/${session}/faces`, { image: { image_id: imageId } });
    expect(count('SELECT COUNT(*) FROM faces WHERE image_id = ?', imageId)).toBe(1);
    expect(count('SELECT COUNT(*) FROM user_faces WHERE image_id = ?', imageId)).toBe(2);
    expect(count('SELECT COUNT(*) FROM session_faces WHERE image_id = ?', imageId)).toBe(1);
    expect(blobFiles()).toHaveLength(1);

    expect((await app.inject({ method: 'DELETE', url: `/v1/images/${imageId}` })).statusCode).toBe(204);

    for (const table of ['faces', 'user_faces', 'session_faces', 'images']) {
      expect(count(`SELECT COUNT(*) FROM ${table} WHERE ${table === 'images' ? 'id' : 'image_id'} = ?`, imageId)).toBe(0);
    }
    expect(blobFiles()).toHaveLength(0);
    // What did not come from the image stays; a user left with no face is unregistered.
    const gallery = (await app.inject({ method: 'GET', url: '/v1/collections/gallery' })).json();
    expect(gallery.face_count).toBe(1);
    const search = (await post('/v1/collections/gallery/search', { image: { base64: b64(photo) }, max_far: 1 })).json();
    expect(search.threshold.gallery_faces).toBe(1);
    expect(search.results[0].map((h: { external_id: string }) => h.external_id)).toEqual(['inline']);
    expect((await app.inject({ method: 'GET', url: '/v1/users/u1' })).json().faces).toHaveLength(1);
    expect((await app.inject({ method: 'GET', url: '/v1/users/u2' })).statusCode).toBe(404);
  });

  it('deleting a user or a collection leaves no template, history or blob behind', async () => {
    expect((await app.inject({ method: 'DELETE', url: '/v1/users/u1' })).statusCode).toBe(204);
    expect(count("SELECT COUNT(*) FROM user_faces WHERE user_id = 'u1'")).toBe(0);
    expect(count("SELECT COUNT(*) FROM user_events WHERE user_id = 'u1'")).toBe(0);
    expect((await app.inject({ method: 'DELETE', url: '/v1/collections/gallery' })).statusCode).toBe(204);
    expect(count('SELECT COUNT(*) FROM faces')).toBe(0);
    expect(count('SELECT COUNT(*) FROM collections')).toBe(0);
    expect(blobFiles()).toHaveLength(0);
    const indexDir = path.join(config.dataDir, 'indexes');
    expect(fs.existsSync(indexDir) ? fs.readdirSync(indexDir) : []).toEqual([]);
  });
});
