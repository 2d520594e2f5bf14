import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { blankImage, samplePhoto, selfieCrop } from './helpers/images.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

/**
 * Toppan iDenFace's controller API (seeds/000) against a real server process, driven by a client
 * written from the manual alone: JSON bodies with the manual's field names and nesting, images as
 * base64 url-encode strings, `Authorization: Bearer {{jwt}}` from generate_token, and its own
 * end-to-end encryption with Web Crypto (RSA-OAEP SHA-256 around AES-256-GCM) from the key of
 * retrieve_pubky. Only the host differs from the manual's examples (and the API key that says whose
 * token generate_token issues; see docs/dialects/idenface.md).
 */
let server: RunningServer;
let base: string;
const KEY = 'idenface-dialect-bootstrap-key';
let apiKey: string;
let personA: Buffer, personB: Buffer, blank: Buffer, group: Buffer;
/** Person A's head in photo 1 is rolled by 45°: turned upright (two crops), it is the card and the selfie of the examples. */
let cardPhoto: Buffer, selfiePhoto: Buffer, rolledPhoto: Buffer;

/** Counts of what the suite checked, printed at the end. */
const counted = { exampleChecks: 0, errorCodes: new Set<string>() };
const check = <T>(actual: T) => { counted.exampleChecks++; return expect(actual); };

/** The manual's "base64 url-encode" (Python's base64.urlsafe_b64encode: URL alphabet, padded). */
const b64url = (buf: Uint8Array) => Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
const fromB64url = (s: string) => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');

/** The manual's client: generate_token, then every call with Authorization: Bearer {{jwt}}. */
class IdenfaceClient {
  jwt = '';
  constructor(readonly baseUrl: string, readonly apiKey: string) {}

  async generateToken(body: Record<string, unknown>, headers: Record<string, string> = { 'X-API-Key': this.apiKey }) {
    const res = await this.send('generate_token', body, headers);
    if (res.status === 200) this.jwt = res.body.responseBody.jwt;
    return res;
  }

  call(operation: string, body: unknown, jwt = this.jwt) {
    return this.send(operation, body, jwt ? { Authorization: `Bearer ${jwt}` } : {});
  }

  async send(operation: string, body: unknown, headers: Record<string, string>, contentType = 'application/json') {
    const res = await fetch(`${this.baseUrl}/api/controller/${operation}`, {
      method: 'POST', headers: { 'Content-Type': contentType, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: any;
    try { parsed = JSON.parse(text); } catch { parsed = text; }
    return { status: res.status, body: parsed };
  }

  /** retrieve_pubky's key (hex DER SubjectPublicKeyInfo) as a Web Crypto RSA-OAEP key. */
  async publicKey(): Promise<CryptoKey> {
    const res = await this.call('retrieve_pubky', {});
    return crypto.subtle.importKey('spki', Buffer.from(res.body.responseBody.key, 'hex'), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  }

  /** The documented E2E1 envelope: E2E1.<wrapped AES key>.<IV>.<AES-256-GCM ciphertext ‖ tag>, base64url. */
  async encrypt(key: CryptoKey, plain: Uint8Array): Promise<string> {
    const aes = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt']);
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', aes));
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, aes, new Uint8Array(plain)));
    const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, key, raw));
    return `E2E1.${[wrapped, iv, sealed].map((b) => Buffer.from(b).toString('base64url')).join('.')}`;
  }
}

let client: IdenfaceClient;

/** The manual's `parameter` objects, as its examples print them. */
const ANGLES = { angle_calibration: true, occlusion: true, face_angle_difference: 15, face_left_angle_range: [35, 58], face_right_angle_range: [35, 57] };
const META = { os: 'IOS', manufacturer: 'SAMSUNG', model: 'UNKNOWN', cropped: 0 };

/** The top level of the manual's answers: transaction, status "OK", responseBody. */
function expectEnvelope(body: any, keys: string[]) {
  check(Object.keys(body).sort()).toEqual(keys.sort());
  check(body.status).toBe('OK');
  if (keys.includes('transaction_id')) check(typeof body.transaction_id).toBe('string');
  if (keys.includes('transaction_status')) check(Number.isInteger(body.transaction_status)).toBe(true);
}

