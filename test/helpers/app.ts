import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServices, type Services } from '../../src/bootstrap.ts';
import { buildApp } from '../../src/api/app.ts';
import type { IdentifyCaller } from '../../src/api/caller.ts';

/** The real application, with its own empty data folder, driven through inject(). */
export async function createTestApp(env: Record<string, string> = {}, identify?: IdentifyCaller): Promise<{ app: FastifyInstance; config: Config; services: Services }> {
  const config = loadConfig({ FACEPROOF_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-test-')), ...env });
  const services = await createServices(config);
  const app = await buildApp({ config, services, engine: services.engine.info(), logger: false, identify, close: () => services.close() });
  await app.ready();
  return { app, config, services };
}
