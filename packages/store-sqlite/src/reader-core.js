// SQLite reader for verification: reads entry ranges on its own read-only connection and hands them back packed
// in a few buffers (transferable when it runs in a reader thread, see reader-worker.js), or verifies an aligned
// range completely. Used in a thread for large ranges (reading runs beside the hashing) and in the calling thread
// for small ones (starting a thread costs more than reading a few thousand rows).
// Plain JavaScript on purpose: worker threads do not inherit the TypeScript loader. Type-checked through JSDoc
// (tsconfig.workers.json).
import { hash } from 'node:crypto';
import Database from 'better-sqlite3';
import { envelopeMismatch } from '@vaultmesh/ledger/envelope';

/** Node's Buffer with its fast latin1 write (present at runtime, absent from @types/node). */
/** @typedef {Buffer & { latin1Write(text: string, offset: number): number }} FastBuffer */
/** A tile being rebuilt and how many of its level-0 slots the range fills. */
/** @typedef {{ tile: FastBuffer; width: number }} ExpectedTile */
/** One complete subtree: its level and root hash. */
/** @typedef {{ level: number; hash: Uint8Array }} Subtree */
/** The prepared statements a reader runs. */
/** @typedef {{ range: import('better-sqlite3').Statement; rangeQuery: import('better-sqlite3').Statement; tileRange: import('better-sqlite3').Statement }} Queries */

/** @param {number} size @returns {FastBuffer} */
const fastAlloc = (size) => /** @type {FastBuffer} */ (Buffer.alloc(size));
/** @param {number} size @returns {FastBuffer} */
const fastAllocUnsafe = (size) => /** @type {FastBuffer} */ (Buffer.allocUnsafe(size));

// One pass over the range. The aggregates see the rows in one order (checked to be index order through
// the idx list) and report any value whose type would make the concatenations ambiguous.
/** @param {import('better-sqlite3').Database} db */
const RANGE_QUERY = (db) =>
  db
    .prepare(
      `SELECT count(*), min(idx), max(idx), group_concat(idx),
       CAST(group_concat(CAST(x'00' || bytes AS BLOB), '') AS BLOB), group_concat(octet_length(bytes)),
       CAST(group_concat(leaf_hash, '') AS BLOB), group_concat(kind, char(30)), group_concat(tenant, char(30)),
       group_concat(time),
       sum(typeof(idx) = 'integer' AND typeof(bytes) = 'blob' AND typeof(leaf_hash) = 'blob'
           AND octet_length(leaf_hash) = 32 AND typeof(kind) = 'text' AND typeof(tenant) = 'text'
           AND typeof(time) = 'integer')
     FROM entries WHERE idx >= ? AND idx < ?`,
    )
    .raw(true);
/** @param {import('better-sqlite3').Database} db */
const TILE_RANGE = (db) =>
  db.prepare('SELECT id, width, data FROM tiles WHERE id >= ? AND id < ? ORDER BY id').raw(true);

// --- Verified ranges: the whole check of an aligned range of entries, done here (see verifyRange) ---

// The stored-tile layout of packages/log/src/tile-layout.ts: a tile at tile level T, index t holds rows
// r = 0..7 of the level-(8T + r) nodes under it, 256 >> r of them, 32 bytes each, one row after another.
const TILE_KEY_STRIDE = 2 ** 40;
const TILE_WIDTH = 256;
const TILE_BYTES = (2 * TILE_WIDTH - 2) * 32;
/** @param {number} row */
const rowOffset = (row) => 2 * TILE_WIDTH - ((2 * TILE_WIDTH) >> row);
/** The largest range verified here: 2^13 leaves, whose nodes all lie in level-0 tiles and one level-1 tile. */
const MAX_RANGE = 8192;

/**
 * Parses `n` comma-separated decimal integers below 10^15 into out; false for anything else.
 * @param {unknown} text
 * @param {number} n
 * @param {Float64Array} out
 * @returns {boolean}
 */
function parseInts(text, n, out) {
  if (typeof text !== 'string') return false;
  let k = 0;
  let v = 0;
  let digits = 0;
  let neg = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 44;
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      if (++digits > 15) return false;
    } else if (c === 44) {
      if (digits === 0 || k === n) return false;
      out[k++] = neg ? -v : v;
      v = 0;
      digits = 0;
      neg = false;
    } else if (c === 45 && digits === 0 && !neg) neg = true;
    else return false;
  }
  return k === n;
}

/**
 * Splits `text` at char(30) into exactly `n` values (repeated values share one string); false otherwise.
 * @param {unknown} text
 * @param {number} n
 * @param {string[]} out
 * @returns {boolean}
 */
