import { execFileSync } from 'node:child_process';

/** Runs `faceproof …` as a user would, against a data folder (plus `env`): its exit code and its JSON output. */
export function runCli(args: string[], dataDir: string, env: Record<string, string> = {}): { code: number; out: Record<string, unknown> } {
  try {
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, FACEPROOF_DATA_DIR: dataDir, ...env }, encoding: 'utf8', stdio: 'pipe' });
    return { code: 0, out: JSON.parse(stdout) };
  } catch (e) {
    // Failures print JSON on stdout (a failed check) or an {"error": …} on stderr (a refused command).
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, out: JSON.parse(err.stdout || err.stderr.trim().split('\n').pop() || '{}') };
  }
}
