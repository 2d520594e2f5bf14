import { afterAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createTestApp, TEST_BOOTSTRAP_KEY } from './helpers/app.ts';
import { b64, samplePhoto, selfieCrop } from './helpers/images.ts';

// Back-pressure and limits on the real server: per-client token bucket, bounded engine queue,
// request timeout, per-route body limits; and credentials kept out of the log.
const apps: FastifyInstance[] = [];
afterAll(async () => { await Promise.all(apps.map((a) => a.close())); });

describe('limits', () => {
  it('rate-limits each client on its own bucket: 429 rate_limit_exceeded with Retry-After', async () => {
    const { app } = await createTestApp();
    apps.push(app);
    await app.inject({ method: 'POST', url: '/v1/admin/clients', payload: { client_id: 'slow', rate_per_second: 0.5, burst: 2 } });
    const key = (await app.inject({ method: 'POST', url: '/v1/admin/clients/slow/keys', payload: { scopes: ['audit'] } })).json().key.api_key;
    const statuses: number[] = [];
    let limited;
    for (let i = 0; i < 4; i++) {
      const res = await app.inject({ url: '/v1/audit/records?limit=1', headers: { 'x-api-key': key } });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) limited = res;
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(limited!.json().error.code).toBe('rate_limit_exceeded');
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another client's bucket is untouched.
    expect((await app.inject({ url: '/v1/audit/records?limit=1' })).statusCode).toBe(200);
    // Refused requests are counted for the client, as rejected and not billable.
    await new Promise((r) => setTimeout(r, 2100));
    const usage = (await app.inject({ url: '/v1/usage', headers: { 'x-api-key': key } })).json();
    const day = new Date().toISOString().slice(0, 10);
    expect(usage.usage).toEqual([
      { day, client_id: 'slow', service: 'audit', outcome: 'processed', billable: false, count: 2 },
      { day, client_id: 'slow', service: 'audit', outcome: 'rejected', billable: false, count: 2 },
    ]);
  });

  it('answers 429 too_many_requests at once when the engine queue is full, and serves the rest', async () => {
    const { app } = await createTestApp({ FACEPROOF_MAX_PENDING_REQUESTS: '2' });
    apps.push(app);
    const image = b64(samplePhoto(1));
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 8 }, async () => {
      const res = await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: image } } });
      return { status: res.statusCode, code: res.statusCode === 429 ? res.json().error.code : undefined, retryAfter: res.headers['retry-after'], ms: performance.now() - started };
    }));
    const refused = results.filter((r) => r.status === 429);
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.every((r) => r.code === 'too_many_requests' && r.retryAfter === '1')).toBe(true);
  });

  it('lets no slow upload hold an engine place: requests whose bodies are still coming do not fill the queue', async () => {
    const { app } = await createTestApp({ FACEPROOF_MAX_PENDING_REQUESTS: '1' });
    apps.push(app);
    const { PassThrough } = await import('node:stream');
    // Two uploads that send half their body and stall.
    const body = JSON.stringify({ image: { base64: b64(samplePhoto(1)) } });
    const stalled = [0, 1].map(() => {
      const stream = new PassThrough();
      stream.write(body.slice(0, body.length >> 1));
      const answer = app.inject({ method: 'POST', url: '/v1/detect', headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, payload: stream });
      return { stream, answer };
    });
    await new Promise((r) => setTimeout(r, 100));
    const meanwhile = await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: b64(samplePhoto(2)) } } });
    expect(meanwhile.statusCode, meanwhile.body).toBe(200);
    for (const s of stalled) s.stream.end(body.slice(body.length >> 1));
    const finished = await Promise.all(stalled.map((s) => s.answer));
    expect(finished.map((r) => r.statusCode).sort()).toEqual(expect.arrayContaining([200]));
  });

  it('answers 408 request_timeout when the answer takes longer than FACEPROOF_REQUEST_TIMEOUT_MS, and stays up', async () => {
    const { app } = await createTestApp({ FACEPROOF_REQUEST_TIMEOUT_MS: '30' });
    apps.push(app);
    const res = await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: b64(samplePhoto(2)) } } });
    expect(res.statusCode).toBe(408);
    expect(res.json().error.code).toBe('request_timeout');
    await new Promise((r) => setTimeout(r, 1500));
    expect((await app.inject('/v1/health')).statusCode).toBe(200);
  });

  it('limits bodies by route: small routes refuse a body that an image route takes', async () => {
    const { app } = await createTestApp({ FACEPROOF_MAX_SMALL_BODY_BYTES: '4096' });
    apps.push(app);
    const padding = 'x'.repeat(10_000);
    const small = await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'c', description: padding } });
    expect(small.statusCode).toBe(413);
    expect(small.json().error.code).toBe('payload_too_large');
    expect((await app.inject({ method: 'POST', url: '/v1/transactions', payload: { metadata: { padding } } })).statusCode).toBe(413);
    const image = b64(await selfieCrop(3, 830, 100));
    expect(image.length).toBeGreaterThan(4096);
    expect((await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: image } } })).statusCode).toBe(200);
  });
});

describe('credentials in logs', () => {
  it('never writes a key, token or signature to the log', async () => {
    const lines: string[] = [];
    const stream = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const { app } = await createTestApp({}, { logger: { level: 'trace', stream } });
    apps.push(app);
    const { token } = (await app.inject({ method: 'POST', url: '/v1/auth/token', payload: {} })).json();
    await app.inject({ url: '/v1/collections', headers: { authorization: `Bearer ${token}` } });
    await app.inject({ url: '/v1/collections', headers: { apikey: TEST_BOOTSTRAP_KEY } });
    await app.inject({ url: '/v1/collections', headers: { 'x-api-key': 'wrong-key-that-is-long' } });
    const log = lines.join('');
    expect(log.length).toBeGreaterThan(500);
    for (const secret of [TEST_BOOTSTRAP_KEY, token, 'wrong-key-that-is-long']) expect(log).not.toContain(secret);
  });
});
