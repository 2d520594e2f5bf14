import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createTestApp } from './helpers/app.ts';
import { b64, selfieCrop } from './helpers/images.ts';

// Two API clients, each with its own tenant and a key holding every service scope (not admin):
// client A tries everything on client B's objects.
let app: FastifyInstance;
let photo: string;
let other: string;
const keys: Record<'a' | 'b', string> = { a: '', b: '' };
let b: Record<string, string>;
const ids: Record<string, string> = {};

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, headers: Record<string, string> = { 'x-api-key': keys.a }) =>
  app.inject({ method, url, payload, headers });

const SERVICE_SCOPES = ['compare', 'detect', 'quality', 'liveness', 'age', 'images', 'collections', 'users', 'sessions', 'audit'];

beforeAll(async () => {
  ({ app } = await createTestApp());
  for (const who of ['a', 'b'] as const) {
    expect((await app.inject({ method: 'POST', url: '/v1/admin/clients', payload: { client_id: `bank-${who}` } })).statusCode).toBe(201);
    keys[who] = (await app.inject({ method: 'POST', url: `/v1/admin/clients/bank-${who}/keys`, payload: { scopes: SERVICE_SCOPES } })).json().key.api_key;
  }
  b = { 'x-api-key': keys.b };
  photo = b64(await selfieCrop(3, 830, 100));
  other = b64(await selfieCrop(1, 1250, 0));
  // Everything tenant B owns.
  const stored = (await call('POST', '/v1/images', { image: { base64: photo } }, b)).json();
  ids.image = stored.image_id;
  ids.auditedRequest = stored.request_id;
  ids.file = (await call('POST', '/v1/files', { frames: [{ base64: photo }] }, b)).json().file_id;
  await call('POST', '/v1/collections', { name: 'vip' }, b);
  ids.face = (await call('POST', '/v1/collections/vip/faces', { image: { image_id: ids.image }, external_id: 'b-person', metadata: { k: 'v' } }, b)).json().faces[0].face_id;
  ids.template = (await call('POST', '/v1/detect', { image: { base64: photo }, return_templates: true }, b)).json().faces[0].template;
  const user = await call('POST', '/v1/users', { user_id: 'bob', faces: [{ image: { base64: photo } }] }, b);
  ids.userFace = user.json().faces[0].face_id;
  ids.session = (await call('POST', '/v1/sessions', { image_storage_enabled: true }, b)).json().session_id;
  ids.sessionFace = (await call('POST', `/v1/sessions/${ids.session}/faces`, { image: { base64: photo } }, b)).json().faces[0].face_id;
  const challenge = (await call('POST', '/v1/liveness/challenges', {}, b)).json();
  ids.challenge = challenge.challenge_id;
  ids.nonce = challenge.nonce;
  ids.transaction = (await call('POST', '/v1/transactions', { reference_id: 'b-onboarding' }, b)).json().transaction.transaction_id;
  await call('POST', '/v1/detect', { image: { image_id: ids.image } }, { ...b, 'x-transaction-id': ids.transaction });
});
afterAll(async () => { await app.close(); });

