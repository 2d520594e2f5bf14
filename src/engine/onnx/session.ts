import { mainThreadTurn } from '../main-thread-turns.ts';
import { Worker } from 'node:worker_threads';
import os from 'node:os';

export interface InferenceThreads {
  /** Threads one inference may use inside an operator. */
  intraOp: number;
  /** Niceness of the inference threads relative to the process (Linux): higher yields to the HTTP thread. */
  niceness?: number;
  /** Worker threads running inferences in parallel. */
  workers: number;
}

export interface TensorData {
  data: Float32Array;
  dims: readonly number[];
}

export type GraphOptimization = 'disabled' | 'basic' | 'extended' | 'all';

/** A loaded model that runs on the pool's worker threads; the shape of onnxruntime's session that the engine uses. */
export interface ModelRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Dimensions of the first input; a string is a symbolic (dynamic) dimension. */
  readonly inputShape: ReadonlyArray<number | string>;
  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>>;
}

interface Pending {
  resolve: (value: any) => void;
  reject: (err: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * Worker threads that each hold every model and run one inference at a time. onnxruntime-node's
 * run() is synchronous native code: on the main thread it would hold the event loop for the whole
 * inference. A run goes to the worker with the fewest jobs waiting; workers are unreferenced while
 * idle, so an idle pool never keeps the process alive.
 */
/** Inferences run and seconds spent (queue wait included) per model name, since start. */
export interface InferenceStats { model: string; runs: number; seconds: number }

export class InferencePool {
  private nextId = 1;
  private readonly stats = new Map<string, InferenceStats>();
  private nextModel = 1;
  private closed = false;

  private constructor(private readonly workers: PoolWorker[]) {}

  /** Whether inferences can still be run (false once closed). */
  get open(): boolean {
    return !this.closed;
  }

  static start(threads: InferenceThreads): InferencePool {
    const count = Math.max(1, threads.workers || os.availableParallelism());
    const workers = Array.from({ length: count }, () => {
      const worker = new Worker(new URL('./inference-worker.mjs', import.meta.url), {
        workerData: { intraOpThreads: threads.intraOp, niceness: threads.niceness ?? 0 },
        execArgv: [],
      });
      const entry: PoolWorker = { worker, pending: new Map() };
      worker.on('message', (msg: { id: number; ok: boolean; error?: string }) => {
        const job = entry.pending.get(msg.id);
        if (!job) return;
        entry.pending.delete(msg.id);
        if (entry.pending.size === 0) worker.unref();
        if (msg.ok) job.resolve(msg); else job.reject(new Error(`inference failed: ${msg.error}`));
      });
      worker.on('error', (err) => {
        for (const job of entry.pending.values()) job.reject(err);
        entry.pending.clear();
      });
      worker.unref();
      return entry;
    });
    return new InferencePool(workers);
  }

  inferenceStats(): InferenceStats[] {
    return [...this.stats.values()].map((s) => ({ ...s }));
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Loads a model (file path or ONNX bytes) into every worker. `optimization` is onnxruntime's graph
   * optimisation level: 'all' by default, but its layout transformation makes some graphs slower
   * (faceplugin's fr_feature runs 3.4× slower with it here), so a model may ask for 'extended'.
   */
  async load(model: string | Uint8Array, optimization: GraphOptimization = 'all', name = typeof model === 'string' ? model.split('/').pop()!.replace(/\.onnx$/, '') : 'model'): Promise<ModelRunner> {
    const modelId = this.nextModel++;
    const replies = await Promise.all(this.workers.map((w) => this.send<{ inputNames: string[]; outputNames: string[]; inputShape: Array<number | string> }>(w, { type: 'load', modelId, model, optimization })));
    const { inputNames, outputNames, inputShape } = replies[0];
    return {
      inputNames,
      outputNames,
      inputShape,
      run: async (feeds) => {
        const worker = this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
        const started = performance.now();
        const reply = await this.send<{ outputs: Record<string, TensorData> }>(worker, { type: 'run', modelId, feeds }, Object.values(feeds).map((f) => f.data.buffer as ArrayBuffer));
        const s = this.stats.get(name) ?? { model: name, runs: 0, seconds: 0 };
        s.runs++;
        s.seconds += (performance.now() - started) / 1000;
        this.stats.set(name, s);
        await mainThreadTurn();
        return reply.outputs;
      },
    };
  }

  /**
   * Lets every job already queued finish, then asks the workers to release their models and exit.
   * A worker that has not exited after `timeoutMs` is left unreferenced rather than terminated:
   * terminating a thread inside onnxruntime's native code can abort the whole process.
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + timeoutMs;
    while (this.workers.some((w) => w.pending.size > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.closed = true;
    await Promise.all(this.workers.map(({ worker }) => new Promise<void>((resolve) => {
      // Both stay referenced until one fires: with nothing referenced, the process could end before
      // `close()` resolves (an unsettled await).
      const timer = setTimeout(() => { worker.unref(); resolve(); }, Math.max(0, deadline - Date.now()));
      worker.once('exit', () => { clearTimeout(timer); resolve(); });
      worker.ref();
      worker.postMessage({ type: 'close' });
    })));
  }

  private send<T>(target: PoolWorker, message: object, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the inference pool is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      target.pending.set(id, { resolve, reject });
      target.worker.ref();
      target.worker.postMessage({ ...message, id }, transfer);
    });
  }
}
