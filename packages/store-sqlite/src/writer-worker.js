// SQLite writer thread: owns the write connection so durable group commits (fsync included) run on a
// second core while the main thread keeps validating, hashing and integrating the next batch.
// Plain JavaScript on purpose: worker threads do not inherit the TypeScript loader. Type-checked through JSDoc.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

if (!parentPort) throw new Error('writer-worker.js runs only as a worker thread');
const port = parentPort;

const db = new Database(workerData.path);
db.pragma(`busy_timeout = ${workerData.busyTimeoutMs}`);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${workerData.synchronous}`);
const TILE_KEY_STRIDE = 2 ** 40;
/** @type {import('better-sqlite3').Statement<[], { n: number | null }>} */
const size = db.prepare('SELECT max(idx) AS n FROM entries');
/** @type {import('better-sqlite3').Statement<[number], { leaf_hash: Buffer }>} */
const tailHash = db.prepare('SELECT leaf_hash FROM entries WHERE idx = ?');
// Rows go in ROWS at a time: one multi-row INSERT costs far less per row than ROWS single-row ones
// (binding and stepping once instead of ROWS times).
const ROWS = 16;
const INSERT = 'INSERT INTO entries (idx, leaf_hash, kind, tenant, time, bytes) VALUES ';
const insertEntry = db.prepare(INSERT + '(?, ?, ?, ?, ?, ?)');
const insertRows = db.prepare(INSERT + Array(ROWS).fill('(?, ?, ?, ?, ?, ?)').join(', '));
const args = new Array(6 * ROWS);
const upsertTile = db.prepare(
  'INSERT INTO tiles (id, width, data) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET width = excluded.width, data = excluded.data WHERE excluded.width >= tiles.width',
);

class WriterError extends Error {
  /**
   * @param {'CONFLICT' | 'INVALID_ARGUMENT'} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const commit = db.transaction((m) => {
  const row = size.get();
  const current = row === undefined || row.n === null ? 0 : row.n + 1;
  if (current !== m.expectedSize)
    throw new WriterError('CONFLICT', `expected size ${m.expectedSize}, storage has ${current}`);
  if (m.expectedTail) {
    const tail = tailHash.get(current - 1);
    if (!tail || !tail.leaf_hash.equals(Buffer.from(m.expectedTail)))
      throw new WriterError('CONFLICT', `entry ${current - 1} is not the expected tail`);
  }
  // Entry i is inputs[offsets[i], offsets[i + 1]) = 0x00 || bytes (its RFC 6962 leaf input); its kind and
  // tenant are indexes into m.names (a batch repeats a few values many times).
  const inputs = Buffer.from(m.inputs.buffer, m.inputs.byteOffset, m.inputs.byteLength);
  const hashes = Buffer.from(m.hashes.buffer, m.hashes.byteOffset, m.hashes.byteLength);
  /** @type {(i: number, at: number) => void} */
  const bind = (i, at) => {
    args[at] = m.expectedSize + i;
    args[at + 1] = hashes.subarray(i * 32, i * 32 + 32);
    args[at + 2] = m.names[m.kinds[i]];
    args[at + 3] = m.names[m.tenants[i]];
    args[at + 4] = m.times[i];
    args[at + 5] = inputs.subarray(m.offsets[i] + 1, m.offsets[i + 1]);
  };
  let i = 0;
  for (; i + ROWS <= m.count; i += ROWS) {
    for (let j = 0; j < ROWS; j++) bind(i + j, 6 * j);
    insertRows.run(args);
  }
  for (; i < m.count; i++) {
    bind(i, 0);
    insertEntry.run(args[0], args[1], args[2], args[3], args[4], args[5]);
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

port.on('message', (m) => {
  if (m.op === 'close') {
    db.close();
    port.postMessage({ id: m.id, ok: true });
    port.close();
    return;
  }
  try {
    commit.immediate(m);
    port.postMessage({ id: m.id, ok: true });
  } catch (e) {
    const err = /** @type {{ code?: unknown; message?: unknown }} */ (e);
    port.postMessage({
      id: m.id,
      ok: false,
      code: err.code === 'CONFLICT' || err.code === 'INVALID_ARGUMENT' ? err.code : 'STORAGE',
      message: String(err.message),
    });
  }
});
