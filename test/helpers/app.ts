import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServices, type Services } from '../../src/bootstrap.ts';
import { buildApp } from '../../src/api/app.ts';

/** The real application, with its own empty data folder, driven through inject(). */
export async function createTestApp(env: Record<string, string> = {}): Promise<{ app: FastifyInstance; config: Config; services: Services }> {
  const config = loadConfig({ FACEPROOF_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-test-')), ...env });
  const services = await createServices(config);
  const { service, images, files, engine } = services;
  const app = await buildApp({ config, service, images, files, engine: engine.info(), logger: false, close: () => services.close() });
  await app.ready();
  return { app, config, services };
}
