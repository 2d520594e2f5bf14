import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { createTestApp } from './helpers/app.ts';
import { b64, blankImage, jpegClaiming, pngClaiming, selfieCrop } from './helpers/images.ts';
import { encodeTemplate } from '../src/core/template.ts';
import { ERROR_STATUS, type ErrorCode } from '../src/core/errors.ts';

function multipart(parts: Array<{ name: string; body: Buffer | string; file?: boolean }>, boundary = 'XyZb0und') {
  const chunks = parts.flatMap((p) => [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.file ? `; filename="${p.name}.bin"\r\nContent-Type: application/octet-stream` : ''}\r\n\r\n`),
    Buffer.isBuffer(p.body) ? p.body : Buffer.from(p.body),
    Buffer.from('\r\n'),
  ]);
  return { payload: Buffer.concat([...chunks, Buffer.from(`--${boundary}--\r\n`)]), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

interface Case {
  name: string;
  url?: string;
  method?: 'POST' | 'GET' | 'PUT' | 'PATCH' | 'DELETE';
  payload?: string | Buffer | object;
  headers?: Record<string, string>;
  code: ErrorCode;
  field?: string;
}

let app: FastifyInstance;
let cases: Case[];
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  ({ app } = await createTestApp());
  const face = await selfieCrop(3, 370, 200);
  const png = await sharp(face).png().toBuffer();
  const webp = await sharp(face).webp().toBuffer();
  const gif = await sharp(face).gif().toBuffer();
  const template = encodeTemplate({ modelId: 'faceapi-resnet128-dlibchip20', version: 1, vector: new Float32Array(128).fill(0.088) });
  const tampered = Buffer.from(template, 'base64'); tampered[20] ^= 0xff;
  let nested = '1';
  for (let i = 0; i < 100_000; i++) nested = `[${nested}]`;
  const image = (bytes: Buffer) => ({ image: { base64: b64(bytes) } });
  const detectWith = (body: object) => ({ url: '/v1/detect', payload: body });
  const compareWith = (body: object) => ({ url: '/v1/compare', payload: body });
  const good = { base64: b64(face) };

  cases = [
    { name: 'truncated JPEG', ...detectWith(image(face.subarray(0, face.length / 2))), code: 'invalid_image_format', field: 'image' },
    { name: 'truncated PNG', ...detectWith(image(png.subarray(0, png.length / 3))), code: 'invalid_image_format', field: 'image' },
    { name: 'truncated WebP', ...detectWith(image(webp.subarray(0, 100))), code: 'invalid_image_format', field: 'image' },
    { name: 'PNG claiming 100,000 × 100,000 pixels', ...detectWith(image(pngClaiming(100_000, 100_000))), code: 'image_too_large', field: 'image' },
    { name: 'PNG claiming 8,000 × 8,000 pixels (64 MP)', ...detectWith(image(pngClaiming(8000, 8000))), code: 'image_too_large', field: 'image' },
    { name: 'JPEG claiming 60,000 × 60,000 pixels', ...detectWith(image(jpegClaiming(face, 60_000, 60_000))), code: 'image_too_large', field: 'image' },
    { name: 'PNG with valid header and corrupt pixel data', ...detectWith(image(Buffer.concat([png.subarray(0, 33), randomBytes(2000)]))), code: 'invalid_image_format', field: 'image' },
    { name: 'zero-byte multipart file', url: '/v1/detect', ...multipart([{ name: 'image', body: Buffer.alloc(0), file: true }]), code: 'invalid_image_format', field: 'image' },
    { name: 'empty base64 string', ...detectWith({ image: { base64: '' } }), code: 'invalid_parameter' },
    { name: 'whitespace-only base64', ...detectWith({ image: { base64: '   \n ' } }), code: 'base64_decode_failed', field: 'image' },
    { name: 'wrong magic bytes', ...detectWith(image(Buffer.from('this is not an image at all, just text'))), code: 'invalid_image_format', field: 'image' },
    { name: 'GIF image', ...detectWith(image(gif)), code: 'invalid_image_format', field: 'image' },
    { name: 'SVG document', ...detectWith(image(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9e9" height="9e9"/>'))), code: 'invalid_image_format', field: 'image' },
    { name: 'random bytes', ...detectWith(image(randomBytes(4096))), code: 'invalid_image_format', field: 'image' },
    { name: 'base64 garbage', ...detectWith({ image: { base64: '@@@not*base64!!!' } }), code: 'base64_decode_failed', field: 'image' },
    { name: 'base64 of impossible length', ...detectWith({ image: { base64: 'QUJDRA=A' } }), code: 'base64_decode_failed', field: 'image' },
    { name: 'data: URL with a garbage payload', ...detectWith({ image: { base64: 'data:image/png;base64,%%%%' } }), code: 'base64_decode_failed', field: 'image' },
    { name: 'non-ASCII characters in base64', ...detectWith({ image: { base64: 'ÿÿÿÿ顔顔' } }), code: 'base64_decode_failed', field: 'image' },
    { name: 'image too small', ...detectWith(image(await blankImage(12, 12))), code: 'image_dimensions_invalid', field: 'image' },
    { name: '20 MB multipart file', url: '/v1/detect', ...multipart([{ name: 'image', body: Buffer.alloc(20 * 1024 * 1024, 0xff), file: true }]), code: 'image_too_large' },
    { name: '16 MB image in base64', ...detectWith({ image: { base64: Buffer.alloc(16 * 1024 * 1024, 1).toString('base64') } }), code: 'image_too_large', field: 'image' },
    { name: '45 MB JSON body', url: '/v1/compare', payload: `{"source":{"base64":"${'A'.repeat(45 * 1024 * 1024)}"}}`, headers: json, code: 'payload_too_large' },
    { name: 'JSON value where a file was expected (multipart text field)', url: '/v1/detect', ...multipart([{ name: 'image', body: '{"base64":"AAAA"}' }]), code: 'invalid_parameter', field: 'image' },
    { name: 'file where JSON was expected (multipart to compare with one text side)', url: '/v1/compare', ...multipart([{ name: 'source', body: face, file: true }, { name: 'target', body: 'abc' }]), code: 'invalid_parameter', field: 'target' },
    { name: 'three files in one multipart body', url: '/v1/compare', ...multipart([{ name: 'source', body: face, file: true }, { name: 'target', body: face, file: true }, { name: 'extra', body: face, file: true }]), code: 'invalid_parameter' },
    { name: 'deeply nested JSON', url: '/v1/detect', payload: `{"image": ${nested}}`, headers: json, code: 'invalid_parameter' },
    { name: 'malformed JSON', url: '/v1/detect', payload: '{"image": {"base64": "abc"', headers: json, code: 'invalid_parameter' },
    { name: 'empty JSON body', url: '/v1/detect', payload: '', headers: json, code: 'invalid_parameter' },
    { name: 'JSON array body', url: '/v1/detect', payload: '[]', headers: json, code: 'invalid_parameter' },
    { name: 'JSON null image', ...detectWith({ image: null }), code: 'invalid_parameter' },
    { name: 'missing image field', ...detectWith({ return_templates: true }), code: 'invalid_parameter' },
    { name: 'image given as a bare string', ...detectWith({ image: b64(face) }), code: 'invalid_parameter' },
    { name: 'unknown field', ...detectWith({ image: good, colour: 'blue' }), code: 'invalid_parameter' },
    { name: 'boolean option given as a word', ...detectWith({ image: good, return_templates: 'please' }), code: 'invalid_parameter' },
    { name: 'template given to detect', ...detectWith({ image: { template } }), code: 'invalid_parameter' },
    { name: 'unknown image type', ...compareWith({ source: good, target: good, source_type: 'PASSPORT' }), code: 'invalid_parameter' },
    { name: 'missing target', ...compareWith({ source: good }), code: 'invalid_parameter' },
    { name: 'template that is not base64', ...compareWith({ source: { template: '***' }, target: good }), code: 'template_invalid', field: 'source.template' },
    { name: 'template that is base64 of random bytes', ...compareWith({ source: { template: b64(randomBytes(540)) }, target: good }), code: 'template_invalid', field: 'source.template' },
    { name: 'tampered template', ...compareWith({ source: good, target: { template: tampered.toString('base64') } }), code: 'template_invalid', field: 'target.template' },
    { name: 'truncated template', ...compareWith({ source: { template: template.slice(0, 100) }, target: good }), code: 'template_invalid', field: 'source.template' },
    { name: 'template from another model', ...compareWith({ source: { template: encodeTemplate({ modelId: 'arcface-r100', version: 1, vector: new Float32Array(512).fill(0.04) }) }, target: good }), code: 'template_version_mismatch', field: 'source.template' },
    { name: 'no face in the source', ...compareWith({ source: { base64: b64(await blankImage(200, 200, 'jpeg')) }, target: good }), code: 'no_face_detected', field: 'source' },
    { name: 'text/plain body', url: '/v1/compare', payload: 'source=a&target=b', headers: { 'content-type': 'text/plain' }, code: 'unsupported_media_type' },
    { name: 'form-urlencoded body', url: '/v1/detect', payload: 'image=abc', headers: { 'content-type': 'application/x-www-form-urlencoded' }, code: 'unsupported_media_type' },
    { name: 'image/jpeg body', url: '/v1/detect', payload: face, headers: { 'content-type': 'image/jpeg' }, code: 'unsupported_media_type' },
    { name: 'multipart without a boundary', url: '/v1/detect', payload: 'xx', headers: { 'content-type': 'multipart/form-data' }, code: 'invalid_parameter' },
    { name: 'stored image that does not exist', ...detectWith({ image: { image_id: 'img_missing' } }), code: 'not_found', field: 'image.image_id' },
    { name: 'image_id of 500 characters', ...detectWith({ image: { image_id: 'x'.repeat(500) } }), code: 'invalid_parameter' },
    { name: 'storing a GIF', url: '/v1/images', payload: image(gif), code: 'invalid_image_format', field: 'image' },
    { name: 'unknown download format', url: '/v1/images/img_x?format=tiff', method: 'GET', code: 'invalid_parameter' },
    { name: 'erasing an image that does not exist', url: '/v1/images/img_missing', method: 'DELETE', code: 'not_found' },
    { name: 'PATCH with an unknown field', url: '/v1/images/img_missing', method: 'PATCH', payload: { owner: 'me' }, code: 'invalid_parameter' },
    { name: 'GET on a POST route', url: '/v1/compare', method: 'GET', code: 'not_found' },
    { name: 'unknown route', url: '/v1/../../etc/passwd', method: 'GET', code: 'not_found' },
    { name: 'liveness video in base64 garbage', url: '/v1/liveness', payload: { video: { base64: '%%%not-a-video%%%' } }, code: 'base64_decode_failed', field: 'video.base64' },
    { name: 'liveness video of random bytes', url: '/v1/liveness', payload: { video: { base64: b64(randomBytes(200_000)) } }, code: 'invalid_video', field: 'video' },
    { name: 'liveness video that is a JPEG', url: '/v1/liveness', payload: { video: good }, code: 'invalid_video', field: 'video' },
    { name: 'liveness with no images', url: '/v1/liveness', payload: { images: [] }, code: 'invalid_parameter' },
    { name: 'liveness with eleven images', url: '/v1/liveness', payload: { images: Array.from({ length: 11 }, () => good) }, code: 'invalid_parameter' },
    { name: 'liveness with images and a file', url: '/v1/liveness', payload: { images: [good], file_id: 'file_x' }, code: 'invalid_parameter' },
    { name: 'liveness with an unknown security level', url: '/v1/liveness', payload: { images: [good], security_level: 'PARANOID' }, code: 'invalid_parameter' },
    { name: 'liveness of a file that does not exist', url: '/v1/liveness', payload: { file_id: 'file_missing' }, code: 'not_found', field: 'file_id' },
    { name: 'liveness image that is a GIF', url: '/v1/liveness', payload: { images: [{ base64: b64(gif) }] }, code: 'invalid_image_format', field: 'images[0]' },
    { name: 'challenge answer without a nonce', url: '/v1/liveness/challenges/chl_x/verify', payload: { video: good }, code: 'invalid_parameter' },
    { name: 'challenge answer for an unknown challenge', url: '/v1/liveness/challenges/chl_missing/verify', payload: { nonce: 'n', video: good }, code: 'not_found', field: 'challenge_id' },
    { name: 'quality with an unknown profile', url: '/v1/quality', payload: { image: good, profile: 'passport' }, code: 'invalid_parameter' },
    { name: 'quality with a negative limit', url: '/v1/quality', payload: { image: good, max_yaw: -5 }, code: 'invalid_parameter' },
    { name: 'quality of truncated JPEG', url: '/v1/quality', payload: image(face.subarray(0, 500)), code: 'invalid_image_format', field: 'image' },
    { name: 'age with a threshold given as a word', url: '/v1/age', payload: { image: good, threshold: 'adult' }, code: 'invalid_parameter' },
    { name: 'age consistency without a selfie', url: '/v1/age/consistency', payload: { document: good }, code: 'invalid_parameter' },
    { name: 'age consistency with a faceless document', url: '/v1/age/consistency', payload: { document: { base64: b64(await blankImage(200, 200, 'jpeg')) }, selfie: good }, code: 'no_face_detected', field: 'document' },
    { name: 'detect with an unknown quality profile', ...detectWith({ image: good, quality_profile: 'passport' }), code: 'invalid_parameter' },
  ];
});
afterAll(async () => { await app.close(); });

describe('hostile and malformed input', () => {
  it('feeds every case and gets its documented code and status, then health still answers', async () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    const failures: string[] = [];
    for (const c of cases) {
      const res = await app.inject({
        method: c.method ?? 'POST',
        url: c.url ?? '/v1/detect',
        payload: c.payload as never,
        headers: c.headers ?? (c.payload && !Buffer.isBuffer(c.payload) && typeof c.payload === 'object' ? json : undefined),
      });
      let body: { error?: { code: string; field?: string }; request_id?: string } = {};
      try { body = res.json(); } catch { /* reported below */ }
      const ok = res.statusCode === ERROR_STATUS[c.code] && body.error?.code === c.code && (c.field === undefined || body.error?.field === c.field) && typeof body.request_id === 'string';
      if (!ok) failures.push(`${c.name}: expected ${ERROR_STATUS[c.code]} ${c.code}${c.field ? ` (${c.field})` : ''}, got ${res.statusCode} ${res.body.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    const health = await app.inject('/v1/health');
    expect(health.statusCode).toBe(200);
  });
});
