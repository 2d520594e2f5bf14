import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import sharp from 'sharp';
import { blankImage, samplePhoto, selfieCrop } from './helpers/images.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { drift, encodeClip } from '../bench/lib/video-clip.ts';

/**
 * SenseID's dialect (seeds/001) against a real server process, driven by a client written from the
 * manual alone: multipart forms with the manual's field names, the "encrypted" photo and video as
 * base64 text (the manual's encryption document is not part of it), its numeric codes and HTTP
 * statuses. The manual prints no request example, only its tables: each operation is sent with the
 * fields of its table and its answer checked against the response table, field by field.
 */
let server: RunningServer;
let base: string;
const KEY = 'senseid-dialect-bootstrap-key';
/** Small enough that a picture over it is cheap to make (2004), large enough for every photo and clip here. */
const MAX_IMAGE_BYTES = 3_000_000;

let personA: Buffer, personAElsewhere: Buffer, personB: Buffer, masked: Buffer, group: Buffer, blank: Buffer;
/** A PNG of noise over MAX_IMAGE_BYTES: 2004. */
let heavy: Buffer;
/** Clips made with ffmpeg from real photos: the person of personAElsewhere (judged live), of personA (judged a spoof). */
let liveClip: Buffer, spoofClip: Buffer, shortClip: Buffer, faceBrieflyClip: Buffer, groupClip: Buffer;

type Fields = Record<string, string | boolean | Buffer | undefined>;
type Answer = { status: number; body: Record<string, any> };

/** The manual's client: POST multipart/form-data, text fields for the encrypted photo and video, a file for liveness data. */
class SenseIdClient {
  constructor(readonly baseUrl: string, readonly apiKey: string) {}

  async post(path: string, fields: Fields, json = false): Promise<Answer> {
    let body: FormData | string;
    const headers: Record<string, string> = { 'X-API-Key': this.apiKey };
    if (json) {
      body = JSON.stringify(Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('base64') : v])));
      headers['Content-Type'] = 'application/json';
    } else {
      body = new FormData();
      for (const [name, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        if (Buffer.isBuffer(value)) body.append(name, new Blob([new Uint8Array(value)], { type: 'application/octet-stream' }), name);
        else body.append(name, String(value));
      }
    }
    const res = await fetch(`${this.baseUrl}${path}`, { method: 'POST', headers, body });
    return { status: res.status, body: await res.json() };
  }

  silentImageVerification(video: Buffer, image: Buffer, options: Fields = {}) {
    return this.post('/identity/silent_image_verification/stateless', { encrypted_video: video.toString('base64'), encrypted_image: image.toString('base64'), ...options });
  }
  silentDetection(video: Buffer, options: Fields = {}) {
    return this.post('/liveness/silent_detection/stateless', { encrypted_video: video.toString('base64'), ...options });
  }
  imageVerification(first: Buffer, second: Buffer, options: Fields = {}) {
    return this.post('/identity/image_verification/stateless', { first_encrypted_image: first.toString('base64'), second_encrypted_image: second.toString('base64'), ...options });
  }
  multiFaceVerification(first: Buffer, second: Buffer, options: Fields = {}) {
    return this.post('/identity/multi_face_verification/stateless', { first_encrypted_image: first.toString('base64'), second_encrypted_image: second.toString('base64'), ...options });
  }
  livenessImageVerification(livenessFile: Buffer, image: Buffer, options: Fields = {}) {
    return this.post('/identity/liveness_image_verification/stateless', { liveness_file: livenessFile, encrypted_image: image.toString('base64'), ...options });
  }
  qualityCheck(image: Buffer) {
    return this.post('/quality/check/stateless', { encrypted_image: image.toString('base64') });
  }
}

let client: SenseIdClient;
let exampleChecks = 0;
const provoked = new Map<number, string>();

/** A success: HTTP 200, code 1000, request_id, and exactly the fields the response table allows here. */
function expectSuccess(res: Answer, fields: string[]) {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(Object.keys(res.body).sort()).toEqual(['code', 'request_id', ...fields].sort());
  expect(res.body.code).toBe(1000);
  expect(typeof res.body.request_id).toBe('string');
  exampleChecks++;
}

