import { FaceEngine } from './engine/face-engine.ts';
import { Calibrator } from './core/calibration.ts';
import { FaceService } from './core/face-service.ts';
import type { Config } from './config.ts';

/** Loads the models once and wires the use cases: the composition root shared by the server, CLI and benchmarks. */
export async function createFaceService(config: Config): Promise<{ service: FaceService; engine: FaceEngine }> {
  const engine = await FaceEngine.load(config.pipeline, config.threads);
  const calibrator = Calibrator.fromFile(config.calibrationFile, config.thresholds);
  const info = engine.info();
  const table = calibrator.table;
  if (table.templateModelId !== info.templateModelId || table.templateVersion !== info.templateVersion) {
    throw new Error(`calibration ${config.calibrationFile} was built for ${table.templateModelId} v${table.templateVersion}, not ${info.templateModelId} v${info.templateVersion}`);
  }
  return { service: new FaceService(engine, calibrator, config.image), engine };
}
