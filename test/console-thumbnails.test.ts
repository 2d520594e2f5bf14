import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writePhotos } from '../scripts/readme-examples.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

// Collections search in the console shows each candidate's face: cut from the stored image it was
// indexed from (the face's image_id → GET /v1/images/{id}, its box → GET
// /v1/collections/{name}/faces/{face_id}), or a placeholder with the external id when the photo was
// not kept. *Keep the photos* stores each added photo (POST /v1/images) and indexes it by image_id.
// Headless Debian chromium against a real server with the README's real photos.

const BOOTSTRAP = 'thumbs-test-bootstrap-key-0123456789';
const CHROMIUM = [process.env.FACEPROOF_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && fs.existsSync(p));
const SHOTS = process.env.FACEPROOF_CONSOLE_SCREENSHOTS ? path.resolve('docs/console') : undefined;

let server: RunningServer;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-thumbs-'));
  [server] = await Promise.all([startServer('thumbs', BOOTSTRAP), writePhotos(work)]);
}, 120_000);
afterAll(() => {
  server?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!CHROMIUM)('candidate thumbnails on the Collections page, in headless Chromium', () => {
  it('shows the face cut from the stored image when the photo was kept, a placeholder with the external id otherwise', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    const problems: string[] = [];
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
      page.on('console', (m) => { if (m.type() === 'error' && !/status of (4\d\d)/.test(m.text())) problems.push(`console: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await page.goto(`${server.base}/console`);
      await page.getByLabel('API key').fill(BOOTSTRAP);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('link', { name: 'Collections' }).click();
      await page.getByLabel('New collection').fill('people');
      await page.getByRole('button', { name: 'Create' }).click();
      await page.getByRole('heading', { name: /people/ }).waitFor();
      // Kept: stored, then indexed by image_id.
      await page.getByLabel(/Keep the photos as stored images/).check();
      await page.locator('#add-photos').setInputFiles([path.join(work, 'id_card.jpg'), path.join(work, 'stranger.jpg')]);
      await page.getByText('Added 2 of 2').waitFor();
      // Not kept: the same person's photo under another name, indexed from the upload only.
      await page.getByLabel(/Keep the photos as stored images/).uncheck();
      await page.locator('#add-photos').setInputFiles([{ name: 'alice-unkept.jpg', mimeType: 'image/jpeg', buffer: fs.readFileSync(path.join(work, 'id_card.jpg')) }]);
      await page.getByText('Added 1 of 1').waitFor();

      const t = performance.now();
      await page.locator('#search-photo').setInputFiles(path.join(work, 'selfie.jpg'));
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      const kept = page.getByRole('img', { name: 'Face of id_card, from its stored image' });
      await kept.waitFor();
      await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('img.thumb')].every((i) => i.complete && i.naturalWidth === 96));
      const ms = Math.round(performance.now() - t);
      const rows = await page.getByTestId('candidates').first().locator('tbody tr').allTextContents();
      console.log(`search to thumbnails shown: ${ms} ms; rows: ${JSON.stringify(rows)}`);
      // The unkept photo: a placeholder (its initials), named by its external id.
      const placeholder = page.getByRole('img', { name: 'No stored image of alice-unkept' });
      await placeholder.waitFor();
      expect(await placeholder.textContent()).toBe('AU');
      expect(await page.locator('img.thumb').count()).toBeGreaterThanOrEqual(1);
      // The thumbnail is the face (96 × 96 cut around the box), not the whole photo: mostly skin-coloured, not the page's white.
      const mean = await kept.evaluate((img: HTMLImageElement) => {
        const c = document.createElement('canvas'); c.width = c.height = 96;
        const g = c.getContext('2d')!; g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, 96, 96).data; let r = 0, b = 0;
        for (let i = 0; i < d.length; i += 4) { r += d[i]; b += d[i + 2]; }
        return { r: r / (96 * 96), b: b / (96 * 96) };
      });
      expect(mean.r).toBeGreaterThan(mean.b); // skin: more red than blue
      if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'collections-thumbnails.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally { await browser.close(); }

    // The API agrees: the kept faces carry an image_id, the other none.
    const list = await (await fetch(`${server.base}/v1/collections/people/faces`, { headers: { 'x-api-key': BOOTSTRAP } })).json();
    const byId = Object.fromEntries(list.faces.map((f: { external_id: string; image_id: string | null }) => [f.external_id, f.image_id]));
    expect(byId['id_card']).toMatch(/\S/);
    expect(byId['stranger']).toMatch(/\S/);
    expect(byId['alice-unkept'] ?? null).toBeNull();
  }, 120_000);
});
