import { execFileSync } from 'node:child_process';

/** Runs `faceproof …` as a user would, against a data folder: its exit code and its JSON output. */
export function runCli(args: string[], dataDir: string): { code: number; out: Record<string, unknown> } {
  try {
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, FACEPROOF_DATA_DIR: dataDir }, encoding: 'utf8' });
    return { code: 0, out: JSON.parse(stdout) };
  } catch (e) {
    const err = e as { status: number; stdout: string };
    return { code: err.status, out: JSON.parse(err.stdout) };
  }
}
