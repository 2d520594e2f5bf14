import { loadConfig, type Config } from '../../src/config.ts';
import { FaceEngine } from '../../src/engine/face-engine.ts';
import { Calibrator } from '../../src/core/calibration.ts';
import { loadLfw, type LfwProtocol } from './lfw.ts';
import { embedImages, type EmbeddedImage } from './embed-set.ts';

/** The configured pipeline's embedding of every LFW image the protocol names (the largest face of each), with the shipped calibration. */
export interface EmbeddedLfw {
  config: Config;
  engine: FaceEngine;
  calibrator: Calibrator;
  protocol: LfwProtocol;
  embedded: EmbeddedImage[];
  byFile: Map<string, EmbeddedImage>;
  /** When the embedding started (ms since 1970). */
  started: number;
}

export async function embedLfw(dataDir: string | undefined): Promise<EmbeddedLfw> {
  if (!dataDir) throw new Error('give the evaluation data folder with --data DIR (or FACEPROOF_TEST_DATA)');
  const config = loadConfig();
  const engine = await FaceEngine.load(config.pipeline, config.threads);
  const calibrator = Calibrator.fromFile(config.calibrationFile, config.thresholds);
  const { protocol, imageDir } = loadLfw(dataDir);
  const started = Date.now();
  const embedded = await embedImages(engine, config.image, imageDir, protocol.images);
  return { config, engine, calibrator, protocol, embedded, byFile: new Map(embedded.map((e) => [e.file, e])), started };
}
