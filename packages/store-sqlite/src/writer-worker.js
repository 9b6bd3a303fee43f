// SQLite writer thread: owns the write connection so durable group commits (fsync included) run on a
// second core while the main thread keeps validating, hashing and integrating the next batch.
// Plain JavaScript on purpose: worker threads do not inherit the TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path);
db.pragma(`busy_timeout = ${workerData.busyTimeoutMs}`);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${workerData.synchronous}`);
const TILE_KEY_STRIDE = 2 ** 40;
const size = db.prepare('SELECT max(idx) AS n FROM entries');
const tailHash = db.prepare('SELECT leaf_hash FROM entries WHERE idx = ?');
const insertEntry = db.prepare(
  'INSERT INTO entries (idx, leaf_hash, kind, tenant, time, bytes) VALUES (?, ?, ?, ?, ?, ?)',
);
const upsertTile = db.prepare(
  'INSERT INTO tiles (id, width, data) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET width = excluded.width, data = excluded.data WHERE excluded.width >= tiles.width',
);

class WriterError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const commit = db.transaction((m) => {
  const row = size.get();
  const current = row.n === null ? 0 : row.n + 1;
  if (current !== m.expectedSize)
    throw new WriterError('CONFLICT', `expected size ${m.expectedSize}, storage has ${current}`);
  if (m.expectedTail) {
    const tail = tailHash.get(current - 1);
    if (!tail || !tail.leaf_hash.equals(Buffer.from(m.expectedTail)))
      throw new WriterError('CONFLICT', `entry ${current - 1} is not the expected tail`);
  }
  const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
  const hashes = Buffer.from(m.hashes.buffer, m.hashes.byteOffset, m.hashes.byteLength);
  for (let i = 0; i < m.count; i++) {
    insertEntry.run(
      m.expectedSize + i,
      hashes.subarray(i * 32, i * 32 + 32),
      m.kinds[i],
      m.tenants[i],
      m.times[i],
      bytes.subarray(m.offsets[i], m.offsets[i + 1]),
    );
  }
  for (const t of m.tiles) {
    const r = upsertTile.run(
      t.level * TILE_KEY_STRIDE + t.index,
      t.width,
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    );
    if (r.changes !== 1)
      throw new WriterError('INVALID_ARGUMENT', `tile ${t.level}/${t.index} width cannot shrink`);
  }
});

parentPort.on('message', (m) => {
  if (m.op === 'close') {
    db.close();
    parentPort.postMessage({ id: m.id, ok: true });
    parentPort.close();
    return;
  }
  try {
    commit.immediate(m);
    parentPort.postMessage({ id: m.id, ok: true });
  } catch (err) {
    parentPort.postMessage({
      id: m.id,
      ok: false,
      code: err.code === 'CONFLICT' || err.code === 'INVALID_ARGUMENT' ? err.code : 'STORAGE',
      message: err.message,
    });
  }
});
