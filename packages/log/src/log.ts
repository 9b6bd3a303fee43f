// The append lifecycle: validate → sequence (group commit) → integrate into tiles → checkpoint → sign → publish.
import {
  HASH_SIZE,
  TILE_HEIGHT,
  TILE_WIDTH,
  allocBytes,
  bytesEqual,
  consistencyProofPlan,
  defaultHasher,
  createReceiptLeaf,
  formatCheckpoint,
  inclusionProofPlan,
  rangeNodes,
  signNote,
  toHex,
  type MerkleHasher,
  type NodeId,
  type NoteSigner,
  type ParentRef,
  type Receipt,
  type ReceiptKind,
  type TileAddress,
} from '@vaultmesh/ledger';
import { LogError } from './errors.ts';
import type {
  CommitBatch,
  LogStorage,
  PackedEntries,
  StoredCheckpoint,
  StoredEntry,
  StoredTile,
} from './storage.ts';
import { TILE_BYTES, nodesAtTileLevel, rowOffset, tileLevels } from './tile-layout.ts';
import { TileReader } from './tile-reader.ts';

/** Commits in flight at once (integrate batch k+1 while batch k is being made durable). */
const PIPELINE_DEPTH = 4;
/** Batches sent per hold of a shared storage's append lock before the other processes get their turn. */
const BATCHES_PER_LOCK = 4;
/** Tries of a batch that another writer of the same storage keeps beating (with backoff between them). */
const MAX_CONFLICT_RETRIES = 20;
/** The longest wait between two such tries (ms). */
const CONFLICT_BACKOFF_MAX_MS = 1000;

/** Options of a log; only `storage`, `origin` and `signer` are required. */
export interface LogOptions {
  readonly storage: LogStorage;
  /** Checkpoint origin line, e.g. "vaultmesh.example/log". */
  readonly origin: string;
  readonly signer: NoteSigner;
  readonly hasher?: MerkleHasher;
  readonly now?: () => number;
  /** Most entries committed in one transaction (group commit). Default 2048 (with up to 4 commits in flight). */
  readonly maxBatch?: number;
  /** Publish a checkpoint this often when the log grew; 0 disables the timer. Default 0. */
  readonly checkpointIntervalMs?: number;
  /** Full (immutable) tiles kept in memory for proofs. Default 1024 (~16 MiB worst case; a miss is one SQLite read). */
  readonly tileCacheSize?: number;
  readonly onCommit?: (info: { entries: number; size: number; ms: number }) => void;
  readonly onCheckpoint?: (cp: StoredCheckpoint) => void;
  readonly onError?: (err: unknown) => void;
  /**
   * Whether this process signs checkpoints now (default: always). Several nodes of one log let only the leader
   * sign; the others find its checkpoints in storage on each tick and answer their waiters with them.
   */
  readonly mayPublish?: () => boolean;
}

/** What a caller appends; the node fills in version and time. */
export interface AppendInput {
  readonly kind: ReceiptKind | string;
  readonly actor: string;
  readonly tenant: string;
  readonly body: Record<string, unknown>;
  /** Parent receipts by index (resolved to their leaf hash) or by explicit reference (checked). */
  readonly parents?: readonly (number | ParentRef)[];
}

/** An acknowledged append: durable once this resolves. */
export interface AppendResult {
  readonly index: number;
  readonly leafHash: string;
  readonly receipt: Receipt;
}

/** An inclusion proof against a tree size. */
export interface InclusionProof {
  readonly index: number;
  readonly size: number;
  readonly leafHash: Uint8Array;
  readonly proof: Uint8Array[];
}

interface Pending {
  /** 0x00 || the receipt's RFC 8785 bytes: hashed (RFC 6962 leaf hash) when its batch is integrated. */
  readonly leafInput: Uint8Array;
  readonly receipt: Receipt;
  readonly time: number;
  /** Settles the append (a failure resolves it with a rejected promise: no reject function kept per append). */
  readonly resolve: (r: AppendResult | PromiseLike<AppendResult>) => void;
}

