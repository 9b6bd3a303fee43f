// RFC 6962 section 2.1 hashing: leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right).
import { sha256 as nobleSha256 } from '@noble/hashes/sha256';
import { allocBytes } from './bytes.ts';

/** A SHA-256 implementation: pure by default, node:crypto injected at the edges for speed. */
export type Sha256 = (data: Uint8Array) => Uint8Array;
/** SHA-256 of `data` written to out[offset, offset + 32), for hot paths that keep hashes in one buffer. */
export type Sha256Into = (data: Uint8Array, out: Uint8Array, offset: number) => void;

/** RFC 6962 tree hasher. All hashes are 32 bytes. */
export interface MerkleHasher {
  readonly sha256: Sha256;
  /** The same SHA-256, written into a caller's buffer instead of a new one. */
  readonly sha256Into: Sha256Into;
  /** MTH({}) = SHA-256(""). */
  emptyRoot(): Uint8Array;
  /** MTH({d}) = SHA-256(0x00 || d). */
  hashLeaf(data: Uint8Array): Uint8Array;
  /** SHA-256(0x01 || left || right). */
  hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array;
}

export const HASH_SIZE = 32;

/** Builds an RFC 6962 hasher over the given SHA-256 (and, optionally, a faster way to write it into a buffer). */
export function createMerkleHasher(sha256: Sha256 = nobleSha256, sha256Into?: Sha256Into): MerkleHasher {
  const nodeBuf = new Uint8Array(1 + 2 * HASH_SIZE);
  nodeBuf[0] = 1;
  const empty = sha256(new Uint8Array(0));
  return {
    sha256,
    sha256Into: sha256Into ?? ((data, out, offset) => out.set(sha256(data), offset)),
    emptyRoot: () => empty.slice(),
    hashLeaf(data) {
      const buf = allocBytes(data.length + 1);
      buf[0] = 0;
      buf.set(data, 1);
      return sha256(buf);
    },
    hashChildren(left, right) {
      if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
        const buf = new Uint8Array(1 + left.length + right.length);
        buf[0] = 1;
        buf.set(left, 1);
        buf.set(right, 1 + left.length);
        return sha256(buf);
      }
      nodeBuf.set(left, 1);
      nodeBuf.set(right, 1 + HASH_SIZE);
      return sha256(nodeBuf);
    },
  };
}

/** The default pure-JS hasher (browser-safe). */
export const defaultHasher: MerkleHasher = createMerkleHasher();
