import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, ElementHandle, Page } from 'puppeteer-core';
import { verifyResult } from '../packages/client/src/index.ts';
import { encodeClip } from '../bench/lib/video-clip.ts';
import type { RunningServer } from './helpers/server.ts';
import { captureFrames, type CaptureFrames } from './helpers/capture-frames.ts';
import { startCaptureSession, twoTurnChallenge, watchCaptureElement, type CaptureSession } from './helpers/capture-session.ts';
import { installCanvasCamera } from './helpers/canvas-camera.ts';

// Browser capture (src/api/console/web/capture.ts) in Firefox: the /capture page and its
// <faceproof-capture> element in Debian's headless firefox-esr, driven by puppeteer-core over
// WebDriver BiDi, against a real server. test/console-capture.test.ts does the same in Chromium.
//
// Firefox cannot play a file as its fake camera (its fake device draws a synthetic pattern), so
// the page gets a camera made of the same real frames the Chromium test feeds its fake camera:
// an init script replaces navigator.mediaDevices.getUserMedia with the stream of a canvas that
// shows them in a loop (test/helpers/canvas-camera.ts). Everything after that is Firefox's own and
// the element's own code, unchanged: the <video> preview, the frame grabs sent for guidance,
// MediaRecorder (Firefox records WebM VP8), the upload, the page's signature check and the event.
// Without that script Firefox has no camera here (getUserMedia → NotFoundError), which is the
// fallback case.

const BOOTSTRAP = 'capture-firefox-bootstrap-key-0123456789';
const FIREFOX = [process.env.FACEPROOF_FIREFOX, '/usr/bin/firefox-esr', '/usr/bin/firefox'].find((p): p is string => !!p && fs.existsSync(p));
const FPS = 10;

let server: RunningServer;
let work: string;
let session: CaptureSession;
let frames: CaptureFrames;

