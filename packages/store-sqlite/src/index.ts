// SQLite storage driver (embedded default): one file, WAL, synchronous=FULL so an acknowledged commit
// survives a crash or power loss. Implements LogStorage and TokenStore.
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openReader, type ReaderRequest } from './reader-core.js';
import type { Audience, Role, TokenRecord, TokenStore } from '@vaultmesh/auth';
import {
  LogError,
  type CommitBatch,
  type EntryFilter,
  type EntryRange,
  type LogStorage,
  type PackedEntries,
  type ScanVerify,
  type StoredAnchor,
  type StoredCheckpoint,
  type StoredEntry,
  type StoredTile,
  type VerifiedRange,
} from '@vaultmesh/log';

/** Tile rows are keyed by one integer: level * 2^40 + index (indexes stay far below 2^40). */
const TILE_KEY_STRIDE = 2 ** 40;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  idx INTEGER PRIMARY KEY,
  leaf_hash BLOB NOT NULL,
  kind TEXT NOT NULL,
  tenant TEXT NOT NULL,
  time INTEGER NOT NULL,
  bytes BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_kind ON entries(kind, idx);
CREATE INDEX IF NOT EXISTS entries_tenant ON entries(tenant, idx);
CREATE TABLE IF NOT EXISTS tiles (
  id INTEGER PRIMARY KEY,
  width INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
  size INTEGER PRIMARY KEY,
  root BLOB NOT NULL,
  note TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS anchors (
  size INTEGER NOT NULL,
  authority TEXT NOT NULL,
  type TEXT NOT NULL,
  proof BLOB NOT NULL,
  anchored_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (size, authority)
);
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  tenant TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  audience TEXT
);
`;

export interface SqliteOptions {
  /** Database file path, or ":memory:". */
  readonly path: string;
  /** Open without creating or writing (for verification). */
  readonly readonly?: boolean;
  /** PRAGMA synchronous level; FULL (default) makes every acknowledged commit durable. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** How long a writer waits for another process's transaction. Default 10 s. */
  readonly busyTimeoutMs?: number;
  /**
   * Run group commits on a dedicated writer thread (a second core does the SQLite work and fsync while the
   * main thread prepares the next batch). Reads stay on the main thread's connection. Default false.
   */
  readonly writerThread?: boolean;
}

interface EntryRow {
  idx: number;
  leaf_hash: Buffer;
  kind: string;
  tenant: string;
  time: number;
  bytes: Buffer;
}
interface TileRow {
  id: number;
  width: number;
  data: Buffer;
}
interface CheckpointRow {
  size: number;
  root: Buffer;
  note: string;
  created_at: number;
}
interface TokenRow {
  id: string;
  name: string;
  role: string;
  tenant: string;
  secret_hash: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  /** JSON array of audiences, NULL = every audience; absent in databases made before audiences existed. */
  audience?: string | null;
  /** JSON array of go/no-go poll roles, NULL = none; absent in databases made before poll roles existed. */
  poll_roles?: string | null;
}

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const toEntry = (r: EntryRow): StoredEntry => ({
  index: r.idx,
  leafHash: u8(r.leaf_hash),
  bytes: u8(r.bytes),
  kind: r.kind,
  tenant: r.tenant,
  time: r.time,
});
const toTile = (r: TileRow): StoredTile => ({
  level: Math.floor(r.id / TILE_KEY_STRIDE),
  index: r.id % TILE_KEY_STRIDE,
  width: r.width,
  data: u8(r.data),
});
const toCheckpoint = (r: CheckpointRow): StoredCheckpoint => ({
  size: r.size,
  root: u8(r.root),
  note: r.note,
  createdAt: r.created_at,
});

interface AnchorRow {
  size: number;
  authority: string;
  type: string;
  proof: Buffer;
  anchored_at: number;
  created_at: number;
}
const toAnchor = (r: AnchorRow): StoredAnchor => ({
  size: r.size,
  authority: r.authority,
  type: r.type,
  proof: u8(r.proof),
  anchoredAt: r.anchored_at,
  createdAt: r.created_at,
});

/** The SQLite driver: LogStorage + TokenStore over one database file. */
export interface SqliteStorage extends LogStorage, TokenStore {
  readonly db: Database.Database;
  /** PRAGMA quick_check result ("ok" when the file is structurally sound). */
  quickCheck(): string;
  /**
   * Entries [start, end) in index order, in chunks read ahead by `threads` reader threads (verification's
   * fast path). Rows are passed on as stored, damaged ones included. With `verify`, a reader verifies
   * each chunk itself and hands back only its subtrees when all is well (EntryRange.verified).
   */
  scanEntries(
    start: number,
    end: number,
    opts?: { chunk?: number; threads?: number; verify?: ScanVerify },
  ): AsyncIterable<EntryRange>;
  /** Runs PRAGMA integrity_check on a reader thread (it also checks every index against its table). */
  integrityCheck(): Promise<string>;
}

/** Opens (and on first use creates) a SQLite-backed store. */
export function openSqliteStorage(opts: SqliteOptions): SqliteStorage {
  let db: Database.Database;
  try {
    db = new Database(opts.path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (err) {
    throw new LogError('STORAGE', `cannot open database ${opts.path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
    db.exec(SCHEMA);
    // Databases made before token audiences existed gain the column (NULL = every audience).
    const cols = db.prepare<[], { name: string }>('PRAGMA table_info(tokens)').all();
    if (!cols.some((c) => c.name === 'audience')) db.exec('ALTER TABLE tokens ADD COLUMN audience TEXT');
    // ... and the go/no-go poll roles (NULL = none).
    if (!cols.some((c) => c.name === 'poll_roles')) db.exec('ALTER TABLE tokens ADD COLUMN poll_roles TEXT');
  }
  const q = {
    size: db.prepare<[], { n: number | null }>('SELECT max(idx) AS n FROM entries'),
    insertEntry: db.prepare(
      'INSERT INTO entries (idx, leaf_hash, kind, tenant, time, bytes) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    upsertTile: db.prepare(
      'INSERT INTO tiles (id, width, data) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET width = excluded.width, data = excluded.data WHERE excluded.width >= tiles.width',
    ),
    getEntry: db.prepare<[number], EntryRow>('SELECT * FROM entries WHERE idx = ?'),
    getEntries: db.prepare<[number, number], EntryRow>(
      'SELECT * FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx',
    ),
    getTile: db.prepare<[number], TileRow>('SELECT * FROM tiles WHERE id = ?'),
    listTiles: db.prepare<[number], TileRow>('SELECT * FROM tiles WHERE id > ? ORDER BY id LIMIT 256'),
    putCheckpoint: db.prepare(
      'INSERT OR IGNORE INTO checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)',
    ),
    getCheckpoint: db.prepare<[number], CheckpointRow>('SELECT * FROM checkpoints WHERE size = ?'),
    latestCheckpoint: db.prepare<[], CheckpointRow>('SELECT * FROM checkpoints ORDER BY size DESC LIMIT 1'),
    listCheckpoints: db.prepare<[], CheckpointRow>('SELECT * FROM checkpoints ORDER BY size'),
    getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    ),
    getToken: db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE id = ?'),
    listTokens: db.prepare<[], TokenRow>('SELECT * FROM tokens ORDER BY created_at, id'),
    revokeToken: db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
  };
  // Prepared on first use: a read-only open of a database created before anchors existed has no such table.
  let aq:
    | {
        put: Database.Statement;
        all: Database.Statement<[], AnchorRow>;
        at: Database.Statement<[number], AnchorRow>;
      }
    | undefined;
  const anchorQueries = () => {
    if (!aq) {
      const exists = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'anchors'")
        .get();
      if (!exists) return undefined;
      aq = {
        put: db.prepare(
          'INSERT OR IGNORE INTO anchors (size, authority, type, proof, anchored_at, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        ),
        all: db.prepare<[], AnchorRow>('SELECT * FROM anchors ORDER BY size, authority'),
        at: db.prepare<[number], AnchorRow>('SELECT * FROM anchors WHERE size = ? ORDER BY authority'),
      };
    }
    return aq;
  };
  const currentSize = () => {
    const n = q.size.get()?.n;
    return n === null || n === undefined ? 0 : n + 1;
  };
  const commitTx = db.transaction((batch: CommitBatch) => {
    const size = currentSize();
    if (size !== batch.expectedSize) {
      throw new LogError('CONFLICT', `expected size ${batch.expectedSize}, storage has ${size}`);
    }
    if (batch.expectedTail) {
      const tail = q.getEntry.get(size - 1);
      if (!tail || !tail.leaf_hash.equals(batch.expectedTail)) {
        throw new LogError('CONFLICT', `entry ${size - 1} is not the expected tail`);
      }
    }
    batch.entries.forEach((e, i) => {
      if (e.index !== size + i)
        throw new LogError('INVALID_ARGUMENT', `entry index ${e.index} is out of sequence`);
    });
    for (const e of batch.entries)
      q.insertEntry.run(e.index, buf(e.leafHash), e.kind, e.tenant, e.time, buf(e.bytes));
    for (const t of batch.tiles) {
      const r = q.upsertTile.run(t.level * TILE_KEY_STRIDE + t.index, t.width, buf(t.data));
      if (r.changes !== 1)
        throw new LogError('INVALID_ARGUMENT', `tile ${t.level}/${t.index} width cannot shrink`);
    }
  });
  const toToken = (r: TokenRow): TokenRecord => ({
    id: r.id,
    name: r.name,
    role: r.role as Role,
    tenant: r.tenant,
    secretHash: r.secret_hash,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    audience: r.audience ? (JSON.parse(r.audience) as Audience[]) : null,
    ...(r.poll_roles ? { pollRoles: JSON.parse(r.poll_roles) as string[] } : {}),
  });
  const wrap = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      if (err instanceof LogError) return Promise.reject(err);
      return Promise.reject(
        new LogError('STORAGE', `database error: ${(err as Error).message}`, { cause: err }),
      );
    }
  };

  const writer = opts.writerThread && !opts.readonly ? startWriter(opts) : undefined;

  return {
    db,
    quickCheck: () => String(db.pragma('quick_check', { simple: true })),
    scanEntries: (start, end, o) =>
      scanWithReaders(opts, start, end, o?.chunk ?? 8192, o?.threads ?? 1, o?.verify),
    async integrityCheck() {
      // A small file is checked here at once: starting a thread costs more than checking it.
      const bytes =
        Number(db.pragma('page_count', { simple: true })) * Number(db.pragma('page_size', { simple: true }));
      const reader = bytes <= IN_THREAD_CHECK_BYTES ? localReader(opts) : startReader(opts);
      try {
        const r = await reader.request<{ result: string }>({ op: 'pragma', name: 'integrity_check' });
        return r.result;
      } finally {
        await reader.close();
      }
    },
    size: () => wrap(currentSize),
    commit: (batch) => (writer ? writer.commit(batch) : wrap(() => commitTx.immediate(batch))),
    getEntry: (index) =>
      wrap(() => {
        const r = q.getEntry.get(index);
        return r ? toEntry(r) : undefined;
      }),
    getEntries: (start, end) => wrap(() => q.getEntries.all(start, end).map(toEntry)),
    listEntries: (f: EntryFilter) =>
      wrap(() => {
        const where: string[] = [];
        const args: (string | number)[] = [];
        if (f.kind !== undefined) {
          where.push('kind = ?');
          args.push(f.kind);
        }
        if (f.tenants !== undefined) {
          if (f.tenants.length === 0) return [];
          where.push(`tenant IN (${f.tenants.map(() => '?').join(',')})`);
          args.push(...f.tenants);
        }
        if (f.fromTime !== undefined) {
          where.push('time >= ?');
          args.push(f.fromTime);
        }
        if (f.toTime !== undefined) {
          where.push('time <= ?');
          args.push(f.toTime);
        }
        if (f.after !== undefined) {
          where.push('idx > ?');
          args.push(f.after);
        }
        if (f.before !== undefined) {
          where.push('idx < ?');
          args.push(f.before);
        }
        if (f.text !== undefined) {
          where.push('instr(CAST(bytes AS TEXT), ?) > 0');
          args.push(f.text);
        }
        const sql = `SELECT * FROM entries ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY idx ${f.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ?`;
        return db
          .prepare<(string | number)[], EntryRow>(sql)
          .all(...args, f.limit)
          .map(toEntry);
      }),
    getTile: (level, index) =>
      wrap(() => {
        const r = q.getTile.get(level * TILE_KEY_STRIDE + index);
        return r ? toTile(r) : undefined;
      }),
    async *listTiles() {
      let after = -1;
      for (;;) {
        const rows = await wrap(() => q.listTiles.all(after));
        if (rows.length === 0) return;
        for (const r of rows) yield toTile(r);
        after = rows[rows.length - 1]!.id;
      }
    },
    putCheckpoint: (cp) => wrap(() => void q.putCheckpoint.run(cp.size, buf(cp.root), cp.note, cp.createdAt)),
    getCheckpoint: (size) =>
      wrap(() => {
        const r = size === undefined ? q.latestCheckpoint.get() : q.getCheckpoint.get(size);
        return r ? toCheckpoint(r) : undefined;
      }),
    listCheckpoints: () => wrap(() => q.listCheckpoints.all().map(toCheckpoint)),
    putAnchor: (a) =>
      wrap(() => {
        const aq = anchorQueries();
        if (!aq) throw new LogError('STORAGE', 'this database has no anchors table (open it writable once)');
        aq.put.run(a.size, a.authority, a.type, buf(a.proof), a.anchoredAt, a.createdAt);
      }),
    listAnchors: (size) =>
      wrap(() => {
        const aq = anchorQueries();
        if (!aq) return [];
        return (size === undefined ? aq.all.all() : aq.at.all(size)).map(toAnchor);
      }),
    getMeta: (key) => wrap(() => q.getMeta.get(key)?.value),
    setMeta: (key, value) => wrap(() => void q.setMeta.run(key, value)),
    insertToken: (t) =>
      wrap(
        () =>
          // Prepared on use: a read-only open of an older database has no audience column to prepare against.
          void db
            .prepare(
              'INSERT INTO tokens (id, name, role, tenant, secret_hash, created_at, expires_at, revoked_at, audience, poll_roles) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            )
            .run(
              t.id,
              t.name,
              t.role,
              t.tenant,
              t.secretHash,
              t.createdAt,
              t.expiresAt,
              t.revokedAt,
              t.audience ? JSON.stringify(t.audience) : null,
              t.pollRoles ? JSON.stringify(t.pollRoles) : null,
            ),
      ),
    getToken: (id) =>
      wrap(() => {
        const r = q.getToken.get(id);
        return r ? toToken(r) : undefined;
      }),
    listTokens: () => wrap(() => q.listTokens.all().map(toToken)),
    revokeToken: (id, at) => wrap(() => q.revokeToken.run(at, id).changes === 1),
    close: async () => {
      await writer?.close();
      await wrap(() => void (db.open ? db.close() : undefined));
    },
  };
}

