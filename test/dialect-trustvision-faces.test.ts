import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drift, encodeClip } from '../bench/lib/video-clip.ts';
import { b64, blankImage, samplePhoto, selfieCrop, sharedDataDir } from './helpers/images.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { rfc3339, TrustVisionClient, type TrustVisionAnswer, expectTrustVisionError } from './helpers/trustvision-client.ts';

/**
 * TrustVision's face operations (seeds/002: compare_faces_sync, detect_faces_sync,
 * verify_face_liveness_sync, verify_face_video_liveness_sync, verify_portrait_sanity_sync, face_otp,
 * verify_identity_sync) against a real server process, through a client written from the manual
 * (test/helpers/trustvision-client.ts): each request example of the manual sent as printed with real
 * photos and videos, each answer checked against the manual's format; the HTTP error codes and the
 * `failure` codes of those operations' tables provoked; the flow upload → compare and liveness on
 * images, gestures and a video, decisions compared with /v1.
 */
let server: RunningServer;
let client: TrustVisionClient;
let apiKey: string;
let slow: TrustVisionClient;
let narrow: TrustVisionClient;
const KEY = 'trustvision-faces-bootstrap-key';
const MAX_IMAGE_BYTES = 3 * 1024 * 1024;

let exampleChecks = 0;
const provoked = new Set<string>();
const failures = new Set<string>();

/** Photos: A and A2 one person in two photos; B another; F a frontal live face; P a face turned to the subject's left, Pflop to their right. */
const img: Record<string, Buffer> = {};
const ids: Record<string, string> = {};
let liveClip: Buffer;
let shortFrames: Buffer[];
let liveFrames: Buffer[];

async function crop(n: 1 | 2 | 3 | 4 | 5 | 6, left: number, top: number, width: number, height: number): Promise<Buffer> {
  return sharp(samplePhoto(n)).extract({ left, top, width, height }).jpeg({ quality: 92 }).toBuffer();
}

/** Upload image (the manual's POST /v1/images, JSON base64 + label), or the native one where this dialect's is not served. */
async function upload(name: string): Promise<string> {
  const tv = await client.send('POST', '/v1/images', { json: { base64: b64(img[name]), label: 'portrait' } });
  if (tv.status === 200) return tv.body.data.image_id;
  const res = await fetch(`${server.base}/v1/images`, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ image: { base64: b64(img[name]) }, label: 'portrait' }) });
  expect(res.status).toBe(201);
  return (await res.json()).image_id;
}

/** Upload file (the manual's POST /v1/files: a video, or a list of frames), or the native one. */
async function uploadFile(video: Buffer | Buffer[]): Promise<string> {
  const form = () => {
    const f = new FormData();
    f.append('file', new Blob([new Uint8Array(video as Buffer)]), 'selfie.mp4');
    f.append('label', 'video');
    return f;
  };
  const json = Array.isArray(video) ? { frames: video.map((f, index) => ({ base64: b64(f), index })) } : undefined;
  const tv = await client.send('POST', '/v1/files', json ? { json } : { form: form() });
  if (tv.status === 200) return tv.body.data.file_id;
  const res = await fetch(`${server.base}/v1/files`, { method: 'POST', headers: { 'x-api-key': apiKey, ...(json ? { 'content-type': 'application/json' } : {}) }, body: json ? JSON.stringify(json) : form() });
  expect(res.status).toBe(201);
  return (await res.json()).file_id;
}

