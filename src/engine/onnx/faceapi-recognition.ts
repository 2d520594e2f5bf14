/**
 * ONNX re-implementation of face-api.js FaceRecognitionNet (the dlib-style ResNet-29
 * descriptor net, `face_recognition_model`), built from the shipped tfjs weights.
 *
 * Contract of the produced model:
 *   input  "input"     float32 [N, 3, 150, 150]  RGB, 0..255, NCHW (no normalisation needed)
 *   output "embedding" float32 [N, 128]          face descriptor, NOT L2-normalised
 * Matches face-api's `computeFaceDescriptor` on a 150×150 tensor (which it feeds unresized).
 */
import { attr, OnnxGraphBuilder } from './onnx-writer.ts';
import {
  addFaceApiNormalization,
  hwioToOihw,
  loadFaceApiWeights,
  tfSamePadding,
  validOutputSize,
  WeightReader,
} from './faceapi-weights.ts';

const MODEL_NAME = 'face_recognition_model';
const INPUT_SIZE = 150;
const DESCRIPTOR_SIZE = 128;

/** A tensor in the graph plus the static facts the builder needs to reproduce face-api's shape logic. */
interface Feature {
  readonly name: string;
  readonly channels: number;
  readonly size: number; // square spatial size
}

export function buildFaceRecognitionOnnx(modelDir: string): Uint8Array {
  const weights = new WeightReader(loadFaceApiWeights(modelDir, MODEL_NAME), MODEL_NAME);
  const b = new OnnxGraphBuilder('faceapi_face_recognition');
  const net = new RecognitionGraph(b, weights);

  const input = b.addInput('input', ['N', 3, INPUT_SIZE, INPUT_SIZE]);
  let x: Feature = { name: addFaceApiNormalization(b, input), channels: 3, size: INPUT_SIZE };

  x = net.convDown(x, 'conv32_down');
  x = net.maxPool(x, 3, 2);
  x = net.residual(x, 'conv32_1');
  x = net.residual(x, 'conv32_2');
  x = net.residual(x, 'conv32_3');

  x = net.residualDown(x, 'conv64_down');
  x = net.residual(x, 'conv64_1');
  x = net.residual(x, 'conv64_2');
  x = net.residual(x, 'conv64_3');

  x = net.residualDown(x, 'conv128_down');
  x = net.residual(x, 'conv128_1');
  x = net.residual(x, 'conv128_2');

  x = net.residualDown(x, 'conv256_down');
  x = net.residual(x, 'conv256_1');
  x = net.residual(x, 'conv256_2');
  x = net.residualDown(x, 'conv256_down_out');

  const pooled = b.op('ReduceMean', [x.name], { axes: attr.ints([2, 3]), keepdims: attr.int(0) }, 'global_avg');
  const fc = weights.take('fc', [x.channels, DESCRIPTOR_SIZE]);
  const fcWeight = b.addInitializer('fc', fc.shape, fc.data);
  b.addNode('MatMul', [pooled, fcWeight], ['embedding']);
  b.addOutput('embedding', ['N', DESCRIPTOR_SIZE]);

  weights.assertAllUsed();
  return b.toModelBytes();
}

class RecognitionGraph {
  constructor(private readonly b: OnnxGraphBuilder, private readonly weights: WeightReader) {}

  /** 3×3 stride-1 'same' conv + scale + relu. */
  conv(x: Feature, prefix: string): Feature {
    return this.convLayer(x, prefix, 1, true, 'same');
  }

  convNoRelu(x: Feature, prefix: string): Feature {
    return this.convLayer(x, prefix, 1, false, 'same');
  }

  /** Stride-2 'valid' conv + scale + relu. */
  convDown(x: Feature, prefix: string): Feature {
    return this.convLayer(x, prefix, 2, true, 'valid');
  }

  maxPool(x: Feature, kernel: number, stride: number): Feature {
    const name = this.b.op('MaxPool', [x.name], {
      kernel_shape: attr.ints([kernel, kernel]),
      strides: attr.ints([stride, stride]),
    });
    return { name, channels: x.channels, size: validOutputSize(x.size, kernel, stride) };
  }

  residual(x: Feature, prefix: string): Feature {
    const out = this.convNoRelu(this.conv(x, `${prefix}/conv1`), `${prefix}/conv2`);
    return this.addRelu(out, x);
  }

