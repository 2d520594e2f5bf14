import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import type { QualityService, FaceQuality } from '../../core/quality.ts';
import type { AgeService } from '../../core/age.ts';
import type { LivenessService, LivenessResult } from '../../core/liveness.ts';
import type { ChallengeService } from '../../core/challenges.ts';
import { parseSecurityLevel, type SecurityLevel } from '../../core/liveness-model.ts';
import { decodeBase64 } from '../../core/image-input.ts';
import { FaceproofError } from '../../core/errors.ts';
import { envelope } from '../envelope.ts';
import { errorResponses } from './schemas.ts';
import { imageSourceOf } from './inputs.ts';
import {
  AgeBody, AgeConsistencyBody, AgeConsistencyResponse, AgeResponse, ChallengeAnswerBody, ChallengeOutcomeResponse, ChallengeParams, ChallengeResponse,
  LivenessBody, LivenessResponse, QualityBody, QualityResponse,
} from './portrait-schemas.ts';

const r2 = (v: number) => Math.round(v * 100) / 100;
const box = (b: { x: number; y: number; width: number; height: number }) => ({ x: r2(b.x), y: r2(b.y), width: r2(b.width), height: r2(b.height) });

function describeQuality(f: FaceQuality) {
  const m = f.measures;
  return {
    verdict: f.verdict, reasons: f.reasons, quality: f.quality, eyes: f.eyes, box: box(f.face.box),
    measures: {
      sharpness: Number(m.sharpness.toFixed(4)), image_brightness: r2(m.imageBrightness), image_dark_fraction: r2(m.imageDarkFraction), image_bright_fraction: r2(m.imageBrightFraction),
      face_brightness: r2(m.faceBrightness), face_contrast: r2(m.faceContrast), blockiness: r2(m.blockiness),
      inter_eye_distance: r2(m.interEyeDistance), landmark_consistency: r2(m.landmarkConsistency), face_size_ratio: Number(m.faceShare.toFixed(4)), yaw: m.yaw, pitch: m.pitch, roll: m.roll,
      left_eye_open: r2(m.eyesOpen.left), right_eye_open: r2(m.eyesOpen.right),
      occlusion: { left_eye: r2(m.occlusion.leftEye), right_eye: r2(m.occlusion.rightEye), nose: r2(m.occlusion.nose), mouth: r2(m.occlusion.mouth) },
      eye_darkness: { left: r2(m.eyeDarkness.left), right: r2(m.eyeDarkness.right) }, eye_band_dark_fraction: r2(m.eyeBandDarkFraction),
    },
  };
}

function describeLiveness(r: LivenessResult) {
  return {
    is_live: r.isLive, score: r.score, security_level: r.securityLevel, threshold: r.threshold, ...(r.reason ? { reason: r.reason } : {}),
    images: r.images.map((i) => ({ is_live: i.isLive, score: i.score, ...(i.reason ? { reason: i.reason } : {}), ...(i.timestamp !== undefined ? { timestamp: i.timestamp } : {}) })),
    ...(r.video ? {
      video: {
        duration_seconds: r.video.durationSeconds, frames_sampled: r.video.framesSampled, frames_with_face: r.video.framesWithFace, frames_per_second: r.video.framesPerSecond,
        motion: r.video.motion, blinks: r.video.blinks, same_identity: r.video.sameIdentity, ...(r.video.bestFrame ? { best_frame: r.video.bestFrame } : {}),
      },
    } : {}),
    ...(r.reference ? { reference: { decision: r.reference.decision, score: r.reference.score, far: r.reference.far, similarity: r.reference.similarity } } : {}),
  };
}

/** One recording: exactly one of an inline video or a stored file. */
function recordingOf(body: { video?: { base64: string }; file_id?: string }): { bytes: Uint8Array } | { fileId: string } {
  if (body.video && body.file_id) throw new FaceproofError('invalid_parameter', 'give video or file_id, not both', 'file_id');
  if (body.video) return { bytes: decodeBase64(body.video.base64, 'video.base64') };
  if (body.file_id) return { fileId: body.file_id };
  throw new FaceproofError('invalid_parameter', 'video or file_id is required', 'video');
}

