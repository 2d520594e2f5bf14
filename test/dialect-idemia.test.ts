import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import sharp from 'sharp';
import { compactVerify, importJWK } from 'jose';
import { blankImage, selfieCrop } from './helpers/images.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

/**
 * IDEMIA BioServer's dialect (seeds/004) against a real server process, driven by a client written
 * from the manual alone: the `apikey` header, its own multipart bodies (multipart/mixed as the
 * manual's curl sets it, or multipart/form-data), the manual's paths and field names. Only the host
 * differs from the manual's examples. Counts: `examples` (request examples of the manual sent and
 * their answers checked), `errors` (HTTP error codes of the manual's tables provoked).
 */
let server: RunningServer;
let base: string;
const KEY = 'idemia-dialect-bootstrap-key';
let apikey: string;
let ageOnlyKey: string;
let otherKey: string;
let slowKey: string;
let personA: Buffer, personAElsewhere: Buffer, personB: Buffer, blank: Buffer;
const examples = new Set<string>();
const errors = new Set<string>();

interface Part { name: string; data: Buffer | string; filename?: string; type?: string }

/** The manual's client: https://[URL_MAIN_PART]/bioserver-app/v2/… with the apikey header. */
class IdemiaClient {
  constructor(readonly root: string, readonly key: string) {}

  async send(method: string, url: string, init: { json?: unknown; rawJson?: string; parts?: Part[]; mixed?: boolean; key?: string | null } = {}) {
    const headers: Record<string, string> = {};
    const key = init.key === undefined ? this.key : init.key;
    if (key !== null) headers.apikey = key;
    let body: Buffer | string | undefined;
    if (init.json !== undefined || init.rawJson !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = init.rawJson ?? JSON.stringify(init.json);
    } else if (init.parts) {
      const boundary = `------------------------${randomBytes(8).toString('hex')}`;
      headers['Content-Type'] = `${init.mixed === false ? 'multipart/form-data' : 'multipart/mixed'}; boundary=${boundary}`;
      body = multipart(boundary, init.parts);
    }
    const res = await fetch(`${this.root}${url}`, { method, headers, body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body) });
    const type = res.headers.get('content-type') ?? '';
    const bytes = Buffer.from(await res.arrayBuffer());
    const json = type.includes('application/json') && bytes.length ? JSON.parse(bytes.toString('utf8')) : undefined;
    return { status: res.status, headers: res.headers, json, bytes, type };
  }

  createBioSession(body: unknown = { correlationId: '891a6728-1ac4-11e7-93ae-92361f002671', callbackURL: 'https://service/callback' }) {
    return this.send('POST', '/bioserver-app/v2/bio-sessions', { json: body });
  }

  /** curl -F 'face=@face.json' -F 'image=@photo.jpg' with Content-Type: multipart/mixed. */
  createFaceFromImage(session: string, face: object | undefined, image: Buffer, mixed = true) {
    const parts: Part[] = [];
    if (face) parts.push({ name: 'face', data: JSON.stringify(face), filename: 'face.json', type: 'application/octet-stream' });
    parts.push({ name: 'image', data: image, filename: 'image.jpg', type: 'application/octet-stream' });
    return this.send('POST', `/bioserver-app/v2/bio-sessions/${session}/faces`, { parts, mixed });
  }
}

function multipart(boundary: string, parts: Part[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `Content-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\n${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`));
    chunks.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

let client: IdemiaClient;
const sessionIdOf = (location: string | null) => /^.*\/(.*)$/.exec(location ?? '')![1];

/** The manual's "Sample Error Object": {"id", "message"}. */
function expectError(res: { status: number; json: unknown }, status: number, label: string) {
  expect(res.status, `${label}: ${JSON.stringify(res.json)}`).toBe(status);
  const body = res.json as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['id', 'message']);
  expect(typeof body.id).toBe('string');
  expect(typeof body.message).toBe('string');
  errors.add(`${status} ${label}`);
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The manual's Face object (GetFace table): names, types, nesting. */
function expectFace(face: Record<string, unknown>, opts: { template: boolean; dates: boolean }) {
  expect(typeof face.id).toBe('string');
  expect(typeof face.mode).toBe('string');
  expect(['SELFIE', 'ID_DOCUMENT', 'VIDEO_FRAME']).toContain(face.imageType);
  expect(typeof face.quality).toBe('number');
  expect(face.quality as number).toBeGreaterThan(100);
  const eyes = (face.landmarks as { eyes: Record<string, number> }).eyes;
  expect(Object.keys(eyes).sort()).toEqual(['x1', 'x2', 'y1', 'y2']);
  for (const v of Object.values(eyes)) expect(typeof v).toBe('number');
  expect(eyes.x2).toBeGreaterThan(eyes.x1);
  expect(face.digest).toMatch(/^[0-9a-f]{64}$/);
  if (opts.template) {
    expect(typeof face.template).toBe('string');
    expect(typeof face.templateVersion).toBe('number');
  } else {
    expect(face.template).toBeUndefined();
  }
  if (opts.dates) {
    expect(face.created).toMatch(ISO);
    expect(face.expires).toMatch(ISO);
  }
}

