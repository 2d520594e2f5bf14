import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { samplePhotoPath } from '../bench/lib/photos.ts';
import { writePhotos } from '../scripts/readme-examples.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { y4m } from './helpers/fake-camera.ts';

// The console's Users page with the webcam (src/api/console/web/ui.ts, WebcamShot): *Use the webcam*
// → getUserMedia → *Take photo* → one frame → the same routes as a picked photo (POST /v1/users,
// POST /v1/users/{id}/authenticate). Driven in Debian's headless chromium whose fake camera plays a
// Y4M made here from a real photograph: the woman of the face-api sample photo 1, her tilted head
// turned upright (the frontal frame test/console-capture.test.ts uses), whom the README's
// selfie.jpg and id_card.jpg (sample photo 3) also show. Without a camera the page says so.

const BOOTSTRAP = 'webcam-test-bootstrap-key-0123456789';
const CHROMIUM = [process.env.FACEPROOF_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && fs.existsSync(p));
const SHOTS = process.env.FACEPROOF_CONSOLE_SCREENSHOTS ? path.resolve('docs/console') : undefined;

let server: RunningServer;
let work: string;
let video: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-webcam-'));
  const tilted = await sharp(fs.readFileSync(samplePhotoPath(1))).extract({ left: 1000, top: 0, width: 920, height: 690 }).rotate(-40, { background: '#777' }).toBuffer();
  const m = await sharp(tilted).metadata();
  const frontal = await sharp(tilted).extract({ left: Math.round((m.width! - 760) / 2), top: Math.round((m.height! - 570) / 2), width: 760, height: 570 }).resize(640, 480).jpeg({ quality: 92 }).toBuffer();
  // A hand-held camera: the face drifts a few pixels from frame to frame.
  const frames = await Promise.all(Array.from({ length: 20 }, (_, i) => sharp(frontal)
    .extract({ left: 8 + Math.round(6 * Math.sin(i / 2)), top: 8 + (i % 3), width: 616, height: 456 }).resize(640, 480).jpeg({ quality: 90 }).toBuffer()));
  [server, video] = await Promise.all([startServer('webcam', BOOTSTRAP), y4m(path.join(work, 'frontal.y4m'), frames, 10), writePhotos(work)]);
}, 120_000);
afterAll(() => {
  server?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!CHROMIUM)('the Users page with the webcam, in headless Chromium with a fake camera fed a real photo', () => {
  const timings: Record<string, number> = {};
  afterAll(() => console.log(`webcam timings (ms): ${JSON.stringify(timings)}`));

  async function signedIn(camera: string | null) {
    const { chromium } = await import('playwright-core');
    const args = ['--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', ...(camera ? ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${camera}`] : [])];
    const browser = await chromium.launch({ executablePath: CHROMIUM, args });
    const page = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' && !/status of (4\d\d)/.test(m.text())) problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${server.base}/console`);
    await page.getByLabel('API key').fill(BOOTSTRAP);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation').waitFor();
    await page.getByRole('link', { name: 'Users' }).click();
    return { browser, page, problems };
  }
  /** *Use the webcam* → the preview plays → *Take photo*; milliseconds from the click to the frame chosen. */
  async function shoot(page: import('playwright-core').Page) {
    const t = performance.now();
    await page.getByRole('button', { name: 'Use the webcam' }).click();
    await page.waitForFunction(() => ((document.querySelector('#user-webcam') as HTMLVideoElement | null)?.videoWidth ?? 0) > 0);
    await page.getByRole('button', { name: 'Take photo' }).click();
    await page.getByTestId('user-source').filter({ hasText: /webcam-.*\.jpg/ }).waitFor();
    return Math.round(performance.now() - t);
  }

  it('enrols a user with one webcam frame, authenticates them with another (match) and refuses another person; a photo-enrolled user is authenticated by the webcam', async () => {
    const { browser, page, problems } = await signedIn(video);
    try {
      await page.getByLabel('User id').fill('webcam-alice');
      timings.open_and_take = await shoot(page);
      expect(await page.locator('#user-webcam').count()).toBe(0); // the camera closes after the shot
      expect(await page.getByRole('img', { name: 'The photo taken with the webcam' }).count()).toBe(1);
      let t = performance.now();
      await page.getByRole('button', { name: 'Enrol' }).click();
      await page.getByTestId('user-status').waitFor();
      timings.enrol = Math.round(performance.now() - t);
      expect(await page.getByTestId('user-status').textContent()).toBe('webcam-alice');

      await shoot(page);
      t = performance.now();
      await page.getByRole('button', { name: 'Authenticate' }).click();
      await page.getByTestId('decision').waitFor();
      timings.authenticate = Math.round(performance.now() - t);
      expect(await page.getByTestId('decision').textContent()).toBe('match');
      if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'users-webcam.png'), fullPage: true });

      // The webcam enrolment tells people apart: another person's photo is no match.
      await page.locator('#user-photo').setInputFiles(path.join(work, 'stranger.jpg'));
      await page.getByRole('button', { name: 'Authenticate' }).click();
      await page.getByTestId('decision').filter({ hasText: 'no match' }).waitFor();

      // A user enrolled with a photo (the README's id_card.jpg), authenticated with the webcam.
      await page.getByLabel('User id').fill('photo-alice');
      await page.locator('#user-photo').setInputFiles(path.join(work, 'id_card.jpg'));
      await page.getByRole('button', { name: 'Enrol' }).click();
      await page.getByTestId('user-status').filter({ hasText: 'photo-alice' }).waitFor();
      await shoot(page);
      await page.getByRole('button', { name: 'Authenticate' }).click();
      await page.getByTestId('decision').waitFor();
      expect(await page.getByTestId('decision').textContent()).toBe('match');
      expect(problems).toEqual([]);
    } finally { await browser.close(); }

    // What reached the server: JPEG frames from the browser, through the same routes as a photo.
    const { records } = await (await fetch(`${server.base}/v1/audit/records?limit=500`, { headers: { 'x-api-key': BOOTSTRAP } })).json();
    const routes = records.map((r: { method: string; route: string; status: number }) => `${r.method} ${r.route} ${r.status}`);
    expect(routes.filter((r: string) => r === 'POST /v1/users 201' || r === 'POST /v1/users 200').length).toBe(2);
    expect(routes.filter((r: string) => r === 'POST /v1/users/:user_id/authenticate 200').length).toBe(3);
  }, 120_000);

  it('says so without a camera, and the photo picker still works', async () => {
    const { browser, page, problems } = await signedIn(null);
    try {
      await page.getByRole('button', { name: 'Use the webcam' }).click();
      await expect(page.getByRole('alert').textContent()).resolves.toMatch(/^No camera: .*Pick a photo instead\.$/);
      await page.getByLabel('User id').fill('photo-only');
      await page.locator('#user-photo').setInputFiles(path.join(work, 'id_card.jpg'));
      await page.getByRole('button', { name: 'Enrol' }).click();
      await page.getByTestId('user-status').waitFor();
      expect(problems).toEqual([]);
    } finally { await browser.close(); }
  }, 60_000);
});
