import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { blankImage, selfieCrop } from './helpers/images.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

/**
 * ADVANCE.AI's dialect (seeds/003) against a real server process, driven by a client written from
 * the manual alone: its own SHA-256 token signature, its own multipart (FormData), the manual's
 * field names. Only the host differs from the manual's examples.
 */
let server: RunningServer;
let base: string;
const KEY = 'advance-dialect-bootstrap-key';
let accessKey: string;
let secretKey: string;
let personA: Buffer, personAElsewhere: Buffer, personB: Buffer;

/** The manual's client: generate-token, then face-recognition/v4/check with X-ACCESS-TOKEN. */
class AdvanceClient {
  token = '';
  constructor(readonly baseUrl: string, readonly accessKey: string, readonly secretKey: string) {}

  async generateToken(overrides: Record<string, unknown> = {}, periodSecond: number | string = 120) {
    const timestamp = Date.now();
    const signature = createHash('sha256').update(`${this.accessKey}${this.secretKey}${timestamp}`).digest('hex');
    const res = await fetch(`${this.baseUrl}/openapi/auth/ticket/v1/generate-token`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ accessKey: this.accessKey, signature, timestamp, periodSecond, ...overrides }),
    });
    const body = await res.json();
    if (body.code === 'SUCCESS') this.token = body.data.token;
    return { status: res.status, body };
  }

  async check(first: Buffer | string | undefined, second: Buffer | string | undefined, token = this.token) {
    const form = new FormData();
    for (const [name, value] of [['firstImage', first], ['secondImage', second]] as const) {
      if (typeof value === 'string') form.append(name, value);
      else if (value !== undefined) form.append(name, new Blob([new Uint8Array(value)], { type: 'image/jpeg' }), `${name}.jpg`);
    }
    const res = await fetch(`${this.baseUrl}/openapi/face-recognition/v4/check`, { method: 'POST', headers: { 'X-ACCESS-TOKEN': token }, body: form });
    return { status: res.status, body: await res.json(), headers: res.headers };
  }
}

let client: AdvanceClient;

/** The six fields of every ADVANCE answer, with the manual's types. */
function expectEnvelope(body: Record<string, unknown>, code: string, pricing: 'FREE' | 'PAY') {
  expect(Object.keys(body).sort()).toEqual(['code', 'data', 'extra', 'message', 'pricingStrategy', 'transactionId']);
  expect(body.code).toBe(code);
  expect(body.pricingStrategy).toBe(pricing);
  expect(typeof body.message).toBe('string');
  expect(typeof body.transactionId).toBe('string');
  expect((body.transactionId as string).length).toBeLessThanOrEqual(64);
}

beforeAll(async () => {
  server = await startServer('advance', KEY);
  base = server.base;
  const admin = server.admin;
  expect((await admin('/v1/admin/clients', { client_id: 'bank' })).status).toBe(201);
  const key = (await (await admin('/v1/admin/clients/bank/keys', { scopes: ['compare', 'audit'], signing: true })).json()).key;
  accessKey = key.key_id;
  secretKey = key.secret;
  client = new AdvanceClient(`${base}/advance`, accessKey, secretKey);
  [personA, personAElsewhere, personB] = await Promise.all([selfieCrop(3, 830, 100), selfieCrop(1, 1250, 0), selfieCrop(3, 370, 200)]);
}, 60_000);

afterAll(() => {
  server?.stop();
});

