import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import { createServices } from '../bootstrap.ts';
import { buildApp } from './app.ts';

/** Loads the models, listens, and closes gracefully on SIGINT/SIGTERM (in-flight requests finish first). */
export async function startServer(config: Config): Promise<FastifyInstance> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const services = await createServices(config);
  const { engine } = services;
  const app = await buildApp({ config, services, engine: engine.info(), close: () => services.close() });
  // Retention: expired images and sessions, and file bytes a crash left without their row, are erased in the background, a batch at a time.
  const sweeper = setInterval(() => {
    const auditBefore = config.auditRetentionDays > 0 ? new Date(Date.now() - config.auditRetentionDays * 86_400_000).toISOString() : undefined;
    // Kept answers (requests_by_*) follow the audit records they belong to.
    // With several nodes on one database, one sweeps at a time; the others skip this turn.
    services.store.exclusively('retention-sweep', () => Promise.all([
      auditBefore ? services.requestRecords?.prune(auditBefore) : 0, services.images.sweepExpired(), services.sessions.sweepExpired(),
      auditBefore ? services.audit.prune(auditBefore) : 0, services.files.sweepPendingBytes(),
    ])).then(
      (swept) => {
        if (!swept) return;
        const [, images, sessions, audit, fileBytes] = swept;
        if (images + sessions + audit + fileBytes > 0) app.log.info({ images, sessions, audit, fileBytes }, 'expired data erased');
      },
      (err: unknown) => app.log.error({ err }, 'retention sweep failed'),
    );
  }, config.retentionSweepMs);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));
  const opening = performance.now();
  const indexed = await services.collections.openIndexes();
  app.log.info({ faces: indexed, ms: Math.round(performance.now() - opening) }, 'collection indexes open');
  await app.listen({ host: config.host, port: config.port });
  app.log.info({ pipeline: engine.info().pipelineId, dataDir: config.dataDir }, 'faceproof ready');
  const now = new Date().toISOString();
  if (!(await services.administration.listKeys()).some((k) => !k.revokedAt && (!k.expiresAt || k.expiresAt > now))) {
    app.log.warn('no API key is in force: every request but health will get 401. Set FACEPROOF_BOOTSTRAP_KEY (see docs/authentication.md) or create a key with `faceproof keys create`');
  }

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      app.log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    app.close().then(() => process.exit(0), (err) => {
      app.log.error({ err }, 'error while closing');
      process.exit(1);
    });
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return app;
}
