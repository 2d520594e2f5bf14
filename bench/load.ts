/**
 * Back-pressure under overload:
 *   npm run bench:load [-- --duration 300 --probe 20 --factor 2 --connections 100 --out docs/bench/load.json]
 * 1. Starts the server as `npm start` does (fresh data folder, a one-off bootstrap key, the per-client
 *    rate limit off so that the engine queue is what pushes back).
 * 2. Sustainable rate: POST /v1/compare (two 640×480 selfies) at concurrency 4, closed loop, `probe` s.
 * 3. Overload: autocannon sends `factor` × that rate, open loop, for `duration` s. Every response is
 *    binned by status and by 10 s window; the server's RSS is read from /proc every 5 s.
 * Reports accepted p50/p99, the latency of 429 answers, and the RSS trend (MB per minute after the
 * first minute; anonymous memory apart from the file-backed pages of the SQLite file, which SQLite
 * maps and which grows with the audit trail), per window: the curve.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { PROJECT_ROOT } from '../src/config.ts';
import { samplePhotoPath } from './lib/photos.ts';
import { freePort, waitForHealth } from './lib/server-process.ts';
import { freshDataFolder } from './lib/fresh-data.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string' }, probe: { type: 'string' }, factor: { type: 'string' }, connections: { type: 'string' }, out: { type: 'string' },
  },
});
const duration = Number(values.duration ?? 300);
const probe = Number(values.probe ?? 20);
const factor = Number(values.factor ?? 2);
const connections = Number(values.connections ?? 100);
const WINDOW_S = 10;

const key = randomBytes(24).toString('base64url');
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
// Never the inherited data folder: the server's bootstrap key would replace the operator's.
const scratch = freshDataFolder('load');
const dataDir = scratch.dir;
const server = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/cli/main.ts'), 'serve'], {
  env: { ...process.env, FACEPROOF_PORT: String(port), FACEPROOF_LOG_LEVEL: 'warn', ...scratch.env, FACEPROOF_BOOTSTRAP_KEY: key, FACEPROOF_RATE_LIMIT_PER_SECOND: '0' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
await waitForHealth(url);

const crop = (n: 1 | 3, left: number, top: number) => sharp(fs.readFileSync(samplePhotoPath(n))).extract({ left, top, width: 640, height: 480 }).jpeg({ quality: 90 }).toBuffer();
const [a, b] = await Promise.all([crop(3, 830, 100), crop(1, 1250, 0)]);
const body = JSON.stringify({ source: { base64: a.toString('base64') }, target: { base64: b.toString('base64') } });
const request = { url: `${url}/v1/compare`, method: 'POST' as const, body, headers: { 'content-type': 'application/json', 'x-api-key': key } };

/** Resident memory of the server: total, anonymous (heaps) and file-backed (the SQLite file mapped by mmap). */
const memory = () => {
  const status = fs.readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
};

// 1. What the server sustains: throughput with a few requests always in flight.
await autocannon({ ...request, connections: 4, duration: 5 }); // warm-up
const sustained = await autocannon({ ...request, connections: 4, duration: probe });
const sustainable = sustained.requests.average;
process.stderr.write(`sustainable: ${sustainable.toFixed(1)} compare/s (p99 ${sustained.latency.p99} ms, non-2xx ${sustained.non2xx})\n`);

// 2. Overload at `factor` × that, open loop.
const offered = Math.round(sustainable * factor);
interface Window { ok: number[]; refused: number[]; other: number; rss: number[]; anon: number[] }
const windows: Window[] = [];
const win = (t: number) => (windows[Math.floor(t / WINDOW_S)] ??= { ok: [], refused: [], other: 0, rss: [], anon: [] });
const start = performance.now();
const rssSamples: Array<{ t: number; mb: number; anon: number; file: number }> = [];
const heapSamples: Array<{ t: number; heap: number; external: number }> = [];
const sampler = setInterval(() => {
  const t = (performance.now() - start) / 1000;
  const m = memory();
  // V8's own view, to tell a JavaScript leak from native growth (allocator arenas, libraries).
  fetch(`${url}/metrics`, { headers: { 'x-api-key': key } }).then((r) => r.text()).then((text) => {
    const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
    heapSamples.push({ t, heap: metric('nodejs_heap_size_used_bytes'), external: metric('nodejs_external_memory_bytes') });
  }, () => {});
  rssSamples.push({ t, mb: m.rss, anon: m.anon, file: m.file });
  win(t).rss.push(m.rss);
  win(t).anon.push(m.anon);
}, 5000);
// Without a callback autocannon returns its tracker, an event emitter that is also a promise of the result.
const instance = autocannon({ ...request, connections, overallRate: offered, duration }) as unknown as autocannon.Instance & Promise<autocannon.Result>;
await instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
  const w = win((performance.now() - start) / 1000);
  if (status === 200) w.ok.push(ms);
  else if (status === 429) w.refused.push(ms);
  else w.other++;
});
const overall = await instance;
clearInterval(sampler);
server.kill('SIGTERM');
const databaseMb = fs.readdirSync(dataDir).filter((f) => f.startsWith('faceproof.db')).reduce((n, f) => n + fs.statSync(path.join(dataDir, f)).size, 0) / 2 ** 20;

