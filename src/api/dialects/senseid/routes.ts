import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type TSchema } from '@sinclair/typebox';
import { FaceproofError } from '../../../core/errors.ts';
import { decodeBase64, type ImageSource } from '../../../core/image-input.ts';
import type { LivenessResult } from '../../../core/liveness.ts';
import { senseIdScore } from '../../../core/vendor-scores.ts';
import type { AppServices } from '../../app.ts';
import { FileField } from '../../v1/schemas.ts';
import { CODES, PATHS, senseid, SenseIdError, SenseIdFailure } from './descriptor.ts';

const tags = ['senseid'];

/**
 * The manual's "encrypted" photo or video. Its encryption document is not part of the manual, so the
 * field carries the plain bytes in base64 (standard or URL-safe, with or without a data: prefix).
 */
const Encrypted = (what: string) => Type.String({ minLength: 1, contentEncoding: 'base64', description: `${what}, base64 (the manual's encryption is not applied: see docs/dialects/senseid.md)` });
const Flag = (description: string) => Type.Optional(Type.Boolean({ default: false, description }));

const AUTO_ROTATE = Flag('Look for the face at 90°, 180° and 270° too');
const CHECK_QUALITY = Flag('Refuse a photo whose face is occluded (eyes, nose or mouth covered): 4004');
const RETURN_IMAGE = Flag('With passed=true: the selected frame (base64_image) and its time (image_timestamp)');
const RETURN_FACE_IMAGE = Flag('With passed=true: the face of the selected frame, aligned and cropped (base64_face_image)');
const RETURN_STATUS = Flag('Add liveness_status (ok, hack or short_time)');

const SilentImageBody = Type.Object({
  encrypted_video: Encrypted('The video (MP4, WebM or MOV, at least 2 s with the face)'),
  encrypted_image: Encrypted('The photo (JPEG, PNG or WebP)'),
  auto_rotate: AUTO_ROTATE, check_quality: CHECK_QUALITY, return_image: RETURN_IMAGE, return_face_image: RETURN_FACE_IMAGE, return_status: RETURN_STATUS,
}, { additionalProperties: false });

const SilentDetectionBody = Type.Object({
  encrypted_video: Encrypted('The video (MP4, WebM or MOV, at least 2 s with the face)'),
  return_image: RETURN_IMAGE, return_face_image: RETURN_FACE_IMAGE, return_status: RETURN_STATUS,
}, { additionalProperties: false });

const TwoPhotosBody = Type.Object({
  first_encrypted_image: Encrypted('Photo 1'),
  second_encrypted_image: Encrypted('Photo 2'),
  auto_rotate: AUTO_ROTATE, check_quality: CHECK_QUALITY,
}, { additionalProperties: false });

const MultiFaceBody = Type.Object({
  first_encrypted_image: Encrypted('Photo 1, any number of faces'),
  second_encrypted_image: Encrypted('Photo 2, any number of faces'),
  auto_rotate: AUTO_ROTATE,
}, { additionalProperties: false });

const LIVENESS_FILE = 'The liveness data: here the recording itself (MP4, WebM or MOV, at least 2 s with the face); the SDK\'s encrypted protobuf cannot be read (2007)';
const LivenessImageMultipart = Type.Object({
  liveness_file: FileField(LIVENESS_FILE),
  encrypted_image: Encrypted('The photo (JPEG, PNG or WebP)'),
  auto_rotate: AUTO_ROTATE, check_quality: CHECK_QUALITY,
});
const LivenessImageJson = Type.Object({
  liveness_file: Type.String({ minLength: 1, contentEncoding: 'base64', description: `${LIVENESS_FILE}; base64 in a JSON body` }),
  encrypted_image: Encrypted('The photo (JPEG, PNG or WebP)'),
  auto_rotate: AUTO_ROTATE, check_quality: CHECK_QUALITY,
}, { additionalProperties: false });

const QualityBody = Type.Object({ encrypted_image: Encrypted('The photo, any number of faces') }, { additionalProperties: false });