export function portraitRoutes(app: FastifyInstance, quality: QualityService, liveness: LivenessService, challenges: ChallengeService, age: AgeService, defaultLevel: SecurityLevel): void {
  const level = (v: string | undefined) => parseSecurityLevel(v, defaultLevel);

  app.post<{ Body: Static<typeof QualityBody> }>('/v1/quality', {
    config: { usesEngine: true, signed: true },
    schema: {
      tags: ['quality'], summary: 'Judge a portrait’s quality',
      description: 'Numeric measures per face, an overall quality 0–100 and a verdict in the seeds’ vocabulary (docs/quality.md); thresholds from a named profile, overridable per request.',
      body: QualityBody, response: { 200: QualityResponse, ...errorResponses(400, 404, 413, 415, 422, 429) },
    },
  }, async (request) => {
    const b = request.body;
    const angle = b.face_angle_difference;
    const report = await quality.assess(imageSourceOf(b.image, 'image'), request.caller.tenantId, b.profile, {
      minInterEyeDistance: b.min_inter_eye_distance, maxYaw: b.max_yaw ?? angle, maxPitch: b.max_pitch ?? angle, maxRoll: b.max_roll, occlusion: b.occlusion,
    });
    return { ...envelope(request), verdict: report.verdict, profile: report.profile, image: report.image, faces: report.faces.map(describeQuality) };
  });

  app.post<{ Body: Static<typeof LivenessBody> }>('/v1/liveness', {
    config: { usesEngine: true, signed: true },
    schema: {
      tags: ['liveness'], summary: 'Tell a live person from a photo or a screen',
      description: 'Give `images` (stills of one session), a `video` (mp4, webm, mov; at least 2 s, else 422 short_time) or a stored `file_id` (video or frame list). Each image or sampled frame gets a score 0..1; the fused score is compared with the security level’s threshold (docs/liveness.md).',
      body: LivenessBody, response: { 200: LivenessResponse, ...errorResponses(400, 404, 413, 415, 422, 429) },
    },
  }, async (request) => {
    const b = request.body;
    const given = [b.images, b.video, b.file_id].filter((x) => x !== undefined).length;
    if (given !== 1) throw new FaceproofError('invalid_parameter', 'give exactly one of images, video or file_id', 'images');
    const securityLevel = level(b.security_level);
    const result = b.images
      ? await liveness.checkImages(b.images.map((img, i) => imageSourceOf(img, `images[${i}]`)), request.caller.tenantId, securityLevel)
      : await liveness.checkVideo(recordingOf(b), request.caller.tenantId, {
        securityLevel, returnBestFrame: b.return_best_frame ?? false, reference: b.reference ? imageSourceOf(b.reference, 'reference') : undefined,
      });
    return { ...envelope(request), ...describeLiveness(result) };
  });

  app.post('/v1/liveness/challenges', {
    schema: { tags: ['liveness'], summary: 'Issue a challenge: 2–4 gestures to perform, a nonce and an expiry', response: { 201: ChallengeResponse, ...errorResponses(429) } },
  }, async (request, reply) => {
    const c = await challenges.create(request.caller.tenantId);
    return reply.code(201).send({ ...envelope(request), challenge_id: c.id, nonce: c.nonce, gestures: c.gestures, expires_at: c.expiresAt.toISOString() });
  });

  app.post<{ Params: Static<typeof ChallengeParams>; Body: Static<typeof ChallengeAnswerBody> }>('/v1/liveness/challenges/:challenge_id/verify', {
    config: { usesEngine: true, signed: true },
    schema: {
      tags: ['liveness'], summary: 'Answer a challenge with the video or frames of the user performing it',
      description: 'SUCCESS when the gestures appear in order, one identity throughout and the frames are live; FAILED (wrong order, another person, reused challenge, wrong nonce), SPOOF or TIMEOUT (expired) otherwise. A challenge can be answered once.',
      params: ChallengeParams, body: ChallengeAnswerBody, response: { 200: ChallengeOutcomeResponse, ...errorResponses(400, 404, 413, 422, 429) },
    },
  }, async (request) => {
    const b = request.body;
    const { challenge_id } = request.params;
    const outcome = await challenges.verify(request.caller.tenantId, challenge_id, b.nonce, recordingOf(b), level(b.security_level));
    return {
      ...envelope(request), challenge_id, status: outcome.status, ...(outcome.reason ? { reason: outcome.reason } : {}),
      expected: await challenges.gesturesOf(request.caller.tenantId, challenge_id), observed: outcome.observed, liveness_score: outcome.livenessScore, same_identity: outcome.sameIdentity,
    };
  });

  app.post<{ Body: Static<typeof AgeBody> }>('/v1/age', {
    config: { usesEngine: true, signed: true },
    schema: { tags: ['age'], summary: 'Estimate the age of every face, largest first', body: AgeBody, response: { 200: AgeResponse, ...errorResponses(400, 404, 413, 415, 422, 429) } },
  }, async (request) => {
    const faces = await age.estimate(imageSourceOf(request.body.image, 'image'), request.caller.tenantId, request.body.threshold);
    return { ...envelope(request), faces: faces.map((f) => ({ age: f.age, ...(f.aboveThreshold !== undefined ? { above_threshold: f.aboveThreshold } : {}), box: box(f.face.box) })) };
  });

  app.post<{ Body: Static<typeof AgeConsistencyBody> }>('/v1/age/consistency', {
    config: { usesEngine: true, signed: true },
    schema: {
      tags: ['age'], summary: 'Check that an ID document’s face and a selfie have consistent ages (age_not_match otherwise)',
      body: AgeConsistencyBody, response: { 200: AgeConsistencyResponse, ...errorResponses(400, 404, 413, 415, 422, 429) },
    },
  }, async (request) => {
    const b = request.body;
    const r = await age.consistency(imageSourceOf(b.document, 'document'), imageSourceOf(b.selfie, 'selfie'), request.caller.tenantId, b.max_age_difference);
    return { ...envelope(request), verdict: r.verdict, document_age: r.documentAge, selfie_age: r.selfieAge, difference: r.difference, max_age_difference: r.maxDifference };
  });
}