/** "Signatures are JWT signatures": a compact JWS whose payload is the response without `signature`, checked with the server's public key. */
async function expectSigned(body: Record<string, unknown>) {
  const signature = body.signature as string;
  expect(signature).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json() as { keys: Array<{ kid: string; alg: string }> };
  const header = JSON.parse(Buffer.from(signature.split('.')[0], 'base64url').toString('utf8')) as { kid: string; alg: string };
  const jwk = jwks.keys.find((k) => k.kid === header.kid)!;
  const { payload } = await compactVerify(signature, await importJWK(jwk, header.alg));
  const { signature: _s, ...rest } = body;
  expect(JSON.parse(Buffer.from(payload).toString('utf8'))).toEqual(rest);
}

/** /v1/compare's decision on the same photos. */
async function nativeDecision(a: Buffer, b: Buffer, types: [string, string] = ['SELFIE', 'SELFIE']) {
  const res = await fetch(`${base}/v1/compare`, {
    method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ source: { base64: a.toString('base64') }, target: { base64: b.toString('base64') }, source_type: types[0], target_type: types[1] }),
  });
  return (await res.json()) as { decision: string; far: number };
}

/** The manual's recommended thresholds: 3500 document/selfie, 4000 selfie/selfie. */
const idemiaDecision = (score: number, types: [string, string]) => (score >= (types.includes('ID_DOCUMENT') ? 3500 : 4000) ? 'match' : 'no_match');

beforeAll(async () => {
  server = await startServer('idemia', KEY, {
    // One engine request at a time: a second one at once meets the manual's 429.
    FACEPROOF_MAX_PENDING_REQUESTS: '1', FACEPROOF_MAX_IMAGE_BYTES: String(3 * 1024 * 1024), FACEPROOF_SESSION_MAX_TTL_SECONDS: '86400',
  });
  base = server.base;
  const admin = server.admin;
  expect((await admin('/v1/admin/clients', { client_id: 'sp' })).status).toBe(201);
  apikey = (await (await admin('/v1/admin/clients/sp/keys', { scopes: ['sessions', 'detect', 'compare', 'age', 'liveness', 'audit'] })).json()).key.api_key;
  ageOnlyKey = (await (await admin('/v1/admin/clients/sp/keys', { scopes: ['age'] })).json()).key.api_key;
  // Another service provider (its own tenant), and one allowed a single request at a time.
  expect((await admin('/v1/admin/clients', { client_id: 'other-sp' })).status).toBe(201);
  otherKey = (await (await admin('/v1/admin/clients/other-sp/keys', { scopes: ['sessions'] })).json()).key.api_key;
  expect((await admin('/v1/admin/clients', { client_id: 'slow-sp', rate_per_second: 0.01, burst: 1 })).status).toBe(201);
  slowKey = (await (await admin('/v1/admin/clients/slow-sp/keys', { scopes: ['sessions'] })).json()).key.api_key;
  client = new IdemiaClient(`${base}/idemia`, apikey);
  [personA, personAElsewhere, personB, blank] = await Promise.all([selfieCrop(3, 830, 100), selfieCrop(1, 1250, 0), selfieCrop(3, 370, 200), blankImage(400, 400, 'jpeg')]);
}, 60_000);

afterAll(() => {
  server?.stop();
  console.log(`IDEMIA dialect: ${examples.size} manual examples checked (${[...examples].join('; ')}); ${errors.size} error cases provoked (${[...errors].join('; ')})`);
});

