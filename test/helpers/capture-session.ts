import { expect } from 'vitest';
import { startServer, type RunningServer } from './server.ts';
import { held, type CaptureFrames } from './capture-frames.ts';

/** A server for the capture tests and the short-lived token an integrator's backend would mint for the page. */
export interface CaptureSession {
  server: RunningServer;
  token: string;
  /** POSTs JSON as `key` (the bootstrap key unless given). */
  post(url: string, body: object, key?: string): Promise<{ status: number; body: any }>;
}

export async function startCaptureSession(name: string, bootstrapKey: string): Promise<CaptureSession> {
  // Drawing challenges until one asks for exactly two turns takes ~30 draws on average and a few
  // hundred at worst: more than the default burst of 100, so this server's bucket is larger.
  const server = await startServer(name, bootstrapKey, { FACEPROOF_RATE_LIMIT_BURST: '1000' });
  const post = async (url: string, body: object, key = bootstrapKey) => {
    const res = await fetch(`${server.base}${url}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  // What an integrator's backend does: a short-lived token with only the scopes the capture needs.
  const minted = await post('/v1/auth/token', { scopes: ['liveness', 'quality'], ttl_seconds: 600 });
  expect(minted.status).toBe(200);
  return { server, token: minted.body.token, post };
}

export interface Challenge { challenge_id: string; nonce: string; gestures: string[] }

/**
 * The integrator's backend may draw the challenge itself and give it to the element. The real
 * photos show turns only (no look up/down or blink of this woman), so draw until the server asks
 * for exactly two turns; `camera` shows them in that order: 3 s frontal, 1 s each turn, looping,
 * so any 7 s recording that starts on a frontal frame holds both turns in order.
 */
export async function twoTurnChallenge(session: CaptureSession, frames: CaptureFrames, fps: number): Promise<{ challenge: Challenge; camera: Buffer[] }> {
  let challenge: Challenge | undefined;
  for (let i = 0; i < 400 && !challenge; i++) {
    const drawn = await session.post('/v1/liveness/challenges', {}, session.token);
    expect(drawn.status).toBe(201);
    const c = drawn.body as Challenge;
    if (c.gestures.length === 2 && c.gestures.every((g) => g === 'turn_left' || g === 'turn_right')) challenge = c;
  }
  expect(challenge).toBeDefined();
  const [first, second] = challenge!.gestures.map((g) => (g === 'turn_left' ? frames.left : frames.right));
  const camera = [...await held(frames.frontal, 3 * fps), ...await held(first, fps), ...await held(second, fps)];
  return { challenge: challenge!, camera };
}

/**
 * Run in the page (serialised by the browser driver): collects the element's guidance verdicts and
 * its result in `window`, and gives it the challenge and gesture length a test chose.
 */
export function watchCaptureElement({ challenge, gestureSeconds }: { challenge?: object; gestureSeconds?: number }): void {
  const el = document.querySelector('faceproof-capture') as HTMLElement & { challenge?: object };
  (window as any).guidance = [];
  el.addEventListener('faceproof-guidance', (e) => (window as any).guidance.push((e as CustomEvent).detail.verdict));
  el.addEventListener('faceproof-result', (e) => { (window as any).outcome = (e as CustomEvent).detail; });
  if (challenge) el.challenge = challenge;
  if (gestureSeconds) el.setAttribute('gesture-seconds', String(gestureSeconds));
}
