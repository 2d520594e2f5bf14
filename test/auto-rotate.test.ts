import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../src/config.ts';
import { FaceEngine } from '../src/engine/face-engine.ts';
import { Calibrator } from '../src/core/calibration.ts';
import { loadImage } from '../src/core/image-input.ts';
import { loadLfw } from '../bench/lib/lfw.ts';
import { sharedDataDir } from './helpers/images.ts';

const dataDir = sharedDataDir();
if (!dataDir) {
  console.warn('auto-rotate tests on real photos skipped: set FACEPROOF_TEST_DATA to the evaluation data folder (../shared/data) to run them');
}

describe.skipIf(!dataDir)('auto-rotation and plausible faces on LFW photos (FACEPROOF_TEST_DATA)', () => {
  const config = loadConfig();
  let engine: FaceEngine;
  let calibrator: Calibrator;
  beforeAll(async () => {
    engine = await FaceEngine.load(config.pipeline, config.threads);
    calibrator = Calibrator.fromFile(config.calibrationFile, config.thresholds);
  });
  afterAll(async () => { await engine?.close(); });

  const analyze = async (bytes: Buffer, autoRotate: boolean) => {
    const image = await loadImage({ kind: 'bytes', data: bytes }, config.image, 'image');
    const faces = await engine.analyze(image, { autoRotate });
    return { image, faces, vector: faces[0] && (await engine.embed(image, faces[0])) };
  };
  const decide = (a: Float32Array, b: Float32Array) => calibrator.assess(a.reduce((s, v, i) => s + v * b[i], 0), 'SELFIE', 'SELFIE');

  it('turns a photo lying on its side (no EXIF) upright, and it still matches its upright original and partner', async () => {
    const { protocol, imageDir } = loadLfw(dataDir!);
    const pair = protocol.pairs.find((p) => p.same)!;
    const upright = fs.readFileSync(path.join(imageDir, pair.a));
    const sideways = await sharp(upright).rotate(90).png().toBuffer();
    const original = await analyze(upright, false);
    const partner = await analyze(fs.readFileSync(path.join(imageDir, pair.b)), false);
    const turned = await analyze(sideways, true);
    // Turned 90° clockwise, the photo is made upright by three quarter turns clockwise (270°).
    expect(turned.faces[0].rotation).toBe(3);
    expect([turned.image.width, turned.image.height]).toEqual([original.image.height, original.image.width]);
    // The face's box is reported in the image as sent: the original's box turned 90° clockwise.
    const o = original.faces[0].box, t = turned.faces[0].box;
    expect(Math.abs(t.x - (original.image.height - o.y - o.height))).toBeLessThan(4);
    expect(Math.abs(t.y - o.x)).toBeLessThan(4);
    expect(decide(turned.vector!, original.vector!).similarity).toBeGreaterThan(0.95);
    expect(decide(turned.vector!, partner.vector!).decision).toBe(decide(original.vector!, partner.vector!).decision);
  });

  it('keeps an upright photo as sent, and reports the hand of Tony_Blair_0018 as no face', async () => {
    const { imageDir } = loadLfw(dataDir!);
    const { faces } = await analyze(fs.readFileSync(path.join(imageDir, 'Tony_Blair/Tony_Blair_0018.jpg')), true);
    expect(faces.length).toBe(1);
    expect(faces[0].rotation).toBe(0);
    expect(faces[0].interEyeDistance).toBeGreaterThan(15);
  });
});