function splitValues(text, n, out) {
  if (typeof text !== 'string') return false;
  /** @type {string[]} */
  const recent = [];
  let k = 0;
  for (let from = 0; ;) {
    const j = text.indexOf('\x1e', from);
    const stop = j < 0 ? text.length : j;
    if (k === n) return false;
    let value;
    for (const r of recent) {
      if (r.length === stop - from && text.startsWith(r, from)) {
        value = r;
        break;
      }
    }
    if (value === undefined) {
      value = text.slice(from, stop);
      if (recent.length === 8) recent.shift();
      recent.push(value);
    }
    out[k++] = value;
    if (j < 0) break;
    from = j + 1;
  }
  return k === n;
}

/**
 * Verifies entries [start, end) completely, as verifyLog would entry by entry, and returns the range's
 * complete subtrees, or undefined as soon as anything is unusual (then the caller reads the range row by
 * row and verifyLog finds and reports exactly what is wrong). Verified means: every index in the range
 * holds a row; every leaf_hash column equals SHA-256(0x00 || bytes); the kind, tenant and time columns
 * agree with the bytes (envelopeMismatch); and every tree node that the range's leaves complete (all of
 * them lie inside the range, up to the range's own root) equals its slot in the stored tiles. `start`
 * must be a multiple of the range's size, rounded up to a power of two (true for the reader's chunks).
 * `sizes` are signed checkpoint sizes: for those inside the range, the range's part of the tree's right
 * edge at that size is returned too, so the caller can recompute the checkpoint's root.
 */
/**
 * @param {Queries} q
 * @param {number} start
 * @param {number} end
 * @param {readonly number[]} sizes
 * @returns {{ nodes: Subtree[]; nodesChecked: number; frontiers: [number, Subtree[]][] } | undefined}
 */
