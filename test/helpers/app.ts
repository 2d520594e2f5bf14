import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config.ts';
import { createFaceService } from '../../src/bootstrap.ts';
import { buildApp } from '../../src/api/app.ts';

/** The real application (real models, real calibration) with default configuration, driven through inject(). */
export async function createTestApp(env: Record<string, string> = {}): Promise<{ app: FastifyInstance; config: Config }> {
  const config = loadConfig(env);
  const { service, engine } = await createFaceService(config);
  const app = await buildApp({ config, service, engine: engine.info(), logger: false, close: () => engine.close() });
  await app.ready();
  return { app, config };
}
