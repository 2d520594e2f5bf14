import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createTestApp, TEST_BOOTSTRAP_KEY } from './helpers/app.ts';
import { b64, selfieCrop } from './helpers/images.ts';

// Every scheme against the real server: API key (three headers), TrustVision HMAC, JWT, ADVANCE
// token exchange and temporary credentials; each failure with its documented status and code.
let app: FastifyInstance;
let photo: string;
interface Issued { key_id: string; secret: string; api_key: string }
let plain: Issued; // compare, images, audit
let signing: Issued; // images, detect; may sign
let other: Issued; // client "gone", later disabled

const admin = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) => app.inject({ method, url, payload });
const expectError = (res: { statusCode: number; json(): { error: { code: string } } }, status: number, code: string) => {
  expect({ status: res.statusCode, code: res.json().error?.code }).toEqual({ status, code });
};

/** TrustVision's signature over METHOD\nPATH\nTIMESTAMP[\nCONTENT-MD5]. */
function tvHeaders(key: Issued, method: string, path: string, options: { timestamp?: string; body?: string; secret?: string } = {}) {
  const timestamp = options.timestamp ?? new Date().toISOString();
  const md5 = options.body !== undefined ? createHash('md5').update(options.body).digest('base64') : undefined;
  const toSign = [method, path, timestamp, ...(md5 ? [md5] : [])].join('\n');
  const signature = createHmac('sha256', options.secret ?? key.secret).update(toSign).digest('base64');
  return { authorization: `TV ${key.key_id}:${signature}`, 'x-tv-timestamp': timestamp, ...(md5 ? { 'content-md5': md5 } : {}) };
}

const advanceSignature = (accessKey: string, secret: string, timestamp: string) => createHash('sha256').update(accessKey + secret + timestamp).digest('hex');

beforeAll(async () => {
  ({ app } = await createTestApp());
  photo = b64(await selfieCrop(3, 830, 100));
  expect((await admin('POST', '/v1/admin/clients', { client_id: 'acme' })).statusCode).toBe(201);
  expect((await admin('POST', '/v1/admin/clients', { client_id: 'gone' })).statusCode).toBe(201);
  plain = (await admin('POST', '/v1/admin/clients/acme/keys', { scopes: ['compare', 'images', 'audit'] })).json().key;
  signing = (await admin('POST', '/v1/admin/clients/acme/keys', { scopes: ['images', 'detect'], signing: true })).json().key;
  other = (await admin('POST', '/v1/admin/clients/gone/keys', { scopes: ['*'], signing: true })).json().key;
});
afterAll(async () => { await app.close(); });

