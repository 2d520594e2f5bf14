import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createTestApp } from './helpers/app.ts';
import type { Services } from '../src/bootstrap.ts';

/**
 * The audit and usage matrices, extended to the vendor dialects: every dialect request is recorded
 * under its route and the Faceproof service its descriptor names, and counted for its client, whether
 * the vendor answers it with a success or with one of its own error bodies (and whatever status).
 */
let app: FastifyInstance;
let services: Services;
let key: string;

beforeAll(async () => {
  ({ app, services } = await createTestApp());
  expect((await app.inject({ method: 'POST', url: '/v1/admin/clients', payload: { client_id: 'vendor-user' } })).statusCode).toBe(201);
  const scopes = ['compare', 'detect', 'quality', 'liveness', 'age', 'images', 'users', 'sessions', 'audit'];
  key = (await app.inject({ method: 'POST', url: '/v1/admin/clients/vendor-user/keys', payload: { scopes } })).json().key.api_key;
});
afterAll(async () => { await app.close(); });

const requests: Array<{ what: string; method: 'GET' | 'POST'; url: string; payload?: object; service: string }> = [
  { what: 'ADVANCE comparison without pictures', method: 'POST', url: '/advance/openapi/face-recognition/v4/check', payload: {}, service: 'compare' },
  { what: 'IDEMIA capabilities', method: 'GET', url: '/idemia/bioserver-app/v2/capabilities', service: 'system' },
  { what: 'IDEMIA bio-session', method: 'POST', url: '/idemia/bioserver-app/v2/bio-sessions', payload: { correlationId: 'c-1' }, service: 'sessions' },
  { what: 'IDEMIA unknown bio-session', method: 'GET', url: '/idemia/bioserver-app/v2/bio-sessions/nope', service: 'sessions' },
  { what: 'SenseID comparison without photos', method: 'POST', url: '/senseid/identity/image_verification/stateless', payload: {}, service: 'compare' },
  { what: 'iDenFace comparison without photos', method: 'POST', url: '/idenface/api/controller/photo_compare', payload: {}, service: 'compare' },
];

describe('audit and usage on vendor dialect routes', () => {
  it('records every request under its route and service, and counts it for its client', async () => {
    const answered: Array<{ what: string; requestId: string; status: number; service: string; route: string }> = [];
    for (const r of requests) {
      const res = await app.inject({ method: r.method, url: r.url, payload: r.payload, headers: { 'x-api-key': key } });
      expect(res.statusCode, `${r.what}: ${res.body}`).toBeLessThan(500);
      const requestId = res.headers['x-request-id'] as string;
      expect(requestId, r.what).toBeTruthy();
      answered.push({ what: r.what, requestId, status: res.statusCode, service: r.service, route: r.url });
    }
    const records = (await app.inject({ method: 'GET', url: '/v1/audit/records?limit=100', headers: { 'x-api-key': key } })).json().records as Array<{ request_id: string; route: string; service: string; status: number; client_id: string }>;
    for (const a of answered) {
      const record = records.find((x) => x.request_id === a.requestId);
      expect(record, `${a.what} has an audit record`).toBeDefined();
      expect(record, a.what).toMatchObject({ service: a.service, status: a.status, client_id: 'vendor-user' });
      expect(record!.route.startsWith(a.route.split('/').slice(0, 2).join('/')), a.what).toBe(true);
    }
    expect((await services.audit.verify()).valid).toBe(true);
    const usage = (await app.inject({ method: 'GET', url: '/v1/usage', headers: { 'x-api-key': key } })).json().usage as Array<{ client_id: string; service: string; count: number }>;
    for (const service of ['compare', 'sessions', 'system']) {
      const expected = answered.filter((a) => a.service === service).length;
      const counted = usage.filter((u) => u.client_id === 'vendor-user' && u.service === service).reduce((n, u) => n + u.count, 0);
      expect(counted, service).toBe(expected);
    }
  });
});

describe('audit and usage on every dialect operation of the OpenAPI document', () => {
  it('records each one, whatever it answers, under its route and its descriptor\'s service, and counts it once', async () => {
    const { dialectOf } = await import('../src/api/dialects/registry.ts');
    const doc = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(doc.paths).filter(([route]) => dialectOf(route))
      .flatMap(([route, ops]) => Object.keys(ops).map((method) => ({ route, method: method.toUpperCase() as 'GET' | 'POST' | 'PATCH' | 'DELETE' })));
    expect(operations.length).toBeGreaterThan(60);
    const counted = async () => (await services.usage.report('vendor-user', { from: '2000-01-01', to: '2999-12-31', clientId: 'vendor-user' })).requests;
    const before = await counted();
    let authenticated = 0;
    for (const { route, method } of operations) {
      const url = route.replace(/\{[^}]+\}/g, 'no-such-id');
      const res = await app.inject({ method, url, headers: { 'x-api-key': key, ...(method === 'GET' || method === 'DELETE' ? {} : { 'content-type': 'application/json' }) }, payload: method === 'GET' || method === 'DELETE' ? undefined : '{}' });
      const where = `${method} ${route}`;
      expect(res.statusCode, `${where}: ${res.body}`).toBeLessThan(500);
      const vendor = dialectOf(route)!;
      // A public route (token issuance) is recorded before anyone is known: under the default tenant, as anonymous.
      const isPublic = vendor.dialect.publicPaths.includes(vendor.path);
      let record;
      try { record = await services.audit.get(isPublic ? 'default' : 'vendor-user', res.headers['x-request-id'] as string); } catch { throw new Error(`${where}: no audit record (${res.statusCode} ${res.body.slice(0, 200)})`); }
      expect(record.service, where).toBe(vendor.dialect.serviceOf(vendor.path.replace(/\{([^}]+)\}/g, ':$1')));
      expect(record.route, where).toBe(route.replace(/\{([^}]+)\}/g, ':$1'));
      expect(record.clientId, where).toBe(isPublic ? 'anonymous' : 'vendor-user');
      if (!isPublic) authenticated++;
    }
    // Usage counts every authenticated request once, for its client.
    expect((await counted()) - before).toBe(authenticated);
    expect((await services.audit.verify()).valid).toBe(true);
  }, 120_000);
});