interface WriterReply {
  id: number;
  ok: boolean;
  code?: 'CONFLICT' | 'INVALID_ARGUMENT' | 'STORAGE';
  message?: string;
}

/**
 * A copy of packed entries in buffers of their own, which can be transferred. (Typed-array constructors
 * copy; a Buffer's slice() would share memory, possibly Buffer's pool.)
 */
function copyPacked(p: PackedEntries): PackedEntries {
  return {
    count: p.count,
    leafInputs: new Uint8Array(p.leafInputs),
    offsets: new Uint32Array(p.offsets),
    leafHashes: new Uint8Array(p.leafHashes),
    times: new Float64Array(p.times),
    names: [...p.names],
    kinds: new Uint32Array(p.kinds),
    tenants: new Uint32Array(p.tenants),
  };
}

/** Packs a batch's entries (each as 0x00 || bytes); throws INVALID_ARGUMENT for an index out of sequence. */
function pack(batch: CommitBatch): PackedEntries {
  const n = batch.entries.length;
  const offsets = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const e = batch.entries[i]!;
    if (e.index !== batch.expectedSize + i)
      throw new LogError('INVALID_ARGUMENT', `entry index ${e.index} is out of sequence`);
    offsets[i + 1] = offsets[i]! + 1 + e.bytes.length;
  }
  const leafInputs = new Uint8Array(offsets[n]!);
  const leafHashes = new Uint8Array(32 * n);
  const times = new Float64Array(n);
  const kinds = new Uint32Array(n);
  const tenants = new Uint32Array(n);
  // Kinds and tenants as indexes into one list of the batch's distinct values.
  const names: string[] = [];
  const ids = new Map<string, number>();
  const id = (s: string) => {
    let k = ids.get(s);
    if (k === undefined) {
      k = names.push(s) - 1;
      ids.set(s, k);
    }
    return k;
  };
  for (let i = 0; i < n; i++) {
    const e = batch.entries[i]!;
    leafInputs.set(e.bytes, offsets[i]! + 1);
    leafHashes.set(e.leafHash, 32 * i);
    times[i] = e.time;
    kinds[i] = id(e.kind);
    tenants[i] = id(e.tenant);
  }
  return { count: n, leafInputs, offsets, leafHashes, times, names, kinds, tenants };
}

