// Offline verification of a stored log: every byte that carries ledger meaning is recomputed or checked.
import {
  HASH_SIZE,
  LedgerError,
  TILE_HEIGHT,
  TILE_WIDTH,
  TreeBuilder,
  bytesEqual,
  consistencyProofPlan,
  decodeReceipt,
  envelopeMismatch,
  defaultHasher,
  formatVerifierKey,
  nobleEd25519Verify,
  openNote,
  parseCheckpoint,
  parseNote,
  toHex,
  verifyConsistency,
  type Ed25519Verify,
  type MerkleHasher,
  type NoteVerifierKey,
} from '@vaultmesh/ledger';
import type { EntryRange, LogStorage, ScanVerify, StoredTile } from './storage.ts';
import { expectedTileWidth, locateNode, readSlot, rowOffset } from './tile-layout.ts';
import { TileReader } from './tile-reader.ts';
import { checkpointKeyProblem, epochFor, type KeyEpoch } from './key-chain.ts';

/** One thing found wrong, with where it is and what was expected. */
export interface VerifyProblem {
  readonly where: 'entry' | 'tile' | 'checkpoint' | 'anchor' | 'log' | 'mirror';
  readonly index?: number;
  readonly level?: number;
  readonly field?: string;
  readonly expected?: string;
  readonly found?: string;
  readonly message: string;
}

export interface VerifyReport {
  ok: boolean;
  full: boolean;
  size: number;
  root: string;
  entriesChecked: number;
  nodesChecked: number;
  tilesChecked: number;
  checkpointsChecked: number;
  /** The first `maxProblems` problems. */
  problems: VerifyProblem[];
  problemCount: number;
  durationMs: number;
}