/** SenseID's multipart form (the manual's transport) or the same fields as JSON. */
const bothMedia = (schema: TSchema) => ({ content: { 'multipart/form-data': { schema }, 'application/json': { schema } } });

const Success = (fields: Parameters<typeof Type.Object>[0]) => Type.Object({
  code: Type.Literal(1000, { description: 'System response code: 1000' }),
  ...fields,
  request_id: Type.String({ description: "The ID of this request (Faceproof's X-Request-Id)" }),
});

const LivenessFields = {
  passed: Type.Boolean({ description: 'Liveness detection passed or not' }),
  liveness_score: Type.Number({ description: 'Silent liveness score 0–1 (for reference; passed decides)' }),
  liveness_status: Type.Optional(Type.Union([Type.Literal('ok'), Type.Literal('hack'), Type.Literal('short_time')], { description: 'With return_status=true' })),
  image_timestamp: Type.Optional(Type.Number({ description: 'Seconds into the video of the selected frame (passed=true, return_image=true)' })),
  base64_image: Type.Optional(Type.String({ description: 'The selected frame, JPEG (passed=true, return_image=true)' })),
  base64_face_image: Type.Optional(Type.String({ description: 'The face of the selected frame, JPEG (passed=true, return_face_image=true)' })),
};
const VerificationScore = Type.Number({ minimum: 0, maximum: 1, description: 'Face comparison score 0–1; above 0.7 (error rate 1/10,000) recommended: 0.4 ↔ 1/10 … 0.9 ↔ 1/1,000,000' });

const Rect = Type.Object({ left: Type.Integer(), top: Type.Integer(), width: Type.Integer(), height: Type.Integer() });

/** Video fields ride in multipart text fields: room for a base64 video (busboy's default is 1 MB, the server's 64 KiB). */
const multipartOptions = { limits: { fieldSize: 28 * 1024 * 1024 } };
const errors411 = { 411: SenseIdError };

/** The manual's HTTP 411: a body must come with its Content-Length (chunked uploads are refused). */
async function lengthRequired(request: FastifyRequest): Promise<void> {
  if (request.headers['content-length'] === undefined) {
    throw new SenseIdFailure(CODES.lengthRequired, 'invalid_parameter', 'the request needs a Content-Length header', 'content-length');
  }
}

type LivenessStatus = 'ok' | 'hack' | 'short_time';

/**
 * The manual's liveness_status of a video: short_time when the face is seen for less than the shortest
 * video (2 s), ok when live, hack when judged a spoof or another person took over; undefined when the
 * video did not let liveness be judged (several faces, faces too small, no face most of the time): 4007.
 */
function livenessStatusOf(result: LivenessResult, minSeconds: number): LivenessStatus | undefined {
  if ((result.video?.faceSeconds ?? 0) < minSeconds) return 'short_time';
  if (result.isLive) return 'ok';
  if (result.reason === 'spoof' || result.reason === 'identity_changed') return 'hack';
  return undefined;
}

const round4 = (v: number) => Math.round(v * 10_000) / 10_000;
const rect = (b: { x: number; y: number; width: number; height: number }) => ({ left: Math.round(b.x), top: Math.round(b.y), width: Math.round(b.width), height: Math.round(b.height) });