describe.skipIf(!FIREFOX)('<faceproof-capture> in headless Firefox with a camera of real frames', () => {
  type Run = { outcome: any; signature: string; guidance: string[]; status: string; problems: string[]; ms: number };
  const timings: Record<string, number> = {};
  const outcomes: Record<string, unknown> = {};
  let version = '';

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-capture-firefox-'));
    frames = await captureFrames();
    session = await startCaptureSession('capture-firefox', BOOTSTRAP);
    server = session.server;
  }, 120_000);
  afterAll(() => {
    console.log(`${version} capture timings (ms, start button to signed outcome shown): ${JSON.stringify(timings)}; outcomes: ${JSON.stringify(outcomes)}`);
    server?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  async function launch(): Promise<Browser> {
    const puppeteer = (await import('puppeteer-core')).default;
    const browser = await puppeteer.launch({
      browser: 'firefox', executablePath: FIREFOX, headless: true,
      // No permission prompt for the camera (a headless browser has no one to answer it).
      extraPrefsFirefox: { 'media.navigator.permission.disabled': true },
    });
    version = await browser.version();
    return browser;
  }

  /** The /capture page signed in with the token, the element's events collected in `window`. */
  async function open(browser: Browser, camera: Buffer[] | null, problems: string[], options: { challenge?: object; gestureSeconds?: number } = {}): Promise<Page> {
    const page = await browser.newPage();
    await page.setViewport({ width: 800, height: 900 });
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
    if (camera) await page.evaluateOnNewDocument(installCanvasCamera, camera.map((b) => b.toString('base64')), FPS);
    await page.goto(`${server.base}/capture`);
    await page.locator('#token').fill(session.token);
    await page.locator('#token-form button[type=submit]').click();
    await page.evaluate(watchCaptureElement, { challenge: options.challenge, gestureSeconds: options.gestureSeconds });
    return page;
  }

  const elementStatus = (page: Page) => page.$eval('faceproof-capture >>> [role=status]', (e) => e.textContent ?? '');

  /** Presses Start (and, without a camera, gives `file`), then waits for the outcome and its signature check. */
  async function capture(camera: Buffer[] | null, options: { challenge?: object; gestureSeconds?: number; file?: string } = {}): Promise<Run> {
    const browser = await launch();
    const problems: string[] = [];
    try {
      const page = await open(browser, camera, problems, options);
      const start = await page.waitForSelector('faceproof-capture >>> button');
      expect(await start!.evaluate((b) => b.textContent)).toBe('Start face check');
      const t = performance.now();
      await start!.click();
      let status = '';
      if (options.file) {
        const enabled = await page.waitForFunction(() => {
          const input = document.querySelector('faceproof-capture')?.shadowRoot?.querySelector<HTMLInputElement>('input[type=file]');
          return input && !input.disabled ? input : null;
        }, { timeout: 20_000, polling: 100 }).catch(async (err) => {
          throw new Error(`${(err as Error).message}; the element says: ${await elementStatus(page)}; ${problems.join('; ')}`);
        });
        status = await elementStatus(page);
        await (enabled.asElement() as ElementHandle<HTMLInputElement>).uploadFile(options.file);
      }
      await page.waitForFunction(() => /\w/.test(document.getElementById('outcome')?.textContent ?? ''), { timeout: 60_000, polling: 100 }).catch(async (err) => {
        throw new Error(`${(err as Error).message}; the element says: ${await elementStatus(page)}; ${problems.join('; ')}`);
      });
      await page.waitForFunction(() => /^(valid|INVALID|not checked)/.test(document.getElementById('signature')?.textContent ?? ''), { timeout: 10_000, polling: 100 });
      const ms = Math.round(performance.now() - t);
      const signature = await page.$eval('#signature', (e) => e.textContent ?? '');
      return { outcome: await page.evaluate(() => (window as any).outcome), signature, guidance: await page.evaluate(() => (window as any).guidance), status, problems, ms };
    } finally {
      await browser.close();
    }
  }

  const jwks = async () => (await fetch(`${server.base}/.well-known/jwks.json`)).json();

  it('passes a correct challenge: guided to a good frame, the gestures recorded by Firefox\'s MediaRecorder, the signed SUCCESS handed to the page', async () => {
    const { challenge, camera } = await twoTurnChallenge(session, frames, FPS);
    const run = await capture(camera, { challenge, gestureSeconds: 3 });
    timings.correct = run.ms;
    outcomes.correct = { status: run.outcome?.status, expected: run.outcome?.expected, observed: run.outcome?.observed, liveness_score: run.outcome?.liveness_score, guidance: run.guidance };
    expect(run.problems).toEqual([]);
    expect(run.guidance.at(-1)).toBe('good');
    expect(run.outcome).toMatchObject({ challenge_id: challenge.challenge_id, status: 'SUCCESS', expected: challenge.gestures, same_identity: true });
    expect(run.signature).toMatch(/^valid \(key /);
    expect(await verifyResult(run.outcome, await jwks())).toMatchObject({ valid: true });
  }, 150_000);

  it('fails a still photo (the element draws its own challenge): FAILED, gestures not performed, signed', async () => {
    const run = await capture(Array.from({ length: 2 * FPS }, () => frames.frontal));
    timings.still = run.ms;
    outcomes.still = { status: run.outcome?.status, expected: run.outcome?.expected, observed: run.outcome?.observed, liveness_score: run.outcome?.liveness_score, guidance: run.guidance };
    expect(run.problems).toEqual([]);
    expect(run.guidance.at(-1)).toBe('good');
    expect(run.outcome).toMatchObject({ status: 'FAILED', reason: 'gestures_not_performed', same_identity: true });
    expect(run.outcome.observed).toEqual(['neutral']);
    expect(run.signature).toMatch(/^valid \(key /);
    expect(await verifyResult(run.outcome, await jwks())).toMatchObject({ valid: true });
  }, 150_000);

  it('falls back to a video file without a camera (Firefox: NotFoundError)', async () => {
    // A still photo as a phone video (H.264 MP4, 3 s), uploaded through the element's file input.
    const file = path.join(work, 'still.mp4');
    fs.writeFileSync(file, await encodeClip(Array.from({ length: 15 }, () => frames.frontal), 5));
    const run = await capture(null, { file });
    timings.fallback = run.ms;
    outcomes.fallback = { status: run.outcome?.status, observed: run.outcome?.observed, offered_because: run.status };
    expect(run.status).toMatch(/^No camera available \(NotFoundError\)\. Record a short video/);
    expect(run.problems).toEqual([]);
    expect(run.outcome).toMatchObject({ status: 'FAILED', reason: 'gestures_not_performed' });
    expect(run.signature).toMatch(/^valid \(key /);
    expect(await verifyResult(run.outcome, await jwks())).toMatchObject({ valid: true });
  }, 120_000);
});

if (!FIREFOX) {
  describe('<faceproof-capture> in headless Firefox', () => {
    it.skip('needs a firefox binary: apt-get install -y firefox-esr (or set FACEPROOF_FIREFOX)', () => {});
  });
  console.warn('test/console-capture-firefox.test.ts: no firefox binary (/usr/bin/firefox-esr); the Firefox capture tests are skipped. apt-get install -y firefox-esr, or set FACEPROOF_FIREFOX.');
}
