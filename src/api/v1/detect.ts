import type { FastifyInstance } from 'fastify';
import type { FaceService } from '../../core/face-service.ts';
import { envelope } from '../envelope.ts';
import { DetectJsonBody, DetectMultipartBody, DetectResponse, errorResponses, type DetectJson, type DetectMultipart } from './schemas.ts';
import { summarizeFace } from '../../core/face-summary.ts';
import { imageSourceOf } from './inputs.ts';

export function detectRoute(app: FastifyInstance, service: FaceService): void {
  app.post<{ Body: DetectJson | DetectMultipart }>('/v1/detect', {
    config: { usesEngine: true },
    schema: {
      tags: ['faces'],
      summary: 'Find every face in an image',
      description: 'Boxes, confidence, five landmarks, head pose and inter-eye distance of every face, largest first; optionally templates and aligned face images.',
      body: {
        content: {
          'application/json': { schema: DetectJsonBody },
          'multipart/form-data': { schema: DetectMultipartBody },
        },
      },
      response: { 200: DetectResponse, ...errorResponses(400, 413, 415, 422, 429, 500) },
    },
  }, async (request) => {
    const body = request.body;
    const result = await service.detect(imageSourceOf(body.image, 'image'), {
      tenantId: request.caller.tenantId,
      autoRotate: body.auto_rotate ?? false,
      returnTemplates: body.return_templates ?? false,
      returnFaceImages: body.return_face_images ?? false,
      qualityProfile: body.quality_profile,
    });
    return {
      ...envelope(request),
      image: result.image,
      faces: result.faces.map((f) => summarizeFace(f.face, { template: f.template, faceImage: f.faceImage })),
    };
  });
}
