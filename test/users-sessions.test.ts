import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTestApp, SQLITE_ONLY } from './helpers/app.ts';
import { b64, blankImage, selfieCrop } from './helpers/images.ts';
import type { Services } from '../src/bootstrap.ts';
import type { Config } from '../src/config.ts';

let app: FastifyInstance;
let services: Services;
let config: Config;
let personA: Buffer;
let personAElsewhere: Buffer;
let personB: Buffer;

beforeAll(async () => {
  ({ app, services, config } = await createTestApp());
  personA = await selfieCrop(3, 830, 100);
  personAElsewhere = await selfieCrop(1, 1250, 0);
  personB = await selfieCrop(3, 370, 200);
});
afterAll(async () => { await app.close(); });

const post = (url: string, payload: object = {}) => app.inject({ method: 'POST', url, payload });
const get = (url: string) => app.inject({ method: 'GET', url });

describe('users: face authentication', () => {
  it('registers a user with a selfie and an ID photo, and refuses the same user_id twice', async () => {
    const res = await post('/v1/users', {
      user_id: 'alice@example.com',
      faces: [{ image: { base64: b64(personA) } }, { image: { base64: b64(personA) }, image_type: 'ID_DOCUMENT' }],
      metadata: { tier: 'gold' },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ user_id: 'alice@example.com', status: 'active', metadata: { tier: 'gold' } });
    expect(res.json().faces.map((f: { image_type: string }) => f.image_type)).toEqual(['SELFIE', 'ID_DOCUMENT']);
    const dup = await post('/v1/users', { user_id: 'alice@example.com', faces: [{ image: { base64: b64(personA) } }] });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('already_exists');
  });

  it('authenticates the user from another photograph and rejects someone else', async () => {
    const ok = (await post('/v1/users/alice@example.com/authenticate', { image: { base64: b64(personAElsewhere) } })).json();
    expect(ok).toMatchObject({ decision: 'match', compared_faces: 2 });
    expect(ok.far).toBeLessThanOrEqual(ok.threshold.far);
    const impostor = (await post('/v1/users/alice@example.com/authenticate', { image: { base64: b64(personB) } })).json();
    expect(impostor.decision).toBe('no_match');
    expect(impostor.far).toBeGreaterThan(impostor.threshold.far);
    const noFace = await post('/v1/users/alice@example.com/authenticate', { image: { base64: b64(await blankImage(300, 300)) } });
    expect(noFace.statusCode).toBe(422);
  });

  it('adds and removes faces, deactivates and reactivates', async () => {
    const added = await post('/v1/users/alice@example.com/faces', { faces: [{ image: { base64: b64(personAElsewhere) } }] });
    expect(added.statusCode).toBe(201);
    const faceId = added.json().faces[0].face_id;
    expect((await get('/v1/users/alice@example.com')).json().faces).toHaveLength(3);
    expect((await app.inject({ method: 'DELETE', url: `/v1/users/alice@example.com/faces/${faceId}` })).statusCode).toBe(204);
    expect((await get('/v1/users/alice@example.com')).json().faces).toHaveLength(2);
    expect((await post('/v1/users/alice@example.com/deactivate')).json().status).toBe('inactive');
    const refused = await post('/v1/users/alice@example.com/authenticate', { image: { base64: b64(personAElsewhere) } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('user_inactive');
    expect((await post('/v1/users/alice@example.com/activate')).json().status).toBe('active');
  });

  it('keeps every attempt in a history, newest first, paginated', async () => {
    const first = (await get('/v1/users/alice@example.com/history?limit=3')).json();
    expect(first.events.map((e: { action: string }) => e.action)).toEqual(['activate', 'authenticate', 'deactivate']);
    expect(first.events[1].result).toBe('rejected');
    const rest = (await get(`/v1/users/alice@example.com/history?limit=50&cursor=${first.next_cursor}`)).json();
    const actions = rest.events.map((e: { action: string; result: string }) => `${e.action}:${e.result}`);
    expect(actions).toEqual(['remove_face:removed', 'add_faces:added', 'authenticate:failed', 'authenticate:no_match', 'authenticate:match', 'register:registered']);
    expect(rest.next_cursor).toBeNull();
    expect(rest.events[4].request_id).toMatch(/[0-9a-f-]{36}/);
  });

  it.skipIf(SQLITE_ONLY)('unregistering erases the user, their templates and their history', async () => {
    expect((await app.inject({ method: 'DELETE', url: '/v1/users/alice@example.com' })).statusCode).toBe(204);
    expect((await get('/v1/users/alice@example.com')).statusCode).toBe(404);
    expect(services.db!.prepare("SELECT COUNT(*) FROM user_faces WHERE user_id = 'alice@example.com'").pluck().get()).toBe(0);
    expect(services.db!.prepare("SELECT COUNT(*) FROM user_events WHERE user_id = 'alice@example.com'").pluck().get()).toBe(0);
  });
});

describe('sessions: one-to-few', () => {
  let sessionId: string;

  it('opens a session with image storage, adds faces from images and a template, and ranks them against a reference', async () => {
    const res = await post('/v1/sessions', { ttl_seconds: 600, image_storage_enabled: true });
    expect(res.statusCode).toBe(201);
    sessionId = res.json().session_id;
    const a = (await post(`/v1/sessions/${sessionId}/faces`, { image: { base64: b64(personA) } })).json().faces[0];
    expect(a.image_id).toMatch(/^img_/);
    const b = (await post(`/v1/sessions/${sessionId}/faces`, { image: { base64: b64(personB) } })).json().faces[0];
    const template = (await post('/v1/detect', { image: { base64: b64(personAElsewhere) }, return_templates: true })).json().faces[0].template;
    const t = (await post(`/v1/sessions/${sessionId}/faces`, { template })).json().faces[0];
    expect(t.image_id).toBeNull();
    expect((await get(`/v1/sessions/${sessionId}`)).json().face_count).toBe(3);

    const ranked = (await post(`/v1/sessions/${sessionId}/match`, { reference_face_id: a.face_id })).json().matches;
    expect(ranked.map((m: { face_id: string }) => m.face_id)).toEqual([t.face_id, b.face_id]);
    expect(ranked[0].decision).toBe('match');
    expect(ranked[1].decision).toBe('no_match');
    const byImage = (await post(`/v1/sessions/${sessionId}/match`, { image: { base64: b64(personB) } })).json().matches;
    expect(byImage[0].face_id).toBe(b.face_id);
    expect(byImage).toHaveLength(3);
    // The stored copy can be downloaded while the session lives.
    expect((await get(`/v1/images/${a.image_id}`)).statusCode).toBe(200);
    expect((await get(`/v1/sessions/${sessionId}/faces/${b.face_id}`)).json().face_id).toBe(b.face_id);
    expect((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sessionId}/faces/${b.face_id}` })).statusCode).toBe(204);
    expect((await get(`/v1/sessions/${sessionId}/faces`)).json().faces).toHaveLength(2);
  });

  it.skipIf(SQLITE_ONLY)('deleting the session erases its faces and the images it stored', async () => {
    const faces = (await get(`/v1/sessions/${sessionId}/faces`)).json().faces;
    const imageId = faces.find((f: { image_id: string | null }) => f.image_id).image_id;
    expect((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sessionId}` })).statusCode).toBe(204);
    expect((await get(`/v1/sessions/${sessionId}`)).statusCode).toBe(404);
    expect((await get(`/v1/images/${imageId}`)).statusCode).toBe(404);
    expect(fs.existsSync(path.join(config.dataDir, 'blobs', 'default', 'images', imageId))).toBe(false);
    expect(services.db!.prepare('SELECT COUNT(*) FROM session_faces WHERE session_id = ?').pluck().get(sessionId)).toBe(0);
  });

  it.skipIf(SQLITE_ONLY)('expired sessions disappear with their data', async () => {
    const s = services.sessions;
    const session = await s.create('default', { ttlSeconds: 1, imageStorageEnabled: true });
    const [face] = await s.addFaces('default', session.id, { kind: 'image', source: { kind: 'bytes', data: personA } }, { imageType: 'SELFIE', allFaces: false });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await get(`/v1/sessions/${session.id}`)).statusCode).toBe(404);
    expect(await s.sweepExpired()).toBe(1);
    expect(services.db!.prepare('SELECT COUNT(*) FROM sessions WHERE id = ?').pluck().get(session.id)).toBe(0);
    expect(fs.existsSync(path.join(config.dataDir, 'blobs', 'default', 'images', face.imageId!))).toBe(false);
  });

  it('refuses a TTL above the maximum and unknown sessions', async () => {
    expect((await post('/v1/sessions', { ttl_seconds: 10 ** 9 })).json().error.code).toBe('invalid_parameter');
    expect((await post('/v1/sessions/ses_nope/match', { reference_face_id: 'x' })).statusCode).toBe(404);
  });
});
