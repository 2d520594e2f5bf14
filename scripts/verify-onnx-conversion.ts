/**
 * Checks the ONNX graphs built from face-api weights against face-api itself (tfjs, wasm
 * backend) on real face crops, and times onnxruntime-node inference.
 *
 *   npx tsx scripts/verify-onnx-conversion.ts
 *
 * The helpers are exported for test/onnx-conversion.test.ts.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import sharp, { type Sharp } from 'sharp';
import { buildFaceLandmark68Onnx } from '../src/engine/onnx/faceapi-landmarks.ts';
import { buildFaceRecognitionOnnx } from '../src/engine/onnx/faceapi-recognition.ts';

const require = createRequire(import.meta.url);
const FACEAPI_DIST = require.resolve('@vladmandic/face-api/dist/face-api.node-wasm.js');
export const FACEAPI_MODEL_DIR = join(dirname(FACEAPI_DIST), '..', 'model');
export const SAMPLE_IMAGES = [1, 2, 3, 4, 5, 6].map((i) => join(dirname(FACEAPI_DIST), '..', 'demo', `sample${i}.jpg`));

export const RECOGNITION_SIZE = 150;
export const LANDMARK_SIZE = 112;

// ---------------------------------------------------------------------------------------------
// face-api (tfjs) reference

/** The slice of tfjs / face-api this harness touches; face-api's own typings assume @tensorflow/tfjs. */
interface TfTensor {
  readonly shape: number[];
  data(): Promise<Float32Array>;
  dispose(): void;
}

interface TfModule {
  tensor3d(values: Float32Array | Int32Array, shape: [number, number, number], dtype?: string): TfTensor;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
}

interface FaceApiBox { x: number; y: number; width: number; height: number }

interface FaceApiModule {
  tf: TfModule;
  nets: {
    faceRecognitionNet: { loadFromDisk(dir: string): Promise<void>; computeFaceDescriptor(t: TfTensor): Promise<Float32Array> };
    faceLandmark68Net: { loadFromDisk(dir: string): Promise<void>; forward(t: TfTensor): Promise<TfTensor> };
    ssdMobilenetv1: { loadFromDisk(dir: string): Promise<void> };
    ageGenderNet: { loadFromDisk(dir: string): Promise<void>; forward(t: TfTensor): Promise<{ age: TfTensor; gender: TfTensor }> };
  };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults: number }) => unknown;
  detectAllFaces(t: TfTensor, options: unknown): Promise<Array<{ box: FaceApiBox; score: number }>>;
}

export interface FaceApiReference {
  readonly backend: string;
  /** 128-D descriptor for one HWC RGB 0..255 crop of 150×150. */
  describe(hwc: Float32Array): Promise<Float32Array>;
  /** 136 relative landmark coordinates for one HWC RGB 0..255 crop of 112×112. */
  landmarks(hwc: Float32Array): Promise<Float32Array>;
  /** Age (years) and gender probabilities (male, female) for one HWC RGB 0..255 crop of 112×112. */
  ageGender(hwc: Float32Array): Promise<{ age: number; gender: Float32Array }>;
  /** Face boxes (pixels) in an HWC RGB image. */
  detectFaces(rgb: Uint8Array, width: number, height: number, maxResults: number): Promise<FaceApiBox[]>;
}

