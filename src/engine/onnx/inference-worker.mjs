// One onnxruntime-node inference thread. onnxruntime-node's run() is synchronous native code, so it
// runs here, off the JavaScript thread that serves requests. Plain JavaScript: workers load it as is,
// whatever TypeScript loader the main thread uses.
import fs from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

// Below the thread that serves HTTP: when both want a core, the request/response side goes first, so
// refusals and small requests are answered promptly while inferences queue. On Linux a thread is a
// task with its own id and niceness; elsewhere this is skipped.
if (workerData.niceness > 0) {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    os.setPriority(tid, workerData.niceness);
  } catch { /* not Linux, or not permitted: run at the process's priority */ }
}

const sessions = new Map();
const options = {
  intraOpNumThreads: workerData.intraOpThreads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  // Some packaged models keep their weights as graph inputs; onnxruntime warns about each one at load.
  logSeverityLevel: 3,
};

parentPort.on('message', async (msg) => {
  try {
    if (msg.type === 'close') {
      // Leave by emptying the event loop: terminate() while onnxruntime holds native state can abort the process.
      for (const session of sessions.values()) await session.release();
      sessions.clear();
      parentPort.close();
      return;
    }
    if (msg.type === 'load') {
      const session = await ort.InferenceSession.create(msg.model, { ...options, graphOptimizationLevel: msg.optimization });
      sessions.set(msg.modelId, session);
      const meta = session.inputMetadata?.[0];
      parentPort.postMessage({ id: msg.id, ok: true, inputNames: session.inputNames, outputNames: session.outputNames, inputShape: meta && 'shape' in meta ? meta.shape : [] });
    } else if (msg.type === 'run') {
      const session = sessions.get(msg.modelId);
      const feeds = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor('float32', t.data, t.dims);
      const out = await session.run(feeds);
      const outputs = {};
      const transfer = [];
      for (const [name, t] of Object.entries(out)) {
        const data = Float32Array.from(t.data);
        outputs[name] = { data, dims: [...t.dims] };
        transfer.push(data.buffer);
      }
      parentPort.postMessage({ id: msg.id, ok: true, outputs }, transfer);
    }
  } catch (err) {
    parentPort.postMessage({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
});
