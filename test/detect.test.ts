import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { createTestApp } from './helpers/app.ts';
import { b64, blankImage, samplePhoto, selfieCrop } from './helpers/images.ts';

let app: FastifyInstance;
beforeAll(async () => { ({ app } = await createTestApp()); });
afterAll(async () => { await app.close(); });

const detect = (payload: object) => app.inject({ method: 'POST', url: '/v1/detect', payload });

describe('POST /v1/detect', () => {
  it('finds every face of a group photo, largest first, with landmarks inside the box and a plausible pose', async () => {
    const res = await detect({ image: { base64: b64(samplePhoto(5)) } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.image).toEqual({ width: 1920, height: 1398 });
    expect(body.faces.length).toBeGreaterThanOrEqual(3);
    const areas = body.faces.map((f: { box: { width: number; height: number } }) => f.box.width * f.box.height);
    expect([...areas].sort((a, b) => b - a)).toEqual(areas);
    for (const face of body.faces) {
      expect(face.confidence).toBeGreaterThan(0.7);
      const { x, y, width, height } = face.box;
      for (const [px, py] of Object.values(face.landmarks) as Array<[number, number]>) {
        expect(px).toBeGreaterThan(x - width * 0.2);
        expect(px).toBeLessThan(x + width * 1.2);
        expect(py).toBeGreaterThan(y - height * 0.2);
        expect(py).toBeLessThan(y + height * 1.2);
      }
      expect(face.landmarks.left_eye[0]).toBeLessThan(face.landmarks.right_eye[0]);
      expect(face.inter_eye_distance).toBeGreaterThan(20);
      expect(Math.abs(face.pose.yaw)).toBeLessThan(90);
      expect(face.template).toBeUndefined();
    }
    expect(res.headers['x-request-id']).toBe(body.request_id);
  });

  it('returns templates and aligned face images on request', async () => {
    const res = await detect({ image: { base64: b64(await selfieCrop(3, 370, 200)) }, return_templates: true, return_face_images: true });
    const face = res.json().faces[0];
    expect(typeof face.template).toBe('string');
    const chip = await sharp(Buffer.from(face.face_image, 'base64')).metadata();
    expect([chip.format, chip.width, chip.height]).toEqual(['jpeg', 112, 112]);
  });

  it('accepts a multipart file, a data: URL and URL-safe base64, and gives the same faces', async () => {
    const photo = await selfieCrop(3, 370, 200);
    const boundary = 'faceproofboundary';
    const multipart = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      photo,
      Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="return_templates"\r\n\r\ntrue\r\n--${boundary}--\r\n`),
    ]);
    const viaFile = await app.inject({ method: 'POST', url: '/v1/detect', payload: multipart, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    const viaDataUrl = await detect({ image: { base64: `data:image/jpeg;base64,${b64(photo)}` } });
    const viaUrlSafe = await detect({ image: { base64: photo.toString('base64url') } });
    expect(viaFile.statusCode).toBe(200);
    expect(viaFile.json().faces[0].template).toBeDefined();
    const box = viaFile.json().faces[0].box;
    expect(viaDataUrl.json().faces[0].box).toEqual(box);
    expect(viaUrlSafe.json().faces[0].box).toEqual(box);
  });

  it('applies EXIF orientation: a sideways-stored photo tagged "rotate 90°" is read upright', async () => {
    const upright = await selfieCrop(3, 370, 200);
    // Store the pixels turned 90° counter-clockwise and tag them with orientation 6 (display turned 90° clockwise).
    const stored = await sharp(upright).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 92 }).toBuffer();
    const a = (await detect({ image: { base64: b64(upright) } })).json();
    const b = (await detect({ image: { base64: b64(stored) } })).json();
    expect(b.image).toEqual({ width: 640, height: 480 });
    expect(b.faces.length).toBe(a.faces.length);
    expect(Math.abs(b.faces[0].box.x - a.faces[0].box.x)).toBeLessThan(6);
    expect(Math.abs(b.faces[0].pose.roll)).toBeLessThan(30);
  });

  it('finds a face lying on its side surely with auto_rotate, and says how the image was turned', async () => {
    const turned = await sharp(await selfieCrop(3, 830, 100)).rotate(90).jpeg().toBuffer();
    const plain = (await detect({ image: { base64: b64(turned) } })).json();
    const rotated = (await detect({ image: { base64: b64(turned) }, auto_rotate: true })).json();
    // Upright, the zoomed-out pass (for faces filling the frame) may still see it, less surely.
    for (const f of plain.faces) expect(f.confidence).toBeLessThan(rotated.faces[0].confidence);
    expect(rotated.faces.length).toBe(1);
    expect(rotated.faces[0].rotation).toBe(270);
    // Landmarks are in the coordinates of the image as sent, where the top of the head points right.
    const f = rotated.faces[0];
    expect(f.landmarks.left_eye[0]).toBeGreaterThan(f.landmarks.mouth_left[0]);
    expect(Math.abs(Math.abs(f.pose.roll) - 90)).toBeLessThan(25);
  });

  it('mirroring a face negates yaw and roll, and keeps pitch', async () => {
    const photo = await selfieCrop(3, 370, 200);
    const mirrored = await sharp(photo).flop().jpeg({ quality: 92 }).toBuffer();
    const a = (await detect({ image: { base64: b64(photo) } })).json().faces[0].pose;
    const b = (await detect({ image: { base64: b64(mirrored) } })).json().faces[0].pose;
    expect(b.yaw).toBeCloseTo(-a.yaw, -1);
    expect(b.roll).toBeCloseTo(-a.roll, -1);
    expect(b.pitch).toBeCloseTo(a.pitch, -1);
  });

  it('returns an empty list for an image without faces', async () => {
    const res = await detect({ image: { base64: b64(await blankImage(400, 300)) } });
    expect(res.statusCode).toBe(200);
    expect(res.json().faces).toEqual([]);
  });
});