export async function loadFaceApiReference(): Promise<FaceApiReference> {
  const faceapi = require(FACEAPI_DIST) as FaceApiModule;
  const { tf } = faceapi;
  await tf.setBackend('wasm');
  await tf.ready();
  await faceapi.nets.faceRecognitionNet.loadFromDisk(FACEAPI_MODEL_DIR);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(FACEAPI_MODEL_DIR);
  await faceapi.nets.ageGenderNet.loadFromDisk(FACEAPI_MODEL_DIR);
  let detectorLoaded = false;

  const withTensor = async <T>(t: TfTensor, fn: (t: TfTensor) => Promise<T>): Promise<T> => {
    try {
      return await fn(t);
    } finally {
      t.dispose();
    }
  };

  return {
    backend: tf.getBackend(),
    describe: (hwc) =>
      withTensor(tf.tensor3d(hwc, [RECOGNITION_SIZE, RECOGNITION_SIZE, 3]), (t) => faceapi.nets.faceRecognitionNet.computeFaceDescriptor(t)),
    landmarks: (hwc) =>
      withTensor(tf.tensor3d(hwc, [LANDMARK_SIZE, LANDMARK_SIZE, 3]), async (t) => {
        const out = await faceapi.nets.faceLandmark68Net.forward(t);
        return withTensor(out, (o) => o.data());
      }),
    ageGender: (hwc) =>
      withTensor(tf.tensor3d(hwc, [LANDMARK_SIZE, LANDMARK_SIZE, 3]), async (t) => {
        const { age, gender } = await faceapi.nets.ageGenderNet.forward(t);
        const [a] = await withTensor(age, (o) => o.data());
        return { age: a, gender: await withTensor(gender, (o) => o.data()) };
      }),
    detectFaces: async (rgb, width, height, maxResults) => {
      if (!detectorLoaded) {
        await faceapi.nets.ssdMobilenetv1.loadFromDisk(FACEAPI_MODEL_DIR);
        detectorLoaded = true;
      }
      const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5, maxResults });
      const t = tf.tensor3d(Int32Array.from(rgb), [height, width, 3], 'int32');
      const found = await withTensor(t, (img) => faceapi.detectAllFaces(img, options));
      return found.map((d) => d.box);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Face crops

export interface FaceCrop {
  readonly label: string;
  /** HWC RGB 0..255, the layout face-api takes. */
  readonly hwc150: Float32Array;
  readonly hwc112: Float32Array;
}

/** Detects faces with face-api's SSD and cuts square crops around them (clamped to the image). */
export async function loadFaceCrops(ref: FaceApiReference, images: readonly string[], facesPerImage: number): Promise<FaceCrop[]> {
  const crops: FaceCrop[] = [];
  for (const file of images) {
    const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`${file}: expected 3 channels, decoded ${info.channels}`);
    const boxes = await ref.detectFaces(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info.width, info.height, facesPerImage);
    for (const [i, box] of boxes.entries()) {
      const side = Math.min(Math.round(Math.max(box.width, box.height)), info.width, info.height);
      const left = clamp(Math.round(box.x + box.width / 2 - side / 2), 0, info.width - side);
      const top = clamp(Math.round(box.y + box.height / 2 - side / 2), 0, info.height - side);
      const crop = (size: number) => readRgb(sharp(file).extract({ left, top, width: side, height: side }).resize(size, size, { fit: 'fill' }));
      crops.push({ label: `${file.split('/').pop()}#${i}`, hwc150: await crop(RECOGNITION_SIZE), hwc112: await crop(LANDMARK_SIZE) });
    }
  }
  return crops;
}

