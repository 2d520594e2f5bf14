import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import { createFaceService } from '../bootstrap.ts';
import { buildApp } from './app.ts';

/** Loads the models, listens, and closes gracefully on SIGINT/SIGTERM (in-flight requests finish first). */
export async function startServer(config: Config): Promise<FastifyInstance> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const { service, engine } = await createFaceService(config);
  const app = await buildApp({ config, service, engine: engine.info(), close: () => engine.close() });
  await app.listen({ host: config.host, port: config.port });
  app.log.info({ pipeline: engine.info().pipelineId, dataDir: config.dataDir }, 'faceproof ready');

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
