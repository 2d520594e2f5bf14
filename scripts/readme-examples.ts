/**
 * The README's shell examples, run against a live server: one source for the examples, their
 * output and the test that keeps them honest (test/readme-examples.test.ts).
 *
 * The README's ```sh blocks are the source. Each is run in order, with bash, in one shell session
 * (variables set by one block are seen by the next, as in a reader's terminal), in a working folder
 * holding the photos the examples name, against a server started on a free port with a fresh data
 * folder and a bootstrap key in $KEY. A ```json block right after a ```sh block shows what that
 * block printed: `npm run readme:examples` rewrites it from the real output, and the test checks
 * that it still matches (same keys, same decisions and codes, numbers within a small tolerance).
 *
 *   npm run readme:examples                 rerun every example and rewrite the ```json blocks
 *   npm run readme:examples -- --check      rerun and report what differs, changing nothing
 *   npm run readme:examples -- --photos DIR write the example photos to DIR and stop
 *   … --real-npx                            run `npx faceproof` through npm (slow) instead of bin/faceproof.js
 *
 * Conventions in the README:
 *   - `<!-- not run: why -->` on the line before a ```sh block leaves it out (the server itself, `npm test`).
 *   - Every HTTP request a block makes must answer 2xx, unless its line says `# → NNN` (then exactly NNN);
 *     every command must exit 0 (`set -o pipefail`).
 *   - `http://127.0.0.1:8080` is the server's address; it is replaced with the test server's.
 *   - In a shown ```json block, volatile values (request and object ids, secrets, signatures,
 *     timestamps) are shortened ("8ce37391-…") and match any value of their kind; a string ending
 *     in "…" matches a real string it begins; "…" alone matches any value; an array whose last
 *     element is "…" may go on; an object with a key "…" may have more keys than it shows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { samplePhotoPath } from '../bench/lib/photos.ts';
import { drift, encodeClip } from '../bench/lib/video-clip.ts';
import { freePort, waitForHealth } from '../bench/lib/server-process.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const README = path.join(REPO, 'README.md');
const README_ADDRESS = 'http://127.0.0.1:8080';
const ELLIPSIS = '…';

// ---------------------------------------------------------------------------------------------
// Extraction

export interface ShellBlock {
  /** Order among the ```sh blocks, from 0. */
  index: number;
  /** 1-based README line of the block's first command. */
  line: number;
  code: string;
  /** Why the block is not run (`<!-- not run: … -->`), or undefined when it is. */
  notRun?: string;
  /** The ```json block right after it, when there is one: its text and where it lies in the README. */
  output?: { text: string; start: number; end: number; line: number };
}

