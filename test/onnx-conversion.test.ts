import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { attr, OnnxGraphBuilder } from '../src/engine/onnx/onnx-writer.ts';
import { buildFaceLandmark68Onnx } from '../src/engine/onnx/faceapi-landmarks.ts';
import { buildFaceRecognitionOnnx } from '../src/engine/onnx/faceapi-recognition.ts';
import { buildAgeGenderOnnx } from '../src/engine/onnx/faceapi-age-gender.ts';
import {
  cosine,
  createSession,
  FACEAPI_MODEL_DIR,
  type FaceApiReference,
  type FaceCrop,
  LANDMARK_SIZE,
  loadFaceApiReference,
  loadFaceCrops,
  maxAbsDiff,
  RECOGNITION_SIZE,
  runRows,
  SAMPLE_IMAGES,
  toNchw,
} from '../scripts/verify-onnx-conversion.ts';

describe('ONNX models built from face-api weights', () => {
  let ref: FaceApiReference;
  let crops: FaceCrop[];
  let recognition: ort.InferenceSession;
  let landmarks: ort.InferenceSession;
  let ageGender: ort.InferenceSession;

  beforeAll(async () => {
    recognition = await createSession(buildFaceRecognitionOnnx(FACEAPI_MODEL_DIR), 1);
    landmarks = await createSession(buildFaceLandmark68Onnx(FACEAPI_MODEL_DIR), 1);
    ageGender = await createSession(buildAgeGenderOnnx(FACEAPI_MODEL_DIR), 1);
    ref = await loadFaceApiReference();
    // Two real faces from one sample photo: enough to exercise batching without slowing the suite.
    crops = await loadFaceCrops(ref, SAMPLE_IMAGES.slice(0, 1), 2);
  }, 30_000);

  it('found real faces to compare on', () => {
    expect(crops).toHaveLength(2);
  });

  it('recognition embedding matches face-api computeFaceDescriptor', async () => {
    for (const crop of crops) {
      const expected = await ref.describe(crop.hwc150);
      const [actual] = await runRows(recognition, toNchw([crop.hwc150], RECOGNITION_SIZE));
      expect(actual).toHaveLength(128);
      expect(cosine(actual, expected)).toBeGreaterThan(0.9999);
      expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-4);
    }
  });

  it('68-point landmarks match face-api forward()', async () => {
    for (const crop of crops) {
      const expected = await ref.landmarks(crop.hwc112);
      const [actual] = await runRows(landmarks, toNchw([crop.hwc112], LANDMARK_SIZE));
      expect(actual).toHaveLength(136);
      expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-3);
    }
  });

  it('age and gender match face-api AgeGenderNet forward()', async () => {
    for (const crop of crops) {
      const expected = await ref.ageGender(crop.hwc112);
      const out = await ageGender.run({ input: toNchw([crop.hwc112], LANDMARK_SIZE) });
      const age = (out.age.data as Float32Array)[0];
      expect(Math.abs(age - expected.age)).toBeLessThan(1e-3);
      const logits = out.gender.data as Float32Array;
      const female = Math.exp(logits[1]) / (Math.exp(logits[0]) + Math.exp(logits[1]));
      expect(Math.abs(female - expected.gender[1])).toBeLessThan(1e-4);
    }
  });

  it('batched inference gives the same rows as single-face inference', async () => {
    const batchEmb = await runRows(recognition, toNchw(crops.map((c) => c.hwc150), RECOGNITION_SIZE));
    const batchLm = await runRows(landmarks, toNchw(crops.map((c) => c.hwc112), LANDMARK_SIZE));
    expect(batchEmb).toHaveLength(crops.length);
    for (const [i, crop] of crops.entries()) {
      const [emb] = await runRows(recognition, toNchw([crop.hwc150], RECOGNITION_SIZE));
      const [lm] = await runRows(landmarks, toNchw([crop.hwc112], LANDMARK_SIZE));
      expect(maxAbsDiff(batchEmb[i], emb)).toBeLessThan(1e-5);
      expect(maxAbsDiff(batchLm[i], lm)).toBeLessThan(1e-5);
    }
  });
});

describe('OnnxGraphBuilder', () => {
  // The face-api graphs never emit float or negative-int attributes; cover those encodings here.
  it('encodes float, negative int and string attributes that onnxruntime accepts', async () => {
    const b = new OnnxGraphBuilder('attrs');
    const x = b.addInput('x', ['N', 4]);
    const leaky = b.op('LeakyRelu', [x], { alpha: attr.float(0.5) });
    const pads = b.addInt64Initializer('pads', [4], [0, 0, 0, 1]);
    const padded = b.op('Pad', [leaky, pads], { mode: attr.string('constant') });
    b.addNode('ReduceMean', [padded], ['y'], { axes: attr.ints([-1]), keepdims: attr.int(1) });
    b.addOutput('y', ['N', 1]);

    const session = await ort.InferenceSession.create(b.toModelBytes());
    const result = await session.run({ x: new ort.Tensor('float32', Float32Array.of(-2, 2, 4, 6, 1, 1, 1, 1), [2, 4]) });
    expect(result.y.dims).toEqual([2, 1]);
    const [a, c] = result.y.data as Float32Array;
    expect(a).toBeCloseTo((-1 + 2 + 4 + 6) / 5, 6); // LeakyRelu(-2, alpha 0.5) = -1; the pad adds a 0
    expect(c).toBeCloseTo(4 / 5, 6);
  });
});
