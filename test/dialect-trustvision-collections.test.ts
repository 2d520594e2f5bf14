import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { blankImage, samplePhoto, selfieCrop } from './helpers/images.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { rfc3339, TrustVisionClient, type TrustVisionAnswer, expectTrustVisionError } from './helpers/trustvision-client.ts';
import { drift, encodeClip } from '../bench/lib/video-clip.ts';
import { alertWindows } from '../src/core/watchlist-alerts.ts';
import { decodeTemplate } from '../src/core/template.ts';
import { faceExpiry, isUnregistered } from '../src/core/users.ts';
import type { SearchHit } from '../src/core/collections.ts';

/**
 * TrustVision's collections and face authentication (seeds/002: index_faces_sync, search_faces_sync,
 * alert_faces_sync, delete_faces, search_metadata, index_faces_video, face_auth_register, face_auth,
 * face_auth_user, face_auth_unregister) against a real server process, driven by the manual's client
 * (test/helpers/trustvision-client.ts: TV HMAC signature, JSON bodies with the manual's field names).
 * Each request example of the manual is sent as printed, its image and video ids being ones this
 * server stored (the printed ones name the vendor's images); each answer is checked field by field
 * against the manual's example and format table.
 */
let server: RunningServer;
let tv: TrustVisionClient;
let tvOther: TrustVisionClient;
let nativeKey: string;
const KEY = 'trustvision-collections-bootstrap-key';

let personA: Buffer, personAElsewhere: Buffer, personB: Buffer, blank: Buffer, dark: Buffer, blurred: Buffer, bright: Buffer, group: Buffer;
let clip: Buffer;

let exampleChecks = 0;
const provoked = new Set<string>();

beforeAll(async () => {
  server = await startServer('trustvision-collections', KEY);
  for (const client_id of ['tv-bank', 'tv-bank-branch']) {
    expect((await server.admin('/v1/admin/clients', { client_id, tenant_id: 'bank' })).status).toBe(201);
  }
  const scopes = ['images', 'collections', 'users', 'liveness', 'compare', 'detect', 'audit'];
  const signing = (await (await server.admin('/v1/admin/clients/tv-bank/keys', { scopes, signing: true })).json()).key;
  tv = new TrustVisionClient(`${server.base}/trustvision/api`, signing.key_id, signing.secret);
  const other = (await (await server.admin('/v1/admin/clients/tv-bank-branch/keys', { scopes, signing: true })).json()).key;
  tvOther = new TrustVisionClient(`${server.base}/trustvision/api`, other.key_id, other.secret);
  nativeKey = (await (await server.admin('/v1/admin/clients/tv-bank/keys', { scopes })).json()).key.api_key;
  [personA, personAElsewhere, personB] = await Promise.all([selfieCrop(3, 830, 100), selfieCrop(1, 1250, 0), selfieCrop(3, 370, 200)]);
  blank = await blankImage(640, 480, 'jpeg');
  group = await sharp(samplePhoto(3)).resize(1200).jpeg({ quality: 90 }).toBuffer();
  dark = await sharp(personAElsewhere).linear(0.3, -20).jpeg().toBuffer();
  blurred = await sharp(personAElsewhere).blur(5).jpeg().toBuffer();
  bright = await sharp(personAElsewhere).linear(1, 140).jpeg().toBuffer();
  clip = await encodeClip(await drift(personAElsewhere, 15), 5);
}, 180_000);

afterAll(() => {
  server?.stop();
  console.log(`TrustVision collections & face auth: ${exampleChecks} example/table checks; codes provoked: ${[...provoked].sort().join(', ')}`);
});