/** An extract/verify result as the manual shows it: pipeline, adapter, face_side_angles [left, right, difference], face_bbox [4 ints], face_vector. */
function expectFaceResult(result: any, extra: string[] = [], vector = true) {
  check(Object.keys(result).sort()).toEqual(['adapter', 'face_bbox', 'face_side_angles', 'pipeline', ...(vector ? ['face_vector'] : []), ...extra].sort());
  check(typeof result.pipeline).toBe('string');
  check(typeof result.adapter).toBe('string');
  expectAngles(result.face_side_angles);
  expectBox(result.face_bbox);
  if (vector) check(result.face_vector).toMatch(/^[A-Za-z0-9_-]+=*$/);
}
function expectAngles(a: number[]) {
  check(a).toHaveLength(3);
  check(a[0]).toBeGreaterThan(20);
  check(a[1]).toBeGreaterThan(20);
  check(a[2]).toBeCloseTo(Math.abs(a[1] - a[0]), 4);
}
function expectBox(b: number[]) {
  check(b).toHaveLength(4);
  check(b.every(Number.isInteger)).toBe(true);
  check(b[2]).toBeGreaterThan(b[0]);
  check(b[3]).toBeGreaterThan(b[1]);
}
function expectSub(sub: any, status: string, message: string) {
  check(Object.keys(sub).sort()).toEqual(['message', 'reason', 'result', 'status']);
  check(sub.status).toBe(status);
  check(sub.reason).toBeNull();
  check(sub.message).toBe(message);
}
function expectLiveness(sub: any) {
  expectSub(sub, 'LIV_0000', 'Operation Success.');
  check(Object.keys(sub.result).sort()).toEqual(['error', 'error_code', 'probability', 'quality', 'score']);
  check(sub.result.error).toBeNull();
  check(sub.result.error_code).toBeNull();
  check(sub.result.probability).toBeGreaterThanOrEqual(0);
  check(sub.result.probability).toBeLessThanOrEqual(1);
  // score is the logit of probability, as in the manual (12.057634 ↔ 0.99999416).
  const p = Math.min(1 - 1e-9, Math.max(1e-9, sub.result.probability));
  check(sub.result.score).toBeCloseTo(Math.log(p / (1 - p)), 1);
  check(sub.result.quality).toBeGreaterThanOrEqual(0);
  check(sub.result.quality).toBeLessThanOrEqual(1);
}

/** A failure: the manual's envelope with the controller's code and, for a face or liveness code, that service's sub-response. */
function expectFailure(res: { status: number; body: any }, http: number, code: string, sub?: string) {
  expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(http);
  expect(Object.keys(res.body).sort()).toEqual(['channel_id', 'responseBody', 'status', 'transaction_id', 'transaction_status']);
  expect(res.body.status).toBe(http === 200 ? 'OK' : 'ERROR');
  expect(res.body.transaction_status).toBe(3);
  if (code.startsWith('IDFCTR_')) {
    expect(res.body.responseBody.status).toBe(code);
  } else {
    const s = res.body.responseBody[sub ?? (code.startsWith('LIV_') ? 'face_liveness_response' : 'feature_extract_response')];
    expect(s, JSON.stringify(res.body.responseBody)).toBeDefined();
    expect(s.status).toBe(code);
    expect(s.result).toBeNull();
    expect(typeof s.message).toBe('string');
    expect(res.body.responseBody.status).toMatch(/^IDFCTR_0(204|300|301)$/);
  }
  counted.errorCodes.add(code);
}

beforeAll(async () => {
  server = await startServer('idenface', KEY);
  base = server.base;
  const admin = server.admin;
  expect((await admin('/v1/admin/clients', { client_id: 'bank' })).status).toBe(201);
  const scopes = ['compare', 'detect', 'quality', 'liveness', 'images', 'users', 'collections', 'sessions'];
  apiKey = (await (await admin('/v1/admin/clients/bank/keys', { scopes })).json()).key.api_key;
  client = new IdenfaceClient(`${base}/idenface`, apiKey);
  [personA, personB, blank] = await Promise.all([selfieCrop(3, 830, 100), selfieCrop(3, 370, 200), blankImage(640, 480, 'jpeg')]);
  group = await sharp(samplePhoto(3)).resize(1280).jpeg().toBuffer();
  const turned = async (left: number, top: number, degrees: number) => sharp(await selfieCrop(1, left, top)).rotate(degrees, { background: '#808080' }).jpeg({ quality: 92 }).toBuffer();
  [cardPhoto, selfiePhoto, rolledPhoto] = await Promise.all([turned(1250, 0, -45), turned(1280, 40, -40), turned(1250, 0, 40)]);
}, 90_000);

afterAll(() => {
  console.log(`iDenFace dialect: ${counted.exampleChecks} example checks; ${counted.errorCodes.size} error codes provoked: ${[...counted.errorCodes].sort().join(', ')}`);
  server?.stop();
});

