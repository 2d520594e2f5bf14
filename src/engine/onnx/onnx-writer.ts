/**
 * Minimal ONNX ModelProto encoder.
 *
 * We only need to *write* small inference graphs built from weights we already
 * hold in memory, so a hand-rolled protobuf encoder for the handful of ONNX
 * messages involved is cheaper than pulling in a protobuf runtime plus the
 * generated onnx.proto bindings. Field numbers follow onnx/onnx.proto (proto2).
 */

const IR_VERSION = 8;
const OPSET_VERSION = 13;
const PRODUCER_NAME = 'faceproof';

/** TensorProto.DataType values we emit. */
const TENSOR_FLOAT = 1;
const TENSOR_INT64 = 7;

/** AttributeProto.AttributeType values we emit. */
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextEncoder();
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Append-only protobuf message. Nested messages are spliced in by reference
 * (their chunks are reused), so large initializers are copied only once, when
 * the final model is flattened.
 */
class ProtoMessage {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  get byteLength(): number {
    return this.length;
  }

  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.push(encodeVarint(value));
    return this;
  }

  fixed32Float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.push(bytes);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.push(encodeVarint(value.byteLength));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  message(field: number, value: ProtoMessage): this {
    this.tag(field, WIRE_LEN);
    this.push(encodeVarint(value.length));
    for (const chunk of value.chunks) this.push(chunk);
    return this;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }

  private tag(field: number, wireType: number): void {
    this.push(encodeVarint(field * 8 + wireType));
  }

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }
}

/** Base-128 varint; negative int64 values use their 64-bit two's complement (10 bytes). */
function encodeVarint(value: number | bigint): Uint8Array {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new Error(`varint value must be a safe integer, got ${value}`);
  }
  let v = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Uint8Array.from(bytes);
}

export type OnnxAttribute =
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'string'; readonly value: string };

/** Constructors that make the attribute kind explicit (1 vs 1.0 is invisible in JS). */
export const attr = {
  int: (value: number): OnnxAttribute => ({ type: 'int', value }),
  ints: (value: readonly number[]): OnnxAttribute => ({ type: 'ints', value }),
  float: (value: number): OnnxAttribute => ({ type: 'float', value }),
  floats: (value: readonly number[]): OnnxAttribute => ({ type: 'floats', value }),
  string: (value: string): OnnxAttribute => ({ type: 'string', value }),
};

export type OnnxAttributes = Readonly<Record<string, OnnxAttribute>>;

/** A graph input/output dimension: a fixed size, or a symbolic name such as "N". */
export type OnnxDim = number | string;

interface NodeSpec {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: OnnxAttributes;
  readonly name: string;
}

interface ValueInfoSpec {
  readonly name: string;
  readonly shape: readonly OnnxDim[];
}

/**
 * Builds a single ONNX graph (default domain, opset 13) and serializes it as a
 * ModelProto. Nodes must be added in topological order, which is natural when
 * the graph is written as straight-line code.
 */
