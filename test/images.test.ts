import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createTestApp, SQLITE_ONLY } from './helpers/app.ts';
import { b64, selfieCrop } from './helpers/images.ts';
import type { Config } from '../src/config.ts';
import type { Services } from '../src/bootstrap.ts';
import { ImageStore } from '../src/core/image-store.ts';
import { openDatabase, createTenant } from '../src/store/sqlite/database.ts';
import { SqliteImageRepository } from '../src/store/sqlite/image-repository.ts';
import { FolderBlobStore } from '../src/store/blob/folder-blob-store.ts';

let app: FastifyInstance;
let config: Config;
let services: Services;
let photo: Buffer;
beforeAll(async () => {
  ({ app, config, services } = await createTestApp());
  photo = await selfieCrop(3, 830, 100);
});
afterAll(async () => { await app.close(); });

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const store = (payload: object) => app.inject({ method: 'POST', url: '/v1/images', payload });
const blobFile = (id: string) => path.join(config.dataDir, 'blobs', 'default', 'images', id);

describe('stored images', () => {
  it('stores an image with its digest, label and metadata, and gives back the same bytes', async () => {
    const res = await store({ image: { base64: b64(photo) }, label: 'selfie', metadata: { customer: 'c-17', channel: 'app' } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ label: 'selfie', metadata: { customer: 'c-17', channel: 'app' }, format: 'jpeg', width: 640, height: 480, bytes: photo.length, sha256: sha256(photo), expires_at: null });
    const file = await app.inject(`/v1/images/${body.image_id}`);
    expect(file.headers['content-type']).toBe('image/jpeg');
    expect(file.headers['x-content-sha256']).toBe(sha256(photo));
    expect(file.rawPayload.equals(photo)).toBe(true);
    const asJson = (await app.inject(`/v1/images/${body.image_id}?format=base64`)).json();
    expect(Buffer.from(asJson.base64, 'base64').equals(photo)).toBe(true);
  });

  it('accepts multipart uploads with metadata as JSON text', async () => {
    const boundary = 'imgb0undary';
    const payload = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`), photo,
      Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{"k": 1}\r\n--${boundary}\r\nContent-Disposition: form-data; name="ttl_seconds"\r\n\r\n3600\r\n--${boundary}--\r\n`),
    ]);
    const res = await app.inject({ method: 'POST', url: '/v1/images', payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    expect(res.statusCode).toBe(201);
    expect(res.json().metadata).toEqual({ k: 1 });
    expect(Date.parse(res.json().expires_at) - Date.parse(res.json().created_at)).toBe(3600_000);
  });

  it('refuses what is not an image, and metadata that is not an object', async () => {
    expect((await store({ image: { base64: b64(Buffer.from('not an image')) } })).json().error.code).toBe('invalid_image_format');
    expect((await store({ image: { base64: b64(photo) }, metadata: [1, 2] })).json().error.code).toBe('invalid_parameter');
    expect((await store({ image: { image_id: 'img_x' } })).json().error.code).toBe('invalid_parameter');
  });

  it('changes label and metadata', async () => {
    const id = (await store({ image: { base64: b64(photo) }, label: 'a' })).json().image_id;
    const res = await app.inject({ method: 'PATCH', url: `/v1/images/${id}`, payload: { label: null, metadata: { reviewed: true } } });
    expect(res.json()).toMatchObject({ label: null, metadata: { reviewed: true } });
    expect((await app.inject({ method: 'PATCH', url: `/v1/images/${id}`, payload: {} })).statusCode).toBe(400);
  });

  it('is usable as {"image_id"} wherever an image is taken', async () => {
    const id = (await store({ image: { base64: b64(photo) } })).json().image_id;
    const viaId = (await app.inject({ method: 'POST', url: '/v1/compare', payload: { source: { image_id: id }, target: { base64: b64(photo) } } })).json();
    expect(viaId.decision).toBe('match');
    const detected = (await app.inject({ method: 'POST', url: '/v1/detect', payload: { image: { image_id: id } } })).json();
    expect(detected.faces.length).toBe(1);
    const missing = await app.inject({ method: 'POST', url: '/v1/compare', payload: { source: { image_id: 'img_nope' }, target: { base64: b64(photo) } } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toMatchObject({ code: 'not_found', field: 'source.image_id' });
  });

  it.skipIf(SQLITE_ONLY)('erases an image: row and file are gone, and it is no longer found', async () => {
    const id = (await store({ image: { base64: b64(photo) } })).json().image_id;
    expect(fs.existsSync(blobFile(id))).toBe(true);
    expect((await app.inject({ method: 'DELETE', url: `/v1/images/${id}` })).statusCode).toBe(204);
    expect(fs.existsSync(blobFile(id))).toBe(false);
    expect(services.db!.prepare('SELECT count(*) FROM images WHERE id = ?').pluck().get(id)).toBe(0);
    expect((await app.inject(`/v1/images/${id}`)).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: `/v1/images/${id}` })).statusCode).toBe(404);
  });

  it('lists images and their routes in the OpenAPI document', async () => {
    const doc = (await app.inject('/openapi.json')).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/images', '/v1/images/{id}']));
  });
});

