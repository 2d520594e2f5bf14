import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DEFAULT_TENANT } from '../core/image-store.ts';

/** Who is calling: the tenant whose data the request may touch, and the client that made it. */
export interface Caller {
  tenantId: string;
  clientId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

export type IdentifyCaller = (request: FastifyRequest) => Caller;

/**
 * Until API clients exist, every request acts for the default tenant; the client is the one the
 * caller names in X-Client-Id (used to count distinct clients in watch-list history), or "anonymous".
 */
export const singleTenantCaller: IdentifyCaller = (request) => {
  const named = request.headers['x-client-id'];
  const clientId = typeof named === 'string' && /^[\w.@:-]{1,128}$/.test(named) ? named : 'anonymous';
  return { tenantId: DEFAULT_TENANT, clientId };
};

/** Resolves the caller once per request, before any handler runs, so routes only read request.caller. */
export function registerCaller(app: FastifyInstance, identify: IdentifyCaller): void {
  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', async (request) => {
    request.caller = identify(request);
  });
}
