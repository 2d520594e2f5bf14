import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { formatReport, memoryVerdict, runFuzz } from './lib/fuzz-runner.ts';

// glibc's malloc as `npm start` tunes it (docs/configuration.md): without these, each inference and
// image thread grows its own arena, and freed image buffers stay in the heap, so resident memory
// creeps up under sustained load. glibc reads them at start: hence the re-run.
const NPM_START_MALLOC = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };
if (process.platform === 'linux' && Object.keys(NPM_START_MALLOC).some((k) => process.env[k] === undefined)) {
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...NPM_START_MALLOC, ...process.env } });
  process.exit(child.status ?? 1);
}

/**
 * Property-based fuzzing of the whole API from its OpenAPI document (issue 14: never a 5xx for
 * client input). `npm run fuzz -- --runs N [--seed S] [--strict-statuses] [--replay PATH] [--out FILE]`.
 * Prints requests per operation, the status histogram, every 5xx with its reproduction, RSS after
 * the first 10,000 requests and at the end, and audit completeness; writes docs/bench/fuzz.json.
 */

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const runs = Number(arg('runs') ?? 10_000);
const seed = arg('seed') !== undefined ? Number(arg('seed')) : Math.floor(Math.random() * 2 ** 31);
const replay = arg('replay');
const out = arg('out') ?? (replay ? 'none' : path.join('docs', 'bench', 'fuzz.json'));
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz -- --runs N [--seed S] [--strict-statuses] [--replay PATH] [--concurrency C] [--engine-share 0.02] [--valid-engine-share 0.6] [--examples K] [--progress N] [--out FILE|none]');
  process.exit(2);
}

console.log(`MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '(glibc default)'} MALLOC_MMAP_THRESHOLD_=${process.env.MALLOC_MMAP_THRESHOLD_ ?? '(glibc default: dynamic)'}`);
const report = await runFuzz({
  runs,
  seed,
  replay,
  strictStatuses: flag('strict-statuses'),
  concurrency: arg('concurrency') !== undefined ? Number(arg('concurrency')) : undefined,
  rssCheckpoint: arg('rss-checkpoint') !== undefined ? Number(arg('rss-checkpoint')) : undefined,
  engineShare: arg('engine-share') !== undefined ? Number(arg('engine-share')) : undefined,
  validEngineShare: arg('valid-engine-share') !== undefined ? Number(arg('valid-engine-share')) : undefined,
  log: (line) => console.log(line),
  progressEvery: arg('progress') !== undefined ? Number(arg('progress')) : undefined,
});
console.log('');
console.log(formatReport(report, { examples: Number(arg('examples') ?? 1) }));
if (out !== 'none') {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify({ generated: new Date().toISOString(), command: `npm run fuzz -- ${process.argv.slice(2).join(' ')}`, mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null, mallocMmapThreshold: process.env.MALLOC_MMAP_THRESHOLD_ ?? null, ...report }, null, 2)}\n`);
  console.log(`written ${out}`);
}
process.exit(report.failures === 0 && memoryVerdict(report.memory) !== false ? 0 : 1);