/** Starts the writer thread; commits are packed into a few transferable buffers (no per-entry cloning). */
function startWriter(opts: SqliteOptions) {
  const worker = new Worker(new URL('./writer-worker.js', import.meta.url), {
    workerData: {
      path: opts.path,
      synchronous: opts.synchronous ?? 'FULL',
      busyTimeoutMs: opts.busyTimeoutMs ?? 10_000,
    },
  });
  let nextId = 1;
  let failure: Error | undefined;
  const waiting = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  const failAll = (err: Error) => {
    failure = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('message', (m: WriterReply) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve();
    else w.reject(new LogError(m.code ?? 'STORAGE', m.message ?? 'writer failed'));
  });
  worker.on('error', (err) =>
    failAll(new LogError('STORAGE', `writer thread failed: ${err.message}`, { cause: err })),
  );
  worker.on('exit', () => failAll(new LogError('CLOSED', 'writer thread exited')));
  worker.unref();
  const send = (msg: Record<string, unknown>, transfer: ArrayBuffer[] = []) =>
    new Promise<void>((resolve, reject) => {
      if (failure) return reject(failure);
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...msg, id }, transfer);
    }).finally(() => {
      if (waiting.size === 0) worker.unref();
    });
  return {
    commit(batch: CommitBatch): Promise<void> {
      let p: PackedEntries;
      try {
        // Copies the log's packed buffers (they are the caller's) or packs the entries: either way, fresh
        // buffers that can be transferred.
        p = batch.packed ? copyPacked(batch.packed) : pack(batch);
      } catch (err) {
        return Promise.reject(err);
      }
      const tiles = batch.tiles.map((t) => ({
        level: t.level,
        index: t.index,
        width: t.width,
        data: new Uint8Array(t.data),
      }));
      return send(
        {
          op: 'commit',
          expectedSize: batch.expectedSize,
          expectedTail: batch.expectedTail?.slice(),
          count: p.count,
          offsets: p.offsets,
          inputs: p.leafInputs,
          hashes: p.leafHashes,
          times: p.times,
          names: p.names,
          kinds: p.kinds,
          tenants: p.tenants,
          tiles,
        },
        [
          p.leafInputs.buffer as ArrayBuffer,
          p.leafHashes.buffer as ArrayBuffer,
          p.offsets.buffer as ArrayBuffer,
          p.times.buffer as ArrayBuffer,
          p.kinds.buffer as ArrayBuffer,
          p.tenants.buffer as ArrayBuffer,
          ...tiles.map((t) => t.data.buffer as ArrayBuffer),
        ],
      );
    },
    async close(): Promise<void> {
      if (failure) return;
      await send({ op: 'close' }).catch(() => undefined);
      await worker.terminate();
    },
  };
}

