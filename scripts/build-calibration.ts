/**
 * Rebuilds calibration/<pipeline id>.json from every cross-identity pair of the LFW images:
 *   npm run calibrate -- --data ../shared/data
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, PROJECT_ROOT } from '../src/config.ts';
import { FaceEngine } from '../src/engine/face-engine.ts';
import type { CalibrationTable } from '../src/core/calibration.ts';
import { loadLfw } from '../bench/lib/lfw.ts';
import { embedImages, impostorSimilarities } from '../bench/lib/embed-set.ts';
import { calibrationPoints } from '../bench/lib/calibration-builder.ts';
import { principalComponents } from '../bench/lib/pca.ts';
import { VectorProjection } from '../src/store/vector/projection.ts';

const PROJECTION_COMPONENTS = 192;

const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' } } });
const dataDir = values.data ?? process.env.FACEPROOF_TEST_DATA;
if (!dataDir) throw new Error('give the evaluation data folder with --data DIR (or FACEPROOF_TEST_DATA)');

const config = loadConfig();
const engine = await FaceEngine.load(config.pipeline, config.threads);
const { protocol, imageDir } = loadLfw(dataDir);
const embedded = await embedImages(engine, config.image, imageDir, protocol.images);
const impostors = impostorSimilarities(embedded).sort();
const info = engine.info();
const genuinePairs = protocol.pairs.filter((p) => p.same).length;
const table: CalibrationTable = {
  format: 1,
  pipelineId: info.pipelineId,
  templateModelId: info.templateModelId,
  templateVersion: info.templateVersion,
  built: new Date().toISOString().slice(0, 10),
  command: 'npm run calibrate -- --data ../shared/data',
  dataset: {
    name: 'LFW View 2 folds 1-5, 150 px unaligned originals, every cross-identity image pair',
    images: embedded.filter((e) => e.vector).length,
    identities: new Set(embedded.map((e) => e.identity)).size,
    impostorPairs: impostors.length,
    genuinePairs,
  },
  points: calibrationPoints(impostors),
};
const out = values.out ?? path.join(PROJECT_ROOT, 'calibration', `${info.pipelineId}.json`);
fs.mkdirSync(path.dirname(out), { recursive: true });
// One point per line keeps the table readable and its diffs small.
const json = JSON.stringify({ ...table, points: [] }, null, 2).replace('"points": []', `"points": [\n${table.points.map((p) => `    [${p[0]}, ${p[1]}]`).join(',\n')}\n  ]`);
fs.writeFileSync(out, json + '\n');
console.log(`wrote ${out}: ${table.points.length} points from ${impostors.length} impostor pairs of ${table.dataset.images} images`);

// The principal components of the same templates, for the vector index (src/store/vector/projection.ts).
const vectors = embedded.flatMap((e) => (e.vector ? [e.vector] : []));
const count = Math.min(PROJECTION_COMPONENTS, info.dimension);
const { mean, components, explained } = principalComponents(vectors, count);
const projectionFile = out.replace(/\.json$/, '.projection.bin');
VectorProjection.write(projectionFile, { modelId: info.templateModelId, modelVersion: info.templateVersion, mean, components });
const share = (k: number) => explained.slice(0, k).reduce((a, b) => a + b, 0);
console.log(`wrote ${projectionFile}: ${count} components; variance explained by 64/128/${count}: ${[64, 128, count].map((k) => share(k).toFixed(3)).join(' / ')}`);
