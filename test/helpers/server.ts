import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForHealth } from '../../bench/lib/server-process.ts';
import { quoted } from './child-output.ts';

/** A real server process on a free loopback port with its own data folder, as `npm start` runs it. */
export interface RunningServer {
  base: string;
  dataDir: string;
  process: ChildProcess;
  /** What the server printed so far. */
  output(): string;
  /** POSTs JSON with the bootstrap key (client and key administration). */
  admin(url: string, body: object): Promise<Response>;
  /** Kills the server and removes its data folder. */
  stop(): void;
}

/** Starts `faceproof serve` with `bootstrapKey`; `env` adds or overrides settings. Resolves once it answers health. */
export async function startServer(name: string, bootstrapKey: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `faceproof-${name}-`));
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli/main.ts'), 'serve'], {
    env: { ...process.env, FACEPROOF_PORT: String(port), FACEPROOF_LOG_LEVEL: 'warn', FACEPROOF_DATA_DIR: dataDir, FACEPROOF_BOOTSTRAP_KEY: bootstrapKey, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const server: RunningServer = {
    base, dataDir, process: child,
    output: () => output,
    admin: (url, body) => fetch(`${base}${url}`, { method: 'POST', headers: { 'x-api-key': bootstrapKey, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    stop: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await waitForHealth(base).catch((err: Error) => { server.stop(); throw new Error(`${err.message}:\n${quoted(output)}`); });
  return server;
}
