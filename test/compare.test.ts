import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { createTestApp } from './helpers/app.ts';
import { b64, blankImage, samplePhoto, selfieCrop } from './helpers/images.ts';
import { encodeTemplate } from '../src/core/template.ts';

let app: FastifyInstance;
let personA: Buffer; // sample 3, the face at x≈1077
let personAElsewhere: Buffer; // the same woman in sample 1 (x≈1470)
let personB: Buffer; // sample 3, the face at x≈589
beforeAll(async () => {
  ({ app } = await createTestApp({ FACEPROOF_THRESHOLDS: '{"ID_DOCUMENT+SELFIE": {"match_far": 0.001, "uncertain_far": 0.05}}' }));
  personA = await selfieCrop(3, 830, 100);
  personAElsewhere = await selfieCrop(1, 1250, 0);
  personB = await selfieCrop(3, 370, 200);
});
afterAll(async () => { await app.close(); });

const compare = (payload: object) => app.inject({ method: 'POST', url: '/v1/compare', payload });

describe('POST /v1/compare', () => {
  it('matches a photo with a resized, re-encoded copy of itself', async () => {
    const copy = await sharp(personA).resize(480).webp({ quality: 80 }).toBuffer();
    const res = await compare({ source: { base64: b64(personA) }, target: { base64: b64(copy) } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.decision).toBe('match');
    expect(body.score).toBeGreaterThanOrEqual(body.threshold);
    expect(body.far).toBeLessThanOrEqual(1e-4);
    expect(body.source_face.box.width).toBeGreaterThan(100);
    expect(body.thresholds.match.far).toBe(1e-4);
  });

  it('matches the same woman in two different photographs', async () => {
    const body = (await compare({ source: { base64: b64(personA) }, target: { base64: b64(personAElsewhere) } })).json();
    expect(body.decision).toBe('match');
  });

  it('does not match two different people, with a large estimated FAR', async () => {
    const body = (await compare({ source: { base64: b64(personA) }, target: { base64: b64(personB) } })).json();
    expect(body.decision).toBe('no_match');
    expect(body.far).toBeGreaterThan(1e-2);
    expect(body.score).toBeLessThan(body.thresholds.uncertain.score);
  });

  it('compares a template from /v1/detect with an image, giving the same similarity as image to image', async () => {
    const detected = (await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: b64(personA) }, return_templates: true } })).json();
    const viaTemplate = (await compare({ source: { template: detected.faces[0].template }, target: { base64: b64(personAElsewhere) } })).json();
    const viaImage = (await compare({ source: { base64: b64(personA) }, target: { base64: b64(personAElsewhere) } })).json();
    expect(viaTemplate.similarity).toBeCloseTo(viaImage.similarity, 4);
    expect(viaTemplate.source_face).toBeNull();
  });

  it('refuses a template of another model version with template_version_mismatch', async () => {
    const foreign = encodeTemplate({ modelId: 'faceapi-resnet128-dlibchip20', version: 2, vector: new Float32Array(128).fill(0.1) });
    const res = await compare({ source: { template: foreign }, target: { base64: b64(personA) } });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'template_version_mismatch', field: 'source.template' });
  });

  it('names the side without a face', async () => {
    const res = await compare({ source: { base64: b64(personA) }, target: { base64: b64(await blankImage(300, 300)) } });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({ code: 'no_face_detected', field: 'target' });
  });

  it('all_faces scores every face pair of two group photos', async () => {
    const boundary = 'b0undary';
    const part = (name: string, body: Buffer | string, file = false) => Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${name}.jpg"\r\nContent-Type: image/jpeg` : ''}\r\n\r\n`),
      Buffer.isBuffer(body) ? body : Buffer.from(body),
      Buffer.from('\r\n'),
    ]);
    const payload = Buffer.concat([part('source', samplePhoto(1), true), part('target', samplePhoto(3), true), part('all_faces', 'true'), Buffer.from(`--${boundary}--\r\n`)]);
    const res = await app.inject({ method: 'POST', url: '/v1/compare', payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    expect(res.statusCode).toBe(200);
    const { pairs } = res.json();
    const sources = (await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: b64(samplePhoto(1)) } } })).json().faces.length;
    const targets = (await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { base64: b64(samplePhoto(3)) } } })).json().faces.length;
    expect(pairs).toHaveLength(sources * targets);
    expect(pairs.filter((p: { decision: string }) => p.decision === 'match').length).toBeGreaterThanOrEqual(1);
  });

  it('uses the thresholds configured for the image-type pair', async () => {
    const body = (await compare({ source: { base64: b64(personA) }, target: { base64: b64(personB) }, source_type: 'ID_DOCUMENT', target_type: 'SELFIE' })).json();
    expect(body.thresholds.match.far).toBe(0.001);
    expect(body.thresholds.uncertain.far).toBe(0.05);
    expect(body.threshold).toBe(0.5);
  });

  it('echoes the client request id', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/compare', headers: { 'x-request-id': 'client-42' }, payload: { source: { base64: b64(personA) }, target: { base64: b64(personA) } } });
    expect(res.json().client_request_id).toBe('client-42');
    expect(res.headers['x-request-id']).toBe(res.json().request_id);
    expect(res.json().request_id).not.toBe('client-42');
  });
});