interface ReaderReply {
  id: number;
  ok: boolean;
  message?: string;
}

/** Files up to this size are integrity-checked in the calling thread (a few milliseconds). */
const IN_THREAD_CHECK_BYTES = 8 * 2 ** 20;

/** What verification reads through: a reader thread, or the same reader run in the calling thread. */
interface Reader {
  request<T>(msg: ReaderRequest): Promise<ReaderReply & T>;
  close(): Promise<void>;
}

/** The reader run in the calling thread, on its own read-only connection (for work smaller than a thread's start). */
function localReader(opts: SqliteOptions): Reader {
  const handle = openReader(opts.path, opts.busyTimeoutMs ?? 10_000);
  let closed = false;
  return {
    request<T>(msg: ReaderRequest): Promise<ReaderReply & T> {
      try {
        return Promise.resolve({ id: 0, ok: true, ...handle(msg).reply } as ReaderReply & T);
      } catch (err) {
        return Promise.reject(new LogError('STORAGE', `database error: ${(err as Error).message}`));
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      handle({ op: 'close' });
    },
  };
}

/** A reader thread with its own read-only connection. */
function startReader(opts: SqliteOptions): Reader {
  const worker = new Worker(new URL('./reader-worker.js', import.meta.url), {
    workerData: { path: opts.path, busyTimeoutMs: opts.busyTimeoutMs ?? 10_000 },
  });
  let nextId = 1;
  let failure: Error | undefined;
  const waiting = new Map<number, { resolve: (m: ReaderReply) => void; reject: (e: unknown) => void }>();
  const failAll = (err: Error) => {
    failure = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('message', (m: ReaderReply) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m);
    else w.reject(new LogError('STORAGE', `database error: ${m.message ?? 'reader failed'}`));
  });
  worker.on('error', (err) =>
    failAll(new LogError('STORAGE', `reader thread failed: ${err.message}`, { cause: err })),
  );
  worker.on('exit', () => failAll(new LogError('CLOSED', 'reader thread exited')));
  return {
    request<T>(msg: ReaderRequest): Promise<ReaderReply & T> {
      return new Promise<ReaderReply & T>((resolve, reject) => {
        if (failure) return reject(failure);
        const id = nextId++;
        waiting.set(id, { resolve: resolve as (m: ReaderReply) => void, reject });
        worker.postMessage({ ...msg, id });
      });
    },
    async close(): Promise<void> {
      if (!failure) await this.request({ op: 'close' }).catch(() => undefined);
      await worker.terminate();
    },
  };
}

