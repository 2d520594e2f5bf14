/**
 * Rebuilds calibration/<pipeline id>.json from every cross-identity pair of the LFW images, with
 * the genuine side of the DET curve (how many same-person protocol pairs fall below each point):
 *   npm run calibrate -- --data ../shared/data
 *
 * With --keep-points it leaves the existing table's FAR points (and the projection) as they are and
 * only measures its genuine side at their similarities: adding the DET curve to a shipped table
 * must not move the thresholds decisions are taken at, nor the index's projection.
 *   npm run calibrate -- --data ../shared/data --keep-points
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, PROJECT_ROOT } from '../src/config.ts';
import { FaceEngine } from '../src/engine/face-engine.ts';
import { Calibrator, type CalibrationTable } from '../src/core/calibration.ts';
import { loadLfw } from '../bench/lib/lfw.ts';
import { embedImages, impostorSimilarities, pairSimilarity, type EmbeddedImage } from '../bench/lib/embed-set.ts';
import { calibrationPoints, genuineNonMatches } from '../bench/lib/calibration-builder.ts';
import { principalComponents } from '../bench/lib/pca.ts';
import { VectorProjection } from '../src/store/vector/projection.ts';

const PROJECTION_COMPONENTS = 192;
const COMMAND = 'npm run calibrate -- --data ../shared/data';

const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' }, 'keep-points': { type: 'boolean' } } });
const dataDir = values.data ?? process.env.FACEPROOF_TEST_DATA;
if (!dataDir) throw new Error('give the evaluation data folder with --data DIR (or FACEPROOF_TEST_DATA)');

const config = loadConfig();
const engine = await FaceEngine.load(config.pipeline, config.threads);
const info = engine.info();
const out = values.out ?? path.join(PROJECT_ROOT, 'calibration', `${info.pipelineId}.json`);
const { protocol, imageDir } = loadLfw(dataDir);
const same = protocol.pairs.filter((p) => p.same);
const today = new Date().toISOString().slice(0, 10);

/** The genuine side at `points`: a pair with an image without a face scores −1 (as in bench:accuracy), a non-match at any threshold. */
function genuineSide(embedded: EmbeddedImage[], points: Array<[number, number]>, command: string): NonNullable<CalibrationTable['genuine']> {
  const byFile = new Map(embedded.map((e) => [e.file, e.vector]));
  const genuine = Float32Array.from(same.map((p) => pairSimilarity(byFile.get(p.a), byFile.get(p.b)))).sort();
  return {
    built: today,
    command,
    noFace: same.filter((p) => !byFile.get(p.a) || !byFile.get(p.b)).length,
    nonMatches: genuineNonMatches(genuine, points),
  };
}

let table: CalibrationTable;
let embedded: EmbeddedImage[] | undefined;
if (values['keep-points']) {
  const shipped = JSON.parse(fs.readFileSync(out, 'utf8')) as CalibrationTable;
  if (shipped.templateModelId !== info.templateModelId || shipped.templateVersion !== info.templateVersion) {
    throw new Error(`${out} was built for ${shipped.templateModelId} v${shipped.templateVersion}, not ${info.templateModelId} v${info.templateVersion}: rebuild it without --keep-points`);
  }
  if (shipped.dataset.genuinePairs !== same.length) throw new Error(`${out} counts ${shipped.dataset.genuinePairs} genuine pairs, ${dataDir} has ${same.length}: not the same data`);
  // Only the images of same-person pairs are needed.
  const needed = new Set(same.flatMap((p) => [p.a, p.b]));
  const genuineImages = await embedImages(engine, config.image, imageDir, protocol.images.filter((i) => needed.has(i.file)));
  table = { ...shipped, genuine: genuineSide(genuineImages, shipped.points, `${COMMAND} --keep-points`) };
} else {
  embedded = await embedImages(engine, config.image, imageDir, protocol.images);
  const impostors = impostorSimilarities(embedded).sort();
  const points = calibrationPoints(impostors);
  table = {
    format: 1,
    pipelineId: info.pipelineId,
    templateModelId: info.templateModelId,
    templateVersion: info.templateVersion,
    built: today,
    command: COMMAND,
    dataset: {
      name: 'LFW View 2 folds 1-5, 150 px unaligned originals, every cross-identity image pair',
      images: embedded.filter((e) => e.vector).length,
      identities: new Set(embedded.map((e) => e.identity)).size,
      impostorPairs: impostors.length,
      genuinePairs: same.length,
    },
    points,
    genuine: genuineSide(embedded, points, COMMAND),
  };
}
new Calibrator(table, { default: { matchFar: 1e-4, uncertainFar: 1e-2 }, pairs: {} }); // refuses a table it could not load

fs.mkdirSync(path.dirname(out), { recursive: true });
// One point per line keeps the table readable and its diffs small; the genuine counts, one per
// point, twenty to a line.
const rows = (counts: number[]) => Array.from({ length: Math.ceil(counts.length / 20) }, (_, i) => `      ${counts.slice(i * 20, i * 20 + 20).join(', ')}`).join(',\n');
const json = JSON.stringify({ ...table, points: [], genuine: { ...table.genuine, nonMatches: [] } }, null, 2)
  .replace('"points": []', `"points": [\n${table.points.map((p) => `    [${p[0]}, ${p[1]}]`).join(',\n')}\n  ]`)
  .replace('"nonMatches": []', `"nonMatches": [\n${rows(table.genuine!.nonMatches)}\n    ]`);
fs.writeFileSync(out, json + '\n');
const g = table.genuine!;
const fnmrAt = (far: number) => { const c = new Calibrator(table, { default: { matchFar: far, uncertainFar: far }, pairs: {} }); return c.fnmr(c.similarityAt(far))!; };
console.log(`wrote ${out}: ${table.points.length} points from ${table.dataset.impostorPairs} impostor pairs${values['keep-points'] ? ' (kept)' : ''}; ${same.length} genuine pairs (${g.noFace} without a face); `
  + `FNMR at FAR 1e-2 / 1e-3 / 1e-4 / 1e-5: ${[1e-2, 1e-3, 1e-4, 1e-5].map((f) => fnmrAt(f).toFixed(4)).join(' / ')}`);

if (embedded) {
  // The principal components of the same templates, for the vector index (src/store/vector/projection.ts).
  const vectors = embedded.flatMap((e) => (e.vector ? [e.vector] : []));
  const count = Math.min(PROJECTION_COMPONENTS, info.dimension);
  const { mean, components, explained } = principalComponents(vectors, count);
  const projectionFile = out.replace(/\.json$/, '.projection.bin');
  VectorProjection.write(projectionFile, { modelId: info.templateModelId, modelVersion: info.templateVersion, mean, components });
  const share = (k: number) => explained.slice(0, k).reduce((a, b) => a + b, 0);
  console.log(`wrote ${projectionFile}: ${count} components; variance explained by 64/128/${count}: ${[64, 128, count].map((k) => share(k).toFixed(3)).join(' / ')}`);
}
await engine.close();
