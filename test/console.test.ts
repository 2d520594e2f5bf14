import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writePhotos } from '../scripts/readme-examples.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { fnmrAtFar } from '../src/api/console/web/det-curve.ts';

// The landing page and the web console (src/api/console): served by the server itself, public,
// not audited, not in the OpenAPI document; then driven in a real headless Chromium (Debian's
// `chromium`, through playwright-core) against a real server with real photos: sign in, compare,
// collections and search, users, audit with chain verification, quality, keys. Each page's
// screenshot goes to docs/console/ when FACEPROOF_CONSOLE_SCREENSHOTS=1 (npm run console:screenshots),
// to a scratch folder otherwise.

const BOOTSTRAP = 'console-test-bootstrap-key-0123456789';
const CHROMIUM = [process.env.FACEPROOF_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && fs.existsSync(p));
const SHOTS = process.env.FACEPROOF_CONSOLE_SCREENSHOTS ? path.resolve('docs/console') : fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-console-shots-'));

let server: RunningServer;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-console-'));
  [server] = await Promise.all([startServer('console', BOOTSTRAP), writePhotos(work)]);
}, 120_000);
afterAll(() => {
  server?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the static routes', () => {
  it('answer / with a landing page linking the console, the API docs and health, without credentials', async () => {
    const res = await fetch(`${server.base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const text = await res.text();
    for (const href of ['/console', '/docs', '/v1/health']) expect(text).toContain(`href="${href}"`);
  });

  it('serve the console page, its script (bundled with the typed client) and its style; stay out of the OpenAPI document and the audit trail', async () => {
    expect((await fetch(`${server.base}/console`)).status).toBe(200);
    const js = await fetch(`${server.base}/console/console.js`);
    expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(await js.text()).toContain('/v1/compare');
    expect((await fetch(`${server.base}/console/console.css`)).status).toBe(200);
    const doc = await (await fetch(`${server.base}/openapi.json`)).json();
    expect(Object.keys(doc.paths).filter((p) => p === '/' || p.startsWith('/console'))).toEqual([]);
    const { records } = await (await fetch(`${server.base}/v1/audit/records?limit=500`, { headers: { 'x-api-key': BOOTSTRAP } })).json();
    expect(records.filter((r: { route: string }) => r.route === '/' || r.route.startsWith('/console'))).toEqual([]);
    // A path under /console that is no file is a 404 like any unknown path (and audited as such).
    expect((await fetch(`${server.base}/console/nothing.js`)).status).toBe(404);
  });
});

describe.skipIf(!CHROMIUM)('the console in headless Chromium', () => {
  let browser: import('playwright-core').Browser;
  let page: import('playwright-core').Page;
  const problems: string[] = [];
  const timings: Record<string, number> = {};
  const photo = (name: string) => path.join(work, name);
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  /** What the Compare page's DET plot shows: its name, the curve's points, each threshold's and this pair's mark (FAR, FNMR, x). */
  const detPlot = () => page.getByTestId('det-plot').evaluate((figure) => {
    const mark = (g: Element | null) => ({ far: Number(g?.getAttribute('data-far')), fnmr: Number(g?.getAttribute('data-fnmr')), x: Number(g?.querySelector('circle')?.getAttribute('cx')) });
    return {
      label: figure.querySelector('svg[role="img"]')?.getAttribute('aria-label') ?? '',
      summary: figure.querySelector('[data-testid="det-summary"]')?.textContent ?? '',
      curvePoints: (figure.querySelector('polyline.curve')?.getAttribute('points') ?? '').trim().split(/\s+/).length,
      thresholds: { match: mark(figure.querySelector('.thr.match')), uncertain: mark(figure.querySelector('.thr.uncertain')) } as Record<string, { far: number; fnmr: number; x: number }>,
      here: mark(figure.querySelector('[data-testid="det-here"]')),
    };
  });
  /** Milliseconds from an action to the page showing what it waits for. */
  const timed = async (label: string, action: () => Promise<unknown>, ready: () => Promise<unknown>) => {
    const t = performance.now();
    await action();
    await ready();
    timings[label] = Math.round(performance.now() - t);
  };

  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error' && !/status of (4\d\d)/.test(m.text())) problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    console.log(`console timings (ms): ${JSON.stringify(timings)}; screenshots in ${SHOTS}`);
  });

  it('signs in with an API key kept in session storage, never in the URL; a wrong key is told', async () => {
    await timed('sign-in page', () => page.goto(`${server.base}/console`), () => page.getByLabel('API key').waitFor());
    await shot('sign-in');
    await page.getByLabel('API key').fill('fpk_wrong.secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/401 invalid_credentials/);
    await page.getByLabel('API key').fill(BOOTSTRAP);
    await timed('sign in', () => page.getByRole('button', { name: 'Sign in' }).click(), () => page.getByRole('navigation').waitFor());
    expect(await page.evaluate(() => sessionStorage.getItem('faceproof.apiKey'))).toBe(BOOTSTRAP);
    expect(page.url()).not.toContain(BOOTSTRAP);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
  });

  it('compares two photos of one person (match) and of two people (no match), faces boxed, score on the thresholds', async () => {
    await page.locator('#photo-a').setInputFiles(photo('selfie.jpg'));
    await page.locator('#photo-b').setInputFiles(photo('id_card.jpg'));
    await timed('compare', () => page.getByRole('button', { name: 'Compare' }).click(), () => page.getByTestId('decision').waitFor());
    expect(await page.getByTestId('decision').textContent()).toBe('match');
    await page.locator('.face-image svg').first().waitFor();
    await page.getByText(/^valid \(key /).waitFor();
    // The DET plot: the shipped curve, the thresholds in force at the server's FNMR, this pair left of
    // the match threshold (a lower FAR), at the FNMR the served curve gives at its FAR.
    const caps = await (await fetch(`${server.base}/v1/capabilities`, { headers: { 'x-api-key': BOOTSTRAP } })).json();
    const plot = await detPlot();
    expect(plot.label).toMatch(/^DET curve of the shipped calibration/);
    expect(plot.curvePoints).toBe(caps.calibration.det.length);
    for (const decision of ['match', 'uncertain']) {
      const served = caps.calibration.thresholds.find((t: { pair: string; decision: string }) => t.pair === 'default' && t.decision === decision);
      expect(plot.thresholds[decision].far).toBe(served.far);
      expect(plot.thresholds[decision].fnmr).toBeCloseTo(served.fnmr, 5);
    }
    const far = Number(await page.locator('dt:text-is("false-accept rate") + dd').textContent());
    expect(plot.here.far).toBeCloseTo(far, 12);
    expect(plot.here.far).toBeLessThanOrEqual(caps.calibration.thresholds[0].far);
    expect(plot.here.fnmr).toBeCloseTo(fnmrAtFar(caps.calibration.det, far), 9);
    expect(plot.here.x).toBeLessThan(plot.thresholds.match.x);
    expect(plot.summary).toContain(`this pair: FAR ${await page.locator('dt:text-is("false-accept rate") + dd').textContent()}`);
    await shot('compare');
    await page.locator('#photo-b').setInputFiles(photo('stranger.jpg'));
    await page.getByRole('button', { name: 'Compare' }).click();
    await page.getByTestId('decision').filter({ hasText: 'no match' }).waitFor();
    expect(await page.locator('.face-image').count()).toBe(2);
    // Two people: the pair's FAR is above the uncertain threshold's, so the dot sits right of it.
    const apart = await detPlot();
    expect(apart.here.far).toBeGreaterThan(apart.thresholds.uncertain.far);
    expect(apart.here.x).toBeGreaterThan(apart.thresholds.uncertain.x);
  });

  it('creates a collection, adds photos with a progress bar, and finds the person by search', async () => {
    await timed('collections page', () => page.getByRole('link', { name: 'Collections' }).click(), () => page.getByRole('table', { name: /Collections of this tenant/ }).waitFor());
    await page.getByLabel('New collection').fill('customers');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: /customers/ }).waitFor();
    await page.locator('#add-photos').setInputFiles([photo('id_card.jpg'), photo('stranger.jpg'), photo('wall.jpg')]);
    await page.getByText('Added 3 of 3, 1 refused').waitFor();
    await page.locator('#search-photo').setInputFiles(photo('selfie.jpg'));
    await timed('search', () => page.getByRole('button', { name: 'Search', exact: true }).click(), () => page.getByTestId('candidates').first().waitFor());
    expect(await page.getByTestId('candidates').first().locator('tbody tr').first().locator('td').nth(1).textContent()).toBe('id_card');
    await page.getByText(/Open-set threshold in force/).waitFor();
    await shot('collections');
  });

  it('enrols a user and authenticates them with another photo', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByLabel('User id').fill('alice');
    await page.locator('#user-photo').setInputFiles(photo('id_card.jpg'));
    await page.getByRole('button', { name: 'Enrol' }).click();
    await page.getByTestId('user-status').waitFor();
    await page.locator('#user-photo').setInputFiles(photo('selfie.jpg'));
    await page.getByRole('button', { name: 'Authenticate' }).click();
    await page.getByTestId('decision').waitFor();
    expect(await page.getByTestId('decision').textContent()).toBe('match');
    await shot('users');
  });

  it('browses the audit trail newest first, opens a record, verifies the chain', async () => {
    await timed('audit page', () => page.getByRole('link', { name: 'Audit' }).click(), () => page.locator('table.audit tbody tr').first().waitFor());
    const first = await page.locator('table.audit tbody tr').first().locator('td').nth(1).textContent();
    // The users page reads the user's history after authenticating: the newest record.
    expect(first).toBe('GET /v1/users/:user_id/history');
    await page.locator('table.audit tbody tr').first().getByRole('button').click();
    await page.getByRole('region', { name: 'The selected record' }).waitFor();
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await expect(page.getByTestId('chain').filter({ hasText: /^valid|BROKEN/ }).textContent()).resolves.toMatch(/^valid: the server checked \d+ records \(\d+ of this tenant\) in [\d.]+ ms; \d+ shown records rehashed/);
    await shot('audit');
    await page.getByLabel('Service').fill('compare');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('table').getByText(/^2 records/).waitFor();
  });

  it('judges a photo\'s quality face by face', async () => {
    await page.getByRole('link', { name: 'Detect & quality' }).click();
    await page.locator('#quality-photo').setInputFiles(photo('team.jpg'));
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByTestId('verdict').waitFor();
    expect(await page.locator('details').count()).toBeGreaterThan(1);
    await shot('quality');
  });

  it('lists clients, creates one and a key whose secret is shown once', async () => {
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByLabel('New client id').fill('web-shop');
    await page.getByRole('button', { name: 'Create client' }).click();
    await page.getByRole('heading', { name: 'Keys of web-shop' }).waitFor();
    await page.getByRole('button', { name: 'Create key' }).click();
    await expect(page.getByTestId('api-key').textContent()).resolves.toMatch(/^fpk_\w+\.\S+$/);
    await shot('keys');
  });

  it('labels every control, and fits a phone-sized screen', async () => {
    await page.getByRole('link', { name: 'Compare' }).click();
    for (const p of ['compare', 'collections', 'users', 'audit', 'quality', 'keys']) {
      await page.goto(`${server.base}/console#/${p}`);
      await page.locator('main h2').waitFor();
      const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute('aria-label') && !(el.textContent ?? '').trim())
        .map((el) => el.outerHTML.slice(0, 80)));
      expect(unlabelled, p).toEqual([]);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.base}/console#/compare`);
    await page.locator('#photo-a').setInputFiles(photo('selfie.jpg'));
    await page.locator('#photo-b').setInputFiles(photo('id_card.jpg'));
    await page.getByRole('button', { name: 'Compare' }).click();
    await page.getByTestId('decision').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('compare-phone');
    await page.goto(`${server.base}/`);
    await shot('landing');
    expect(problems).toEqual([]);
  });
});

if (!CHROMIUM) {
  describe('the console in headless Chromium', () => {
    it.skip('needs a chromium binary: apt-get install -y chromium (or set FACEPROOF_CHROMIUM)', () => {});
  });
  console.warn('test/console.test.ts: no chromium binary (/usr/bin/chromium); the browser tests are skipped. apt-get install -y chromium, or set FACEPROOF_CHROMIUM.');
}
