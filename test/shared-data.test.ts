import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { createServices } from '../src/bootstrap.ts';
import type { FaceService } from '../src/core/face-service.ts';
import { sharedDataDir } from './helpers/images.ts';
import { loadLfw } from '../bench/lib/lfw.ts';
import { auc } from '../bench/lib/metrics.ts';
import { pairSimilarity } from '../bench/lib/embed-set.ts';
import type { Services } from '../src/bootstrap.ts';
import { ChallengeService } from '../src/core/challenges.ts';
import { drift, encodeClip } from '../bench/lib/video-clip.ts';

const dataDir = sharedDataDir();
if (!dataDir) {
  console.warn('shared-data tests skipped: set FACEPROOF_TEST_DATA to the evaluation data folder (../shared/data) to run them');
}

describe.skipIf(!dataDir)('on the shared evaluation photos (FACEPROOF_TEST_DATA)', () => {
  let service: FaceService;
  beforeAll(async () => { ({ service } = await createServices(loadConfig({ FACEPROOF_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-test-')) }))); });

  const facesIn = async (file: string) => (await service.detect({ kind: 'bytes', data: fs.readFileSync(file) }, { autoRotate: false, returnTemplates: false, returnFaceImages: false })).faces.length;

  it('finds every face of the multi-face scenes, none in the no-face scenes, one in the portraits', async () => {
    const scenes = path.join(dataDir!, 'quality/scenes');
    // Counted by eye on the photographs: every visible face in the couple and group_2; group_1 has 27 people, of whom the detector finds 26.
    expect(await facesIn(path.join(scenes, 'multiple_faces__couple.jpg'))).toBe(2);
    expect(await facesIn(path.join(scenes, 'multiple_faces__group_2.jpg'))).toBe(5);
    expect(await facesIn(path.join(scenes, 'multiple_faces__group_1.jpg'))).toBeGreaterThanOrEqual(25);
    expect(await facesIn(path.join(scenes, 'multiple_faces__img3.jpg'))).toBeGreaterThanOrEqual(30);
    for (const f of ['no_face__cat_large.jpg', 'no_face__cats.jpg', 'no_face__park.jpg']) expect(await facesIn(path.join(scenes, f))).toBe(0);
    for (const f of ['single_face_reference__img11.jpg', 'single_face_reference__lady.jpg']) expect(await facesIn(path.join(scenes, f))).toBe(1);
  });

  it('separates LFW genuine and impostor pairs of fold 1, and the shipped decisions behave as calibrated', async () => {
    const { protocol, imageDir } = loadLfw(dataDir!);
    const pairs = protocol.pairs.filter((p) => p.fold === 0);
    const vectors = new Map<string, Float32Array>();
    for (const file of new Set(pairs.flatMap((p) => [p.a, p.b]))) {
      const { image, faces } = await service.analyze({ kind: 'bytes', data: fs.readFileSync(path.join(imageDir, file)) });
      expect(faces.length).toBeGreaterThan(0);
      vectors.set(file, await service.embed(image, faces[0]));
    }
    const sim = (a: string, b: string) => pairSimilarity(vectors.get(a), vectors.get(b));
    const genuine = pairs.filter((p) => p.same).map((p) => sim(p.a, p.b));
    const impostor = pairs.filter((p) => !p.same).map((p) => sim(p.a, p.b));
    expect(auc(genuine, impostor)).toBeGreaterThan(0.99);
    const decide = (s: number) => service.calibration.assess(s, 'SELFIE', 'SELFIE').decision;
    expect(genuine.filter((s) => decide(s) === 'match').length / genuine.length).toBeGreaterThan(0.7);
    expect(impostor.filter((s) => decide(s) === 'match').length).toBeLessThanOrEqual(1);
  });
});

describe.skipIf(!dataDir)('challenge–response with LFW photos of one person turned left, frontal and right (FACEPROOF_TEST_DATA)', () => {
  let services: Services;
  const views: { left?: Buffer; frontal?: Buffer; right?: Buffer; stranger?: Buffer } = {};
  beforeAll(async () => {
    services = await createServices(loadConfig({ FACEPROOF_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-test-')) }));
    const dir = path.join(dataDir!, 'verify/lfw_original150_pairs');
    // The first person (alphabetically, among those with many photos) with a measured turn each way and a frontal photo.
    for (const person of fs.readdirSync(dir).sort()) {
      const files = fs.readdirSync(path.join(dir, person)).sort();
      if (files.length < 6) continue;
      const found: typeof views = {};
      for (const f of files) {
        const bytes = fs.readFileSync(path.join(dir, person, f));
        const [face] = (await services.service.detect({ kind: 'bytes', data: bytes }, { autoRotate: false, returnTemplates: false, returnFaceImages: false })).faces;
        if (!face) continue;
        const yaw = face.face.pose.yaw;
        if (yaw > 20) found.left ??= bytes;
        else if (yaw < -20) found.right ??= bytes;
        else if (Math.abs(yaw) < 6) found.frontal ??= bytes;
      }
      if (found.left && found.right && found.frontal) {
        Object.assign(views, found);
        break;
      }
      views.stranger ??= fs.readFileSync(path.join(dir, person, files[0]));
    }
  }, 300_000);

  const scripted = () => { const draws = [0, 0, 1]; return new ChallengeService(services.liveness, { ttlSeconds: 60, turnDegrees: 15, closedEyes: 0.3 }, undefined, () => draws.shift() ?? 0); };
  const clip = async (...photos: Buffer[]) => encodeClip((await Promise.all(photos.map((p) => drift(p, 5)))).flat(), 5);

  it('found one person turned both ways and frontal', () => {
    expect(views.left && views.frontal && views.right && views.stranger).toBeTruthy();
  });

  it('left, frontal, right performs [turn_left, turn_right]; right, frontal, left does not; a stranger midway fails', async () => {
    const ok = scripted();
    const c = await ok.create('default');
    const good = await ok.verify('default', c.id, c.nonce, { bytes: await clip(views.left!, views.frontal!, views.right!) }, 'LOW');
    expect(good.observed).toEqual(['turn_left', 'neutral', 'turn_right']);
    expect(good.sameIdentity).toBe(true);
    expect(good.status).toBe(good.livenessScore >= services.liveness.threshold('LOW') ? 'SUCCESS' : 'SPOOF');

    const reversed = scripted();
    const d = await reversed.create('default');
    expect(await reversed.verify('default', d.id, d.nonce, { bytes: await clip(views.right!, views.frontal!, views.left!) }, 'LOW')).toMatchObject({ status: 'FAILED', reason: 'gestures_not_performed' });

    const swapped = scripted();
    const e = await swapped.create('default');
    expect(await swapped.verify('default', e.id, e.nonce, { bytes: await clip(views.left!, views.stranger!, views.right!) }, 'LOW')).toMatchObject({ status: 'FAILED', reason: 'identity_changed' });
  }, 120_000);
});
