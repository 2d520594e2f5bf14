import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { createTestApp, SQLITE_ONLY } from './helpers/app.ts';
import { b64, selfieCrop } from './helpers/images.ts';
import type { Config } from '../src/config.ts';
import type { Services } from '../src/bootstrap.ts';
import { sniffMedia } from '../src/core/file-store.ts';

let app: FastifyInstance;
let config: Config;
let services: Services;
let frames: Buffer[];
beforeAll(async () => {
  ({ app, config, services } = await createTestApp());
  const base = await selfieCrop(3, 830, 100);
  frames = await Promise.all([0, 1, 2].map((k) => sharp(base).extract({ left: k * 8, top: 0, width: 600, height: 480 }).jpeg().toBuffer()));
});
afterAll(async () => { await app.close(); });

/** The head of an ISO base-media (MP4) file: an ftyp box and an empty mdat. Only the container is checked on upload. */
function mp4Head(): Buffer {
  const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypisom'), Buffer.from([0, 0, 2, 0]), Buffer.from('isomiso2')]);
  return Buffer.concat([ftyp, Buffer.from([0, 0, 0, 8]), Buffer.from('mdat')]);
}

function multipart(parts: Array<{ name: string; body: Buffer | string; file?: boolean }>) {
  const boundary = 'f1lesb0undary';
  const payload = Buffer.concat([...parts.flatMap((p) => [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.file ? '; filename="v.mp4"\r\nContent-Type: video/mp4' : ''}\r\n\r\n`),
    Buffer.isBuffer(p.body) ? p.body : Buffer.from(p.body), Buffer.from('\r\n'),
  ]), Buffer.from(`--${boundary}--\r\n`)]);
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe('POST /v1/files', () => {
  it('stores a list of real frames with their indexes and serves each back', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/files', payload: { frames: frames.map((f, i) => ({ base64: b64(f), index: 10 + i * 5 })), metadata: { session: 's1' } } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.kind).toBe('frames');
    expect(body.frames.map((f: { index: number }) => f.index)).toEqual([10, 15, 20]);
    const frame = await app.inject(`/v1/files/${body.file_id}/frames/15`);
    expect(frame.headers['content-type']).toBe('image/jpeg');
    expect(frame.rawPayload.equals(frames[1])).toBe(true);
    expect((await app.inject(`/v1/files/${body.file_id}/frames/16`)).statusCode).toBe(404);
  });

  it('stores a video by container type and returns the same bytes', async () => {
    const video = mp4Head();
    const res = await app.inject({ method: 'POST', url: '/v1/files', ...multipart([{ name: 'file', body: video, file: true }, { name: 'label', body: 'video' }]) });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ kind: 'video', media_type: 'video/mp4', bytes: video.length });
    const back = await app.inject(`/v1/files/${res.json().file_id}`);
    expect(back.headers['content-type']).toBe('video/mp4');
    expect(back.rawPayload.equals(video)).toBe(true);
  });

  it('refuses what is not media, mislabelled media, corrupt frames and duplicate indexes', async () => {
    const post = (opts: object) => app.inject({ method: 'POST', url: '/v1/files', ...opts });
    expect((await post(multipart([{ name: 'file', body: frames[0], file: true }, { name: 'label', body: 'video' }]))).json().error.code).toBe('invalid_file_format');
    expect((await post(multipart([{ name: 'file', body: mp4Head(), file: true }, { name: 'label', body: 'audio' }]))).json().error.code).toBe('invalid_parameter');
    const corrupt = await post({ payload: { frames: [{ base64: b64(frames[0]) }, { base64: b64(frames[1].subarray(0, 100)) }] } });
    expect(corrupt.json().error).toMatchObject({ code: 'invalid_image_format', field: 'frames.1' });
    expect((await post({ payload: { frames: [{ base64: b64(frames[0]), index: 1 }, { base64: b64(frames[1]), index: 1 }] } })).json().error.code).toBe('invalid_parameter');
  });

  it.skipIf(SQLITE_ONLY)('erases files one by one or in a batch, rows and bytes', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await app.inject({ method: 'POST', url: '/v1/files', payload: { frames: [{ base64: b64(frames[i]) }] } })).json().file_id);
    expect((await app.inject({ method: 'DELETE', url: `/v1/files/${ids[0]}` })).statusCode).toBe(204);
    const batch = (await app.inject({ method: 'POST', url: '/v1/files/delete', payload: { file_ids: [ids[1], ids[2], 'file_nope'] } })).json();
    expect(batch).toMatchObject({ deleted: [ids[1], ids[2]], not_found: ['file_nope'] });
    for (const id of ids) {
      expect(fs.existsSync(path.join(config.dataDir, 'blobs', 'default', 'files', id, 'frames', '0'))).toBe(false);
      expect((await app.inject(`/v1/files/${id}`)).statusCode).toBe(404);
    }
    expect(services.db!.prepare('SELECT count(*) FROM file_frames WHERE file_id IN (?, ?, ?)').pluck().get(...ids)).toBe(0);
  });
});

describe('media signatures', () => {
  it('knows video and audio containers and nothing else', () => {
    expect(sniffMedia(mp4Head())?.mediaType).toBe('video/mp4');
    expect(sniffMedia(Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0, 0]))?.mediaType).toBe('video/webm');
    expect(sniffMedia(Buffer.from('RIFF\0\0\0\0WAVEfmt '))?.kind).toBe('audio');
    expect(sniffMedia(Buffer.from('OggS\0\0'))?.mediaType).toBe('audio/ogg');
    expect(sniffMedia(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBeUndefined();
  });
});