const q = (xs: number[], p: number) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((x, y) => x - y);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 10) / 10;
};
const all = (pick: (w: Window) => number[]) => windows.flatMap((w) => (w ? pick(w) : []));
const curve = windows.map((w, i) => ({
  from_s: i * WINDOW_S,
  accepted_per_s: Math.round((w.ok.length / WINDOW_S) * 10) / 10,
  refused_per_s: Math.round((w.refused.length / WINDOW_S) * 10) / 10,
  other: w.other,
  accepted_p50_ms: q(w.ok, 0.5),
  accepted_p99_ms: q(w.ok, 0.99),
  refused_p99_ms: q(w.refused, 0.99),
  rss_mb: w.rss.length ? Math.round(Math.max(...w.rss)) : null,
  rss_anon_mb: w.anon.length ? Math.round(Math.max(...w.anon)) : null,
}));
// RSS trend after the first minute (warm-up): least-squares slope, MB per minute.
const late = rssSamples.filter((s) => s.t >= 60);
const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
const slopePerMinute = (pick: (s: (typeof late)[number]) => number) => {
  const tm = mean(late.map((s) => s.t));
  const mm = mean(late.map(pick));
  return Math.round((late.reduce((n, s) => n + (s.t - tm) * (pick(s) - mm), 0) / late.reduce((n, s) => n + (s.t - tm) ** 2, 0)) * 60 * 100) / 100;
};
const ok = all((w) => w.ok);
const refused = all((w) => w.refused);
const result = {
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  command: `npm run bench:load -- --duration ${duration} --probe ${probe} --factor ${factor} --connections ${connections}`,
  note: 'autocannon runs on the same machine as the server; per-client rate limit off, so the 429s come from the bounded engine queue (FACEPROOF_MAX_PENDING_REQUESTS)',
  sustainable_per_s: Math.round(sustainable * 10) / 10,
  sustainable_p99_ms: sustained.latency.p99,
  offered_per_s: offered,
  duration_s: duration,
  totals: { accepted: ok.length, refused_429: refused.length, other: windows.reduce((n, w) => n + (w?.other ?? 0), 0), errors: overall.errors, timeouts: overall.timeouts },
  accepted_per_s: Math.round((ok.length / duration) * 10) / 10,
  accepted_latency_ms: { p50: q(ok, 0.5), p99: q(ok, 0.99), max: q(ok, 1) },
  refused_latency_ms: { p50: q(refused, 0.5), p99: q(refused, 0.99), max: q(refused, 1) },
  rss_mb: {
    first: Math.round(rssSamples[0]?.mb ?? 0), after_60s: Math.round(late[0]?.mb ?? 0), last: Math.round(rssSamples.at(-1)?.mb ?? 0), max: Math.round(Math.max(...rssSamples.map((s) => s.mb))),
    slope_mb_per_min_after_60s: slopePerMinute((s) => s.mb),
    anonymous: { first: Math.round(rssSamples[0]?.anon ?? 0), last: Math.round(rssSamples.at(-1)?.anon ?? 0), slope_mb_per_min_after_60s: slopePerMinute((s) => s.anon) },
    file_backed: { first: Math.round(rssSamples[0]?.file ?? 0), last: Math.round(rssSamples.at(-1)?.file ?? 0), slope_mb_per_min_after_60s: slopePerMinute((s) => s.file) },
    database_mb: Math.round(databaseMb * 10) / 10,
    v8_heap_used: { first: Math.round(heapSamples[0]?.heap ?? 0), last: Math.round(heapSamples.at(-1)?.heap ?? 0), max: Math.round(Math.max(...heapSamples.map((h) => h.heap))) },
    v8_external: { first: Math.round(heapSamples[0]?.external ?? 0), last: Math.round(heapSamples.at(-1)?.external ?? 0) },
  },
  curve,
};
const out = values.out ?? path.join(PROJECT_ROOT, 'docs/bench/load.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(JSON.stringify({ ...result, curve: undefined }, null, 2) + '\n');
for (const c of curve) process.stdout.write(`${String(c.from_s).padStart(4)} s  accepted ${c.accepted_per_s}/s p50 ${c.accepted_p50_ms} p99 ${c.accepted_p99_ms} ms · 429 ${c.refused_per_s}/s p99 ${c.refused_p99_ms} ms · RSS ${c.rss_mb} MB (anonymous ${c.rss_anon_mb})\n`);
scratch.remove();
