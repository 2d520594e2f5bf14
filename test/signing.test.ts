import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTestApp, SQLITE_ONLY } from './helpers/app.ts';
import { runCli } from './helpers/cli.ts';
import { b64, selfieCrop } from './helpers/images.ts';
import type { Config } from '../src/config.ts';
import type { Services } from '../src/bootstrap.ts';

// An independent check: node:crypto and a canonicaliser written here, not jose nor the server's code.
function jcs(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(jcs).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${jcs((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

function verifyIndependently(bodyText: string, jwks: { keys: Array<crypto.JsonWebKey & { kid: string }> }): boolean {
  const body = JSON.parse(bodyText) as Record<string, unknown>;
  const { signature, ...rest } = body;
  const [header, detached, sig] = String(signature).split('.');
  expect(detached).toBe('');
  const protectedHeader = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  expect(protectedHeader.alg).toBe('ES256');
  const jwk = jwks.keys.find((k) => k.kid === protectedHeader.kid);
  if (!jwk) return false;
  const signingInput = `${header}.${Buffer.from(jcs(rest), 'utf8').toString('base64url')}`;
  return crypto.verify('sha256', Buffer.from(signingInput), { key: crypto.createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'));
}

let app: FastifyInstance;
let services: Services;
let config: Config;
let a: string;
let b: string;

beforeAll(async () => {
  ({ app, services, config } = await createTestApp());
  a = b64(await selfieCrop(3, 370, 200));
  b = b64(await selfieCrop(1, 1250, 0));
});
afterAll(async () => { await app.close(); });

const jwks = async () => (await app.inject('/.well-known/jwks.json')).json();

describe('signed results', () => {
  it('signs a comparison so that an independent JWS check passes, and fails after any change to the result', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/compare', payload: { source: { base64: a }, target: { base64: b } } });
    expect(res.statusCode).toBe(200);
    const keys = await jwks();
    expect(verifyIndependently(res.body, keys)).toBe(true);
    const body = res.json();
    // One byte of the result changed, a field added, a field removed: each breaks the signature.
    const flipped = res.body.replace(`"far":${JSON.stringify(body.far)}`, `"far":${JSON.stringify(body.far * 10)}`);
    expect(flipped).not.toBe(res.body);
    expect(verifyIndependently(flipped, keys)).toBe(false);
    expect(verifyIndependently(res.body.replace(`"decision":"${body.decision}"`, `"decision":"${body.decision === 'match' ? 'no_match' : 'match'}"`), keys)).toBe(false);
    expect(verifyIndependently(JSON.stringify({ ...body, note: 'x' }), keys)).toBe(false);
    const { similarity: _s, ...without } = body;
    expect(verifyIndependently(JSON.stringify(without), keys)).toBe(false);
    // Reordering members or re-indenting does not matter: the payload is canonical.
    expect(verifyIndependently(JSON.stringify(Object.fromEntries(Object.entries(body).reverse()), null, 2), keys)).toBe(true);
  });

  it('signs every decision route; errors and non-decisions carry no signature', async () => {
    await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'signed' } });
    await app.inject({ method: 'POST', url: '/v1/collections/signed/faces', payload: { image: { base64: a } } });
    await app.inject({ method: 'POST', url: '/v1/users', payload: { user_id: 'signed-user', faces: [{ image: { base64: a } }] } });
    const keys = await jwks();
    for (const [url, payload] of [
      ['/v1/collections/signed/search', { image: { base64: a } }],
      ['/v1/search', { collections: ['signed'], image: { base64: a } }],
      ['/v1/users/signed-user/authenticate', { image: { base64: a } }],
      ['/v1/quality', { image: { base64: a } }],
      ['/v1/liveness', { images: [{ base64: a }] }],
      ['/v1/age', { image: { base64: a } }],
      ['/v1/age/consistency', { document: { base64: a }, selfie: { base64: b } }],
    ] as const) {
      const res = await app.inject({ method: 'POST', url, payload });
      expect(res.statusCode, url).toBe(200);
      expect(verifyIndependently(res.body, keys), url).toBe(true);
    }
    expect((await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: a } } })).json().signature).toBeUndefined();
    expect((await app.inject({ method: 'POST', url: '/v1/compare', payload: { source: { base64: a } } })).json().signature).toBeUndefined();
  });

  it.skipIf(SQLITE_ONLY)('rotates keys without invalidating old signatures; `faceproof verify` checks a saved response offline', async () => {
    const old = await app.inject({ method: 'POST', url: '/v1/age', payload: { image: { base64: a } } });
    const oldKid = JSON.parse(Buffer.from(old.json().signature.split('.')[0], 'base64url').toString()).kid;
    const newKid = await (services.signer as unknown as { rotate(): Promise<string> }).rotate();
    const fresh = await app.inject({ method: 'POST', url: '/v1/age', payload: { image: { base64: a } } });
    expect(JSON.parse(Buffer.from(fresh.json().signature.split('.')[0], 'base64url').toString()).kid).toBe(newKid);
    const keys = await jwks();
    expect(keys.keys.map((k: { kid: string }) => k.kid)).toEqual([newKid, oldKid]);
    expect(verifyIndependently(old.body, keys)).toBe(true);
    expect(verifyIndependently(fresh.body, keys)).toBe(true);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-verify-'));
    fs.writeFileSync(path.join(dir, 'good.json'), old.body);
    fs.writeFileSync(path.join(dir, 'bad.json'), old.body.replace(/"age":(\d)/, (_m, d) => `"age":${(Number(d) + 1) % 10}`));
    fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(keys));
    const cli = (file: string, extra: string[] = []) => runCli(['verify', path.join(dir, file), ...extra], config.dataDir);
    expect(cli('good.json')).toMatchObject({ code: 0, out: { valid: true, kid: oldKid } });
    expect(cli('bad.json')).toMatchObject({ code: 1, out: { valid: false } });
    expect(cli('good.json', ['--jwks', path.join(dir, 'jwks.json')])).toMatchObject({ code: 0, out: { valid: true } });
  }, 60_000);
});
