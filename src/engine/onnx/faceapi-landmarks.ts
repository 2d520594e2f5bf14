/**
 * ONNX re-implementation of face-api.js FaceLandmark68Net (`face_landmark_68_model`):
 * four densely connected blocks of depthwise-separable convs, a 7×7 average pool and a
 * fully connected layer, built from the shipped tfjs weights.
 *
 * Contract of the produced model:
 *   input  "input"     float32 [N, 3, 112, 112]  RGB, 0..255, NCHW (no normalisation needed)
 *   output "landmarks" float32 [N, 136]          x0, y0, x1, y1, … x67, y67 as fractions
 *                                                (0..1, may overshoot slightly) of the square input
 * For a square input this equals face-api's `forward()` output: its postProcess only
 * shifts/rescales for padded non-square inputs, which is the identity here.
 */
import { attr, OnnxGraphBuilder } from './onnx-writer.ts';
import { addFaceApiNormalization, loadFaceApiWeights, validOutputSize, WeightReader } from './faceapi-weights.ts';
import { FaceApiLayers, type Feature } from './faceapi-layers.ts';

const MODEL_NAME = 'face_landmark_68_model';
const INPUT_SIZE = 112;
const LANDMARK_VALUES = 136;

export function buildFaceLandmark68Onnx(modelDir: string): Uint8Array {
  const weights = new WeightReader(loadFaceApiWeights(modelDir, MODEL_NAME), MODEL_NAME);
  const b = new OnnxGraphBuilder('faceapi_face_landmark_68');
  const net = new LandmarkGraph(b, weights);

  const input = b.addInput('input', ['N', 3, INPUT_SIZE, INPUT_SIZE]);
  let x: Feature = { name: addFaceApiNormalization(b, input), channels: 3, size: INPUT_SIZE };

  x = net.denseBlock4(x, 'dense0', true);
  x = net.denseBlock4(x, 'dense1', false);
  x = net.denseBlock4(x, 'dense2', false);
  x = net.denseBlock4(x, 'dense3', false);

  const poolSize = validOutputSize(x.size, 7, 2);
  // TF flattens NHWC and we flatten NCHW; the orders only coincide because the pool leaves 1×1.
  if (poolSize !== 1) throw new Error(`${MODEL_NAME}: expected a 1×1 map before the fc layer, got ${poolSize}×${poolSize}`);
  const pooled = b.op('AveragePool', [x.name], { kernel_shape: attr.ints([7, 7]), strides: attr.ints([2, 2]) });
  const flat = b.op('Flatten', [pooled], { axis: attr.int(1) });

  const fcW = weights.take('fc/weights', [x.channels, LANDMARK_VALUES]);
  const fcB = weights.take('fc/bias', [LANDMARK_VALUES]);
  b.addNode('Gemm', [flat, b.addInitializer('fc/weights', fcW.shape, fcW.data), b.addInitializer('fc/bias', fcB.shape, fcB.data)], ['landmarks']);
  b.addOutput('landmarks', ['N', LANDMARK_VALUES]);

  weights.assertAllUsed();
  return b.toModelBytes();
}

class LandmarkGraph {
  private readonly layers: FaceApiLayers;

  constructor(b: OnnxGraphBuilder, weights: WeightReader) {
    this.layers = new FaceApiLayers(b, weights);
  }

  /**
   * face-api denseBlock4: a stride-2 entry conv (plain conv in the first block, separable
   * otherwise), then three separable convs, each fed the relu of the sum of all earlier outputs.
   */
  denseBlock4(x: Feature, prefix: string, isFirst: boolean): Feature {
    const l = this.layers;
    const c0 = l.relu(isFirst ? l.plainConv(x, `${prefix}/conv0`, 2) : l.separableConv(x, `${prefix}/conv0`, 2));
    const c1 = l.separableConv(c0, `${prefix}/conv1`, 1);
    const c2 = l.separableConv(l.relu(l.sum([c0, c1])), `${prefix}/conv2`, 1);
    const c3 = l.separableConv(l.relu(l.sum([c0, c1, c2])), `${prefix}/conv3`, 1);
    return l.relu(l.sum([c0, c1, c2, c3]));
  }
}