export interface VerifyOptions {
  readonly storage: LogStorage;
  readonly origin: string;
  /** The trusted key checkpoints must be signed with (from the node's key file, not from the database). */
  readonly verifierKey: NoteVerifierKey;
  /**
   * The node's keys by checkpoint size, after rotations (from readKeyChain): a checkpoint must be signed by
   * the key of the epoch that covers its size. Default: `verifierKey` for every size.
   */
  readonly verifierKeys?: readonly KeyEpoch[];
  readonly hasher?: MerkleHasher;
  readonly ed25519Verify?: Ed25519Verify;
  /** Recompute every leaf and node and check every column and tile slot (default: checkpoints, roots, consistency and the unsealed tail). */
  readonly full?: boolean;
  /** With full: also parse every receipt and check its schema and canonical form. */
  readonly schemas?: boolean;
  /**
   * A faster way to read every entry in index order (e.g. reader threads), used by full verification.
   * Only for gap-free logs: it reads fixed ranges and cannot skip an absurd gap. Without `schemas`, it is
   * asked to verify whole ranges itself where it can (`verify`, see EntryRange.verified).
   */
  readonly scan?: (start: number, end: number, verify?: ScanVerify) => AsyncIterable<EntryRange>;
  readonly batchSize?: number;
  readonly maxProblems?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

interface TrustedCheckpoint {
  size: number;
  root: Uint8Array;
}

/** Verifies a stored log and reports exactly what is wrong where. Never throws for bad data, only for I/O. */
export async function verifyLog(opts: VerifyOptions): Promise<VerifyReport> {
  const started = performance.now();
  const hasher = opts.hasher ?? defaultHasher;
  const storage = opts.storage;
  const maxProblems = opts.maxProblems ?? 100;
  const batchSize = opts.batchSize ?? 4096;
  const problems: VerifyProblem[] = [];
  let problemCount = 0;
  const report = (p: VerifyProblem) => {
    problemCount++;
    if (problems.length < maxProblems) problems.push(p);
  };
  const size = await storage.size();
  const reportLeafHash = (index: number, computed: Uint8Array, stored: Uint8Array) =>
    report({
      where: 'entry',
      index,
      field: 'leaf_hash',
      expected: toHex(computed),
      found: toHex(stored),
      message: `entry ${index}: stored leaf hash differs from the hash of its bytes`,
    });
  const reader = new TileReader(storage, hasher, 0);
  let nodesChecked = 0;
  let tilesChecked = 0;
  let entriesChecked = 0;
  // Where the entries resume after an empty range [start, ...): one lookup instead of a scan of empty
  // batches, so a damaged index claiming an absurd size (one flipped byte can make it 2^56) cannot keep
  // verification running for ever.
  const nextStored = async (start: number): Promise<number> => {
    const [next] = await storage.listEntries({ after: start - 1, limit: 1 });
    return next ? Math.min(size, next.index) : size;
  };

  // 1. Checkpoints: signature by the key trusted at their size, origin, and the stored lookup columns.
  const trusted: TrustedCheckpoint[] = [];
  const stored = await storage.listCheckpoints();
  const epochs = opts.verifierKeys ?? [
    {
      key: opts.verifierKey,
      text: formatVerifierKey(opts.verifierKey.name, opts.verifierKey.publicKey),
      fromSize: 0,
    },
  ];
  const ed25519Verify = opts.ed25519Verify ?? nobleEd25519Verify;
  for (const cp of stored) {
    if (typeof cp.note !== 'string') {
      report({ where: 'checkpoint', index: cp.size, field: 'note', message: 'checkpoint note is not text' });
      continue;
    }
    let signedSize = cp.size;
    try {
      // The size (unverified until the key of its epoch verifies the note) picks the key that must have signed.
      signedSize = parseCheckpoint(parseNote(cp.note).text).size;
      const epoch = epochFor(epochs, signedSize);
      const opened = openNote(cp.note, [epoch.key], ed25519Verify);
      const parsed = parseCheckpoint(opened.text);
      if (parsed.origin !== opts.origin) {
        report({
          where: 'checkpoint',
          index: cp.size,
          field: 'origin',
          expected: opts.origin,
          found: parsed.origin,
          message: 'checkpoint names another log',
        });
        continue;
      }
      if (parsed.size !== cp.size) {
        report({
          where: 'checkpoint',
          index: cp.size,
          field: 'size',
          expected: String(parsed.size),
          found: String(cp.size),
          message: 'stored size differs from the signed note',
        });
      }
      if (!bytesEqual(parsed.root, cp.root)) {
        report({
          where: 'checkpoint',
          index: cp.size,
          field: 'root',
          expected: toHex(parsed.root),
          found: toHex(cp.root),
          message: 'stored root differs from the signed note',
        });
      }
      if (parsed.size > size) {
        report({
          where: 'checkpoint',
          index: parsed.size,
          field: 'size',
          expected: `<= ${size}`,
          found: String(parsed.size),
          message: `signed checkpoint covers ${parsed.size} entries but only ${size} are stored`,
        });
        continue;
      }
      trusted.push({ size: parsed.size, root: parsed.root });
    } catch (err) {
      if (!(err instanceof LedgerError)) throw err;
      if (err.code === 'SIGNATURE_INVALID') {
        report({ ...checkpointKeyProblem(cp.note, signedSize, epochs, ed25519Verify), index: cp.size });
        continue;
      }
      report({
        where: 'checkpoint',
        index: cp.size,
        field: 'note',
        message: `checkpoint note rejected: ${err.message}`,
      });
    }
  }
  trusted.sort((a, b) => a.size - b.size);

  // 2. Consistency between consecutive signed checkpoints, with proofs built from stored tiles.
  for (let i = 1; i < trusted.length; i++) {
    const a = trusted[i - 1]!;
    const b = trusted[i]!;
    try {
      const proof = await reader.resolvePlan(consistencyProofPlan(a.size, b.size));
      if (!verifyConsistency(hasher, a.size, b.size, proof, a.root, b.root)) {
        report({
          where: 'checkpoint',
          index: b.size,
          field: 'consistency',
          message: `checkpoints ${a.size} and ${b.size} are not consistent with the stored tree`,
        });
      }
    } catch (err) {
      report({
        where: 'tile',
        message: `cannot build consistency proof ${a.size} -> ${b.size}: ${(err as Error).message}`,
      });
    }
  }

  let root = hasher.emptyRoot();
  if (opts.full) {
    // 3. Full: recompute every leaf and node from the entry bytes and compare with every stored slot.
    const builder = new TreeBuilder(hasher);
    const bySize = new Map(trusted.map((t) => [t.size, t.root]));
    const open = new Map<number, StoredTile | undefined>();
    // Tiles are loaded before each push (see below), so the callback can stay synchronous.
    const onNode = (node: { level: number; index: number; hash: Uint8Array }) => {
      const loc = locateNode(node.level, node.index);
      const t = open.get(loc.tileLevel);
      nodesChecked++;
      if (!t || t.index !== loc.tileIndex || t.width < loc.minWidth) {
        report({
          where: 'tile',
          level: node.level,
          index: node.index,
          field: 'node',
          expected: toHex(node.hash),
          found: 'missing',
          message: `tile ${loc.tileLevel}/${loc.tileIndex} lacks node ${node.level}/${node.index}`,
        });
        return;
      }
      const found = readSlot(t.data, loc.slot);
      if (!bytesEqual(found, node.hash)) {
        report({
          where: 'tile',
          level: node.level,
          index: node.index,
          field: 'hash',
          expected: toHex(node.hash),
          found: toHex(found),
          message: `stored node ${node.level}/${node.index} (tile ${loc.tileLevel}/${loc.tileIndex}) differs from the recomputed one`,
        });
      }
    };
    const checkRoot = (treeSize: number, recomputed: () => Uint8Array) => {
      const cpRoot = bySize.get(treeSize);
      if (cpRoot && !bytesEqual(cpRoot, recomputed())) {
        report({
          where: 'checkpoint',
          index: treeSize,
          field: 'root',
          expected: toHex(recomputed()),
          found: toHex(cpRoot),
          message: `signed checkpoint ${treeSize} does not match the tree recomputed from the entries`,
        });
      }
    };
    // Loads the tiles, from tile level `fromTileLevel` up, that nodes completed by leaf `leaf` fall into.
    const loadTiles = async (leaf: number, fromTileLevel: number) => {
      let idx = leaf;
      for (let tl = 0; ; tl++) {
        const tileIndex = Math.floor(idx / TILE_WIDTH);
        const cur = open.get(tl);
        if (tl >= fromTileLevel && (!cur || cur.index !== tileIndex)) {
          const t = await reader.readTile(tl, tileIndex);
          open.set(tl, t ?? { level: tl, index: tileIndex, width: 0, data: new Uint8Array(0) });
        }
        // Higher tile levels are touched only when this leaf completes a full tile below.
        if ((idx + 1) % TILE_WIDTH !== 0) break;
        idx = Math.floor(idx / TILE_WIDTH);
      }
    };
    // Default source: batches of getEntries, jumping over empty ranges with one lookup.
    async function* batches(): AsyncGenerator<EntryRange> {
      for (let start = 0; start < size;) {
        let end = Math.min(size, start + batchSize);
        const entries = await storage.getEntries(start, end);
        if (entries.length === 0) end = await nextStored(start);
        yield { start, end, entries };
        start = end;
      }
    }
    const verify: ScanVerify | undefined = opts.schemas ? undefined : { checkpointSizes: [...bySize.keys()] };
    for await (const range of opts.scan ? opts.scan(0, size, verify) : batches()) {
      const { start, end, verified } = range;
      let { entries, leafHashes, columnMismatches } = range;
      if (verified && builder.size !== start) {
        // Entries went missing before this range, so its leaves sit at other tree positions here: the
        // reader's subtrees do not apply. Check the range entry by entry, like every range after a gap.
        entries = await storage.getEntries(start, end);
        leafHashes = undefined;
        columnMismatches = undefined;
      } else if (verified) {
        // The reader checked this range's entries and the nodes inside it; what is left is the tree above:
        // roots of the checkpoints inside the range, then the range's subtrees and the nodes they complete.
        for (const [cpSize, local] of verified.frontiers) {
          checkRoot(cpSize, () => {
            const at = new TreeBuilder(hasher, builder.frontier(), builder.size);
            for (const node of local) at.pushSubtree(node.level, node.hash);
            return at.root();
          });
        }
        for (const node of verified.nodes) {
          await loadTiles(builder.size + 2 ** node.level - 1, Math.floor((node.level + 1) / TILE_HEIGHT));
          builder.pushSubtree(node.level, node.hash, onNode);
        }
        entriesChecked += end - start;
        nodesChecked += verified.nodesChecked;
        checkRoot(builder.size, () => builder.root());
        opts.onProgress?.(end, size);
        continue;
      }
      let expectIndex = start;
      for (let k = 0; k < entries.length; k++) {
        const e = entries[k]!;
        if (e.index !== expectIndex) {
          report({
            where: 'entry',
            index: expectIndex,
            field: 'index',
            expected: String(expectIndex),
            found: String(e.index),
            message: `entry ${expectIndex} is missing`,
          });
          expectIndex = e.index;
        }
        entriesChecked++;
        const leafHash = leafHashes ? leafHashes.subarray(32 * k, 32 * k + 32) : hasher.hashLeaf(e.bytes);
        if (!bytesEqual(leafHash, e.leafHash)) reportLeafHash(e.index, leafHash, e.leafHash);
        // The filter columns must say what the signed bytes say (a cheap suffix check, no parse).
        const column = columnMismatches ? columnMismatches.get(k) : envelopeMismatch(e.bytes, e);
        if (column) {
          const expected = signedColumn(e.bytes, column);
          report({
            where: 'entry',
            index: e.index,
            field: column,
            ...(expected !== undefined ? { expected } : {}),
            found: String(e[column]),
            message: `entry ${e.index}: ${column} column differs from the receipt`,
          });
        }
        if (opts.schemas) {
          try {
            decodeReceipt(e.bytes);
          } catch (err) {
            if (!(err instanceof LedgerError)) throw err;
            report({
              where: 'entry',
              index: e.index,
              field: 'bytes',
              message: `entry ${e.index}: ${err.message}`,
            });
          }
        }
        // Make sure the tiles that this leaf's completed nodes fall into are loaded.
        await loadTiles(builder.size, 0);
        builder.push(leafHash, onNode);
        expectIndex = e.index + 1;
        checkRoot(builder.size, () => builder.root());
      }
      if (expectIndex < end) {
        report({
          where: 'entry',
          index: expectIndex,
          message: `entries ${expectIndex}..${end - 1} are missing`,
        });
      }
      opts.onProgress?.(end, size);
    }
    root = builder.root();
    // 4. Every stored tile: exact width, and nothing but zeros in slots no complete node occupies.
    for await (const t of storage.listTiles()) {
      tilesChecked++;
      const want = expectedTileWidth(size, t.level, t.index);
      if (t.width !== want) {
        report({
          where: 'tile',
          level: t.level * TILE_HEIGHT,
          index: t.index,
          field: 'width',
          expected: String(want),
          found: String(t.width),
          message: `tile ${t.level}/${t.index} has width ${t.width}, expected ${want}`,
        });
      }
      for (let row = 0; row < TILE_HEIGHT; row++) {
        const complete = Math.floor(Math.min(t.width, want) / 2 ** row);
        for (let pos = complete; pos < TILE_WIDTH >> row; pos++) {
          const slot = readSlot(t.data, rowOffset(row) + pos);
          if (slot.length === HASH_SIZE && slot.some((b) => b !== 0)) {
            report({
              where: 'tile',
              level: t.level * TILE_HEIGHT + row,
              index: t.index * (TILE_WIDTH >> row) + pos,
              field: 'unused slot',
              expected: '00'.repeat(HASH_SIZE),
              found: toHex(slot),
              message: `tile ${t.level}/${t.index} has data in an unused slot`,
            });
          }
        }
      }
      if (t.data.length !== 2 * TILE_WIDTH * HASH_SIZE - 2 * HASH_SIZE) {
        report({
          where: 'tile',
          level: t.level * TILE_HEIGHT,
          index: t.index,
          field: 'length',
          expected: String(2 * TILE_WIDTH * HASH_SIZE - 2 * HASH_SIZE),
          found: String(t.data.length),
          message: `tile ${t.level}/${t.index} has the wrong length`,
        });
      }
    }
  } else {
    // 3'. Quick: each signed root against the stored tree, and the unsealed tail's leaf hashes.
    for (const t of trusted) {
      try {
        const r = await reader.rootAt(t.size);
        if (!bytesEqual(r, t.root)) {
          report({
            where: 'checkpoint',
            index: t.size,
            field: 'root',
            expected: toHex(t.root),
            found: toHex(r),
            message: `stored tree at size ${t.size} does not match its signed checkpoint`,
          });
        }
      } catch (err) {
        report({ where: 'tile', index: t.size, message: (err as Error).message });
      }
    }
    const sealed = trusted.length > 0 ? trusted[trusted.length - 1]!.size : 0;
    for (let start = sealed; start < size;) {
      let end = Math.min(size, start + batchSize);
      const entries = await storage.getEntries(start, end);
      if (entries.length === 0) {
        end = await nextStored(start);
        report({ where: 'entry', index: start, message: `entries ${start}..${end - 1} are missing` });
      }
      for (const e of entries) {
        entriesChecked++;
        const leafHash = hasher.hashLeaf(e.bytes);
        const [storedNode] = await reader.getNodes([{ level: 0, index: e.index }]).catch(() => [undefined]);
        if (!bytesEqual(leafHash, e.leafHash) || !storedNode || !bytesEqual(leafHash, storedNode)) {
          reportLeafHash(e.index, leafHash, e.leafHash);
        }
      }
      opts.onProgress?.(end, size);
      start = end;
    }
    try {
      root = await reader.rootAt(size);
    } catch (err) {
      report({ where: 'tile', message: (err as Error).message });
    }
  }
  return {
    ok: problemCount === 0,
    full: opts.full ?? false,
    size,
    root: toHex(root),
    entriesChecked,
    nodesChecked,
    tilesChecked,
    checkpointsChecked: stored.length,
    problems,
    problemCount,
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * What a filter column should hold, read from the receipt's own (hashed) bytes: its kind, its tenant, or its time in
 * ms (as the column keeps it). Undefined when the bytes are not a receipt (their damage is reported on its own).
 */
function signedColumn(bytes: Uint8Array, column: 'kind' | 'tenant' | 'time'): string | undefined {
  try {
    const r = JSON.parse(new TextDecoder().decode(bytes)) as {
      kind?: unknown;
      tenant?: unknown;
      time?: unknown;
    };
    const v = column === 'time' ? (typeof r.time === 'string' ? Date.parse(r.time) : undefined) : r[column];
    return v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? undefined : String(v);
  } catch {
    return undefined;
  }
}