export class OnnxGraphBuilder {
  private readonly initializers: ProtoMessage[] = [];
  private readonly nodes: NodeSpec[] = [];
  private readonly inputs: ValueInfoSpec[] = [];
  private readonly outputs: ValueInfoSpec[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(private readonly graphName: string) {}

  /** Returns a tensor name not defined yet in this graph, derived from `prefix` (does not reserve it). */
  freshName(prefix: string): string {
    let name = prefix;
    while (this.names.has(name)) name = `${prefix}_${++this.counter}`;
    return name;
  }

  addInitializer(name: string, dims: readonly number[], data: Float32Array): string {
    checkElementCount(name, dims, data.length);
    // raw_data is little-endian regardless of the host; copy so later edits to `data` cannot leak in.
    let raw: Uint8Array;
    if (LITTLE_ENDIAN_HOST) {
      raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    } else {
      raw = new Uint8Array(data.length * 4);
      const view = new DataView(raw.buffer);
      for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
    }
    return this.pushInitializer(name, dims, TENSOR_FLOAT, raw);
  }

  /** INT64 constants, e.g. the `pads` input of Pad. */
  addInt64Initializer(name: string, dims: readonly number[], data: readonly number[]): string {
    checkElementCount(name, dims, data.length);
    const raw = new Uint8Array(data.length * 8);
    const view = new DataView(raw.buffer);
    data.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    return this.pushInitializer(name, dims, TENSOR_INT64, raw);
  }

  addNode(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: OnnxAttributes = {},
    name?: string,
  ): void {
    // Nodes arrive in topological order, so every input must already exist ('' = omitted optional input).
    for (const input of inputs) {
      if (input !== '' && !this.names.has(input)) throw new Error(`${opType}: unknown input tensor "${input}"`);
    }
    for (const output of outputs) this.claim(output);
    this.nodes.push({
      opType,
      inputs,
      outputs,
      attributes,
      name: name ?? `${opType}_${this.nodes.length}`,
    });
  }

  /** Adds a single-output node whose output gets a fresh name; returns that name. */
  op(opType: string, inputs: readonly string[], attributes: OnnxAttributes = {}, outputPrefix = opType): string {
    const output = this.freshName(outputPrefix);
    this.addNode(opType, inputs, [output], attributes);
    return output;
  }

  /** Declares a float32 graph input. */
  addInput(name: string, shape: readonly OnnxDim[]): string {
    this.claim(name);
    this.inputs.push({ name, shape });
    return name;
  }

  /** Declares a float32 graph output; `name` must be produced by a node. */
  addOutput(name: string, shape: readonly OnnxDim[]): void {
    if (!this.nodes.some((n) => n.outputs.includes(name))) {
      throw new Error(`graph output "${name}" is not produced by any node`);
    }
    this.outputs.push({ name, shape });
  }

  /** Serializes ModelProto{ir_version 8, opset 13, producer "faceproof"}. */
  toModelBytes(): Uint8Array {
    const graph = new ProtoMessage();
    for (const node of this.nodes) graph.message(1, encodeNode(node));
    graph.string(2, this.graphName);
    for (const init of this.initializers) graph.message(5, init);
    for (const input of this.inputs) graph.message(11, encodeValueInfo(input));
    for (const output of this.outputs) graph.message(12, encodeValueInfo(output));

    const opset = new ProtoMessage().string(1, '').varint(2, OPSET_VERSION);
    return new ProtoMessage()
      .varint(1, IR_VERSION)
      .string(2, PRODUCER_NAME)
      .message(7, graph)
      .message(8, opset)
      .toBytes();
  }

  private pushInitializer(name: string, dims: readonly number[], dataType: number, raw: Uint8Array): string {
    this.claim(name);
    const tensor = new ProtoMessage();
    for (const d of dims) tensor.varint(1, d);
    tensor.varint(2, dataType).string(8, name).bytes(9, raw);
    this.initializers.push(tensor);
    return name;
  }

  // Every tensor name must have exactly one producer in an ONNX graph.
  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`tensor name "${name}" is already defined`);
    this.names.add(name);
  }
}

function checkElementCount(name: string, dims: readonly number[], count: number): void {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (expected !== count) {
    throw new Error(`initializer "${name}": dims [${dims.join(',')}] need ${expected} values, got ${count}`);
  }
}

function encodeNode(node: NodeSpec): ProtoMessage {
  const msg = new ProtoMessage();
  for (const input of node.inputs) msg.string(1, input);
  for (const output of node.outputs) msg.string(2, output);
  msg.string(3, node.name).string(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes)) msg.message(5, encodeAttribute(name, value));
  return msg;
}

function encodeAttribute(name: string, attribute: OnnxAttribute): ProtoMessage {
  const msg = new ProtoMessage().string(1, name);
  // Repeated scalars are written unpacked: onnx.proto is proto2, where that is the default encoding.
  switch (attribute.type) {
    case 'float':
      return msg.fixed32Float(2, attribute.value).varint(20, ATTR_FLOAT);
    case 'int':
      return msg.varint(3, attribute.value).varint(20, ATTR_INT);
    case 'string':
      return msg.string(4, attribute.value).varint(20, ATTR_STRING);
    case 'floats':
      for (const v of attribute.value) msg.fixed32Float(7, v);
      return msg.varint(20, ATTR_FLOATS);
    case 'ints':
      for (const v of attribute.value) msg.varint(8, v);
      return msg.varint(20, ATTR_INTS);
  }
}

function encodeValueInfo(info: ValueInfoSpec): ProtoMessage {
  const shape = new ProtoMessage();
  for (const dim of info.shape) {
    const d = new ProtoMessage();
    if (typeof dim === 'number') d.varint(1, dim);
    else d.string(2, dim);
    shape.message(1, d);
  }
  const tensorType = new ProtoMessage().varint(1, TENSOR_FLOAT).message(2, shape);
  const type = new ProtoMessage().message(1, tensorType);
  return new ProtoMessage().string(1, info.name).message(2, type);
}
