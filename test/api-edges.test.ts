import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import SwaggerParser from '@apidevtools/swagger-parser';
import openapiTS, { astToString } from 'openapi-typescript';
import { createTestApp, SQLITE_ONLY } from './helpers/app.ts';
import { blankImage, b64 } from './helpers/images.ts';
import type { Services } from '../src/bootstrap.ts';
import type { Config } from '../src/config.ts';
import { dialectOf } from '../src/api/dialects/registry.ts';

// The edges a stranger reaches first: every status has its audit record, the OpenAPI document is
// valid and complete, validation errors say what is allowed, and /metrics is an operator's.

let app: FastifyInstance;
let services: Services;
let config: Config;

beforeAll(async () => {
  ({ app, services, config } = await createTestApp({ FACEPROOF_REQUEST_TIMEOUT_MS: '1500' }));
});
afterAll(async () => { await app.close(); });

const multipart = (parts: Array<{ name: string; value: string | Buffer; filename?: string }>) => {
  const boundary = '----faceproof-test-boundary';
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.filename ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`), Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
};

/** Every file under a folder whose name is `name`. */
function findFile(dir: string, name: string): string | undefined {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) { const found = findFile(full, name); if (found) return found; } else if (entry.name === name) return full;
  }
  return undefined;
}

describe('audit completeness', () => {
  it.skipIf(SQLITE_ONLY)('records one request of every status a client can meet, and the chain still verifies', async () => {
    const sent: Array<{ status: number; id: string; tenant: string }> = [];
    const expectStatus = async (status: number, res: Awaited<ReturnType<FastifyInstance['inject']>>, tenant = 'default') => {
      expect(res.statusCode, res.body).toBe(status);
      sent.push({ status, id: res.headers['x-request-id'] as string, tenant });
    };
    await expectStatus(400, await app.inject({ method: 'POST', url: '/v1/compare', payload: { source: { base64: 'AAAA' } } }));
    await expectStatus(401, await app.inject({ method: 'GET', url: '/v1/capabilities', anonymous: true } as never));
    await app.inject({ method: 'POST', url: '/v1/admin/clients', payload: { client_id: 'edges', rate_per_second: 0.01, burst: 1 } });
    const key = (await app.inject({ method: 'POST', url: '/v1/admin/clients/edges/keys', payload: { scopes: ['images'] } })).json().key.api_key as string;
    await expectStatus(403, await app.inject({ method: 'GET', url: '/v1/audit/records', headers: { 'x-api-key': key } }), 'edges');
    // The client's one-request burst goes on a 404, the next request is over its rate.
    await app.inject({ method: 'GET', url: '/v1/images/img_missing', headers: { 'x-api-key': key } });
    await expectStatus(429, await app.inject({ method: 'GET', url: '/v1/images/img_missing', headers: { 'x-api-key': key } }), 'edges');
    await expectStatus(404, await app.inject({ method: 'GET', url: '/v1/no-such-route', anonymous: true } as never));
    // A client that starts a body and never finishes it.
    const stalled = new Readable({ read() {} });
    stalled.push('{"image": {"base64": "');
    await expectStatus(408, await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'content-type': 'application/json' }, payload: stalled }));
    const big = multipart([{ name: 'image', value: Buffer.alloc(config.maxBodyBytes + 1024, 7), filename: 'big.jpg' }]);
    await expectStatus(413, await app.inject({ method: 'POST', url: '/v1/images', ...big }));
    await expectStatus(415, await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'content-type': 'text/plain' }, payload: 'hello' }));
    const blank = b64(await blankImage(320, 240, 'jpeg'));
    await expectStatus(422, await app.inject({ method: 'POST', url: '/v1/compare', payload: { source: { base64: blank }, target: { base64: blank } } }));
    // A real storage fault: the stored image's file has become a folder.
    const stored = (await app.inject({ method: 'POST', url: '/v1/images', payload: { image: { base64: b64(await blankImage(64, 64)) } } })).json();
    const file = findFile(config.dataDir, stored.image_id) ?? findFile(config.dataDir, `${stored.image_id}.png`);
    expect(file, 'the stored image is a file in the data folder').toBeDefined();
    fs.rmSync(file!);
    fs.mkdirSync(file!);
    await expectStatus(500, await app.inject({ method: 'GET', url: `/v1/images/${stored.image_id}` }));
    // 1e400 parses to Infinity, which canonical JSON cannot hold: the record keeps it as text.
    await expectStatus(400, await app.inject({ method: 'POST', url: '/v1/age', headers: { 'content-type': 'application/json' }, payload: '{"image": {"base64": "AAAA"}, "threshold": 1e400}' }));

    for (const { status, id, tenant } of sent) {
      const record = await services.audit.get(tenant, id);
      expect(record.status, `${status} ${id}`).toBe(status);
    }
    // Route parameters (a null-prototype object in Fastify) are kept as given.
    expect((await services.audit.get('default', sent.find((s) => s.status === 500)!.id)).inputs).toMatchObject({ params: { id: stored.image_id } });
    expect((await services.audit.get('default', sent.at(-1)!.id)).inputs).toMatchObject({ body: { threshold: 'Infinity' } });
    const verification = await services.audit.verify();
    expect(verification.valid).toBe(true);
  });

  it('leaves health and readiness probes out of the trail unless FACEPROOF_AUDIT_PROBES is on', async () => {
    const live = await app.inject({ url: '/v1/health', anonymous: true } as never);
    const ready = await app.inject({ url: '/v1/health/ready', anonymous: true } as never);
    await expect(services.audit.get('default', live.headers['x-request-id'] as string)).rejects.toThrow();
    await expect(services.audit.get('default', ready.headers['x-request-id'] as string)).rejects.toThrow();
    const probed = await createTestApp({ FACEPROOF_AUDIT_PROBES: 'true' });
    try {
      const res = await probed.app.inject({ url: '/v1/health', anonymous: true } as never);
      expect((await probed.services.audit.get('default', res.headers['x-request-id'] as string)).status).toBe(200);
    } finally {
      await probed.app.close();
    }
  });
});

describe('requests the fuzzer found', () => {
  it('answers a path that is not valid percent-encoding, a very long parameter, an over-long boundary and Infinity in a query with 400 and a record', async () => {
    const cases = [
      await app.inject({ method: 'GET', url: '/v1/images/%FF' }),
      await app.inject({ method: 'DELETE', url: '/v1/images/%ED%A0%80' }),
      await app.inject({ method: 'GET', url: `/v1/images/${'a'.repeat(300)}` }),
      await app.inject({ method: 'POST', url: '/v1/images', headers: { 'content-type': `multipart/form-data; boundary=${'b'.repeat(300)}` }, payload: `--${'b'.repeat(300)}--\r\n` }),
      await app.inject({ method: 'GET', url: '/v1/audit/records?limit=1e400' }),
      await app.inject({ method: 'GET', url: `/v1/audit/records?limit=${'9'.repeat(400)}` }),
    ];
    for (const res of cases) {
      expect(res.statusCode, res.body).toBe(400);
      const body = res.json();
      expect(body.error.code).toBe('invalid_parameter');
      expect(body.request_id).toBe(res.headers['x-request-id']);
      expect((await services.audit.get('default', body.request_id)).status).toBe(400);
    }
    expect((await services.audit.verify()).valid).toBe(true);
  });

  it('answers a multipart body whose last part has no Content-Disposition and over 16 KiB of data at once (busboy kept it waiting until 408)', async () => {
    const boundary = 'fzB0undary';
    for (const size of [1_000, 20_000, 300_000]) {
      const payload = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/octet-stream\r\n\r\n`), Buffer.alloc(size, 0x47), Buffer.from(`\r\n--${boundary}--\r\n`)]);
      const res = await app.inject({ method: 'POST', url: '/v1/compare', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload });
      expect(res.statusCode, `${size} bytes: ${res.body}`).toBe(400);
      expect(res.json().error.code).toBe('invalid_parameter');
    }
  });
});

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 with every route, each with its error statuses and security', async () => {
    const doc = (await app.inject({ url: '/openapi.json', anonymous: true } as never)).json();
    expect(doc.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(doc));
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/.well-known/jwks.json', '/metrics', '/v1/health/ready', '/v1/compare']));
    expect(doc.info.description).toMatch(/1:N search/);
    const operations = Object.entries(doc.paths as Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>)
      .flatMap(([route, ops]) => Object.entries(ops).map(([method, op]) => ({ route, method, op })));
    expect(operations.length).toBeGreaterThan(60);
    for (const { route, method, op } of operations) {
      const where = `${method.toUpperCase()} ${route}`;
      expect(op.security, where).toBeDefined();
      expect(Object.keys(op.responses).some((s) => s.startsWith('2')), `${where} documents its success`).toBe(true);
      // A vendor dialect documents the statuses its manual answers with (ADVANCE: 200 for every failure but a server error).
      const dialect = dialectOf(route)?.dialect;
      const failures = (statuses: string[]) => (dialect ? [...new Set(statuses.map((st) => String(dialect.statusOf(Number(st)))).filter((st) => st >= '400'))] : statuses);
      expect(Object.keys(op.responses), where).toEqual(expect.arrayContaining(failures(['408', '500'])));
      if (op.security!.length > 0) expect(Object.keys(op.responses), where).toEqual(expect.arrayContaining(failures(['401', '403', '429'])));
    }
    const compare = doc.paths['/v1/compare'].post;
    expect(compare.security).toContainEqual({ apiKey: ['compare'] });
    expect(Object.keys(compare.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '408', '413', '415', '422', '429', '500']));
    expect(doc.paths['/metrics'].get.security).toContainEqual({ apiKey: ['metrics'] });
  });

  it('generates a typed client (openapi-typescript) that compiles', async () => {
    const doc = (await app.inject({ url: '/openapi.json', anonymous: true } as never)).json();
    const types = astToString(await openapiTS(doc));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-client-'));
    fs.writeFileSync(path.join(dir, 'api.d.ts'), types);
    // A caller written against the generated types: wrong field names would not compile.
    fs.writeFileSync(path.join(dir, 'use.ts'), [
      "import type { paths } from './api';",
      "type CompareBody = paths['/v1/compare']['post']['requestBody'];",
      "type Compared = paths['/v1/compare']['post']['responses']['200']['content']['application/json'];",
      "type Failed = paths['/v1/compare']['post']['responses']['400']['content']['application/json'];",
      "export const decision = (r: Compared): string => r.decision;",
      "export const code = (r: Failed): string => r.error.code;",
      "export type Body = CompareBody;",
      '',
    ].join('\n'));
    const tsc = path.resolve('node_modules/typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', path.join(dir, 'use.ts')], { stdio: 'pipe' });
  });
});

