import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import { advanceSimilarity } from '../../../core/vendor-scores.ts';
import type { FaceService } from '../../../core/face-service.ts';
import type { AppServices } from '../../app.ts';
import { FileField } from '../../v1/schemas.ts';
import { advance, AdvanceResponse, CHECK_PATH, TOKEN_PATH } from './descriptor.ts';

const tags = ['advance'];

const TokenBody = Type.Object({
  accessKey: Type.String({ maxLength: 64 }),
  timestamp: Type.Union([Type.String({ maxLength: 13 }), Type.Integer()], { description: '13-digit milliseconds since 1970, within 300 s of the server clock' }),
  signature: Type.String({ maxLength: 128, description: 'SHA-256 (hex) of accessKey + secretKey + timestamp' }),
  periodSecond: Type.Optional(Type.Union([Type.String({ maxLength: 6 }), Type.Integer()], { description: 'Validity in seconds, 60–86400, default 3600' })),
});

const CheckBody = Type.Object({
  firstImage: FileField('The first picture: JPEG or PNG, under 2 MB, 256×256 to 4096×4096'),
  secondImage: FileField('The second picture, with the same requirements'),
});

const FacePosition = Type.Object({ id: Type.String(), left: Type.Number(), top: Type.Number(), right: Type.Number(), bottom: Type.Number() });

/** The manual's image requirements (Glossary, "Image Quality Requirements"). */
const MAX_BYTES = 2 * 1024 * 1024;
const MIN_SIDE = 256;
const MAX_SIDE = 4096;

/** ADVANCE.AI (seeds/003): token exchange and face comparison. Only translation: the work is core's. */
export function advanceRoutes(app: FastifyInstance, services: AppServices): void {
  app.post<{ Body: Static<typeof TokenBody> }>(`${advance.prefix}${TOKEN_PATH}`, {
    schema: {
      tags, summary: 'Access token from accessKey, 13-digit timestamp and SHA-256(accessKey + secretKey + timestamp)',
      description: 'The key must be a signing key (POST /v1/admin/clients/{id}/keys with "signing": true): its id is the accessKey, its secret the secretKey. The token goes in X-ACCESS-TOKEN.',
      body: TokenBody,
      response: { 200: AdvanceResponse(Type.Object({ token: Type.String(), expiredTime: Type.Integer() })) },
    },
  }, async (request) => {
    const b = request.body;
    for (const name of ['accessKey', 'signature', 'timestamp'] as const) {
      if (String(b[name]).trim() === '') throw FaceproofError.missing(`${name} should not be empty`, name);
    }
    const period = b.periodSecond === undefined || b.periodSecond === '' ? 3600 : Number(b.periodSecond);
    if (!(Number.isInteger(period) && period >= 60 && period <= 86400)) throw new FaceproofError('invalid_parameter', 'periodSecond must be between 60 and 86400', 'periodSecond');
    const issued = await services.authenticator.exchangeAdvanceSignature({ accessKey: b.accessKey, timestamp: String(b.timestamp), signature: b.signature, periodSeconds: period });
    return { code: 'SUCCESS', message: 'OK', data: { token: issued.token, expiredTime: issued.expiresAt.getTime() }, extra: null, transactionId: request.id, pricingStrategy: 'FREE' };
  });

  app.post<{ Body: Static<typeof CheckBody> }>(`${advance.prefix}${CHECK_PATH}`, {
    config: { usesEngine: true },
    bodyLimit: 2 * MAX_BYTES + 64 * 1024,
    schema: {
      tags, summary: 'Face comparison: similarity 0–100 of the largest faces of two pictures',
      description: 'Above 70: pass (FAR 1e-4); 55–70: manual check (down to FAR 1e-2); below 55: reject. Pictures turned 90°, 180° or 270° are compared upright.',
      body: { content: { 'multipart/form-data': { schema: CheckBody } } },
      response: { 200: AdvanceResponse(Type.Object({ similarity: Type.Number(), firstFace: FacePosition, secondFace: FacePosition })) },
    },
  }, async (request) => {
    const { firstImage, secondImage } = request.body;
    const tenantId = request.caller.tenantId;
    const [first, second] = await Promise.all([
      acceptable(services.service, firstImage, 'firstImage', tenantId),
      acceptable(services.service, secondImage, 'secondImage', tenantId),
    ]);
    const result = await services.service.compare({
      tenantId, source: { kind: 'image', source: first }, target: { kind: 'image', source: second },
      sourceType: 'SELFIE', targetType: 'SELFIE', allFaces: false, autoRotate: true,
      // A face too small or blurred to compare is the manual's "low quality face".
      qualityProfile: 'comparison',
    });
    return {
      code: 'SUCCESS', message: 'OK',
      data: { similarity: Math.round(advanceSimilarity(result.tailFar) * 100) / 100, firstFace: position('1', result.sourceFace), secondFace: position('2', result.targetFace) },
      extra: null, transactionId: request.id, pricingStrategy: 'PAY',
    };
  });
}

/** A picture that meets the manual's requirements (JPEG or PNG, under 2 MB, 256 to 4096 pixels a side), as an image source. */
async function acceptable(faces: FaceService, value: unknown, field: 'firstImage' | 'secondImage', tenantId: string) {
  if (!Buffer.isBuffer(value)) throw new FaceproofError('invalid_image_format', `${field} must be a file`, field);
  const source = { kind: 'bytes' as const, data: value };
  const header = await faces.inspectImage(source, tenantId, field);
  if (header.format !== 'jpeg' && header.format !== 'png') throw new FaceproofError('invalid_image_format', `${field} is ${header.format}; JPEG or PNG only`, field);
  if (header.bytes >= MAX_BYTES) throw new FaceproofError('image_too_large', `${field} is ${header.bytes} bytes; under 2 MB only`, field);
  const sides = [header.width, header.height];
  if (sides.some((s) => s < MIN_SIDE || s > MAX_SIDE)) throw new FaceproofError('image_dimensions_invalid', `${field} is ${header.width}×${header.height}; 256×256 to 4096×4096 only`, field);
  return source;
}

function position(id: string, face: { box: { x: number; y: number; width: number; height: number } } | undefined) {
  if (!face) throw new FaceproofError('no_face_detected', 'no face', id === '1' ? 'firstImage' : 'secondImage');
  const r = (v: number) => Math.round(v * 10) / 10;
  return { id, left: r(face.box.x), top: r(face.box.y), right: r(face.box.x + face.box.width), bottom: r(face.box.y + face.box.height) };
}
