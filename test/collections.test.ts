import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTestApp, SQLITE_ONLY } from './helpers/app.ts';
import { b64, blankImage, samplePhoto, selfieCrop } from './helpers/images.ts';
import type { Services } from '../src/bootstrap.ts';
import type { Config } from '../src/config.ts';

let app: FastifyInstance;
let services: Services;
let config: Config;
let personA: Buffer; // the woman at x≈1077 in sample 3
let personAElsewhere: Buffer; // the same woman in sample 1
let personB: Buffer;

beforeAll(async () => {
  ({ app, services, config } = await createTestApp({ FACEPROOF_INDEX_SNAPSHOT_EVERY: '1' }));
  personA = await selfieCrop(3, 830, 100);
  personAElsewhere = await selfieCrop(1, 1250, 0);
  personB = await selfieCrop(3, 370, 200);
});
afterAll(async () => { await app.close(); });

const post = (url: string, payload: object, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, payload, headers });

describe('collections and 1:N search', () => {
  it('creates, lists, describes and refuses a duplicate name', async () => {
    const res = await post('/v1/collections', { name: 'customers', description: 'onboarded customers' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ name: 'customers', kind: 'gallery', face_count: 0, template: { model_id: 'fused-fr512-resnet128', dimension: 640 } });
    const dup = await post('/v1/collections', { name: 'customers' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('already_exists');
    expect((await post('/v1/collections', { name: 'bad name!' })).statusCode).toBe(400);
    const list = (await app.inject({ method: 'GET', url: '/v1/collections' })).json();
    expect(list.collections.map((c: { name: string }) => c.name)).toContain('customers');
  });

  it('indexes every face of group photos and finds the same woman from another photograph, best first', async () => {
    for (const n of [2, 3, 4] as const) {
      const res = await post('/v1/collections/customers/faces', { image: { base64: b64(samplePhoto(n)) }, all_faces: true, external_id: `photo-${n}`, metadata: { photo: n, vip: n === 3 } });
      expect(res.statusCode).toBe(201);
      const faces = res.json().faces;
      expect(faces.length).toBeGreaterThanOrEqual(3);
      for (const f of faces) expect(f.face_id).toMatch(/^face_/);
      expect(faces[0].box.width).toBeGreaterThan(50);
    }
    const res = await post('/v1/collections/customers/search', { image: { base64: b64(personAElsewhere) } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.results).toHaveLength(body.query_faces.length);
    const hits = body.results[0];
    expect(hits.length).toBeGreaterThanOrEqual(1);
    expect(hits[0]).toMatchObject({ external_id: 'photo-3', collection: 'customers', metadata: { photo: 3, vip: true } });
    expect(hits[0].far).toBeLessThanOrEqual(body.threshold.far);
    expect(body.threshold).toMatchObject({ basis: 'fpir', expected_fpir: 0.01 });
    expect(body.threshold.gallery_faces).toBeGreaterThanOrEqual(9);
  });

  it('returns no candidate for a stranger at the default threshold, and ranks everyone with max_far 1', async () => {
    // A face from sample 1 that is nobody in photos 2–4.
    const stranger = await selfieCrop(1, 50, 100);
    const body = (await post('/v1/collections/customers/search', { image: { base64: b64(stranger) }, all_faces: false })).json();
    expect(body.results).toHaveLength(1);
    expect(body.results[0]).toEqual([]);
    const ranked = (await post('/v1/collections/customers/search', { image: { base64: b64(stranger) }, all_faces: false, max_far: 1, max_results: 5 })).json();
    expect(ranked.results[0]).toHaveLength(5);
    const scores = ranked.results[0].map((h: { similarity: number }) => h.similarity);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it('searches with a template from /v1/detect and over several collections at once', async () => {
    const detect = (await post('/v1/detect', { image: { base64: b64(personA) }, return_templates: true })).json();
    const template = detect.faces[0].template;
    await post('/v1/collections', { name: 'staff' });
    const indexed = (await post('/v1/collections/staff/faces', { image: { base64: b64(personB) }, external_id: 'bob' })).json();
    expect(indexed.faces).toHaveLength(1);
    const one = (await post('/v1/collections/customers/search', { template })).json();
    expect(one.results[0][0].external_id).toBe('photo-3');
    expect(one.query_faces).toEqual([{ box: null }]);
    const both = (await post('/v1/search', { collections: ['customers', 'staff'], image: { base64: b64(personB) }, all_faces: false })).json();
    expect(both.results[0][0]).toMatchObject({ collection: 'staff', external_id: 'bob' });
    expect(both.threshold.gallery_faces).toBe(one.threshold.gallery_faces + 1);
    const missing = await post('/v1/search', { collections: ['customers', 'nope'], template });
    expect(missing.statusCode).toBe(404);
  });

  it('finds by external id and metadata, pages, counts, and deletes by id, external id and all', async () => {
    const byExternal = (await app.inject({ method: 'GET', url: '/v1/collections/customers/faces?external_id=photo-2' })).json();
    expect(byExternal.faces.length).toBeGreaterThanOrEqual(3);
    const vip = (await post('/v1/collections/customers/faces/find', { metadata: { vip: true } })).json();
    expect(vip.faces.every((f: { external_id: string }) => f.external_id === 'photo-3')).toBe(true);
    expect(vip.faces.length).toBeGreaterThanOrEqual(3);
    expect((await post('/v1/collections/customers/faces/find', { metadata: { photo: '3' } })).json().faces).toEqual([]);
    const first = (await app.inject({ method: 'GET', url: '/v1/collections/customers/faces?limit=2' })).json();
    expect(first.faces).toHaveLength(2);
    const second = (await app.inject({ method: 'GET', url: `/v1/collections/customers/faces?limit=2&cursor=${first.next_cursor}` })).json();
    expect(second.faces[0].face_id).not.toBe(first.faces[0].face_id);

    const count = () => app.inject({ method: 'GET', url: '/v1/collections/customers' }).then((r) => r.json().face_count as number);
    const total = await count();
    const one = first.faces[0].face_id;
    expect((await app.inject({ method: 'GET', url: `/v1/collections/customers/faces/${one}` })).json().face_id).toBe(one);
    expect((await app.inject({ method: 'DELETE', url: `/v1/collections/customers/faces/${one}` })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: `/v1/collections/customers/faces/${one}` })).statusCode).toBe(404);
    const removed = (await post('/v1/collections/customers/faces/delete', { external_ids: ['photo-3'] })).json().deleted;
    expect(removed).toBeGreaterThanOrEqual(3);
    expect(await count()).toBe(total - 1 - removed);
    // The woman of photo 3 is no longer found.
    const after = (await post('/v1/collections/customers/search', { image: { base64: b64(personAElsewhere) }, all_faces: false, max_far: 1 })).json();
    expect(after.results[0].every((h: { external_id: string }) => h.external_id !== 'photo-3')).toBe(true);
    expect((await post('/v1/collections/customers/faces/delete', { all: true })).json().deleted).toBe(total - 1 - removed);
    expect(await count()).toBe(0);
    expect((await post('/v1/collections/customers/faces/delete', { all: true, face_ids: ['x'] })).statusCode).toBe(400);
  });

  it('a watch-list reports each hit’s earlier inquiries and the distinct clients that made them', async () => {
    await post('/v1/collections', { name: 'alerts', kind: 'watchlist' });
    await post('/v1/collections/alerts/faces', { image: { base64: b64(personA) }, external_id: 'fraudster-1' });
    // Two API clients of the same tenant (a bank's two branches) search the same watch-list.
    const keys: Record<string, string> = {};
    for (const client of ['branch-1', 'branch-2']) {
      await post('/v1/admin/clients', { client_id: client, tenant_id: 'default' });
      keys[client] = (await post(`/v1/admin/clients/${client}/keys`, { scopes: ['collections'] })).json().key.api_key;
    }
    const search = (client: string) => post('/v1/collections/alerts/search', { image: { base64: b64(personAElsewhere) }, all_faces: false }, { 'x-api-key': keys[client] });
    const first = (await search('branch-1')).json().results[0][0];
    expect(first.external_id).toBe('fraudster-1');
    expect(first.history).toEqual([{ days: 1, inquiries: 0, clients: 0 }, { days: 7, inquiries: 0, clients: 0 }, { days: 30, inquiries: 0, clients: 0 }, { days: 180, inquiries: 0, clients: 0 }]);
    await search('branch-2');
    const third = (await search('branch-2')).json().results[0][0];
    expect(third.history[0]).toEqual({ days: 1, inquiries: 2, clients: 2 });
    expect(third.history[3]).toEqual({ days: 180, inquiries: 2, clients: 2 });
    // A stranger's search records nothing.
    const miss = (await post('/v1/collections/alerts/search', { image: { base64: b64(personB) } })).json();
    expect(miss.results[0]).toEqual([]);
  });

  it('rejects bad input with documented codes', async () => {
    expect((await post('/v1/collections/nope/search', { template: 'AAAA' })).statusCode).toBe(404);
    const both = await post('/v1/collections/staff/search', { template: 'AAAA', image: { base64: 'AAAA' } });
    expect(both.json().error.code).toBe('invalid_parameter');
    const neither = await post('/v1/collections/staff/faces', { external_id: 'x' });
    expect(neither.json().error).toMatchObject({ code: 'invalid_parameter', field: 'image' });
    const noFace = await post('/v1/collections/staff/faces', { image: { base64: b64(await blankImage(400, 300)) } });
    expect(noFace.statusCode).toBe(422);
    expect((await post('/v1/collections/staff/search', { template: 'AAAA', max_far: 0.01, min_score: 0.5 })).statusCode).toBe(400);
    expect((await post('/v1/collections/staff/search', { template: 'not a template' })).json().error.code).toBe('template_invalid');
  });

  it.skipIf(SQLITE_ONLY)('deleting a collection erases its faces, templates, history and index files', async () => {
    const db = services.db!;
    const collectionId = db.prepare("SELECT id FROM collections WHERE name = 'alerts'").pluck().get() as number;
    const indexDir = path.join(config.dataDir, 'indexes');
    await services.collections.describe('default', 'alerts');
    // Force a snapshot so there is a file to erase.
    await post('/v1/collections/alerts/faces', { image: { base64: b64(personB) } });
    expect((await app.inject({ method: 'DELETE', url: '/v1/collections/alerts' })).statusCode).toBe(204);
    expect(db.prepare('SELECT COUNT(*) FROM faces WHERE collection_id = ?').pluck().get(collectionId)).toBe(0);
    expect(db.prepare('SELECT COUNT(*) FROM watchlist_inquiries').pluck().get()).toBe(0);
    expect(db.prepare('SELECT COUNT(*) FROM face_removals WHERE collection_id = ?').pluck().get(collectionId)).toBe(0);
    expect(fs.readdirSync(indexDir).filter((f) => f.startsWith(`c${collectionId}.`))).toEqual([]);
    expect((await app.inject({ method: 'GET', url: '/v1/collections/alerts' })).statusCode).toBe(404);
  });
});
