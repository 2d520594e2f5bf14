/**
 * Speed on this machine:
 *   npm run bench:speed [-- --iterations 60 --duration 10 --url http://127.0.0.1:8080]
 * 1. Per-image latency of detect + embed (largest face), one request at a time, in process:
 *    small (150 px), selfie (640×480) and large (1920 px) real photos.
 * 2. Quality, liveness and age: latency of each check through its use case (decode, detect and the
 *    check), one request at a time, on the selfie and on the large photo (per face).
 * 3. POST /v1/compare throughput with two 640×480 images at concurrency 1, 2, 4 and 8 against a
 *    server process (started here unless --url names a running one, called with FACEPROOF_API_KEY).
 * Everything runs on a fresh temporary data folder, never the inherited one (FACEPROOF_DATA_DIR or
 * ./data), whose keys belong to the operator's server: the server started here has a bootstrap key
 * of its own, which would otherwise replace the operator's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import autocannon from 'autocannon';
import sharp from 'sharp';
import cliProgress from 'cli-progress';
import { PROJECT_ROOT } from '../src/config.ts';
import { createServices } from '../src/bootstrap.ts';
import { samplePhotoPath } from './lib/photos.ts';
import { freePort, waitForHealth } from './lib/server-process.ts';
import { freshDataFolder } from './lib/fresh-data.ts';

const { values } = parseArgs({ options: {
  iterations: { type: 'string', default: '60' },
  duration: { type: 'string', default: '10' },
  url: { type: 'string' },
  out: { type: 'string' },
} });
const iterations = Number(values.iterations);
const duration = Number(values.duration);
const scratch = freshDataFolder('bench-speed');
const { config } = scratch;

const sample3 = fs.readFileSync(samplePhotoPath(3));
const inputs = {
  'small 150×150': await sharp(sample3).extract({ left: 540, top: 280, width: 300, height: 300 }).resize(150, 150).jpeg({ quality: 90 }).toBuffer(),
  'selfie 640×480': await sharp(sample3).extract({ left: 370, top: 200, width: 640, height: 480 }).jpeg({ quality: 90 }).toBuffer(),
  'large 1920×1350': sample3,
};

const services = await createServices({ ...config, logLevel: 'silent' }, { mode: 'tool' });
const { service } = services;
const latency: Record<string, { p50: number; p95: number; faces: number; event_loop_delay_p99_ms: number; event_loop_delay_max_ms: number }> = {};
const bar = new cliProgress.SingleBar({ format: 'latency {bar} {value}/{total} {name}' }, cliProgress.Presets.shades_classic);
for (const [name, bytes] of Object.entries(inputs)) {
  const times: number[] = [];
  let faces = 0;
  // How long the JavaScript thread was held: inference and decoding must not block it.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  if (process.stderr.isTTY) bar.start(iterations, 0, { name });
  for (let i = 0; i < iterations + 5; i++) {
    const t0 = performance.now();
    const { image, faces: found } = await service.analyze({ kind: 'bytes', data: bytes });
    if (found.length > 0) await service.embed(image, found[0]);
    if (i >= 5) { times.push(performance.now() - t0); if (process.stderr.isTTY) bar.increment(); }
    faces = found.length;
  }
  if (process.stderr.isTTY) bar.stop();
  loopDelay.disable();
  times.sort((a, b) => a - b);
  latency[name] = {
    p50: round(quantile(times, 0.5)),
    p95: round(quantile(times, 0.95)),
    faces,
    event_loop_delay_p99_ms: round(loopDelay.percentile(99) / 1e6),
    event_loop_delay_max_ms: round(loopDelay.max / 1e6),
  };
}

// Each check as its use case runs it (decode, detect, then the check).
const checks: Record<string, Record<string, { p50: number; p95: number; faces: number; p50_per_face: number }>> = {};
const tenant = 'default';
const runs: Record<string, (bytes: Buffer) => Promise<number>> = {
  quality: async (bytes) => (await services.quality.assess({ kind: 'bytes', data: bytes }, tenant)).faces.length,
  liveness: async (bytes) => (await services.liveness.checkImages([{ kind: 'bytes', data: bytes }], tenant, 'MEDIUM')).images.length,
  age: async (bytes) => (await services.age.estimate({ kind: 'bytes', data: bytes }, tenant)).length,
};
for (const [check, run] of Object.entries(runs)) {
  checks[check] = {};
  for (const name of ['selfie 640×480', 'large 1920×1350'] as const) {
    const times: number[] = [];
    let faces = 0;
    for (let i = 0; i < iterations + 5; i++) {
      const t0 = performance.now();
      faces = await run(inputs[name]);
      if (i >= 5) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    // Liveness judges the largest face only (it refuses a picture of several people); quality and age judge every face.
    const judged = check === 'liveness' ? 1 : Math.max(1, faces);
    checks[check][name] = { p50: round(quantile(times, 0.5)), p95: round(quantile(times, 0.95)), faces: judged, p50_per_face: round(quantile(times, 0.5) / judged) };
  }
  process.stderr.write(`${check}: ${JSON.stringify(checks[check])}\n`);
}
await services.close();

let serverUrl = values.url;
// A server started here gets a one-off bootstrap key; one given by --url is called with FACEPROOF_API_KEY.
const benchKey = values.url ? (process.env.FACEPROOF_API_KEY ?? '') : randomBytes(24).toString('base64url');
let child: ReturnType<typeof spawn> | undefined;
if (!serverUrl) {
  const port = await freePort();
  serverUrl = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/cli/main.ts'), 'serve'], {
    env: { ...process.env, ...scratch.env, FACEPROOF_PORT: String(port), FACEPROOF_LOG_LEVEL: 'warn', FACEPROOF_BOOTSTRAP_KEY: benchKey, FACEPROOF_RATE_LIMIT_PER_SECOND: '0' },
    stdio: 'inherit',
  });
  await waitForHealth(serverUrl);
}
const selfieA = inputs['selfie 640×480'];
const selfieB = await sharp(fs.readFileSync(samplePhotoPath(1))).extract({ left: 1250, top: 0, width: 640, height: 480 }).jpeg({ quality: 90 }).toBuffer();
const body = JSON.stringify({ source: { base64: selfieA.toString('base64') }, target: { base64: selfieB.toString('base64') } });
const throughput: Array<{ concurrency: number; requests_per_second: number; p50_ms: number; p99_ms: number; errors: number; non2xx: number }> = [];
for (const concurrency of [1, 2, 4, 8]) {
  const r = await autocannon({ url: `${serverUrl}/v1/compare`, method: 'POST', body, headers: { 'content-type': 'application/json', 'x-api-key': benchKey }, connections: concurrency, duration });
  throughput.push({
    concurrency,
    requests_per_second: round(r.requests.average),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  });
  process.stderr.write(`compare at concurrency ${concurrency}: ${round(r.requests.average)} req/s, p99 ${r.latency.p99} ms\n`);
}
if (child) {
  const exited = new Promise((resolve) => child!.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
scratch.remove();

const result = {
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  inference_threads: config.threads.workers,
  intra_op_threads: config.threads.intraOp,
  latency_detect_embed_ms: latency,
  latency_checks_ms: checks,
  compare_throughput_640x480: throughput,
  duration_s_per_level: duration,
};
const out = values.out ?? path.join(PROJECT_ROOT, 'docs/bench/speed.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
process.exit(0);

function quantile(sorted: number[], q: number) { return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]; }
function round(v: number) { return Math.round(v * 10) / 10; }
