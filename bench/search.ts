/**
 * 1:N search at scale and open-set identification, through the product's collection service:
 *   npm run bench:search -- --data ../shared/data [--sizes 100000,1000000] [--queries 500] [--out docs/bench]
 *
 * Open set on LFW: of the people with several photos, every other one (sorted by name) is enrolled
 * with one photo, together with every one-photo person as distractors; their other photos are the
 * probes; the other half is never enrolled and searches as strangers. At scale the same gallery is
 * padded with synthetic distractors drawn from a Gaussian fitted to the real templates.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exactSearch, MetricKind } from 'usearch';
import { PROJECT_ROOT } from '../src/config.ts';
import { createServices, loadProjection, templateCodec } from '../src/bootstrap.ts';
import * as collectionsModule from '../src/core/collections.ts';
import type { CollectionService } from '../src/core/collections.ts';
import type { FaceService } from '../src/core/face-service.ts';
import { SqliteCollectionRepository } from '../src/store/sqlite/collection-repository.ts';
import { UsearchIndexProvider } from '../src/store/vector/usearch-indexes.ts';
import { loadLfw } from './lib/lfw.ts';
import { embedImages, impostorSimilarities } from './lib/embed-set.ts';
import { GaussianSampler } from './lib/gaussian.ts';
import { freshDataFolder } from './lib/fresh-data.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, sizes: { type: 'string' }, queries: { type: 'string' }, out: { type: 'string' } } });
const dataDir = values.data ?? process.env.FACEPROOF_TEST_DATA;
if (!dataDir) throw new Error('give the evaluation data folder with --data DIR (or FACEPROOF_TEST_DATA)');
const sizes = (values.sizes ?? '100000,1000000').split(',').map(Number);
const queryCount = Number(values.queries ?? 500);
const outDir = values.out ?? path.join(PROJECT_ROOT, 'docs/bench');
const TENANT = 'default';

const scratch = freshDataFolder('bench-search', { FACEPROOF_INDEX_SNAPSHOT_EVERY: String(10 ** 9) });
const { config, dir: workDir } = scratch;
const services = await createServices(config, { mode: 'tool' });
const { collections, service } = services;
// Templates stored as the server stores them (sealed unless FACEPROOF_ENCRYPT_TEMPLATES=false).
const repository = new SqliteCollectionRepository(services.db!, templateCodec(config));
const projection = loadProjection(config, services.engine.info());
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const log = (...a: unknown[]) => console.error(new Date().toISOString().slice(11, 19), ...a);

// 1. Real templates of every LFW image.
const { protocol, imageDir } = loadLfw(dataDir);
const byIdentity = new Map<string, string[]>();
for (const img of fs.readdirSync(imageDir).sort()) byIdentity.set(img, fs.readdirSync(path.join(imageDir, img)).sort().map((f) => `${img}/${f}`));
const allImages = [...byIdentity].flatMap(([identity, files]) => files.map((file) => ({ file, identity })));
log(`embedding ${allImages.length} LFW images (${protocol.images.length} in the pairs)`);
const embedded = (await embedImages(services.engine, config.image, imageDir, allImages)).filter((e) => e.vector);
const vectorOf = new Map(embedded.map((e) => [e.file, e.vector!]));

// 2. The open-set split.
const multi = [...byIdentity.keys()].filter((id) => byIdentity.get(id)!.length >= 2);
const enrolled = multi.filter((_, i) => i % 2 === 0);
const never = multi.filter((_, i) => i % 2 === 1);
const single = [...byIdentity.keys()].filter((id) => byIdentity.get(id)!.length === 1);
const gallery = [...enrolled, ...single].map((id) => ({ identity: id, vector: vectorOf.get(byIdentity.get(id)![0])! }));
const mateProbes = enrolled.flatMap((id) => byIdentity.get(id)!.slice(1).map((f) => ({ identity: id, vector: vectorOf.get(f)! })));
const strangerProbes = never.flatMap((id) => byIdentity.get(id)!.map((f) => ({ identity: id, vector: vectorOf.get(f)! })));

/** Searches every probe through the product path; rank-1 without a threshold, hits and stranger candidates at the default one. */
async function openSet(name: string, faces: FaceService, service: CollectionService) {
  let rank1 = 0, hits = 0, strangerCandidates = 0;
  let threshold;
  for (const p of mateProbes) {
    const template = faces.encodeVector(p.vector);
    const ranked = await service.search(TENANT, [name], { kind: 'template', template }, { maxResults: 1, maxFar: 1, allFaces: false, autoRotate: false, clientId: 'bench' });
    if (ranked.queries[0].hits[0]?.face.externalId === p.identity) rank1++;
    const atDefault = await service.search(TENANT, [name], { kind: 'template', template }, { maxResults: 1, allFaces: false, autoRotate: false, clientId: 'bench' });
    threshold = atDefault.threshold;
    if (atDefault.queries[0].hits[0]?.face.externalId === p.identity) hits++;
  }
  for (const p of strangerProbes) {
    const r = await service.search(TENANT, [name], { kind: 'template', template: faces.encodeVector(p.vector) }, { maxResults: 1, allFaces: false, autoRotate: false, clientId: 'bench' });
    if (r.queries[0].hits.length > 0) strangerCandidates++;
  }
  const rate = strangerCandidates / strangerProbes.length;
  return {
    gallery_faces: threshold!.galleryFaces,
    enrolled_people: enrolled.length,
    mate_probes: mateProbes.length,
    stranger_probes: strangerProbes.length,
    rank1: round(rank1 / mateProbes.length, 4),
    hit_rate_at_default_threshold: round(hits / mateProbes.length, 4),
    stranger_candidate_rate: round(rate, 4),
    stranger_no_candidate: round(1 - rate, 4),
    stranger_candidate_rate_upper95: round(clopperPearsonUpper(strangerCandidates, strangerProbes.length), 4),
    threshold: { far: threshold!.far, similarity: round(threshold!.similarity, 4), expected_fpir: threshold!.expectedFpir, extrapolated: threshold!.extrapolated },
  };
}

