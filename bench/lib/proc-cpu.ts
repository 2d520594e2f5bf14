import fs from 'node:fs';
import os from 'node:os';

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on every Linux Node runs on). */
const HZ = 100;

/** CPU seconds (user + system, every thread) a process has used so far; NaN once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / HZ; // utime, stime (fields 14 and 15)
  } catch {
    return NaN;
  }
}

/** Resident memory of a process in MiB (VmRSS), NaN once it is gone. */
export function processRssMb(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds of the PostgreSQL backends serving one database, by pid: the server names each
 * backend "postgres: USER DATABASE HOST(PORT) STATE" in its command line, readable in /proc.
 * Only backends of a server on this machine are seen.
 */
export function backendCpuSeconds(database: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.startsWith('postgres: ') || !cmdline.split(' ').includes(database)) continue;
    const cpu = processCpuSeconds(Number(entry));
    if (Number.isFinite(cpu)) out.set(Number(entry), cpu);
  }
  return out;
}

/** CPU the backends used between two readings (a backend started meanwhile counts from zero; one that exited meanwhile is lost). */
export function backendCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, cpu] of after) sum += cpu - (before.get(pid) ?? 0);
  return sum;
}

/** Busy and total CPU seconds of the whole machine so far (/proc/stat's first line). */
export function machineCpuSeconds(): { busy: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0) / HZ;
  const idle = ((fields[3] ?? 0) + (fields[4] ?? 0)) / HZ; // idle + iowait
  return { busy: total - idle, total };
}

export const cores = (): number => os.cpus().length;