describe('the manual\'s examples, sent as printed', () => {
  let card: { transaction_id: string; image_id: string; face_id: string };

  it('generate_token: responseBody.jwt and status OK; the flags become the token\'s services', async () => {
    const res = await client.generateToken({ enableFace11: true, enableFaceManager: true, enableImageManager: true, enableLiveness: true, subject: 'test' });
    check(res.status).toBe(200);
    expectEnvelope(res.body, ['responseBody', 'status']);
    check(Object.keys(res.body.responseBody)).toEqual(['jwt']);
    const [, payload] = res.body.responseBody.jwt.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    check(claims.sub).toBe('test');
    check(claims.exp - claims.iat).toBe(36_000);
    check(claims.scope.split(' ').sort()).toEqual(['collections', 'compare', 'detect', 'images', 'liveness', 'quality', 'sessions', 'users']);
  });

  it('retrieve_pubky: an RSA-2048 SubjectPublicKeyInfo in upper-case hex, like the manual\'s', async () => {
    const res = await client.call('retrieve_pubky', {});
    check(res.status).toBe(200);
    expectEnvelope(res.body, ['responseBody', 'status']);
    check(Object.keys(res.body.responseBody)).toEqual(['key']);
    check(res.body.responseBody.key).toMatch(/^30820122300D06092A864886F70D01010105000382010F003082010A0282010100[0-9A-F]{512}0203010001$/);
    check((await client.call('retrieve_pubky', {})).body.responseBody.key).toBe(res.body.responseBody.key);
  });

  it('self_card_enroll: feature_extract_response, face_id, pk, face_feature_id, image_id, IDFCTR_0000', async () => {
    const res = await client.call('self_card_enroll', {
      user_id: '', channel_id: 'cube', user_name: '', parameter: ANGLES,
      image_info: b64url(cardPhoto), category: 'VISA', type: 'XXX', meta: META,
    });
    check(res.status).toBe(200);
    expectEnvelope(res.body, ['transaction_id', 'transaction_status', 'responseBody', 'channel_id', 'status']);
    check(res.body.transaction_status).toBe(2);
    check(res.body.channel_id).toBe('cube');
    const rb = res.body.responseBody;
    check(Object.keys(rb).sort()).toEqual(['face_feature_id', 'face_id', 'feature_extract_response', 'image_id', 'message', 'pk', 'status']);
    check(rb.status).toBe('IDFCTR_0000');
    check(rb.message).toBe('Operation successful.');
    check(rb.pk).toBe(0);
    // An empty user_id: the person is the transaction.
    check(rb.face_id).toBe(res.body.transaction_id);
    expectSub(rb.feature_extract_response, 'F11_0000', 'Success to extract feature from the uploaded image.');
    expectFaceResult(rb.feature_extract_response.result);
    card = { transaction_id: res.body.transaction_id, image_id: rb.image_id, face_id: rb.face_id };
  });

  it('self_card_verify: face_liveness_response and face_verify_response with normalized_score and original_score', async () => {
    const res = await client.call('self_card_verify', {
      transaction_id: card.transaction_id, user_id: '', channel_id: 'cube', user_name: '',
      parameter: { ...ANGLES, liveness: true, liveness_threshold: 0.5, similarity_threshold: 0.75 },
      image_info: b64url(selfiePhoto), category: 'SELFIE', type: 'JP_DRIVE', meta: META,
    });
    check(res.status).toBe(200);
    expectEnvelope(res.body, ['transaction_id', 'transaction_status', 'responseBody', 'channel_id', 'status']);
    check(res.body.transaction_id).toBe(card.transaction_id);
    const rb = res.body.responseBody;
    check(Object.keys(rb).sort()).toEqual(['face_feature_id', 'face_id', 'face_liveness_response', 'face_verify_response', 'image_id', 'message', 'pk', 'status']);
    check(rb.face_id).toBe(card.face_id);
    expectLiveness(rb.face_liveness_response);
    expectSub(rb.face_verify_response, 'F11_0000', 'Success to perform verification.');
    expectFaceResult(rb.face_verify_response.result, ['normalized_score', 'original_score']);
    const { normalized_score: n, original_score: o } = rb.face_verify_response.result;
    check(n).toBeGreaterThanOrEqual(0.75);
    check(o).toBeGreaterThan(0);
    check(o).toBeLessThanOrEqual(1);
    check(rb.face_liveness_response.result.probability).toBeGreaterThanOrEqual(0.5);
    check(rb.status).toBe('IDFCTR_0000');
    check(res.body.transaction_status).toBe(2);
  });

  it('self_self_enroll and self_self_verify: the person of {{curr_uuid}}, liveness thresholds as score (1.9) and probability (0.9), SOFT', async () => {
    const uuid = randomUUID();
    const enrol = await client.call('self_self_enroll', {
      user_id: uuid, channel_id: 'counter', user_name: 'donny',
      parameter: { ...ANGLES, liveness: true, liveness_threshold: 1.9 },
      image_info: b64url(cardPhoto), category: 'SELFIE', type: 'JP_DRIVE', meta: META,
    });
    check(enrol.status).toBe(200);
    expectEnvelope(enrol.body, ['transaction_id', 'transaction_status', 'responseBody', 'channel_id', 'status']);
    const rb = enrol.body.responseBody;
    expectLiveness(rb.face_liveness_response);
    expectSub(rb.face_extract_response, 'F11_0000', 'Success to extract feature from the uploaded image.');
    // A liveness_threshold above 1 is on the score (the logit).
    check(rb.face_liveness_response.result.score).toBeGreaterThanOrEqual(1.9);
    check(Object.keys(rb).sort()).toEqual(['face_extract_response', 'face_feature_id', 'face_id', 'face_liveness_response', 'image_id', 'message', 'pk', 'status']);
    check(rb.status).toBe('IDFCTR_0000');
    check(rb.face_id).toBe(uuid);
    expectFaceResult(rb.face_extract_response.result);

    const verify = await client.call('self_self_verify', {
      user_id: uuid, channel_id: 'counter', user_name: '',
      parameter: { ...ANGLES, liveness: true, liveness_threshold: 0.9, liveness_calibration: 'SOFT', liveness_pipeline: 'aphrodite', similarity_threshold: 1 },
      image_info: b64url(selfiePhoto), category: 'SELFIE', type: 'JP_DRIVE', meta: META,
    });
    check(verify.status).toBe(200);
    const vb = verify.body.responseBody;
    check(Object.keys(vb).sort()).toEqual(['face_feature_id', 'face_id', 'face_liveness_response', 'face_verify_response', 'image_id', 'message', 'pk', 'status']);
    check(vb.face_id).toBe(uuid);
    check(vb.face_feature_id).toBe(rb.face_feature_id);
    expectLiveness(vb.face_liveness_response);
    expectFaceResult(vb.face_verify_response.result, ['normalized_score', 'original_score']);
    const passed = vb.face_verify_response.result.normalized_score >= 1 && vb.face_liveness_response.result.probability >= 0.9;
    check(verify.body.transaction_status).toBe(passed ? 2 : 3);
  });

  it('find_image: image_info (base64 url-encode), face_id, face_feature_id; shrunk on request', async () => {
    const res = await client.call('find_image', { channel_id: 'TP_IDGATE', image_id: card.image_id, shrunk_image: true });
    check(res.status).toBe(200);
    expectEnvelope(res.body, ['status', 'responseBody']);
    const rb = res.body.responseBody;
    check(Object.keys(rb).sort()).toEqual(['face_feature_id', 'face_id', 'image_info', 'message', 'status']);
    check(rb.status).toBe('IDFCTR_0000');
    check(rb.face_id).toBe(card.face_id);
    check(typeof rb.face_feature_id).toBe('string');
    const shrunk = await sharp(fromB64url(rb.image_info)).metadata();
    check(shrunk.format).toBe('jpeg');
    check(Math.max(shrunk.width!, shrunk.height!)).toBeLessThanOrEqual(480);
    const original = await client.call('find_image', { channel_id: 'TP_IDGATE', image_id: card.image_id, shrunk_image: false });
    check(fromB64url(original.body.responseBody.image_info).equals(cardPhoto)).toBe(true);
  });

  it('photo_detect: at the URL the manual prints (find_image) and at the table\'s (photo_detect)', async () => {
    const body = { parameter: { ...ANGLES, liveness: true, liveness_threshold: 0.5 }, image_info: b64url(selfiePhoto) };
    for (const operation of ['find_image', 'photo_detect']) {
      const res = await client.call(operation, body);
      check(res.status).toBe(200);
      expectEnvelope(res.body, ['transaction_id', 'transaction_status', 'responseBody', 'status']);
      const rb = res.body.responseBody;
      check(Object.keys(rb).sort()).toEqual(['face_extract_response', 'face_liveness_response', 'message', 'status']);
      expectLiveness(rb.face_liveness_response);
      expectSub(rb.face_extract_response, 'F11_0000', 'Success to extract feature from the uploaded image.');
      expectFaceResult(rb.face_extract_response.result, [], false);
    }
  });

  it('compare two photos: at find_image with image_info1/image_info2 objects, and at photo_compare with the table\'s image_info_1/image_info_2', async () => {
    const image = (buf: Buffer) => ({ data: [buf.toString('base64')], category: 'VISA', type: 'JP_DRIVE', meta: META });
    const printed = {
      transaction_id: '444922cf-0a83-471c-9717-43c8d122e111', user_id: 'donny1126', channel_id: 'test_channel_id',
      parameter: { ...ANGLES, use_urlsafe_base64: false, similarity_threshold: 0.5 },
      image_info1: image(cardPhoto), image_info2: image(selfiePhoto),
    };
    const table = {
      transaction_id: '444922cf-0a83-471c-9717-43c8d122e111', channel_id: 'test_channel_id', parameter: { ...ANGLES, similarity_threshold: 0.5 },
      image_info_1: b64url(cardPhoto), category_1: 'SLEFIE', type_1: 'JP_DRIVE', meta_1: META,
      image_info_2: b64url(selfiePhoto), category_2: 'SLEFIE', type_2: 'JP_DRIVE', meta_2: META,
    };
    for (const [operation, body] of [['find_image', printed], ['photo_compare', table]] as const) {
      const res = await client.call(operation, body);
      check(res.status).toBe(200);
      expectEnvelope(res.body, ['transaction_id', 'transaction_status', 'channel_id', 'responseBody', 'status']);
      check(res.body.transaction_id).toBe('444922cf-0a83-471c-9717-43c8d122e111');
      check(res.body.transaction_status).toBe(2);
      const rb = res.body.responseBody;
      check(Object.keys(rb).sort()).toEqual(['face_compare_response', 'message', 'session_id', 'status', 'transaction_id']);
      check(rb.status).toBe('IDFCTR_0000');
      check(rb.transaction_id).toBeNull();
      check(rb.session_id).toBeNull();
      expectSub(rb.face_compare_response, 'F11_0000', 'Success to compare two uploaded faces.');
      const r = rb.face_compare_response.result;
      check(Object.keys(r).sort()).toEqual(['adapter', 'face_1_bbox', 'face_1_side_angles', 'face_2_bbox', 'face_2_side_angles', 'normalized_score', 'original_score', 'pipeline']);
      expectBox(r.face_1_bbox);
      expectBox(r.face_2_bbox);
      expectAngles(r.face_1_side_angles);
      expectAngles(r.face_2_side_angles);
      check(r.normalized_score).toBeGreaterThan(0.7);
    }
  });
});

