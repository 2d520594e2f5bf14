import type { FastifyInstance } from 'fastify';
import { FaceproofError } from '../core/errors.ts';
import { sendError } from './errors.ts';

/**
 * Body limits by route: routes whose body can carry images, video, frames or templates get the
 * media limit; every other route (administration, metadata, transactions) a small one, so a
 * 40 MB body aimed at them is refused before it is read.
 */
export function registerBodyLimits(app: FastifyInstance, limits: { media: number; other: number }): void {
  app.addHook('onRoute', (route) => {
    if (route.bodyLimit !== undefined) return;
    const body = JSON.stringify(route.schema?.body ?? {});
    route.bodyLimit = /"(base64|template|video|frames|faces|binary)"/.test(body) ? limits.media : limits.other;
  });
}

/**
 * A request still unanswered after `ms` gets 408 request_timeout; the work it started finishes in the
 * background and its result is dropped. Waiting for a body counts: a slow upload is cut off too.
 */
export function registerRequestTimeout(app: FastifyInstance, ms: number): void {
  if (!(ms > 0)) return;
  app.addHook('onRequest', async (request, reply) => {
    const timer = setTimeout(() => {
      if (reply.sent || reply.raw.headersSent) return;
      void sendError(request, reply, new FaceproofError('request_timeout', `no answer within ${ms} ms; the request was abandoned`));
    }, ms);
    timer.unref();
    const clear = () => clearTimeout(timer);
    reply.raw.once('finish', clear);
    reply.raw.once('close', clear);
  });
}