/** Uploads through the native API with a key of the same client (the same image store). */
async function upload(image: Buffer, metadata?: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${server.base}/v1/images`, {
    method: 'POST', headers: { 'x-api-key': nativeKey, 'content-type': 'application/json' },
    body: JSON.stringify({ image: { base64: image.toString('base64') }, ...(metadata ? { metadata } : {}) }),
  });
  expect(res.status).toBe(201);
  return (await res.json()).image_id;
}

async function uploadVideo(video: Buffer): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(video)], { type: 'video/mp4' }), 'selfie.mp4');
  form.append('label', 'video');
  const res = await fetch(`${server.base}/v1/files`, { method: 'POST', headers: { 'x-api-key': nativeKey }, body: form });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()).file_id;
}

const native = async (a: Buffer, b: Buffer) => (await (await fetch(`${server.base}/v1/compare`, {
  method: 'POST', headers: { 'x-api-key': nativeKey, 'content-type': 'application/json' },
  body: JSON.stringify({ source: { base64: a.toString('base64') }, target: { base64: b.toString('base64') } }),
})).json()).decision as string;

function expectError(answer: TrustVisionAnswer, status: number, code: string) {
  expectTrustVisionError(answer, status, code);
  provoked.add(`${status} ${code}`);
}

function expectFailure(answer: TrustVisionAnswer, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.data.status).toBe('failure');
  expect(answer.body.errors[0].code).toBe(code);
  provoked.add(`failure ${code}`);
}

const uuidish = (v: unknown) => typeof v === 'string' && v.length > 0;
const isRfc3339 = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v)) && /T\d\d:\d\d:\d\d/.test(v);

/** A history item of the manual's format table. */
function checkHistory(h: any, action: string) {
  for (const f of ['id', 'client_id', 'cus_user_id', 'face_auth_id', 'id_card_face_id', 'live_face_id', 'device_id', 'app_id', 'created_at', 'auth_action', 'status', 'result', 'face_type']) {
    expect(typeof h[f], f).toBe('string');
  }
  expect(h.auth_action).toBe(action);
  expect(['success', 'failure']).toContain(h.status);
  expect(['selfie', 'id_card']).toContain(h.face_type);
  expect(typeof h.metadata).toBe('object');
  expect(isRfc3339(h.created_at)).toBe(true);
  exampleChecks++;
}

describe('TrustVision collections: index → search → alert with history → delete', () => {
  let idA: string, idB: string, idA2: string;

  it('index_faces_sync: the manual\'s example and its answer', async () => {
    [idA, idB, idA2] = await Promise.all([upload(personA, { national_id: '123456789', app_id: 3333 }), upload(personB, { national_id: '987654321' }), upload(personAElsewhere)]);
    const res = await tv.send('POST', '/v1/index_faces_sync', { json: { image: { id: idA } } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body.data).sort()).toEqual(['image', 'request_id', 'status']);
    expect(res.body.data).toMatchObject({ status: 'success', image: { id: idA } });
    expect(uuidish(res.body.data.request_id)).toBe(true);
    exampleChecks++;
    // base64 with label and metadata (stored first: its id comes back), into a named collection.
    const inline = await tv.send('POST', '/v1/index_faces_sync', { json: { image: { base64: personB.toString('base64'), label: 'portrait', metadata: '{"national_id":"987654321","type":1}' }, collection: 'default', type: 3 } });
    expect(inline.body.data.status).toBe('success');
    expect(uuidish(inline.body.data.image.id)).toBe(true);
    exampleChecks++;
    expect((await tv.send('POST', '/v1/index_faces_sync', { json: { image: { id: idB } } })).body.data.status).toBe('success');
  });

  it('index_faces_sync: no face is a failure; a missing image, an unknown id, bad metadata are the manual\'s errors', async () => {
    expectFailure(await tv.send('POST', '/v1/index_faces_sync', { json: { image: { base64: blank.toString('base64') } } }), 'image_has_no_faces');
    expectError(await tv.send('POST', '/v1/index_faces_sync', { json: { image: {} } }), 400, 'invalid_parameter_exception');
    expectError(await tv.send('POST', '/v1/index_faces_sync', { json: { image: { base64: personA.toString('base64'), metadata: 'not json' } } }), 400, 'invalid_parameter_exception');
    expectError(await tv.send('POST', '/v1/index_faces_sync', { json: { image: { id: '7db00808-0416-45cf-a5cb-3b6dfbd7bb74' } } }), 404, 'image_not_found_exception');
    expectError(await tv.send('POST', '/v1/index_faces_sync', { json: { image: { id: idA } }, timestamp: rfc3339(new Date(Date.now() - 20 * 60_000)) }), 400, 'request_time_too_skewed');
    const forged = new TrustVisionClient(tv.baseUrl, tv.accessKey, 'wrong-secret');
    expectError(await forged.send('POST', '/v1/index_faces_sync', { json: { image: { id: idA } } }), 401, 'access_denied_exception');
  });

  it('search_faces_sync: the manual\'s example finds the same person first, as /v1/compare decides', async () => {
    const res = await tv.send('POST', '/v1/search_faces_sync', { json: { image: { id: idA2 } } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const d = res.body.data;
    expect(d.status).toBe('success');
    expect(d.image).toEqual({ id: idA2 });
    expect(uuidish(d.request_id)).toBe(true);
    expect(Array.isArray(d.faces)).toBe(true);
    expect(d.faces).toHaveLength(1);
    const [best] = d.faces[0];
    expect(Object.keys(best).sort()).toEqual(['id', 'image_id', 'metadata', 'score']);
    expect(best.image_id).toBe(idA);
    expect(best.score).toBeGreaterThan(0);
    expect(best.score).toBeLessThanOrEqual(1);
    expect(best.metadata).toEqual(expect.arrayContaining([{ field: 'national_id', value: '123456789' }, { field: 'app_id', value: 3333 }]));
    exampleChecks += 3;
    // Decisions as /v1: A and A' match; B is not found (or below A).
    expect(await native(personAElsewhere, personA)).toBe('match');
    expect(await native(personAElsewhere, personB)).not.toBe('match');
    expect(d.faces[0].filter((f: any) => f.image_id === idB)).toHaveLength(0);
  });

  it('search_faces_sync: several collections give faces_in_collection; max_faces bounds each list', async () => {
    expect((await tv.send('POST', '/v1/index_faces_sync', { json: { image: { id: idA }, collection: 'vip' } })).body.data.status).toBe('success');
    const res = await tv.send('POST', '/v1/search_faces_sync', { json: { image: { base64: personAElsewhere.toString('base64') }, collections: ['default', 'vip'], max_faces: 1 } });
    expect(res.status).toBe(200);
    const d = res.body.data;
    expect(Object.keys(d.faces_in_collection).sort()).toEqual(['default', 'vip']);
    expect(d.faces_in_collection.vip[0][0].image_id).toBe(idA);
    expect(d.faces_in_collection.default[0]).toHaveLength(1);
    expect(d.faces[0]).toHaveLength(1);
    exampleChecks++;
    expectError(await tv.send('POST', '/v1/search_faces_sync', { json: { image: { id: idA }, max_faces: 0 } }), 400, 'invalid_parameter_exception');
    expectFailure(await tv.send('POST', '/v1/search_faces_sync', { json: { image: { base64: blank.toString('base64') } } }), 'image_has_no_faces');
    expectError(await tv.send('POST', '/v1/search_faces_sync', { json: { image: { id: 'no-such-image' } } }), 404, 'image_not_found_exception');
  });

  it('alert_faces_sync: suspect faces with their history per period, members counted by who indexed and who asked', async () => {
    // Two members (clients of one tenant) index the suspect.
    expect((await tv.send('POST', '/v1/index_faces_sync', { json: { image: { id: idA }, collection: 'suspect' } })).body.data.status).toBe('success');
    expect((await tvOther.send('POST', '/v1/index_faces_sync', { json: { image: { base64: personA.toString('base64'), metadata: '{"applied_service":"loan"}' }, collection: 'suspect' } })).body.data.status).toBe('success');
    const first = await tv.send('POST', '/v1/alert_faces_sync', { json: { image: { id: idA2 } } });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const d = first.body.data;
    expect(d.status).toBe('success');
    expect(d.image.id).toBe(idA2);
    expect(d.image.faces).toHaveLength(1);
    expect(Object.keys(d.image.faces[0].bounding_box).sort()).toEqual(['angle', 'bottom', 'left', 'right', 'top']);
    expect(d.faces).toHaveLength(1);
    expect(d.faces[0]).toHaveLength(2);
    for (const [i, f] of d.faces[0].entries()) {
      expect(f.name).toBe(`Face ${i + 1}`);
      expect(typeof f.score).toBe('number');
      expect(isRfc3339(f.created_at)).toBe(true);
      expect(f.applied_service === null || typeof f.applied_service === 'string').toBe(true);
    }
    expect(d.faces[0].map((f: any) => f.applied_service)).toContain('loan');
    expect(d.history).toHaveLength(1);
    expect(d.history[0].map((h: any) => h.period)).toEqual(['last_1day', 'last_7day', 'last_30day', 'last_180day']);
    for (const h of d.history[0]) {
      expect(Object.keys(h).sort()).toEqual(['num_inquiry', 'num_member_inquiry', 'num_member_suspect_faces', 'num_suspect_faces', 'period']);
      expect(h).toMatchObject({ num_suspect_faces: 2, num_member_suspect_faces: 2, num_inquiry: 0, num_member_inquiry: 0 });
    }
    exampleChecks += 4;
    // Each member asks once more: earlier inquiries and the members who made them.
    await tvOther.send('POST', '/v1/alert_faces_sync', { json: { image: { base64: personAElsewhere.toString('base64') } } });
    const third = await tv.send('POST', '/v1/alert_faces_sync', { json: { image: { id: idA2 } } });
    expect(third.body.data.history[0][0]).toMatchObject({ period: 'last_1day', num_inquiry: 2, num_member_inquiry: 2 });
    // Another person: no suspect face, zero counts.
    const other = await tv.send('POST', '/v1/alert_faces_sync', { json: { image: { id: idB } } });
    expect(other.body.data.faces).toEqual([[]]);
    expect(other.body.data.history[0][3]).toMatchObject({ num_suspect_faces: 0, num_inquiry: 0 });
    // By embedding: the face's template floats (from /v1/detect here), no image.
    const detected = await (await fetch(`${server.base}/v1/detect`, {
      method: 'POST', headers: { 'x-api-key': nativeKey, 'content-type': 'application/json' },
      body: JSON.stringify({ image: { base64: personAElsewhere.toString('base64') }, return_templates: true }),
    })).json();
    const embedding = Array.from(decodeTemplate(Buffer.from(detected.faces[0].template, 'base64'), 'template').vector);
    const byEmbedding = await tv.send('POST', '/v1/alert_faces_sync', { json: { image: { embedding } } });
    expect(byEmbedding.status, JSON.stringify(byEmbedding.body)).toBe(200);
    expect(byEmbedding.body.data.faces[0]).toHaveLength(2);
    expect(byEmbedding.body.data.history[0][0]).toMatchObject({ num_suspect_faces: 2, num_inquiry: 3, num_member_inquiry: 2 });
    expect(byEmbedding.body.data.image).toBeUndefined();
    expectError(await tv.send('POST', '/v1/alert_faces_sync', { json: { image: { embedding: [0.1, 0.2, 0.3] } } }), 400, 'invalid_parameter_exception');
    expectError(await tv.send('POST', '/v1/alert_faces_sync', { json: {} }), 400, 'invalid_parameter_exception');
  });

  it('search_metadata: the manual\'s example and its answer', async () => {
    const res = await tv.send('POST', '/v1/search_metadata', { json: { metadata: { national_id: '123456789' } } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.status).toBe('success');
    expect(uuidish(res.body.data.request_id)).toBe(true);
    expect(res.body.data.faces).toHaveLength(1);
    expect(Object.keys(res.body.data.faces[0]).sort()).toEqual(['id', 'image_id', 'metadata']);
    expect(res.body.data.faces[0]).toMatchObject({ image_id: idA, metadata: { national_id: '123456789', app_id: 3333 } });
    exampleChecks += 2;
    expect((await tv.send('POST', '/v1/search_metadata', { json: { metadata: { national_id: 'nobody' }, collection: 'unknown', max_results: 5 } })).body.data.faces).toEqual([]);
    expectError(await tv.send('POST', '/v1/search_metadata', { json: { collection: 'default' } }), 400, 'invalid_parameter_exception');
  });

  it('delete_faces: the manual\'s example (two image ids) and its answer; the faces are gone from search', async () => {
    const res = await tv.send('POST', '/v1/delete_faces', { json: { image_ids: [idA, idB] } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body.data)).toEqual(['request_id']);
    exampleChecks++;
    const after = await tv.send('POST', '/v1/search_faces_sync', { json: { image: { id: idA2 } } });
    expect(after.body.data.faces[0].filter((f: any) => f.image_id === idA)).toHaveLength(0);
    expectError(await tv.send('POST', '/v1/delete_faces', { json: { image_ids: [idA] } }), 404, 'image_not_found_exception');
    expectError(await tv.send('POST', '/v1/delete_faces', { json: { image_ids: [] } }), 400, 'invalid_parameter_exception');
  });

  it('index_faces_video: the manual\'s example indexes the best frame of an uploaded video', async () => {
    const videoId = await uploadVideo(clip);
    const res = await tv.send('POST', '/v1/index_faces_video', { json: { video: { id: videoId } } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body.data).sort()).toEqual(['image', 'request_id', 'status', 'video_id']);
    expect(res.body.data).toMatchObject({ status: 'success', video_id: videoId });
    exampleChecks++;
    const found = await tv.send('POST', '/v1/search_faces_sync', { json: { image: { id: idA2 } } });
    expect(found.body.data.faces[0].map((f: any) => f.image_id)).toContain(res.body.data.image.id);
    expectFailure(await tv.send('POST', '/v1/index_faces_video', { json: { video: { base64: Buffer.from('not a video').toString('base64') } } }), 'invalid_video');
    expectError(await tv.send('POST', '/v1/index_faces_video', { json: { video: {} } }), 400, 'invalid_parameter_exception');
    expectError(await tv.send('POST', '/v1/index_faces_video', { json: { video: { id: 'c679b398-8dc3-4112-ab37-71b66f6d2e04' } } }), 404, 'file_not_found_exception');
  }, 60_000);

  it('keeps an audit record and usage under the collections service', async () => {
    const res = await tv.send('POST', '/v1/search_metadata', { json: { metadata: { national_id: '987654321' } } });
    const { record } = await (await fetch(`${server.base}/v1/audit/records/${res.body.data.request_id}`, { headers: { 'x-api-key': nativeKey } })).json();
    expect(record).toMatchObject({ route: '/trustvision/api/v1/search_metadata', service: 'collections', status: 200, client_id: 'tv-bank' });
  });
});

describe('TrustVision face authentication: register → authenticate → status → unregister → authenticate again', () => {
  const user = '3b4bf7b6-088b-4931-9279-9259f5c34fe3';
  let ids: string[];
  let videoIds: string[];

  it('face_auth_register: the manual\'s example (faces, gesture faces, videos, metadata) and its answer', async () => {
    ids = await Promise.all([personA, personAElsewhere, personA, personAElsewhere, personA, personAElsewhere].map((p) => upload(p)));
    videoIds = await Promise.all([uploadVideo(clip), uploadVideo(clip)]);
    const body = {
      cus_user_id: user,
      faces: [{ id: ids[0] }, { id: ids[1] }, { id: ids[2] }],
      gesture_faces: [{ gesture: 'left', images: [{ id: ids[3] }] }, { gesture: 'up', images: [{ id: ids[4] }] }, { gesture: 'right', images: [{ id: ids[5] }] }],
      videos: [{ id: videoIds[0] }, { id: videoIds[1] }],
      face_type: 'selfie',
      metadata: { key1: { key11: 'value11', key12: 'value12' }, key2: 'value2' },
    };
    const res = await tv.send('POST', '/v1/face_auth_register', { json: body, headers: {} });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const d = res.body.data;
    expect(Object.keys(d).sort()).toEqual(['histories', 'register_id', 'request_id', 'status', 'user_metadata']);
    expect(d.status).toBe('success');
    expect(uuidish(d.register_id) && uuidish(d.request_id)).toBe(true);
    expect(d.user_metadata).toMatchObject({ key1: { key11: 'value11', key12: 'value12' }, key2: 'value2' });
    expect(isRfc3339(d.user_metadata.expiry_date_face)).toBe(true);
    expect(Date.parse(d.user_metadata.expiry_date_face)).toBeGreaterThan(Date.now() + 300 * 86_400_000);
    expect(d.histories).toHaveLength(1);
    checkHistory(d.histories[0], 'register');
    expect(d.histories[0]).toMatchObject({ cus_user_id: user, client_id: 'tv-bank', face_auth_id: ids[0], live_face_id: ids[0], status: 'success', result: '', face_type: 'selfie' });
    exampleChecks += 3;
  }, 90_000);

  it('face_auth_register again (re-registration) with device, app and place, and a face in an ID card; the histories keep both', async () => {
    const res = await tv.send('POST', '/v1/face_auth_register', {
      json: { cus_user_id: user, faces: [{ base64: personA.toString('base64') }], face_in_id_card: { id: ids[1] }, device_id: 'device-1', app_id: 'app-1', lat: 10.77, lng: 106.7, metadata: { key1: 'value1', key2: 2 }, history_return_count: 5, history_return_status: 'all' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.status).toBe('success');
    expect(res.body.data.user_metadata).toMatchObject({ key1: 'value1', key2: 2 });
    expect(res.body.data.histories).toHaveLength(2);
    expect(res.body.data.histories[0]).toMatchObject({ device_id: 'device-1', app_id: 'app-1', latitude: 10.77, longitude: 106.7, id_card_face_id: ids[1], metadata: { key1: 'value1', key2: 2 } });
    const noFace = await tv.send('POST', '/v1/face_auth_register', { json: { cus_user_id: 'someone-else', faces: [{ base64: blank.toString('base64') }] } });
    expectFailure(noFace, 'image_has_no_faces');
    expectError(await tv.send('POST', '/v1/face_auth_register', { json: { cus_user_id: 'someone-else' } }), 400, 'invalid_parameter_exception');
    expectError(await tv.send('POST', '/v1/face_auth_register', { json: { cus_user_id: 'someone-else', faces: [{ base64: group.toString('base64') }] } }), 400, 'incorrect_number_of_faces');
    expectError(await tv.send('POST', '/v1/face_auth_register', { json: { cus_user_id: 'someone-else', faces: [{ id: 'no-such-image' }] } }), 404, 'image_not_found_exception');
  });

  it('face_auth: the manual\'s example matches the same person (as /v1/compare), another person is unmatched', async () => {
    const body = {
      cus_user_id: user,
      faces: [{ id: ids[0] }, { id: ids[1] }, { id: ids[2] }],
      gesture_faces: [{ gesture: 'left', images: [{ id: ids[3] }] }, { gesture: 'up', images: [{ id: ids[4] }] }, { gesture: 'right', images: [{ id: ids[5] }] }],
      videos: [{ id: videoIds[0] }, { id: videoIds[1] }],
      metadata: { key1: { key11: 'value11', key12: 'value12' }, key2: 'value2' },
    };
    const res = await tv.send('POST', '/v1/face_auth', { json: body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const d = res.body.data;
    expect(d.status).toBe('success');
    expect(d.auth_check.result).toBe('matched');
    expect(d.auth_check.score).toBeGreaterThan(0);
    expect(d.auth_check.score).toBeLessThanOrEqual(1);
    expect(uuidish(d.request_id) && uuidish(d.auth_id)).toBe(true);
    expect(d.user_metadata).toMatchObject({ key1: 'value1', key2: 2 });
    expect(isRfc3339(d.user_metadata.expiry_date_face)).toBe(true);
    expect(d.validate_faces_result.sanity_verdict).toBe('good');
    checkHistory(d.histories[0], 'login');
    exampleChecks += 4;
    expect(await native(personAElsewhere, personA)).toBe('match');

    const other = await tv.send('POST', '/v1/face_auth', { json: { cus_user_id: user, faces: [{ base64: personB.toString('base64') }], auth_type: 'payment', client_transaction_id: 'tx-42', device_id: 'device-2' } });
    expect(other.body.data.status).toBe('success');
    expect(other.body.data.auth_check.result).toBe('unmatched');
    expect(other.body.data.client_transaction_id).toBe('tx-42');
    expect(other.body.data.histories[0]).toMatchObject({ auth_action: 'login', status: 'failure', result: 'unmatched', device_id: 'device-2', auth_type: 'payment', client_transaction_id: 'tx-42' });
    expect(await native(personB, personA)).not.toBe('match');
    const onlySuccess = await tv.send('POST', '/v1/face_auth', { json: { cus_user_id: user, faces: [{ base64: personAElsewhere.toString('base64') }], history_return_status: 'success', history_return_count: 1 } });
    expect(onlySuccess.body.data.histories).toHaveLength(1);
    expect(onlySuccess.body.data.histories[0].status).toBe('success');
  }, 90_000);

  it('face_auth: the manual\'s failure codes and errors', async () => {
    expectFailure(await tv.send('POST', '/v1/face_auth', { json: { cus_user_id: user, faces: [{ base64: blank.toString('base64') }] } }), 'image_has_no_faces');
    for (const [picture, code] of [[blurred, 'image_too_blur'], [dark, 'image_too_dark'], [bright, 'image_too_bright']] as const) {
      expectFailure(await tv.send('POST', '/v1/face_auth', { json: { cus_user_id: user, faces: [{ base64: picture.toString('base64') }] } }), code);
    }
    expectError(await tv.send('POST', '/v1/face_auth', { json: { cus_user_id: 'nobody', faces: [{ id: ids[0] }] } }), 404, 'face_auth_user_not_found_exception');
    expectError(await tv.send('POST', '/v1/face_auth', { json: { cus_user_id: user } }), 400, 'invalid_parameter_exception');
    expectError(await tv.send('POST', '/v1/face_auth', { json: { cus_user_id: user, faces: [{ base64: group.toString('base64') }] } }), 400, 'incorrect_number_of_faces');
    expectError(await tv.send('POST', '/v1/face_auth', { json: { cus_user_id: user, faces: [{ id: 'no-such-image' }] } }), 404, 'image_not_found_exception');
    // Deactivated through /v1 (same tenant): face_auth and face_auth_register say face_auth_user_deactivated.
    expect((await fetch(`${server.base}/v1/users/${user}/deactivate`, { method: 'POST', headers: { 'x-api-key': nativeKey } })).status).toBe(200);
    expectFailure(await tv.send('POST', '/v1/face_auth', { json: { cus_user_id: user, faces: [{ id: ids[0] }] } }), 'face_auth_user_deactivated');
    expectFailure(await tv.send('POST', '/v1/face_auth_register', { json: { cus_user_id: user, faces: [{ id: ids[0] }] } }), 'face_auth_user_deactivated');
    expect((await fetch(`${server.base}/v1/users/${user}/activate`, { method: 'POST', headers: { 'x-api-key': nativeKey } })).status).toBe(200);
  });

  it('face_auth_user: the manual\'s example and its answer', async () => {
    const res = await tv.send('POST', '/v1/face_auth_user', { json: { cus_user_id: user } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const d = res.body.data;
    expect(d).toMatchObject({ status: 'success', verdict: 'registered', is_unregistered: false });
    expect(d.face_types).toEqual(['selfie', 'id_card']);
    expect(d.histories.length).toBeGreaterThanOrEqual(2);
    for (const h of d.histories) checkHistory(h, 'register');
    expect(d.metadata).toMatchObject({ key1: 'value1', key2: 2 });
    expect(isRfc3339(d.metadata.expiry_date_face)).toBe(true);
    exampleChecks += 2;
    expect((await tv.send('POST', '/v1/face_auth_user', { json: { cus_user_id: 'nobody' } })).body.data).toEqual({ status: 'success', verdict: 'not_registered' });
    expectError(await tv.send('POST', '/v1/face_auth_user', { json: {} }), 400, 'invalid_parameter_exception');
  });

  it('face_auth_unregister: the manual\'s example and its answer; then face_auth says face_auth_user_unregistered, and registering again works', async () => {
    const res = await tv.send('POST', '/v1/face_auth_unregister', { json: { cus_user_id: user } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const d = res.body.data;
    expect(d.status).toBe('success');
    expect(uuidish(d.unregister_id)).toBe(true);
    const u = d.face_auth_user;
    for (const f of ['id', 'client_id', 'access_key_id', 'face_auth_id', 'id_card_face_id', 'cus_user_id', 'device_id', 'app_id', 'created_at', 'updated_at']) expect(typeof u[f], f).toBe('string');
    expect(u).toMatchObject({ cus_user_id: user, client_id: 'tv-bank', access_key_id: tv.accessKey, is_deactivated: false, is_unregistered: true, metadata: { key1: 'value1', key2: 2 }, id_card_face_id: ids[1] });
    expect(isRfc3339(u.created_at) && isRfc3339(u.updated_at)).toBe(true);
    exampleChecks += 2;

    expectFailure(await tv.send('POST', '/v1/face_auth', { json: { cus_user_id: user, faces: [{ id: ids[0] }] } }), 'face_auth_user_unregistered');
    expect((await tv.send('POST', '/v1/face_auth_user', { json: { cus_user_id: user } })).body.data).toMatchObject({ verdict: 'not_registered', is_unregistered: true });
    expectError(await tv.send('POST', '/v1/face_auth_unregister', { json: { cus_user_id: 'nobody' } }), 404, 'face_auth_user_not_found_exception');

    const again = await tv.send('POST', '/v1/face_auth_register', { json: { cus_user_id: user, faces: [{ id: ids[0] }] } });
    expect(again.body.data.status).toBe('success');
    const back = await tv.send('POST', '/v1/face_auth', { json: { cus_user_id: user, faces: [{ id: ids[1] }] } });
    expect(back.body.data.auth_check.result).toBe('matched');
    // The whole history is kept: registrations, logins, the refusal while unregistered.
    const actions = (await (await fetch(`${server.base}/v1/users/${user}/history?limit=100`, { headers: { 'x-api-key': nativeKey } })).json()).events.map((e: any) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['register', 'authenticate', 'unregister']));
  });
});

describe('TrustVision collections and face authentication across tenants', () => {
  it('another tenant\'s client sees none of the bank\'s users, images or faces', async () => {
    expect((await server.admin('/v1/admin/clients', { client_id: 'tv-elsewhere' })).status).toBe(201);
    const key = (await (await server.admin('/v1/admin/clients/tv-elsewhere/keys', { scopes: ['images', 'collections', 'users'], signing: true })).json()).key;
    const stranger = new TrustVisionClient(`${server.base}/trustvision/api`, key.key_id, key.secret);
    const bankImage = await upload(personA, { national_id: 'only-the-bank' });
    expect((await tv.send('POST', '/v1/index_faces_sync', { json: { image: { id: bankImage } } })).body.data.status).toBe('success');
    expectError(await stranger.send('POST', '/v1/index_faces_sync', { json: { image: { id: bankImage } } }), 404, 'image_not_found_exception');
    expect((await stranger.send('POST', '/v1/search_metadata', { json: { metadata: { national_id: 'only-the-bank' } } })).body.data.faces).toEqual([]);
    expect((await stranger.send('POST', '/v1/search_faces_sync', { json: { image: { base64: personAElsewhere.toString('base64') } } })).body.data.faces).toEqual([[]]);
    expectError(await stranger.send('POST', '/v1/face_auth', { json: { cus_user_id: '3b4bf7b6-088b-4931-9279-9259f5c34fe3', faces: [{ base64: personA.toString('base64') }] } }), 404, 'face_auth_user_not_found_exception');
    expect((await stranger.send('POST', '/v1/face_auth_user', { json: { cus_user_id: '3b4bf7b6-088b-4931-9279-9259f5c34fe3' } })).body.data.verdict).toBe('not_registered');
    // The bank's own face_auth_user answer is audited under the users service.
    const own = await tv.send('POST', '/v1/face_auth_user', { json: { cus_user_id: '3b4bf7b6-088b-4931-9279-9259f5c34fe3' } });
    expect(own.body.data.verdict).toBe('registered');
    const records = (await (await fetch(`${server.base}/v1/audit/records?limit=500`, { headers: { 'x-api-key': nativeKey } })).json()).records;
    expect(records.filter((r: any) => r.route === '/trustvision/api/v1/face_auth_user').length).toBeGreaterThan(0);
    for (const r of records.filter((x: any) => x.route === '/trustvision/api/v1/face_auth_user')) expect(r).toMatchObject({ service: 'users' });
  });
});

describe('core additions: watch-list alert windows, face expiry, unregistered users', () => {
  const now = new Date('2026-06-01T00:00:00Z');
  const hit = (createdAt: string, indexedBy: string | null, history?: Array<{ days: number; inquiries: number; clients: number }>): SearchHit => ({
    collection: 'suspect', similarity: 0.8, score: 0.9, far: 1e-6, history,
    face: { key: 1, id: 'f', externalId: null, metadata: {}, imageId: null, box: null, createdAt, indexedBy },
  });

  it('counts suspect faces indexed in each window, their members, and the most inquiries of the person', () => {
    const h = [{ days: 1, inquiries: 1, clients: 1 }, { days: 7, inquiries: 2, clients: 1 }, { days: 30, inquiries: 3, clients: 2 }, { days: 180, inquiries: 3, clients: 2 }];
    const windows = alertWindows([hit('2026-05-31T12:00:00Z', 'a', h), hit('2026-03-01T00:00:00Z', 'b', h), hit('2026-05-30T00:00:00Z', null, undefined)], now);
    expect(windows.map((w) => [w.days, w.suspectFaces, w.suspectClients, w.inquiries, w.inquiryClients])).toEqual([[1, 1, 1, 1, 1], [7, 1, 1, 2, 1], [30, 1, 1, 3, 2], [180, 2, 2, 3, 2]]);
  });

  it('dates a face\'s expiry a year after the newest selfie; a user without faces is unregistered', () => {
    const view = { tenantId: 't', userId: 'u', status: 'active' as const, metadata: {}, model: { modelId: 'm', version: 1 }, createdAt: '', updatedAt: '', faces: [
      { id: '1', imageType: 'SELFIE' as const, imageId: null, box: null, createdAt: '2026-01-01T00:00:00.000Z' },
      { id: '2', imageType: 'ID_DOCUMENT' as const, imageId: null, box: null, createdAt: '2026-03-01T00:00:00.000Z' },
    ] };
    expect(faceExpiry(view)).toBe('2027-01-01T00:00:00.000Z');
    expect(isUnregistered(view)).toBe(false);
    expect(isUnregistered({ ...view, faces: [] })).toBe(true);
    expect(faceExpiry({ ...view, faces: [] })).toBeNull();
  });
});
