import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { b64, selfieCrop } from './helpers/images.ts';
import { freePort, waitForHealth } from '../bench/lib/server-process.ts';
import { quoted } from './helpers/child-output.ts';

/** The real server process, as `npm start` runs it, on a free loopback port. */
let server: ChildProcess;
let base: string;
let startupMs: number;
let output = '';
const KEY = 'server-process-bootstrap-key';
const auth = { 'x-api-key': KEY };

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  server = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli/main.ts'), 'serve'], {
    env: { ...process.env, FACEPROOF_PORT: String(port), FACEPROOF_LOG_LEVEL: 'warn', FACEPROOF_DATA_DIR: path.resolve('data/test-server'), FACEPROOF_BOOTSTRAP_KEY: KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d) => { output += d; });
  server.stderr!.on('data', (d) => { output += d; });
  await waitForHealth(base).catch((err) => { throw new Error(`${err.message}:\n${quoted(output)}`); });
  startupMs = Date.now() - started;
});

afterAll(() => { if (server.exitCode === null) server.kill('SIGKILL'); });

describe('the server process', () => {
  it('answers health within 20 s of starting', () => {
    expect(startupMs).toBeLessThan(20_000);
  });

  it('is ready, and refuses requests without a key', async () => {
    expect((await fetch(`${base}/v1/health/ready`)).status).toBe(200);
    const refused = await fetch(`${base}/v1/compare`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(refused.status).toBe(401);
    expect((await refused.json()).error.code).toBe('unauthenticated');
  });

  it('survives hostile requests over real HTTP and still compares', async () => {
    const post = (body: string, type = 'application/json') => fetch(`${base}/v1/compare`, { method: 'POST', body, headers: { 'content-type': type, ...auth } });
    expect((await post('{"source": {"base64": "/9j/4AAQ"}, "target": {"base64": "/9j/4AAQ"}}')).status).toBe(400);
    expect((await post('{{{{')).status).toBe(400);
    expect((await post('x'.repeat(1000), 'application/octet-stream')).status).toBe(415);
    const face = b64(await selfieCrop(3, 370, 200));
    const ok = await post(JSON.stringify({ source: { base64: face }, target: { base64: face } }));
    expect(ok.status).toBe(200);
    expect((await ok.json()).decision).toBe('match');
  });

  it('shuts down gracefully on SIGTERM, finishing the request in flight', async () => {
    const face = b64(await selfieCrop(3, 370, 200));
    const inFlight = fetch(`${base}/v1/detect`, { method: 'POST', body: JSON.stringify({ image: { base64: face } }), headers: { 'content-type': 'application/json', ...auth } });
    await new Promise((r) => setTimeout(r, 20));
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    const code = await exited;
    expect(code, output).toBe(0);
  });
});