/** The entries of a packed batch starting at index `start` (views into its buffers). */
function unpack(p: PackedEntries, start: number): StoredEntry[] {
  const out: StoredEntry[] = new Array(p.count);
  for (let i = 0; i < p.count; i++) {
    out[i] = {
      index: start + i,
      leafHash: p.leafHashes.subarray(HASH_SIZE * i, HASH_SIZE * (i + 1)),
      bytes: p.leafInputs.subarray(p.offsets[i]! + 1, p.offsets[i + 1]!),
      kind: p.names[p.kinds[i]!]!,
      tenant: p.names[p.tenants[i]!]!,
      time: p.times[i]!,
    };
  }
  return out;
}

/** A batch handed to storage: the commit's outcome (its error, if any) and the batch's leaf hashes. */
interface SentBatch {
  readonly outcome: Promise<unknown>;
  readonly leafHashes: Uint8Array;
}

interface MemTile {
  level: number;
  index: number;
  width: number;
  data: Uint8Array;
}

interface Waiter {
  readonly index: number;
  readonly resolve: (v: { checkpoint: StoredCheckpoint; proof: InclusionProof }) => void;
  readonly reject: (e: unknown) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Counters a metrics edge can expose. */
export interface LogStats {
  size: number;
  pending: number;
  appended: number;
  batches: number;
  lastBatch: number;
  checkpointSize: number;
  checkpointAt: number;
  conflicts: number;
}

/** An append-only, sequenced, checkpointed Merkle log. One instance per process; storage arbitrates writers. */
export class Log {
  readonly origin: string;
  readonly hasher: MerkleHasher;
  private readonly storage: LogStorage;
  private readonly signer: NoteSigner;
  private readonly now: () => number;
  private readonly maxBatch: number;
  private readonly opts: LogOptions;
  /** Leaves integrated into the open tiles: committed plus in flight. */
  private treeSize = 0;
  /** The open (rightmost) tile of each tile level; together they hold the tree's right edge. */
  private tiles = new Map<number, MemTile>();
  private readonly reader: TileReader;
  /** Tiles written by the batch being integrated (a handful: reused to avoid a Set per batch). */
  private readonly dirty: MemTile[] = [];
  /** 0x01 || left || right, the input of a node hash. */
  private readonly nodeInput = new Uint8Array(1 + 2 * HASH_SIZE).fill(1, 0, 1);
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private flushScheduled = false;
  private committed = 0;
  /** Leaf hash of the last integrated entry (the tail storage must still have for the next batch). */
  private lastLeaf: Uint8Array | undefined;
  private waiters: Waiter[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private checkpointing: Promise<StoredCheckpoint> | undefined;
  private readonly counters = {
    appended: 0,
    batches: 0,
    lastBatch: 0,
    conflicts: 0,
    checkpointSize: 0,
    checkpointAt: 0,
  };

  private constructor(opts: LogOptions) {
    this.opts = opts;
    this.storage = opts.storage;
    this.origin = opts.origin;
    this.signer = opts.signer;
    this.hasher = opts.hasher ?? defaultHasher;
    this.now = opts.now ?? Date.now;
    this.maxBatch = opts.maxBatch ?? 2048;
    this.reader = new TileReader(opts.storage, this.hasher, opts.tileCacheSize ?? 1024);
  }

  /** Opens a log over storage, rebuilding the in-memory right edge from stored tiles. */
  static async open(opts: LogOptions): Promise<Log> {
    const log = new Log(opts);
    await log.reload();
    const latest = await log.storage.getCheckpoint();
    if (latest) {
      log.counters.checkpointSize = latest.size;
      log.counters.checkpointAt = latest.createdAt;
    }
    if (opts.checkpointIntervalMs && opts.checkpointIntervalMs > 0) {
      log.timer = setInterval(() => {
        void log.tick();
      }, opts.checkpointIntervalMs);
      log.timer.unref?.();
    }
    return log;
  }

  /** Committed entries visible to this process. */
  get size(): number {
    return this.committed;
  }

  stats(): LogStats {
    return { size: this.committed, pending: this.pending.length, ...this.counters };
  }

  /** Validates and encodes a receipt, then appends it; resolves once it is durable. Bad input rejects and writes nothing. */
  append(input: AppendInput): Promise<AppendResult> {
    try {
      if (this.closed) throw new LogError('CLOSED', 'log is closed');
      if (input.parents && input.parents.length > 0) {
        return this.resolveParents(input.parents).then((parents) => this.encodeAndEnqueue(input, parents));
      }
      return this.encodeAndEnqueue(input, undefined);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private encodeAndEnqueue(input: AppendInput, parents: ParentRef[] | undefined): Promise<AppendResult> {
    const time = this.now();
    const leaf = createReceiptLeaf(
      { kind: input.kind, actor: input.actor, tenant: input.tenant, body: input.body, parents },
      time,
    );
    return new Promise<AppendResult>((resolve) => {
      this.pending.push({ leafInput: leaf.leafInput, receipt: leaf.receipt, time, resolve });
      // A running drain picks this up; if it is just finishing, its finally reschedules.
      if (!this.flushing) this.scheduleFlush();
    });
  }

  private async resolveParents(refs: readonly (number | ParentRef)[]): Promise<ParentRef[]> {
    if (refs.length > 64) throw new LogError('INVALID_ARGUMENT', 'at most 64 parents');
    const size = await this.storage.size();
    const out: ParentRef[] = [];
    for (const ref of refs) {
      const index = typeof ref === 'number' ? ref : ref.index;
      if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
        throw new LogError('INVALID_ARGUMENT', `parent ${String(index)} does not exist (log size ${size})`);
      }
      const entry = await this.storage.getEntry(index);
      if (!entry) throw new LogError('INVALID_ARGUMENT', `parent ${index} does not exist`);
      const leafHash = toHex(entry.leafHash);
      if (typeof ref !== 'number' && ref.leafHash !== leafHash) {
        throw new LogError(
          'INVALID_ARGUMENT',
          `parent ${index} leaf hash does not match (stored ${leafHash})`,
        );
      }
      out.push({ index, leafHash });
    }
    return out;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => void this.flush());
  }

  private flush(): Promise<void> {
    this.flushScheduled = false;
    if (this.flushing) return this.flushing;
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
      if (this.pending.length > 0) this.scheduleFlush();
    });
    return this.flushing;
  }