describe('ADVANCE token authentication (generate-token)', () => {
  it('answers the manual\'s success example: code, message, data.token, data.expiredTime, FREE', async () => {
    const { status, body } = await client.generateToken({}, 120);
    expect(status).toBe(200);
    expectEnvelope(body, 'SUCCESS', 'FREE');
    expect(body.message).toBe('OK');
    expect(body.extra).toBeNull();
    expect(Object.keys(body.data).sort()).toEqual(['expiredTime', 'token']);
    expect(typeof body.data.token).toBe('string');
    expect(body.data.expiredTime).toBeGreaterThan(Date.now() + 110_000);
    expect(body.data.expiredTime).toBeLessThan(Date.now() + 121_000);
  });

  it('answers each error of its table: empty parameter, timestamp, signature, unknown access key', async () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ accessKey: '' }, 'PARAMETER_ERROR', 'Parameter should not be empty'],
      [{ timestamp: Date.now() - 301_000 }, 'PARAMETER_ERROR', 'Timestamp error'],
      [{ signature: 'f'.repeat(64) }, 'PARAMETER_ERROR', 'Signature error'],
      [{ accessKey: 'nobody', signature: 'f'.repeat(64) }, 'IAM_FAILED', 'Access Key not found'],
    ];
    for (const [overrides, code, message] of cases) {
      const { status, body } = await client.generateToken(overrides);
      expect(status).toBe(200);
      expectEnvelope(body, code, 'FREE');
      expect(body.message).toBe(message);
      expect(body.data).toBeNull();
    }
    const missing = await fetch(`${base}/advance/openapi/auth/ticket/v1/generate-token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ accessKey }) });
    expectEnvelope(await missing.json(), 'PARAMETER_ERROR', 'FREE');
    const period = await client.generateToken({}, 30);
    expectEnvelope(period.body, 'PARAMETER_ERROR', 'FREE');
  });
});

describe('ADVANCE face comparison (face-recognition/v4/check)', () => {
  it('compares the same person, different people and a picture without a face, as /v1/compare decides', async () => {
    await client.generateToken();
    const same = await client.check(personA, personAElsewhere);
    expect(same.status).toBe(200);
    expectEnvelope(same.body, 'SUCCESS', 'PAY');
    expect(same.body.message).toBe('OK');
    expect(same.body.extra).toBeNull();
    expect(Object.keys(same.body.data).sort()).toEqual(['firstFace', 'secondFace', 'similarity']);
    for (const [face, id] of [[same.body.data.firstFace, '1'], [same.body.data.secondFace, '2']] as const) {
      expect(Object.keys(face).sort()).toEqual(['bottom', 'id', 'left', 'right', 'top']);
      expect(face.id).toBe(id);
      expect(face.right).toBeGreaterThan(face.left);
      expect(face.bottom).toBeGreaterThan(face.top);
    }
    const different = await client.check(personA, personB);
    expectEnvelope(different.body, 'SUCCESS', 'PAY');

    const native = async (a: Buffer, b: Buffer) => (await (await fetch(`${base}/v1/compare`, {
      method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ source: { base64: a.toString('base64') }, target: { base64: b.toString('base64') }, auto_rotate: true }),
    })).json()).decision as string;
    // The manual's bands: above 70 pass, 55–70 manual check, below 55 reject.
    const band = (s: number) => (s > 70 ? 'match' : s >= 55 ? 'uncertain' : 'no_match');
    expect(band(same.body.data.similarity)).toBe(await native(personA, personAElsewhere));
    expect(band(different.body.data.similarity)).toBe(await native(personA, personB));
    expect(band(same.body.data.similarity)).toBe('match');
    expect(band(different.body.data.similarity)).toBe('no_match');

    const blank = await blankImage(400, 400, 'jpeg');
    const noFirst = await client.check(blank, personA);
    expectEnvelope(noFirst.body, 'NO_FACE_DETECTED_FROM_FIRST_IMAGE', 'PAY');
    expect(noFirst.body.message).toBe('No Face detected from the uploaded first picture');
    const noSecond = await client.check(personA, blank);
    expectEnvelope(noSecond.body, 'NO_FACE_DETECTED_FROM_SECOND_IMAGE', 'PAY');
    expect(noSecond.body.data).toBeNull();
  }, 60_000);

  it('compares pictures turned 90°, 180° and 270° as the upright one', async () => {
    const upright = await client.check(personA, personAElsewhere);
    for (const angle of [90, 180, 270]) {
      const turned = await sharp(personAElsewhere).rotate(angle).jpeg({ quality: 92 }).toBuffer();
      const res = await client.check(personA, turned);
      expectEnvelope(res.body, 'SUCCESS', 'PAY');
      expect(Math.abs(res.body.data.similarity - upright.body.data.similarity), `${angle}°`).toBeLessThan(5);
    }
  }, 60_000);

  it('refuses what the manual refuses, free: format, size, dimensions, empty parameter, token', async () => {
    const webp = await sharp(personA).webp().toBuffer();
    const small = await sharp(personA).resize(200, 150).jpeg().toBuffer();
    const huge = await sharp({ create: { width: 4200, height: 300, channels: 3, background: '#888' } }).jpeg().toBuffer();
    const heavy = await sharp({ create: { width: 1500, height: 1500, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    expect(heavy.length).toBeGreaterThan(2 * 1024 * 1024);
    const cases: Array<[Buffer | string | undefined, Buffer | string | undefined, string, string | undefined]> = [
      [webp, personA, 'IMAGE_INVALID_FORMAT', undefined],
      [Buffer.from('not an image'), personA, 'IMAGE_INVALID_FORMAT', undefined],
      [personA, small, 'IMAGE_INVALID_SIZE', undefined],
      [huge, personA, 'IMAGE_INVALID_SIZE', undefined],
      [heavy, personA, 'IMAGE_INVALID_SIZE', undefined],
      [personA, undefined, 'EMPTY_PARAMETER_ERROR', 'Parameter should not be empty'],
      [undefined, undefined, 'EMPTY_PARAMETER_ERROR', 'Parameter should not be empty'],
    ];
    for (const [first, second, code, message] of cases) {
      const res = await client.check(first, second);
      expect(res.status, code).toBe(200);
      expectEnvelope(res.body, code, 'FREE');
      if (message) expect(res.body.message).toBe(message);
    }
    for (const token of ['', 'not-a-token']) {
      const res = await client.check(personA, personB, token);
      expectEnvelope(res.body, 'IAM_FAILED', 'FREE');
    }
    const wrongPath = await fetch(`${base}/advance/openapi/face-recognition/v9/check`, { method: 'POST', headers: { 'X-ACCESS-TOKEN': client.token } });
    expectEnvelope(await wrongPath.json(), 'CLIENT_ERROR', 'FREE');
  }, 60_000);

  it('answers a face too small or too blurred to compare as low quality, charged', async () => {
    await client.generateToken();
    const tiny = await sharp({ create: { width: 1024, height: 768, channels: 3, background: '#777' } })
      .composite([{ input: await sharp(personA).resize(120).toBuffer(), left: 400, top: 300 }]).jpeg().toBuffer();
    const blurred = await sharp(personB).blur(6).jpeg().toBuffer();
    const first = await client.check(tiny, personB);
    expectEnvelope(first.body, 'FIRST_IMAGE_LOW_QUALITY_FACE', 'PAY');
    expect(first.body.message).toBe('Face quality is too low of the uploaded first picture');
    const second = await client.check(personA, blurred);
    expectEnvelope(second.body, 'SECOND_IMAGE_LOW_QUALITY_FACE', 'PAY');
    expect(second.body.data).toBeNull();
  }, 60_000);

  it('answers a disabled account and a client over its rate as the manual does', async () => {
    const admin = (method: string, url: string, body: object) => fetch(`${base}${url}`, { method, headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await admin('POST', '/v1/admin/clients', { client_id: 'slow', rate_per_second: 0.01, burst: 1 })).status).toBe(201);
    const key = (await (await admin('POST', '/v1/admin/clients/slow/keys', { scopes: ['compare'], signing: true })).json()).key;
    const slow = new AdvanceClient(`${base}/advance`, key.key_id, key.secret);
    expectEnvelope((await slow.generateToken()).body, 'SUCCESS', 'FREE');
    const blank = await blankImage(300, 300, 'jpeg');
    await slow.check(blank, blank);
    const busy = await slow.check(blank, blank);
    expectEnvelope(busy.body, 'SERVICE_BUSY', 'FREE');
    expect(Number(busy.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await admin('PATCH', '/v1/admin/clients/slow', { status: 'disabled' })).status).toBe(200);
    const disabled = await slow.generateToken();
    expectEnvelope(disabled.body, 'ACCOUNT_DISABLED', 'FREE');
    expect(disabled.body.message).toBe('Account Disabled');
  });

  it('is audited and metered: PAY answers billable, FREE ones not', async () => {
    await client.generateToken();
    const res = await client.check(personA, personB);
    // The client's own tenant: its token reads its audit trail and usage (the key has the audit scope).
    const own = { 'x-access-token': client.token };
    const { record } = await (await fetch(`${base}/v1/audit/records/${res.body.transactionId}`, { headers: own })).json();
    expect(record, JSON.stringify(record)).toMatchObject({ route: '/advance/openapi/face-recognition/v4/check', service: 'compare', status: 200 });
    const today = new Date().toISOString().slice(0, 10);
    const usage = await (await fetch(`${base}/v1/usage?from=${today}&to=${today}`, { headers: own })).json();
    const rows = (usage.usage as Array<{ service: string; outcome: string; billable: boolean; count: number }>).filter((r) => r.service === 'compare');
    expect(rows.find((r) => r.outcome === 'processed')?.billable).toBe(true);
    expect(rows.find((r) => r.outcome === 'no_result')?.billable).toBe(true);
    expect(rows.find((r) => r.outcome === 'rejected')?.billable).toBe(false);
  });
});
