import type { FastifyInstance } from 'fastify';
import type { FaceService } from '../../core/face-service.ts';
import type { EngineInfo } from '../../engine/face-engine.ts';
import { IMAGE_TYPES } from '../../core/calibration.ts';
import type { Config } from '../../config.ts';
import { envelope } from '../envelope.ts';
import { Type } from '@sinclair/typebox';
import { CapabilitiesResponse, Envelope, HealthResponse } from './schemas.ts';

const ReadinessResponse = Type.Object({
  ...Envelope, status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  checks: Type.Record(Type.String(), Type.Boolean(), { description: 'Each dependency: database, signing_keys, inference_threads, accepting_requests' }),
});

const round6 = (v: number) => Number(v.toFixed(6));

export function systemRoutes(app: FastifyInstance, deps: { service: FaceService; engine: EngineInfo; config: Config; version: string; readiness: () => Promise<Record<string, boolean>> }): void {
  const started = Date.now();
  app.get('/v1/health', {
    schema: { tags: ['system'], security: [], summary: 'Liveness of the server', response: { 200: HealthResponse } },
  }, async (request) => ({ ...envelope(request), status: 'ok' as const, uptime_seconds: Math.round((Date.now() - started) / 1000) }));

  app.get('/v1/health/ready', {
    schema: {
      tags: ['system'], security: [], summary: 'Readiness: 200 when the database, signing keys and inference threads are usable, else 503',
      response: { 200: ReadinessResponse, 503: ReadinessResponse },
    },
  }, async (request, reply) => {
    let checks: Record<string, boolean>;
    try {
      checks = await deps.readiness();
    } catch (err) {
      request.log.error({ err }, 'readiness check failed');
      checks = { checks_ran: false };
    }
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ ...envelope(request), status: ready ? 'ready' : 'not_ready', checks });
  });

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
      genuine_pairs: calibration.table.dataset.genuinePairs,
      det: calibration.det()?.map((p) => ({ similarity: p.similarity, far: p.far, fnmr: round6(p.fnmr) })),
      thresholds: [['default', config.thresholds.default] as const, ...Object.entries(config.thresholds.pairs)].flatMap(([pair, fars]) =>
        (['match', 'uncertain'] as const).map((decision) => {
          const t = calibration.threshold(decision === 'match' ? fars!.matchFar : fars!.uncertainFar);
          const fnmr = calibration.fnmr(calibration.similarityAt(t.far));
          return { pair, decision, ...t, ...(fnmr === undefined ? {} : { fnmr: round6(fnmr) }) };
        })),
    },
  };
  app.get('/v1/capabilities', {
    schema: { tags: ['system'], summary: 'Version, models, template version, limits, the score ↔ FAR table, the DET curve and the thresholds in force', response: { 200: CapabilitiesResponse } },
  }, async (request) => ({ ...envelope(request), ...capabilities }));
}