describe('end-to-end encryption (retrieve_pubky, E2E1)', () => {
  it('an image field encrypted with the retrieved key is read as the plain one; a tampered one is refused', async () => {
    await client.generateToken({ enableFace11: true });
    const key = await client.publicKey();
    const plainBody = (image: string) => ({ parameter: { ...ANGLES }, image_info: image });
    const plain = await client.call('photo_detect', plainBody(b64url(selfiePhoto)));
    expect(plain.status).toBe(200);
    const asBytes = await client.call('photo_detect', plainBody(await client.encrypt(key, selfiePhoto)));
    const asBase64 = await client.call('photo_detect', plainBody(await client.encrypt(key, new TextEncoder().encode(b64url(selfiePhoto)))));
    for (const res of [asBytes, asBase64]) {
      expect(res.status).toBe(200);
      expect(res.body.responseBody.face_extract_response.result).toEqual(plain.body.responseBody.face_extract_response.result);
    }
    const envelope = await client.encrypt(key, selfiePhoto);
    const tampered = `${envelope.slice(0, -8)}${envelope.slice(-8, -4) === 'AAAA' ? 'BBBB' : 'AAAA'}${envelope.slice(-4)}`;
    expectFailure(await client.call('photo_detect', plainBody(tampered)), 422, 'F11_0204', 'face_extract_response');
  });
});

