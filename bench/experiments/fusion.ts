/**
 * Does fusing a second embedder's score with the default one help? On LFW:
 *   npx tsx bench/experiments/fusion.ts --data ../shared/data --second second-pipeline.json
 * Fused score = s_default + w · s_second, w chosen on the training folds for protocol accuracy
 * (and on all folds for the FAR-based figures, which therefore flatter fusion slightly).
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config.ts';
import { FaceEngine } from '../../src/engine/face-engine.ts';
import type { PipelineConfig } from '../../src/engine/pipeline.ts';
import { loadLfw } from '../lib/lfw.ts';
import { embedImages, impostorSimilarities, pairSimilarity, type EmbeddedImage } from '../lib/embed-set.ts';
import { auc, bestThreshold, accuracyAt, shareAtOrAbove, thresholdAtFar, type ScoredPair } from '../lib/metrics.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, second: { type: 'string' } } });
if (!values.data || !values.second) throw new Error('usage: fusion.ts --data DIR --second PIPELINE_JSON');
const config = loadConfig();
const { protocol, imageDir } = loadLfw(values.data);
const first = await embedImages(await FaceEngine.load(config.pipeline, config.threads), config.image, imageDir, protocol.images);
const secondPipeline = JSON.parse(fs.readFileSync(values.second, 'utf8')) as PipelineConfig;
const second = await embedImages(await FaceEngine.load(secondPipeline, config.threads), config.image, imageDir, protocol.images);

const index = (set: EmbeddedImage[]) => new Map(set.map((e) => [e.file, e.vector]));
const [v1, v2] = [index(first), index(second)];
const pairs = protocol.pairs.map((p) => ({ fold: p.fold, same: p.same, s1: pairSimilarity(v1.get(p.a), v1.get(p.b)), s2: pairSimilarity(v2.get(p.a), v2.get(p.b)) }));
const weights = Array.from({ length: 41 }, (_, i) => i * 0.05);
const fused = (w: number) => pairs.map((p): ScoredPair => ({ fold: p.fold, same: p.same, similarity: p.s1 + w * p.s2 }));

function cvAccuracy(pick: 'first' | 'second' | 'fused'): number {
  let total = 0;
  for (let f = 0; f < protocol.folds; f++) {
    let best = { w: 0, acc: -1, t: 0 };
    const candidates = pick === 'fused' ? weights : [0];
    for (const w of candidates) {
      const scored = pick === 'second' ? pairs.map((p) => ({ ...p, similarity: p.s2 })) : fused(w);
      const train = scored.filter((p) => p.fold !== f);
      const t = bestThreshold(train);
      const acc = accuracyAt(train, t);
      if (acc > best.acc) best = { w, acc, t };
    }
    const scored = pick === 'second' ? pairs.map((p) => ({ ...p, similarity: p.s2 })) : fused(best.w);
    total += accuracyAt(scored.filter((p) => p.fold === f), best.t);
  }
  return total / protocol.folds;
}

// FAR-based figures use every cross-identity pair for both scores.
const i1 = impostorSimilarities(first);
const i2 = impostorSimilarities(second);
if (i1.length !== i2.length) throw new Error('the two pipelines found faces in different images; impostor pairs would not line up');
function farFigures(w: number | 'second') {
  const score = (a: number, b: number) => (w === 'second' ? b : a + w * b);
  const genuine = Float32Array.from(pairs.filter((p) => p.same).map((p) => score(p.s1, p.s2))).sort();
  const impostor = new Float32Array(i1.length);
  for (let k = 0; k < i1.length; k++) impostor[k] = score(i1[k], i2[k]);
  impostor.sort();
  const pairImpostors = pairs.filter((p) => !p.same).map((p) => score(p.s1, p.s2));
  return {
    auc: auc(genuine, pairImpostors),
    tar1e3: shareAtOrAbove(genuine, thresholdAtFar(impostor, 1e-3)),
    tar1e4: shareAtOrAbove(genuine, thresholdAtFar(impostor, 1e-4)),
  };
}
let bestW = 0, bestAuc = -1;
for (const w of weights) { const a = auc(fused(w).filter((p) => p.same).map((p) => p.similarity), fused(w).filter((p) => !p.same).map((p) => p.similarity)); if (a > bestAuc) { bestAuc = a; bestW = w; } }
const rows = [
  { name: 'default alone', acc: cvAccuracy('first'), ...farFigures(0) },
  { name: `second alone (${secondPipeline.id})`, acc: cvAccuracy('second'), ...farFigures('second') },
  { name: `fused, w = ${bestW.toFixed(2)} (best AUC)`, acc: cvAccuracy('fused'), ...farFigures(bestW) },
];
for (const r of rows) console.log(`| ${r.name} | ${(r.acc * 100).toFixed(2)} % | ${r.auc.toFixed(4)} | ${r.tar1e3.toFixed(3)} | ${r.tar1e4.toFixed(3)} |`);
