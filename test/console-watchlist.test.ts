import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writePhotos } from '../scripts/readme-examples.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

// The Collections page shows a watch-list's history (GET /v1/collections/{name}/inquiries): each
// search that hit it, newest first, with when, which API client and which faces (cut from their
// stored image when kept), 20 a page; a search made on the page adds itself; a gallery has none.
// Headless Debian chromium against a real server with the README's real photos.

const BOOTSTRAP = 'watchlist-test-bootstrap-key-0123456789';
const CHROMIUM = [process.env.FACEPROOF_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && fs.existsSync(p));
const SHOTS = process.env.FACEPROOF_CONSOLE_SCREENSHOTS ? path.resolve('docs/console') : undefined;

let server: RunningServer;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-watchlist-'));
  [server] = await Promise.all([startServer('watchlist', BOOTSTRAP), writePhotos(work)]);
}, 120_000);
afterAll(() => {
  server?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!CHROMIUM)('watch-list history on the Collections page, in headless Chromium', () => {
  it('lists the searches that hit a watch-list, newest first, pages on, and adds the page\'s own search', async () => {
    const call = async (url: string, body: object, key = BOOTSTRAP) => {
      const res = await fetch(`${server.base}${url}`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = await res.json();
      expect(res.status, JSON.stringify(json)).toBeLessThan(300);
      return json;
    };
    const image = (name: string) => ({ base64: fs.readFileSync(path.join(work, name)).toString('base64') });
    await call('/v1/collections', { name: 'suspects', kind: 'watchlist' });
    await call('/v1/collections', { name: 'customers' });
    // The fraudster's photo kept as a stored image, so the history can show the face; another face not.
    const stored = await call('/v1/images', { image: image('id_card.jpg'), label: 'fraudster-1' });
    await call('/v1/collections/suspects/faces', { image: { image_id: stored.image_id }, external_id: 'fraudster-1' });
    await call('/v1/collections/suspects/faces', { image: image('stranger.jpg'), external_id: 'someone-else' });
    const keys: Record<string, string> = {};
    for (const client of ['branch-1', 'branch-2']) {
      await call('/v1/admin/clients', { client_id: client, tenant_id: 'default' });
      keys[client] = (await call(`/v1/admin/clients/${client}/keys`, { scopes: ['collections'] })).key.api_key;
    }
    await call('/v1/collections/suspects/search', { image: image('selfie.jpg') }, keys['branch-1']);
    await call('/v1/collections/suspects/search', { image: image('selfie.jpg') }, keys['branch-2']);
    // 21 more by template (no detection each time): 23 in all, more than the page's 20.
    const template = (await call('/v1/detect', { image: image('selfie.jpg'), return_templates: true })).faces[0].template;
    for (let i = 0; i < 21; i++) await call('/v1/collections/suspects/search', { template }, keys['branch-1']);

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    const problems: string[] = [];
    const times: Record<string, number> = {};
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
      page.on('console', (m) => { if (m.type() === 'error' && !/status of (4\d\d)/.test(m.text())) problems.push(`console: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await page.goto(`${server.base}/console#/collections`);
      await page.getByLabel('API key').fill(BOOTSTRAP);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const history = page.getByTestId('watchlist-history');
      const rows = history.locator('tbody tr');
      const read = () => rows.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim())));

      let t = performance.now();
      await page.getByRole('button', { name: 'suspects', exact: true }).click();
      await page.getByRole('heading', { name: 'Watch-list history' }).waitFor();
      await history.getByText(/^20 searches that hit suspects \(the newest; older ones below\), newest first$/).waitFor();
      times['select watch-list → history shown'] = Math.round(performance.now() - t);
      let shown = await read();
      expect(shown).toHaveLength(20);
      for (const [, client, faces] of shown) {
        expect(client).toBe('branch-1');
        expect(faces).toContain('fraudster-1');
        expect(faces).not.toContain('someone-else');
      }
      const when = shown.map(([at]) => at);
      expect(when).toEqual([...when].sort().reverse());

      t = performance.now();
      await page.getByRole('button', { name: 'Show older searches' }).click();
      await history.getByText(/^23 searches that hit suspects, newest first$/).waitFor();
      times['show older searches'] = Math.round(performance.now() - t);
      shown = await read();
      expect(shown.slice(-2).map(([, client]) => client)).toEqual(['branch-2', 'branch-1']);
      expect(await page.getByRole('button', { name: 'Show older searches' }).count()).toBe(0);
      // The matched face, cut from its stored image.
      await history.getByRole('img', { name: 'Face of fraudster-1, from its stored image' }).first().waitFor();

      // A search made here is an inquiry too: the history reloads with it on top.
      await page.locator('#search-photo').setInputFiles(path.join(work, 'selfie.jpg'));
      t = performance.now();
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      await page.getByTestId('candidates').first().waitFor();
      await rows.first().locator('td').nth(1).filter({ hasText: 'bootstrap' }).waitFor();
      times['search → history updated'] = Math.round(performance.now() - t);
      expect((await read())[0][2]).toContain('fraudster-1');
      if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'collections-watchlist.png'), fullPage: true });

      // A gallery records no inquiries: no history on its panel.
      await page.getByRole('button', { name: 'customers', exact: true }).click();
      await page.getByRole('heading', { name: /^customers/ }).waitFor();
      expect(await page.getByRole('heading', { name: 'Watch-list history' }).count()).toBe(0);
      // A new watch-list says it has none yet.
      await page.getByLabel('New collection').fill('fresh');
      await page.getByLabel('Kind').selectOption('watchlist');
      await page.getByRole('button', { name: 'Create' }).click();
      await page.getByTestId('watchlist-empty').waitFor();
      console.log(`watch-list history (ms): ${JSON.stringify(times)}`);
      expect(problems).toEqual([]);
    } finally { await browser.close(); }
  }, 180_000);
});

if (!CHROMIUM) {
  describe('watch-list history on the Collections page, in headless Chromium', () => {
    it.skip('needs a chromium binary: apt-get install -y chromium (or set FACEPROOF_CHROMIUM)', () => {});
  });
}