describe('error codes of the manual\'s tables', () => {
  const detect = (image: string, parameter: Record<string, unknown> = ANGLES) => client.call('photo_detect', { parameter, image_info: image });
  const enrol = (image: string, parameter: Record<string, unknown> = ANGLES) => client.call('self_card_enroll', { user_id: '', channel_id: 'cube', parameter, image_info: image, category: 'VISA' });

  beforeAll(async () => {
    await client.generateToken({});
  });

  it('Face 1:1 (HTTP 200 but INPUT_VALIDATE_FAILED 422): F11_0204, F11_0205, F11_0200, F11_0300, F11_0304, F11_0307, F11_0308, F11_0309, F11_0303, F11_0306, F11_0310', async () => {
    expectFailure(await client.call('self_card_enroll', { user_id: '', channel_id: 'cube', category: 'VISA' }), 422, 'F11_0204');
    expectFailure(await client.call('self_card_enroll', { image_info: 'x', parameter: { liveness_threshold: 'high' } }), 422, 'F11_0204');
    expectFailure(await enrol('!!!not base64!!!'), 200, 'F11_0205');
    expectFailure(await enrol(b64url(Buffer.from('not an image at all, only text'))), 200, 'F11_0200');
    expectFailure(await enrol(b64url(blank)), 200, 'F11_0300');
    expectFailure(await enrol(b64url(group)), 200, 'F11_0304');
    expectFailure(await enrol(b64url(cardPhoto), { ...ANGLES, face_left_angle_range: [0, 1] }), 200, 'F11_0307');
    expectFailure(await enrol(b64url(cardPhoto), { ...ANGLES, face_right_angle_range: [80, 90] }), 200, 'F11_0308');
    expectFailure(await enrol(b64url(cardPhoto), { ...ANGLES, face_angle_difference: 0 }), 200, 'F11_0309');
    expectFailure(await enrol(b64url(rolledPhoto)), 200, 'F11_0303');
    // Person A in photo 3 reads as occluded to the portrait checks (see docs/dialects/idenface.md): FACE_IS_OCCLUDED, and not with occlusion off.
    expectFailure(await enrol(b64url(personA)), 200, 'F11_0306');
    expect((await detect(b64url(personA), { ...ANGLES, occlusion: false })).status).toBe(200);
    // So small (60 px wide) that the landmarks leave the face: its angle cannot be measured.
    expectFailure(await enrol(b64url(await sharp(selfiePhoto).resize(60).jpeg({ quality: 95 }).toBuffer())), 200, 'F11_0310');
  });

  it('Liveness (HTTP 400, MULTIPLE_FACES_DETECTED 422) when liveness is asked: LIV_0205, LIV_0200, LIV_0300, LIV_0304, LIV_0307, LIV_0308, LIV_0309, LIV_0303, LIV_0306, LIV_0310, LIV_0302', async () => {
    const live = { ...ANGLES, liveness: true };
    expectFailure(await detect('!!!not base64!!!', live), 400, 'LIV_0205');
    expectFailure(await detect(b64url(Buffer.from('not an image at all, only text')), live), 400, 'LIV_0200');
    expectFailure(await detect(b64url(blank), live), 400, 'LIV_0300');
    expectFailure(await detect(b64url(group), live), 422, 'LIV_0304');
    expectFailure(await detect(b64url(selfiePhoto), { ...live, face_left_angle_range: [0, 1] }), 400, 'LIV_0307');
    expectFailure(await detect(b64url(selfiePhoto), { ...live, face_right_angle_range: [80, 90] }), 400, 'LIV_0308');
    expectFailure(await detect(b64url(selfiePhoto), { ...live, face_angle_difference: 0 }), 400, 'LIV_0309');
    expectFailure(await detect(b64url(rolledPhoto), live), 400, 'LIV_0303');
    expectFailure(await detect(b64url(personA), live), 400, 'LIV_0306');
    expectFailure(await detect(b64url(await sharp(selfiePhoto).resize(60).jpeg({ quality: 95 }).toBuffer()), live), 400, 'LIV_0310');
    // 80 px wide: a face with its landmarks, its eyes too close together for the liveness cues.
    expectFailure(await detect(b64url(await sharp(selfiePhoto).resize(80).jpeg({ quality: 95 }).toBuffer()), live), 400, 'LIV_0302');
  });

  it('controller: IDFCTR_0401 without or with a bad token, IDFCTR_0403 for a service the token does not enable, IDFCTR_0404, IDFCTR_0204, IDFCTR_0415', async () => {
    // generate_token exactly as printed, with no credential: whose token would it be?
    expectFailure(await client.generateToken({ enableFace11: true, subject: 'test' }, {}), 401, 'IDFCTR_0401');
    expectFailure(await client.call('retrieve_pubky', {}, ''), 401, 'IDFCTR_0401');
    expectFailure(await client.call('retrieve_pubky', {}, 'not.a.jwt'), 401, 'IDFCTR_0401');
    expectFailure(await client.generateToken({ enableFace11: false, enableLiveness: false }), 422, 'IDFCTR_0204');
    const imagesOnly = new IdenfaceClient(client.baseUrl, apiKey);
    await imagesOnly.generateToken({ enableImageManager: true });
    expectFailure(await imagesOnly.call('self_card_enroll', { image_info: b64url(personA) }), 403, 'IDFCTR_0403');
    expectFailure(await imagesOnly.call('find_image', { parameter: ANGLES, image_info: b64url(personA) }), 403, 'IDFCTR_0403');
    const face11 = new IdenfaceClient(client.baseUrl, apiKey);
    await face11.generateToken({ enableFace11: true });
    expectFailure(await face11.call('photo_detect', { parameter: { liveness: true }, image_info: b64url(personA) }), 403, 'IDFCTR_0403');
    expectFailure(await client.call('find_image', { image_id: 'img_0123456789abcdef', shrunk_image: true }), 404, 'IDFCTR_0404');
    expectFailure(await client.call('find_image', { image_id: 159 }), 404, 'IDFCTR_0404');
    expectFailure(await client.call('self_self_verify', { user_id: 'nobody', image_info: b64url(personA) }), 404, 'IDFCTR_0404');
    expectFailure(await client.call('self_self_verify', { user_id: '', image_info: b64url(personA) }), 422, 'F11_0204', 'face_verify_response');
    expectFailure(await client.call('find_image', { shrunk_image: true }), 422, 'IDFCTR_0204');
    const text = await client.send('retrieve_pubky', 'hello', { Authorization: `Bearer ${client.jwt}` }, 'text/plain');
    expectFailure(text, 415, 'IDFCTR_0415');
    expectFailure(await client.call('self_card_enroll', { image_info: 'A'.repeat(1.7 * 1024 * 1024) }), 413, 'IDFCTR_0413');
  });

  it('controller: IDFCTR_0409 for a deactivated person, IDFCTR_0429 over the client\'s rate', async () => {
    const userId = randomUUID();
    const enrolled = await client.call('self_card_enroll', { user_id: userId, parameter: ANGLES, image_info: b64url(cardPhoto), category: 'VISA' });
    expect(enrolled.body.responseBody.status).toBe('IDFCTR_0000');
    expect((await fetch(`${base}/v1/users/${userId}/deactivate`, { method: 'POST', headers: { 'x-api-key': apiKey } })).status).toBe(200);
    expectFailure(await client.call('self_card_verify', { user_id: userId, parameter: ANGLES, image_info: b64url(selfiePhoto) }), 409, 'IDFCTR_0409');

    const admin = (url: string, body: object) => fetch(`${base}${url}`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await admin('/v1/admin/clients', { client_id: 'slow', rate_per_second: 0.1, burst: 1 })).status).toBe(201);
    const slowKey = (await (await admin('/v1/admin/clients/slow/keys', { scopes: ['images'] })).json()).key.api_key;
    const slow = new IdenfaceClient(client.baseUrl, slowKey);
    expect((await slow.generateToken({ enableImageManager: true })).status).toBe(200);
    expectFailure(await slow.call('retrieve_pubky', {}), 429, 'IDFCTR_0429');
  });
});

