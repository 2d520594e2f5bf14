import type { FastifyInstance, InjectOptions } from 'fastify';
import { loadConfig, type Config } from '../../src/config.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServices, type Services } from '../../src/bootstrap.ts';
import { buildApp } from '../../src/api/app.ts';
import { randomBytes } from 'node:crypto';
import { testDatabase } from './postgres.ts';

/** The bootstrap key every test app is started with (FACEPROOF_BOOTSTRAP_KEY). */
export const TEST_BOOTSTRAP_KEY = 'test-bootstrap-key-0123456789';

const AUTH_HEADERS = ['authorization', 'x-api-key', 'apikey', 'x-access-token'];

/**
 * True under `npm run test:postgres` (FACEPROOF_TEST_STORE=postgres): the tests marked with it read
 * the SQLite file or the data folder's files directly, or run the CLI on the data folder alone, so
 * they say nothing about PostgreSQL and are skipped there. What they check is checked on PostgreSQL
 * by the store suites (test/store-*.test.ts, both databases) and test/cli-postgres.test.ts.
 */
export const SQLITE_ONLY = process.env.FACEPROOF_TEST_STORE === 'postgres';

/**
 * The real application, with its own empty data folder, driven through inject(). Requests that
 * carry no credentials of their own are sent with the bootstrap key, as an operator would; tests of
 * authentication pass their own headers, or `anonymous: true` in the options to send none.
 */
export async function createTestApp(env: Record<string, string> = {}, options: { logger?: object } = {}): Promise<{ app: FastifyInstance; config: Config; services: Services }> {
  // FACEPROOF_TEST_STORE=postgres (npm run test:postgres): the same tests on a fresh PostgreSQL database each.
  const database = process.env.FACEPROOF_TEST_STORE === 'postgres' ? await testDatabase('app') : undefined;
  const onPostgres = database ? { FACEPROOF_DATABASE_URL: database.url, FACEPROOF_MASTER_KEY: randomBytes(32).toString('base64') } : {};
  const config = loadConfig({ FACEPROOF_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-test-')), FACEPROOF_BOOTSTRAP_KEY: TEST_BOOTSTRAP_KEY, ...onPostgres, ...env });
  const services = await createServices(config);
  const app = await buildApp({ config, services, engine: services.engine.info(), logger: options.logger ?? false, close: async () => { await services.close(); await database?.drop(); } });
  await app.ready();
  const inject = app.inject.bind(app) as (opts: InjectOptions) => ReturnType<FastifyInstance['inject']>;
  (app as { inject: unknown }).inject = (opts: string | (InjectOptions & { anonymous?: boolean })) => {
    const { anonymous, ...rest } = typeof opts === 'string' ? { url: opts } : opts;
    const headers = { ...(rest.headers ?? {}) } as Record<string, string>;
    const named = Object.keys(headers).map((h) => h.toLowerCase());
    if (!anonymous && !AUTH_HEADERS.some((h) => named.includes(h))) headers['x-api-key'] = TEST_BOOTSTRAP_KEY;
    return inject({ ...rest, headers });
  };
  return { app, config, services };
}
