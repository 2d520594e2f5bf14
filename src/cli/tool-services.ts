import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config.ts';
import type { Services } from '../bootstrap.ts';

/**
 * The configured data folder as a tool, or a scratch folder removed afterwards. Nothing is sealed in
 * a scratch folder: it gets no master key, and the configured one is not read.
 */
export async function withServices(scratch: boolean, work: (services: Services) => Promise<void>): Promise<void> {
  const { createServices } = await import('../bootstrap.ts');
  const folder = scratch ? fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-cli-')) : undefined;
  const env = folder ? { ...process.env, FACEPROOF_DATA_DIR: folder, FACEPROOF_MASTER_KEY: '', FACEPROOF_MASTER_KEY_FILE: path.join(folder, 'keys', 'master.json') } : process.env;
  const services = await createServices({ ...loadConfig(env), logLevel: 'silent' }, { mode: 'tool' });
  try {
    await work(services);
  } finally {
    await services.close();
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  }
}