describe('end to end: token → enrol a card → verify selfies, as /v1/compare decides', () => {
  it('the same person passes and another does not, with normalized_score ≥ 0.7 exactly where /v1/compare says match', async () => {
    await client.generateToken({ enableFace11: true, enableFaceManager: true, enableImageManager: true, enableLiveness: true, subject: 'e2e' });
    const userId = randomUUID();
    const enrolled = await client.call('self_card_enroll', { user_id: userId, channel_id: 'bank', parameter: ANGLES, image_info: b64url(cardPhoto), category: 'VISA', type: 'PASSPORT', meta: META });
    expect(enrolled.body.responseBody.status).toBe('IDFCTR_0000');
    const verify = (selfie: Buffer) => client.call('self_card_verify', {
      // Person A in photo 3 reads as occluded to the portrait checks: occlusion off.
      user_id: userId, channel_id: 'bank', parameter: { ...ANGLES, occlusion: false, similarity_threshold: 0.7 }, image_info: b64url(selfie), category: 'SELFIE', meta: META,
    });
    const native = async (selfie: Buffer) => (await (await fetch(`${base}/v1/compare`, {
      method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ source: { base64: cardPhoto.toString('base64') }, target: { base64: selfie.toString('base64') }, source_type: 'ID_DOCUMENT', target_type: 'SELFIE' }),
    })).json()).decision as string;
    for (const [selfie, expected] of [[personA, 'match'], [personB, 'no_match']] as const) {
      const res = await verify(selfie);
      expect(res.status).toBe(200);
      const score = res.body.responseBody.face_verify_response.result.normalized_score;
      const decision = await native(selfie);
      expect(decision).toBe(expected);
      expect(score >= 0.7).toBe(decision === 'match');
      expect(res.body.transaction_status).toBe(decision === 'match' ? 2 : 3);
      expect(res.body.responseBody.status).toBe(decision === 'match' ? 'IDFCTR_0000' : 'IDFCTR_0311');
      if (decision !== 'match') counted.errorCodes.add('IDFCTR_0311');
    }
    // Not live under a HARDENED calibration and a demanding threshold: IDFCTR_0310.
    const strict = await client.call('self_card_verify', { user_id: userId, parameter: { ...ANGLES, liveness: true, liveness_calibration: 'HARDENED', liveness_threshold: 0.999999 }, image_info: b64url(selfiePhoto) });
    expect(strict.status).toBe(200);
    expectLiveness(strict.body.responseBody.face_liveness_response);
    if (strict.body.responseBody.face_liveness_response.result.probability < 0.999999) {
      expect(strict.body.responseBody.status).toBe('IDFCTR_0310');
      counted.errorCodes.add('IDFCTR_0310');
    }
  }, 60_000);
});