describe('capabilities and bio-sessions', () => {
  it('GetCapabilities: currentMode (array) and version (string)', async () => {
    const res = await client.send('GET', '/bioserver-app/v2/capabilities');
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['currentMode', 'version']);
    expect(Array.isArray(res.json.currentMode) && typeof res.json.currentMode[0] === 'string').toBe(true);
    expect(typeof res.json.version).toBe('string');
    examples.add('GetCapabilities');
    expectError(await client.send('GET', '/bioserver-app/v2/capabilities', { key: null }), 401, 'GetCapabilities without apikey');
  });

  it('CreateBioSession, GetBioSession, DeleteBioSession as printed', async () => {
    const created = await client.createBioSession();
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    expect(location).toMatch(/\/v2\/bio-sessions\/[^/]+$/);
    const id = sessionIdOf(location);
    examples.add('CreateBioSession');

    const got = await client.send('GET', `/bioserver-app/v2/bio-sessions/${id}`);
    expect(got.status).toBe(200);
    expect(Object.keys(got.json).sort()).toEqual(['correlationId', 'created', 'expires', 'id', 'imageStorageEnabled', 'signature']);
    expect(got.json).toMatchObject({ id, correlationId: '891a6728-1ac4-11e7-93ae-92361f002671', imageStorageEnabled: false });
    expect(got.json.created).toMatch(ISO);
    expect(Date.parse(got.json.expires)).toBeGreaterThan(Date.parse(got.json.created));
    await expectSigned(got.json);
    examples.add('GetBioSession');

    const all = await client.createBioSession({ correlationId: 'c', evidenceId: 'e', imageStorageEnabled: true, ttlSeconds: 300 });
    const withAll = await client.send('GET', new URL(all.headers.get('location')!, base).pathname.replace(/^\/idemia/, ''));
    expect(withAll.json).toMatchObject({ correlationId: 'c', evidenceId: 'e', imageStorageEnabled: true });
    expect(Date.parse(withAll.json.expires) - Date.parse(withAll.json.created)).toBe(300_000);

    const deleted = await client.send('DELETE', `/bioserver-app/v2/bio-sessions/${id}`);
    expect(deleted.status).toBe(204);
    examples.add('DeleteBioSession');
    expectError(await client.send('GET', `/bioserver-app/v2/bio-sessions/${id}`), 404, 'GetBioSession unknown');
    expectError(await client.send('DELETE', `/bioserver-app/v2/bio-sessions/${id}`), 404, 'DeleteBioSession unknown');
  });

  it('keeps each service provider\'s bio-sessions its own: another tenant\'s key finds none of them', async () => {
    const id = sessionIdOf((await client.createBioSession({ correlationId: 'mine' })).headers.get('location'));
    const face = sessionIdOf((await client.createFaceFromImage(id, { imageType: 'SELFIE' }, personA)).headers.get('location'));
    expectError(await client.send('GET', `/bioserver-app/v2/bio-sessions/${id}`, { key: otherKey }), 404, 'GetBioSession of another tenant');
    expectError(await client.send('GET', `/bioserver-app/v2/bio-sessions/${id}/faces/${face}`, { key: otherKey }), 404, 'GetFace of another tenant');
    expectError(await client.send('DELETE', `/bioserver-app/v2/bio-sessions/${id}`, { key: otherKey }), 404, 'DeleteBioSession of another tenant');
    expect((await client.send('GET', `/bioserver-app/v2/bio-sessions/${id}/faces/${face}`)).status).toBe(200);
  }, 30_000);

  it('answers 429 with Retry-After to a client over its rate', async () => {
    expect((await client.send('GET', '/bioserver-app/v2/capabilities', { key: slowKey })).status).toBe(200);
    const busy = await client.createBioSession({});
    const again = await client.send('POST', '/bioserver-app/v2/bio-sessions', { json: {}, key: slowKey });
    expect(busy.status).toBe(201);
    expectError(again, 429, 'CreateBioSession over the rate');
    expect(again.json.message).toMatch(/^Server is currently experiencing high demand\. Request can be sent again after a few seconds\./);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('refuses what the CreateBioSession table refuses: 400, 401, 403', async () => {
    expectError(await client.createBioSession({ ttlSeconds: 10 ** 9 }), 400, 'CreateBioSession ttlSeconds above the maximum');
    expectError(await client.createBioSession({ ttlSeconds: 'soon' }), 400, 'CreateBioSession ttlSeconds not a number');
    expectError(await client.createBioSession({ callbackURL: 'ftp://nowhere' }), 400, 'CreateBioSession callbackURL not http');
    expectError(await client.send('POST', '/bioserver-app/v2/bio-sessions', { rawJson: '{"correlationId": ' }), 400, 'CreateBioSession malformed JSON');
    expectError(await client.send('POST', '/bioserver-app/v2/bio-sessions', { json: {}, key: 'nobody.secret' }), 401, 'CreateBioSession unknown apikey');
    expectError(await client.send('POST', '/bioserver-app/v2/bio-sessions', { json: {}, key: ageOnlyKey }), 403, 'CreateBioSession key without the sessions permission');
    expectError(await client.send('GET', '/bioserver-app/v2/bio-sessions/x', { key: ageOnlyKey }), 403, 'GetBioSession key without permission');
  });
});

describe('the one-to-few flow: session → faces → matches → delete', () => {
  it('creates faces from images and from JSON, lists, gets, matches in order as /v1/compare decides, deletes', async () => {
    const session = sessionIdOf((await client.createBioSession({ correlationId: 'flow-1', imageStorageEnabled: true })).headers.get('location'));
    const faceJson = { imageType: 'SELFIE', friendlyName: 'Presidential portrait of Barack Obama', imageRotationEnabled: false };

    // CreateFaceFromImage, the manual's curl: multipart/mixed, face and image as file parts.
    const refRes = await client.createFaceFromImage(session, faceJson, personA);
    expect(refRes.status, JSON.stringify(refRes.json)).toBe(201);
    const faceLocation = refRes.headers.get('location')!;
    expect(faceLocation).toMatch(new RegExp(`/v2/bio-sessions/${session}/faces/[^/]+$`));
    const reference = sessionIdOf(faceLocation);
    examples.add('CreateFaceFromImage');
    const sameRes = await client.createFaceFromImage(session, { imageType: 'SELFIE' }, personAElsewhere, false);
    expect(sameRes.status).toBe(201);
    const same = sessionIdOf(sameRes.headers.get('location'));
    const otherRes = await client.createFaceFromImage(session, { imageType: 'SELFIE', friendlyName: 'someone else' }, personB);
    const other = sessionIdOf(otherRes.headers.get('location'));

    // GetFace, as printed: every field of the manual's example, signed.
    const face = await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces/${reference}`);
    expect(face.status).toBe(200);
    expect(Object.keys(face.json).sort()).toEqual(['created', 'digest', 'expires', 'friendlyName', 'id', 'imageRotationEnabled', 'imageType', 'landmarks', 'mode', 'quality', 'signature', 'template', 'templateVersion']);
    expectFace(face.json, { template: true, dates: true });
    expect(face.json).toMatchObject({ id: reference, friendlyName: 'Presidential portrait of Barack Obama', imageType: 'SELFIE', imageRotationEnabled: false });
    expect(face.json.digest).toBe(createHash('sha256').update(personA).digest('hex'));
    await expectSigned(face.json);
    examples.add('GetFace');

    // CreateFaceFromJson: the manual's example object, with this server's template in it.
    const printed = {
      id: 'ee9b1742-06f4-4e22-8630-3852d55f314a', friendlyName: 'Official portrait of First Lady Michelle Obama in the Green Room of the White House',
      digest: '20b4839d1da77fba4ed185e5a4649d1c514b101f823299c928dc43356f68b4df', mode: 'F6_4_VID60X', imageType: 'SELFIE', quality: 306,
      landmarks: { eyes: { x1: 518.71204, y1: 444.68396, x2: 655.408, y2: 446.59918 } },
      template: face.json.template, templateVersion: 1202, created: '2017-11-13T13:28:24.098Z', expires: '2017-11-13T13:33:24.108Z',
      signature: 'eyJhbGciOiJSUzI1NiJ9.ew0KogImFhMGJkNmNhL…ogIClbmRseU5hbWUoroAE_oxDF_ZtH-E',
    };
    const fromJson = await client.send('POST', `/bioserver-app/v2/bio-sessions/${session}/faces`, { json: printed });
    expect(fromJson.status, JSON.stringify(fromJson.json)).toBe(201);
    const copy = sessionIdOf(fromJson.headers.get('location'));
    examples.add('CreateFaceFromJson');
    const copyFace = (await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces/${copy}`)).json;
    expect(copyFace).toMatchObject({ friendlyName: printed.friendlyName, digest: printed.digest, quality: 306, landmarks: printed.landmarks, template: face.json.template });
    const wrapped = await client.send('POST', `/bioserver-app/v2/bio-sessions/${session}/faces`, { json: { face: { template: face.json.template, imageType: 'SELFIE' } } });
    expect(wrapped.status).toBe(201);
    const wrappedId = sessionIdOf(wrapped.headers.get('location'));

    // GetFaces: an array of faces, each signed.
    const list = await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces`);
    expect(list.status).toBe(200);
    expect(list.json.map((f: { id: string }) => f.id)).toEqual([reference, same, other, copy, wrappedId]);
    for (const f of list.json.slice(0, 3)) expectFace(f, { template: true, dates: true });
    for (const f of list.json) await expectSigned(f);
    examples.add('GetFaces');

    // GetFaceImage: the image, as it was sent.
    const image = await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces/${reference}/image?compression=true`);
    expect(image.status).toBe(200);
    expect(image.type).toBe('image/jpeg');
    expect(image.bytes.equals(personA)).toBe(true);
    examples.add('GetFaceImage');

    // GetMatches: every other face, best first, with the manual's fields; decisions as /v1/compare's.
    const matches = await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces/${reference}/matches`);
    expect(matches.status).toBe(200);
    expect(matches.json).toHaveLength(4);
    const scores = matches.json.map((m: { score: number }) => m.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    for (const m of matches.json) {
      expect(Object.keys(m).sort()).toEqual(['candidate', 'correlationId', 'created', 'expires', 'falseAcceptanceRate', 'reference', 'score', 'signature']);
      expect(m.reference.id).toBe(reference);
      expect(m.reference.template).toBeUndefined();
      expect(m.correlationId).toBe('flow-1');
      // IDEMIA's rule: falseAcceptanceRate % = 10^(−(score − 2500)/500).
      expect(Math.log10(m.falseAcceptanceRate)).toBeCloseTo(-(m.score - 2500) / 500, 6);
      await expectSigned(m);
    }
    const byCandidate = new Map(matches.json.map((m: { candidate: { id: string }; score: number }) => [m.candidate.id, m.score]));
    expectFace(matches.json.find((m: { candidate: { id: string } }) => m.candidate.id === same).candidate, { template: false, dates: false });
    examples.add('GetMatches');
    const pair: [string, string] = ['SELFIE', 'SELFIE'];
    const sameNative = await nativeDecision(personA, personAElsewhere);
    const otherNative = await nativeDecision(personA, personB);
    expect(idemiaDecision(byCandidate.get(same) as number, pair)).toBe(sameNative.decision);
    expect(idemiaDecision(byCandidate.get(other) as number, pair)).toBe(otherNative.decision === 'match' ? 'match' : 'no_match');
    expect(idemiaDecision(byCandidate.get(same) as number, pair)).toBe('match');
    expect(idemiaDecision(byCandidate.get(other) as number, pair)).toBe('no_match');
    expect(byCandidate.get(copy) as number).toBeGreaterThan(4500); // the same template

    // DeleteFace, then DeleteFaces, then the session.
    expect((await client.send('DELETE', `/bioserver-app/v2/bio-sessions/${session}/faces/${other}`)).status).toBe(204);
    examples.add('DeleteFace');
    expectError(await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces/${other}`), 404, 'GetFace deleted');
    expectError(await client.send('DELETE', `/bioserver-app/v2/bio-sessions/${session}/faces/${other}`), 404, 'DeleteFace unknown');
    expectError(await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces/${other}/matches`), 404, 'GetMatches unknown reference');
    expectError(await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces/${other}/image`), 404, 'GetFaceImage unknown face');
    expect((await client.send('DELETE', `/bioserver-app/v2/bio-sessions/${session}/faces`)).status).toBe(204);
    examples.add('DeleteFaces');
    expect((await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces`)).json).toEqual([]);
    expect((await client.send('DELETE', `/bioserver-app/v2/bio-sessions/${session}`)).status).toBe(204);
    expectError(await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces`), 404, 'GetFaces unknown session');
    expectError(await client.send('DELETE', `/bioserver-app/v2/bio-sessions/${session}/faces`), 404, 'DeleteFaces unknown session');
  }, 120_000);

  it('answers GetFaceImage with 204 where the bio-session stores no image', async () => {
    const session = sessionIdOf((await client.createBioSession({})).headers.get('location'));
    const face = sessionIdOf((await client.createFaceFromImage(session, { imageType: 'SELFIE' }, personA)).headers.get('location'));
    const res = await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces/${face}/image`);
    expect(res.status).toBe(204);
    expect(res.bytes.length).toBe(0);
  }, 60_000);

  it('calls the callbackURL with {"sessionId"} once a face is ready, retrying a failed delivery', async () => {
    const received: Array<{ at: number; body: unknown }> = [];
    const hook = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c) => { text += c; });
      req.on('end', () => {
        received.push({ at: Date.now(), body: JSON.parse(text) });
        res.statusCode = received.length === 1 ? 500 : 200; // the first delivery fails
        res.end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    try {
      const port = (hook.address() as { port: number }).port;
      const session = sessionIdOf((await client.createBioSession({ callbackURL: `http://127.0.0.1:${port}/callback-url` })).headers.get('location'));
      expect((await client.createFaceFromImage(session, { imageType: 'SELFIE' }, personA)).status).toBe(201);
      const deadline = Date.now() + 10_000;
      while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(received.map((r) => r.body)).toEqual([{ sessionId: session }, { sessionId: session }]);
      expect(received[1].at - received[0].at).toBeGreaterThanOrEqual(900);
      examples.add('replayLivenessCallback (sessionId)');
    } finally {
      hook.close();
    }
  }, 30_000);

  it('refuses what the faces tables refuse: 400 (no face, bad type, bad template, not an image), 404, 413', async () => {
    const session = sessionIdOf((await client.createBioSession({})).headers.get('location'));
    expectError(await client.createFaceFromImage(session, { imageType: 'SELFIE' }, blank), 400, 'CreateFaceFromImage without a face');
    expectError(await client.createFaceFromImage(session, { imageType: 'PASSPORT' }, personA), 400, 'CreateFaceFromImage unknown imageType');
    expectError(await client.createFaceFromImage(session, { imageType: 'SELFIE' }, Buffer.from('not an image')), 400, 'CreateFaceFromImage not an image');
    expectError(await client.send('POST', `/bioserver-app/v2/bio-sessions/${session}/faces`, { parts: [{ name: 'face', data: '{"imageType":"SELFIE"}' }] }), 400, 'CreateFaceFromImage without image');
    expectError(await client.send('POST', `/bioserver-app/v2/bio-sessions/${session}/faces`, { json: { template: 'EQAAAMwDAAACA…AAAAAAAAAAAAyMIpAFAA', imageType: 'SELFIE' } }), 400, 'CreateFaceFromJson a template of another algorithm');
    expectError(await client.send('POST', `/bioserver-app/v2/bio-sessions/${session}/faces`, { json: { imageType: 'SELFIE' } }), 400, 'CreateFaceFromJson without template');
    expectError(await client.createFaceFromImage('ses_unknown', { imageType: 'SELFIE' }, personA), 404, 'CreateFaceFromImage unknown session');
    const heavy = await sharp({ create: { width: 1400, height: 1400, channels: 3, background: '#888', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    expect(heavy.length).toBeGreaterThan(3 * 1024 * 1024);
    expectError(await client.createFaceFromImage(session, { imageType: 'SELFIE' }, heavy), 413, 'CreateFaceFromImage too big');
    expectError(await client.send('GET', `/bioserver-app/v2/bio-sessions/${session}/faces/x/image?compression=maybe`), 400, 'GetFaceImage compression not a boolean');
  }, 60_000);
});

describe('direct operations', () => {
  it('CreateDirectFaceFromImage (/v2/faces) as printed: the Face with its template, and signatureDisabled', async () => {
    const res = await client.send('POST', '/bioserver-app/v2/faces', {
      parts: [
        { name: 'face', data: JSON.stringify({ imageType: 'SELFIE', friendlyName: 'Presidential portrait of Barack Obama', imageRotationEnabled: false }), filename: 'face.json' },
        { name: 'image', data: personA, filename: 'image.jpg' },
        { name: 'correlationId', data: '891a6728-1ac4-11e7-93ae-92361f002671' },
      ],
    });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['correlationId', 'created', 'digest', 'friendlyName', 'id', 'imageRotationEnabled', 'imageType', 'landmarks', 'mode', 'quality', 'signature', 'template', 'templateVersion']);
    expectFace(res.json, { template: true, dates: false });
    expect(res.json.created).toMatch(ISO);
    await expectSigned(res.json);
    examples.add('CreateDirectFaceFromImage');
    const unsigned = await client.send('POST', '/bioserver-app/v2/faces', {
      parts: [{ name: 'face', data: JSON.stringify({ imageType: 'SELFIE', signatureDisabled: 'true' }) }, { name: 'image', data: personA, filename: 'image.jpg' }], mixed: false,
    });
    expect(unsigned.status).toBe(200);
    expect(unsigned.json.signature).toBeUndefined();
    expectError(await client.send('POST', '/bioserver-app/v2/faces', { parts: [{ name: 'image', data: blank, filename: 'b.jpg' }] }), 400, 'CreateDirectFaceFromImage without a face');
    expectError(await client.send('POST', '/bioserver-app/v2/faces', { parts: [{ name: 'face', data: '{"imageType": ' }, { name: 'image', data: personA, filename: 'a.jpg' }] }), 400, 'CreateDirectFaceFromImage face not JSON');
  }, 60_000);

  it('Images Match (/v2/match/images) as printed, types as file parts; decisions as /v1/compare', async () => {
    const typeFile = (name: string, value: string): Part => ({ name, data: value, filename: `${name}.txt` });
    const match = (a: Buffer, b: Buffer, types: [string, string]) => client.send('POST', '/bioserver-app/v2/match/images', {
      mixed: false,
      parts: [
        { name: 'referenceImage', data: a, filename: 'reference.jpg' }, { name: 'candidateImage', data: b, filename: 'candidate.jpg' },
        typeFile('referenceImageType', types[0]), typeFile('candidateImageType', types[1]),
      ],
    });
    const res = await match(personA, personAElsewhere, ['SELFIE', 'SELFIE']);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['candidate', 'created', 'falseAcceptanceRate', 'reference', 'score', 'signature']);
    for (const side of [res.json.reference, res.json.candidate]) {
      expect(Object.keys(side).sort()).toEqual(['id', 'imageType', 'landmarks', 'mode', 'quality']);
      expect(side.imageType).toBe('SELFIE');
      expect(side.quality).toBeGreaterThan(100);
    }
    expect(typeof res.json.score).toBe('number');
    expect(Math.log10(res.json.falseAcceptanceRate)).toBeCloseTo(-(res.json.score - 2500) / 500, 6);
    await expectSigned(res.json);
    examples.add('Images Match');
    for (const [a, b, types] of [[personA, personAElsewhere, ['SELFIE', 'SELFIE']], [personA, personB, ['SELFIE', 'SELFIE']], [personA, personAElsewhere, ['ID_DOCUMENT', 'SELFIE']], [personA, personB, ['ID_DOCUMENT', 'SELFIE']]] as Array<[Buffer, Buffer, [string, string]]>) {
      const { json } = await match(a, b, types);
      const native = await nativeDecision(a, b, types);
      expect(idemiaDecision(json.score, types), `${types}`).toBe(native.decision === 'match' ? 'match' : 'no_match');
    }
    expectError(await match(personA, blank, ['SELFIE', 'SELFIE']), 400, 'Images Match candidate without a face');
    expectError(await match(personA, personB, ['SELFIE', 'PASSPORT']), 400, 'Images Match unknown candidateImageType');
    expectError(await client.send('POST', '/bioserver-app/v2/match/images', { parts: [{ name: 'referenceImage', data: personA, filename: 'r.jpg' }] }), 400, 'Images Match without candidateImage');
    expectError(await client.send('POST', '/bioserver-app/v2/match/images', { parts: [{ name: 'referenceImage', data: personA, filename: 'r.jpg' }, { name: 'candidateImage', data: personB, filename: 'c.jpg' }], key: ageOnlyKey }), 403, 'Images Match without permission');
  }, 120_000);

  it('Match (/v2/match) as printed: a reference Face JSON against a candidate image', async () => {
    const direct = await client.send('POST', '/bioserver-app/v2/faces', { parts: [{ name: 'face', data: '{"imageType":"SELFIE"}' }, { name: 'image', data: personA, filename: 'a.jpg' }] });
    const referenceFace = { id: '31214b58-9edc-425b-9436-60dcd94fbc3a', friendlyName: 'Official portrait', mode: 'F6_4_VID60X', imageType: 'SELFIE', template: direct.json.template, templateVersion: direct.json.templateVersion };
    const res = await client.send('POST', '/bioserver-app/v2/match', {
      mixed: false,
      parts: [
        { name: 'candidateImage', data: personAElsewhere, filename: 'candidate.jpg' }, { name: 'candidateImageType', data: '"SELFIE"' },
        { name: 'referenceFace', data: JSON.stringify(referenceFace), filename: 'referenceFace.json' },
        { name: 'imageRotationEnabled', data: '"true"' }, { name: 'correlationId', data: '"c5a0aec2-1262-41b6-82bd-e9d60da92ef2"' },
      ],
    });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['candidate', 'correlationId', 'created', 'falseAcceptanceRate', 'reference', 'score', 'signature']);
    expect(res.json.reference).toEqual({ id: referenceFace.id, friendlyName: referenceFace.friendlyName, mode: res.json.candidate.mode, imageType: 'SELFIE' });
    expect(Object.keys(res.json.candidate).sort()).toEqual(['id', 'imageRotationEnabled', 'imageType', 'landmarks', 'mode', 'quality']);
    expect(res.json.candidate.imageRotationEnabled).toBe(true);
    expect(res.json.correlationId).toBe('c5a0aec2-1262-41b6-82bd-e9d60da92ef2');
    expect(idemiaDecision(res.json.score, ['SELFIE', 'SELFIE'])).toBe((await nativeDecision(personA, personAElsewhere)).decision);
    await expectSigned(res.json);
    examples.add('Match');
    expectError(await client.send('POST', '/bioserver-app/v2/match', { parts: [{ name: 'candidateImage', data: personB, filename: 'c.jpg' }] }), 400, 'Match without referenceFace');
    expectError(await client.send('POST', '/bioserver-app/v2/match', { parts: [{ name: 'candidateImage', data: personB, filename: 'c.jpg' }, { name: 'referenceFace', data: JSON.stringify({ ...referenceFace, template: 'AAAA' }) }] }), 400, 'Match reference template invalid');
  }, 60_000);

  it('createDirectAgeFromImage (/v2/ages) as printed: nominal and "No person detected"', async () => {
    const ages = (image: Buffer, age: string) => client.send('POST', '/bioserver-app/v2/ages', {
      mixed: false,
      parts: [{ name: 'image', data: image, filename: 'image.jpg' }, { name: 'age', data: age, filename: 'age.json' }, { name: 'correlationId', data: '"c5a0aec2-1262-41b6-82bd-e9d60da92ef2"' }],
    });
    const res = await ages(personA, '{\n  "threshold" : 18\n}');
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['aboveThreshold', 'ageEstimated', 'correlationId', 'created', 'digest', 'id', 'imageType', 'quality', 'signature', 'threshold']);
    expect(typeof res.json.ageEstimated).toBe('number');
    expect(res.json.aboveThreshold).toBe(res.json.ageEstimated >= 18);
    expect(res.json).toMatchObject({ threshold: 18, imageType: 'SELFIE', digest: createHash('sha256').update(personA).digest('hex') });
    expect(Number.isInteger(res.json.quality)).toBe(true);
    await expectSigned(res.json);
    examples.add('createDirectAgeFromImage nominal');
    const none = await ages(blank, '{"threshold": 18}');
    expect(none.status).toBe(200);
    expect(Object.keys(none.json).sort()).toEqual(['correlationId', 'created', 'digest', 'id', 'imageType', 'quality', 'signature', 'threshold']);
    expect(none.json.quality).toBe(-10000);
    examples.add('createDirectAgeFromImage no person');
    expectError(await ages(personA, '{"imageType": "SELFIE"}'), 400, 'ages without threshold');
    expectError(await client.send('POST', '/bioserver-app/v2/ages', { parts: [{ name: 'image', data: personA, filename: 'a.jpg' }] }), 400, 'ages without age');
    expectError(await client.send('POST', '/bioserver-app/v2/ages', { parts: [{ name: 'image', data: personA, filename: 'a.jpg' }, { name: 'age', data: '{"threshold":18}' }], key: null }), 401, 'ages without apikey');
    const heavy = await sharp({ create: { width: 1400, height: 1400, channels: 3, background: '#888', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    expectError(await ages(heavy, '{"threshold":18}'), 413, 'ages too big');
  }, 60_000);

  it('answers 429 with the manual\'s message when more engine work arrives than the server takes', async () => {
    const one = () => client.send('POST', '/bioserver-app/v2/match/images', { parts: [{ name: 'referenceImage', data: personA, filename: 'r.jpg' }, { name: 'candidateImage', data: personB, filename: 'c.jpg' }] });
    const answers = await Promise.all(Array.from({ length: 6 }, one));
    const busy = answers.filter((a) => a.status === 429);
    expect(busy.length).toBeGreaterThan(0);
    expectError(busy[0], 429, 'Images Match under high demand');
    expect(busy[0].json.message).toMatch(/^Server is currently experiencing high demand/);
    expect(busy[0].headers.get('retry-after')).toMatch(/^\d+$/);
    expect(answers.some((a) => a.status === 200)).toBe(true);
  }, 60_000);
});

