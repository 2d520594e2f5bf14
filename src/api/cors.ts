import type { FastifyInstance, FastifyRequest } from 'fastify';
import cors from '@fastify/cors';

/** Where cross-origin calls are answered: the API and the key set that verifies its signatures. */
const CORS_PATHS = /^\/(?:v1|\.well-known)\//;

/** Response headers a browser script on another origin may read (besides the CORS-safelisted ones). */
const EXPOSED = ['X-Request-Id', 'X-Transaction-Id', 'Retry-After', 'X-Content-SHA256', 'WWW-Authenticate', 'Location'];

/**
 * CORS for `/v1/*` and `/.well-known/*`, only when FACEPROOF_CORS_ORIGINS names origins (docs/configuration.md):
 * a request whose Origin is in the list (or any, with `*`) gets Access-Control-Allow-Origin with that origin
 * and `Vary: Origin`, and its preflight (OPTIONS with Access-Control-Request-Method) is answered 204 with
 * the methods and the request's headers allowed for 10 minutes, before authentication. Other origins and
 * other paths get no CORS header, so the browser keeps the answer from the calling page. No cookies are
 * used by the API, so credentials are never allowed. Registered before the caller hook, so a refused call
 * (401, 403, 429) carries the headers too and the page can read why. Nothing is registered without origins.
 */
export async function registerCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  if (!origins.length) return;
  const any = origins.includes('*');
  const allowed = new Set(origins);
  await app.register(cors, {
    delegator: (request: FastifyRequest, callback: (error: Error | null, options: { origin: boolean | string; methods?: string[]; exposedHeaders?: string[]; maxAge?: number; credentials?: boolean }) => void) => {
      const origin = request.headers.origin;
      const path = request.url.split('?', 1)[0];
      if (!origin || !CORS_PATHS.test(path) || !(any || allowed.has(origin))) return callback(null, { origin: false });
      callback(null, { origin, methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], exposedHeaders: EXPOSED, maxAge: 600, credentials: false });
    },
  });
}