describe('GET /v1/capabilities, /v1/health, /openapi.json', () => {
  it('describes models, template version, limits and the FAR table', async () => {
    const body = (await app.inject('/v1/capabilities')).json();
    expect(body.template).toEqual({ model_id: 'fused-fr512-resnet128', version: 1, dimension: 640 });
    expect(body.models.every((m: { bytes: number }) => m.bytes > 100_000)).toBe(true);
    expect(body.models.map((m: { role: string }) => m.role)).toEqual(expect.arrayContaining(['detector', 'landmarks', 'embedder', 'age', 'eyes', 'liveness', 'pose']));
    expect(body.limits.max_image_bytes).toBe(15 * 1024 * 1024);
    const fars = body.calibration.table.map((r: { far: number }) => r.far);
    expect(fars).toContain(1e-4);
    const sims = body.calibration.table.map((r: { similarity: number }) => r.similarity);
    expect([...sims].sort((a, b) => a - b)).toEqual(sims);
  });

  it('serves Prometheus metrics: requests by route and status, latency, queue, inference per model, collection sizes', async () => {
    await app.inject({ method: 'POST', url: '/v1/collections', payload: { name: 'metered' } });
    const text = (await app.inject('/metrics')).body;
    expect(text).toMatch(/faceproof_http_requests_total\{route="\/v1\/compare",method="POST",status="200"\} [1-9]/);
    expect(text).toContain('faceproof_http_request_duration_seconds_bucket{le="0.5",route="/v1/compare",method="POST"}');
    expect(text).toMatch(/faceproof_engine_pending_requests 0/);
    expect(text).toMatch(/faceproof_inference_runs\{model="detector"\} [1-9]/);
    expect(text).toMatch(/faceproof_inference_seconds\{model="faceplugin-fr512-arcface112"\} [0-9.]+/);
    expect(text).toContain('faceproof_collection_faces{tenant="default",collection="metered"} 0');
  });

  it('answers health and serves an OpenAPI 3 document with every route', async () => {
    expect((await app.inject('/v1/health')).json().status).toBe('ok');
    const doc = (await app.inject('/openapi.json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/detect', '/v1/compare', '/v1/health', '/v1/capabilities',
      '/v1/quality', '/v1/liveness', '/v1/liveness/challenges', '/v1/liveness/challenges/{challenge_id}/verify', '/v1/age', '/v1/age/consistency']));
    expect(Object.keys(doc.paths['/v1/compare'].post.requestBody.content)).toEqual(expect.arrayContaining(['application/json', 'multipart/form-data']));
    expect((await app.inject('/docs')).statusCode).toBeLessThan(400);
  });
});