const report: Record<string, unknown> = {
  machine: `${os.cpus()[0].model}, ${os.availableParallelism()} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
  template: service.templateModel,
  index: { ...config.index, projection: projection ? { dimensions: projection.outDim, id: projection.id } : null },
  candidates_reranked: config.search.candidates,
  encrypt_templates: config.encryptTemplates,
};

log('open set on the real gallery');
await collections.create(TENANT, { name: 'openset', kind: 'gallery' });
await collections.indexTemplates(TENANT, 'openset', gallery.map((g) => ({ template: service.encodeVector(g.vector), externalId: g.identity })));
report.open_set_lfw = await openSet('openset', service, collections);
log(report.open_set_lfw);

// 3. Synthetic distractors, checked against the real impostor statistics.
const dim = service.templateModel.dimension;
const sampler = GaussianSampler.fit(embedded.map((e) => e.vector!));
const maxSize = Math.max(...sizes);
const synthetic = new Float32Array((maxSize - gallery.length) * dim);
log(`sampling ${maxSize - gallery.length} synthetic distractors`);
for (let done = 0, n = maxSize - gallery.length; done < n; done += 10_000) sampler.sample(synthetic, done, Math.min(10_000, n - done));
report.synthetic_check = syntheticCheck();

const scale: unknown[] = [];
for (const size of sizes) scale.push(await atScale(size));
report.scale = scale;

fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'search.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
await services.close();
scratch.remove();

async function atScale(size: number) {
  const name = `scale-${size}`;
  const record = await collections.create(TENANT, { name, kind: 'gallery' });
  const rows = Math.min(size, gallery.length + synthetic.length / dim);
  const dataset = new Float32Array(rows * dim);
  gallery.forEach((g, i) => dataset.set(g.vector, i * dim));
  dataset.set(synthetic.subarray(0, (rows - gallery.length) * dim), gallery.length * dim);
  const faceIds: string[] = new Array(rows);
  const provider = new UsearchIndexProvider(repository, { dir: path.join(workDir, `indexes-${size}`), ...config.index, projection });
  const anonBefore = anonymousBytes();
  const index = await provider.open(record);
  let dbMs = 0, indexMs = 0;
  const createdAt = new Date().toISOString();
  log(`${name}: building`);
  for (let from = 0; from < rows; from += 10_000) {
    const to = Math.min(rows, from + 10_000);
    const vectors = Array.from({ length: to - from }, (_, i) => dataset.subarray((from + i) * dim, (from + i + 1) * dim));
    let t = performance.now();
    const added = await repository.addFaces(TENANT, record.id, vectors.map((vector, i) => ({
      id: `f${size}_${from + i}`, externalId: from + i < gallery.length ? gallery[from + i].identity : null, metadata: {}, imageId: null, box: null, vector, createdAt,
    })));
    dbMs += performance.now() - t;
    t = performance.now();
    index.add(added.map((f) => f.key), vectors);
    indexMs += performance.now() - t;
    added.forEach((f, i) => { faceIds[from + i] = f.id; });
    if ((to / 10_000) % 10 === 0) log(`${name}: ${to} faces, index ${(to / (indexMs / 1000)).toFixed(0)}/s`);
  }
  const anonBuilt = anonymousBytes();
  let t = performance.now();
  await (provider as UsearchIndexProvider).close();
  const snapshotMs = performance.now() - t;
  const files = fs.readdirSync(path.join(workDir, `indexes-${size}`));
  const diskBytes = files.reduce((n, f) => n + fs.statSync(path.join(workDir, `indexes-${size}`, f)).size, 0);

  // Reload from the snapshot as a restarted server does, and measure what it holds.
  const anonBeforeLoad = anonymousBytes();
  t = performance.now();
  const reloadedProvider = new UsearchIndexProvider(repository, { dir: path.join(workDir, `indexes-${size}`), ...config.index, projection });
  const reloaded = await reloadedProvider.open(record);
  const loadMs = performance.now() - t;
  const anonLoaded = anonymousBytes();
  const rssLoaded = process.memoryUsage().rss;

  // Latency: real probes (their mates are in the gallery), one at a time on one thread.
  const probes = mateProbes.slice(0, queryCount);
  const raw: number[] = [];
  for (const p of probes) { const s = performance.now(); reloaded.search(p.vector, 10, config.search.candidates); raw.push(performance.now() - s); }
  // The product path: template parsing, candidates from the index, exact re-ranking from SQLite, threshold.
  const product: number[] = [];
  const productTop10: string[][] = [];
  const productService = withIndex(reloadedProvider);
  for (const p of probes) {
    const template = service.encodeVector(p.vector);
    const s = performance.now();
    const r = await productService.search(TENANT, [name], { kind: 'template', template }, { maxResults: 10, maxFar: 1, allFaces: false, autoRotate: false, clientId: 'bench' });
    product.push(performance.now() - s);
    productTop10.push(r.queries[0].hits.map((h) => h.face.id));
  }
  // Recall@10 against exact (brute-force) search over the same vectors.
  const queries = new Float32Array(probes.length * dim);
  probes.forEach((p, i) => queries.set(p.vector, i * dim));
  t = performance.now();
  const exact = exactSearch(dataset, queries, dim, 10, MetricKind.Cos, 0) as unknown as { keys: BigUint64Array };
  const exactMs = performance.now() - t;
  let found = 0, firstFound = 0;
  probes.forEach((_, q) => {
    const truth = new Set(Array.from(exact.keys.subarray(q * 10, q * 10 + 10), (k) => faceIds[Number(k)]));
    found += productTop10[q].filter((id) => truth.has(id)).length;
    if (productTop10[q][0] === faceIds[Number(exact.keys[q * 10])]) firstFound++;
  });

  const openSetAtScale = await openSet(name, service, productService);
  const result = {
    faces: rows,
    build: {
      database_inserts_per_second: Math.round(rows / (dbMs / 1000)),
      index_inserts_per_second: Math.round(rows / (indexMs / 1000)),
      index_build_seconds: round(indexMs / 1000, 1),
      snapshot_seconds: round(snapshotMs / 1000, 2),
      reload_seconds: round(loadMs / 1000, 2),
    },
    // Anonymous memory after a full GC: the index's own, without the database pages SQLite maps while the index reads it back.
    memory_mib: { index_after_build: mb(anonBuilt - anonBefore), index_after_reload: mb(anonLoaded - anonBeforeLoad), process_anonymous: mb(anonLoaded), process_rss: mb(rssLoaded) },
    disk_mib: { index_snapshot: mb(diskBytes) },
    latency_ms_single_thread: {
      index_top10: { p50: pct(raw, 0.5), p99: pct(raw, 0.99) },
      product_search_top10: { p50: pct(product, 0.5), p99: pct(product, 0.99) },
    },
    recall_at_10: round(found / (probes.length * 10), 4),
    // the exact nearest face returned first: for these probes usually their mate
    recall_at_1: round(firstFound / probes.length, 4),
    exact_search_ms_per_query: round(exactMs / probes.length, 1),
    open_set: openSetAtScale,
  };
  log(result);
  await reloadedProvider.close();
  return result;
}

/** The collection service over another index provider (the reloaded one). */
function withIndex(provider: UsearchIndexProvider): CollectionService {
  const { CollectionService: Service } = collectionsModule;
  return new Service(repository, provider, service, service.calibration, config.search);
}

function syntheticCheck() {
  const sample = 2000;
  const real = embedded.slice(0, sample);
  const realImp = impostorSimilarities(real);
  const synth = Array.from({ length: sample }, (_, i) => synthetic.subarray(i * dim, (i + 1) * dim));
  const cross: number[] = [];
  for (const s of synth.slice(0, 500)) for (const r of real) { let d = 0; for (let k = 0; k < dim; k++) d += s[k] * r.vector![k]; cross.push(d); }
  const stats = (xs: ArrayLike<number>) => {
    const arr = Float64Array.from(xs).sort();
    const mean = arr.reduce((a, b) => a + b, 0) / arr.length;
    const std = Math.sqrt(arr.reduce((a, b) => a + (b - mean) ** 2, 0) / arr.length);
    return { pairs: arr.length, mean: round(mean, 4), std: round(std, 4), p99_9: round(arr[Math.floor(arr.length * 0.999)], 4), max: round(arr[arr.length - 1], 4) };
  };
  return { real_impostor_similarity: stats(realImp), synthetic_vs_real_similarity: stats(cross) };
}

/** Resident anonymous memory (Linux), after a full collection when node runs with --expose-gc. */
function anonymousBytes(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor(q * s.length))], 3);
}

function round(v: number, d: number): number {
  return Math.round(v * 10 ** d) / 10 ** d;
}

/** Upper end of the 95 % Clopper–Pearson interval of a binomial rate (bisection on the beta tail). */
function clopperPearsonUpper(k: number, n: number): number {
  if (k === n) return 1;
  let lo = k / n, hi = 1;
  for (let i = 0; i < 60; i++) {
    const p = (lo + hi) / 2;
    if (binomCdf(k, n, p) > 0.025) lo = p; else hi = p;
  }
  return hi;
}

function binomCdf(k: number, n: number, p: number): number {
  let term = Math.pow(1 - p, n), sum = term;
  for (let i = 1; i <= k; i++) { term *= ((n - i + 1) / i) * (p / (1 - p)); sum += term; }
  return sum;
}
