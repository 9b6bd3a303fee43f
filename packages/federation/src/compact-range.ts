// A Merkle compact range over leaves [0, n) of an RFC 6962 tree: the roots of the perfect subtrees that n's binary
// form decomposes it into (at most 64 hashes). Appending a leaf is amortized O(1) hashes; the root is O(log n).
// A mirror keeps one to extend a verified prefix and to compute the root a consistency proof is checked against.
import { fromHex, toHex, type MerkleHasher } from '@vaultmesh/ledger';
import { FederationError } from './errors.ts';

/** The serialized form: the leaf count and the subtree roots, largest subtree first. */
export interface CompactRangeJson {
  readonly size: number;
  readonly hashes: readonly string[];
}

const popcount = (n: number) => {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
};

/** A compact range [0, size). */
export class CompactRange {
  #size = 0;
  /** Subtree roots, largest (leftmost) first; their heights are the set bits of #size, high to low. */
  #nodes: Uint8Array[] = [];
  constructor(private readonly hasher: MerkleHasher) {}

  /** Restores a serialized range; INVALID_ARGUMENT when it is malformed. */
  static fromJSON(hasher: MerkleHasher, value: unknown): CompactRange {
    const v = value as CompactRangeJson;
    if (
      typeof v !== 'object' ||
      v === null ||
      !Number.isSafeInteger(v.size) ||
      v.size < 0 ||
      !Array.isArray(v.hashes) ||
      v.hashes.length !== popcount(v.size) ||
      v.hashes.some((h) => typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h))
    )
      throw new FederationError('INVALID_ARGUMENT', 'malformed compact range');
    const r = new CompactRange(hasher);
    r.#size = v.size;
    r.#nodes = v.hashes.map(fromHex);
    return r;
  }

  get size(): number {
    return this.#size;
  }

  /** Appends one leaf hash (already hashed with the 0x00 prefix). */
  append(leafHash: Uint8Array): void {
    let node = leafHash;
    // Merge with equal-height neighbours: one per trailing 1-bit of the old size.
    for (let s = this.#size; s % 2 === 1; s = Math.floor(s / 2))
      node = this.hasher.hashChildren(this.#nodes.pop()!, node);
    this.#nodes.push(node);
    this.#size++;
  }

  /** MTH of the leaves so far (SHA-256("") for none). */
  root(): Uint8Array {
    if (this.#nodes.length === 0) return this.hasher.emptyRoot();
    let r = this.#nodes[this.#nodes.length - 1]!;
    for (let i = this.#nodes.length - 2; i >= 0; i--) r = this.hasher.hashChildren(this.#nodes[i]!, r);
    return r;
  }

  clone(): CompactRange {
    const c = new CompactRange(this.hasher);
    c.copyFrom(this);
    return c;
  }

  copyFrom(other: CompactRange): void {
    this.#size = other.#size;
    this.#nodes = [...other.#nodes];
  }

  toJSON(): CompactRangeJson {
    return { size: this.#size, hashes: this.#nodes.map(toHex) };
  }
}
