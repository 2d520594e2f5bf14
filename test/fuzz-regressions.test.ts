import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../src/bootstrap.ts';
import { createTestApp } from './helpers/app.ts';
import { selfieCrop, b64 } from './helpers/images.ts';

/**
 * Requests the fuzzer (bench/fuzz.ts, test/fuzz.test.ts) found answering 500 or leaving the server
 * in a state where later requests did. Numbers that arrive as text ("1e400", four hundred nines,
 * "Infinity") are coerced by the validator to Infinity, which passes a schema's minimum and maximum.
 */

let app: FastifyInstance;
let services: Services;
const huge = '9'.repeat(400);

beforeAll(async () => {
  ({ app, services } = await createTestApp());
  const face = { base64: b64(await selfieCrop(3, 370, 200)) };
  expect((await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'fz' } })).statusCode).toBe(201);
  expect((await app.inject({ method: 'POST', url: '/v1/collections/fz/faces', payload: { image: face, external_id: 'p1', metadata: { k: 'v' } } })).statusCode).toBe(201);
  expect((await app.inject({ method: 'POST', url: '/v1/users', payload: { user_id: 'u1', faces: [{ image: face }] } })).statusCode).toBe(201);
});
afterAll(async () => { await app.close(); });

describe('numbers coerced to Infinity', () => {
  it.each([
    ['GET', '/v1/audit/records?limit=1e400'],
    ['GET', `/v1/audit/records?limit=${huge}`],
    ['GET', '/v1/collections/fz/faces?limit=1e400'],
    ['GET', `/v1/users/u1/history?limit=${huge}`],
  ])('%s %s is 400 invalid_parameter naming limit, not 500', async (method, url) => {
    const res = await app.inject({ method: method as 'GET', url });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'invalid_parameter', field: 'limit' });
  });

  it('POST /v1/collections/{name}/faces/find with "limit": "Infinity" is 400, not 500', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/collections/fz/faces/find', payload: { metadata: { k: 'v' }, limit: 'Infinity' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'invalid_parameter', field: 'limit' });
  });

  it('a client cannot be given an infinite burst or rate (which made GET /v1/admin/clients answer 500 from then on)', async () => {
    for (const payload of [{ client_id: 'fz-inf-1', burst: 'Infinity' }, { client_id: 'fz-inf-2', rate_per_second: '1e400' }, { client_id: 'fz-inf-3', burst: huge }]) {
      const res = await app.inject({ method: 'POST', url: '/v1/admin/clients', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.code).toBe('invalid_parameter');
    }
    expect((await app.inject({ method: 'POST', url: '/v1/admin/clients', payload: { client_id: 'fz-ok' } })).statusCode).toBe(201);
    for (const payload of [{ burst: 'Infinity' }, { rate_per_second: 'Infinity' }]) {
      const res = await app.inject({ method: 'PATCH', url: '/v1/admin/clients/fz-ok', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const list = await app.inject({ method: 'GET', url: '/v1/admin/clients' });
    expect(list.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/admin/clients/fz-ok' })).statusCode).toBe(200);
  });
});

describe('the audit export', () => {
  it('streams the whole trail page by page (it was built as one string: ~40 MiB and seconds of blocked event loop at 50,000 records)', async () => {
    for (let i = 0; i < 2500; i++) {
      await services.audit.record({
        tenantId: 'default', requestId: `fz-export-${i}`, clientRequestId: null, clientId: 'bootstrap', method: 'POST', route: '/v1/detect', service: 'detect',
        status: 400, latencyMs: 1, inputs: { body: { n: i } }, result: { error: 'invalid_parameter' }, at: new Date().toISOString(),
      });
    }
    const res = await app.inject({ method: 'GET', url: '/v1/audit/export' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.body.endsWith('\n')).toBe(true);
    const lines = res.body.slice(0, -1).split('\n').map((l) => JSON.parse(l) as { seq: number; request_id: string; inputs: { body?: { n?: number } } });
    const ours = lines.filter((l) => l.request_id.startsWith('fz-export-'));
    expect(ours.map((l) => l.inputs.body?.n)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(lines.every((l, i) => i === 0 || l.seq > lines[i - 1].seq)).toBe(true);
    const first = await app.inject({ method: 'GET', url: '/v1/audit/records?limit=5' });
    expect(lines.slice(0, 5).map((l) => l.request_id)).toEqual(first.json().records.map((r: { request_id: string }) => r.request_id));
  });
});

describe('the bootstrap client', () => {
  it('cannot be rate-limited through the API (it then answered 429 to everything, the PATCH that would undo it included, across restarts)', async () => {
    const res = await app.inject({ method: 'PATCH', url: '/v1/admin/clients/bootstrap', payload: { rate_per_second: 0.001, burst: 1 } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'invalid_parameter', field: 'client_id' });
    for (let i = 0; i < 3; i++) expect((await app.inject({ method: 'GET', url: '/v1/capabilities' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/admin/clients/bootstrap' })).json().client).toMatchObject({ rate_per_second: null, burst: null });
  });
});

describe('document reading', () => {
  it('answers a JPEG whose header holds but whose body is cut off with 400 invalid_image_format (it was a 500: only the reader decodes the body)', async () => {
    const whole = await selfieCrop(3, 370, 200);
    const cut = whole.subarray(0, Math.floor(whole.length / 2));
    const res = await app.inject({ method: 'POST', url: '/v1/documents/read', payload: { image: { base64: b64(cut) } } });
    expect([res.statusCode, res.json().error?.code, res.json().error?.field]).toEqual([400, 'invalid_image_format', 'image']);
  });
});