describe('helpful validation', () => {
  const errorOf = (res: Awaited<ReturnType<FastifyInstance['inject']>>) => res.json().error as { code: string; message: string; field?: string };

  it('lists the allowed values of an enumeration', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/compare', payload: { source: { base64: 'AAAA' }, target: { base64: 'AAAA' }, source_type: 'PASSPORT' } });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res)).toMatchObject({ code: 'invalid_parameter', field: 'source_type' });
    expect(errorOf(res).message).toContain('"SELFIE", "ID_DOCUMENT"');
  });

  it('names an unknown field and refuses it in multipart as in JSON', async () => {
    const json = await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: 'AAAA' }, return_template: true } });
    expect(json.statusCode).toBe(400);
    expect(errorOf(json)).toMatchObject({ field: 'return_template' });
    const image = await blankImage(64, 64);
    const form = await app.inject({ method: 'POST', url: '/v1/detect', ...multipart([{ name: 'image', value: image, filename: 'a.png' }, { name: 'return_template', value: 'true' }]) });
    expect(form.statusCode).toBe(400);
    expect(errorOf(form)).toMatchObject({ code: 'invalid_parameter', field: 'return_template' });
  });

  it('answers 404 for an unknown path with or without credentials', async () => {
    expect((await app.inject({ url: '/v2/whatever', anonymous: true } as never)).statusCode).toBe(404);
    expect((await app.inject({ url: '/v2/whatever' })).statusCode).toBe(404);
  });

  it('accepts no body, or an empty one, where every field is optional; refuses it where one is required', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/transactions' })).statusCode).toBe(201);
    expect((await app.inject({ method: 'POST', url: '/v1/transactions', headers: { 'content-type': 'application/json' }, payload: '' })).statusCode).toBe(201);
    expect((await app.inject({ method: 'POST', url: '/v1/sessions' })).statusCode).toBe(201);
    for (const url of ['/v1/detect', '/v1/compare', '/v1/images', '/v1/files']) {
      const res = await app.inject({ method: 'POST', url });
      expect(res.statusCode, url).toBe(400);
      expect(errorOf(res).message).toMatch(/needs a body/);
    }
  });

  it('tells a multipart body sent to a JSON-only route so', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/transactions', ...multipart([{ name: 'reference_id', value: 'x' }]) });
    expect(res.statusCode).toBe(415);
    expect(errorOf(res).message).toContain('application/json');
  });
});

