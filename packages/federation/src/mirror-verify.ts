// Verifying a stored mirror as the own log is verified: every entry's bytes hashed again (never the stored leaf
// hash trusted), indexes gap-free from 0, the Merkle root of the rehashed leaves equal to the verified root the
// mirror state records, and the peer's signed checkpoint it was proven against still verifying under the peer's key.
// `vm audit verify --full` reports what fails; a merge refuses a mirror that fails.
import {
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  toHex,
  type Ed25519Verify,
  type MerkleHasher,
} from '@vaultmesh/ledger';
import { CompactRange } from './compact-range.ts';
import type { FederationStore, MirrorEntry, PeerRecord } from './ports.ts';

/** One thing wrong with a mirror. */
export interface MirrorProblem {
  readonly peer: string;
  readonly index?: number;
  readonly field: string;
  readonly expected?: string;
  readonly found?: string;
  readonly message: string;
}

export interface MirrorCheck {
  readonly peer: string;
  /** Entries checked. */
  readonly size: number;
  /** Root of the rehashed entries (hex). */
  readonly rootHash: string;
  readonly problems: readonly MirrorProblem[];
}

const BATCH = 4096;

/** Checks one peer's mirror; never throws for bad data (each problem is reported). */
export async function verifyMirror(
  store: FederationStore,
  peer: PeerRecord,
  deps: {
    readonly hasher: MerkleHasher;
    readonly ed25519Verify: Ed25519Verify;
    /** Told of each entry with its rehashed leaf hash, in index order (a merge collects them). */
    readonly onEntry?: (entry: MirrorEntry, leaf: Uint8Array) => void;
    /** Entries [0, size) only; default the mirror state's size. */
    readonly size?: number;
    readonly onProgress?: (done: number, total: number) => void;
  },
): Promise<MirrorCheck> {
  const problems: MirrorProblem[] = [];
  const state = await store.getMirrorState(peer.name);
  const size = deps.size ?? state?.size ?? 0;
  const range = new CompactRange(deps.hasher);
  const report = (p: Omit<MirrorProblem, 'peer'>) => {
    if (problems.length < 1000) problems.push({ peer: peer.name, ...p });
  };
  let next = 0;
  while (next < size) {
    const batch = await store.mirrorEntries(peer.name, next, Math.min(BATCH, size - next));
    if (batch.length === 0) break;
    for (const e of batch) {
      if (e.index !== next) {
        report({
          index: next,
          field: 'index',
          expected: String(next),
          found: String(e.index),
          message: `mirrored entry ${next} is missing`,
        });
        next = size; // the rest cannot form this tree
        break;
      }
      const leaf = deps.hasher.hashLeaf(e.bytes);
      if (toHex(leaf) !== e.leafHash)
        report({
          index: e.index,
          field: 'leaf_hash',
          expected: toHex(leaf),
          found: e.leafHash,
          message: `mirrored entry ${e.index}: its bytes do not hash to the stored leaf hash`,
        });
      range.append(leaf);
      deps.onEntry?.(e, leaf);
      next++;
    }
    deps.onProgress?.(Math.min(next, size), size);
  }
  if (next < size)
    report({
      field: 'size',
      expected: String(size),
      found: String(next),
      message: `the mirror holds ${next} entries, not ${size}`,
    });
  const rootHash = toHex(range.root());
  if (state && deps.size === undefined) {
    if (next === state.size && rootHash !== state.rootHash)
      report({
        field: 'root',
        expected: state.rootHash,
        found: rootHash,
        message: `the mirrored entries do not form the verified root of size ${state.size}`,
      });
    checkSignedCheckpoint(state.checkpointNote, state.checkpointSize, peer, deps.ed25519Verify, report);
    if (state.checkpointSize === state.size && next === state.size) {
      try {
        const cp = parseCheckpoint(state.checkpointNote.slice(0, state.checkpointNote.indexOf('\n\n') + 1));
        if (toHex(cp.root) !== rootHash)
          report({
            field: 'checkpoint',
            expected: toHex(cp.root),
            found: rootHash,
            message: `the mirrored entries do not form the root of the peer's signed checkpoint of size ${cp.size}`,
          });
      } catch {
        // reported by checkSignedCheckpoint
      }
    }
  }
  return { peer: peer.name, size: next, rootHash, problems };
}

function checkSignedCheckpoint(
  note: string,
  size: number,
  peer: PeerRecord,
  verify: Ed25519Verify,
  report: (p: Omit<MirrorProblem, 'peer'>) => void,
): void {
  try {
    const opened = openNote(note, [parseVerifierKey(peer.verifierKey)], verify);
    const cp = parseCheckpoint(opened.text);
    if (cp.origin !== peer.origin || cp.size !== size)
      report({
        field: 'checkpoint',
        expected: `${peer.origin} size ${size}`,
        found: `${cp.origin} size ${cp.size}`,
        message: 'the stored peer checkpoint is not the one the mirror state names',
      });
  } catch (err) {
    report({
      field: 'checkpoint',
      message: `the stored peer checkpoint does not verify under the peer's key: ${(err as Error).message}`,
    });
  }
}
