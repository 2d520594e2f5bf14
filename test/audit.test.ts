import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createTestApp, SQLITE_ONLY } from './helpers/app.ts';
import { runCli } from './helpers/cli.ts';
import { b64, selfieCrop } from './helpers/images.ts';
import type { Config } from '../src/config.ts';
import type { Services } from '../src/bootstrap.ts';

let app: FastifyInstance;
let services: Services;
let config: Config;
let photo: Buffer;

beforeAll(async () => {
  ({ app, services, config } = await createTestApp());
  photo = await selfieCrop(3, 370, 200);
});
afterAll(async () => { await app.close(); });

const auditCli = () => runCli(['audit', 'verify'], config.dataDir);

describe('audit trail', () => {
  it('records each request with digests instead of images, the decision and its signature; finds it by request id and by X-Request-Id', async () => {
    const compare = await app.inject({ method: 'POST', url: '/v1/compare', headers: { 'x-request-id': 'tx-42' }, payload: { source: { base64: b64(photo) }, target: { base64: b64(photo) } } });
    await app.inject({ method: 'POST', url: '/v1/age', headers: { 'x-request-id': 'tx-42' }, payload: { image: { base64: b64(photo) } } });
    await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: 'not base64!' } } });
    await app.inject('/v1/health');

    const record = (await app.inject(`/v1/audit/records/${compare.json().request_id}`)).json().record;
    expect(record).toMatchObject({ service: 'compare', status: 200, route: '/v1/compare', client_request_id: 'tx-42', method: 'POST' });
    expect(record.result).toMatchObject({ decision: 'match', signature: compare.json().signature });
    const { createHash } = await import('node:crypto');
    expect(record.inputs.body.source).toEqual({ sha256: createHash('sha256').update(photo).digest('hex'), bytes: photo.length });
    expect(JSON.stringify(record)).not.toContain(b64(photo).slice(0, 40));

    const shared = (await app.inject('/v1/audit/records?client_request_id=tx-42')).json().records;
    expect(shared.map((r: { service: string }) => r.service)).toEqual(['compare', 'age']);
    const failed = (await app.inject('/v1/audit/records?status=400')).json().records;
    expect(failed.some((r: { service: string; result: { error: string } }) => r.service === 'detect' && r.result.error === 'base64_decode_failed')).toBe(true);
    const all = (await app.inject('/v1/audit/records?limit=500')).json().records;
    expect(all.some((r: { route: string }) => r.route === '/v1/health')).toBe(false);
    const exported = (await app.inject('/v1/audit/export')).body.trim().split('\n').map((l) => JSON.parse(l));
    expect(exported.length).toBeGreaterThanOrEqual(4);
    expect((await app.inject('/v1/audit/records/nope')).statusCode).toBe(404);
  });

  it.skipIf(SQLITE_ONLY)('`faceproof audit verify` holds on the untouched chain and finds a modified, a removed and a reordered record', async () => {
    expect(auditCli()).toMatchObject({ code: 0, out: { valid: true } });
    const db = services.db!;
    const seqs = db.prepare('SELECT seq FROM audit_records ORDER BY seq').pluck().all() as number[];
    expect(seqs.length).toBeGreaterThanOrEqual(5);

    // The compare's decision turned round in place.
    const original = db.prepare('SELECT result FROM audit_records WHERE seq = ?').pluck().get(seqs[0]) as string;
    expect(original).toContain('"decision":"match"');
    db.prepare('UPDATE audit_records SET result = ? WHERE seq = ?').run(original.replace('"decision":"match"', '"decision":"no_match"'), seqs[0]);
    expect(auditCli()).toMatchObject({ code: 1, out: { valid: false, brokenAt: seqs[0], reason: 'this record was modified' } });
    db.prepare('UPDATE audit_records SET result = ? WHERE seq = ?').run(original, seqs[0]);
    expect(auditCli().out.valid).toBe(true);

    const row = db.prepare('SELECT * FROM audit_records WHERE seq = ?').get(seqs[2]) as Record<string, unknown>;
    db.prepare('DELETE FROM audit_records WHERE seq = ?').run(seqs[2]);
    expect(auditCli()).toMatchObject({ code: 1, out: { valid: false, brokenAt: seqs[3] } });
    // `decision` is generated from `result` (migration 12): it cannot be written, and follows the row.
    const cols = Object.keys(row).filter((c) => c !== 'decision');
    db.prepare(`INSERT INTO audit_records (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')})`).run(...cols.map((c) => row[c]));
    expect(auditCli().out.valid).toBe(true);

    // Reordering: two records' contents swapped, each with its own hashes.
    const a = db.prepare('SELECT * FROM audit_records WHERE seq = ?').get(seqs[3]) as Record<string, unknown>;
    const b = db.prepare('SELECT * FROM audit_records WHERE seq = ?').get(seqs[4]) as Record<string, unknown>;
    const move = (to: number, r: Record<string, unknown>) => db.prepare(`UPDATE audit_records SET ${cols.filter((c) => c !== 'seq').map((c) => `${c} = ?`).join(', ')} WHERE seq = ?`)
      .run(...cols.filter((c) => c !== 'seq').map((c) => (c === 'request_id' ? `${r[c]}-moving` : r[c])), to);
    move(seqs[3], b); move(seqs[4], a);
    expect(auditCli()).toMatchObject({ code: 1, out: { valid: false, brokenAt: seqs[3] } });
  }, 60_000);

  it('keeps another tenant’s records out of reach', async () => {
    const mine = (await app.inject('/v1/audit/records')).json().records;
    expect(mine.every((r: { request_id: string }) => typeof r.request_id === 'string')).toBe(true);
    expect(await services.audit.list('bank-b', { limit: 10 })).toEqual([]);
  });
});

describe('raw inputs kept with the audit trail (FACEPROOF_AUDIT_KEEP_INPUTS)', () => {
  it('are off by default: no bytes kept, the inputs route answers 404', async () => {
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(photo).digest('hex');
    const res = await app.inject(`/v1/audit/inputs/${digest}`);
    expect(res.statusCode).toBe(404);
  });

  it('when on, keep each image by the digest its record carries, for its tenant only', async () => {
    const { app: keeping } = await createTestApp({ FACEPROOF_AUDIT_KEEP_INPUTS: 'true' });
    try {
      const detect = await keeping.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: b64(photo) } } });
      const record = (await keeping.inject(`/v1/audit/records/${detect.json().request_id}`)).json().record;
      const { sha256, kept } = record.inputs.body.image;
      expect(kept).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      const bytes = await keeping.inject(`/v1/audit/inputs/${sha256}`);
      expect(bytes.statusCode).toBe(200);
      expect(Buffer.compare(bytes.rawPayload, photo)).toBe(0);
      await keeping.inject({ method: 'POST', url: '/v1/admin/clients', payload: { client_id: 'other' } });
      const key = (await keeping.inject({ method: 'POST', url: '/v1/admin/clients/other/keys', payload: { scopes: ['audit'] } })).json().key.api_key;
      expect((await keeping.inject({ url: `/v1/audit/inputs/${sha256}`, headers: { 'x-api-key': key } })).statusCode).toBe(404);
      expect((await keeping.inject('/v1/audit/inputs/not-a-digest')).statusCode).toBe(400);
    } finally {
      await keeping.close();
    }
  });
});