describe('image store (core and SQLite adapter)', () => {
  const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-store-'));
  const limits = { maxBytes: 15 << 20, maxPixels: 5e7, minSide: 32, maxWorkingSide: 2048 };

  it('never shows one tenant the images of another', async () => {
    const root = dir();
    const db = openDatabase(path.join(root, 'db.sqlite'));
    createTenant(db, 'bank-b');
    const images = new ImageStore(new SqliteImageRepository(db), new FolderBlobStore(path.join(root, 'blobs')), limits);
    const a = await images.store('default', { kind: 'bytes', data: photo }, {});
    const b = await images.store('bank-b', { kind: 'bytes', data: photo }, { label: 'b' });
    expect((await images.describe('default', a.id)).id).toBe(a.id);
    await expect(images.describe('bank-b', a.id)).rejects.toThrow(/no image/);
    await expect(images.describe('default', b.id)).rejects.toThrow(/no image/);
    await expect(images.update('default', b.id, { label: 'stolen' })).rejects.toThrow(/no image/);
    await expect(images.delete('default', b.id)).rejects.toThrow(/no image/);
    expect((await images.describe('bank-b', b.id)).label).toBe('b');
    db.close();
  });

  it('erases images whose retention ran out, bytes included', async () => {
    const root = dir();
    const db = openDatabase(path.join(root, 'db.sqlite'));
    let now = new Date('2026-01-01T00:00:00Z');
    const blobs = new FolderBlobStore(path.join(root, 'blobs'));
    const images = new ImageStore(new SqliteImageRepository(db), blobs, limits, () => now);
    const short = await images.store('default', { kind: 'bytes', data: photo }, { ttlSeconds: 60 });
    const kept = await images.store('default', { kind: 'bytes', data: photo }, {});
    now = new Date('2026-01-01T00:01:00Z');
    await expect(images.describe('default', short.id)).rejects.toThrow(/no image/);
    expect(await images.sweepExpired()).toBe(1);
    expect(fs.existsSync(blobs.fileOf(`default/images/${short.id}`))).toBe(false);
    expect((await images.describe('default', kept.id)).id).toBe(kept.id);
    db.close();
  });

  it('keeps its schema across reopenings (migrations run once)', () => {
    const file = path.join(dir(), 'db.sqlite');
    const first = openDatabase(file);
    const applied = first.prepare('SELECT count(*) FROM schema_migrations').pluck().get() as number;
    first.close();
    const db = openDatabase(file);
    expect(applied).toBeGreaterThanOrEqual(2);
    expect(db.prepare('SELECT count(*) FROM schema_migrations').pluck().get()).toBe(applied);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });
});
