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

/**
 * A third-party proof that a stored checkpoint existed (e.g. an RFC 3161 timestamp token over the checkpoint's
 * note bytes). One per (checkpoint size, authority); the proof bytes are verified, never trusted, on read.
 */
export interface StoredAnchor {
  readonly size: number;
  /** Configured name of the authority, e.g. "tsa:local". */
  readonly authority: string;
  /** Anchor type, e.g. "rfc3161". */
  readonly type: string;
  readonly proof: Uint8Array;
  /** When the authority says it saw the checkpoint (Unix ms, e.g. the TSA's genTime). */
  readonly anchoredAt: number;
  /** Unix ms when this node stored it. */
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
  /**
   * Optional, only when the scan was asked to verify: the reader checked the whole range itself and
   * found nothing wrong, exactly as verifyLog would have entry by entry (every index present, leaf hashes,
   * columns, and every tree node the range's leaves complete against its stored tile slot). `entries` is
   * then empty. A range with anything unusual in it comes with its entries instead, for verifyLog to
   * find and report.
   */
  readonly verified?: VerifiedRange;
}

/** A complete subtree: 2^level leaves, and its root hash. */
export interface SubtreeHash {
  readonly level: number;
  readonly hash: Uint8Array;
}

/** What a reader that verified a range [start, end) hands back (see EntryRange.verified). */
export interface VerifiedRange {
  /** The range's complete subtrees, largest first (rangeNodes(start, end)), recomputed from its entries. */
  readonly nodes: readonly SubtreeHash[];
  /** Tree nodes compared with their stored tile slots, leaves included (as verifyLog counts them). */
  readonly nodesChecked: number;
  /** For each requested checkpoint size strictly inside the range: the subtrees of [start, size). */
  readonly frontiers: readonly (readonly [number, readonly SubtreeHash[]])[];
}

/** Asks a scan to verify whole ranges itself where it can (see EntryRange.verified). */
export interface ScanVerify {
  /** Signed checkpoint sizes, whose roots verifyLog recomputes (see VerifiedRange.frontiers). */
  readonly checkpointSizes: readonly number[];
}

/**
 * A batch's entries packed into a few buffers (CommitBatch.packed). Entry i, at index expectedSize + i,
 * has the RFC 6962 leaf input 0x00 || bytes at leafInputs[offsets[i], offsets[i + 1]), its leaf hash at
 * leafHashes[32 * i, 32 * i + 32), its time at times[i], its kind names[kinds[i]] and its tenant
 * names[tenants[i]].
 */
export interface PackedEntries {
  readonly count: number;
  readonly leafInputs: Uint8Array;
  readonly offsets: Uint32Array;
  readonly leafHashes: Uint8Array;
  readonly times: Float64Array;
  readonly names: readonly string[];
  readonly kinds: Uint32Array;
  readonly tenants: Uint32Array;
}

/** A batch to commit atomically. */
export interface CommitBatch {
  /** The committed size the writer believes storage has; a mismatch must fail with CONFLICT and write nothing. */
  readonly expectedSize: number;
  /** Leaf hash of entry expectedSize - 1 (absent when expectedSize is 0); a mismatch must fail with CONFLICT. */
  readonly expectedTail?: Uint8Array;
  readonly entries: readonly StoredEntry[];
  /**
   * Optional: the same entries, packed, for drivers that move them in bulk (a writer thread). A driver
   * that uses it need not read `entries` (the log then never builds them). Like everything in a batch,
   * its buffers are the caller's: read or copy them, never modify or transfer them.
   */
  readonly packed?: PackedEntries;
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
  /** Stores an anchor; storing the same (size, authority) again is a no-op and keeps the first. */
  putAnchor(a: StoredAnchor): Promise<void>;
  /** Anchors ordered by (size, authority), optionally only those of one checkpoint size. */
  listAnchors(size?: number): Promise<StoredAnchor[]>;
  /**
   * Optional, for storage several processes append to (PostgreSQL): waits until this process may build and commit
   * batches, and resolves with the function that lets the next one in. The log then builds its batches on the head
   * as it is under the lock, instead of losing the compare-and-swap to the other writers and backing off.
   */
  appendLock?(): Promise<() => Promise<void>>;
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
