import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DEFAULT_TENANT } from '../core/image-store.ts';
import { FaceproofError } from '../core/errors.ts';
import type { Authenticator, Credentials, Principal } from '../core/authentication.ts';
import type { Scope } from '../core/scopes.ts';
import { sendError } from './errors.ts';
import { scopeOf, serviceOf } from './route-service.ts';
import { dialectOf } from './dialects/registry.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { isStaticRoute } from './console/routes.ts';

/** Who is calling: the tenant whose data the request may touch, and the client that made it. */
export interface Caller {
  tenantId: string;
  clientId: string;
  /** The authenticated key; null on public routes. */
  principal: Principal | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
    /** Content-MD5 a signed request committed to; its body is checked against it once read. */
    signedContentMd5?: string;
    receivedContentMd5?: string;
  }
}

/** What a route needs: nothing, any valid credential, or one scope. */
export type Access = 'public' | 'authenticated' | Scope;

const PUBLIC = new Set(['/v1/health', '/v1/health/ready', '/.well-known/jwks.json', '/openapi.json', '/v1/auth/advance-token']);
const ANONYMOUS = (): Caller => ({ tenantId: DEFAULT_TENANT, clientId: 'anonymous', principal: null });

/** What a route needs: public routes nothing, otherwise its service's scope or any valid credential. */
export function accessOf(route: string | undefined): Access {
  if (route === undefined) return 'authenticated';
  if (PUBLIC.has(route) || route.startsWith('/docs') || isStaticRoute(route)) return 'public';
  const vendor = dialectOf(route);
  if (vendor?.dialect.publicPaths.includes(vendor.path)) return 'public';
  return scopeOf(serviceOf(route)) ?? 'authenticated';
}

/**
 * Credentials from the headers, whichever scheme the client speaks: TrustVision's `TV` signature,
 * a Bearer JWT or API key, IDEMIA's `apikey`, X-API-Key, or ADVANCE's X-ACCESS-TOKEN.
 */
export function credentialsOf(request: FastifyRequest): Credentials | undefined {
  const h = request.headers;
  const authorization = typeof h.authorization === 'string' ? h.authorization.trim() : undefined;
  if (authorization) {
    const tv = /^TV\s+([^:\s]+):(\S+)$/i.exec(authorization);
    if (tv) {
      const contentMd5 = typeof h['content-md5'] === 'string' ? h['content-md5'] : undefined;
      // A dialect that signs this way signs the path below its base URL, without the query.
      const vendor = dialectOf(request.url);
      const signing = vendor?.dialect.hmac;
      const target = signing ? vendor!.path : request.url;
      return { scheme: 'hmac', keyId: tv[1], signature: tv[2], timestamp: String(h['x-tv-timestamp'] ?? ''), contentMd5, method: request.method, target, repeatable: signing?.repeatedSignatures ?? false };
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (bearer) return looksLikeJwt(bearer[1]) ? { scheme: 'token', token: bearer[1] } : { scheme: 'api_key', value: bearer[1] };
    throw new FaceproofError('invalid_credentials', 'Authorization must be "TV <key id>:<signature>" or "Bearer <token or API key>"', 'authorization');
  }
  for (const name of ['x-api-key', 'apikey'] as const) {
    const value = h[name];
    if (typeof value === 'string' && value) return { scheme: 'api_key', value: value.trim() };
  }
  const token = h['x-access-token'];
  if (typeof token === 'string' && token) return { scheme: 'token', token: token.trim() };
  return undefined;
}

const looksLikeJwt = (s: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(s) && s.startsWith('eyJ');

export interface CallerOptions {
  authenticator: Authenticator;
  limiter: RateLimiter;
}

/**
 * Authenticates every request before anything else runs, checks its route's scope and its client's
 * rate, and leaves request.caller for the routes. A signed request that committed to a Content-MD5
 * has its body checked against it as the body streams in.
 */
export function registerCaller(app: FastifyInstance, { authenticator, limiter }: CallerOptions): void {
  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', async (request, reply) => {
    request.caller = ANONYMOUS();
    // A path that names no route is 404 for everyone: credentials would not change the answer.
    if (request.is404) return;
    const access = accessOf(request.routeOptions.url);
    if (access === 'public') return;
    try {
      const credentials = credentialsOf(request);
      if (!credentials) throw new FaceproofError('unauthenticated', 'this route needs credentials: X-API-Key, Authorization (Bearer or TV signature) or X-ACCESS-TOKEN');
      const principal = await authenticator.authenticate(credentials);
      request.caller = { tenantId: principal.tenantId, clientId: principal.clientId, principal };
      if (access !== 'authenticated' && !principal.scopes.includes(access)) {
        throw new FaceproofError('insufficient_scope', `this key lacks the "${access}" scope`);
      }
      if (credentials.scheme === 'hmac' && credentials.contentMd5 !== undefined) request.signedContentMd5 = credentials.contentMd5;
      const wait = await limiter.take(principal.client);
      if (wait > 0) {
        reply.header('Retry-After', String(Math.ceil(wait)));
        throw new FaceproofError('rate_limit_exceeded', `client ${principal.clientId} is over its rate limit; retry after ${Math.ceil(wait)} s`);
      }
    } catch (err) {
      if (!(err instanceof FaceproofError)) throw err;
      if (err.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="faceproof", TV');
      return sendError(request, reply, err);
    }
  });
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (request.signedContentMd5 === undefined) return payload;
    // The multipart parser reads the raw request itself, past this hook: a digest taken here would
    // compete with it for the stream. TrustVision defines Content-MD5 for JSON bodies only.
    if (/^multipart\//i.test(String(request.headers['content-type'] ?? ''))) {
      throw new FaceproofError('invalid_parameter', 'Content-MD5 signing covers JSON bodies; sign a multipart request without it', 'content-md5');
    }
    const md5 = createHash('md5');
    const tap = new Transform({
      transform(chunk, _enc, done) { md5.update(chunk); done(null, chunk); },
      flush(done) { request.receivedContentMd5 = md5.digest('base64'); done(); },
    });
    return payload.pipe(tap);
  });
  app.addHook('preHandler', async (request) => {
    const expected = request.signedContentMd5;
    if (expected === undefined) return;
    const received = request.receivedContentMd5 ?? createHash('md5').digest('base64');
    const hex = Buffer.from(received, 'base64').toString('hex');
    if (expected !== received && expected.toLowerCase() !== hex) {
      throw new FaceproofError('invalid_signature', 'the body does not match the Content-MD5 the request was signed with', 'content-md5');
    }
  });
}