  /**
   * Commits pending appends in batches, keeping up to PIPELINE_DEPTH commits in flight so the next batch is
   * integrated while storage (possibly on another thread) makes the previous one durable. Each batch names
   * the size and last leaf it builds on, so storage refuses it if anything else landed in between.
   */
  private async drain(): Promise<void> {
    const inflight: { batch: Pending[]; attempt: number; sent: SentBatch }[] = [];
    const requeue: { batch: Pending[]; attempt: number }[] = [];
    // Storage shared by several processes may serialize their appenders (LogStorage.appendLock): the batches are
    // then built on the head as it is under the lock, so they do not lose the compare-and-swap to each other. The
    // lock is given up after a few batches, so the other processes get their turn.
    let unlock: (() => Promise<void>) | undefined;
    let sentUnderLock = 0;
    const release = async () => {
      const u = unlock;
      unlock = undefined;
      await u?.().catch((e: unknown) => this.opts.onError?.(e));
    };
    try {
      while (this.pending.length > 0 || inflight.length > 0 || requeue.length > 0) {
        if (this.storage.appendLock && !unlock && inflight.length === 0) {
          try {
            unlock = await this.storage.appendLock();
            sentUnderLock = 0;
            if ((await this.storage.size()) !== this.committed) await this.reload();
          } catch (err) {
            // No lock (the database unreachable ...): the oldest batch fails with the reason; the rest try again.
            await release();
            const failed = requeue.shift()?.batch ?? this.takeBatch();
            for (const p of failed) p.resolve(Promise.reject(err));
            continue;
          }
        }
        while (
          inflight.length < PIPELINE_DEPTH &&
          (requeue.length > 0 || this.pending.length > 0) &&
          (!unlock || sentUnderLock < BATCHES_PER_LOCK)
        ) {
          const next = requeue.shift() ?? { batch: this.takeBatch(), attempt: 0 };
          inflight.push({ batch: next.batch, attempt: next.attempt, sent: this.sendBatch(next.batch) });
          sentUnderLock++;
        }
        if (inflight.length === 0) {
          await release();
          continue;
        }
        await this.settleHead(inflight, requeue);
        if (unlock && inflight.length === 0 && sentUnderLock >= BATCHES_PER_LOCK) await release();
      }
    } finally {
      await release();
    }
  }

