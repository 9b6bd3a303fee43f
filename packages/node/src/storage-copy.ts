// `vm storage copy`: moves a node's SQLite ledger and everything beside it (tokens, control plane, federation) into a
// PostgreSQL database, resumably, then proves the copy: the same size, the same root, every checkpoint verified with
// the node's key. The source is read only; the copy is idempotent (entries resume at the target's size after a check
// that its last entry is the source's, every other row is inserted once).
import type Database from 'better-sqlite3';
import { LogError, type StoredEntry } from '@vaultmesh/log';
import { openPostgresStorage, type PostgresStorage } from '@vaultmesh/store-postgres';
import { toHex } from '@vaultmesh/ledger';
import { dataPaths, verifyStorage, type NodeVerifyReport } from './node.ts';
import { openNodeStorage, recordStorage, type NodeStorage, type StorageConfig } from './storage.ts';

/** Progress of a copy, for a progress line. */
export interface CopyProgress {
  readonly stage: 'entries' | 'tiles' | 'checkpoints' | 'tokens' | 'documents' | 'verify';
  readonly done: number;
  readonly total: number;
}

/** What a copy did and what its proof found. */
export interface CopyReport {
  readonly target: string;
  readonly size: number;
  /** Entries already in the target when this run started (a resumed copy). */
  readonly resumedAt: number;
  readonly copied: {
    entries: number;
    tiles: number;
    checkpoints: number;
    anchors: number;
    tokens: number;
    rows: number;
  };
  readonly verify: NodeVerifyReport;
  /** The source's root at its size (hex), which the target's verified root must equal. */
  readonly sourceRoot: string;
  readonly bound: boolean;
}

const META_KEYS = ['origin', 'verifier_key', 'verifier_keys', 'created_at'];
/** Tables copied row by row (ON CONFLICT DO NOTHING), with their columns. */
const TABLES: readonly { name: string; columns: readonly string[]; bytea?: readonly string[] }[] = [
  { name: 'control_docs', columns: ['collection', 'id', 'version', 'doc', 'updated_at'] },
  { name: 'fed_peers', columns: ['name', 'doc'] },
  { name: 'fed_witness', columns: ['peer', 'doc'] },
  { name: 'fed_mirror_state', columns: ['peer', 'doc'] },
  { name: 'fed_mirror_entries', columns: ['peer', 'idx', 'leaf_hash', 'bytes'], bytea: ['bytes'] },
  { name: 'fed_cosignatures', columns: ['size', 'witness', 'line', 'timestamp'] },
];
const CHUNK = 2000;

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

async function copyEntries(
  src: NodeStorage,
  dst: PostgresStorage,
  size: number,
  onProgress: (p: CopyProgress) => void,
) {
  let at = await dst.size();
  if (at > size)
    throw new LogError(
      'CONFLICT',
      `the target holds ${at} entries, more than the source's ${size}: it is another log`,
    );
  if (at > 0) {
    const [mine, theirs] = [await src.getEntry(at - 1), await dst.getEntry(at - 1)];
    if (!mine || !theirs || toHex(mine.leafHash) !== toHex(theirs.leafHash))
      throw new LogError(
        'CONFLICT',
        `entry ${at - 1} of the target differs from the source's: it is another log`,
      );
  }
  const resumedAt = at;
  while (at < size) {
    const entries: StoredEntry[] = await src.getEntries(at, Math.min(size, at + CHUNK));
    if (entries.length === 0 || entries[0]!.index !== at)
      throw new LogError(
        'STORAGE',
        `the source has no entry ${at}: verify it first (vm audit verify --full)`,
      );
    const prev = at > 0 ? await src.getEntry(at - 1) : undefined;
    await dst.commit({
      expectedSize: at,
      ...(prev ? { expectedTail: prev.leafHash } : {}),
      entries,
      tiles: [],
    });
    at += entries.length;
    onProgress({ stage: 'entries', done: at, total: size });
  }
  return { resumedAt, copied: at - resumedAt };
}

async function copyRows(db: Database.Database, dst: PostgresStorage, onProgress: (p: CopyProgress) => void) {
  let rows = 0;
  for (const t of TABLES) {
    if (!hasTable(db, t.name)) continue;
    const all = db.prepare(`SELECT ${t.columns.join(', ')} FROM ${t.name}`).all() as Record<
      string,
      unknown
    >[];
    for (let i = 0; i < all.length; i += 500) {
      const part = all.slice(i, i + 500);
      const values = part
        .map((_, r) => `(${t.columns.map((_, c) => `$${r * t.columns.length + c + 1}`).join(', ')})`)
        .join(', ');
      const args = part.flatMap((row) => t.columns.map((c) => row[c]));
      await dst.pool.query(
        `INSERT INTO ${t.name} (${t.columns.join(', ')}) VALUES ${values} ON CONFLICT DO NOTHING`,
        args,
      );
      rows += part.length;
      onProgress({ stage: 'documents', done: rows, total: rows });
    }
  }
  return rows;
}