interface ScanReply {
  verified?: VerifiedRange;
  n: number;
  indexes: Float64Array;
  times: Float64Array;
  offsets: Uint32Array;
  hashOffsets: Uint32Array;
  kinds: string[];
  tenants: string[];
  bytes: Uint8Array;
  hashes: Uint8Array;
  leafHashes: Uint8Array;
  columnMismatches: [number, 'kind' | 'tenant' | 'time'][];
  /** Times that are not numbers (damaged rows), by position. */
  oddTimes: [number, unknown][];
}

function unpack(r: ScanReply): StoredEntry[] {
  const out: StoredEntry[] = new Array(r.n);
  const bytes = Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
  const hashes = Buffer.from(r.hashes.buffer, r.hashes.byteOffset, r.hashes.byteLength);
  const oddTimes = new Map(r.oddTimes);
  for (let i = 0; i < r.n; i++) {
    out[i] = {
      index: r.indexes[i]!,
      leafHash: hashes.subarray(r.hashOffsets[i]!, r.hashOffsets[i + 1]!),
      bytes: bytes.subarray(r.offsets[i]!, r.offsets[i + 1]!),
      kind: r.kinds[i]!,
      tenant: r.tenants[i]!,
      time: oddTimes.size > 0 && oddTimes.has(i) ? (oddTimes.get(i) as number) : r.times[i]!,
    };
  }
  return out;
}

