// PostgreSQL LogStorage + TokenStore. A commit is one transaction that locks the log's head row (compare-and-swap
// on the size and the tail's leaf hash), inserts the batch's entries with one multi-row statement and upserts its
// tiles (a tile never shrinks); it is durable when COMMIT returns (synchronous_commit on, the server's default).
import type pg from 'pg';
import type { Audience, Role, TokenRecord, TokenStore } from '@vaultmesh/auth';
import {
  LogError,
  type CommitBatch,
  type EntryFilter,
  type LogStorage,
  type StoredAnchor,
  type StoredCheckpoint,
  type StoredEntry,
  type StoredTile,
} from '@vaultmesh/log';
import { isUnavailable, pgMessage } from './connect.ts';

interface EntryRow {
  idx: number;
  leaf_hash: Buffer;
  kind: string;
  tenant: string;
  time_ms: number;
  bytes: Buffer;
}
interface TileRow {
  level: number;
  idx: number;
  width: number;
  data: Buffer;
}
interface CheckpointRow {
  size: number;
  root: Buffer;
  note: string;
  created_at: number;
}
interface AnchorRow {
  size: number;
  authority: string;
  type: string;
  proof: Buffer;
  anchored_at: number;
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
  audience: string | null;
  poll_roles: string | null;
}

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const toEntry = (r: EntryRow): StoredEntry => ({
  index: r.idx,
  leafHash: u8(r.leaf_hash),
  bytes: u8(r.bytes),
  kind: r.kind,
  tenant: r.tenant,
  time: r.time_ms,
});
const toTile = (r: TileRow): StoredTile => ({
  level: r.level,
  index: r.idx,
  width: r.width,
  data: u8(r.data),
});
const toCheckpoint = (r: CheckpointRow): StoredCheckpoint => ({
  size: r.size,
  root: u8(r.root),
  note: r.note,
  createdAt: r.created_at,
});
const toAnchor = (r: AnchorRow): StoredAnchor => ({
  size: r.size,
  authority: r.authority,
  type: r.type,
  proof: u8(r.proof),
  anchoredAt: r.anchored_at,
  createdAt: r.created_at,
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

/** The advisory lock key of appenders ("vmap"). */
const APPEND_LOCK = 0x766d6170;

/** A pg failure as a LogError: UNAVAILABLE when the server cannot be reached, STORAGE otherwise. */
export function logError(err: unknown, url: string, what: string): LogError {
  if (err instanceof LogError) return err;
  return new LogError(isUnavailable(err) ? 'UNAVAILABLE' : 'STORAGE', `${what}: ${pgMessage(err, url)}`, {
    cause: err,
  });
}

/** Runs `fn` in one transaction on one connection; rolls back on any error. */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const r = await fn(c);
    await c.query('COMMIT');
    return r;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

// One statement does the whole commit inside the transaction (BEGIN, this, COMMIT: the round trips of a plain
// insert): it locks the head row, checks the compare-and-swap, inserts the entries, upserts the tiles (never
// shrinking one) and moves the head, each part only when the check passed. The counts it returns say what happened;
// anything short of everything rolls the transaction back.
const COMMIT_SQL = `
WITH head AS (
  SELECT size, tail FROM log_head WHERE id = 1 FOR UPDATE
), ok AS (
  SELECT 1 FROM head WHERE size = $7::bigint AND ($8::bytea IS NULL OR tail = $8::bytea)
), ins AS (
  INSERT INTO entries (idx, leaf_hash, kind, tenant, time_ms, bytes)
  SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::text[], $5::bigint[], $6::bytea[])
  WHERE EXISTS (SELECT 1 FROM ok)
  RETURNING 1
), tl AS (
  INSERT INTO tiles AS t (level, idx, width, data)
  SELECT * FROM unnest($9::int[], $10::bigint[], $11::int[], $12::bytea[])
  WHERE EXISTS (SELECT 1 FROM ok)
  ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data
  WHERE excluded.width >= t.width
  RETURNING 1
), upd AS (
  UPDATE log_head SET size = $13::bigint, tail = $14::bytea
  WHERE id = 1 AND $15::int > 0 AND EXISTS (SELECT 1 FROM ok)
  RETURNING 1
)
SELECT (SELECT size FROM head) AS size, (SELECT count(*) FROM ok)::int AS ok,
  (SELECT count(*) FROM ins)::int AS entries, (SELECT count(*) FROM tl)::int AS tiles,
  (SELECT count(*) FROM upd)::int AS head`;

async function commitBatch(c: pg.PoolClient, batch: CommitBatch): Promise<void> {
  const es = batch.entries;
  const n = es.length;
  es.forEach((e, i) => {
    if (e.index !== batch.expectedSize + i)
      throw new LogError('INVALID_ARGUMENT', `entry index ${e.index} is out of sequence`);
  });
  const ts = batch.tiles;
  const r = await c.query<{
    size: string | number | null;
    ok: number;
    entries: number;
    tiles: number;
    head: number;
  }>(COMMIT_SQL, [
    es.map((e) => e.index),
    es.map((e) => buf(e.leafHash)),
    es.map((e) => e.kind),
    es.map((e) => e.tenant),
    es.map((e) => e.time),
    es.map((e) => buf(e.bytes)),
    batch.expectedSize,
    batch.expectedTail ? buf(batch.expectedTail) : null,
    ts.map((t) => t.level),
    ts.map((t) => t.index),
    ts.map((t) => t.width),
    ts.map((t) => buf(t.data)),
    batch.expectedSize + n,
    n > 0 ? buf(es[n - 1]!.leafHash) : null,
    n,
  ]);
  const row = r.rows[0]!;
  const size = Number(row.size ?? 0);
  if (row.ok !== 1) {
    if (size !== batch.expectedSize)
      throw new LogError('CONFLICT', `expected size ${batch.expectedSize}, storage has ${size}`);
    throw new LogError('CONFLICT', `entry ${size - 1} is not the expected tail`);
  }
  if (row.tiles !== ts.length) {
    const shrunk = await c.query<{ level: number; idx: number }>(
      `SELECT t.level, t.idx FROM tiles t JOIN unnest($1::int[], $2::bigint[], $3::int[]) AS n(level, idx, width)
       ON t.level = n.level AND t.idx = n.idx WHERE n.width < t.width LIMIT 1`,
      [ts.map((t) => t.level), ts.map((t) => t.index), ts.map((t) => t.width)],
    );
    const s = shrunk.rows[0];
    throw new LogError('INVALID_ARGUMENT', `tile ${s?.level ?? '?'}/${s?.idx ?? '?'} width cannot shrink`);
  }
  if (row.entries !== n || row.head !== (n > 0 ? 1 : 0))
    throw new LogError('STORAGE', `commit stored ${row.entries} of ${n} entries`);
}

/** The entries filter as SQL (placeholders from $1), in index order. */
function listSql(f: EntryFilter): { sql: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => `$${args.push(v)}`;
  if (f.kind !== undefined) where.push(`kind = ${arg(f.kind)}`);
  if (f.tenants !== undefined) where.push(`tenant = ANY(${arg([...f.tenants])}::text[])`);
  if (f.fromTime !== undefined) where.push(`time_ms >= ${arg(f.fromTime)}`);
  if (f.toTime !== undefined) where.push(`time_ms <= ${arg(f.toTime)}`);
  if (f.after !== undefined) where.push(`idx > ${arg(f.after)}`);
  if (f.before !== undefined) where.push(`idx < ${arg(f.before)}`);
  // The substring is looked for in the stored bytes as they are (bytea position), like SQLite's instr on them.
  if (f.text !== undefined) where.push(`position(${arg(Buffer.from(f.text, 'utf8'))}::bytea in bytes) > 0`);
  const order = f.order === 'desc' ? 'DESC' : 'ASC';
  const sql = `SELECT * FROM entries ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY idx ${order} LIMIT ${arg(f.limit)}`;
  return { sql, args };
}

/** LogStorage + TokenStore over a pool whose search_path is the VaultMesh schema. */
export function createLogStorage(pool: pg.Pool, url: string): LogStorage & TokenStore {
  const q = async <R extends pg.QueryResultRow>(what: string, sql: string, args: unknown[] = []) => {
    try {
      return (await pool.query<R>(sql, args)).rows;
    } catch (err) {
      throw logError(err, url, what);
    }
  };
  const one = async <R extends pg.QueryResultRow>(what: string, sql: string, args: unknown[] = []) =>
    (await q<R>(what, sql, args))[0];
  return {
    async size() {
      return (
        (await one<{ size: number }>('reading the log size', 'SELECT size FROM log_head WHERE id = 1'))
          ?.size ?? 0
      );
    },
    async commit(batch) {
      try {
        await inTransaction(pool, (c) => commitBatch(c, batch));
      } catch (err) {
        throw logError(err, url, 'committing a batch');
      }
    },
    async getEntry(index) {
      const r = await one<EntryRow>('reading an entry', 'SELECT * FROM entries WHERE idx = $1', [index]);
      return r ? toEntry(r) : undefined;
    },
    async getEntries(start, end) {
      const rows = await q<EntryRow>(
        'reading entries',
        'SELECT * FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx',
        [start, end],
      );
      return rows.map(toEntry);
    },
    async listEntries(f) {
      if (f.tenants !== undefined && f.tenants.length === 0) return [];
      const { sql, args } = listSql(f);
      return (await q<EntryRow>('listing entries', sql, args)).map(toEntry);
    },
    async getTile(level, index) {
      const r = await one<TileRow>('reading a tile', 'SELECT * FROM tiles WHERE level = $1 AND idx = $2', [
        level,
        index,
      ]);
      return r ? toTile(r) : undefined;
    },
    async *listTiles() {
      let after: [number, number] = [-1, -1];
      for (;;) {
        const rows = await q<TileRow>(
          'listing tiles',
          'SELECT * FROM tiles WHERE (level, idx) > ($1, $2) ORDER BY level, idx LIMIT 256',
          after,
        );
        if (rows.length === 0) return;
        for (const r of rows) yield toTile(r);
        const last = rows[rows.length - 1]!;
        after = [last.level, last.idx];
      }
    },
    async putCheckpoint(cp) {
      await q(
        'storing a checkpoint',
        'INSERT INTO checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING',
        [cp.size, buf(cp.root), cp.note, cp.createdAt],
      );
    },
    async getCheckpoint(size) {
      const r =
        size === undefined
          ? await one<CheckpointRow>(
              'reading a checkpoint',
              'SELECT * FROM checkpoints ORDER BY size DESC LIMIT 1',
            )
          : await one<CheckpointRow>('reading a checkpoint', 'SELECT * FROM checkpoints WHERE size = $1', [
              size,
            ]);
      return r ? toCheckpoint(r) : undefined;
    },
    async listCheckpoints() {
      return (await q<CheckpointRow>('listing checkpoints', 'SELECT * FROM checkpoints ORDER BY size')).map(
        toCheckpoint,
      );
    },
    async putAnchor(a) {
      await q(
        'storing an anchor',
        'INSERT INTO anchors (size, authority, type, proof, anchored_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (size, authority) DO NOTHING',
        [a.size, a.authority, a.type, buf(a.proof), a.anchoredAt, a.createdAt],
      );
    },
    async listAnchors(size) {
      const rows =
        size === undefined
          ? await q<AnchorRow>('listing anchors', 'SELECT * FROM anchors ORDER BY size, authority')
          : await q<AnchorRow>(
              'listing anchors',
              'SELECT * FROM anchors WHERE size = $1 ORDER BY authority',
              [size],
            );
      return rows.map(toAnchor);
    },
    async appendLock() {
      // A session-level advisory lock on a connection of its own: waiters queue in the database, and a process that
      // dies lets the next one in when its connection closes.
      const c = await pool.connect().catch((err: unknown) => {
        throw logError(err, url, 'waiting for the append lock');
      });
      try {
        await c.query('SELECT pg_advisory_lock($1)', [APPEND_LOCK]);
      } catch (err) {
        c.release(true);
        throw logError(err, url, 'waiting for the append lock');
      }
      return async () => {
        try {
          await c.query('SELECT pg_advisory_unlock($1)', [APPEND_LOCK]);
          c.release();
        } catch {
          c.release(true); // the connection broke: dropping it releases the lock
        }
      };
    },
    async getMeta(key) {
      return (await one<{ value: string }>('reading meta', 'SELECT value FROM meta WHERE key = $1', [key]))
        ?.value;
    },
    async setMeta(key, value) {
      await q(
        'writing meta',
        'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
        [key, value],
      );
    },
    async insertToken(t) {
      await q(
        'storing a token',
        'INSERT INTO tokens (id, name, role, tenant, secret_hash, created_at, expires_at, revoked_at, audience, poll_roles) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
        [
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
        ],
      );
    },
    async getToken(id) {
      const r = await one<TokenRow>('reading a token', 'SELECT * FROM tokens WHERE id = $1', [id]);
      return r ? toToken(r) : undefined;
    },
    async listTokens() {
      return (await q<TokenRow>('listing tokens', 'SELECT * FROM tokens ORDER BY created_at, id')).map(
        toToken,
      );
    },
    async revokeToken(id, at) {
      const rows = await q(
        'revoking a token',
        'UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING id',
        [at, id],
      );
      return rows.length === 1;
    },
    async close() {
      await pool.end();
    },
  };
}