beforeAll(async () => {
  server = await startServer('trustvision-faces', KEY, { FACEPROOF_MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES) });
  expect((await server.admin('/v1/admin/clients', { client_id: 'tv-bank' })).status).toBe(201);
  const key = (await (await server.admin('/v1/admin/clients/tv-bank/keys', { scopes: ['images', 'compare', 'detect', 'liveness', 'quality', 'age', 'audit'], signing: true })).json()).key;
  client = new TrustVisionClient(`${server.base}/trustvision/api`, key.key_id, key.secret);
  apiKey = key.api_key;
  const narrowKey = (await (await server.admin('/v1/admin/clients/tv-bank/keys', { scopes: ['images'], signing: true })).json()).key;
  narrow = new TrustVisionClient(client.baseUrl, narrowKey.key_id, narrowKey.secret);
  expect((await server.admin('/v1/admin/clients', { client_id: 'tv-slow', rate_per_second: 0.01, burst: 1 })).status).toBe(201);
  const slowKey = (await (await server.admin('/v1/admin/clients/tv-slow/keys', { scopes: ['compare'], signing: true })).json()).key;
  slow = new TrustVisionClient(client.baseUrl, slowKey.key_id, slowKey.secret);

  const photo3 = samplePhoto(3);
  [img.A, img.A2, img.B, img.F, img.P, img.P2, img.P3, img.Q] = await Promise.all([
    selfieCrop(3, 830, 100), selfieCrop(1, 1250, 0), selfieCrop(3, 370, 200),
    crop(5, 214, 697, 511, 650), crop(5, 458, 238, 450, 601), crop(5, 440, 220, 470, 620), crop(5, 470, 250, 440, 590),
    crop(4, 156, 21, 380, 571),
  ]);
  img.Pflop = await sharp(img.P).flop().jpeg({ quality: 92 }).toBuffer();
  img.Qflop = await sharp(img.Q).flop().jpeg({ quality: 92 }).toBuffer();
  img.blank = await blankImage(640, 480, 'jpeg');
  img.group = await sharp(photo3).resize(1200).jpeg({ quality: 90 }).toBuffer();
  // B's face box (227, 126, 199×262) and eyes (255, 228), (348, 230) in its 640×480 crop.
  const patch = (cx: number, cy: number, w: number, h: number, color: string) => ({ input: { create: { width: w, height: h, channels: 3 as const, background: color } }, left: Math.round(cx - w / 2), top: Math.round(cy - h / 2) });
  const overlay = (white: boolean, alpha: number) => ({ input: { create: { width: 199, height: 262, channels: 4 as const, background: { r: white ? 255 : 0, g: white ? 255 : 0, b: white ? 255 : 0, alpha } } }, left: 227, top: 126 });
  const B = img.B;
  Object.assign(img, {
    blur: await sharp(B).blur(6).jpeg().toBuffer(),
    dark: await sharp(B).linear(0.15, 0).jpeg().toBuffer(),
    bright: await sharp(B).linear(1.8, 60).jpeg().toBuffer(),
    faceDark: await sharp(B).composite([overlay(false, 0.75)]).png().toBuffer(),
    faceBright: await sharp(B).composite([overlay(true, 0.7)]).png().toBuffer(),
    small: await sharp(B).resize(200).jpeg().toBuffer(),
    big: await sharp(B).extract({ left: 257, top: 165, width: 139, height: 183 }).resize(400).png().toBuffer(),
    crushed: await sharp(B).jpeg({ quality: 4 }).toBuffer(),
    sunglasses: await sharp(B).composite([patch(255, 228, 46, 30, '#050505'), patch(348, 230, 46, 30, '#050505')]).png().toBuffer(),
    oneEyeCovered: await sharp(B).composite([patch(255, 228, 48, 32, '#202020'), patch(348, 230, 48, 32, '#202020')]).jpeg({ quality: 95 }).toBuffer(),
    // B's face on a plain white ground: an ID photo.
    idPhoto: await sharp({ create: { width: 480, height: 600, channels: 3, background: '#f4f4f2' } })
      .composite([{ input: await sharp(photo3).extract({ left: 560, top: 290, width: 260, height: 300 }).toBuffer(), left: 110, top: 170 }]).jpeg({ quality: 92 }).toBuffer(),
    heavy: await sharp({ create: { width: 1100, height: 1100, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer(),
  });
  expect(img.heavy.length).toBeGreaterThan(MAX_IMAGE_BYTES);
  liveFrames = await drift(img.F, 15);
  shortFrames = liveFrames.slice(0, 5);
  liveClip = await encodeClip(liveFrames, 5);
  for (const name of ['A', 'A2', 'B', 'F', 'P', 'P2', 'P3', 'Pflop', 'blank', 'group']) ids[name] = await upload(name);
  ids.video = await uploadFile(liveClip);
  ids.frames = await uploadFile(liveFrames);
  ids.noFaceVideo = await uploadFile(await encodeClip(Array.from({ length: 15 }, () => img.blank), 5));
}, 240_000);

afterAll(() => {
  server?.stop();
  console.log(`TrustVision faces: ${exampleChecks} answers checked against the manual's formats; HTTP error codes provoked: ${[...provoked].sort().join(', ')}; failure codes provoked: ${[...failures].sort().join(', ')}`);
});

/** The manual's error envelope: empty data, one error with code, message and detail. */
function expectError(answer: TrustVisionAnswer, status: number, code: string) {
  expectTrustVisionError(answer, status, code);
  provoked.add(`${status} ${code}`);
}

/** A 200 answer with data.status "success", the data fields named (and no others), request_id a string. */
function expectSuccess(answer: TrustVisionAnswer, fields: string[]) {
  expect(answer.status, JSON.stringify(answer.body).slice(0, 500)).toBe(200);
  expect(Object.keys(answer.body).sort(), JSON.stringify(answer.body).slice(0, 300)).toEqual(['data']);
  expect(Object.keys(answer.body.data).sort()).toEqual([...fields, 'request_id', 'status'].sort());
  expect(answer.body.data.status).toBe('success');
  expect(typeof answer.body.data.request_id).toBe('string');
  exampleChecks++;
}

/** A `failure` answer: HTTP 200, data.status "failure", the reason in errors[0].code. */
function expectFailure(answer: TrustVisionAnswer, code: string, field?: string) {
  expect(answer.status, JSON.stringify(answer.body).slice(0, 500)).toBe(200);
  expect(answer.body.data.status).toBe('failure');
  expect(typeof answer.body.data.request_id).toBe('string');
  expect(answer.body.errors).toHaveLength(1);
  expect(answer.body.errors[0].code).toBe(code);
  expect(typeof answer.body.errors[0].message).toBe('string');
  if (field) expect(answer.body.errors[0].detail.field).toBe(field);
  failures.add(code);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const isScore = (v: unknown) => typeof v === 'number' && v >= 0 && v <= 1;

/** The manual's face object: id and an integer bounding box (top, right, bottom, left, angle). */
function expectFace(face: any, extra: string[] = []) {
  expect(Object.keys(face).sort()).toEqual(['bounding_box', 'id', ...extra].sort());
  expect(face.id).toMatch(UUID);
  expect(Object.keys(face.bounding_box).sort()).toEqual(['angle', 'bottom', 'left', 'right', 'top']);
  for (const v of Object.values(face.bounding_box)) expect(Number.isInteger(v)).toBe(true);
  expect(face.bounding_box.right).toBeGreaterThan(face.bounding_box.left);
  expect(face.bounding_box.bottom).toBeGreaterThan(face.bounding_box.top);
}

function expectImageFaces(image: any, id: string, count: number) {
  expect(Object.keys(image).sort()).toEqual(['faces', 'id', 'transformed_image_id']);
  expect(image.id).toBe(id);
  expect(image.transformed_image_id).toBe('');
  expect(image.faces).toHaveLength(count);
  for (const f of image.faces) expectFace(f);
}

/** /v1/compare's decision on the same photos, as TrustVision names it. */
async function nativeResult(a: Buffer, b: Buffer): Promise<string> {
  const res = await fetch(`${server.base}/v1/compare`, {
    method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ source: { base64: b64(a) }, target: { base64: b64(b) } }),
  });
  const decision = (await res.json()).decision as string;
  return { match: 'matched', uncertain: 'unsure', no_match: 'unmatched' }[decision]!;
}

const compare = (json: unknown) => client.send('POST', '/v1/compare_faces_sync', { json });

describe('compare_faces_sync', () => {
  it('answers the manual\'s example (two uploaded images) in its format: the same person matched, as /v1/compare decides', async () => {
    const res = await compare({ image1: { id: ids.A }, image2: { id: ids.A2 } });
    expectSuccess(res, ['compare_faces', 'image1', 'image2']);
    const d = res.body.data;
    expectImageFaces(d.image1, ids.A, 1);
    expectImageFaces(d.image2, ids.A2, 1);
    expect(d.compare_faces).toHaveLength(1);
    const pair = d.compare_faces[0];
    expect(Object.keys(pair).sort()).toEqual(['face1_id', 'face2_id', 'result', 'score']);
    expect(pair.face1_id).toBe(d.image1.faces[0].id);
    expect(pair.face2_id).toBe(d.image2.faces[0].id);
    expect(isScore(pair.score)).toBe(true);
    expect(pair.result).toBe('matched');
    expect(pair.result).toBe(await nativeResult(img.A, img.A2));
    // The same image keeps its face ids.
    expect((await compare({ image1: { id: ids.A }, image2: { id: ids.B } })).body.data.image1.faces[0].id).toBe(d.image1.faces[0].id);
  });

  it('says unmatched for two people, as /v1/compare does, and takes base64 images with label and metadata', async () => {
    const res = await compare({
      image1: { base64: b64(img.A2), label: 'portrait', metadata: '{"id":"123456789","type":1}' },
      image2: { base64: b64(img.B), label: 'portrait', metadata: { id: '1' } },
      type: '3',
    });
    expectSuccess(res, ['compare_faces', 'image1', 'image2']);
    expectImageFaces(res.body.data.image1, '', 1);
    expect(res.body.data.compare_faces[0].result).toBe('unmatched');
    expect(res.body.data.compare_faces[0].result).toBe(await nativeResult(img.A2, img.B));
  });

  it('compares every face of a group photo with the selfie: one pair per face, the person found matched', async () => {
    const res = await compare({ image1: { id: ids.group }, image2: { id: ids.A2 } });
    expectSuccess(res, ['compare_faces', 'image1', 'image2']);
    const d = res.body.data;
    expect(d.image1.faces.length).toBe(3);
    expect(d.compare_faces).toHaveLength(3);
    expect(d.compare_faces.map((p: any) => p.face1_id)).toEqual(d.image1.faces.map((f: any) => f.id));
    expect(d.compare_faces.filter((p: any) => p.result === 'matched')).toHaveLength(1);
    // An ID card against a selfie (type 2) is judged under that pair's thresholds, and still answers.
    expect((await compare({ image1: { id: ids.A }, image2: { id: ids.A2 }, type: 2 })).status).toBe(200);
  });

  it('answers an image without a face with status failure and image_has_no_faces', async () => {
    expectFailure(await compare({ image1: { id: ids.blank }, image2: { id: ids.A2 } }), 'image_has_no_faces', 'image1');
  });

  it('answers the HTTP-level errors of its table', async () => {
    expectError(await compare({ image1: { id: 'no-such-image' }, image2: { id: ids.A2 } }), 404, 'image_not_found_exception');
    expectError(await compare({ image1: { id: ids.A } }), 400, 'invalid_parameter_exception');
    expectError(await compare({ image1: {}, image2: { id: ids.A2 } }), 400, 'invalid_parameter_exception');
    expectError(await compare({ image1: { id: ids.A }, image2: { id: ids.A2 }, type: '9' }), 400, 'invalid_parameter_exception');
    expectError(await compare({ image1: { base64: '%%%' }, image2: { id: ids.A2 } }), 400, 'invalid_parameter_exception');
    expectError(await compare({ image1: { base64: b64(Buffer.from('plain text, not an image')) }, image2: { id: ids.A2 } }), 415, 'invalid_image_format_exception');
    expectError(await compare({ image1: { base64: b64(img.heavy) }, image2: { id: ids.A2 } }), 413, 'image_too_large_exception');
    expectError(await client.send('POST', '/v1/compare_faces_sync', { json: { image1: { id: ids.A }, image2: { id: ids.A2 } }, timestamp: rfc3339(new Date(Date.now() - 20 * 60_000)) }), 400, 'request_time_too_skewed');
    expectError(await new TrustVisionClient(client.baseUrl, client.accessKey, 'wrong-secret').send('POST', '/v1/compare_faces_sync', { json: {} }), 401, 'access_denied_exception');
    expectError(await narrow.send('POST', '/v1/compare_faces_sync', { json: { image1: { id: ids.A }, image2: { id: ids.A2 } } }), 401, 'access_denied_exception');
    const body = { image1: { base64: b64(img.A) }, image2: { base64: b64(img.A2) } };
    expect((await slow.send('POST', '/v1/compare_faces_sync', { json: body })).status).toBe(200);
    expectError(await slow.send('POST', '/v1/compare_faces_sync', { json: body }), 429, 'rate_limit_exception');
  });
});

describe('detect_faces_sync', () => {
  it('answers the manual\'s example in its format, and adds each face\'s embedding when asked', async () => {
    const res = await client.send('POST', '/v1/detect_faces_sync', { json: { image: { id: ids.B } } });
    expectSuccess(res, ['image']);
    expectImageFaces(res.body.data.image, ids.B, 1);
    const withEmbedding = await client.send('POST', '/v1/detect_faces_sync', { json: { image: { id: ids.B }, return_embedding: true } });
    expectSuccess(withEmbedding, ['image']);
    const face = withEmbedding.body.data.image.faces[0];
    expectFace(face, ['embedding']);
    expect(face.id).toBe(res.body.data.image.faces[0].id);
    expect(face.embedding.length).toBeGreaterThanOrEqual(128);
    expect(Math.hypot(...face.embedding)).toBeCloseTo(1, 2);
  });

  it('finds every face of a group photo, none in a blank image, and answers the errors of its table', async () => {
    const group = await client.send('POST', '/v1/detect_faces_sync', { json: { image: { base64: b64(img.group), label: 'portrait' } } });
    expectSuccess(group, ['image']);
    expectImageFaces(group.body.data.image, '', 3);
    const widths = group.body.data.image.faces.map((f: any) => f.bounding_box.right - f.bounding_box.left);
    expect(widths).toEqual([...widths].sort((a, b) => b - a));
    const none = await client.send('POST', '/v1/detect_faces_sync', { json: { image: { id: ids.blank } } });
    expectSuccess(none, ['image']);
    expect(none.body.data.image.faces).toEqual([]);
    expectError(await client.send('POST', '/v1/detect_faces_sync', { json: { image: { id: 'missing' } } }), 404, 'image_not_found_exception');
    expectError(await client.send('POST', '/v1/detect_faces_sync', { json: { image: { id: ids.B }, return_embedding: 'yes please' } }), 400, 'invalid_parameter_exception');
  });
});

const liveness = (json: unknown) => client.send('POST', '/v1/verify_face_liveness_sync', { json });

describe('verify_face_liveness_sync', () => {
  it('answers the manual\'s example (3 images, gestures left, up and right, 2 videos) in its format; the "up" images show no upward look', async () => {
    const res = await liveness({
      images: [{ id: ids.P2 }, { id: ids.P3 }, { id: ids.P2 }],
      gesture_images: [
        { gesture: 'left', images: [{ id: ids.P }] },
        { gesture: 'up', images: [{ id: ids.P3 }] },
        { gesture: 'right', images: [{ id: ids.Pflop }] },
      ],
      videos: [{ id: ids.video }, { id: ids.frames }],
    });
    expectSuccess(res, ['details', 'images', 'is_live', 'main_image_id', 'score', 'videos']);
    const d = res.body.data;
    expect(d.images).toHaveLength(6);
    for (const i of d.images) {
      expect(Object.keys(i).sort()).toEqual(['id', 'is_live', 'score']);
      expect(typeof i.is_live).toBe('boolean');
      expect(isScore(i.score)).toBe(true);
    }
    expect(d.images.map((i: any) => i.id)).toEqual([ids.P2, ids.P3, ids.P2, ids.P, ids.P3, ids.Pflop]);
    expect(d.videos).toEqual([expect.objectContaining({ id: ids.video }), expect.objectContaining({ id: ids.frames })]);
    for (const v of d.videos) {
      expect(Object.keys(v).sort()).toEqual(['id', 'is_live', 'score']);
      expect(v.is_live).toBe(true);
    }
    expect(d.main_image_id).toBe(ids.P2);
    expect(d.details.gestures).toEqual([
      { gesture: 'left', observed: ['left'], performed: true },
      { gesture: 'up', observed: [expect.any(String)], performed: false },
      { gesture: 'right', observed: ['right'], performed: true },
    ]);
    expect(d.details.same_person).toBe(true);
    expect(d.is_live).toBe(false);
    expect(isScore(d.score)).toBe(true);
  });

  it('passes the gestures shown, one person throughout; fails gestures swapped, and another person in a gesture', async () => {
    const shown = await liveness({
      images: [{ id: ids.P2 }, { id: ids.P3 }],
      gesture_images: [{ gesture: 'left', images: [{ id: ids.P }] }, { gesture: 'right', images: [{ base64: b64(img.Pflop), label: 'portrait' }] }],
      selfie_type: 'active',
    });
    expectSuccess(shown, ['details', 'images', 'is_live', 'main_image_id', 'score']);
    expect(shown.body.data.is_live).toBe(true);
    expect(shown.body.data.details.gestures.every((g: any) => g.performed)).toBe(true);
    expect(shown.body.data.images[3].id).toBe('');
    const swapped = await liveness({ images: [{ id: ids.P2 }, { id: ids.P3 }], gesture_images: [{ gesture: 'left', images: [{ id: ids.Pflop }] }, { gesture: 'right', images: [{ id: ids.P }] }] });
    expect(swapped.body.data.is_live).toBe(false);
    expect(swapped.body.data.details.gestures.map((g: any) => g.observed[0])).toEqual(['right', 'left']);
    const another = await liveness({ images: [{ id: ids.P2 }, { id: ids.P3 }], gesture_images: [{ gesture: 'left', images: [{ id: ids.P }] }, { gesture: 'right', images: [{ base64: b64(img.Qflop) }] }] });
    expect(another.body.data.details.gestures.every((g: any) => g.performed)).toBe(true);
    expect(another.body.data.details.same_person).toBe(false);
    expect(another.body.data.is_live).toBe(false);
  });

  it('judges passive images: a live face live, a photo of a photo not; a video given as frames too', async () => {
    const live = await liveness({ images: [{ id: ids.F }], selfie_type: 'passive' });
    expectSuccess(live, ['details', 'images', 'is_live', 'main_image_id', 'score']);
    expect(live.body.data).toMatchObject({ is_live: true, details: null, main_image_id: ids.F });
    expect(live.body.data.score).toBe(live.body.data.images[0].score);
    const spoof = await liveness({ images: [{ id: ids.A }] });
    expect(spoof.body.data.is_live).toBe(false);
    const frames = await liveness({ images: [{ base64: b64(img.F) }], videos: [{ frames: liveFrames.map((f, index) => ({ base64: b64(f), index, label: 'portrait' })), metadata: '{}' }] });
    expectSuccess(frames, ['details', 'images', 'is_live', 'score', 'videos']);
    expect(frames.body.data.videos).toEqual([{ is_live: true, score: expect.any(Number) }]);
    expect(frames.body.data.is_live).toBe(true);
  });

  it('answers an image or a video without a face with status failure and image_has_no_face', async () => {
    expectFailure(await liveness({ images: [{ id: ids.F }, { id: ids.blank }] }), 'image_has_no_face', 'images[1]');
    expectFailure(await liveness({ images: [{ id: ids.F }], videos: [{ id: ids.noFaceVideo }] }), 'image_has_no_face', 'videos[0]');
  });

  it('answers the HTTP-level errors of its table', async () => {
    expectError(await liveness({ images: [{ id: 'missing' }] }), 404, 'image_not_found_exception');
    expectError(await liveness({ images: [{ id: ids.F }], videos: [{ id: 'missing-video' }] }), 404, 'image_not_found_exception');
    expectError(await liveness({ images: [] }), 400, 'invalid_parameter_exception');
    expectError(await liveness({ images: [{ id: ids.F }], gesture_images: [{ gesture: 'left', images: [{ id: ids.P }] }] }), 400, 'invalid_parameter_exception');
    expectError(await liveness({ images: [{ id: ids.F }, { id: ids.F }], gesture_images: [{ gesture: 'up', images: [{ id: ids.P }] }] }), 400, 'invalid_parameter_exception');
    expectError(await liveness({ images: [{ id: ids.F }], gesture_images: [{ gesture: 'sideways', images: [{ id: ids.P }] }] }), 400, 'invalid_parameter_exception');
    expectError(await liveness({ images: [{ id: ids.F }], selfie_type: 'active' }), 400, 'invalid_parameter_exception');
    expectError(await liveness({ images: [{ id: ids.F }], videos: [{ frames: shortFrames.map((f) => ({ base64: b64(f) })) }] }), 400, 'invalid_parameter_exception');
    expectError(await liveness({ images: [{ base64: b64(img.heavy) }] }), 413, 'image_too_large_exception');
    expectError(await liveness({ images: [{ base64: b64(Buffer.from('GIF89a but not really')) }] }), 415, 'invalid_image_format_exception');
  });
});

describe('verify_face_video_liveness_sync', () => {
  it('answers the manual\'s example (two uploaded videos) in its format', async () => {
    const res = await client.send('POST', '/v1/verify_face_video_liveness_sync', { json: { videos: [{ id: ids.video }, { id: ids.frames }] } });
    expectSuccess(res, ['is_live', 'score', 'videos']);
    const d = res.body.data;
    expect(d.videos).toHaveLength(2);
    for (const v of d.videos) {
      expect(Object.keys(v).sort()).toEqual(['id', 'is_live', 'score']);
      expect(isScore(v.score)).toBe(true);
    }
    expect(d.is_live).toBe(true);
    const one = await client.send('POST', '/v1/verify_face_video_liveness_sync', { json: { videos: [{ id: ids.video }] } });
    expect(one.body.data.score).toBe(one.body.data.videos[0].score);
    expect(one.body.data.is_live).toBe(one.body.data.videos[0].is_live);
  });

  it('answers a video without a face with image_has_no_face, and the errors of its table', async () => {
    expectFailure(await client.send('POST', '/v1/verify_face_video_liveness_sync', { json: { videos: [{ id: ids.noFaceVideo }] } }), 'image_has_no_face', 'videos[0]');
    expectError(await client.send('POST', '/v1/verify_face_video_liveness_sync', { json: { videos: [{ id: 'nope' }] } }), 404, 'image_not_found_exception');
    expectError(await client.send('POST', '/v1/verify_face_video_liveness_sync', { json: { videos: [] } }), 400, 'invalid_parameter_exception');
    expectError(await client.send('POST', '/v1/verify_face_video_liveness_sync', { json: { videos: [{ metadata: '{}' }] } }), 400, 'invalid_parameter_exception');
  });
});

const sanity = (json: unknown) => client.send('POST', '/v1/verify_portrait_sanity_sync', { json });
async function verdictOf(name: string, selfieType?: string): Promise<string> {
  const res = await sanity({ image: { base64: b64(img[name]) }, ...(selfieType ? { selfie_type: selfieType } : {}) });
  expectSuccess(res, ['image', 'portrait_sanity']);
  expect(isScore(res.body.data.portrait_sanity.score)).toBe(true);
  return res.body.data.portrait_sanity.verdict;
}

describe('verify_portrait_sanity_sync', () => {
  it('answers the manual\'s example in its format: a good portrait', async () => {
    const res = await sanity({ image: { id: ids.B } });
    expectSuccess(res, ['image', 'portrait_sanity']);
    expect(res.body.data.image).toEqual({ id: ids.B });
    expect(Object.keys(res.body.data.portrait_sanity).sort()).toEqual(['score', 'verdict']);
    expect(res.body.data.portrait_sanity.verdict).toBe('good');
    expect(isScore(res.body.data.portrait_sanity.score)).toBe(true);
  });

  it('names each verdict of its table on real photos made bad', async () => {
    const expected: Array<[string, string, string?]> = [
      ['blur', 'image_too_blur'], ['dark', 'image_too_dark'], ['bright', 'image_too_bright'], ['faceDark', 'face_too_dark'], ['faceBright', 'face_too_bright'],
      ['blank', 'image_has_no_faces'], ['group', 'image_has_multiple_faces'], ['P', 'left'], ['Pflop', 'right'], ['crushed', 'not_qualified'],
      ['oneEyeCovered', 'open_eye,closed_eye'], ['sunglasses', 'sunglasses,sunglasses'], ['small', 'face_too_small'], ['big', 'face_too_big'],
      ['B', 'not_white_background', 'id_card'], ['idPhoto', 'good', 'id_card'],
    ];
    const seen: Array<[string, string]> = [];
    for (const [name, , type] of expected) seen.push([name, await verdictOf(name, type)]);
    expect(seen).toEqual(expected.map(([name, verdict]) => [name, verdict]));
  });

  it('answers the errors of its table', async () => {
    expectError(await sanity({ image: { id: 'gone' } }), 404, 'image_not_found_exception');
    expectError(await sanity({ image: { id: ids.B }, selfie_type: 'selfie' }), 400, 'invalid_parameter_exception');
    expectError(await sanity({}), 400, 'invalid_parameter_exception');
  });
});

const otp = (json: unknown) => client.send('POST', '/v1/face_otp', { json });

describe('face_otp', () => {
  it('answers the manual\'s example in its format: the selfie live and matched with the original, as /v1/compare decides', async () => {
    const res = await otp({ selfie: [{ id: ids.A2 }], original: { id: ids.A } });
    expectSuccess(res, ['compare_faces', 'is_live']);
    const c = res.body.data.compare_faces;
    expect(Object.keys(c).sort()).toEqual(['face1_id', 'face2_id', 'result', 'score']);
    expect(c.face1_id).toMatch(UUID);
    expect(c.face2_id).toMatch(UUID);
    expect(isScore(c.score)).toBe(true);
    expect(c.result).toBe('matched');
    expect(c.result).toBe(await nativeResult(img.A2, img.A));
    expect(res.body.data.is_live).toBe(true);
    const other = await otp({ selfie: [{ id: ids.F }, { base64: b64(img.F) }], original: { base64: b64(img.A) } });
    expectSuccess(other, ['compare_faces', 'is_live']);
    expect(other.body.data.compare_faces.result).toBe(await nativeResult(img.F, img.A));
    expect(other.body.data.compare_faces.result).toBe('unmatched');
  });

  it('answers a selfie that fails the portrait checks with status failure and the check\'s code', async () => {
    expectFailure(await otp({ selfie: [{ id: ids.blank }], original: { id: ids.A } }), 'image_has_no_faces', 'selfie[0]');
    expectFailure(await otp({ selfie: [{ base64: b64(img.blur) }], original: { id: ids.B } }), 'image_too_blur', 'selfie[0]');
    expectFailure(await otp({ selfie: [{ id: ids.P }], original: { id: ids.P2 } }), 'left', 'selfie[0]');
    expectFailure(await otp({ selfie: [{ base64: b64(img.sunglasses) }], original: { id: ids.B } }), 'sunglasses,sunglasses', 'selfie[0]');
    expectFailure(await otp({ selfie: [{ id: ids.group }], original: { id: ids.B } }), 'image_has_multiple_faces', 'selfie[0]');
    expectFailure(await otp({ selfie: [{ id: ids.B }], original: { id: ids.blank } }), 'image_has_no_faces', 'original');
    const more: Array<[string, string]> = [
      ['dark', 'image_too_dark'], ['bright', 'image_too_bright'], ['faceDark', 'face_too_dark'], ['faceBright', 'face_too_bright'], ['small', 'face_too_small'],
      ['big', 'face_too_big'], ['Pflop', 'right'], ['crushed', 'not_qualified'], ['oneEyeCovered', 'open_eye,closed_eye'],
    ];
    for (const [name, code] of more) expectFailure(await otp({ selfie: [{ base64: b64(img[name]) }], original: { id: ids.B } }), code, 'selfie[0]');
    // Only the first selfie is judged as a portrait; a later one without a face is the liveness table's image_has_no_face.
    expectFailure(await otp({ selfie: [{ id: ids.A2 }, { id: ids.blank }], original: { id: ids.A } }), 'image_has_no_face', 'selfie[1]');
  });

  it('answers an original with more than one face 400 incorrect_number_of_faces, and the other errors of its table', async () => {
    expectError(await otp({ selfie: [{ id: ids.A2 }], original: { id: ids.group } }), 400, 'incorrect_number_of_faces');
    expectError(await otp({ selfie: [{ id: 'x' }], original: { id: ids.A } }), 404, 'image_not_found_exception');
    expectError(await otp({ selfie: [], original: { id: ids.A } }), 400, 'invalid_parameter_exception');
    expectError(await otp({ selfie: [{ id: ids.A2 }] }), 400, 'invalid_parameter_exception');
  });
});

const identity = (json: unknown) => client.send('POST', '/v1/verify_identity_sync', { json });

describe('verify_identity_sync', () => {
  it('answers the manual\'s example in its format: card portrait and selfie of one age, good', async () => {
    const res = await identity({ card_type: 'vn.national_id', image1: { id: ids.A }, image2: { id: ids.A2 } });
    expectSuccess(res, ['image1_id', 'image2_id', 'verify_identity']);
    const d = res.body.data;
    expect(d.image1_id).toBe(ids.A);
    expect(d.image2_id).toBe(ids.A2);
    expect(Object.keys(d.verify_identity).sort()).toEqual(['details', 'score', 'score_details', 'verdict']);
    expect(d.verify_identity.verdict).toBe('good');
    expect(isScore(d.verify_identity.score)).toBe(true);
    expect(d.verify_identity.score_details).toBeNull();
    for (const check of d.verify_identity.details) expect(Object.keys(check).sort()).toEqual(['info', 'name', 'score', 'verdict']);
  });

  const utk = sharedDataDir() && path.join(sharedDataDir()!, 'age', 'utkface_crop_part1');
  it.skipIf(!utk)('says age_not_match (status failure, error age_not_match) for a child\'s card and an old man\'s portrait (FACEPROOF_TEST_DATA)', async () => {
    const files = fs.readdirSync(utk!);
    const child = files.find((f) => /^4_0_0_/.test(f))!;
    const old = files.find((f) => /^(80|8[1-5])_0_0_/.test(f))!;
    const res = await identity({ card_type: 'vn.cccd', image1: { base64: b64(fs.readFileSync(path.join(utk!, child))) }, image2: { base64: b64(fs.readFileSync(path.join(utk!, old))) } });
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe('failure');
    expect(res.body.data.verify_identity.verdict).toBe('age_not_match');
    expect(res.body.data.image1_id).toBe('');
    expect(res.body.errors[0].code).toBe('age_not_match');
    failures.add('age_not_match');
  });

  it('answers the errors of its table', async () => {
    expectError(await identity({ card_type: 'vn.national_id', image1: { id: 'none' }, image2: { id: ids.A2 } }), 404, 'image_not_found_exception');
    expectError(await identity({ image1: { id: ids.A }, image2: { id: ids.A2 } }), 400, 'invalid_parameter_exception');
    expectError(await identity({ card_type: 'xx.card', image1: { id: ids.A }, image2: { id: ids.A2 } }), 400, 'invalid_parameter_exception');
    expectError(await identity({ card_type: 'vn.cccd', image1: { id: ids.A } }), 400, 'invalid_parameter_exception');
    expectError(await identity({ card_type: 'vn.cccd', image1: { id: ids.blank }, image2: { id: ids.A2 } }), 400, 'invalid_parameter_exception');
  });
});

describe('audit and usage', () => {
  it('records each request under its operation with the service of its descriptor, and counts it for the client', async () => {
    const asked = [
      [await compare({ image1: { id: ids.A }, image2: { id: ids.B } }), '/trustvision/api/v1/compare_faces_sync', 'compare'],
      [await sanity({ image: { id: ids.B } }), '/trustvision/api/v1/verify_portrait_sanity_sync', 'quality'],
      [await identity({ card_type: 'vn.cccd', image1: { id: ids.A } }), '/trustvision/api/v1/verify_identity_sync', 'age'],
      [await liveness({ images: [{ id: ids.blank }] }), '/trustvision/api/v1/verify_face_liveness_sync', 'liveness'],
    ] as const;
    const records = (await (await fetch(`${server.base}/v1/audit/records?limit=200`, { headers: { 'x-api-key': apiKey } })).json()).records as Array<{ request_id: string; route: string; service: string; status: number; client_id: string }>;
    for (const [answer, route, service] of asked) {
      const id = answer.headers.get('x-request-id')!;
      const record = records.find((r) => r.request_id === id);
      expect(record, route).toMatchObject({ route, service, status: answer.status, client_id: 'tv-bank' });
    }
    // A failure answer carries the request id the audit trail names.
    expect(asked[3][0].body.data.request_id).toBe(asked[3][0].headers.get('x-request-id'));
    const usage = (await (await fetch(`${server.base}/v1/usage`, { headers: { 'x-api-key': apiKey } })).json()).usage as Array<{ client_id: string; service: string; outcome: string; count: number }>;
    expect(usage.filter((u) => u.client_id === 'tv-bank' && u.service === 'liveness' && u.outcome === 'no_result').reduce((n, u) => n + u.count, 0)).toBeGreaterThan(0);
  });
});

describe('core: the white background of a portrait (measureBackground)', () => {
  /** A 200×240 raster of one colour, with a 60×80 "face" of another at (70, 60). */
  function portrait(ground: [number, number, number]) {
    const width = 200, height = 240, data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const inFace = x >= 70 && x < 130 && y >= 60 && y < 140;
        data.set(inFace ? [180, 130, 110] : ground, (y * width + x) * 3);
      }
    }
    return { image: { format: 'png', width, height, scale: 1, rgb: { width, height, data } }, face: { box: { x: 70, y: 60, width: 60, height: 80 } } };
  }

  it('calls a near-white ground white, a grey, a coloured or a dark one not, and measures only beside and above the head', async () => {
    const { measureBackground } = await import('../src/core/background.ts');
    const measure = (ground: [number, number, number]) => {
      const p = portrait(ground);
      return measureBackground(p.image as never, p.face as never);
    };
    expect(measure([245, 245, 242])).toMatchObject({ white: true, whiteFraction: 1 });
    expect(measure([120, 120, 120]).white).toBe(false);
    expect(measure([200, 230, 255]).white).toBe(false);
    expect(measure([30, 30, 30])).toMatchObject({ white: false, whiteFraction: 0 });
    expect(measure([245, 245, 242]).pixels).toBeGreaterThan(0);
  });
});