describe('API keys (X-API-Key, apikey, Authorization: Bearer)', () => {
  it('accepts the key in each header and acts for its client', async () => {
    for (const headers of [{ 'x-api-key': plain.api_key }, { apikey: plain.api_key }, { authorization: `Bearer ${plain.api_key}` }]) {
      const res = await app.inject({ method: 'POST', url: '/v1/images', payload: { image: { base64: photo } }, headers });
      expect(res.statusCode).toBe(201);
    }
    const audit = (await app.inject({ url: '/v1/audit/records', headers: { 'x-api-key': plain.api_key } })).json();
    expect(audit.records.length).toBeGreaterThanOrEqual(3);
    expect(audit.records.every((r: { client_id: string }) => r.client_id === 'acme')).toBe(true);
  });

  it('refuses a missing key (401 unauthenticated), a wrong secret (401 invalid_credentials) and an unknown scheme', async () => {
    const none = await app.inject({ url: '/v1/audit/records', anonymous: true } as never);
    expectError(none, 401, 'unauthenticated');
    expect(none.headers['www-authenticate']).toMatch(/Bearer/);
    expectError(await app.inject({ url: '/v1/audit/records', headers: { 'x-api-key': `${plain.key_id}.wrong-secret` } }), 401, 'invalid_credentials');
    expectError(await app.inject({ url: '/v1/audit/records', headers: { 'x-api-key': 'nonsense' } }), 401, 'invalid_credentials');
    expectError(await app.inject({ url: '/v1/audit/records', headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } }), 401, 'invalid_credentials');
  });

  it('refuses a route outside the key\'s scopes (403 insufficient_scope); public routes need no key', async () => {
    expectError(await app.inject({ url: '/v1/collections', headers: { 'x-api-key': plain.api_key } }), 403, 'insufficient_scope');
    expectError(await app.inject({ method: 'POST', url: '/v1/admin/clients', payload: { client_id: 'x' }, headers: { 'x-api-key': plain.api_key } }), 403, 'insufficient_scope');
    for (const url of ['/v1/health', '/v1/health/ready', '/.well-known/jwks.json', '/openapi.json']) {
      expect((await app.inject({ url, anonymous: true } as never)).statusCode, url).toBe(200);
    }
  });

  it('refuses an expired key (401 key_expired) and a revoked key (401 key_revoked)', async () => {
    const shortLived = (await admin('POST', '/v1/admin/clients/acme/keys', { scopes: ['audit'], expires_in_seconds: 1 })).json().key;
    expect((await app.inject({ url: '/v1/audit/records', headers: { 'x-api-key': shortLived.api_key } })).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    expectError(await app.inject({ url: '/v1/audit/records', headers: { 'x-api-key': shortLived.api_key } }), 401, 'key_expired');
    const doomed = (await admin('POST', '/v1/admin/clients/acme/keys', { scopes: ['audit'] })).json().key;
    expect((await admin('DELETE', `/v1/admin/keys/${doomed.key_id}`)).json().key.revoked_at).toBeTruthy();
    expectError(await app.inject({ url: '/v1/audit/records', headers: { 'x-api-key': doomed.api_key } }), 401, 'key_revoked');
  });

  it('lists keys without their secrets', async () => {
    const listed = (await admin('GET', '/v1/admin/clients/acme/keys')).json().keys;
    expect(listed.length).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(listed)).not.toContain(plain.secret);
    expect(listed.find((k: { key_id: string }) => k.key_id === signing.key_id)).toMatchObject({ signing: true, scopes: ['images', 'detect'] });
  });
});

