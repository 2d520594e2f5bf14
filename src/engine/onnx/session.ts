import * as ort from 'onnxruntime-node';

export interface InferenceThreads {
  /** Threads one inference may use inside an operator. */
  intraOp: number;
}

/** Opens an ONNX model (path or in-memory bytes). onnxruntime-node runs inference off the JS thread. */
export async function openSession(model: string | Uint8Array, threads: InferenceThreads): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads.intraOp,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  };
  return typeof model === 'string'
    ? ort.InferenceSession.create(model, options)
    : ort.InferenceSession.create(model, options);
}

export function float32Tensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export type { ort };