describe('tenant isolation: client bank-a cannot reach anything of client bank-b', () => {
  const attempts: Array<[string, 'GET' | 'POST' | 'PATCH' | 'DELETE', () => string, () => object | undefined]> = [
    ['read an image', 'GET', () => `/v1/images/${ids.image}`, () => undefined],
    ['change an image', 'PATCH', () => `/v1/images/${ids.image}`, () => ({ label: 'x' })],
    ['delete an image', 'DELETE', () => `/v1/images/${ids.image}`, () => undefined],
    ['detect on an image_id', 'POST', () => '/v1/detect', () => ({ image: { image_id: ids.image } })],
    ['compare with an image_id', 'POST', () => '/v1/compare', () => ({ source: { image_id: ids.image }, target: { base64: other } })],
    ['read a file', 'GET', () => `/v1/files/${ids.file}`, () => undefined],
    ['read a frame', 'GET', () => `/v1/files/${ids.file}/frames/0`, () => undefined],
    ['delete a file', 'DELETE', () => `/v1/files/${ids.file}`, () => undefined],
    ['describe a collection', 'GET', () => '/v1/collections/vip', () => undefined],
    ['index into a collection', 'POST', () => '/v1/collections/vip/faces', () => ({ image: { base64: other } })],
    ['index templates into a collection', 'POST', () => '/v1/collections/vip/faces/batch', () => ({ faces: [{ template: ids.template }] })],
    ['search a collection', 'POST', () => '/v1/collections/vip/search', () => ({ template: ids.template })],
    ['search several collections', 'POST', () => '/v1/search', () => ({ collections: ['vip'], template: ids.template })],
    ['list faces', 'GET', () => '/v1/collections/vip/faces', () => undefined],
    ['find faces by metadata', 'POST', () => '/v1/collections/vip/faces/find', () => ({ metadata: { k: 'v' } })],
    ['read a face', 'GET', () => `/v1/collections/vip/faces/${ids.face}`, () => undefined],
    ['delete a face', 'DELETE', () => `/v1/collections/vip/faces/${ids.face}`, () => undefined],
    ['delete faces in bulk', 'POST', () => '/v1/collections/vip/faces/delete', () => ({ all: true })],
    ['delete a collection', 'DELETE', () => '/v1/collections/vip', () => undefined],
    ['read a user', 'GET', () => '/v1/users/bob', () => undefined],
    ['authenticate a user', 'POST', () => '/v1/users/bob/authenticate', () => ({ image: { base64: photo } })],
    ['add faces to a user', 'POST', () => '/v1/users/bob/faces', () => ({ faces: [{ image: { base64: photo } }] })],
    ['remove a user face', 'DELETE', () => `/v1/users/bob/faces/${ids.userFace}`, () => undefined],
    ['deactivate a user', 'POST', () => '/v1/users/bob/deactivate', () => ({})],
    ['reactivate a user', 'POST', () => '/v1/users/bob/activate', () => ({})],
    ['read a user history', 'GET', () => '/v1/users/bob/history', () => undefined],
    ['unregister a user', 'DELETE', () => '/v1/users/bob', () => undefined],
    ['read a session', 'GET', () => `/v1/sessions/${ids.session}`, () => undefined],
    ['add a face to a session', 'POST', () => `/v1/sessions/${ids.session}/faces`, () => ({ image: { base64: photo } })],
    ['list session faces', 'GET', () => `/v1/sessions/${ids.session}/faces`, () => undefined],
    ['read a session face', 'GET', () => `/v1/sessions/${ids.session}/faces/${ids.sessionFace}`, () => undefined],
    ['delete a session face', 'DELETE', () => `/v1/sessions/${ids.session}/faces/${ids.sessionFace}`, () => undefined],
    ['rank a session', 'POST', () => `/v1/sessions/${ids.session}/match`, () => ({ image: { base64: photo } })],
    ['delete a session', 'DELETE', () => `/v1/sessions/${ids.session}`, () => undefined],
    ['judge the quality of an image_id', 'POST', () => '/v1/quality', () => ({ image: { image_id: ids.image } })],
    ['estimate the age on an image_id', 'POST', () => '/v1/age', () => ({ image: { image_id: ids.image } })],
    ['check age consistency with an image_id', 'POST', () => '/v1/age/consistency', () => ({ document: { image_id: ids.image }, selfie: { base64: other } })],
    ['check liveness of an image_id', 'POST', () => '/v1/liveness', () => ({ images: [{ image_id: ids.image }] })],
    ['check liveness of a stored file', 'POST', () => '/v1/liveness', () => ({ file_id: ids.file })],
    ['read an audit record', 'GET', () => `/v1/audit/records/${ids.auditedRequest}`, () => undefined],
    ['answer a challenge', 'POST', () => `/v1/liveness/challenges/${ids.challenge}/verify`, () => ({ nonce: ids.nonce, file_id: ids.file })],
    ['read a transaction', 'GET', () => `/v1/transactions/${ids.transaction}`, () => undefined],
    ['finish a transaction', 'POST', () => `/v1/transactions/${ids.transaction}/finish`, () => ({ outcome: 'x' })],
  ];

  for (const [what, method, url, payload] of attempts) {
    it(`cannot ${what}`, async () => {
      const res = await call(method, url(), payload());
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    });
  }

  // The vendor dialects reach the same core objects (IDEMIA's bio-sessions are sessions, iDenFace's
  // images are stored images): the same walls hold, answered in each vendor's own shape.
  const idemia = '/idemia/bioserver-app/v2/bio-sessions';
  const dialectAttempts: Array<[string, 'GET' | 'POST' | 'PATCH' | 'DELETE', () => string, () => object | undefined]> = [
    ['read a bio-session (IDEMIA)', 'GET', () => `${idemia}/${ids.session}`, () => undefined],
    ['list a bio-session’s faces (IDEMIA)', 'GET', () => `${idemia}/${ids.session}/faces`, () => undefined],
    ['read a bio-session face (IDEMIA)', 'GET', () => `${idemia}/${ids.session}/faces/${ids.sessionFace}`, () => undefined],
    ['read a bio-session face image (IDEMIA)', 'GET', () => `${idemia}/${ids.session}/faces/${ids.sessionFace}/image`, () => undefined],
    ['match a bio-session face (IDEMIA)', 'GET', () => `${idemia}/${ids.session}/faces/${ids.sessionFace}/matches`, () => undefined],
    ['delete a bio-session face (IDEMIA)', 'DELETE', () => `${idemia}/${ids.session}/faces/${ids.sessionFace}`, () => undefined],
    ['delete a bio-session’s faces (IDEMIA)', 'DELETE', () => `${idemia}/${ids.session}/faces`, () => undefined],
    ['delete a bio-session (IDEMIA)', 'DELETE', () => `${idemia}/${ids.session}`, () => undefined],
    ['find a stored image (iDenFace find_image)', 'POST', () => '/idenface/api/controller/find_image', () => ({ channel_id: 'x', image_id: ids.image })],
    ['download an image (TrustVision)', 'GET', () => `/trustvision/api/v1/images/${ids.image}`, () => undefined],
    ['change an image\'s metadata (TrustVision)', 'PATCH', () => `/trustvision/api/v1/images/${ids.image}`, () => ({ metadata: { k: 'x' } })],
    ['download a file (TrustVision)', 'GET', () => `/trustvision/api/v1/files/${ids.file}`, () => undefined],
    ['compare with an image id (TrustVision)', 'POST', () => '/trustvision/api/v1/compare_faces_sync', () => ({ image1: { id: ids.image }, image2: { base64: other } })],
    ['detect on an image id (TrustVision)', 'POST', () => '/trustvision/api/v1/detect_faces_sync', () => ({ image: { id: ids.image } })],
    ['check liveness of an image id (TrustVision)', 'POST', () => '/trustvision/api/v1/verify_face_liveness_sync', () => ({ images: [{ id: ids.image }] })],
    ['read an earlier answer by request id (TrustVision)', 'GET', () => `/trustvision/api/v1/requests_by_req_id/${ids.auditedRequest}`, () => undefined],
  ];
  for (const [what, method, url, payload] of dialectAttempts) {
    it(`cannot ${what}`, async () => {
      const res = await call(method as 'GET', url(), payload());
      expect(res.statusCode, res.body).toBe(404);
      expect(res.body).not.toContain(photo.slice(0, 100));
    });
  }

  it('cannot delete bank-b’s images or files through TrustVision’s delete_files, nor finish its transaction', async () => {
    const res = await call('POST', '/trustvision/api/v1/delete_files', { file_ids: [ids.image, ids.file] });
    expect(res.statusCode, res.body).toBeLessThan(500);
    expect((await call('GET', `/v1/images/${ids.image}`, undefined, b)).statusCode).toBe(200);
    expect((await call('GET', `/v1/files/${ids.file}`, undefined, b)).statusCode).toBe(200);
    const finish = await call('POST', `/trustvision/api/v1/transactions/${ids.transaction}/finish`, {});
    expect(finish.statusCode).toBeGreaterThanOrEqual(400);
    expect((await call('GET', `/v1/transactions/${ids.transaction}`, undefined, b)).json().transaction.status).toBe('open');
  });

  it('cannot join a request to bank-b’s transaction', async () => {
    const res = await call('POST', '/v1/detect', { image: { base64: other } }, { 'x-api-key': keys.a, 'x-transaction-id': ids.transaction });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatchObject({ code: 'not_found', field: 'x-transaction-id' });
  });

  it('cannot administer clients or keys without the admin scope', async () => {
    for (const [method, url, payload] of [
      ['GET', '/v1/admin/clients', undefined], ['GET', '/v1/admin/clients/bank-b', undefined], ['GET', '/v1/admin/clients/bank-b/keys', undefined],
      ['POST', '/v1/admin/clients/bank-b/keys', { scopes: ['compare'] }], ['PATCH', '/v1/admin/clients/bank-b', { status: 'disabled' }],
      ['POST', '/v1/admin/clients', { client_id: 'bank-c', tenant_id: 'bank-b' }], ['DELETE', `/v1/admin/keys/${keys.b.split('.')[0]}`, undefined],
    ] as const) {
      const res = await call(method, url, payload);
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json().error.code).toBe('insufficient_scope');
    }
  });

  it('sees none of bank-b’s usage or audit records', async () => {
    const usage = (await call('GET', '/v1/usage')).json();
    expect(usage.usage.every((r: { client_id: string }) => r.client_id === 'bank-a')).toBe(true);
    expect((await call('GET', '/v1/usage?client_id=bank-b')).json().usage).toEqual([]);
    expect((await call('GET', `/v1/audit/records?transaction_id=${ids.transaction}`)).json().records).toEqual([]);
    expect((await call('GET', '/v1/audit/records?client_id=bank-b')).json().records).toEqual([]);
    const exported = (await call('GET', '/v1/audit/export')).body.trim().split('\n').map((l) => JSON.parse(l));
    expect(exported.length).toBeGreaterThan(10);
    expect(exported.every((r: { client_id: string }) => r.client_id === 'bank-a')).toBe(true);
  });

  it('sees none of bank-b’s collections, and a collection of the same name is its own', async () => {
    expect((await call('GET', '/v1/collections')).json().collections).toEqual([]);
    expect((await call('POST', '/v1/collections', { name: 'vip' })).statusCode).toBe(201);
    const search = (await call('POST', '/v1/collections/vip/search', { template: ids.template, max_far: 1 })).json();
    expect(search.results).toEqual([[]]);
    expect(search.threshold.gallery_faces).toBe(0);
    expect((await call('POST', '/v1/users', { user_id: 'bob', faces: [{ image: { base64: other } }] })).statusCode).toBe(201);
  });

  it('left every object of bank-b as it was', async () => {
    expect((await call('GET', `/v1/images/${ids.image}`, undefined, b)).statusCode).toBe(200);
    expect((await call('GET', `/v1/files/${ids.file}`, undefined, b)).statusCode).toBe(200);
    const coll = (await call('GET', '/v1/collections/vip', undefined, b)).json();
    expect(coll.face_count).toBe(1);
    const hit = (await call('POST', '/v1/collections/vip/search', { template: ids.template }, b)).json().results[0][0];
    expect(hit.external_id).toBe('b-person');
    const user = (await call('GET', '/v1/users/bob', undefined, b)).json();
    expect(user).toMatchObject({ status: 'active' });
    expect(user.faces).toHaveLength(1);
    expect((await call('GET', `/v1/sessions/${ids.session}/faces`, undefined, b)).json().faces).toHaveLength(1);
    expect((await call('GET', `/v1/audit/records/${ids.auditedRequest}`, undefined, b)).json().record.service).toBe('images');
    const transaction = (await call('GET', `/v1/transactions/${ids.transaction}`, undefined, b)).json();
    expect(transaction.transaction.status).toBe('open');
    expect(transaction.requests.map((r: { route: string }) => r.route)).toEqual(['/v1/detect']);
    expect((await call('GET', '/v1/audit/records?limit=500')).json().records.every((r: { route: string; status: number }) => !r.route.startsWith('/v1/images') || r.status === 404)).toBe(true);
    // The default tenant's attempt did not spend bank-b's challenge.
    const answer = (await call('POST', `/v1/liveness/challenges/${ids.challenge}/verify`, { nonce: ids.nonce, file_id: ids.file }, b)).json();
    expect(answer.reason).not.toBe('challenge_already_used');
  });
});
