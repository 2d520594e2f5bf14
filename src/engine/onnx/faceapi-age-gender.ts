/**
 * ONNX re-implementation of face-api.js AgeGenderNet (`age_gender_model`): a TinyXception backbone
 * (entry conv, two reduction blocks, two residual main blocks, an exit reduction block and a
 * separable conv), a 7×7 average pool and two fully connected heads, built from the shipped weights.
 *
 * Contract of the produced model:
 *   input  "input"  float32 [N, 3, 112, 112]  RGB, 0..255, NCHW
 *   output "age"    float32 [N, 1]            years (regression)
 *   output "gender" float32 [N, 2]            logits (male, female)
 */
import { attr, OnnxGraphBuilder } from './onnx-writer.ts';
import { addFaceApiNormalization, loadFaceApiWeights, validOutputSize, WeightReader } from './faceapi-weights.ts';
import { FaceApiLayers, type Feature } from './faceapi-layers.ts';

const MODEL_NAME = 'age_gender_model';
const INPUT_SIZE = 112;
const MAIN_BLOCKS = 2;

export function buildAgeGenderOnnx(modelDir: string): Uint8Array {
  const weights = new WeightReader(loadFaceApiWeights(modelDir, MODEL_NAME), MODEL_NAME);
  const b = new OnnxGraphBuilder('faceapi_age_gender');
  const l = new FaceApiLayers(b, weights);

  const input = b.addInput('input', ['N', 3, INPUT_SIZE, INPUT_SIZE]);
  let x: Feature = { name: addFaceApiNormalization(b, input), channels: 3, size: INPUT_SIZE };
  x = l.relu(l.plainConv(x, 'entry_flow/conv_in', 2));
  x = reductionBlock(l, x, 'entry_flow/reduction_block_0', false);
  x = reductionBlock(l, x, 'entry_flow/reduction_block_1', true);
  for (let i = 0; i < MAIN_BLOCKS; i++) {
    const p = `middle_flow/main_block_${i}`;
    let out = l.separableConv(l.relu(x), `${p}/separable_conv0`, 1);
    out = l.separableConv(l.relu(out), `${p}/separable_conv1`, 1);
    out = l.separableConv(l.relu(out), `${p}/separable_conv2`, 1);
    x = l.sum([out, x]);
  }
  x = reductionBlock(l, x, 'exit_flow/reduction_block', true);
  x = l.relu(l.separableConv(x, 'exit_flow/separable_conv', 1));

  if (validOutputSize(x.size, 7, 2) !== 1) throw new Error(`${MODEL_NAME}: expected a 1×1 map before the heads, got ${x.size}`);
  const pooled = b.op('AveragePool', [x.name], { kernel_shape: attr.ints([7, 7]), strides: attr.ints([2, 2]) });
  const flat = b.op('Flatten', [pooled], { axis: attr.int(1) });
  for (const [head, width] of [['age', 1], ['gender', 2]] as const) {
    const w = weights.take(`fc/${head}/weights`, [x.channels, width]);
    const bias = weights.take(`fc/${head}/bias`, [width]);
    b.addNode('Gemm', [flat, b.addInitializer(`fc/${head}/weights`, w.shape, w.data), b.addInitializer(`fc/${head}/bias`, bias.shape, bias.data)], [head]);
    b.addOutput(head, ['N', width]);
  }
  weights.assertAllUsed();
  return b.toModelBytes();
}

/** Two separable convs and a stride-2 max pool, plus a stride-2 1×1 conv of the input as the shortcut. */
function reductionBlock(l: FaceApiLayers, x: Feature, prefix: string, activateInput: boolean): Feature {
  let out = activateInput ? l.relu(x) : x;
  out = l.separableConv(out, `${prefix}/separable_conv0`, 1);
  out = l.separableConv(l.relu(out), `${prefix}/separable_conv1`, 1);
  out = l.maxPoolSame(out, 3, 2);
  return l.sum([out, l.plainConv(x, `${prefix}/expansion_conv`, 2)]);
}
