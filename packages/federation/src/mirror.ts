// Mirroring a peer's log: pull its entries (C2SP entry bundles) and store them only once verified against the
// peer's signed checkpoint. Chunk by chunk: the mirror keeps the compact range of its verified prefix, extends it
// with the chunk's leaf hashes, and asks the peer for a consistency proof from the chunk's end to the checkpoint;
// only a chunk whose root that proof ties to the signed root is committed (entries and state in one transaction).
// An interruption loses at most the chunk in flight; the next run resumes from the stored prefix. Entries that do
// not match the signature are never stored, and the peer is flagged.
import {
  fromHex,
  toHex,
  verifyConsistency,
  TILE_WIDTH,
  type Ed25519Verify,
  type MerkleHasher,
} from '@vaultmesh/ledger';
import { CompactRange } from './compact-range.ts';
import { FederationError } from './errors.ts';
import type { FederationStore, MirrorEntry, PeerClient, PeerRecord } from './ports.ts';
import { fetchPeerCheckpoint, flagPeer, type Cosigner, type FederationReceipts } from './witness.ts';

export interface MirrorDeps {
  readonly store: FederationStore;
  readonly hasher: MerkleHasher;
  readonly ed25519Verify: Ed25519Verify;
  readonly receipts: FederationReceipts;
  readonly cosigner: Cosigner;
  readonly tenant?: string;
  /** Entries per verified chunk (rounded to whole bundles). Default 8192. */
  readonly chunkEntries?: number;
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export interface MirrorOutcome {
  readonly peer: string;
  /** Entries stored and verified after this run. */
  readonly size: number;
  /** The signed checkpoint size they were proven against. */
  readonly checkpointSize: number;
  /** Entries fetched and committed by this run. */
  readonly fetched: number;
}

/** Mirrors one peer up to its latest signed checkpoint. Throws PEER_UNTRUSTED, PEER_UNREACHABLE, INCONSISTENT, EQUIVOCATION. */
export async function mirrorPeer(
  peer: PeerRecord,
  client: PeerClient,
  deps: MirrorDeps,
): Promise<MirrorOutcome> {
  if (!peer.trusted)
    throw new FederationError(
      'PEER_UNTRUSTED',
      `peer ${peer.name} is untrusted: ${peer.untrustedReason ?? ''}`,
    );
  const cp = await fetchPeerCheckpoint(peer, client, deps.ed25519Verify);
  const n = cp.checkpoint.size;
  const signedRoot = cp.checkpoint.root;
  const state = await deps.store.getMirrorState(peer.name);
  const range = state ? CompactRange.fromJSON(deps.hasher, state.range) : new CompactRange(deps.hasher);
  let size = state?.size ?? 0;
  if (state && state.origin !== peer.origin)
    throw new FederationError(
      'INVALID_ARGUMENT',
      `mirror of ${peer.name} holds origin ${state.origin}, not ${peer.origin}`,
    );
  if (n < size) {
    // The peer shows less than we hold: its checkpoint must be a prefix of ours (stale), or it forked.
    return { peer: peer.name, size, checkpointSize: n, fetched: 0 };
  }
  if (n === size) {
    if (state && state.rootHash !== cp.rootHash)
      throw await flagPeer(peer, deps, {
        code: 'EQUIVOCATION',
        reason: `signed checkpoint of size ${n} has root ${cp.rootHash}, but its verified entries hash to ${state.rootHash}`,
        checkpoints: [state.checkpointNote, cp.note],
      });
    return { peer: peer.name, size, checkpointSize: n, fetched: 0 };
  }
  const perChunk = Math.max(TILE_WIDTH, Math.floor((deps.chunkEntries ?? 8192) / TILE_WIDTH) * TILE_WIDTH);
  let fetched = 0;
  deps.onProgress?.(size, n);
  while (size < n) {
    if (deps.signal?.aborted) break;
    const end = Math.min(n, Math.floor(size / TILE_WIDTH) * TILE_WIDTH + perChunk);
    const chunk: MirrorEntry[] = [];
    const leafHashes: Uint8Array[] = [];
    for (let bundle = Math.floor(size / TILE_WIDTH); bundle * TILE_WIDTH < end; bundle++) {
      const entries = await client.entryBundle(bundle, n);
      const first = bundle * TILE_WIDTH;
      const want = Math.min(TILE_WIDTH, n - first);
      if (entries.length !== want)
        throw new FederationError(
          'INCONSISTENT',
          `peer ${peer.name}: entry bundle ${bundle} holds ${entries.length} entries, expected ${want}`,
        );
      for (let i = 0; i < entries.length; i++) {
        const index = first + i;
        if (index < size || index >= end) continue;
        const bytes = entries[i]!.slice();
        const leafHash = deps.hasher.hashLeaf(bytes);
        leafHashes.push(leafHash);
        chunk.push({ index, leafHash: toHex(leafHash), bytes });
      }
    }
    const trial = range.clone();
    for (const h of leafHashes) trial.append(h);
    const root = trial.root();
    let proven: boolean;
    if (end === n) proven = toHex(root) === cp.rootHash;
    else {
      const proof = await client.consistencyProof(end, n);
      proven = verifyConsistency(deps.hasher, end, n, proof.map(fromHex), root, signedRoot);
    }
    if (!proven)
      throw await flagPeer(peer, deps, {
        code: 'INCONSISTENT',
        reason: `entries ${size}..${end - 1} do not match its signed checkpoint of size ${n}; nothing of them was stored`,
        checkpoints: [cp.note],
      });
    await deps.store.commitMirrorChunk(peer.name, chunk, {
      peer: peer.name,
      origin: peer.origin,
      size: end,
      rootHash: toHex(root),
      range: trial.toJSON(),
      checkpointNote: cp.note,
      checkpointSize: n,
      updatedAt: new Date().toISOString(),
    });
    range.copyFrom(trial);
    fetched += end - size;
    size = end;
    deps.onProgress?.(size, n);
  }
  return { peer: peer.name, size, checkpointSize: n, fetched };
}