/**
 * Reads [start, end) in chunks spread over reader threads, keeping two chunks per thread in flight; a range of one
 * chunk is read in the calling thread (starting a thread costs more than reading it).
 */
async function* scanWithReaders(
  opts: SqliteOptions,
  start: number,
  end: number,
  chunk: number,
  threads: number,
  verify: ScanVerify | undefined,
): AsyncGenerator<EntryRange> {
  const sizes = verify ? [...verify.checkpointSizes] : undefined;
  const chunks = Math.ceil((end - start) / chunk);
  const readers =
    chunks <= 1
      ? [localReader(opts)]
      : Array.from({ length: Math.max(1, Math.min(threads, chunks)) }, () => startReader(opts));
  const queue: { start: number; end: number; reply: Promise<ScanReply> }[] = [];
  let next = start;
  let k = 0;
  const fill = () => {
    while (next < end && queue.length < readers.length * 2) {
      const s = next;
      next = Math.min(end, next + chunk);
      queue.push({
        start: s,
        end: next,
        reply: readers[k++ % readers.length]!.request<ScanReply>({
          op: 'scan',
          start: s,
          end: next,
          // Only the checkpoint sizes this chunk needs.
          verify: sizes && { sizes: sizes.filter((x) => x > s && x < next) },
        }),
      });
    }
  };
  try {
    fill();
    while (queue.length > 0) {
      const head = queue.shift()!;
      const r = await head.reply;
      fill();
      if (r.verified) {
        yield { start: head.start, end: head.end, entries: [], verified: r.verified };
        continue;
      }
      yield {
        start: head.start,
        end: head.end,
        entries: unpack(r),
        leafHashes: r.leafHashes,
        columnMismatches: new Map(r.columnMismatches),
      };
    }
  } finally {
    await Promise.allSettled(queue.map((q) => q.reply));
    await Promise.all(readers.map((r) => r.close()));
  }
}
export { createSqliteControlStore } from './control-store.ts';
export { createSqliteFederationStore } from './federation-store.ts';
