import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { createTestApp } from './helpers/app.ts';
import { b64, blankImage, samplePhoto, selfieCrop } from './helpers/images.ts';
import { drift, encodeClip } from '../bench/lib/video-clip.ts';
import type { Services } from '../src/bootstrap.ts';
import { ChallengeService } from '../src/core/challenges.ts';

let app: FastifyInstance;
let services: Services;
let selfie: Buffer;
let other: Buffer;
/** One person turned to the image's left (their right) in a real photo, and the same photo mirrored. */
let turnedRight: Buffer;
let turnedLeft: Buffer;

beforeAll(async () => {
  ({ app, services } = await createTestApp({ FACEPROOF_CHALLENGE_TTL_SECONDS: '2' }));
  selfie = await selfieCrop(1, 1250, 0);
  other = await selfieCrop(3, 370, 200);
  turnedRight = await sharp(samplePhoto(3)).extract({ left: 947, top: 100, width: 480, height: 400 }).jpeg({ quality: 92 }).toBuffer();
  turnedLeft = await sharp(turnedRight).flop().jpeg({ quality: 92 }).toBuffer();
});
afterAll(async () => { await app.close(); });

const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload });

describe('POST /v1/quality', () => {
  it('measures a real selfie and names its verdict', async () => {
    const res = await post('/v1/quality', { image: { base64: b64(selfie) } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.profile).toBe('selfie_mobile');
    expect(body.faces).toHaveLength(1);
    const face = body.faces[0];
    expect(face.quality).toBeGreaterThan(0);
    expect(face.measures.inter_eye_distance).toBeGreaterThan(60);
    expect(face.reasons[0] ?? 'good').toBe(face.verdict);
    expect(body.verdict).toBe(face.verdict);
  });

  it('measures a head tilted about 45°, says face_tilted past the roll limit, and good for an upright face', async () => {
    const tilted = (await post('/v1/quality', { image: { base64: b64(selfie) }, max_roll: 30 })).json().faces[0];
    expect(Math.abs(tilted.measures.roll)).toBeGreaterThan(38);
    expect(Math.abs(tilted.measures.roll)).toBeLessThan(55);
    expect(tilted.verdict).toBe('face_tilted');
    expect((await post('/v1/quality', { image: { base64: b64(selfie) }, max_roll: 60 })).json().faces[0].reasons).not.toContain('face_tilted');
    const upright = (await post('/v1/quality', { image: { base64: b64(other) } })).json();
    expect(upright.verdict).toBe('good');
    expect(upright.faces[0].eyes).toBe('open_eye,open_eye');
    expect(upright.faces[0].quality).toBeGreaterThan(50);
  });

  it('flags a darkened, a blurred, a shrunk and a JPEG-crushed copy of the same selfie', async () => {
    const cases: Array<[Buffer, string]> = [
      [await sharp(selfie).linear(0.15, 0).jpeg().toBuffer(), 'image_too_dark'],
      [await sharp(selfie).blur(6).jpeg().toBuffer(), 'image_too_blur'],
      [await sharp(selfie).resize(200).jpeg().toBuffer(), 'face_too_small'],
      [await sharp(selfie).jpeg({ quality: 4 }).toBuffer(), 'image_compressed'],
    ];
    for (const [image, verdict] of cases) {
      const body = (await post('/v1/quality', { image: { base64: b64(image) } })).json();
      expect([body.verdict, ...(body.faces[0]?.reasons ?? [])]).toContain(verdict);
    }
  });

  it('says image_has_no_faces and image_has_multiple_faces; rejects an unknown profile', async () => {
    expect((await post('/v1/quality', { image: { base64: b64(await blankImage(400, 300)) } })).json().verdict).toBe('image_has_no_faces');
    expect((await post('/v1/quality', { image: { base64: b64(samplePhoto(1)) } })).json().verdict).toBe('image_has_multiple_faces');
    const bad = await post('/v1/quality', { image: { base64: b64(selfie) }, profile: 'passport' });
    expect(bad.statusCode).toBe(400);
  });

  it('lets a request override the profile (iDenFace-style angle limit)', async () => {
    const strict = (await post('/v1/quality', { image: { base64: b64(turnedRight) }, face_angle_difference: 10 })).json();
    expect(strict.faces[0].reasons).toContain('right');
    const lenient = (await post('/v1/quality', { image: { base64: b64(turnedRight) }, face_angle_difference: 60 })).json();
    expect(lenient.faces[0].reasons).not.toContain('right');
  });
});

describe('quality_profile on compare, detect and enrolment', () => {
  it('refuses a dark image with 422 quality_rejected naming the verdict, and accepts it without the option', async () => {
    const dark = await sharp(selfie).linear(0.18, 0).jpeg().toBuffer();
    const refused = await post('/v1/compare', { source: { base64: b64(dark) }, target: { base64: b64(other) }, quality_profile: 'selfie_mobile' });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error).toMatchObject({ code: 'quality_rejected', field: 'source' });
    expect(refused.json().error.message).toContain('image_too_dark');
    expect((await post('/v1/detect', { image: { base64: b64(dark) }, quality_profile: 'selfie_mobile' })).json().error.code).toBe('quality_rejected');
    const enrol = await post('/v1/users', { user_id: 'dark-enrolment', faces: [{ image: { base64: b64(dark) }, quality_profile: 'selfie_mobile' }] });
    expect(enrol.statusCode).toBe(422);
    expect(enrol.json().error.code).toBe('quality_rejected');
    expect((await app.inject({ method: 'GET', url: '/v1/users/dark-enrolment' })).statusCode).toBe(404);
    expect((await post('/v1/compare', { source: { base64: b64(dark) }, target: { base64: b64(other) } })).statusCode).toBe(200);
    expect((await post('/v1/compare', { source: { base64: b64(other) }, target: { base64: b64(other) }, quality_profile: 'selfie_mobile' })).json().decision).toBe('match');
  });
});