  /** Waits for the oldest batch in flight; on failure, settles the rest and requeues or rejects them. */
  private async settleHead(
    inflight: { batch: Pending[]; attempt: number; sent: SentBatch }[],
    requeue: { batch: Pending[]; attempt: number }[],
  ): Promise<void> {
    const head = inflight.shift()!;
    const err = await head.sent.outcome;
    if (err === undefined) {
      this.finishBatch(head.batch, head.sent.leafHashes);
      return;
    }
    // Everything still in flight was built on the failed batch: let it settle, then rebuild from storage.
    const rest = inflight.splice(0);
    const restErrors = await Promise.all(rest.map((r) => r.sent.outcome));
    rest.forEach((r, i) => {
      if (restErrors[i] === undefined)
        this.opts.onError?.(new LogError('STORAGE', 'a batch committed after its predecessor failed'));
    });
    await this.reload().catch((e: unknown) => this.opts.onError?.(e));
    const conflict = err instanceof LogError && err.code === 'CONFLICT';
    const retry = conflict && head.attempt < MAX_CONFLICT_RETRIES;
    if (conflict) this.counters.conflicts++;
    if (retry) {
      // Another writer on the same storage won the race: back off (exponential, full jitter) before trying
      // again from the new size, so two busy writers do not keep colliding.
      await new Promise((r) =>
        setTimeout(r, Math.random() * Math.min(CONFLICT_BACKOFF_MAX_MS, 10 * 2 ** head.attempt)),
      );
      requeue.unshift({ batch: head.batch, attempt: head.attempt + 1 });
    } else {
      const final = conflict
        ? new LogError(
            'CONFLICT',
            `${(err as Error).message}: another process kept writing to this log (${head.attempt + 1} tries); stop it, or write through its API, and try again`,
          )
        : err;
      for (const p of head.batch) p.resolve(Promise.reject(final));
    }
    requeue.push(
      ...rest
        .filter((_, i) => restErrors[i] !== undefined)
        .map((r) => ({ batch: r.batch, attempt: r.attempt })),
    );
  }

  /** The next batch: up to maxBatch pending appends, oldest first. */
  private takeBatch(): Pending[] {
    if (this.pending.length <= this.maxBatch) {
      const all = this.pending;
      this.pending = [];
      return all;
    }
    return this.pending.splice(0, this.maxBatch);
  }

  /**
   * Integrates a batch into the open tiles (leaf hashes, then every node they complete) and hands it to
   * storage, packed (CommitBatch.packed). `outcome` resolves with the commit's error, if any.
   */
  private sendBatch(batch: Pending[]): SentBatch {
    const started = performance.now();
    const start = this.treeSize;
    const tail = start > 0 ? this.lastLeaf : undefined;
    const n = batch.length;
    const offsets = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + batch[i]!.leafInput.length;
    const leafInputs = new Uint8Array(offsets[n]!);
    const leafHashes = allocBytes(HASH_SIZE * n);
    const times = new Float64Array(n);
    const kinds = new Uint32Array(n);
    const tenants = new Uint32Array(n);
    // Kinds and tenants as indexes into the batch's distinct values (a batch repeats a few many times).
    const names: string[] = [];
    const ids = new Map<string, number>();
    const id = (name: string) => {
      let k = ids.get(name);
      if (k === undefined) {
        k = names.push(name) - 1;
        ids.set(name, k);
      }
      return k;
    };
    this.dirty.length = 0;
    for (let i = 0; i < n; i++) {
      const p = batch[i]!;
      leafInputs.set(p.leafInput, offsets[i]!);
      times[i] = p.time;
      kinds[i] = id(p.receipt.kind);
      tenants[i] = id(p.receipt.tenant);
      // RFC 6962 leaf hash = SHA-256(0x00 || bytes), and leafInput is exactly that buffer.
      this.hasher.sha256Into(p.leafInput, leafHashes, HASH_SIZE * i);
      this.integrate(leafHashes, HASH_SIZE * i);
    }
    if (n > 0) this.lastLeaf = new Uint8Array(leafHashes.subarray(HASH_SIZE * (n - 1)));
    const tiles: StoredTile[] = this.dirty.map((t) => ({
      level: t.level,
      index: t.index,
      width: t.width,
      data: t.data.slice(),
    }));
    const packed = { count: n, leafInputs, offsets, leafHashes, times, names, kinds, tenants };
    let entries: StoredEntry[] | undefined;
    const commit: CommitBatch = {
      expectedSize: start,
      expectedTail: tail,
      packed,
      tiles,
      // Built only for a driver that reads them.
      get entries() {
        return (entries ??= unpack(packed, start));
      },
    };
    const outcome = this.storage.commit(commit).then(
      () => {
        this.opts.onCommit?.({
          entries: n,
          size: start + n,
          ms: performance.now() - started,
        });
        return undefined;
      },
      (err: unknown) => err ?? new LogError('STORAGE', 'commit failed'),
    );
    return { outcome, leafHashes };
  }

