import type { FastifyInstance } from 'fastify';
import type { FaceService } from '../../core/face-service.ts';
import { envelope } from '../envelope.ts';
import { CompareJsonBody, CompareMultipartBody, CompareResponse, errorResponses, type CompareJson, type CompareMultipart } from './schemas.ts';
import { summarizeFace, summarizeScore } from '../../core/face-summary.ts';
import { faceInputOf } from './inputs.ts';

export function compareRoute(app: FastifyInstance, service: FaceService): void {
  app.post<{ Body: CompareJson | CompareMultipart }>('/v1/compare', {
    config: { usesEngine: true, signed: true },
    schema: {
      tags: ['faces'],
      summary: 'Are two faces the same person?',
      description: 'Compares the largest face of each side (or a template) and returns a calibrated score, the estimated false-accept rate and a decision under the thresholds of the image-type pair. `all_faces` adds every face pair.',
      body: {
        content: {
          'application/json': { schema: CompareJsonBody },
          'multipart/form-data': { schema: CompareMultipartBody },
        },
      },
      response: { 200: CompareResponse, ...errorResponses(400, 409, 413, 415, 422, 429, 500) },
    },
  }, async (request) => {
    const body = request.body;
    const result = await service.compare({
      tenantId: request.caller.tenantId,
      source: faceInputOf(body.source, 'source'),
      target: faceInputOf(body.target, 'target'),
      sourceType: body.source_type ?? 'SELFIE',
      targetType: body.target_type ?? 'SELFIE',
      allFaces: body.all_faces ?? false,
      autoRotate: body.auto_rotate ?? false,
      qualityProfile: body.quality_profile,
    });
    return {
      ...envelope(request),
      ...summarizeScore(result),
      threshold: result.threshold,
      thresholds: result.thresholds,
      source_face: result.sourceFace ? summarizeFace(result.sourceFace) : null,
      target_face: result.targetFace ? summarizeFace(result.targetFace) : null,
      ...(result.pairs ? { pairs: result.pairs.map((p) => ({ source_index: p.sourceIndex, target_index: p.targetIndex, ...summarizeScore(p) })) } : {}),
    };
  });
}