describe('TrustVision HMAC-signed requests', () => {
  it('accepts a signed request, with and without Content-MD5', async () => {
    const body = JSON.stringify({ image: { base64: photo }, label: 'signed' });
    const res = await app.inject({ method: 'POST', url: '/v1/images', payload: body, headers: { 'content-type': 'application/json', ...tvHeaders(signing, 'POST', '/v1/images', { body }) } });
    expect(res.statusCode).toBe(201);
    const id = res.json().image_id;
    expect((await app.inject({ url: `/v1/images/${id}?format=base64`, headers: tvHeaders(signing, 'GET', `/v1/images/${id}?format=base64`) })).statusCode).toBe(200);
  });

  it('refuses a wrong secret, a tampered path and a tampered body (401 invalid_signature)', async () => {
    expectError(await app.inject({ url: '/v1/images/abc', headers: tvHeaders(signing, 'GET', '/v1/images/abc', { secret: 'not-the-secret' }) }), 401, 'invalid_signature');
    expectError(await app.inject({ url: '/v1/images/other', headers: tvHeaders(signing, 'GET', '/v1/images/abc') }), 401, 'invalid_signature');
    expectError(await app.inject({ method: 'DELETE', url: '/v1/images/abc', headers: tvHeaders(signing, 'GET', '/v1/images/abc') }), 401, 'invalid_signature');
    const body = JSON.stringify({ image: { base64: photo }, label: 'original' });
    const tampered = body.replace('original', 'tampered');
    const res = await app.inject({ method: 'POST', url: '/v1/images', payload: tampered, headers: { 'content-type': 'application/json', ...tvHeaders(signing, 'POST', '/v1/images', { body }) } });
    expectError(res, 401, 'invalid_signature');
    expect(res.json().error.field).toBe('content-md5');
  });

  it('signs a multipart upload without Content-MD5, and refuses one with it (400, not a hang)', async () => {
    const boundary = 'fp-boundary';
    const multipart = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      Buffer.from(photo, 'base64'),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const headers = { 'content-type': `multipart/form-data; boundary=${boundary}` };
    expect((await app.inject({ method: 'POST', url: '/v1/images', payload: multipart, headers: { ...headers, ...tvHeaders(signing, 'POST', '/v1/images') } })).statusCode).toBe(201);
    const withMd5 = await app.inject({ method: 'POST', url: '/v1/images', payload: multipart, headers: { ...headers, ...tvHeaders(signing, 'POST', '/v1/images', { body: multipart.toString('latin1') }) } });
    expectError(withMd5, 400, 'invalid_parameter');
  });

  it('refuses a timestamp more than 15 minutes off (401 request_time_too_skewed) and a malformed one', async () => {
    const old = new Date(Date.now() - 16 * 60_000).toISOString();
    expectError(await app.inject({ url: '/v1/images/abc', headers: tvHeaders(signing, 'GET', '/v1/images/abc', { timestamp: old }) }), 401, 'request_time_too_skewed');
    const ahead = new Date(Date.now() + 16 * 60_000).toISOString().replace('Z', '+00:00');
    expectError(await app.inject({ url: '/v1/images/abc', headers: tvHeaders(signing, 'GET', '/v1/images/abc', { timestamp: ahead }) }), 401, 'request_time_too_skewed');
    const withinWindow = new Date(Date.now() - 14 * 60_000).toISOString();
    expect((await app.inject({ url: '/v1/images/abc', headers: tvHeaders(signing, 'GET', '/v1/images/abc', { timestamp: withinWindow }) })).statusCode).toBe(404);
    expectError(await app.inject({ url: '/v1/images/abc', headers: tvHeaders(signing, 'GET', '/v1/images/abc', { timestamp: 'yesterday' }) }), 401, 'invalid_credentials');
  });

  it('refuses a replayed signature within the window (401 request_replayed)', async () => {
    const headers = tvHeaders(signing, 'GET', '/v1/images/replayed');
    expect((await app.inject({ url: '/v1/images/replayed', headers })).statusCode).toBe(404);
    expectError(await app.inject({ url: '/v1/images/replayed', headers }), 401, 'request_replayed');
  });

  it('refuses a key made without signing (401 invalid_credentials), a missing scope (403), a revoked key and a disabled client', async () => {
    expectError(await app.inject({ url: '/v1/images/abc', headers: tvHeaders(plain, 'GET', '/v1/images/abc') }), 401, 'invalid_credentials');
    expectError(await app.inject({ url: '/v1/audit/records', headers: tvHeaders(signing, 'GET', '/v1/audit/records') }), 403, 'insufficient_scope');
    const doomed = (await admin('POST', '/v1/admin/clients/acme/keys', { scopes: ['images'], signing: true })).json().key;
    expect((await app.inject({ url: '/v1/images/abc', headers: tvHeaders(doomed, 'GET', '/v1/images/abc') })).statusCode).toBe(404);
    await admin('DELETE', `/v1/admin/keys/${doomed.key_id}`);
    expectError(await app.inject({ url: '/v1/images/abc', headers: tvHeaders(doomed, 'GET', '/v1/images/abc') }), 401, 'key_revoked');
  });
});