  /**
   * Appends one leaf (its hash at src[at, at + 32)) to the tree: writes it into row 0 of the open level-0
   * tile, then, while the node just written is a right child, hashes it with its left sibling (the two
   * are adjacent in their tile row, or row 7 for a tile's root) straight into the parent's slot, one row
   * up or in row 0 of the next tile level. Every complete node has exactly one slot (tile-layout.ts).
   */
  private integrate(src: Uint8Array, at: number): void {
    let level = 0;
    let index = this.treeSize++;
    let t = this.openTile(level, index);
    let offset = this.slotOffset(level, index);
    const data = t.data;
    for (let k = 0; k < HASH_SIZE; k++) data[offset + k] = src[at + k]!;
    const input = this.nodeInput;
    while ((index & 1) === 1) {
      // RFC 6962 node hash: SHA-256(0x01 || left || right).
      const children = t.data;
      for (let k = 0; k < 2 * HASH_SIZE; k++) input[1 + k] = children[offset - HASH_SIZE + k]!;
      level++;
      index = (index - 1) / 2;
      t = this.openTile(level, index);
      offset = this.slotOffset(level, index);
      this.hasher.sha256Into(input, t.data, offset);
    }
  }

  /** The open tile that node (level, index) belongs to (a new one once the previous is full), marked dirty. */
  private openTile(level: number, index: number): MemTile {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const row = level - tileLevel * TILE_HEIGHT;
    const perRow = TILE_WIDTH >> row;
    const tileIndex = Math.floor(index / perRow);
    let t = this.tiles.get(tileLevel);
    if (!t || t.index !== tileIndex) {
      t = { level: tileLevel, index: tileIndex, width: 0, data: new Uint8Array(TILE_BYTES) };
      this.tiles.set(tileLevel, t);
    }
    if (row === 0) t.width = index - tileIndex * TILE_WIDTH + 1;
    if (this.dirty[this.dirty.length - 1] !== t && !this.dirty.includes(t)) this.dirty.push(t);
    return t;
  }

  /** Byte offset of node (level, index) in its tile. */
  private slotOffset(level: number, index: number): number {
    const row = level % TILE_HEIGHT;
    const perRow = TILE_WIDTH >> row;
    return (rowOffset(row) + (index % perRow)) * HASH_SIZE;
  }