const FENCE = /^```([^\n`]*)\n([\s\S]*?)^```[ \t]*$/gm;

/** The README's ```sh blocks in order, each with the ```json block that shows its output, if any. */
export function extractBlocks(readme: string): ShellBlock[] {
  const fences: Array<{ lang: string; body: string; start: number; end: number; bodyStart: number }> = [];
  for (const m of readme.matchAll(FENCE)) {
    fences.push({ lang: m[1].trim(), body: m[2], start: m.index!, end: m.index! + m[0].length, bodyStart: m.index! + m[0].indexOf('\n') + 1 });
  }
  const lineAt = (offset: number) => readme.slice(0, offset).split('\n').length;
  const blocks: ShellBlock[] = [];
  fences.forEach((f, i) => {
    if (f.lang !== 'sh') return;
    const before = readme.slice(0, f.start).replace(/\s+$/, '');
    const marker = /<!--\s*not run:\s*((?:(?!-->)[\s\S])*?)\s*-->$/.exec(before.slice(before.lastIndexOf('<!--')));
    const next = fences[i + 1];
    const between = next ? readme.slice(f.end, next.start) : '';
    const output = next && next.lang === 'json' && between.trim() === ''
      ? { text: next.body, start: next.bodyStart, end: next.bodyStart + next.body.length, line: lineAt(next.bodyStart) }
      : undefined;
    blocks.push({ index: blocks.length, line: lineAt(f.bodyStart), code: f.body, notRun: marker?.[1], output });
  });
  return blocks;
}

/** A block's commands: physical lines joined at trailing backslashes, with the lines each spans and its expected HTTP status. */
export interface Command { text: string; first: number; last: number; expectStatus?: number; curls: number }

export function commandsOf(code: string): Command[] {
  const lines = code.split('\n');
  const out: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = i + 1;
    let text = lines[i];
    while (/\\$/.test(text) && i + 1 < lines.length) text = text.slice(0, -1) + ' ' + lines[++i].trim();
    if (!text.trim() || /^\s*#/.test(text)) continue;
    const comment = shellComment(text);
    const expect = comment && /→\s*(\d{3})\b/.exec(comment);
    const executable = comment ? text.slice(0, text.length - comment.length) : text;
    out.push({ text, first, last: i + 1, expectStatus: expect ? Number(expect[1]) : undefined, curls: (executable.match(/(^|[\s(|;&])curl\s/g) ?? []).length });
  }
  return out;
}

/** The trailing `# …` comment of a shell line (outside quotes), or undefined. */
function shellComment(line: string): string | undefined {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) { if (c === quote) quote = undefined; else if (c === '\\' && quote === '"') i++; continue; }
    if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(i);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Photos

/**
 * The photos and clip the examples name, written into `dir`: crops of the group photos shipped by
 * @vladmandic/face-api (as test/helpers/images.ts makes them). selfie.jpg and id_card.jpg show the
 * same woman in two photos; stranger.jpg someone else; team.jpg and party.jpg are group photos
 * (party.jpg includes the woman of the selfie); clip.mp4 is 3 s of the selfie, hand-held; wall.jpg has no face.
 */
export async function writePhotos(dir: string): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const crop = (n: 1 | 3, left: number, top: number, width = 640, height = 480) =>
    sharp(samplePhotoPath(n)).extract({ left, top, width, height }).jpeg({ quality: 92 }).toBuffer();
  const selfie = await crop(1, 1250, 0);
  const files: Record<string, Buffer> = {
    'selfie.jpg': selfie,
    'id_card.jpg': await crop(3, 830, 100),
    'stranger.jpg': await crop(3, 370, 200),
    'team.jpg': await sharp(samplePhotoPath(3)).resize(1280).jpeg({ quality: 90 }).toBuffer(),
    'party.jpg': await sharp(samplePhotoPath(1)).resize(1280).jpeg({ quality: 90 }).toBuffer(),
    'wall.jpg': await crop(1, 0, 0, 320, 240),
    'clip.mp4': await encodeClip(await drift(selfie, 15), 5),
  };
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
  return Object.keys(files);
}

// ---------------------------------------------------------------------------------------------
// Running

export interface CurlRecord { line: number; status: number }
export interface BlockResult {
  block: ShellBlock;
  stdout: string;
  stderr: string;
  /** Each HTTP request the block made: the block line it was made on and the status it got. */
  requests: CurlRecord[];
  /** Commands that exited non-zero: block line, exit status, command. */
  failures: Array<{ line: number; status: number; command: string }>;
  ms: number;
}

export interface Run {
  results: BlockResult[];
  serverLog: string;
  ms: number;
}

export interface RunOptions {
  /** Run `npx faceproof` through npm (as a reader does) instead of `node bin/faceproof.js` (the same program, without npm's seconds of start-up). */
  realNpx?: boolean;
  /** Keep the working folder (printed) instead of removing it. */
  keep?: boolean;
  log?: (line: string) => void;
}

/**
 * Starts a server (fresh data folder, bootstrap key, free port), writes the photos into a fresh
 * working folder, and runs every ```sh block not marked `not run` in one bash session there.
 */