describe('replay liveness (not supported) and unknown paths', () => {
  it('answers initLivenessParameters and getReplayStatus (v3) with a documented 403, after the session check', async () => {
    const session = sessionIdOf((await client.createBioSession({})).headers.get('location'));
    const init = await client.send('POST', `/bioserver-app/v2/bio-sessions/${session}/init-liveness-parameters`, { json: [{ type: 'LIVENESS_PASSIVE' }] });
    expectError(init, 403, 'initLivenessParameters not supported');
    expect(init.json.message).toMatch(/not supported/);
    expectError(await client.send('GET', `/bioserver-app/v3/bio-sessions/${session}/replay-liveness-metadata`), 403, 'getReplayStatus not supported');
    expectError(await client.send('POST', '/bioserver-app/v2/bio-sessions/nope/init-liveness-parameters', { json: { type: 'LIVENESS_PASSIVE_VIDEO', securityLevel: 'HIGH', id: 'replay-id' } }), 404, 'initLivenessParameters unknown session');
    expectError(await client.send('GET', '/bioserver-app/v3/bio-sessions/nope/replay-liveness-metadata'), 404, 'getReplayStatus unknown session');
    expectError(await client.send('GET', '/bioserver-app/v9/nothing'), 404, 'unknown path');
  });

  it('is audited under the dialect\'s route and service', async () => {
    const res = await client.createBioSession({});
    const requestId = res.headers.get('x-request-id');
    const { record } = await (await fetch(`${base}/v1/audit/records/${requestId}`, { headers: { apikey } })).json();
    expect(record).toMatchObject({ route: '/idemia/bioserver-app/v2/bio-sessions', service: 'sessions', status: 201 });
  });
});

