import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createTestApp, TEST_BOOTSTRAP_KEY } from './helpers/app.ts';

// FACEPROOF_CORS_ORIGINS (src/api/cors.ts, @fastify/cors): opt-in CORS for /v1/* and /.well-known/*,
// so <faceproof-capture> (or any browser page) on an allowed origin can call the API. Default: none.

const SHOP = 'https://shop.example.com';
const DEV = 'http://localhost:3000';
const EVIL = 'https://evil.example.net';

describe('FACEPROOF_CORS_ORIGINS', () => {
  it('is parsed as a list of origins (or *), and anything else is refused at start', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ FACEPROOF_CORS_ORIGINS: ` ${SHOP} , ${DEV},` }).corsOrigins).toEqual([SHOP, DEV]);
    expect(loadConfig({ FACEPROOF_CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    for (const bad of ['shop.example.com', `${SHOP}/`, `${SHOP}/path`, 'https://*.example.com']) {
      expect(() => loadConfig({ FACEPROOF_CORS_ORIGINS: bad })).toThrow(ConfigError);
    }
  });
});

describe('with allowed origins', () => {
  let app: FastifyInstance;
  beforeAll(async () => { ({ app } = await createTestApp({ FACEPROOF_CORS_ORIGINS: `${SHOP},${DEV}` })); }, 60_000);
  afterAll(() => app?.close());

  it('answers a preflight from an allowed origin before authentication: 204, its origin, the methods and the asked headers', async () => {
    const res = await app.inject({ method: 'OPTIONS', url: '/v1/liveness/challenges', anonymous: true,
      headers: { origin: SHOP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } } as never);
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(SHOP);
    expect(String(res.headers['access-control-allow-methods'])).toContain('POST');
    expect(res.headers['access-control-allow-headers']).toBe('authorization, content-type');
    expect(res.headers['access-control-max-age']).toBe('600');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(String(res.headers.vary)).toMatch(/Origin/i);
  });

  it('gives an allowed origin the headers on answers, refusals included, and exposes the request id', async () => {
    const caps = await app.inject({ method: 'GET', url: '/v1/capabilities', headers: { origin: DEV } });
    expect(caps.statusCode).toBe(200);
    expect(caps.headers['access-control-allow-origin']).toBe(DEV);
    expect(String(caps.headers['access-control-expose-headers'])).toContain('X-Request-Id');
    const refused = await app.inject({ method: 'GET', url: '/v1/capabilities', headers: { origin: SHOP, authorization: 'Bearer nope' } });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(SHOP);
    const jwks = await app.inject({ method: 'GET', url: '/.well-known/jwks.json', anonymous: true, headers: { origin: SHOP } } as never);
    expect(jwks.statusCode).toBe(200);
    expect(jwks.headers['access-control-allow-origin']).toBe(SHOP);
    // The allowed origin really works end to end with a token, as the capture element calls.
    const token = (await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { scopes: ['liveness'], ttl_seconds: 60 } })).json().token;
    const drawn = await app.inject({ method: 'POST', url: '/v1/liveness/challenges', headers: { origin: SHOP, authorization: `Bearer ${token}` }, payload: {} });
    expect(drawn.statusCode).toBe(201);
    expect(drawn.headers['access-control-allow-origin']).toBe(SHOP);
  });

  it('gives other origins, and paths outside /v1 and /.well-known, no CORS header and no preflight', async () => {
    const pre = await app.inject({ method: 'OPTIONS', url: '/v1/liveness/challenges', anonymous: true, headers: { origin: EVIL, 'access-control-request-method': 'POST' } } as never);
    expect(pre.statusCode).not.toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect(pre.headers['access-control-allow-methods']).toBeUndefined();
    const get = await app.inject({ method: 'GET', url: '/v1/capabilities', headers: { origin: EVIL } });
    expect(get.statusCode).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
    // A look-alike origin is another origin.
    const alike = await app.inject({ method: 'GET', url: '/v1/capabilities', headers: { origin: `${SHOP}.evil.net` } });
    expect(alike.headers['access-control-allow-origin']).toBeUndefined();
    for (const url of ['/console', '/openapi.json']) {
      const res = await app.inject({ method: 'GET', url, anonymous: true, headers: { origin: SHOP } } as never);
      expect(res.headers['access-control-allow-origin'], url).toBeUndefined();
    }
    const preConsole = await app.inject({ method: 'OPTIONS', url: '/console', anonymous: true, headers: { origin: SHOP, 'access-control-request-method': 'GET' } } as never);
    expect(preConsole.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('audits preflights like any request without credentials (OPTIONS *, anonymous)', async () => {
    const { records } = (await app.inject({ method: 'GET', url: '/v1/audit/records?limit=500' })).json();
    const pre = records.filter((r: { method: string }) => r.method === 'OPTIONS').map((r: { route: string; status: number; client_id: string }) => `${r.route} ${r.status} ${r.client_id}`);
    expect(pre).toContain('* 204 anonymous');
    expect(pre).toContain('* 401 anonymous');
  });

  it('keeps preflights out of the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.entries(doc.paths).filter(([, ops]) => 'options' in (ops as object))).toEqual([]);
    expect(Object.keys(doc.paths)).not.toContain('*');
  });
});

describe('by default (no origins)', () => {
  let app: FastifyInstance;
  beforeAll(async () => { ({ app } = await createTestApp()); }, 60_000);
  afterAll(() => app?.close());

  it('sends no CORS header and answers no preflight', async () => {
    const get = await app.inject({ method: 'GET', url: '/v1/capabilities', headers: { origin: SHOP, 'x-api-key': TEST_BOOTSTRAP_KEY } });
    expect(get.statusCode).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
    const pre = await app.inject({ method: 'OPTIONS', url: '/v1/capabilities', anonymous: true, headers: { origin: SHOP, 'access-control-request-method': 'GET' } } as never);
    expect(pre.statusCode).not.toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
  });
});
