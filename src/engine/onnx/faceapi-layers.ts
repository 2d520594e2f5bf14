import { attr, type OnnxGraphBuilder } from './onnx-writer.ts';
import { depthwiseToOnnx, hwioToOihw, tfSamePadding, type WeightReader, type WeightTensor } from './faceapi-weights.ts';

/** A feature map in the graph being built: its tensor name, channels and square spatial size. */
export interface Feature {
  readonly name: string;
  readonly channels: number;
  readonly size: number;
}

/** The tfjs layers face-api's nets are made of, written as ONNX nodes with face-api's weights. */
export class FaceApiLayers {
  constructor(private readonly b: OnnxGraphBuilder, private readonly weights: WeightReader) {}

  /** tf.conv2d(x, filters, stride, 'same') + bias. */
  plainConv(x: Feature, prefix: string, stride: number): Feature {
    const w = hwioToOihw(this.weights.take(`${prefix}/filters`));
    const bias = this.weights.take(`${prefix}/bias`, [w.shape[0]]);
    return this.conv(x, prefix, w, bias, stride, 1);
  }

  /** tf.separableConv2d(..., 'same') + bias = depthwise conv (no bias) then 1×1 conv with bias. */
  separableConv(x: Feature, prefix: string, stride: number): Feature {
    const depthwise = depthwiseToOnnx(this.weights.take(`${prefix}/depthwise_filter`, [3, 3, x.channels, 1]));
    const pointwise = hwioToOihw(this.weights.take(`${prefix}/pointwise_filter`));
    const bias = this.weights.take(`${prefix}/bias`, [pointwise.shape[0]]);
    const dw = this.conv(x, `${prefix}/depthwise`, depthwise, undefined, stride, x.channels);
    return this.conv(dw, `${prefix}/pointwise`, pointwise, bias, 1, 1);
  }

  /** tf.maxPool(x, [k, k], [s, s], 'same'): ONNX max pooling ignores its padding, as TF does. */
  maxPoolSame(x: Feature, kernel: number, stride: number): Feature {
    const p = tfSamePadding(x.size, kernel, stride);
    const name = this.b.op('MaxPool', [x.name], {
      kernel_shape: attr.ints([kernel, kernel]),
      strides: attr.ints([stride, stride]),
      pads: attr.ints([p.begin, p.begin, p.end, p.end]),
    });
    return { ...x, name, size: p.outputSize };
  }

  relu(x: Feature): Feature {
    return { ...x, name: this.b.op('Relu', [x.name]) };
  }

  sum(xs: readonly Feature[]): Feature {
    return { ...xs[0], name: this.b.op('Sum', xs.map((f) => f.name)) };
  }

  /** Conv with TF 'same' padding, written as explicit pads (extra padding goes at the end, as in TF). */
  private conv(x: Feature, prefix: string, w: WeightTensor, bias: WeightTensor | undefined, stride: number, group: number): Feature {
    const [cout, cinPerGroup, kh, kw] = w.shape;
    if (cinPerGroup * group !== x.channels) {
      throw new Error(`${prefix}: weight [${w.shape.join(',')}] does not fit a ${x.channels}-channel input`);
    }
    const p = tfSamePadding(x.size, kh, stride);
    const inputs = [x.name, this.b.addInitializer(`${prefix}/weight`, w.shape, w.data)];
    if (bias !== undefined) inputs.push(this.b.addInitializer(`${prefix}/bias`, bias.shape, bias.data));
    const name = this.b.op('Conv', inputs, {
      kernel_shape: attr.ints([kh, kw]),
      strides: attr.ints([stride, stride]),
      pads: attr.ints([p.begin, p.begin, p.end, p.end]),
      group: attr.int(group),
    }, `${prefix}/conv`);
    return { name, channels: cout, size: p.outputSize };
  }
}
