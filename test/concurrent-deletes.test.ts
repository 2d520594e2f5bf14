import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { createTestApp } from './helpers/app.ts';
import { b64, selfieCrop } from './helpers/images.ts';

/**
 * What the fuzzer found with requests in flight together (`npm run fuzz -- --concurrency 8`): a
 * request that waits on the face engine and then writes must not answer 500 when what it writes
 * into was deleted (or taken) by another request meanwhile. It answers as if it had come second.
 */

let app: FastifyInstance;
let face: { base64: string };

beforeAll(async () => {
  ({ app } = await createTestApp());
  face = { base64: b64(await selfieCrop(3, 370, 200)) };
});
afterAll(async () => { await app.close(); });

/** Starts `slow` (it reaches the engine), sends `meanwhile` while it runs, and returns both answers. */
async function race(slow: InjectOptions, meanwhile: InjectOptions) {
  const first = app.inject(slow);
  await new Promise((r) => setTimeout(r, 30));
  const second = await app.inject(meanwhile);
  const answered = await first;
  if (process.env.RACE_DEBUG) console.log(JSON.stringify(slow.url), answered.statusCode, answered.body.slice(0, 120));
  return { first: answered, second };
}

const body = (r: { body: string }) => r.body.slice(0, 300);

describe('a write that waited on the engine, when its target went meanwhile', () => {
  it('adding a face to a session deleted meanwhile is 404, not 500', async () => {
    const id = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().session_id as string;
    const { first, second } = await race({ method: 'POST', url: `/v1/sessions/${id}/faces`, payload: { image: face } }, { method: 'DELETE', url: `/v1/sessions/${id}` });
    expect(second.statusCode).toBe(204);
    expect([201, 404], body(first)).toContain(first.statusCode);
    expect((await app.inject({ method: 'GET', url: `/v1/sessions/${id}` })).statusCode).toBe(404);
  });

  it('adding a face to a session that keeps images, deleted meanwhile, is 404, not 500', async () => {
    const id = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: { image_storage_enabled: true } })).json().session_id as string;
    const { first } = await race({ method: 'POST', url: `/v1/sessions/${id}/faces`, payload: { image: face } }, { method: 'DELETE', url: `/v1/sessions/${id}` });
    expect([201, 404], body(first)).toContain(first.statusCode);
  });

  it('adding faces to a user deleted meanwhile is 404, not 500', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/users', payload: { user_id: 'race-1', faces: [{ image: face }] } })).statusCode).toBe(201);
    const { first, second } = await race({ method: 'POST', url: '/v1/users/race-1/faces', payload: { faces: [{ image: face }] } }, { method: 'DELETE', url: '/v1/users/race-1' });
    expect(second.statusCode).toBe(204);
    expect([201, 404], body(first)).toContain(first.statusCode);
  });

  it('two registrations of one user id at once: one 201, the other 409, never 500', async () => {
    const register: InjectOptions = { method: 'POST', url: '/v1/users', payload: { user_id: 'race-2', faces: [{ image: face }] } };
    const [a, b] = await Promise.all([app.inject(register), app.inject(register)]);
    expect([a.statusCode, b.statusCode].sort(), `${body(a)} ${body(b)}`).toEqual([201, 409]);
  });

  it('authenticating against a user deleted meanwhile is 404, and leaves no event for a user registered again under that id', async () => {
    // The deletion is sent 30 ms after the authentication starts. On a busy machine the deletion
    // can still land after the authentication wrote (200: it came first, rightly); the race is tried
    // again under a new id until the deletion lands while the authentication waits on the engine.
    let deletedMeanwhile = false;
    for (let attempt = 0; attempt < 5 && !deletedMeanwhile; attempt++) {
      const id = `race-3-${attempt}`;
      expect((await app.inject({ method: 'POST', url: '/v1/users', payload: { user_id: id, faces: [{ image: face }] } })).statusCode).toBe(201);
      const { first } = await race({ method: 'POST', url: `/v1/users/${id}/authenticate`, payload: { image: face } }, { method: 'DELETE', url: `/v1/users/${id}` });
      expect([200, 404], body(first)).toContain(first.statusCode);
      deletedMeanwhile = first.statusCode === 404;
      expect((await app.inject({ method: 'POST', url: '/v1/users', payload: { user_id: id, faces: [{ image: face }] } })).statusCode).toBe(201);
      const events = (await app.inject({ method: 'GET', url: `/v1/users/${id}/history` })).json().events as Array<{ action: string }>;
      expect(events.map((e) => e.action)).toEqual(['register']);
    }
    expect(deletedMeanwhile, 'in 5 tries, the deletion never landed while an authentication waited on the engine').toBe(true);
  });

  it('indexing a face into a collection deleted meanwhile is 404, not 500', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'race-c' } })).statusCode).toBe(201);
    const { first, second } = await race({ method: 'POST', url: '/v1/collections/race-c/faces', payload: { image: face } }, { method: 'DELETE', url: '/v1/collections/race-c' });
    expect(second.statusCode).toBe(204);
    expect([201, 404], body(first)).toContain(first.statusCode);
    expect((await app.inject({ method: 'GET', url: '/v1/collections/race-c' })).statusCode).toBe(404);
  });

  it('searching a collection deleted meanwhile is 404 (or its answer), not 500', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'race-s' } })).statusCode).toBe(201);
    expect((await app.inject({ method: 'POST', url: '/v1/collections/race-s/faces', payload: { image: face } })).statusCode).toBe(201);
    const { first } = await race({ method: 'POST', url: '/v1/collections/race-s/search', payload: { image: face } }, { method: 'DELETE', url: '/v1/collections/race-s' });
    expect([200, 404], body(first)).toContain(first.statusCode);
  });

  it('matching in a session deleted meanwhile is 404 (or its answer), not 500', async () => {
    const id = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().session_id as string;
    expect((await app.inject({ method: 'POST', url: `/v1/sessions/${id}/faces`, payload: { image: face } })).statusCode).toBe(201);
    const { first } = await race({ method: 'POST', url: `/v1/sessions/${id}/match`, payload: { image: face } }, { method: 'DELETE', url: `/v1/sessions/${id}` });
    expect([200, 404], body(first)).toContain(first.statusCode);
  });
});
