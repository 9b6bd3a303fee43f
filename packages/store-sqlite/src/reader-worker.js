// SQLite reader thread for verification: reads entry ranges on its own read-only connection and hands
// them back packed in transferable buffers, so reading (most of a full verify) runs beside the hashing.
// Plain JavaScript on purpose: worker threads do not inherit the TypeScript loader.
import { hash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { envelopeMismatch } from '@vaultmesh/ledger/envelope';

const db = new Database(workerData.path, { readonly: true, fileMustExist: true });
db.pragma(`busy_timeout = ${workerData.busyTimeoutMs}`);
const range = db
  .prepare(
    'SELECT idx, leaf_hash, kind, tenant, time, bytes FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx',
  )
  .raw(true);

function scan(start, end) {
  const rows = range.all(start, end);
  const n = rows.length;
  const indexes = new Float64Array(n);
  const times = new Float64Array(n);
  const offsets = new Uint32Array(n + 1);
  const hashOffsets = new Uint32Array(n + 1);
  const kinds = new Array(n);
  const tenants = new Array(n);
  let total = 0;
  let hashTotal = 0;
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    offsets[i] = total;
    hashOffsets[i] = hashTotal;
    // Damaged rows may hold NULL or a wrong type: pass them on as they are for the verifier to report.
    total += Buffer.isBuffer(r[5]) ? r[5].length : 0;
    hashTotal += Buffer.isBuffer(r[1]) ? r[1].length : 0;
  }
  offsets[n] = total;
  hashOffsets[n] = hashTotal;
  const bytes = new Uint8Array(total);
  const hashes = new Uint8Array(hashTotal);
  // RFC 6962 leaf hashes recomputed from the stored bytes, SHA-256(0x00 || bytes), so the main thread
  // only has to build the tree. (A latin1 digest string avoids one ArrayBuffer per hash.)
  const computed = Buffer.allocUnsafe(32 * n);
  let leafInput = Buffer.allocUnsafe(1024);
  // The columns beside each leaf are checked here too, with the same code the main thread would use.
  const columnMismatches = [];
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    indexes[i] = r[0];
    if (Buffer.isBuffer(r[1])) hashes.set(r[1], hashOffsets[i]);
    kinds[i] = r[2];
    tenants[i] = r[3];
    times[i] = r[4];
    const data = Buffer.isBuffer(r[5]) ? r[5] : Buffer.alloc(0);
    bytes.set(data, offsets[i]);
    if (leafInput.length < data.length + 1) leafInput = Buffer.allocUnsafe(2 * data.length + 1);
    leafInput[0] = 0;
    data.copy(leafInput, 1);
    computed.write(hash('sha256', leafInput.subarray(0, data.length + 1), 'binary'), 32 * i, 'latin1');
    const column = envelopeMismatch(data, { kind: r[2], tenant: r[3], time: r[4] });
    if (column) columnMismatches.push([i, column]);
  }
  const leafHashes = new Uint8Array(computed.buffer, computed.byteOffset, computed.byteLength).slice();
  return {
    n,
    indexes,
    times,
    offsets,
    hashOffsets,
    kinds,
    tenants,
    bytes,
    hashes,
    leafHashes,
    columnMismatches,
  };
}

parentPort.on('message', (m) => {
  try {
    if (m.op === 'scan') {
      const r = scan(m.start, m.end);
      parentPort.postMessage({ id: m.id, ok: true, ...r }, [
        r.indexes.buffer,
        r.times.buffer,
        r.offsets.buffer,
        r.hashOffsets.buffer,
        r.bytes.buffer,
        r.hashes.buffer,
        r.leafHashes.buffer,
      ]);
    } else if (m.op === 'pragma') {
      parentPort.postMessage({ id: m.id, ok: true, result: String(db.pragma(m.name, { simple: true })) });
    } else if (m.op === 'close') {
      db.close();
      parentPort.postMessage({ id: m.id, ok: true });
    }
  } catch (err) {
    parentPort.postMessage({ id: m.id, ok: false, message: err.message });
  }
});