/** An error of the manual's tables: its HTTP status, {code, message, request_id} with the table's field value. */
function expectError(res: Answer, status: number, code: number, message: string) {
  expect({ status: res.status, code: res.body.code }, JSON.stringify(res.body)).toEqual({ status, code });
  expect(Object.keys(res.body).sort()).toEqual(['code', 'message', 'request_id']);
  expect(res.body.message).toBe(message);
  expect(typeof res.body.request_id).toBe('string');
  provoked.set(code, message);
}

const isScore = (v: unknown) => typeof v === 'number' && v >= 0 && v <= 1;
const isBase64Jpeg = (v: unknown) => typeof v === 'string' && Buffer.from(v, 'base64').subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]));

beforeAll(async () => {
  server = await startServer('senseid', KEY, { FACEPROOF_MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES) });
  base = server.base;
  [personA, personAElsewhere, personB] = await Promise.all([selfieCrop(3, 830, 100), selfieCrop(1, 1250, 0), selfieCrop(3, 370, 200)]);
  // personB with a blue mask over nose and mouth.
  masked = await sharp(personB).composite([{ input: { create: { width: 180, height: 100, channels: 3, background: '#3060c0' } }, left: 240, top: 290 }]).jpeg({ quality: 92 }).toBuffer();
  group = await sharp(samplePhoto(3)).resize(1200).jpeg({ quality: 90 }).toBuffer();
  blank = await blankImage(640, 480, 'jpeg');
  heavy = await sharp({ create: { width: 1100, height: 1100, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
  expect(heavy.length).toBeGreaterThan(MAX_IMAGE_BYTES);
  const groupFrames = await drift(await sharp(samplePhoto(3)).extract({ left: 300, top: 0, width: 1000, height: 640 }).jpeg().toBuffer(), 15);
  [liveClip, spoofClip, shortClip, faceBrieflyClip, groupClip] = await Promise.all([
    encodeClip(await drift(personAElsewhere, 15), 5),
    encodeClip(await drift(personA, 15), 5),
    encodeClip(await drift(personAElsewhere, 5), 5),
    // 3 s, the face in the first second only.
    encodeClip([...(await drift(personAElsewhere, 5)), ...Array.from({ length: 10 }, () => blank)], 5),
    encodeClip(groupFrames, 5),
  ]);
  const admin = server.admin;
  expect((await admin('/v1/admin/clients', { client_id: 'bank' })).status).toBe(201);
  const key = (await (await admin('/v1/admin/clients/bank/keys', { scopes: ['compare', 'liveness', 'quality', 'audit'] })).json()).key;
  client = new SenseIdClient(`${base}/senseid`, key.api_key);
}, 120_000);

afterAll(() => {
  server?.stop();
  console.log(`SenseID dialect: ${exampleChecks} answers checked against the manual's response tables; error codes provoked: ${[...provoked.keys()].sort((a, b) => a - b).join(', ')}`);
});

/** /v1/compare's decision for two photos, and SenseID's reading of a score (recommended threshold 0.7). */
const native = async (a: Buffer, b: Buffer) => (await (await fetch(`${base}/v1/compare`, {
  method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
  body: JSON.stringify({ source: { base64: a.toString('base64') }, target: { base64: b.toString('base64') } }),
})).json()).decision as string;
const decisionOf = (score: number) => (score > 0.7 ? 'match' : 'no_match');

describe('SenseID photo vs video with silent liveness (identity/silent_image_verification/stateless)', () => {
  it('answers the response table: passed, liveness_score, liveness_status, verification_score, the selected frame and its face', async () => {
    const res = await client.silentImageVerification(liveClip, personA, { auto_rotate: false, check_quality: false, return_image: true, return_face_image: true, return_status: true });
    expectSuccess(res, ['passed', 'liveness_score', 'liveness_status', 'verification_score', 'image_timestamp', 'base64_image', 'base64_face_image']);
    expect(res.body.passed).toBe(true);
    expect(res.body.liveness_status).toBe('ok');
    expect(isScore(res.body.liveness_score)).toBe(true);
    expect(isScore(res.body.verification_score)).toBe(true);
    expect(res.body.image_timestamp).toBeGreaterThanOrEqual(0);
    expect(res.body.image_timestamp).toBeLessThanOrEqual(3);
    expect(isBase64Jpeg(res.body.base64_image)).toBe(true);
    expect(isBase64Jpeg(res.body.base64_face_image)).toBe(true);
    // Without the return_* switches, only what is always returned (verification_score since passed).
    const plain = await client.silentImageVerification(liveClip, personA);
    expectSuccess(plain, ['passed', 'liveness_score', 'verification_score']);
  }, 120_000);

  it('says hack for a spoof and short_time for a video under 2 s, without verification_score or frame', async () => {
    const hack = await client.silentImageVerification(spoofClip, personAElsewhere, { return_status: true, return_image: true, return_face_image: true });
    expectSuccess(hack, ['passed', 'liveness_score', 'liveness_status']);
    expect(hack.body).toMatchObject({ passed: false, liveness_status: 'hack' });
    const short = await client.silentImageVerification(shortClip, personA, { return_status: true });
    expectSuccess(short, ['passed', 'liveness_score', 'liveness_status']);
    expect(short.body).toMatchObject({ passed: false, liveness_status: 'short_time' });
  }, 120_000);

  it('end to end: the decisions of verification_score (> 0.7) agree with /v1/compare on the same photos', async () => {
    const same = await client.silentImageVerification(liveClip, personA, { return_status: true });
    const different = await client.silentImageVerification(liveClip, personB, { return_status: true });
    for (const r of [same, different]) expectSuccess(r, ['passed', 'liveness_score', 'liveness_status', 'verification_score']);
    expect(decisionOf(same.body.verification_score)).toBe(await native(personAElsewhere, personA));
    expect(decisionOf(different.body.verification_score)).toBe(await native(personAElsewhere, personB));
    expect(decisionOf(same.body.verification_score)).toBe('match');
    expect(decisionOf(different.body.verification_score)).toBe('no_match');
    // The same fields sent as JSON are read alike.
    const json = await client.post('/identity/silent_image_verification/stateless', { encrypted_video: liveClip.toString('base64'), encrypted_image: personB.toString('base64'), return_status: true }, true);
    expectSuccess(json, ['passed', 'liveness_score', 'liveness_status', 'verification_score']);
    expect(json.body.verification_score).toBe(different.body.verification_score);
  }, 180_000);

  it('answers the codes of its table: 1200, 2003, 2004, 2005, 2008, 4000, 4004, 4007', async () => {
    expectError(await client.post('/identity/silent_image_verification/stateless', { encrypted_image: personA.toString('base64') }), 400, 1200, 'invalid argument');
    expectError(await client.silentImageVerification(liveClip, personA, { return_frames: true }), 400, 1200, 'invalid argument');
    expectError(await client.post('/identity/silent_image_verification/stateless', { encrypted_video: '%%%', encrypted_image: personA.toString('base64') }), 400, 1200, 'invalid argument');
    expectError(await client.silentImageVerification(liveClip, await blankImage(20, 20)), 400, 2003, 'invalid image size');
    expectError(await client.silentImageVerification(liveClip, heavy), 400, 2004, 'invalid content length');
    expectError(await client.silentImageVerification(liveClip, Buffer.from('not a photo at all')), 400, 2005, 'invalid image type or corrupted');
    expectError(await client.silentImageVerification(Buffer.from('not a video at all, only text'), personA), 400, 2008, 'invalid video error');
    expectError(await client.silentImageVerification(liveClip, blank), 400, 4000, 'detection failed');
    expectError(await client.silentImageVerification(liveClip, masked, { check_quality: true }), 400, 4004, 'face occlusion');
    expectError(await client.silentImageVerification(groupClip, personA), 400, 4007, 'liveness silent check failed');
  }, 180_000);
});

describe('SenseID silent liveness of a video (liveness/silent_detection/stateless)', () => {
  it('answers the response table for ok, hack and short_time (the face seen under 2 s)', async () => {
    const ok = await client.silentDetection(liveClip, { return_image: true, return_face_image: true, return_status: true });
    expectSuccess(ok, ['passed', 'liveness_score', 'liveness_status', 'image_timestamp', 'base64_image', 'base64_face_image']);
    expect(ok.body).toMatchObject({ passed: true, liveness_status: 'ok' });
    expect(isBase64Jpeg(ok.body.base64_image) && isBase64Jpeg(ok.body.base64_face_image)).toBe(true);
    const hack = await client.silentDetection(spoofClip, { return_status: true, return_image: true });
    expectSuccess(hack, ['passed', 'liveness_score', 'liveness_status']);
    expect(hack.body).toMatchObject({ passed: false, liveness_status: 'hack' });
    const brief = await client.silentDetection(faceBrieflyClip, { return_status: true });
    expectSuccess(brief, ['passed', 'liveness_score', 'liveness_status']);
    expect(brief.body).toMatchObject({ passed: false, liveness_status: 'short_time' });
    const quiet = await client.silentDetection(liveClip);
    expectSuccess(quiet, ['passed', 'liveness_score']);
  }, 180_000);

  it('answers the codes of its table: 1200, 2008 (undecodable, or under 2 s), 4007', async () => {
    expectError(await client.post('/liveness/silent_detection/stateless', { return_status: true }), 400, 1200, 'invalid argument');
    expectError(await client.silentDetection(shortClip), 400, 2008, 'invalid video error');
    expectError(await client.silentDetection(Buffer.from('not a video at all, only text')), 400, 2008, 'invalid video error');
    expectError(await client.silentDetection(groupClip), 400, 4007, 'liveness silent check failed');
  }, 120_000);
});

describe('SenseID two-photo comparison (identity/image_verification/stateless)', () => {
  it('answers verification_score 0–1 whose decision agrees with /v1/compare', async () => {
    const same = await client.imageVerification(personA, personAElsewhere, { auto_rotate: true, check_quality: false });
    expectSuccess(same, ['verification_score']);
    const different = await client.imageVerification(personAElsewhere, personB, { check_quality: true });
    expectSuccess(different, ['verification_score']);
    expect(decisionOf(same.body.verification_score)).toBe(await native(personA, personAElsewhere));
    expect(decisionOf(different.body.verification_score)).toBe(await native(personAElsewhere, personB));
    expect([decisionOf(same.body.verification_score), decisionOf(different.body.verification_score)]).toEqual(['match', 'no_match']);
  }, 60_000);

  it('answers the codes of its table: 1200, 2003, 2004, 2005, 4000, 4004', async () => {
    expectError(await client.post('/identity/image_verification/stateless', { first_encrypted_image: personA.toString('base64') }), 400, 1200, 'invalid argument');
    expectError(await client.post('/identity/image_verification/stateless', { first_encrypted_image: '', second_encrypted_image: personA.toString('base64') }), 400, 1200, 'invalid argument');
    expectError(await client.imageVerification(personA, await blankImage(16, 300)), 400, 2003, 'invalid image size');
    expectError(await client.imageVerification(heavy, personA), 400, 2004, 'invalid content length');
    expectError(await client.imageVerification(personA, Buffer.from('GIF89a-not-supported')), 400, 2005, 'invalid image type or corrupted');
    expectError(await client.imageVerification(blank, personA), 400, 4000, 'detection failed');
    expectError(await client.imageVerification(personAElsewhere, masked, { check_quality: true }), 400, 4004, 'face occlusion');
  }, 60_000);
});

describe('SenseID multi-face comparison (identity/multi_face_verification/stateless)', () => {
  it('answers scores for every pair of faces and face_rects of each photo', async () => {
    const res = await client.multiFaceVerification(group, personAElsewhere, { auto_rotate: false });
    expectSuccess(res, ['scores', 'face_rects']);
    const { scores, face_rects: rects } = res.body;
    expect(Object.keys(rects).sort()).toEqual(['first_image', 'second_image']);
    expect(rects.first_image.length).toBeGreaterThanOrEqual(3);
    expect(rects.second_image).toHaveLength(1);
    expect(scores).toHaveLength(rects.first_image.length);
    for (const row of scores) {
      expect(row).toHaveLength(1);
      expect(isScore(row[0])).toBe(true);
    }
    for (const r of [...rects.first_image, ...rects.second_image]) {
      expect(Object.keys(r).sort()).toEqual(['height', 'left', 'top', 'width']);
      expect(Object.values(r).every((v) => Number.isInteger(v))).toBe(true);
    }
    // personA stands in the group photo: exactly one face pair above the threshold, and it lies where she does.
    const matches = scores.map((row: number[], i: number) => [row[0], i]).filter(([s]: number[]) => s > 0.7);
    expect(matches).toHaveLength(1);
    const face = rects.first_image[matches[0][1]];
    const scale = 1200 / 1920;
    expect(face.left + face.width / 2).toBeGreaterThan(830 * scale);
    expect(face.left + face.width / 2).toBeLessThan((830 + 640) * scale);
    expect(decisionOf(matches[0][0])).toBe(await native(personA, personAElsewhere));
  }, 60_000);

  it('answers the codes of its table: 1200, 2003, 2004, 2005, 2006, 4000', async () => {
    expectError(await client.post('/identity/multi_face_verification/stateless', { second_encrypted_image: personA.toString('base64') }), 400, 1200, 'invalid argument');
    expectError(await client.multiFaceVerification(await blankImage(20, 20), personA), 400, 2003, 'invalid image size');
    expectError(await client.multiFaceVerification(personA, heavy), 400, 2004, 'invalid content length');
    expectError(await client.multiFaceVerification(personA, Buffer.from('plain text')), 400, 2005, 'invalid image type or corrupted');
    // A JPEG whose header reads but whose data is cut short: corrupted.
    expectError(await client.multiFaceVerification(personA, personB.subarray(0, Math.floor(personB.length / 3))), 400, 2006, 'corrupted image error');
    expectError(await client.multiFaceVerification(blank, personA), 400, 4000, 'detection failed');
  }, 60_000);
});

describe('SenseID photo vs liveness data (identity/liveness_image_verification/stateless)', () => {
  it('answers verification_score for a recording as liveness data, as /v1/compare decides', async () => {
    const same = await client.livenessImageVerification(liveClip, personA, { auto_rotate: false, check_quality: false });
    expectSuccess(same, ['verification_score']);
    const different = await client.livenessImageVerification(liveClip, personB, { check_quality: true });
    expectSuccess(different, ['verification_score']);
    expect([decisionOf(same.body.verification_score), decisionOf(different.body.verification_score)]).toEqual([await native(personAElsewhere, personA), await native(personAElsewhere, personB)]);
  }, 120_000);

  it('answers the codes of its table: 1200, 2003, 2005, 2007, 4000, 4004 (and 4007 for data that is not live)', async () => {
    expectError(await client.post('/identity/liveness_image_verification/stateless', { encrypted_image: personA.toString('base64') }), 400, 1200, 'invalid argument');
    expectError(await client.livenessImageVerification(liveClip, await blankImage(20, 20)), 400, 2003, 'invalid image size');
    expectError(await client.livenessImageVerification(liveClip, Buffer.from('text')), 400, 2005, 'invalid image type or corrupted');
    expectError(await client.livenessImageVerification(Buffer.from('an SDK protobuf this server cannot read'), personA), 400, 2007, 'corrupted liveness data error');
    expectError(await client.livenessImageVerification(liveClip, blank), 400, 4000, 'detection failed');
    expectError(await client.livenessImageVerification(liveClip, masked, { check_quality: true }), 400, 4004, 'face occlusion');
    expectError(await client.livenessImageVerification(spoofClip, personA), 400, 4007, 'liveness silent check failed');
  }, 120_000);
});

describe('SenseID quality check (quality/check/stateless)', () => {
  it('answers faces: a rectangle and whether it is occluded, for every face', async () => {
    const one = await client.qualityCheck(personB);
    expectSuccess(one, ['faces']);
    expect(one.body.faces).toHaveLength(1);
    expect(Object.keys(one.body.faces[0]).sort()).toEqual(['occluded', 'rect']);
    expect(one.body.faces[0].occluded).toBe(false);
    const covered = await client.qualityCheck(masked);
    expectSuccess(covered, ['faces']);
    expect(covered.body.faces[0].occluded).toBe(true);
    const many = await client.qualityCheck(group);
    expectSuccess(many, ['faces']);
    expect(many.body.faces.length).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('answers the codes of its table: 1200, 2003, 2004, 2005, 4000', async () => {
    expectError(await client.post('/quality/check/stateless', {}), 400, 1200, 'invalid argument');
    expectError(await client.qualityCheck(await blankImage(20, 20)), 400, 2003, 'invalid image size');
    expectError(await client.qualityCheck(heavy), 400, 2004, 'invalid content length');
    expectError(await client.qualityCheck(Buffer.from('text')), 400, 2005, 'invalid image type or corrupted');
    expectError(await client.qualityCheck(blank), 400, 4000, 'detection failed');
  }, 60_000);
});

describe('SenseID HTTP statuses (400, 404, 411, 413) and the rest of the server', () => {
  it('answers 404, 411 (no Content-Length) and 413 (a body over the limit) with the error body', async () => {
    const notFound = await client.post('/identity/nothing_here/stateless', { encrypted_image: 'AAAA' });
    expectError(notFound, 404, 404, 'NOT_FOUND');

    const chunked = await new Promise<Answer>((resolve, reject) => {
      const req = http.request(`${base}/senseid/quality/check/stateless`, { method: 'POST', headers: { 'X-API-Key': client.apiKey, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.write(JSON.stringify({ encrypted_image: personB.toString('base64') }));
      req.end();
    });
    expectError(chunked, 411, 411, 'LENGTH_REQUIRED');

    // A body announced over the limit is refused before it is read.
    const tooLarge = await new Promise<Answer>((resolve, reject) => {
      const req = http.request(`${base}/senseid/quality/check/stateless`, { method: 'POST', headers: { 'X-API-Key': client.apiKey, 'Content-Type': 'application/json', 'Content-Length': String(9 * 1024 * 1024) } }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => { resolve({ status: res.statusCode!, body: JSON.parse(text) }); req.destroy(); });
      });
      req.on('error', (err) => { if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET' && (err as NodeJS.ErrnoException).code !== 'EPIPE') reject(err); });
      req.write('{"encrypted_image":"');
    });
    expectError(tooLarge, 413, 413, 'PAYLOAD_TOO_LARGE');
  }, 60_000);

  it('refuses a request without credentials in the same shape (401), and audits and meters by the service', async () => {
    const res = await fetch(`${base}/senseid/quality/check/stateless`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ encrypted_image: 'AAAA' }) });
    const body = await res.json();
    expect(res.status).toBe(401);
    expect(body).toMatchObject({ code: 401, message: 'UNAUTHORIZED' });

    const done = await client.qualityCheck(personB);
    const own = { 'x-api-key': client.apiKey };
    const { record } = await (await fetch(`${base}/v1/audit/records/${done.body.request_id}`, { headers: own })).json();
    expect(record).toMatchObject({ route: '/senseid/quality/check/stateless', service: 'quality', status: 200 });
    const noFace = await client.qualityCheck(blank);
    const today = new Date().toISOString().slice(0, 10);
    const usage = await (await fetch(`${base}/v1/usage?from=${today}&to=${today}`, { headers: own })).json();
    const rows = (usage.usage as Array<{ service: string; outcome: string; billable: boolean }>).filter((r) => r.service === 'quality');
    expect(noFace.body.code).toBe(4000);
    expect(rows.find((r) => r.outcome === 'processed')?.billable).toBe(true);
    expect(rows.find((r) => r.outcome === 'no_result')?.billable).toBe(true);
    expect(rows.find((r) => r.outcome === 'rejected')?.billable).toBe(false);
  }, 60_000);

  it('has provoked every code of the manual\'s tables a client can cause', () => {
    expect([...provoked.keys()].sort((a, b) => a - b)).toEqual([404, 411, 413, 1200, 2003, 2004, 2005, 2006, 2007, 2008, 4000, 4004, 4007]);
  });
});