describe('core pieces the dialect added (callbacks)', () => {
  it('CallbackNotifier retries until a 2xx and gives up after its last retry; assertCallbackUrl takes http(s) only', async () => {
    const { CallbackNotifier, assertCallbackUrl } = await import('../src/core/callbacks.ts');
    let hits = 0;
    const hook = http.createServer((_req, res) => { hits++; res.statusCode = 503; res.end(); });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    try {
      const warnings: string[] = [];
      const notifier = new CallbackNotifier({ retryDelaysMs: [10, 10], timeoutMs: 1000, warn: (m) => warnings.push(m) });
      const url = `http://127.0.0.1:${(hook.address() as { port: number }).port}/cb`;
      expect(await notifier.notify(url, { sessionId: 's' })).toBe(false);
      expect(hits).toBe(3);
      expect(warnings).toHaveLength(3);
      expect(await notifier.notify('http://127.0.0.1:1/unreachable', { sessionId: 's' })).toBe(false);
    } finally {
      hook.close();
    }
    expect(assertCallbackUrl('https://service/callback', 'callbackURL').hostname).toBe('service');
    for (const bad of ['ftp://x/y', 'not a url', 'https://user:pw@host/cb']) expect(() => assertCallbackUrl(bad, 'callbackURL')).toThrow();
  });
});
