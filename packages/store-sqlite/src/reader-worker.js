// SQLite reader thread for verification: runs reader-core.js on its own read-only connection, so reading (most
// of a full verify of a large log) runs beside the hashing; replies transfer their buffers.
// Plain JavaScript on purpose: worker threads do not inherit the TypeScript loader. Type-checked through JSDoc
// (tsconfig.workers.json).
import { parentPort, workerData } from 'node:worker_threads';
import { openReader } from './reader-core.js';

if (!parentPort) throw new Error('reader-worker.js runs only as a worker thread');
const port = parentPort;
const handle = openReader(workerData.path, workerData.busyTimeoutMs);

port.on('message', (m) => {
  try {
    const { reply, transfer } = handle(m);
    port.postMessage({ id: m.id, ok: true, ...reply }, transfer);
  } catch (err) {
    port.postMessage({ id: m.id, ok: false, message: err instanceof Error ? err.message : String(err) });
  }
});
