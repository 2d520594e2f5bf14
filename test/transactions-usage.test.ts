import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTestApp, SQLITE_ONLY } from './helpers/app.ts';
import { runCli } from './helpers/cli.ts';
import { b64, blankImage, selfieCrop } from './helpers/images.ts';

let app: FastifyInstance;
let key: string;
let photo: string;
let sameFace: string;
let blank: string;

beforeAll(async () => {
  ({ app } = await createTestApp());
  await app.inject({ method: 'POST', url: '/v1/admin/clients', payload: { client_id: 'shop' } });
  key = (await app.inject({ method: 'POST', url: '/v1/admin/clients/shop/keys', payload: { scopes: ['compare', 'detect', 'collections', 'audit'] } })).json().key.api_key;
  photo = b64(await selfieCrop(3, 830, 100));
  sameFace = b64(await selfieCrop(3, 800, 80));
  blank = b64(await blankImage(200, 200, 'jpeg'));
});
afterAll(async () => { await app.close(); });

const as = (headers: Record<string, string> = {}) => ({ 'x-api-key': key, ...headers });

describe('transactions', () => {
  it('groups the requests made in it with their results, and closes', async () => {
    const opened = await app.inject({ method: 'POST', url: '/v1/transactions', payload: { reference_id: 'onboarding-17', channel: 'mobile', metadata: { branch: 'north' } }, headers: as() });
    expect(opened.statusCode).toBe(201);
    const id = opened.json().transaction.transaction_id;
    const compare = await app.inject({ method: 'POST', url: '/v1/compare', payload: { source: { base64: photo }, target: { base64: sameFace } }, headers: as({ 'x-transaction-id': id }) });
    expect(compare.json().decision).toBe('match');
    const noFace = await app.inject({ method: 'POST', url: '/v1/compare', payload: { source: { base64: photo }, target: { base64: blank } }, headers: as({ 'x-transaction-id': id }) });
    expect(noFace.statusCode).toBe(422);
    await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: photo } }, headers: as() });

    const read = (await app.inject({ url: `/v1/transactions/${id}`, headers: as() })).json();
    expect(read.transaction).toMatchObject({ reference_id: 'onboarding-17', channel: 'mobile', metadata: { branch: 'north' }, status: 'open', client_id: 'shop' });
    expect(read.requests.map((r: { request_id: string; status: number }) => [r.request_id, r.status])).toEqual([[compare.json().request_id, 200], [noFace.json().request_id, 422]]);
    expect(read.requests[0].result).toMatchObject({ decision: 'match', signature: compare.json().signature });
    expect(read.requests[1].result).toMatchObject({ error: 'no_face_detected' });

    const finished = (await app.inject({ method: 'POST', url: `/v1/transactions/${id}/finish`, payload: { outcome: 'approved' }, headers: as() })).json();
    expect(finished.transaction).toMatchObject({ status: 'finished', outcome: 'approved' });
    const late = await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: photo } }, headers: as({ 'x-transaction-id': id }) });
    expect(late.statusCode).toBe(409);
    expect(late.json().error).toMatchObject({ code: 'transaction_closed', field: 'x-transaction-id' });
    expect((await app.inject({ method: 'POST', url: `/v1/transactions/${id}/finish`, payload: {}, headers: as() })).statusCode).toBe(409);
    expect((await app.inject({ url: '/v1/transactions/unknown', headers: as() })).statusCode).toBe(404);
  });
});

describe('usage metering', () => {
  it('counts per client, service and outcome; only processed engine work is billable', async () => {
    const usage = (await app.inject({ url: '/v1/usage', headers: as() })).json();
    const day = new Date().toISOString().slice(0, 10);
    const row = (service: string, outcome: string) => usage.usage.find((r: { service: string; outcome: string }) => r.service === service && r.outcome === outcome);
    expect(row('compare', 'processed')).toEqual({ day, client_id: 'shop', service: 'compare', outcome: 'processed', billable: true, count: 1 });
    expect(row('compare', 'no_result')).toMatchObject({ billable: true, count: 1 });
    // The request refused for its finished transaction did no work.
    expect(row('detect', 'rejected')).toMatchObject({ billable: false, count: 1 });
    expect(row('detect', 'processed')).toMatchObject({ billable: true, count: 1 });
    expect(row('transactions', 'processed')).toMatchObject({ billable: false });
    expect(usage.billable).toBe(3);
    expect(usage.requests).toBe(usage.usage.reduce((n: number, r: { count: number }) => n + r.count, 0));
    expect((await app.inject({ url: '/v1/usage?from=2000-01-01&to=2000-01-31', headers: as() })).json().usage).toEqual([]);
  });
});

describe.skipIf(SQLITE_ONLY)('admin CLI', () => {
  it('creates a client and a key whose secret is printed once; the server accepts it; revoking and disabling take effect', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-cli-'));
    expect(runCli(['clients', 'create', 'branch-7', '--rate', '5'], dataDir)).toMatchObject({ code: 0, out: { client_id: 'branch-7', tenant_id: 'branch-7', rate_per_second: 5 } });
    const created = runCli(['keys', 'create', '--client', 'branch-7', '--scopes', 'detect,audit', '--signing'], dataDir);
    expect(created.code).toBe(0);
    const issued = created.out as { key_id: string; api_key: string; secret: string };
    const listed = runCli(['keys', 'list', '--client', 'branch-7'], dataDir);
    expect(JSON.stringify(listed.out)).not.toContain(issued.secret);
    expect(runCli(['keys', 'create', '--client', 'branch-7', '--scopes', 'fly'], dataDir).code).toBe(2);

    const { app: server } = await createTestApp({ FACEPROOF_DATA_DIR: dataDir });
    try {
      expect((await server.inject({ url: '/v1/audit/records', headers: { 'x-api-key': issued.api_key } })).statusCode).toBe(200);
      expect(runCli(['clients', 'disable', 'branch-7'], dataDir).out).toMatchObject({ status: 'disabled' });
      expect((await server.inject({ url: '/v1/audit/records', headers: { 'x-api-key': issued.api_key } })).statusCode).toBe(403);
      runCli(['clients', 'enable', 'branch-7'], dataDir);
      expect(runCli(['keys', 'revoke', issued.key_id], dataDir).out).toMatchObject({ key_id: issued.key_id });
      const revoked = await server.inject({ url: '/v1/audit/records', headers: { 'x-api-key': issued.api_key } });
      expect(revoked.json().error.code).toBe('key_revoked');
      expect((runCli(['clients', 'list'], dataDir).out as unknown as Array<{ client_id: string }>).map((c) => c.client_id)).toEqual(['branch-7', 'bootstrap']);
    } finally {
      await server.close();
    }
  });
});
