import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import {
  apiKey, bearer, createFaceproofClient, FaceproofApiError, hmacSignature, multipart, ok, photo, retryAfterMs, trustVisionHmac, verifyResult,
} from '../packages/client/src/index.ts';
import { generateSchema, SCHEMA_FILE } from '../packages/client/scripts/generate.ts';
import { writePhotos } from '../scripts/readme-examples.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { TrustVisionClient } from './helpers/trustvision-client.ts';

// @faceproof/client (packages/client): its hand-written layer on its own, then against a real
// server: the generated types are those of the server's document, the README's examples run, and
// every auth scheme, the 429 retry and the signature check work end to end.

const run = promisify(execFile);
const README = path.resolve('packages/client/README.md');
/** tsx, as `--import tsx` finds it from the repository (the examples run in a scratch folder). */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const BOOTSTRAP = 'client-test-bootstrap-key-0123456789';

/** The README's ```ts blocks, but those marked `no-run`. */
function readmeSnippets(text: string): Array<{ line: number; code: string }> {
  const out: Array<{ line: number; code: string }> = [];
  const re = /^```ts( [^\n]*)?\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1]?.includes('no-run')) continue;
    out.push({ line: text.slice(0, m.index).split('\n').length, code: m[2] });
  }
  return out;
}

describe('the hand-written layer', () => {
  it('signs as a TrustVision client written from the manual does', async () => {
    const tv = new TrustVisionClient('http://x', 'fpk_1', 's3cret');
    expect(await hmacSignature('s3cret', 'POST', '/v1/compare?x=1', '2026-01-02T03:04:05.678Z')).toBe(tv.sign('POST', '/v1/compare?x=1', '2026-01-02T03:04:05.678Z'));
    expect(await hmacSignature('s3cret', 'POST', '/v1/x', 't', 'bWQ1')).toBe(tv.sign('POST', '/v1/x', 't', 'bWQ1'));
  });

  it('reads Retry-After in seconds and as a date', () => {
    const at = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Response(null, { status: 429, headers: { 'Retry-After': '2' } }), at)).toBe(2000);
    expect(retryAfterMs(new Response(null, { status: 429, headers: { 'Retry-After': 'Thu, 01 Jan 2026 00:00:03 GMT' } }), at)).toBe(3000);
    expect(retryAfterMs(new Response(null, { status: 429 }), at)).toBe(1000);
  });

  it('retries a 429 after Retry-After, credentials set again on each attempt; gives up past maxDelayMs or the attempts', async () => {
    const seen: string[] = [];
    const waits: number[] = [];
    const answers = [429, 429, 200];
    let n = 0;
    const fp = createFaceproofClient({
      baseUrl: 'http://faceproof.test', auth: (r) => { r.headers.set('X-API-Key', `k${++n}`); }, sleep: async (ms) => { waits.push(ms); },
      fetch: async (r) => {
        seen.push(`${r.method} ${r.headers.get('x-api-key')} ${await r.text()}`);
        const status = answers.shift()!;
        return new Response(status === 200 ? '{"collections":[],"request_id":"r"}' : '{}', { status, headers: { 'content-type': 'application/json', 'retry-after': '2' } });
      },
    });
    const { data } = await fp.POST('/v1/collections', { body: { name: 'x' } });
    expect(data).toMatchObject({ request_id: 'r' });
    expect(seen).toEqual(['POST k1 {"name":"x"}', 'POST k2 {"name":"x"}', 'POST k3 {"name":"x"}']);
    expect(waits).toEqual([2000, 2000]);

    const refusing = (retryAfter: string) => createFaceproofClient({
      baseUrl: 'http://faceproof.test', retry: { attempts: 2, maxDelayMs: 5000 }, sleep: async (ms) => { waits.push(ms); },
      fetch: async () => new Response('{"request_id":"r","error":{"code":"rate_limit_exceeded","message":"slow down"}}', { status: 429, headers: { 'content-type': 'application/json', 'retry-after': retryAfter } }),
    });
    waits.length = 0;
    const long = await refusing('60').GET('/v1/collections');
    expect([long.response.status, waits]).toEqual([429, []]);
    const twice = await refusing('1').GET('/v1/collections');
    expect([twice.response.status, waits]).toEqual([429, [1000]]);
    expect(() => ok(twice)).toThrow(expect.objectContaining({ name: 'FaceproofApiError', code: 'rate_limit_exceeded', status: 429, requestId: 'r' }));
  });

  it('builds multipart bodies: files with names and types, repeated fields, JSON objects', async () => {
    const form = multipart({ source: photo(new Uint8Array([1, 2, 3])), target: photo(Buffer.from([4]), 'image/png'), all_faces: true, tags: ['a', 'b'], metadata: { k: 1 }, skip: undefined });
    const source = form.get('source') as File;
    expect([source.name, source.type, source.size]).toEqual(['source.jpg', 'image/jpeg', 3]);
    expect((form.get('target') as File).name).toBe('target.png');
    expect([form.get('all_faces'), form.getAll('tags'), form.get('metadata'), form.has('skip')]).toEqual(['true', ['a', 'b'], '{"k":1}', false]);
  });
});

describe('against a real server', () => {
  let server: RunningServer;
  let work: string;
  const fp = () => createFaceproofClient({ baseUrl: server.base, auth: apiKey(BOOTSTRAP) });

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-client-readme-'));
    // A user's ESM project: the examples use top-level await.
    fs.writeFileSync(path.join(work, 'package.json'), '{"type": "module"}\n');
    [server] = await Promise.all([startServer('client', BOOTSTRAP), writePhotos(work)]);
  }, 120_000);
  afterAll(() => {
    server?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('has the generated types of the server\'s current document (else: npm run client:generate)', async () => {
    const doc = await (await fetch(`${server.base}/openapi.json`)).json();
    const fresh = await generateSchema(doc);
    const committed = fs.readFileSync(SCHEMA_FILE, 'utf8');
    if (committed !== fresh) expect.fail(`${path.relative(process.cwd(), SCHEMA_FILE)} is stale: the server's API changed; run npm run client:generate and commit it`);
  });

  const snippets = readmeSnippets(fs.readFileSync(README, 'utf8'));
  it('has a compare, a search and a liveness challenge in its README', () => {
    expect(snippets.map((s) => /'\/v1\/(compare|collections\/\{name\}\/search|liveness\/challenges)'/.exec(s.code)?.[1])).toEqual(['compare', 'collections/{name}/search', 'liveness/challenges']);
  });

  it.each(snippets.map((s) => [s.line, s.code]))('runs the README example at line %i', async (line, code) => {
    const file = path.join(work, `example-${line}.ts`);
    fs.writeFileSync(file, code as string);
    const { stdout } = await run(process.execPath, ['--import', TSX, file], {
      cwd: work, timeout: 60_000,
      env: { ...process.env, FACEPROOF_URL: server.base, FACEPROOF_API_KEY: BOOTSTRAP, TSX_TSCONFIG_PATH: path.resolve('tsconfig.json') },
    });
    if ((code as string).includes("'/v1/compare'")) expect(stdout).toMatch(/^match 0\.\d+ [\d.e-]+\n\{ valid: true, kid: '[^']+', alg: 'ES256' \}/);
    if ((code as string).includes('/search')) expect(stdout).toMatch(/^\[ 'alice 0\.\d{3}' \]/);
    if ((code as string).includes('/v1/liveness/challenges')) expect(stdout).toMatch(/\n(FAILED|SPOOF) \[/);
  });

  it('sends a multipart search and verifies its signature; a changed result does not verify', async () => {
    const client = fp();
    const name = 'signed';
    ok(await client.POST('/v1/collections', { body: { name } }));
    const image = photo(fs.readFileSync(path.join(work, 'id_card.jpg')));
    ok(await client.POST('/v1/collections/{name}/faces', { params: { path: { name } }, body: { image, external_id: 'alice' }, bodySerializer: multipart }));
    const found = ok(await client.POST('/v1/collections/{name}/search', { params: { path: { name } }, body: { image: photo(fs.readFileSync(path.join(work, 'selfie.jpg'))) }, bodySerializer: multipart }));
    expect(found.results[0][0].external_id).toBe('alice');
    expect(await client.verify(found)).toMatchObject({ valid: true, alg: 'ES256' });
    const changed = structuredClone(found);
    changed.results[0][0].score = 1;
    expect(await client.verify(changed)).toMatchObject({ valid: false, reason: 'the signature does not match this body' });
    expect(await verifyResult(found, { keys: [] })).toMatchObject({ valid: false });
  });

  it('authenticates with a bearer token and with a TrustVision HMAC signature (signing key), and refuses a wrong secret', async () => {
    const admin = fp();
    ok(await admin.POST('/v1/admin/clients', { body: { client_id: 'signer', name: 'Signer' } }));
    const { key } = ok(await admin.POST('/v1/admin/clients/{client_id}/keys', { params: { path: { client_id: 'signer' } }, body: { scopes: ['collections'], signing: true } }));
    const hmac = createFaceproofClient({ baseUrl: server.base, auth: trustVisionHmac(key.key_id, key.secret) });
    // Two requests in a row: each gets its own timestamp, so neither is a replay.
    expect(ok(await hmac.GET('/v1/collections')).collections).toEqual([]);
    expect((await hmac.GET('/v1/collections')).response.status).toBe(200);
    const wrong = await createFaceproofClient({ baseUrl: server.base, auth: trustVisionHmac(key.key_id, 'not-the-secret') }).GET('/v1/collections');
    expect([wrong.response.status, wrong.error?.error.code]).toEqual([401, 'invalid_signature']);

    const token = ok(await createFaceproofClient({ baseUrl: server.base, auth: apiKey(key.api_key) }).POST('/v1/auth/token', { body: {} }));
    expect(ok(await createFaceproofClient({ baseUrl: server.base, auth: bearer(token.token) }).GET('/v1/collections')).collections).toEqual([]);
  });

  it('waits out the client\'s rate limit (429 with Retry-After) and then succeeds', async () => {
    const admin = fp();
    ok(await admin.POST('/v1/admin/clients', { body: { client_id: 'slow', name: 'Slow', rate_per_second: 2, burst: 1 } }));
    const { key } = ok(await admin.POST('/v1/admin/clients/{client_id}/keys', { params: { path: { client_id: 'slow' } }, body: { scopes: ['collections'] } }));
    const statuses: number[] = [];
    const slow = createFaceproofClient({ baseUrl: server.base, auth: apiKey(key.api_key), fetch: async (r) => { const res = await fetch(r); statuses.push(res.status); return res; } });
    const answers = await Promise.all([slow.GET('/v1/collections'), slow.GET('/v1/collections')]);
    expect(answers.map((a) => a.response.status)).toEqual([200, 200]);
    expect(statuses).toContain(429);
    const none = await createFaceproofClient({ baseUrl: server.base }).GET('/v1/collections');
    expect(() => ok(none)).toThrow(FaceproofApiError);
  });
});