/**
 * Copies the SQLite ledger of `dataDir` (and every other store) into the PostgreSQL database `target`, verifies the
 * copy, and (with `bind`) binds the data directory to it. Stop the node first: a node appending meanwhile makes the
 * copy end short, which the final size check reports (run the copy again: it resumes).
 */
export async function copyToPostgres(
  dataDir: string,
  target: Extract<StorageConfig, { driver: 'postgres' }>,
  opts: { bind?: boolean; onProgress?: (p: CopyProgress) => void } = {},
): Promise<CopyReport> {
  const onProgress = opts.onProgress ?? (() => undefined);
  const src = await openNodeStorage(dataDir, { driver: 'sqlite' }, { readonly: true });
  let dst: PostgresStorage | undefined;
  try {
    const db = src.sqlite!.db;
    dst = await openPostgresStorage({ url: target.url, ...(target.schema ? { schema: target.schema } : {}) });
    const origin = await src.getMeta('origin');
    if (!origin) throw new LogError('STORAGE', `${src.where} has no origin; it is not a VaultMesh log`);
    const theirs = await dst.getMeta('origin');
    if (theirs !== undefined && theirs !== origin)
      throw new LogError(
        'CONFLICT',
        `${dst.where}#${dst.schema} holds another log (${theirs}); choose another schema`,
      );
    const size = await src.size();
    const { resumedAt, copied } = await copyEntries(src, dst, size, onProgress);
    let tiles = 0;
    const batch = [];
    for await (const t of src.listTiles()) {
      batch.push(t);
      if (batch.length === 256) {
        await dst.commit({ expectedSize: size, entries: [], tiles: batch.splice(0) });
        tiles += 256;
        onProgress({ stage: 'tiles', done: tiles, total: tiles });
      }
    }
    if (batch.length) await dst.commit({ expectedSize: size, entries: [], tiles: batch });
    tiles += batch.length;
    const checkpoints = await src.listCheckpoints();
    for (const cp of checkpoints) await dst.putCheckpoint(cp);
    onProgress({ stage: 'checkpoints', done: checkpoints.length, total: checkpoints.length });
    const anchors = await src.listAnchors();
    for (const a of anchors) await dst.putAnchor(a);
    let tokens = 0;
    for (const t of await src.listTokens())
      if (!(await dst.getToken(t.id))) {
        await dst.insertToken(t);
        tokens++;
      }
    onProgress({ stage: 'tokens', done: tokens, total: tokens });
    const rows = await copyRows(db, dst, onProgress);
    // Meta last: a target with an origin is a complete copy's (or a resumed one's) target.
    for (const k of META_KEYS) {
      const v = await src.getMeta(k);
      if (v !== undefined) await dst.setMeta(k, v);
    }
    // The proof: the target verifies with the node's key, at the source's size and root.
    onProgress({ stage: 'verify', done: 0, total: size });
    const sourceReport = await verifyStorage(src, dataPaths(dataDir).pub, {});
    const dstStorage = await openNodeStorage(dataDir, target, { readonly: true });
    let verify: NodeVerifyReport;
    try {
      verify = await verifyStorage(dstStorage, dataPaths(dataDir).pub, {
        full: true,
        onProgress: (done, total) => onProgress({ stage: 'verify', done, total }),
      });
    } finally {
      await dstStorage.close();
    }
    const grew = (await src.size()) !== size;
    const proven = verify.ok && verify.size === size && verify.root === sourceReport.root && !grew;
    if (proven && opts.bind !== false) recordStorage(dataDir, target);
    return {
      target: `${dst.where}#${dst.schema}`,
      size,
      resumedAt,
      copied: {
        entries: copied,
        tiles,
        checkpoints: checkpoints.length,
        anchors: anchors.length,
        tokens,
        rows,
      },
      verify: grew
        ? {
            ...verify,
            ok: false,
            problemCount: verify.problemCount + 1,
            problems: [
              ...verify.problems,
              {
                where: 'log',
                field: 'size',
                message: 'the source grew during the copy: stop the node and copy again',
              },
            ],
          }
        : verify,
      sourceRoot: sourceReport.root,
      bound: proven && opts.bind !== false,
    };
  } finally {
    await src.close();
    await dst?.close();
  }
}
