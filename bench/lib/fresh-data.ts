import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config.ts';

/**
 * A new, empty data folder under the system's temporary folder, for a benchmark that stores data or
 * starts a server: it never works on the data folder it inherits (FACEPROOF_DATA_DIR or ./data),
 * whose keys — the bootstrap key above all — belong to the operator's server. The master key file
 * is put inside it too (an inherited FACEPROOF_MASTER_KEY_FILE is not used); an inherited
 * FACEPROOF_MASTER_KEY is only read.
 */
export function freshDataFolder(prefix: string, extraEnv: Record<string, string> = {}): {
  dir: string;
  /** The variables that point a server process at the folder (add them to its environment). */
  env: Record<string, string>;
  /** The configuration of this process on the folder, from the inherited environment otherwise. */
  config: Config;
  remove(): void;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `faceproof-${prefix}-`));
  const env = { FACEPROOF_DATA_DIR: dir, FACEPROOF_MASTER_KEY_FILE: path.join(dir, 'keys', 'master.json') };
  return {
    dir,
    env,
    config: loadConfig({ ...process.env, ...extraEnv, ...env }),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