function verifyRange(q, start, end, sizes) {
  const n = end - start;
  if (n <= 0 || n > MAX_RANGE || start % 2 ** Math.ceil(Math.log2(n)) !== 0) return undefined;
  /** @type {unknown[]} */
  let row;
  try {
    row = /** @type {unknown[]} */ (q.rangeQuery.get(start, end));
  } catch {
    return undefined;
  }
  const [count, lo, hi, idxs, input, lengths, stored, kindText, tenantText, timeText, typed] = row;
  if (count !== n || lo !== start || hi !== end - 1 || typed !== n) return undefined;
  if (!Buffer.isBuffer(input) || !Buffer.isBuffer(stored) || stored.length !== 32 * n) return undefined;
  const ints = new Float64Array(n);
  if (!parseInts(idxs, n, ints)) return undefined;
  for (let i = 0; i < n; i++) if (ints[i] !== start + i) return undefined;
  // Offsets of each 0x00 || bytes in input.
  if (!parseInts(lengths, n, ints)) return undefined;
  const offsets = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + 1 + ints[i];
  if (offsets[n] !== input.length) return undefined;
  const times = new Float64Array(n);
  /** @type {string[]} */
  const kinds = new Array(n);
  /** @type {string[]} */
  const tenants = new Array(n);
  if (
    !parseInts(timeText, n, times) ||
    !splitValues(kindText, n, kinds) ||
    !splitValues(tenantText, n, tenants)
  )
    return undefined;
  // Leaf hashes, then the columns.
  const leaves = fastAllocUnsafe(32 * n);
  for (let i = 0; i < n; i++)
    leaves.latin1Write(hash('sha256', input.subarray(offsets[i], offsets[i + 1]), 'binary'), 32 * i);
  if (!leaves.equals(stored)) return undefined;
  const columns = { kind: '', tenant: '', time: 0 };
  for (let i = 0; i < n; i++) {
    columns.kind = kinds[i];
    columns.tenant = tenants[i];
    columns.time = times[i];
    if (envelopeMismatch(input, columns, offsets[i] + 1, offsets[i + 1])) return undefined;
  }
  // The nodes: each level-0 tile's rows, the roots of full ones (row 0 of the level-1 tile), and the
  // level-1 tile's rows above them, built exactly where the stored tiles keep them.
  const nodeInput = Buffer.allocUnsafe(65);
  nodeInput[0] = 1;
  /** @type {(tile: FastBuffer, fromRow: number, toRow: number, firstPos: number, width: number) => void} */
  const build = (tile, fromRow, toRow, firstPos, width) => {
    for (let r = fromRow + 1, below = width; r <= toRow; r++) {
      const count = below >> 1;
      const from = rowOffset(r - 1) + (firstPos >> (r - fromRow - 1));
      const to = rowOffset(r) + (firstPos >> (r - fromRow));
      for (let p = 0; p < count; p++) {
        tile.copy(nodeInput, 1, (from + 2 * p) * 32, (from + 2 * p + 2) * 32);
        tile.latin1Write(hash('sha256', nodeInput, 'binary'), (to + p) * 32);
      }
      below = count;
    }
  };
  /** @type {Map<number, ExpectedTile>} */
  const expected = new Map();
  const firstTile = Math.floor(start / TILE_WIDTH);
  const lastTile = Math.floor((end - 1) / TILE_WIDTH);
  const upper = fastAlloc(TILE_BYTES);
  const upperIndex = Math.floor(start / TILE_WIDTH ** 2);
  const upperFirst = firstTile % TILE_WIDTH;
  let fullTiles = 0;
  for (let t = firstTile; t <= lastTile; t++) {
    const tile = fastAlloc(TILE_BYTES);
    const width = Math.min(end, (t + 1) * TILE_WIDTH) - t * TILE_WIDTH;
    leaves.copy(tile, 0, 32 * (t * TILE_WIDTH - start), 32 * (t * TILE_WIDTH - start + width));
    build(tile, 0, 7, 0, width);
    if (width === TILE_WIDTH) {
      const root = Buffer.allocUnsafe(65);
      root[0] = 1;
      tile.copy(root, 1, rowOffset(7) * 32, (rowOffset(7) + 2) * 32);
      upper.latin1Write(hash('sha256', root, 'binary'), (upperFirst + fullTiles) * 32);
      fullTiles++;
    }
    expected.set(t, { tile, width });
  }
  build(upper, 0, 5, upperFirst, fullTiles);
  // Compare with the stored tiles, row by row over the slots this range fills.
  /** @type {(want: Buffer, got: Buffer, row: number, first: number, count: number) => boolean} */
  const same = (want, got, row, first, count) => {
    const a = (rowOffset(row) + first) * 32;
    return count === 0 || want.compare(got, a, a + 32 * count, a, a + 32 * count) === 0;
  };
  /** @type {[unknown, unknown, unknown][]} */
  let tiles;
  try {
    tiles = /** @type {[unknown, unknown, unknown][]} */ (q.tileRange.all(firstTile, lastTile + 1));
    if (fullTiles > 0)
      tiles.push(
        .../** @type {[unknown, unknown, unknown][]} */ (
          q.tileRange.all(TILE_KEY_STRIDE + upperIndex, TILE_KEY_STRIDE + upperIndex + 1)
        ),
      );
  } catch {
    return undefined;
  }
  if (tiles.length !== lastTile - firstTile + 1 + (fullTiles > 0 ? 1 : 0)) return undefined;
  for (const [id, width, data] of tiles) {
    if (typeof id !== 'number' || typeof width !== 'number') return undefined;
    if (!Number.isSafeInteger(width) || !Buffer.isBuffer(data) || data.length !== TILE_BYTES)
      return undefined;
    const e = id < TILE_KEY_STRIDE ? expected.get(id) : { tile: upper, width: upperFirst + fullTiles };
    if (!e || width < e.width) return undefined;
    const first = id < TILE_KEY_STRIDE ? 0 : upperFirst;
    const w = id < TILE_KEY_STRIDE ? e.width : fullTiles;
    for (let r = 0; r < (id < TILE_KEY_STRIDE ? 8 : 6); r++)
      if (!same(e.tile, data, r, first >> r, w >> r)) return undefined;
  }
  // Every node was checked: the leaves and, per level, each complete node inside the range.
  let nodesChecked = 0;
  for (let level = 0; 2 ** level <= n; level++) nodesChecked += Math.floor(n / 2 ** level);
  /** @type {(level: number, index: number) => Uint8Array} */
  const node = (level, index) => {
    const tileLevel = level >> 3;
    const r = level & 7;
    const perRow = TILE_WIDTH >> r;
    const tileIndex = Math.floor(index / perRow);
    const at = tileLevel === 0 ? expected.get(tileIndex) : { tile: upper };
    if (!at) throw new Error(`tile ${tileIndex} was not rebuilt`);
    const tile = at.tile;
    const slot = rowOffset(r) + (index - tileIndex * perRow);
    return new Uint8Array(tile.subarray(slot * 32, slot * 32 + 32));
  };
  // Complete subtrees of [from, to), largest first (rangeNodes in @vaultmesh/ledger).
  /** @type {(from: number, to: number) => Subtree[]} */
  const subtrees = (from, to) => {
    /** @type {Subtree[]} */
    const out = [];
    for (let pos = from; pos < to;) {
      let level = 0;
      while (pos % 2 ** (level + 1) === 0 && pos + 2 ** (level + 1) <= to) level++;
      out.push({ level, hash: node(level, pos / 2 ** level) });
      pos += 2 ** level;
    }
    return out;
  };
  return {
    nodes: subtrees(start, end),
    nodesChecked,
    frontiers: sizes
      .filter((s) => s > start && s < end)
      .map((s) => /** @type {[number, Subtree[]]} */ ([s, subtrees(start, s)])),
  };
}