  private finishBatch(batch: Pending[], leafHashes: Uint8Array): void {
    const start = this.committed;
    this.committed += batch.length;
    this.counters.appended += batch.length;
    this.counters.batches++;
    this.counters.lastBatch = batch.length;
    // One hex conversion for the whole batch; each result takes its 64 characters.
    const hex = toHex(leafHashes);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      p.resolve({ index: start + i, leafHash: hex.slice(64 * i, 64 * i + 64), receipt: p.receipt });
    }
  }

  /** Rebuilds the right edge and the open tiles from storage (after a conflict, failure or another writer). */
  private async reload(): Promise<void> {
    const size = await this.storage.size();
    const tiles = new Map<number, MemTile>();
    for (let level = 0; level < tileLevels(size); level++) {
      const count = nodesAtTileLevel(size, level);
      const index = Math.floor(count / TILE_WIDTH);
      if (count % TILE_WIDTH === 0) continue;
      const t = await this.storage.getTile(level, index);
      if (!t) throw new LogError('STORAGE', `tile ${level}/${index} is missing`);
      tiles.set(level, { level, index, width: t.width, data: t.data.slice() });
    }
    // The right edge (every frontier node) lives in those open tiles; make sure it is all there.
    await this.getNodes(rangeNodes(0, size));
    this.tiles = tiles;
    this.treeSize = size;
    this.committed = size;
    this.lastLeaf = size > 0 ? (await this.getNodes([{ level: 0, index: size - 1 }]))[0] : undefined;
  }

  /** Reads complete nodes from stored tiles. */
  getNodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    return this.reader.getNodes(ids);
  }

  /** MTH of the first `size` entries, from stored nodes. */
  rootAt(size: number): Promise<Uint8Array> {
    return this.reader.rootAt(size);
  }

  private async checkSize(size: number, what: string): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new LogError('INVALID_ARGUMENT', `${what} must be a non-negative integer`);
    const stored = await this.storage.size();
    if (size > stored)
      throw new LogError('INVALID_ARGUMENT', `${what} ${size} exceeds the log size ${stored}`);
  }

  /** RFC 9162 inclusion proof of entry `index` in the tree of `size` (default: the latest checkpoint). */
  async inclusionProof(index: number, size?: number): Promise<InclusionProof> {
    let treeSize = size;
    if (treeSize === undefined) {
      const cp = await this.storage.getCheckpoint();
      if (!cp) throw new LogError('NOT_FOUND', 'no checkpoint has been published yet');
      treeSize = cp.size;
    }
    await this.checkSize(treeSize, 'tree size');
    if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize) {
      throw new LogError('INVALID_ARGUMENT', `index ${index} is not below tree size ${treeSize}`);
    }
    const [leafHash] = await this.getNodes([{ level: 0, index }]);
    return {
      index,
      size: treeSize,
      leafHash: leafHash!,
      proof: await this.reader.resolvePlan(inclusionProofPlan(index, treeSize)),
    };
  }

  /** RFC 9162 consistency proof between two tree sizes. */
  async consistencyProof(size1: number, size2: number): Promise<Uint8Array[]> {
    await this.checkSize(size2, 'second size');
    if (!Number.isSafeInteger(size1) || size1 < 0 || size1 > size2) {
      throw new LogError('INVALID_ARGUMENT', `first size must be between 0 and ${size2}`);
    }
    return this.reader.resolvePlan(consistencyProofPlan(size1, size2));
  }

  /** Publishes a signed checkpoint of everything committed now (returns the latest if nothing changed). */
  async checkpoint(): Promise<StoredCheckpoint> {
    if (this.checkpointing) await this.checkpointing.catch(() => undefined);
    const run = this.publish();
    this.checkpointing = run;
    try {
      return await run;
    } finally {
      if (this.checkpointing === run) this.checkpointing = undefined;
    }
  }

  private async publish(): Promise<StoredCheckpoint> {
    const size = Math.max(this.committed, await this.storage.size());
    const latest = await this.storage.getCheckpoint();
    if (latest && latest.size >= size) {
      // Possibly published by another process: keep the gauges true all the same.
      this.counters.checkpointSize = latest.size;
      this.counters.checkpointAt = latest.createdAt;
      this.notify(latest);
      return latest;
    }
    if (this.opts.mayPublish && !this.opts.mayPublish()) {
      if (latest) {
        this.counters.checkpointSize = latest.size;
        this.counters.checkpointAt = latest.createdAt;
        this.notify(latest);
        return latest;
      }
      throw new LogError('UNAVAILABLE', 'another node of this log signs its checkpoints; none is stored yet');
    }
    const root = await this.rootAt(size);
    const note = signNote(formatCheckpoint({ origin: this.origin, size, root, extensions: [] }), [
      this.signer,
    ]);
    await this.storage.putCheckpoint({ size, root, note, createdAt: this.now() });
    const stored = (await this.storage.getCheckpoint(size))!;
    if (!bytesEqual(stored.root, root))
      throw new LogError('STORAGE', `a different checkpoint for size ${size} is stored`);
    this.counters.checkpointSize = stored.size;
    this.counters.checkpointAt = stored.createdAt;
    this.opts.onCheckpoint?.(stored);
    this.notify(stored);
    return stored;
  }

  private notify(cp: StoredCheckpoint): void {
    const ready = this.waiters.filter((w) => w.index < cp.size);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.index >= cp.size);
    for (const w of ready) {
      clearTimeout(w.timer);
      this.inclusionProof(w.index, cp.size).then((proof) => w.resolve({ checkpoint: cp, proof }), w.reject);
    }
  }

  /** The latest stored checkpoint, if any. */
  latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return this.storage.getCheckpoint();
  }

  /**
   * Resolves with the first checkpoint covering `index` and the entry's inclusion proof against it.
   * With `publish`, asks for a checkpoint now instead of waiting for the interval.
   */
  async waitForCheckpoint(
    index: number,
    opts: { timeoutMs?: number; publish?: boolean } = {},
  ): Promise<{ checkpoint: StoredCheckpoint; proof: InclusionProof }> {
    const latest = await this.storage.getCheckpoint();
    if (latest && latest.size > index)
      return { checkpoint: latest, proof: await this.inclusionProof(index, latest.size) };
    const timeoutMs = opts.timeoutMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = new Promise<{ checkpoint: StoredCheckpoint; proof: InclusionProof }>((resolve, reject) => {
      timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new LogError('TIMEOUT', `no checkpoint covering entry ${index} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({ index, resolve, reject, timer });
    });
    if (opts.publish && (this.opts.mayPublish?.() ?? true)) {
      try {
        await this.idle();
        await this.checkpoint();
      } catch (err) {
        // Publishing failed: withdraw this waiter so its timer cannot reject with nobody listening.
        result.catch(() => undefined);
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        throw err;
      }
    }
    return result;
  }

  /** Resolves when every append accepted so far is committed (or failed). */
  async idle(): Promise<void> {
    while (this.flushing || this.pending.length > 0 || this.flushScheduled) {
      await (this.flushing ?? this.flush());
    }
  }

  private async tick(): Promise<void> {
    try {
      if (!this.flushing && this.pending.length === 0 && (await this.storage.size()) !== this.committed) {
        await this.reload();
      }
      // Publishes when the log grew (an empty log publishes its size-0 checkpoint on the first tick, so peers and
      // monitors find a signed checkpoint from the start); otherwise refreshes the gauges from the latest one. A node
      // that does not sign (not the leader) picks up the leader's checkpoints for its waiters.
      if (this.opts.mayPublish && !this.opts.mayPublish()) {
        const latest = await this.storage.getCheckpoint();
        if (latest) {
          this.counters.checkpointSize = latest.size;
          this.counters.checkpointAt = latest.createdAt;
          this.notify(latest);
        }
      } else await this.checkpoint();
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  /** Reads one receipt's stored entry. */
  async getEntry(index: number): Promise<StoredEntry> {
    if (!Number.isSafeInteger(index) || index < 0)
      throw new LogError('INVALID_ARGUMENT', 'index must be a non-negative integer');
    const e = await this.storage.getEntry(index);
    if (!e) throw new LogError('NOT_FOUND', `no entry ${index}`);
    return e;
  }

  /** Bytes of a C2SP tlog-tiles resource (hash tile or entry bundle). */
  async readTileResource(addr: TileAddress): Promise<Uint8Array> {
    if (addr.level < 0) {
      const start = addr.index * TILE_WIDTH;
      const end = start + addr.width;
      if (end > (await this.storage.size())) throw new LogError('NOT_FOUND', 'entry bundle not available');
      const entries = await this.storage.getEntries(start, end);
      let len = 0;
      for (const e of entries) len += 2 + e.bytes.length;
      const out = new Uint8Array(len);
      let off = 0;
      for (const e of entries) {
        out[off] = e.bytes.length >> 8;
        out[off + 1] = e.bytes.length & 255;
        out.set(e.bytes, off + 2);
        off += 2 + e.bytes.length;
      }
      return out;
    }
    const t = await this.reader.readTile(addr.level, addr.index);
    if (!t || t.width < addr.width) throw new LogError('NOT_FOUND', 'tile not available');
    return t.data.slice(0, addr.width * 32);
  }

  /** Stops the checkpoint timer, waits for pending appends and fails any checkpoint waiters. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
    this.closed = true;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new LogError('CLOSED', 'log closed'));
    }
    this.waiters = [];
  }
}