describe('tokens: JWT from a key (iDenFace generate_token) and the ADVANCE exchange', () => {
  it('issues a JWT with the asked services, which works as a Bearer token within its scopes only', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { enableImageManager: true, subject: 'test' }, headers: { 'x-api-key': plain.api_key } });
    expect(res.statusCode).toBe(200);
    const { token, scopes } = res.json();
    expect(scopes).toEqual(['images']);
    expect((await app.inject({ url: '/v1/images/abc', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(404);
    expectError(await app.inject({ url: '/v1/audit/records', headers: { authorization: `Bearer ${token}` } }), 403, 'insufficient_scope');
    expectError(await app.inject({ method: 'POST', url: '/v1/auth/token', payload: {}, headers: { authorization: `Bearer ${token}` } }), 403, 'insufficient_scope');
    const [h, p, s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), scope: 'images audit admin' })).toString('base64url');
    expectError(await app.inject({ url: '/v1/audit/records', headers: { authorization: `Bearer ${h}.${forged}.${s}` } }), 401, 'invalid_credentials');
  });

  it('refuses scopes beyond the key\'s (403), and an expired token (401 token_expired)', async () => {
    expectError(await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { scopes: ['collections'] }, headers: { 'x-api-key': plain.api_key } }), 403, 'insufficient_scope');
    const { token } = (await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { scopes: ['audit'], ttl_seconds: 1 }, headers: { 'x-api-key': plain.api_key } })).json();
    expect((await app.inject({ url: '/v1/audit/records', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    expectError(await app.inject({ url: '/v1/audit/records', headers: { authorization: `Bearer ${token}` } }), 401, 'token_expired');
  });

  it('ends a token when its key is revoked', async () => {
    const key = (await admin('POST', '/v1/admin/clients/acme/keys', { scopes: ['audit'] })).json().key;
    const { token } = (await app.inject({ method: 'POST', url: '/v1/auth/token', payload: {}, headers: { 'x-api-key': key.api_key } })).json();
    expect((await app.inject({ url: '/v1/audit/records', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    await admin('DELETE', `/v1/admin/keys/${key.key_id}`);
    expectError(await app.inject({ url: '/v1/audit/records', headers: { authorization: `Bearer ${token}` } }), 401, 'key_revoked');
  });

  it('exchanges ADVANCE\'s accessKey + SHA-256 signature for a token used in X-ACCESS-TOKEN', async () => {
    const timestamp = String(Date.now());
    const body = { accessKey: signing.key_id, timestamp, signature: advanceSignature(signing.key_id, signing.secret, timestamp), periodSecond: 120 };
    const res = await app.inject({ method: 'POST', url: '/v1/auth/advance-token', payload: body, anonymous: true } as never);
    expect(res.statusCode).toBe(200);
    const { token, expired_time } = res.json();
    expect(expired_time).toBeGreaterThan(Date.now() + 110_000);
    expect(expired_time).toBeLessThan(Date.now() + 121_000);
    expect((await app.inject({ url: '/v1/images/abc', headers: { 'x-access-token': token } })).statusCode).toBe(404);
    expectError(await app.inject({ method: 'POST', url: '/v1/auth/advance-token', payload: body, anonymous: true } as never), 401, 'request_replayed');
  });

  it('refuses a wrong secret, a skewed timestamp, a bad period and a key that cannot sign', async () => {
    const ts = String(Date.now());
    const exchange = (payload: object) => app.inject({ method: 'POST', url: '/v1/auth/advance-token', payload, anonymous: true } as never);
    expectError(await exchange({ accessKey: signing.key_id, timestamp: ts, signature: advanceSignature(signing.key_id, 'wrong', ts) }), 401, 'invalid_signature');
    const skewed = String(Date.now() - 301_000);
    expectError(await exchange({ accessKey: signing.key_id, timestamp: skewed, signature: advanceSignature(signing.key_id, signing.secret, skewed) }), 401, 'request_time_too_skewed');
    expectError(await exchange({ accessKey: signing.key_id, timestamp: ts, signature: advanceSignature(signing.key_id, signing.secret, ts), periodSecond: 30 }), 400, 'invalid_parameter');
    expectError(await exchange({ accessKey: plain.key_id, timestamp: ts, signature: advanceSignature(plain.key_id, plain.secret, ts) }), 401, 'invalid_credentials');
  });
});

describe('temporary credentials (TrustVision temporary_credential)', () => {
  it('gives a signing key pair with a subset of the scopes, which expires', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/auth/temporary-credentials', payload: { duration_seconds: 2, services: { upload_image: true } }, headers: tvHeaders(signing, 'POST', '/v1/auth/temporary-credentials') });
    expect(res.statusCode).toBe(201);
    const temp = res.json().key;
    expect(temp).toMatchObject({ scopes: ['images'], parent_key_id: signing.key_id, signing: true });
    expect((await app.inject({ url: '/v1/images/abc', headers: tvHeaders(temp, 'GET', '/v1/images/abc') })).statusCode).toBe(404);
    expectError(await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: photo } }, headers: tvHeaders(temp, 'POST', '/v1/detect') }), 403, 'insufficient_scope');
    await new Promise((r) => setTimeout(r, 2100));
    expectError(await app.inject({ url: '/v1/images/abc', headers: tvHeaders(temp, 'GET', '/v1/images/abc') }), 401, 'key_expired');
  });

  it('refuses scopes the parent lacks and admin; ends when the parent is revoked', async () => {
    const headers = { 'x-api-key': plain.api_key };
    expectError(await app.inject({ method: 'POST', url: '/v1/auth/temporary-credentials', payload: { scopes: ['detect'] }, headers }), 403, 'insufficient_scope');
    const parent = (await admin('POST', '/v1/admin/clients/acme/keys', { scopes: ['images', 'admin'] })).json().key;
    expectError(await app.inject({ method: 'POST', url: '/v1/auth/temporary-credentials', payload: { scopes: ['admin'] }, headers: { 'x-api-key': parent.api_key } }), 403, 'insufficient_scope');
    const temp = (await app.inject({ method: 'POST', url: '/v1/auth/temporary-credentials', payload: { scopes: ['images'] }, headers: { 'x-api-key': parent.api_key } })).json().key;
    expect((await app.inject({ url: '/v1/images/abc', headers: { 'x-api-key': temp.api_key } })).statusCode).toBe(404);
    await admin('DELETE', `/v1/admin/keys/${parent.key_id}`);
    expectError(await app.inject({ url: '/v1/images/abc', headers: { 'x-api-key': temp.api_key } }), 401, 'key_revoked');
  });
});