describe('POST /v1/age', () => {
  it('estimates an adult’s age and compares it with a threshold', async () => {
    const body = (await post('/v1/age', { image: { base64: b64(selfie) }, threshold: 18 })).json();
    expect(body.faces).toHaveLength(1);
    expect(body.faces[0].age).toBeGreaterThan(15);
    expect(body.faces[0].age).toBeLessThan(80);
    expect(body.faces[0].above_threshold).toBe(body.faces[0].age >= 18);
  });

  it('returns every face of a group photo, largest first', async () => {
    const body = (await post('/v1/age', { image: { base64: b64(samplePhoto(5)) } })).json();
    expect(body.faces.length).toBeGreaterThanOrEqual(4);
    const areas = body.faces.map((f: { box: { width: number; height: number } }) => f.box.width * f.box.height);
    expect([...areas].sort((a, b) => b - a)).toEqual(areas);
  });

  it('checks the age of an ID photo against a selfie', async () => {
    const same = (await post('/v1/age/consistency', { document: { base64: b64(selfie) }, selfie: { base64: b64(selfie) } })).json();
    expect(same.verdict).toBe('age_match');
    expect(same.difference).toBe(0);
    const strict = (await post('/v1/age/consistency', { document: { base64: b64(selfie) }, selfie: { base64: b64(other) }, max_age_difference: 0 })).json();
    expect(strict.verdict).toBe(strict.difference === 0 ? 'age_match' : 'age_not_match');
  });
});