export async function runExamples(blocks: ShellBlock[], options: RunOptions = {}): Promise<Run> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  // npx resolves `faceproof` from the clone it runs in, so the working folder must be inside it.
  fs.mkdirSync(path.join(REPO, 'tmp'), { recursive: true });
  const work = fs.mkdtempSync(path.join(REPO, 'tmp', 'readme-examples-'));
  const dataDir = path.join(work, 'data');
  const key = crypto.randomBytes(32).toString('base64');
  const port = await freePort();
  let server: ChildProcess | undefined;
  let serverLog = '';
  try {
    const [, photos] = await Promise.all([
      (async () => {
        server = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/cli/main.ts'), 'serve'], {
          cwd: REPO,
          env: { ...cleanEnv(), FACEPROOF_PORT: String(port), FACEPROOF_HOST: '127.0.0.1', FACEPROOF_DATA_DIR: dataDir, FACEPROOF_BOOTSTRAP_KEY: key, FACEPROOF_LOG_LEVEL: 'warn' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        server.stdout!.on('data', (d) => { serverLog += d; });
        server.stderr!.on('data', (d) => { serverLog += d; });
        const ms = await waitForHealth(`http://127.0.0.1:${port}`, 120_000).catch((err: Error) => { throw new Error(`${err.message}\n${serverLog}`); });
        log(`server ready on port ${port} in ${ms} ms`);
      })(),
      writePhotos(work),
    ]);
    log(`photos: ${photos.join(', ')}`);
    const results = await runBlocks(blocks.filter((b) => !b.notRun), { work, port, key, dataDir, realNpx: !!options.realNpx });
    for (const r of results) log(`block ${r.block.index} (README line ${r.block.line}): ${r.requests.length} requests, ${r.failures.length} failures, ${r.ms} ms`);
    return { results, serverLog, ms: Date.now() - started };
  } finally {
    const s = server as ChildProcess | undefined;
    if (s && s.exitCode === null) {
      const exited = new Promise((resolve) => s.once('exit', resolve));
      s.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (s.exitCode === null) s.kill('SIGKILL');
    }
    if (options.keep) log(`working folder kept: ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The environment without FACEPROOF_* settings of the caller, so that the examples see only what they set. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FACEPROOF_')));
}

async function runBlocks(blocks: ShellBlock[], o: { work: string; port: number; key: string; dataDir: string; realNpx: boolean }): Promise<BlockResult[]> {
  const h = path.join(o.work, '.harness');
  fs.mkdirSync(h);
  const statusLog = path.join(h, 'status.log');
  fs.writeFileSync(statusLog, '');
  const driver = [
    'set -E -o pipefail',
    `__status=${shq(statusLog)}`,
    // Every request's status goes to the status log with the line it was made on; the block's own output is untouched.
    'curl() { command curl -w "%{stderr}@@curl $__block ${BASH_LINENO[0]} %{http_code}\\n" "$@" 2>>"$__status"; }',
    // `npx faceproof` runs bin/faceproof.js, which is what npx resolves it to in the clone.
    o.realNpx ? '' : `npx() { if [ "$1" = faceproof ]; then shift; node ${shq(path.join(REPO, 'bin/faceproof.js'))} "$@"; else command npx "$@"; fi; }`,
    'trap \'__rc=$?; printf "@@err %s %s %s %s\\n" "$__block" "$LINENO" "$__rc" "${BASH_COMMAND//$\'\\n\'/ }" >>"$__status"\' ERR',
  ];
  for (const b of blocks) {
    const file = path.join(h, `block-${b.index}.sh`);
    fs.writeFileSync(file, b.code.split(README_ADDRESS).join(`http://127.0.0.1:${o.port}`));
    driver.push(`__block=${b.index}; printf '@@start %s %s\\n' ${b.index} "$(date +%s%3N)" >>"$__status"`);
    driver.push(`source ${shq(file)} >${shq(path.join(h, `out-${b.index}`))} 2>${shq(path.join(h, `err-${b.index}`))} </dev/null`);
    driver.push(`printf '@@end %s %s\\n' ${b.index} "$(date +%s%3N)" >>"$__status"`);
  }
  fs.writeFileSync(path.join(h, 'driver.sh'), driver.join('\n') + '\n');
  const env: NodeJS.ProcessEnv = { ...cleanEnv(), KEY: o.key, FACEPROOF_DATA_DIR: o.dataDir, LC_ALL: 'C.UTF-8' };
  await new Promise<void>((resolve, reject) => {
    const bash = spawn('bash', ['--noprofile', '--norc', path.join(h, 'driver.sh')], { cwd: o.work, env, stdio: ['ignore', 'inherit', 'inherit'] });
    bash.on('error', reject);
    bash.on('exit', () => resolve());
  });
  const records = fs.readFileSync(statusLog, 'utf8').split('\n');
  const times = new Map<number, { start?: number; end?: number }>();
  return blocks.map((block) => {
    const requests: CurlRecord[] = [];
    const failures: BlockResult['failures'] = [];
    for (const r of records) {
      const m = /^@@(curl|err|start|end) (\d+) (\d+)(?: (\d+))?(?: (.*))?$/.exec(r);
      if (!m || Number(m[2]) !== block.index) continue;
      if (m[1] === 'curl') requests.push({ line: Number(m[3]), status: Number(m[4]) });
      // A failed request is reported on its line in the block; not again inside the curl wrapper, nor as the block's `source`.
      else if (m[1] === 'err' && !/^(command curl|source) /.test(m[5] ?? '')) failures.push({ line: Number(m[3]), status: Number(m[4]), command: m[5] ?? '' });
      else if (m[1] === 'start' || m[1] === 'end') times.set(block.index, { ...times.get(block.index), [m[1]]: Number(m[3]) });
    }
    const t = times.get(block.index) ?? {};
    return {
      block, requests, failures,
      stdout: readIfThere(path.join(h, `out-${block.index}`)),
      stderr: readIfThere(path.join(h, `err-${block.index}`)),
      ms: t.start && t.end ? t.end - t.start : NaN,
    };
  });
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const readIfThere = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');

// ---------------------------------------------------------------------------------------------
// Checking a block's run

/** What went wrong in a block's run: commands that failed, HTTP statuses other than expected, requests not made. */
export function runProblems(r: BlockResult): string[] {
  const problems: string[] = [];
  const at = (line: number) => `README line ${r.block.line + line - 1}`;
  for (const f of r.failures) problems.push(`${at(f.line)}: exit ${f.status}: ${f.command}`);
  const commands = commandsOf(r.block.code);
  for (const c of commands) {
    const made = r.requests.filter((q) => q.line >= c.first && q.line <= c.last);
    if (made.length < c.curls) problems.push(`${at(c.first)}: ${c.curls} request(s) written, ${made.length} made: ${c.text.trim()}`);
    for (const q of made) {
      const ok = c.expectStatus !== undefined ? q.status === c.expectStatus : q.status >= 200 && q.status < 300;
      if (!ok) problems.push(`${at(c.first)}: HTTP ${q.status}, expected ${c.expectStatus ?? '2xx'}: ${c.text.trim()}`);
    }
  }
  for (const q of r.requests) {
    if (!commands.some((c) => q.line >= c.first && q.line <= c.last)) problems.push(`${at(q.line)}: a request on no command line (HTTP ${q.status})`);
  }
  if (problems.length && r.stderr.trim()) problems.push(`stderr: ${r.stderr.trim().slice(0, 2000)}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// JSON: reading what a block printed, comparing it with what the README shows, writing it back

/** The JSON documents in a text (concatenated, as successive curl calls print them, or pretty-printed by the CLI). */
export function jsonDocuments(text: string): unknown[] {
  const docs: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    let j = i;
    if (text[i] === '{' || text[i] === '[') {
      let depth = 0;
      let inString = false;
      for (; j < text.length; j++) {
        const c = text[j];
        if (inString) { if (c === '\\') j++; else if (c === '"') inString = false; continue; }
        if (c === '"') inString = true;
        else if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') { depth--; if (depth === 0) { j++; break; } }
      }
    } else {
      while (j < text.length && !/\s/.test(text[j])) j++;
    }
    const piece = text.slice(i, j);
    try {
      docs.push(JSON.parse(piece));
    } catch {
      throw new Error(`not JSON: ${piece.slice(0, 200)}`);
    }
    i = j;
  }
  return docs;
}

/** Keys whose values change from run to run whatever their form: compared by JSON type only. */
const VOLATILE_KEYS = new Set([
  'request_id', 'signature', 'secret', 'api_key', 'nonce', 'token', 'kid', // random or signed over random values
  'hash', 'prev_hash', // the audit chain, over request ids and times
  'sha256', // of a photo or clip as this machine's sharp and ffmpeg encode it
  'uptime_seconds', 'frames_per_second', // measured
  'gestures', 'expected', // a challenge's gestures are drawn at random
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const GENERATED_ID = /^([a-z]+)_[0-9a-f]{12,}(\.[\w-]+)?$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** Whether a value differs from run to run: by its key, or because it is a generated id or a timestamp. */
function isVolatile(key: string | undefined, real: unknown): boolean {
  if (key !== undefined && (VOLATILE_KEYS.has(key) || /_at$|_ms$/.test(key))) return true;
  return typeof real === 'string' && (UUID.test(real) || GENERATED_ID.test(real) || TIMESTAMP.test(real));
}

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** A value as the README shows it when it shows it for the first time: ids, secrets and long strings shortened. */
function shorten(key: string | undefined, v: unknown): unknown {
  if (typeof v === 'string') {
    if (UUID.test(v)) return v.slice(0, 8) + '-' + ELLIPSIS;
    const id = GENERATED_ID.exec(v);
    if (id) return `${id[1]}_${v.slice(id[1].length + 1, id[1].length + 5)}${ELLIPSIS}`;
    if (TIMESTAMP.test(v)) return v;
    if (key !== undefined && VOLATILE_KEYS.has(key) && v.length > 12) return v.slice(0, 8) + ELLIPSIS;
    if (v.length > 48 && !/\s/.test(v)) return v.slice(0, 32) + ELLIPSIS;
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => shorten(undefined, x));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shorten(k, x)]));
  return v;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const closeEnough = (a: number, b: number) => Math.abs(a - b) <= 0.01 * Math.max(Math.abs(a), Math.abs(b)) + 0.005;

/** Where the shown JSON and the real output differ: keys, types, decisions and codes, numbers beyond tolerance. */
export function differences(shown: unknown, real: unknown, where = '$', key?: string): string[] {
  if (shown === ELLIPSIS) return [];
  if (isVolatile(key, real)) {
    if (typeOf(shown) !== typeOf(real)) return [`${where}: shows ${JSON.stringify(shown)}, got a ${typeOf(real)}`];
    const id = typeof real === 'string' ? GENERATED_ID.exec(real) : null;
    if (id && !(shown as string).startsWith(`${id[1]}_`)) return [`${where}: shows ${JSON.stringify(shown)}, got a ${id[1]}_ id`];
    return [];
  }
  if (typeof shown === 'string' && shown.endsWith(ELLIPSIS)) {
    return typeof real === 'string' && real.startsWith(shown.slice(0, -1)) ? [] : [`${where}: shows ${JSON.stringify(shown)}, got ${JSON.stringify(real)}`];
  }
  if (typeOf(shown) !== typeOf(real)) return [`${where}: shows ${JSON.stringify(shown)}, got ${JSON.stringify(real)}`];
  if (typeof shown === 'number') return closeEnough(shown, real as number) ? [] : [`${where}: shows ${shown}, got ${real}`];
  if (Array.isArray(shown)) {
    const r = real as unknown[];
    const open = shown.length > 0 && shown[shown.length - 1] === ELLIPSIS;
    const items = open ? shown.slice(0, -1) : shown;
    const out: string[] = [];
    if (open ? r.length < items.length : r.length !== items.length) out.push(`${where}: shows ${items.length}${open ? ' or more' : ''} items, got ${r.length}`);
    items.forEach((s, i) => { if (i < r.length) out.push(...differences(s, r[i], `${where}[${i}]`)); });
    return out;
  }
  if (isObject(shown)) {
    const r = real as Record<string, unknown>;
    const open = ELLIPSIS in shown;
    const out: string[] = [];
    for (const k of Object.keys(shown)) {
      if (k === ELLIPSIS) continue;
      if (!(k in r)) out.push(`${where}.${k}: shown, but not in the output`);
      else out.push(...differences(shown[k], r[k], `${where}.${k}`, k));
    }
    if (!open) for (const k of Object.keys(r)) if (!(k in shown)) out.push(`${where}.${k}: in the output, not shown`);
    return out;
  }
  return shown === real ? [] : [`${where}: shows ${JSON.stringify(shown)}, got ${JSON.stringify(real)}`];
}

/**
 * The real output as the README should show it, keeping what the README shows where it still
 * holds: its elisions ("…", open arrays and objects), and its shortened or volatile values (so
 * that a rerun changes only what really changed).
 */
export function merge(shown: unknown, real: unknown, key?: string): unknown {
  if (shown === ELLIPSIS) return ELLIPSIS;
  if (shown !== undefined && differences(shown, real, '$', key).length === 0 && (isVolatile(key, real) || (typeof shown === 'string' && shown.endsWith(ELLIPSIS)))) return shown;
  if (Array.isArray(shown) && Array.isArray(real)) {
    const open = shown.length > 0 && shown[shown.length - 1] === ELLIPSIS;
    if (open) return [...real.slice(0, shown.length - 1).map((x, i) => merge(shown[i], x)), ELLIPSIS];
    return real.map((x, i) => merge(shown[i], x));
  }
  if (isObject(shown) && isObject(real)) {
    const open = ELLIPSIS in shown;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(real)) if (!open || k in shown) out[k] = merge(shown[k], x, k);
    if (open) out[ELLIPSIS] = ELLIPSIS;
    return out;
  }
  return shorten(key, real);
}

/**
 * JSON laid out for the README: as much on a line as fits in `width` columns, objects and arrays
 * broken where they do not fit, continuation lines aligned after the opening bracket.
 */
export function layout(value: unknown, width = 100): string {
  return place(value, 0, width);
}

function flat(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(flat).join(', ')}]`;
  if (isObject(v)) return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${flat(x)}`).join(', ')}}`;
  return JSON.stringify(v);
}

/** `v` laid out starting at column `col` (its first line is already indented). */
function place(v: unknown, col: number, width: number): string {
  const one = flat(v);
  if (col + one.length <= width || (!Array.isArray(v) && !isObject(v))) return one;
  const entries: Array<[string, unknown]> = Array.isArray(v) ? v.map((x) => ['', x]) : Object.entries(v as object).map(([k, x]) => [`${JSON.stringify(k)}: `, x]);
  const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
  const inner = col + 1;
  const newLine = ',\n' + ' '.repeat(inner);
  let out = open;
  let cur = inner;
  let lineHasEntry = false;
  entries.forEach(([prefix, x], i) => {
    const text = prefix + flat(x);
    // Each entry is followed by a comma or the closing bracket: one more column.
    if (lineHasEntry) {
      if (cur + 2 + text.length + 1 <= width) {
        out += ', ' + text;
        cur += 2 + text.length;
        return;
      }
      out += newLine;
      cur = inner;
    }
    if (cur + text.length + 1 <= width) {
      out += text;
      cur += text.length;
      lineHasEntry = true;
      return;
    }
    const placed = prefix + place(x, cur + prefix.length, width);
    out += placed;
    if (!placed.includes('\n')) {
      cur += placed.length;
      lineHasEntry = true;
    } else if (i < entries.length - 1) {
      // After an entry laid over several lines, the next one starts a line of its own.
      out += newLine;
      cur = inner;
      lineHasEntry = false;
    }
  });
  return out + close;
}

// ---------------------------------------------------------------------------------------------
// Comparing and rewriting the README

export interface OutputCheck { block: ShellBlock; problems: string[]; rendered?: string }

/** For each block with a shown ```json block: whether it matches the real output, and the text it should have. */
export function checkOutputs(results: BlockResult[]): OutputCheck[] {
  return results.filter((r) => r.block.output).map((r) => {
    const shownText = r.block.output!.text;
    let real: unknown[];
    try {
      real = jsonDocuments(r.stdout);
    } catch (e) {
      return { block: r.block, problems: [`the block printed something other than JSON: ${(e as Error).message}`] };
    }
    let shown: unknown[] = [];
    const problems: string[] = [];
    try {
      shown = jsonDocuments(shownText);
    } catch (e) {
      problems.push(`the README's JSON does not parse: ${(e as Error).message}`);
    }
    if (!problems.length) {
      if (shown.length !== real.length) problems.push(`the README shows ${shown.length} JSON document(s), the block printed ${real.length}`);
      shown.forEach((s, i) => { if (i < real.length) problems.push(...differences(s, real[i], `output ${i + 1}`)); });
    }
    const rendered = real.map((doc, i) => layout(merge(shown[i], doc))).join('\n\n') + '\n';
    return { block: r.block, problems, rendered };
  });
}

/** The README with each shown ```json block replaced by its rendering of the real output. */
export function rewriteReadme(readme: string, checks: OutputCheck[]): string {
  let out = readme;
  for (const c of [...checks].sort((a, b) => b.block.output!.start - a.block.output!.start)) {
    if (c.rendered === undefined) continue;
    out = out.slice(0, c.block.output!.start) + c.rendered + out.slice(c.block.output!.end);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const args = process.argv.slice(2);
  const photos = args.indexOf('--photos');
  if (photos >= 0) {
    // `npm run` works in the package's folder; INIT_CWD is where it was typed.
    const dir = path.resolve(process.env.INIT_CWD ?? process.cwd(), args[photos + 1] ?? '.');
    console.log(`wrote ${(await writePhotos(dir)).join(', ')} to ${dir}`);
    return;
  }
  const check = args.includes('--check');
  const readme = fs.readFileSync(README, 'utf8');
  const blocks = extractBlocks(readme);
  const run = await runExamples(blocks, { realNpx: args.includes('--real-npx'), keep: args.includes('--keep'), log: (l) => console.error(l) });
  let failed = false;
  for (const r of run.results) {
    const problems = runProblems(r);
    if (problems.length) { failed = true; console.error(`\nblock ${r.block.index} (README line ${r.block.line}):\n  ${problems.join('\n  ')}`); }
  }
  const checks = checkOutputs(run.results);
  for (const c of checks) {
    if (c.problems.length) console.error(`\noutput of block ${c.block.index} (README line ${c.block.output!.line}) ${check ? 'differs' : 'rewritten'}:\n  ${c.problems.join('\n  ')}`);
  }
  if (check) {
    if (failed || checks.some((c) => c.problems.length)) process.exitCode = 1;
  } else {
    const updated = rewriteReadme(readme, checks);
    if (updated !== readme) fs.writeFileSync(README, updated);
    console.error(`\n${updated === readme ? 'README unchanged' : 'README rewritten'}; ${run.results.length} blocks run in ${(run.ms / 1000).toFixed(1)} s`);
    if (failed) process.exitCode = 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
