// Ports of the log: what a storage driver must guarantee. Every driver passes the same contract suite.
import { toHex } from '@vaultmesh/ledger';

/** One sequenced entry: the leaf bytes plus columns derived from them for filtering. */
export interface StoredEntry {
  readonly index: number;
  readonly leafHash: Uint8Array;
  readonly bytes: Uint8Array;
  readonly kind: string;
  readonly tenant: string;
  /** Receipt time as Unix milliseconds. */
  readonly time: number;
}

/**
 * A stored hash tile: a height-8 subtree holding every complete node of relative levels 0..7
 * (see tile-layout.ts). `width` is the number of level-0 (bottom row) hashes present.
 */
export interface StoredTile {
  readonly level: number;
  readonly index: number;
  readonly width: number;
  readonly data: Uint8Array;
}

/** A signed checkpoint as stored: the note text is the source of truth; size and root are for lookup. */
export interface StoredCheckpoint {
  readonly size: number;
  readonly root: Uint8Array;
  readonly note: string;
  /** Unix milliseconds when this node published it. */
  readonly createdAt: number;
}

/** Filter for listing entries; results are ordered by index. */
export interface EntryFilter {
  readonly kind?: string;
  /** Restrict to these tenants (undefined = all). */
  readonly tenants?: readonly string[];
  readonly fromTime?: number;
  readonly toTime?: number;
  /** Substring that must occur in the leaf bytes. */
  readonly text?: string;
  /** Exclusive cursor: entries with index > after (asc) or < before (desc). */
  readonly after?: number;
  readonly before?: number;
  readonly order?: 'asc' | 'desc';
  readonly limit: number;
}

/** Entries read for the index range [start, end) (missing indexes are simply absent). */
export interface EntryRange {
  readonly start: number;
  readonly end: number;
  readonly entries: StoredEntry[];
  /**
   * Optional: RFC 6962 leaf hashes SHA-256(0x00 || bytes) recomputed from each entry's stored bytes by
   * the reader (32 bytes per entry, in order), so verification can hash on another thread.
   */
  readonly leafHashes?: Uint8Array;
  /**
   * Optional, with leafHashes: the reader already compared each entry's kind, tenant and time columns
   * with its bytes (envelopeMismatch); maps position in `entries` to the first mismatching column.
   */
  readonly columnMismatches?: ReadonlyMap<number, 'kind' | 'tenant' | 'time'>;
}

/** A batch to commit atomically. */
export interface CommitBatch {
  /** The committed size the writer believes storage has; a mismatch must fail with CONFLICT and write nothing. */
  readonly expectedSize: number;
  /** Leaf hash of entry expectedSize - 1 (absent when expectedSize is 0); a mismatch must fail with CONFLICT. */
  readonly expectedTail?: Uint8Array;
  readonly entries: readonly StoredEntry[];
  /** Tiles to insert or replace (a tile's width only ever grows). */
  readonly tiles: readonly StoredTile[];
}

/**
 * Durable storage of one log. Guarantees: `commit` is atomic and durable when it resolves (a crash after
 * resolution loses nothing; a crash before leaves no trace of the batch); concurrent writers from several
 * processes are serialized and detected through `expectedSize`; reads see only committed data.
 */
export interface LogStorage {
  size(): Promise<number>;
  commit(batch: CommitBatch): Promise<void>;
  getEntry(index: number): Promise<StoredEntry | undefined>;
  /** Entries [start, end) in index order. */
  getEntries(start: number, end: number): Promise<StoredEntry[]>;
  listEntries(filter: EntryFilter): Promise<StoredEntry[]>;
  getTile(level: number, index: number): Promise<StoredTile | undefined>;
  /** Every stored tile (for verification), in (level, index) order. */
  listTiles(): AsyncIterable<StoredTile>;
  /** Stores a checkpoint; storing the same size again is a no-op and keeps the first. */
  putCheckpoint(cp: StoredCheckpoint): Promise<void>;
  /** The checkpoint of exactly this size, or the largest one when size is undefined. */
  getCheckpoint(size?: number): Promise<StoredCheckpoint | undefined>;
  listCheckpoints(): Promise<StoredCheckpoint[]>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

/** The JSON view of a stored checkpoint shared by every edge (API responses, `vm ... --json`). */
export function checkpointJson(cp: StoredCheckpoint, origin: string) {
  return {
    origin,
    size: cp.size,
    root: toHex(cp.root),
    note: cp.note,
    createdAt: new Date(cp.createdAt).toISOString(),
  };
}