/**
 * Reads entries [start, end) as they are stored, with their recomputed leaf hashes and column checks.
 * @param {Queries} q
 * @param {number} start
 * @param {number} end
 */
function scan(q, start, end) {
  const rows = /** @type {unknown[][]} */ (q.range.all(start, end));
  const n = rows.length;
  const indexes = new Float64Array(n);
  const times = new Float64Array(n);
  const offsets = new Uint32Array(n + 1);
  const hashOffsets = new Uint32Array(n + 1);
  /** @type {unknown[]} */
  const kinds = new Array(n);
  /** @type {unknown[]} */
  const tenants = new Array(n);
  let total = 0;
  let hashTotal = 0;
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    offsets[i] = total;
    hashOffsets[i] = hashTotal;
    // Damaged rows may hold NULL or a wrong type: pass them on as they are for the verifier to report.
    const data = r[5];
    const leafHash = r[1];
    total += Buffer.isBuffer(data) ? data.length : 0;
    hashTotal += Buffer.isBuffer(leafHash) ? leafHash.length : 0;
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
  /** @type {[number, string][]} */
  const columnMismatches = [];
  // A time that is not a number (a damaged row) is passed on as it is, to be reported as stored.
  /** @type {[number, unknown][]} */
  const oddTimes = [];
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    indexes[i] = /** @type {number} */ (r[0]);
    const leafHash = r[1];
    if (Buffer.isBuffer(leafHash)) hashes.set(leafHash, hashOffsets[i]);
    kinds[i] = r[2];
    tenants[i] = r[3];
    times[i] = /** @type {number} */ (r[4]);
    if (typeof r[4] !== 'number') oddTimes.push([i, r[4]]);
    const stored = r[5];
    const data = Buffer.isBuffer(stored) ? stored : Buffer.alloc(0);
    bytes.set(data, offsets[i]);
    if (leafInput.length < data.length + 1) leafInput = Buffer.allocUnsafe(2 * data.length + 1);
    leafInput[0] = 0;
    data.copy(leafInput, 1);
    computed.write(hash('sha256', leafInput.subarray(0, data.length + 1), 'binary'), 32 * i, 'latin1');
    // Damaged columns are checked as stored: a non-string kind never matches, which is what is reported.
    const column = envelopeMismatch(
      data,
      /** @type {{ kind: string; tenant: string; time: number }} */ ({
        kind: r[2],
        tenant: r[3],
        time: r[4],
      }),
    );
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
    oddTimes,
  };
}

/**
 * Opens a read-only connection to the database at `path` and returns the handler of reader requests
 * ({op: 'scan', start, end, verify?}, {op: 'pragma', name}, {op: 'close'}): each returns the reply and, for
 * scans, the buffers it may transfer.
 * @param {string} path
 * @param {number} busyTimeoutMs
 */
export function openReader(path, busyTimeoutMs) {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  /** @type {Queries} */
  const q = {
    range: db
      .prepare(
        'SELECT idx, leaf_hash, kind, tenant, time, bytes FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx',
      )
      .raw(true),
    rangeQuery: RANGE_QUERY(db),
    tileRange: TILE_RANGE(db),
  };
  /**
   * @param {{ op: string; start?: number; end?: number; verify?: { sizes: number[] }; name?: string }} m
   * @returns {{ reply: Record<string, unknown>; transfer: ArrayBuffer[] }}
   */
  return function handle(m) {
    if (m.op === 'scan') {
      const start = /** @type {number} */ (m.start);
      const end = /** @type {number} */ (m.end);
      const verified = m.verify ? verifyRange(q, start, end, m.verify.sizes) : undefined;
      if (verified) return { reply: { verified }, transfer: [] };
      const r = scan(q, start, end);
      return {
        reply: r,
        transfer: [
          r.indexes.buffer,
          r.times.buffer,
          r.offsets.buffer,
          r.hashOffsets.buffer,
          r.bytes.buffer,
          r.hashes.buffer,
          r.leafHashes.buffer,
        ],
      };
    }
    if (m.op === 'pragma')
      return { reply: { result: String(db.pragma(String(m.name), { simple: true })) }, transfer: [] };
    if (m.op === 'close') {
      db.close();
      return { reply: {}, transfer: [] };
    }
    throw new Error(`unknown reader request ${m.op}`);
  };
}