describe('POST /v1/liveness', () => {
  it('scores each image and fuses them, with the level’s threshold', async () => {
    const res = await post('/v1/liveness', { images: [{ base64: b64(selfie) }, { base64: b64(await sharp(selfie).flop().jpeg().toBuffer()) }], security_level: 'HARDENED' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.security_level).toBe('HIGH');
    expect(body.images).toHaveLength(2);
    for (const i of body.images) { expect(i.score).toBeGreaterThanOrEqual(0); expect(i.score).toBeLessThanOrEqual(1); }
    expect(body.is_live).toBe(body.score >= body.threshold && !body.reason);
  });

  it('gives the reason when there is no face or several', async () => {
    expect((await post('/v1/liveness', { images: [{ base64: b64(await blankImage(320, 240)) }] })).json()).toMatchObject({ is_live: false, reason: 'no_face' });
    expect((await post('/v1/liveness', { images: [{ base64: b64(samplePhoto(1)) }] })).json()).toMatchObject({ is_live: false, reason: 'multiple_faces' });
  });

  it('needs exactly one of images, video or file_id', async () => {
    const res = await post('/v1/liveness', { images: [{ base64: b64(selfie) }], video: { base64: b64(selfie) } });
    expect(res.statusCode).toBe(400);
    expect((await post('/v1/liveness', {})).statusCode).toBe(400);
  });
});

describe('video liveness (a clip encoded with ffmpeg from real frames)', () => {
  it('samples the clip, keeps one identity and returns the best frame', async () => {
    const clip = await encodeClip(await drift(selfie, 15), 5);
    const res = await post('/v1/liveness', { video: { base64: b64(clip) }, return_best_frame: true, reference: { base64: b64(selfie) } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.video.duration_seconds).toBeGreaterThanOrEqual(2.9);
    expect(body.video.frames_sampled).toBeGreaterThanOrEqual(14);
    expect(body.video.frames_with_face).toBe(body.video.frames_sampled);
    expect(body.video.same_identity).toBe(true);
    expect(body.video.best_frame.image.length).toBeGreaterThan(100);
    expect(body.video.best_frame.face.length).toBeGreaterThan(100);
    expect(body.reference.decision).toBe('match');
    expect(body.reason).not.toBe('identity_changed');
  });

  it('fails a clip whose person changes midway', async () => {
    const clip = await encodeClip([...(await drift(selfie, 8)), ...(await drift(other, 8))], 5);
    const body = (await post('/v1/liveness', { video: { base64: b64(clip) } })).json();
    expect(body.video.same_identity).toBe(false);
    expect(body.is_live).toBe(false);
  });

  it('rejects a clip under 2 s with short_time, and bytes that are no video with invalid_video', async () => {
    const short = await post('/v1/liveness', { video: { base64: b64(await encodeClip(await drift(selfie, 5), 5)) } });
    expect(short.statusCode).toBe(422);
    expect(short.json().error.code).toBe('short_time');
    const junk = await post('/v1/liveness', { video: { base64: b64(Buffer.from('this is not a video at all, only text')) } });
    expect(junk.statusCode).toBe(422);
    expect(junk.json().error.code).toBe('invalid_video');
  });
});

describe('active liveness (challenge–response) with real frames', () => {
  it('issues 2–4 gestures with a nonce and an expiry', async () => {
    const res = await post('/v1/liveness/challenges', {});
    expect(res.statusCode).toBe(201);
    const c = res.json();
    expect(c.gestures.length).toBeGreaterThanOrEqual(2);
    expect(c.gestures.length).toBeLessThanOrEqual(4);
    expect(c.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(Date.parse(c.expires_at)).toBeGreaterThan(Date.now());
  });

  // Scripted draws give the challenge [turn_left, turn_right]; the frames are a real face turned to
  // the image's left (the subject's right) and its mirror image.
  const scripted = () => { const draws = [0, 0, 1]; return new ChallengeService(services.liveness, { ttlSeconds: 60, turnDegrees: 15, closedEyes: 0.3 }, undefined, () => draws.shift() ?? 0); };

  it('passes the gestures performed in order and fails them in the wrong order', async () => {
    const challenges = scripted();
    const c = await challenges.create('default');
    expect(c.gestures).toEqual(['turn_left', 'turn_right']);
    const right = await encodeClip([...(await drift(turnedLeft, 6)), ...(await drift(turnedRight, 6))], 5);
    const ok = await challenges.verify('default', c.id, c.nonce, { bytes: right }, 'LOW');
    expect(ok.observed).toEqual(['turn_left', 'turn_right']);
    expect(ok.sameIdentity).toBe(true);
    expect(['SUCCESS', 'SPOOF']).toContain(ok.status);
    expect(ok.status === 'SUCCESS').toBe(ok.livenessScore >= services.liveness.threshold('LOW'));

    const d = await scripted().create('default');
    const wrongOrder = await encodeClip([...(await drift(turnedRight, 6)), ...(await drift(turnedLeft, 6))], 5);
    const failed = await scripted().verify('default', d.id, d.nonce, { bytes: wrongOrder }, 'LOW').catch((e) => e);
    expect(failed).toBeInstanceOf(Error); // another service instance does not know the challenge
    const again = scripted();
    const e = await again.create('default');
    const outcome = await again.verify('default', e.id, e.nonce, { bytes: wrongOrder }, 'LOW');
    expect(outcome).toMatchObject({ status: 'FAILED', reason: 'gestures_not_performed', observed: ['turn_right', 'turn_left'] });
  });

  it('fails when another person takes over midway', async () => {
    const challenges = scripted();
    const c = await challenges.create('default');
    const swapped = await encodeClip([...(await drift(turnedLeft, 6)), ...(await drift(other, 6))], 5);
    expect(await challenges.verify('default', c.id, c.nonce, { bytes: swapped }, 'LOW')).toMatchObject({ status: 'FAILED', reason: 'identity_changed' });
  });

  it('over HTTP: a wrong nonce fails, a reused challenge fails, an expired one times out, a short clip is refused', async () => {
    const clip = await encodeClip(await drift(selfie, 12), 5);
    const c1 = (await post('/v1/liveness/challenges', {})).json();
    const wrong = (await post(`/v1/liveness/challenges/${c1.challenge_id}/verify`, { nonce: '0'.repeat(32), video: { base64: b64(clip) } })).json();
    expect(wrong).toMatchObject({ status: 'FAILED', reason: 'nonce_mismatch' });
    const reused = (await post(`/v1/liveness/challenges/${c1.challenge_id}/verify`, { nonce: c1.nonce, video: { base64: b64(clip) } })).json();
    expect(reused).toMatchObject({ status: 'FAILED', reason: 'challenge_already_used' });

    const c2 = (await post('/v1/liveness/challenges', {})).json();
    await new Promise((r) => setTimeout(r, 2100));
    const late = (await post(`/v1/liveness/challenges/${c2.challenge_id}/verify`, { nonce: c2.nonce, video: { base64: b64(clip) } })).json();
    expect(late).toMatchObject({ status: 'TIMEOUT', reason: 'challenge_expired' });

    const c3 = (await post('/v1/liveness/challenges', {})).json();
    const short = await post(`/v1/liveness/challenges/${c3.challenge_id}/verify`, { nonce: c3.nonce, video: { base64: b64(await encodeClip(await drift(selfie, 4), 5)) } });
    expect((await post('/v1/liveness/challenges/chl_nope/verify', { nonce: 'x', video: { base64: b64(clip) } })).statusCode).toBe(404);
    expect(short.statusCode).toBe(200);
    expect(short.json().status).toBe('FAILED');
  });
});