async function readRgb(image: Sharp): Promise<Float32Array> {
  const { data, info } = await image.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels, decoded ${info.channels}`);
  return Float32Array.from(data);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

// ---------------------------------------------------------------------------------------------
// onnxruntime side

/** Packs HWC RGB images of `size`×`size` into one NCHW float32 tensor. */
export function toNchw(images: readonly Float32Array[], size: number): ort.Tensor {
  const plane = size * size;
  const out = new Float32Array(images.length * 3 * plane);
  images.forEach((hwc, n) => {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[(n * 3 + c) * plane + p] = hwc[p * 3 + c];
    }
  });
  return new ort.Tensor('float32', out, [images.length, 3, size, size]);
}

export async function createSession(model: Uint8Array, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

/** Runs a single-input single-output session and splits the output rows. */
export async function runRows(session: ort.InferenceSession, input: ort.Tensor): Promise<Float32Array[]> {
  const result = await session.run({ [session.inputNames[0]]: input });
  const out = result[session.outputNames[0]];
  const [rows, cols] = out.dims;
  const data = out.data as Float32Array;
  return Array.from({ length: rows }, (_, r) => data.slice(r * cols, (r + 1) * cols));
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

// ---------------------------------------------------------------------------------------------
// CLI

const COSINE_MIN = 0.9999;
const LANDMARK_MAX_DIFF = 1e-3;

async function main(): Promise<void> {
  let t0 = performance.now();
  const recognitionModel = buildFaceRecognitionOnnx(FACEAPI_MODEL_DIR);
  const recognitionBuildMs = performance.now() - t0;
  t0 = performance.now();
  const landmarkModel = buildFaceLandmark68Onnx(FACEAPI_MODEL_DIR);
  const landmarkBuildMs = performance.now() - t0;
  console.log(`built face_recognition ONNX: ${(recognitionModel.byteLength / 1e6).toFixed(1)} MB in ${recognitionBuildMs.toFixed(0)} ms`);
  console.log(`built face_landmark_68 ONNX: ${(landmarkModel.byteLength / 1e6).toFixed(1)} MB in ${landmarkBuildMs.toFixed(0)} ms`);

  const ref = await loadFaceApiReference();
  console.log(`face-api reference backend: ${ref.backend}`);
  const crops = await loadFaceCrops(ref, SAMPLE_IMAGES, 2);
  console.log(`${crops.length} face crops from ${SAMPLE_IMAGES.length} sample images\n`);

  const recognition = await createSession(recognitionModel, 1);
  const landmarks = await createSession(landmarkModel, 1);

  let ok = true;
  let worstCos = 1;
  let worstEmbDiff = 0;
  let worstLmDiff = 0;
  let tfjsRecMs = 0;
  let tfjsLmMs = 0;
  for (const crop of crops) {
    let t = performance.now();
    const refEmb = await ref.describe(crop.hwc150);
    tfjsRecMs += performance.now() - t;
    t = performance.now();
    const refLm = await ref.landmarks(crop.hwc112);
    tfjsLmMs += performance.now() - t;
    const [emb] = await runRows(recognition, toNchw([crop.hwc150], RECOGNITION_SIZE));
    const [lm] = await runRows(landmarks, toNchw([crop.hwc112], LANDMARK_SIZE));
    const cos = cosine(emb, refEmb);
    const embDiff = maxAbsDiff(emb, refEmb);
    const lmDiff = maxAbsDiff(lm, refLm);
    worstCos = Math.min(worstCos, cos);
    worstEmbDiff = Math.max(worstEmbDiff, embDiff);
    worstLmDiff = Math.max(worstLmDiff, lmDiff);
    const pass = cos > COSINE_MIN && lmDiff < LANDMARK_MAX_DIFF;
    ok &&= pass;
    console.log(`${crop.label.padEnd(14)} embedding cos=${cos.toFixed(8)} maxAbs=${embDiff.toExponential(2)}  landmarks maxAbs=${lmDiff.toExponential(2)}  ${pass ? 'ok' : 'MISMATCH'}`);
  }
  console.log(`\nworst: embedding cosine ${worstCos.toFixed(8)}, embedding max abs diff ${worstEmbDiff.toExponential(2)}, landmark max abs diff ${worstLmDiff.toExponential(2)}`);

  // Batched inference must give the same rows as one-by-one inference.
  const pair = crops.slice(0, 2);
  const batchEmb = await runRows(recognition, toNchw(pair.map((c) => c.hwc150), RECOGNITION_SIZE));
  const batchLm = await runRows(landmarks, toNchw(pair.map((c) => c.hwc112), LANDMARK_SIZE));
  let batchDiff = 0;
  for (const [i, c] of pair.entries()) {
    const [single] = await runRows(recognition, toNchw([c.hwc150], RECOGNITION_SIZE));
    const [singleLm] = await runRows(landmarks, toNchw([c.hwc112], LANDMARK_SIZE));
    batchDiff = Math.max(batchDiff, maxAbsDiff(single, batchEmb[i]), maxAbsDiff(singleLm, batchLm[i]));
  }
  console.log(`batch-2 vs batch-1 max abs diff: ${batchDiff.toExponential(2)}`);

  console.log(`\ntfjs wasm reference: ${(tfjsRecMs / crops.length).toFixed(1)} ms/face recognition, ${(tfjsLmMs / crops.length).toFixed(1)} ms/face landmarks (incl. tensor upload)`);
  console.log('onnxruntime-node inference, ms per face (mean of timed runs after warm-up):');
  for (const threads of [1, 2]) {
    const rec = await createSession(recognitionModel, threads);
    const lm = await createSession(landmarkModel, threads);
    for (const batch of [1, 2]) {
      const images = Array.from({ length: batch }, (_, i) => crops[i % crops.length]);
      const recMs = await timePerFace(rec, toNchw(images.map((c) => c.hwc150), RECOGNITION_SIZE), batch);
      const lmMs = await timePerFace(lm, toNchw(images.map((c) => c.hwc112), LANDMARK_SIZE), batch);
      console.log(`  threads=${threads} batch=${batch}: recognition ${recMs.toFixed(2)} ms, landmarks ${lmMs.toFixed(2)} ms`);
    }
    await rec.release();
    await lm.release();
  }

  console.log(ok ? '\nPASS' : '\nFAIL');
  if (!ok) process.exitCode = 1;
}

async function timePerFace(session: ort.InferenceSession, input: ort.Tensor, batch: number): Promise<number> {
  const feeds = { [session.inputNames[0]]: input };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  const runs = 30;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await session.run(feeds);
  return (performance.now() - t0) / runs / batch;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
