import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './helpers/server.ts';
import { rfc3339, TrustVisionClient, expectTrustVisionError } from './helpers/trustvision-client.ts';

/**
 * TrustVision's dialect (seeds/002) against a real server process: its authentication exactly as
 * the manual defines it, its envelope and HTTP-level error codes, temporary credentials. The
 * operations of each area are tested beside this file (dialect-trustvision-*.test.ts).
 */
let server: RunningServer;
let client: TrustVisionClient;
/** The same key as an API key, to read the client's own audit trail through /v1. */
let auditKey: string;
const KEY = 'trustvision-dialect-bootstrap-key';

beforeAll(async () => {
  server = await startServer('trustvision', KEY);
  expect((await server.admin('/v1/admin/clients', { client_id: 'tv-customer' })).status).toBe(201);
  const key = (await (await server.admin('/v1/admin/clients/tv-customer/keys', { scopes: ['images', 'compare', 'detect', 'liveness', 'collections', 'users', 'documents', 'audit'], signing: true })).json()).key;
  client = new TrustVisionClient(`${server.base}/trustvision/api`, key.key_id, key.secret);
  auditKey = key.api_key;
}, 60_000);
afterAll(() => server?.stop());

const expectError = expectTrustVisionError;

describe('TrustVision authentication', () => {
  it('signs the path below the base URL without its query, and takes the same signature twice in one second', async () => {
    const timestamp = rfc3339();
    const body = { duration_seconds: 60 };
    const first = await client.send('POST', '/v1/temporary_credential', { json: body, timestamp });
    const again = await client.send('POST', '/v1/temporary_credential', { json: body, timestamp });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
  });

  it('answers a skewed timestamp with 400 request_time_too_skewed and a wrong signature with 401 access_denied_exception', async () => {
    expectError(await client.send('POST', '/v1/temporary_credential', { json: {}, timestamp: rfc3339(new Date(Date.now() - 16 * 60_000)) }), 400, 'request_time_too_skewed');
    const forged = new TrustVisionClient(client.baseUrl, client.accessKey, 'not-the-secret');
    expectError(await forged.send('POST', '/v1/temporary_credential', { json: {} }), 401, 'access_denied_exception');
    const prefixed = await fetch(`${client.baseUrl}/v1/temporary_credential`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-TV-Timestamp': rfc3339(), Authorization: `TV ${client.accessKey}:${client.sign('POST', '/trustvision/api/v1/temporary_credential', rfc3339())}` }, body: '{}',
    });
    expect(prefixed.status).toBe(401);
    expectError({ status: 401, body: await fetch(`${client.baseUrl}/v1/temporary_credential`, { method: 'POST' }).then((r) => r.json()) }, 401, 'access_denied_exception');
  });

  it('keeps the X-UC-* consent headers in the audit record', async () => {
    const answer = await client.send('POST', '/v1/temporary_credential', { json: { duration_seconds: 60 }, headers: { 'X-UC-Consent-Id': 'consent-42', 'X-UC-Timestamp': '2026-12-01T08:00:00+07:00', 'X-Request-Id': 'tv-consent-1' } });
    expect(answer.status).toBe(200);
    const records = await (await fetch(`${server.base}/v1/audit/records?client_request_id=tv-consent-1`, { headers: { 'x-api-key': auditKey } })).json();
    expect(records.records).toHaveLength(1);
    expect(records.records[0].inputs.consent).toEqual({ 'x-uc-consent-id': 'consent-42', 'x-uc-timestamp': '2026-12-01T08:00:00+07:00' });
  });

  it('checks a signed Content-MD5 against the body', async () => {
    expect((await client.send('POST', '/v1/temporary_credential', { json: { duration_seconds: 60 }, contentMd5: true })).status).toBe(200);
  });

  it('gives temporary credentials that sign the same way, with the services asked for, and expire', async () => {
    const made = await client.send('POST', '/v1/temporary_credential', { json: { duration_seconds: 1500, services: { verify_face_liveness: true, read_id_card_info: true } } });
    expect(made.status).toBe(200);
    expect(Object.keys(made.body.data).sort()).toEqual(['access_key', 'expire_at', 'secret']);
    expect(Date.parse(made.body.data.expire_at)).toBeGreaterThan(Date.now() + 1400_000);
    const temporary = new TrustVisionClient(client.baseUrl, made.body.data.access_key, made.body.data.secret);
    // A temporary credential cannot make further credentials; it signs like any key.
    expectError(await temporary.send('POST', '/v1/temporary_credential', { json: {} }), 401, 'access_denied_exception');
    const short = await client.send('POST', '/v1/temporary_credential', { json: { duration_seconds: 1 } });
    await new Promise((r) => setTimeout(r, 1200));
    const expired = new TrustVisionClient(client.baseUrl, short.body.data.access_key, short.body.data.secret);
    expectError(await expired.send('POST', '/v1/temporary_credential', { json: {} }), 401, 'access_denied_exception');
  });

  it('answers an unknown operation and a wrong parameter in the envelope', async () => {
    expectError(await client.send('GET', '/v1/no_such_operation'), 404, 'not_found_exception');
    expectError(await client.send('POST', '/v1/temporary_credential', { json: { duration_seconds: 'long' } }), 400, 'invalid_parameter_exception');
  });
});

describe('TrustVision identity-document operations (served: dialect-trustvision-documents.test.ts)', () => {
  it('need the documents service: a credential without it is answered 401 access_denied_exception', async () => {
    const made = await client.send('POST', '/v1/temporary_credential', { json: { duration_seconds: 300, services: { verify_face_liveness: true } } });
    const liveness = new TrustVisionClient(client.baseUrl, made.body.data.access_key, made.body.data.secret);
    const image = { base64: Buffer.from('no document').toString('base64') };
    const bodies: Record<string, object> = {
      read_id_card_info_sync: { card_type: 'vn.national_id', image1: image },
      verify_id_card_sanity_sync: { card_type: 'vn.national_id', image1: image },
      detect_id_card_tampering_sync: { card_type: 'vn.national_id', image1: image },
      detect_id_cards_sync: { card_type: 'vn.national_id', image },
      read_doc_info_sync: { doc_type: 'global.passport', images: [image] },
      verify_nfc: { sod: 'MIIB', cccd: '001099012345' },
      check_nfc: { id_num: '001099012345' },
      ekyc: { card_type: 'vn.national_id', image1: image, selfies: [image] },
    };
    for (const [operation, body] of Object.entries(bodies)) {
      expectError(await liveness.send('POST', `/v1/${operation}`, { json: body }), 401, 'access_denied_exception');
    }
  });
});
