// RFC 9162 section 2.1 Merkle tree math: proof plans over stored nodes, proof verification, streaming roots.
import { bytesEqual } from './bytes.ts';
import { LedgerError } from './errors.ts';
import { HASH_SIZE, type MerkleHasher } from './hash.ts';

/** A complete (perfect) subtree: leaves [index * 2^level, (index + 1) * 2^level). Level 0 is a leaf hash. */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/**
 * One proof element as a list of complete subtrees to fold right-to-left (H(a, H(b, c))). A single node
 * is stored as-is; several nodes form the hash of an incomplete right-edge subtree (an "ephemeral" node).
 */
export type ProofElementPlan = readonly NodeId[];

function assertSafeSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new LedgerError('INVALID_ARGUMENT', `${what} must be a non-negative integer`);
}

function isPowerOfTwo(n: number): boolean {
  let x = n;
  while (x > 1 && x % 2 === 0) x /= 2;
  return x === 1;
}

/** Largest power of two strictly less than n (n >= 2). */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Splits [start, end) into complete subtrees, largest first, as RFC 6962 MTH would split it.
 * Requires start to be aligned to the size of every subtree it yields (true for every range a proof uses).
 */
export function rangeNodes(start: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  let pos = start;
  while (pos < end) {
    let size = 1;
    let level = 0;
    while (pos % (size * 2) === 0 && pos + size * 2 <= end) {
      size *= 2;
      level++;
    }
    out.push({ level, index: pos / size });
    pos += size;
  }
  return out;
}

/** RFC 9162 2.1.3.1 PATH(m, D[start:start+n]) expressed as stored-node plans, leaf-most first. */
export function inclusionProofPlan(leafIndex: number, treeSize: number): ProofElementPlan[] {
  assertSafeSize(leafIndex, 'leaf index');
  assertSafeSize(treeSize, 'tree size');
  if (leafIndex >= treeSize) {
    throw new LedgerError('INVALID_ARGUMENT', `leaf index ${leafIndex} is not below tree size ${treeSize}`);
  }
  const plan: ProofElementPlan[] = [];
  let m = leafIndex;
  let start = 0;
  let n = treeSize;
  const upper: ProofElementPlan[] = [];
  while (n > 1) {
    const k = largestPowerOfTwoBelow(n);
    if (m < k) {
      upper.push(rangeNodes(start + k, start + n));
      n = k;
    } else {
      upper.push(rangeNodes(start, start + k));
      m -= k;
      start += k;
      n -= k;
    }
  }
  // Collected root-most first; the proof lists leaf-most first.
  for (let i = upper.length - 1; i >= 0; i--) plan.push(upper[i]!);
  return plan;
}

/** RFC 9162 2.1.4.1 PROOF(m, D[n]) expressed as stored-node plans. Empty when m == 0 or m == n. */
export function consistencyProofPlan(size1: number, size2: number): ProofElementPlan[] {
  assertSafeSize(size1, 'first size');
  assertSafeSize(size2, 'second size');
  if (size1 > size2)
    throw new LedgerError('INVALID_ARGUMENT', `first size ${size1} exceeds second size ${size2}`);
  if (size1 === 0 || size1 === size2) return [];
  const upper: ProofElementPlan[] = [];
  let m = size1;
  let start = 0;
  let n = size2;
  let b = true;
  for (;;) {
    if (m === n) {
      if (!b) upper.push(rangeNodes(start, start + n));
      break;
    }
    const k = largestPowerOfTwoBelow(n);
    if (m <= k) {
      upper.push(rangeNodes(start + k, start + n));
      n = k;
    } else {
      upper.push(rangeNodes(start, start + k));
      m -= k;
      start += k;
      n -= k;
      b = false;
    }
  }
  const plan: ProofElementPlan[] = [];
  for (let i = upper.length - 1; i >= 0; i--) plan.push(upper[i]!);
  return plan;
}

/** Folds a plan's resolved node hashes right-to-left into one hash. */
export function foldNodes(hasher: MerkleHasher, hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) throw new LedgerError('INVALID_ARGUMENT', 'cannot fold an empty node list');
  let acc = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) acc = hasher.hashChildren(hashes[i]!, acc);
  return acc;
}

/** Resolves a whole proof plan with a synchronous node lookup. */
export function resolvePlan(
  hasher: MerkleHasher,
  plan: readonly ProofElementPlan[],
  getNode: (id: NodeId) => Uint8Array,
): Uint8Array[] {
  return plan.map((el) => foldNodes(hasher, el.map(getNode)));
}

/** Root of the first `size` leaves from stored complete subtrees (MTH of an empty tree for size 0). */
export function rootPlan(size: number): NodeId[] {
  assertSafeSize(size, 'tree size');
  return rangeNodes(0, size);
}

function checkHashes(proof: readonly Uint8Array[]): void {
  for (const p of proof) {
    if (p.length !== HASH_SIZE) throw new LedgerError('PROOF_INVALID', 'proof element is not 32 bytes');
  }
}