describe('core additions for the dialect', () => {
  it('E2E1 envelopes: a round trip, the key kept sealed across a restart, and refusals of a tampered envelope or another key', async () => {
    const { PayloadEncryption } = await import('../src/core/payload-encryption.ts');
    const { MasterKeyring } = await import('../src/store/crypto/master-keyring.ts');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-e2e1-'));
    try {
      const ring = MasterKeyring.fromEnvironment(Buffer.alloc(32, 7).toString('base64'));
      const file = path.join(dir, 'keys', 'payload-rsa.json');
      expect(() => PayloadEncryption.openFile(file, ring, { create: false }).publicKeyDer()).toThrow(/no payload encryption key/);
      const first = PayloadEncryption.openFile(file, ring, { create: true });
      const der = first.publicKeyDer();
      const stored = fs.readFileSync(file, 'utf8');
      expect(stored).not.toContain('PRIVATE');
      const again = PayloadEncryption.openFile(file, ring, { create: false });
      expect(again.publicKeyDer().equals(der)).toBe(true);
      const plain = Buffer.from('an image, or its base64');
      const envelope = PayloadEncryption.encrypt(der, plain);
      expect(PayloadEncryption.isEnvelope(envelope)).toBe(true);
      expect(again.decrypt(envelope, 'image_info').equals(plain)).toBe(true);
      const parts = envelope.split('.');
      const flipped = Buffer.from(parts[3], 'base64url');
      flipped[0] ^= 1;
      expect(() => again.decrypt([...parts.slice(0, 3), flipped.toString('base64url')].join('.'), 'image_info')).toThrow(/does not authenticate/);
      expect(() => again.decrypt('E2E1.only.two', 'image_info')).toThrow(/not an E2E1 envelope/);
      const other = PayloadEncryption.openFile(path.join(dir, 'other.json'), ring, { create: true });
      expect(() => other.decrypt(envelope, 'image_info')).toThrow(/does not open/);
      const wrongRing = MasterKeyring.fromEnvironment(Buffer.alloc(32, 9).toString('base64'));
      expect(() => PayloadEncryption.openFile(file, wrongRing, { create: false }).publicKeyDer()).toThrow();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('side angles: 45° each for a frontal level face, a difference of |yaw|/2, and the first limit broken', async () => {
    const { sideAngles, sideAngleViolation, livenessProbability } = await import('../src/core/face-side-angles.ts');
    expect(sideAngles({ yaw: 0, pitch: 0 })).toEqual({ left: 45, right: 45, difference: 0 });
    const turned = sideAngles({ yaw: 30, pitch: 0 });
    expect(turned).toEqual({ left: 37.5, right: 52.5, difference: 15 });
    const limits = { left: [35, 58] as const, right: [35, 57] as const, maxDifference: 15 };
    expect(sideAngleViolation(turned, limits)).toBeUndefined();
    expect(sideAngleViolation(sideAngles({ yaw: 32, pitch: 0 }), limits)).toBe('difference');
    expect(sideAngleViolation(sideAngles({ yaw: 0, pitch: -44 }), limits)).toBe('left');
    expect(sideAngleViolation(sideAngles({ yaw: 0, pitch: 50 }), limits)).toBe('right');
    // The liveness probability is 0.5 exactly at the level's threshold, and its logit is the score.
    expect(livenessProbability(0.3, 0.3).probability).toBeCloseTo(0.5, 9);
    const p = livenessProbability(0.9, 0.3);
    expect(p.probability).toBeGreaterThan(0.9);
    expect(p.logit).toBeCloseTo(Math.log(p.probability / (1 - p.probability)), 9);
  });

  it('shrinking: within 480 px, JPEG, never enlarged', async () => {
    const { shrinkImage } = await import('../src/core/image-shrink.ts');
    const big = await sharp(samplePhoto(1)).jpeg().toBuffer();
    const small = await sharp(await shrinkImage(big)).metadata();
    expect(small.format).toBe('jpeg');
    expect(Math.max(small.width!, small.height!)).toBe(480);
    const tiny = await sharp(await shrinkImage(await blankImage(100, 80))).metadata();
    expect([tiny.width, tiny.height]).toEqual([100, 80]);
  });
});
