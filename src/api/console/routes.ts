import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { VERSION } from '../../version.ts';

/**
 * The landing page (GET /) and the web console (GET /console): static, public, not audited and
 * not in the OpenAPI document. The console is one ES module bundled by esbuild (which tsx already
 * brings) from src/api/console/web/ and the typed client, the first time it is asked for, and
 * kept in memory: no build step, no CDN, nothing fetched at run time.
 */
const WEB = path.join(path.dirname(fileURLToPath(import.meta.url)), 'web');
const ROOT = path.resolve(WEB, '../../../..');

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A static page or asset: public, and not recorded in the audit trail. */
    staticAsset?: boolean;
  }
}

/** Where the static routes are: accessOf() treats them as public. */
export const isStaticRoute = (route: string) => route === '/' || route === '/console' || route.startsWith('/console/') || route === '/capture' || route.startsWith('/capture/');

const bundles = new Map<string, Promise<string>>();

/** One script of src/api/console/web/ with what it imports (preact, htm, @faceproof/client), minified, built once. */
function bundleOf(entry: string): Promise<string> {
  let bundle = bundles.get(entry);
  if (!bundle) {
    bundle = (async () => {
      const esbuild = await import('esbuild');
      const result = await esbuild.build({
        entryPoints: [path.join(WEB, entry)], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, write: false,
        absWorkingDir: ROOT, tsconfig: path.join(ROOT, 'tsconfig.json'), legalComments: 'none', logLevel: 'silent',
      });
      return result.outputFiles[0].text;
    })();
    bundles.set(entry, bundle);
    bundle.catch(() => bundles.delete(entry));
  }
  return bundle;
}

/** The console's script: src/api/console/web/main.ts with preact, htm and @faceproof/client, minified. */
export const consoleBundle = () => bundleOf('main.ts');
/** The embeddable <faceproof-capture> element alone (no dependency). */
export const captureBundle = () => bundleOf('capture.ts');

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

const page = (reply: FastifyReply, html: string) => reply.headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(html);

const LANDING = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Faceproof</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/console.css"></head>
<body class="landing"><main>
<h1>Faceproof <small>${VERSION}</small></h1>
<p>Self-hosted face verification and identity proofing.</p>
<ul class="links">
<li><a href="/console">Web console</a> — compare photos, search collections, browse the audit trail (sign in with an API key)</li>
<li><a href="/capture">Face check</a> — the browser capture with challenge–response liveness (needs a token); embed it with <code>&lt;script type="module" src="/capture/faceproof-capture.js"&gt;</code></li>
<li><a href="/docs">API documentation</a> (and the <a href="/openapi.json">OpenAPI document</a>)</li>
<li><a href="/v1/health">Health</a> · <a href="/v1/health/ready">Readiness</a> · <a href="/.well-known/jwks.json">Result-signing keys (JWKS)</a></li>
</ul>
</main></body></html>
`;

const CONSOLE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Faceproof console</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/console.css"><script type="module" src="/console/console.js"></script></head>
<body><div id="app"><p class="loading">Loading the console…</p></div>
<noscript>The console needs JavaScript.</noscript></body></html>
`;

const CAPTURE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Face check — Faceproof</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/console.css"><script type="module" src="/capture/capture-page.js"></script></head>
<body class="capture"><main id="main">
<h1>Face check</h1>
<p>Look at the camera, follow the gestures shown, and the server checks that a live person performed them.</p>
<form id="token-form">
<label for="token">Access token</label>
<input id="token" type="password" autocomplete="off" required aria-describedby="token-help">
<p id="token-help" class="help">A short-lived token with the <code>liveness</code> and <code>quality</code> scopes, minted by your backend with <code>POST /v1/auth/token</code> (or an API key). Kept in this page's memory only.</p>
<button type="submit">Continue</button>
</form>
<faceproof-capture hidden></faceproof-capture>
<section id="result" hidden aria-labelledby="result-title"><h2 id="result-title">Result</h2>
<dl class="facts"><dt>Outcome</dt><dd><output id="outcome"></output></dd><dt>Signature</dt><dd><output id="signature"></output></dd></dl>
<details><summary>The signed outcome (what the <code>faceproof-result</code> event carries)</summary><pre id="result-json"></pre></details>
</section>
<p><a href="/">Faceproof</a> · <a href="/docs">API documentation</a></p>
</main></body></html>
`;

export function consoleRoutes(app: FastifyInstance): void {
  const options = { schema: { hide: true }, config: { staticAsset: true } };
  app.get('/', options, async (_request, reply) => page(reply, LANDING));
  app.get('/console', options, async (_request, reply) => page(reply, CONSOLE));
  app.get('/console/console.js', options, async (_request, reply) => reply.headers(SECURITY_HEADERS).type('text/javascript; charset=utf-8').header('Cache-Control', 'no-cache').send(await consoleBundle()));
  const script = (bundle: () => Promise<string>) => async (_request: unknown, reply: FastifyReply) => reply.headers(SECURITY_HEADERS).type('text/javascript; charset=utf-8').header('Cache-Control', 'no-cache').send(await bundle());
  app.get('/capture', options, async (_request, reply) => page(reply, CAPTURE));
  app.get('/capture/capture-page.js', options, script(() => bundleOf('capture-page.ts')));
  // The embeddable element: other origins load it with <script type="module" src=…>, so it may be fetched cross-origin.
  app.get('/capture/faceproof-capture.js', options, async (_request, reply) => reply.headers({ ...SECURITY_HEADERS, 'Access-Control-Allow-Origin': '*', 'Cross-Origin-Resource-Policy': 'cross-origin' })
    .type('text/javascript; charset=utf-8').header('Cache-Control', 'no-cache').send(await captureBundle()));
  app.get('/console/console.css', options, async (_request, reply) => reply.headers(SECURITY_HEADERS).type('text/css; charset=utf-8').header('Cache-Control', 'no-cache').send(fs.readFileSync(path.join(WEB, 'console.css'))));
}