/** RFC 9162 2.1.3.2: the root implied by an inclusion proof (throws PROOF_INVALID on a malformed proof). */
export function rootFromInclusionProof(
  hasher: MerkleHasher,
  leafIndex: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array {
  assertSafeSize(leafIndex, 'leaf index');
  assertSafeSize(treeSize, 'tree size');
  if (leafIndex >= treeSize) throw new LedgerError('PROOF_INVALID', 'leaf index is not below tree size');
  if (leafHash.length !== HASH_SIZE) throw new LedgerError('PROOF_INVALID', 'leaf hash is not 32 bytes');
  checkHashes(proof);
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw new LedgerError('PROOF_INVALID', 'inclusion proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      r = hasher.hashChildren(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = hasher.hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new LedgerError('PROOF_INVALID', 'inclusion proof is too short');
  return r;
}

/** True when the inclusion proof places leafHash at leafIndex in the tree with this root. */
export function verifyInclusion(
  hasher: MerkleHasher,
  leafIndex: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    return bytesEqual(rootFromInclusionProof(hasher, leafIndex, treeSize, leafHash, proof), root);
  } catch (e) {
    if (e instanceof LedgerError) return false;
    throw e;
  }
}

/** RFC 9162 2.1.4.2: true when the proof shows root2's tree extends root1's tree. */
export function verifyConsistency(
  hasher: MerkleHasher,
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1)
    return false;
  if (proof.some((p) => p.length !== HASH_SIZE)) return false;
  if (size1 === size2) return proof.length === 0 && bytesEqual(root1, root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = [...proof];
  if (isPowerOfTwo(size1)) path.unshift(root1);
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hasher.hashChildren(c, fr);
      sr = hasher.hashChildren(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = hasher.hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && bytesEqual(fr, root1) && bytesEqual(sr, root2);
}

/** A completed subtree emitted while a tree grows. */
export interface CompletedNode extends NodeId {
  readonly hash: Uint8Array;
}

/**
 * Streaming RFC 6962 tree (a compact range over [0, size)): O(log n) memory, reports every completed
 * subtree so callers can store or compare nodes. Used both to integrate appends and to re-verify a log.
 */
export class TreeBuilder {
  private readonly hasher: MerkleHasher;
  /** Right-edge complete subtrees, largest (leftmost) first. */
  private readonly stack: CompletedNode[] = [];
  private count = 0;

  constructor(hasher: MerkleHasher, frontier: readonly CompletedNode[] = [], size = 0) {
    this.hasher = hasher;
    const expected = rangeNodes(0, size);
    if (
      expected.length !== frontier.length ||
      expected.some((n, i) => n.level !== frontier[i]!.level || n.index !== frontier[i]!.index)
    ) {
      throw new LedgerError('INVALID_ARGUMENT', `frontier does not match tree size ${size}`);
    }
    this.stack.push(...frontier);
    this.count = size;
  }

  get size(): number {
    return this.count;
  }

  /** The right-edge complete subtrees (the compact range), largest first. */
  frontier(): readonly CompletedNode[] {
    return this.stack;
  }

  /** Appends a leaf hash; calls onNode for the leaf and every subtree it completes. */
  push(leafHash: Uint8Array, onNode?: (node: CompletedNode) => void): void {
    let node: CompletedNode = { level: 0, index: this.count, hash: leafHash };
    onNode?.(node);
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.level === node.level) {
      const left = this.stack.pop()!;
      node = {
        level: node.level + 1,
        index: left.index / 2,
        hash: this.hasher.hashChildren(left.hash, node.hash),
      };
      onNode?.(node);
    }
    this.stack.push(node);
    this.count++;
  }

  /**
   * Appends a complete subtree of 2^level leaves by its root hash; the size must be a multiple of 2^level.
   * Calls onNode for every node above it that this completes (not for the subtree's own root).
   */
  pushSubtree(level: number, hash: Uint8Array, onNode?: (node: CompletedNode) => void): void {
    const width = 2 ** level;
    if (!Number.isSafeInteger(level) || level < 0 || this.count % width !== 0) {
      throw new LedgerError('INVALID_ARGUMENT', `a level-${level} subtree cannot start at ${this.count}`);
    }
    let node: CompletedNode = { level, index: this.count / width, hash };
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.level === node.level) {
      const left = this.stack.pop()!;
      node = {
        level: node.level + 1,
        index: left.index / 2,
        hash: this.hasher.hashChildren(left.hash, node.hash),
      };
      onNode?.(node);
    }
    this.stack.push(node);
    this.count += width;
  }

  /** MTH of the leaves so far. */
  root(): Uint8Array {
    if (this.stack.length === 0) return this.hasher.emptyRoot();
    return foldNodes(
      this.hasher,
      this.stack.map((n) => n.hash),
    );
  }
}
