import type { FastifyInstance } from 'fastify';
import type { FaceService } from '../../core/face-service.ts';
import type { EngineInfo } from '../../engine/face-engine.ts';
import { IMAGE_TYPES } from '../../core/calibration.ts';
import type { Config } from '../../config.ts';
import { envelope } from '../envelope.ts';
import { CapabilitiesResponse, HealthResponse } from './schemas.ts';

export function systemRoutes(app: FastifyInstance, deps: { service: FaceService; engine: EngineInfo; config: Config; version: string }): void {
  const started = Date.now();
  app.get('/v1/health', {
    schema: { tags: ['system'], summary: 'Liveness of the server', response: { 200: HealthResponse } },
  }, async (request) => ({ ...envelope(request), status: 'ok' as const, uptime_seconds: Math.round((Date.now() - started) / 1000) }));

  const { service, engine, config, version } = deps;
  const calibration = service.calibration;
  const farsJson = (f: { matchFar: number; uncertainFar: number }) => ({ match_far: f.matchFar, uncertain_far: f.uncertainFar });
  const capabilities = {
    version,
    pipeline: engine.pipelineId,
    template: { model_id: engine.templateModelId, version: engine.templateVersion, dimension: engine.dimension },
    models: engine.models,
    image_formats: ['jpeg', 'png', 'webp'],
    image_types: [...IMAGE_TYPES],
    limits: {
      max_body_bytes: config.maxBodyBytes,
      max_image_bytes: config.image.maxBytes,
      max_image_pixels: config.image.maxPixels,
      min_image_side: config.image.minSide,
    },
    thresholds: {
      default: farsJson(config.thresholds.default),
      pairs: Object.fromEntries(Object.entries(config.thresholds.pairs).map(([k, v]) => [k, farsJson(v!)])),
    },
    calibration: {
      dataset: calibration.table.dataset.name,
      impostor_pairs: calibration.table.dataset.impostorPairs,
      built: calibration.table.built,
      far_floor: Number(calibration.farFloor.toPrecision(3)),
      table: calibration.publishedTable(),
    },
  };
  app.get('/v1/capabilities', {
    schema: { tags: ['system'], summary: 'Version, models, template version, limits and the score ↔ FAR table', response: { 200: CapabilitiesResponse } },
  }, async (request) => ({ ...envelope(request), ...capabilities }));
}