  /**
   * face-api's downsampling residual: the shortcut is a 2×2 average pool; when the
   * strided 'valid' conv comes out one pixel smaller than the pool, face-api appends a
   * zero row and column to the conv branch, and it zero-extends the shortcut's channels.
   */
  residualDown(x: Feature, prefix: string): Feature {
    let out = this.convNoRelu(this.convDown(x, `${prefix}/conv1`), `${prefix}/conv2`);

    let shortcut: Feature = {
      name: this.b.op('AveragePool', [x.name], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }),
      channels: x.channels,
      size: validOutputSize(x.size, 2, 2),
    };

    if (shortcut.size !== out.size) {
      // face-api concatenates exactly one zero row/column, so anything else would have failed there too.
      if (shortcut.size !== out.size + 1) {
        throw new Error(`${prefix}: cannot align conv branch ${out.size}px with shortcut ${shortcut.size}px`);
      }
      out = { ...out, name: this.zeroPadEnd(out.name, [0, 0, 1, 1], prefix), size: out.size + 1 };
    }
    if (shortcut.channels !== out.channels) {
      const extra = out.channels - shortcut.channels;
      shortcut = { ...shortcut, name: this.zeroPadEnd(shortcut.name, [0, extra, 0, 0], prefix), channels: out.channels };
    }
    return this.addRelu(out, shortcut);
  }

  /**
   * conv2d + bias, then face-api's per-channel scale layer (x * weights + biases). The scale
   * is folded into the conv weights/bias: it is affine per output channel, so this is exact
   * up to float rounding and saves two full-tensor elementwise passes per layer.
   */
  private convLayer(x: Feature, prefix: string, stride: number, relu: boolean, padding: 'same' | 'valid'): Feature {
    const filters = this.weights.take(`${prefix}/conv/filters`);
    const [kh, kw, cin, cout] = filters.shape;
    if (kh !== kw || cin !== x.channels) {
      throw new Error(`${prefix}: filter [${filters.shape.join(',')}] does not fit a ${x.channels}-channel input`);
    }
    const bias = this.weights.take(`${prefix}/conv/bias`, [cout]).data;
    const gamma = this.weights.take(`${prefix}/scale/weights`, [cout]).data;
    const beta = this.weights.take(`${prefix}/scale/biases`, [cout]).data;

    const w = hwioToOihw(filters);
    const perOutput = w.data.length / cout;
    const foldedW = new Float32Array(w.data.length);
    const foldedB = new Float32Array(cout);
    for (let o = 0; o < cout; o++) {
      for (let i = 0; i < perOutput; i++) foldedW[o * perOutput + i] = w.data[o * perOutput + i] * gamma[o];
      foldedB[o] = bias[o] * gamma[o] + beta[o];
    }

    let size: number;
    let pads: number[];
    if (padding === 'same') {
      const p = tfSamePadding(x.size, kh, stride);
      pads = [p.begin, p.begin, p.end, p.end];
      size = p.outputSize;
    } else {
      pads = [0, 0, 0, 0];
      size = validOutputSize(x.size, kh, stride);
    }

    const wName = this.b.addInitializer(`${prefix}/weight`, w.shape, foldedW);
    const bName = this.b.addInitializer(`${prefix}/bias`, [cout], foldedB);
    let name = this.b.op('Conv', [x.name, wName, bName], {
      kernel_shape: attr.ints([kh, kw]),
      strides: attr.ints([stride, stride]),
      pads: attr.ints(pads),
    }, `${prefix}/conv`);
    if (relu) name = this.b.op('Relu', [name], {}, `${prefix}/relu`);
    return { name, channels: cout, size };
  }

  private addRelu(a: Feature, b: Feature): Feature {
    const sum = this.b.op('Add', [a.name, b.name]);
    return { name: this.b.op('Relu', [sum]), channels: a.channels, size: a.size };
  }

  /** Zero-pads an NCHW tensor at the end of each axis by `endPads` ([N, C, H, W]). */
  private zeroPadEnd(input: string, endPads: readonly number[], prefix: string): string {
    const pads = this.b.addInt64Initializer(this.b.freshName(`${prefix}/pads`), [8], [0, 0, 0, 0, ...endPads]);
    return this.b.op('Pad', [input, pads], { mode: attr.string('constant') }, `${prefix}/pad`);
  }
}