describe('/metrics', () => {
  it('needs the metrics scope, keeps standard names, and shows per-collection series to admin keys only', async () => {
    expect((await app.inject({ url: '/metrics', anonymous: true } as never)).statusCode).toBe(401);
    await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'secret-gallery' } });
    await app.inject({ method: 'POST', url: '/v1/admin/clients', payload: { client_id: 'scraper', tenant_id: 'default' } });
    const scraper = (await app.inject({ method: 'POST', url: '/v1/admin/clients/scraper/keys', payload: { scopes: ['metrics'] } })).json().key.api_key as string;
    const noScope = (await app.inject({ method: 'POST', url: '/v1/admin/clients/scraper/keys', payload: { scopes: ['images'] } })).json().key.api_key as string;
    expect((await app.inject({ url: '/metrics', headers: { 'x-api-key': noScope } })).statusCode).toBe(403);
    const scraped = await app.inject({ url: '/metrics', headers: { 'x-api-key': scraper } });
    expect(scraped.statusCode).toBe(200);
    expect(scraped.body).toMatch(/^process_cpu_seconds_total /m);
    expect(scraped.body).toMatch(/^nodejs_heap_size_used_bytes /m);
    expect(scraped.body).not.toContain('faceproof_process_');
    expect(scraped.body).not.toContain('secret-gallery');
    expect(scraped.body).toMatch(/^faceproof_collection_faces_total \d+/m);
    const admin = await app.inject({ url: '/metrics' });
    expect(admin.body).toContain('collection="secret-gallery"');
  });
});