/** SenseID (seeds/001): stateless verification, silent liveness and quality check. Translation only: the work is core's. */
export function senseidRoutes(app: FastifyInstance, services: AppServices): void {
  const { service: faces, liveness, quality } = services;
  const level = 'MEDIUM' as const;
  const minSeconds = () => liveness.settings.minVideoSeconds;

  /** A photo field: base64 decoded, its header within the decoder's limits (2003, 2004, 2005). */
  async function photo(value: string, field: string, tenantId: string): Promise<ImageSource> {
    const source = { kind: 'bytes' as const, data: decodeBase64(value, field) };
    await faces.inspectImage(source, tenantId, field);
    return source;
  }

  /** check_quality: the largest face of the photo must not be occluded (sunglasses, covered nose or mouth). */
  async function notOccluded(source: ImageSource, field: string, tenantId: string): Promise<void> {
    const report = await quality.assess(source, tenantId, undefined, undefined, field);
    const face = report.faces[0];
    if (face && face.reasons.some((r) => r === 'face_occluded' || r === 'sunglasses')) {
      throw new SenseIdFailure(CODES.faceOcclusion, 'quality_rejected', `the face of ${field} is occluded: ${face.reasons.join(', ')}`, field);
    }
  }

  /** The manual's liveness answer fields, the selected frame only when passed. */
  function livenessAnswer(result: LivenessResult, status: LivenessStatus | undefined, b: { return_image?: boolean; return_face_image?: boolean; return_status?: boolean }) {
    const passed = status === 'ok';
    const best = result.video?.bestFrame;
    return {
      passed,
      liveness_score: result.score,
      ...(b.return_status && status ? { liveness_status: status } : {}),
      ...(passed && b.return_image && best?.image ? { image_timestamp: best.timestamp, base64_image: best.image } : {}),
      ...(passed && b.return_face_image && best?.face ? { base64_face_image: best.face } : {}),
    };
  }

  app.post<{ Body: { encrypted_video: string; encrypted_image: string; auto_rotate?: boolean; check_quality?: boolean; return_image?: boolean; return_face_image?: boolean; return_status?: boolean } }>(`${senseid.prefix}${PATHS.silentImageVerification}`, {
    config: { usesEngine: true, multipartOptions }, onRequest: lengthRequired,
    schema: {
      tags, summary: 'Photo vs video: silent liveness of the video and comparison of its best frame with the photo',
      description: 'passed=false with liveness_status short_time (face seen under 2 s) or hack (spoof, or another person); verification_score only when passed. Codes 1200, 2003, 2004, 2005, 2008, 4000, 4004, 4007.',
      body: bothMedia(SilentImageBody),
      response: { 200: Success({ ...LivenessFields, verification_score: Type.Optional(VerificationScore) }), ...errors411 },
    },
  }, async (request) => {
    const b = request.body;
    const tenantId = request.caller.tenantId;
    const image = await photo(b.encrypted_image, 'encrypted_image', tenantId);
    const video = decodeBase64(b.encrypted_video, 'encrypted_video');
    if (b.check_quality) await notOccluded(image, 'encrypted_image', tenantId);
    let result: LivenessResult;
    try {
      result = await liveness.checkVideo({ bytes: video }, tenantId, {
        securityLevel: level, returnBestFrame: !!(b.return_image || b.return_face_image), reference: image, referenceAutoRotate: b.auto_rotate ?? false,
      });
    } catch (err) {
      // This operation's table has no 2008 for a short video: its liveness_status says short_time.
      if (err instanceof FaceproofError && err.code === 'short_time') {
        return { code: 1000, passed: false, liveness_score: 0, ...(b.return_status ? { liveness_status: 'short_time' } : {}), request_id: request.id };
      }
      throw err;
    }
    const status = livenessStatusOf(result, minSeconds());
    if (!status) throw new SenseIdFailure(CODES.livenessFailed, 'invalid_video', `liveness could not be judged: ${result.reason}`, 'encrypted_video');
    if (status === 'ok' && !result.reference) throw new FaceproofError('no_face_detected', 'no face to compare', 'encrypted_image');
    return {
      code: 1000, ...livenessAnswer(result, status, b),
      ...(status === 'ok' ? { verification_score: round4(senseIdScore(result.reference!.tailFar)) } : {}),
      request_id: request.id,
    };
  });

  app.post<{ Body: { encrypted_video: string; return_image?: boolean; return_face_image?: boolean; return_status?: boolean } }>(`${senseid.prefix}${PATHS.silentDetection}`, {
    config: { usesEngine: true, multipartOptions }, onRequest: lengthRequired,
    schema: {
      tags, summary: 'Silent liveness of a video',
      description: 'A video under 2 s or one that cannot be decoded: 2008. passed=false with liveness_status short_time (face seen under 2 s) or hack. Codes 1200, 2008, 4007.',
      body: bothMedia(SilentDetectionBody),
      response: { 200: Success(LivenessFields), ...errors411 },
    },
  }, async (request) => {
    const b = request.body;
    const result = await liveness.checkVideo({ bytes: decodeBase64(b.encrypted_video, 'encrypted_video') }, request.caller.tenantId, {
      securityLevel: level, returnBestFrame: !!(b.return_image || b.return_face_image),
    });
    const status = livenessStatusOf(result, minSeconds());
    if (!status) throw new SenseIdFailure(CODES.livenessFailed, 'invalid_video', `liveness could not be judged: ${result.reason}`, 'encrypted_video');
    return { code: 1000, ...livenessAnswer(result, status, b), request_id: request.id };
  });

  app.post<{ Body: { first_encrypted_image: string; second_encrypted_image: string; auto_rotate?: boolean; check_quality?: boolean } }>(`${senseid.prefix}${PATHS.imageVerification}`, {
    config: { usesEngine: true, multipartOptions }, onRequest: lengthRequired,
    schema: {
      tags, summary: 'Two photos, one face each: are they the same person',
      description: 'The largest face of each photo. Codes 1200, 2003, 2004, 2005, 4000, 4004.',
      body: bothMedia(TwoPhotosBody),
      response: { 200: Success({ verification_score: VerificationScore }), ...errors411 },
    },
  }, async (request) => {
    const b = request.body;
    const tenantId = request.caller.tenantId;
    const first = await photo(b.first_encrypted_image, 'first_encrypted_image', tenantId);
    const second = await photo(b.second_encrypted_image, 'second_encrypted_image', tenantId);
    if (b.check_quality) {
      await notOccluded(first, 'first_encrypted_image', tenantId);
      await notOccluded(second, 'second_encrypted_image', tenantId);
    }
    const result = await faces.compare({
      tenantId, source: { kind: 'image', source: first }, target: { kind: 'image', source: second },
      sourceType: 'SELFIE', targetType: 'SELFIE', allFaces: false, autoRotate: b.auto_rotate ?? false,
    });
    return { code: 1000, verification_score: round4(senseIdScore(result.tailFar)), request_id: request.id };
  });

  app.post<{ Body: { first_encrypted_image: string; second_encrypted_image: string; auto_rotate?: boolean } }>(`${senseid.prefix}${PATHS.multiFaceVerification}`, {
    config: { usesEngine: true, multipartOptions }, onRequest: lengthRequired,
    schema: {
      tags, summary: 'Two photos, any number of faces: the score of every pair of faces and each face\'s rectangle',
      description: 'scores[i][j]: face i of the first photo (largest first) against face j of the second; face_rects.first_image[i] and face_rects.second_image[j] locate them. Codes 1200, 2003, 2004, 2005, 2006, 4000.',
      body: bothMedia(MultiFaceBody),
      response: {
        200: Success({
          scores: Type.Array(Type.Array(VerificationScore), { description: 'One row per face of the first photo, one column per face of the second' }),
          face_rects: Type.Object({ first_image: Type.Array(Rect), second_image: Type.Array(Rect) }, { description: 'Face rectangles in pixels, in the order of the scores' }),
        }),
        ...errors411,
      },
    },
  }, async (request) => {
    const b = request.body;
    const tenantId = request.caller.tenantId;
    const first = await photo(b.first_encrypted_image, 'first_encrypted_image', tenantId);
    const second = await photo(b.second_encrypted_image, 'second_encrypted_image', tenantId);
    let result;
    try {
      result = await faces.compare({
        tenantId, source: { kind: 'image', source: first }, target: { kind: 'image', source: second },
        sourceType: 'SELFIE', targetType: 'SELFIE', allFaces: true, autoRotate: b.auto_rotate ?? false,
      });
    } catch (err) {
      // The header read fine (above): a picture that then fails to decode is corrupted (this table's 2006).
      if (err instanceof FaceproofError && err.code === 'invalid_image_format') throw new SenseIdFailure(CODES.corruptedImage, err.code, err.message, err.field);
      throw err;
    }
    const rows = result.sourceFaces!.length, columns = result.targetFaces!.length;
    const scores = Array.from({ length: rows }, () => new Array<number>(columns).fill(0));
    for (const p of result.pairs!) scores[p.sourceIndex][p.targetIndex] = round4(senseIdScore(p.tailFar));
    return {
      code: 1000, scores,
      face_rects: { first_image: result.sourceFaces!.map((f) => rect(f!.box)), second_image: result.targetFaces!.map((f) => rect(f!.box)) },
      request_id: request.id,
    };
  });

  app.post<{ Body: { liveness_file: Buffer | string; encrypted_image: string; auto_rotate?: boolean; check_quality?: boolean } }>(`${senseid.prefix}${PATHS.livenessImageVerification}`, {
    config: { usesEngine: true, multipartOptions }, onRequest: lengthRequired,
    schema: {
      tags, summary: 'Photo vs liveness data (partial: the liveness data is the recording itself)',
      description: 'liveness_file: a video (MP4, WebM or MOV) whose silent liveness is checked (4007 when it fails) and whose best frame is compared with the photo; anything else, the SenseTime SDK\'s encrypted protobuf included, is 2007. Codes 1200, 2003, 2004, 2005, 2007, 4000, 4004, 4007.',
      body: { content: { 'multipart/form-data': { schema: LivenessImageMultipart }, 'application/json': { schema: LivenessImageJson } } },
      response: { 200: Success({ verification_score: VerificationScore }), ...errors411 },
    },
  }, async (request) => {
    const b = request.body;
    const tenantId = request.caller.tenantId;
    const image = await photo(b.encrypted_image, 'encrypted_image', tenantId);
    const data = Buffer.isBuffer(b.liveness_file) ? b.liveness_file : decodeBase64(b.liveness_file, 'liveness_file');
    if (b.check_quality) await notOccluded(image, 'encrypted_image', tenantId);
    let result: LivenessResult;
    try {
      result = await liveness.checkVideo({ bytes: data }, tenantId, { securityLevel: level, returnBestFrame: false, reference: image, referenceAutoRotate: b.auto_rotate ?? false });
    } catch (err) {
      if (err instanceof FaceproofError && (err.code === 'invalid_video' || err.code === 'short_time')) {
        throw new SenseIdFailure(CODES.corruptedLivenessData, err.code, err.message, 'liveness_file');
      }
      throw err;
    }
    const status = livenessStatusOf(result, minSeconds());
    if (status !== 'ok') throw new SenseIdFailure(CODES.livenessFailed, 'invalid_video', `the liveness data does not pass silent liveness: ${status ?? result.reason}`, 'liveness_file');
    if (!result.reference) throw new FaceproofError('no_face_detected', 'no face to compare', 'encrypted_image');
    return { code: 1000, verification_score: round4(senseIdScore(result.reference.tailFar)), request_id: request.id };
  });

  app.post<{ Body: { encrypted_image: string } }>(`${senseid.prefix}${PATHS.qualityCheck}`, {
    config: { usesEngine: true, multipartOptions }, onRequest: lengthRequired,
    schema: {
      tags, summary: 'Quality check of every face of a photo (occlusion)',
      description: 'One entry per face, largest first: its rectangle and whether its eyes, nose or mouth are covered. Codes 1200, 2003, 2004, 2005, 4000.',
      body: bothMedia(QualityBody),
      response: {
        200: Success({
          faces: Type.Array(Type.Object({
            rect: Rect,
            occluded: Type.Boolean({ description: 'Eyes (sunglasses, a band), nose or mouth covered' }),
          }), { description: 'Information about the quality of each face in the photo' }),
        }),
        ...errors411,
      },
    },
  }, async (request) => {
    const tenantId = request.caller.tenantId;
    const image = await photo(request.body.encrypted_image, 'encrypted_image', tenantId);
    const report = await quality.assess(image, tenantId, undefined, undefined, 'encrypted_image');
    if (report.faces.length === 0) throw new FaceproofError('no_face_detected', 'no face was found in the photo', 'encrypted_image');
    return {
      code: 1000,
      faces: report.faces.map((f) => ({ rect: rect(f.face.box), occluded: f.reasons.some((r) => r === 'face_occluded' || r === 'sunglasses') })),
      request_id: request.id,
    };
  });
}