describe('a disabled client', () => {
  it('is refused under every scheme (403 client_disabled) until enabled again', async () => {
    const { token } = (await app.inject({ method: 'POST', url: '/v1/auth/token', payload: {}, headers: { 'x-api-key': other.api_key } })).json();
    expect((await admin('PATCH', '/v1/admin/clients/gone', { status: 'disabled' })).json().client.status).toBe('disabled');
    const ts = String(Date.now());
    for (const res of [
      await app.inject({ url: '/v1/images/abc', headers: { 'x-api-key': other.api_key } }),
      await app.inject({ url: '/v1/images/abc', headers: tvHeaders(other, 'GET', '/v1/images/abc') }),
      await app.inject({ url: '/v1/images/abc', headers: { authorization: `Bearer ${token}` } }),
      await app.inject({ method: 'POST', url: '/v1/auth/advance-token', payload: { accessKey: other.key_id, timestamp: ts, signature: advanceSignature(other.key_id, other.secret, ts) }, anonymous: true } as never),
    ]) expectError(res, 403, 'client_disabled');
    await admin('PATCH', '/v1/admin/clients/gone', { status: 'active' });
    expect((await app.inject({ url: '/v1/images/abc', headers: { 'x-api-key': other.api_key } })).statusCode).toBe(404);
  });
});

describe('the bootstrap key', () => {
  it('has every scope on the default tenant', async () => {
    expect((await app.inject({ url: '/v1/admin/clients', headers: { 'x-api-key': TEST_BOOTSTRAP_KEY } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/collections', headers: { authorization: `Bearer ${TEST_BOOTSTRAP_KEY}` } })).statusCode).toBe(200);
    expectError(await app.inject({ method: 'POST', url: '/v1/admin/clients/bootstrap', payload: {} }), 404, 'not_found');
    expectError(await app.inject({ method: 'DELETE', url: '/v1/admin/keys/bootstrap' }), 400, 'invalid_parameter');
  });
});
