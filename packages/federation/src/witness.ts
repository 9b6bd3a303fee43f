// Witnessing a peer (C2SP tlog-witness semantics, pull model): fetch its latest signed checkpoint, check the
// signature against the peer's trust anchor, prove it consistent with the last checkpoint this node cosigned, then
// cosign it (C2SP tlog-cosignature v1) and hand the cosignature back to the peer. A peer that shows two different
// checkpoints for one size, or a history that is not append-only, is flagged: an equivocation receipt carrying
// both signed notes is recorded and the peer is marked untrusted (nothing of it is cosigned or mirrored again).
import {
  fromHex,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  toHex,
  verifyConsistency,
  type Checkpoint,
  type Ed25519Verify,
  type MerkleHasher,
} from '@vaultmesh/ledger';
import { signCosignature } from './cosignature.ts';
import { FederationError } from './errors.ts';
import type { FederationStore, PeerClient, PeerRecord } from './ports.ts';

/** Appends a receipt (the node's log); resolves once it is durable. */
export interface FederationReceipts {
  append(input: {
    kind: string;
    actor: string;
    tenant: string;
    body: Record<string, unknown>;
  }): Promise<{ index: number; leafHash: string }>;
}

/** This node as a cosigner: its key name (its origin) and Ed25519 key. */
export interface Cosigner {
  readonly name: string;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export interface WitnessDeps {
  readonly store: FederationStore;
  readonly hasher: MerkleHasher;
  readonly ed25519Verify: Ed25519Verify;
  readonly cosigner: Cosigner;
  readonly receipts: FederationReceipts;
  /** Tenant of federation receipts. Default "federation". */
  readonly tenant?: string;
  readonly now?: () => number;
}

export interface WitnessOutcome {
  readonly peer: string;
  readonly status: 'cosigned' | 'unchanged' | 'stale';
  readonly size: number;
  readonly rootHash: string;
  /** The cosignature line (status cosigned). */
  readonly line?: string;
  /** Whether the peer accepted the cosignature (false: it was unreachable; the witness state advanced anyway). */
  readonly delivered?: boolean;
}

/** A peer's signed checkpoint, verified against its trust anchor. */
export interface PeerCheckpoint {
  readonly note: string;
  /** The note body (what was signed and what a cosignature signs). */
  readonly body: string;
  readonly checkpoint: Checkpoint;
  readonly rootHash: string;
}

/** Fetches and verifies a peer's latest checkpoint: signature by the peer's key, origin as configured. */
export async function fetchPeerCheckpoint(
  peer: PeerRecord,
  client: PeerClient,
  verify: Ed25519Verify,
): Promise<PeerCheckpoint> {
  const note = await client.checkpoint();
  let opened;
  try {
    opened = openNote(note, [parseVerifierKey(peer.verifierKey)], verify);
  } catch (err) {
    throw new FederationError(
      'CHECKPOINT_INVALID',
      `peer ${peer.name}: its checkpoint is not signed by its configured key: ${(err as Error).message}`,
    );
  }
  const checkpoint = parseCheckpoint(opened.text);
  if (checkpoint.origin !== peer.origin)
    throw new FederationError(
      'CHECKPOINT_INVALID',
      `peer ${peer.name}: checkpoint origin ${checkpoint.origin} is not the configured ${peer.origin}`,
    );
  return { note, body: opened.text, checkpoint, rootHash: toHex(checkpoint.root) };
}

/** Records the evidence of a misbehaving peer and marks it untrusted; returns the error to throw. */
export async function flagPeer(
  peer: PeerRecord,
  deps: Pick<WitnessDeps, 'store' | 'receipts' | 'cosigner' | 'tenant'>,
  why: { code: 'EQUIVOCATION' | 'INCONSISTENT'; reason: string; checkpoints: readonly string[] },
): Promise<FederationError> {
  const r = await deps.receipts.append({
    kind: 'federation',
    actor: `federation:${deps.cosigner.name}`,
    tenant: deps.tenant ?? 'federation',
    body: {
      peer: peer.name,
      operation: why.code === 'EQUIVOCATION' ? 'equivocation' : 'inconsistent-history',
      origin: peer.origin,
      reason: why.reason.slice(0, 1000),
      checkpoints: [...why.checkpoints],
    },
  });
  await deps.store.putPeer({
    ...peer,
    trusted: false,
    untrustedReason: `${why.reason} (receipt ${r.index})`,
  });
  return new FederationError(
    why.code,
    `peer ${peer.name}: ${why.reason}; marked untrusted (receipt ${r.index})`,
    {
      receipt: r,
      checkpoints: why.checkpoints,
    },
  );
}

/** Witnesses one peer once. Throws PEER_UNTRUSTED, CHECKPOINT_INVALID, PEER_UNREACHABLE, EQUIVOCATION, INCONSISTENT. */
export async function witnessPeer(
  peer: PeerRecord,
  client: PeerClient,
  deps: WitnessDeps,
): Promise<WitnessOutcome> {
  if (!peer.trusted)
    throw new FederationError(
      'PEER_UNTRUSTED',
      `peer ${peer.name} is untrusted: ${peer.untrustedReason ?? ''}`,
    );
  const now = deps.now ?? Date.now;
  const cp = await fetchPeerCheckpoint(peer, client, deps.ed25519Verify);
  const last = await deps.store.getWitnessState(peer.name);
  const size = cp.checkpoint.size;
  if (last) {
    if (size === last.size) {
      if (cp.rootHash === last.rootHash)
        return { peer: peer.name, status: 'unchanged', size, rootHash: cp.rootHash };
      throw await flagPeer(peer, deps, {
        code: 'EQUIVOCATION',
        reason: `two different signed checkpoints for size ${size}`,
        checkpoints: [last.note, cp.note],
      });
    }
    const [small, large] = size < last.size ? [cp, last] : [last, cp];
    const smallSize = size < last.size ? size : last.size;
    const largeSize = size < last.size ? last.size : size;
    let ok = false;
    try {
      const proof = await client.consistencyProof(smallSize, largeSize);
      ok = verifyConsistency(
        deps.hasher,
        smallSize,
        largeSize,
        proof.map(fromHex),
        fromHex(small.rootHash),
        fromHex(large.rootHash),
      );
    } catch (err) {
      if (err instanceof FederationError && err.code === 'PEER_UNREACHABLE') throw err;
      ok = false;
    }
    if (!ok)
      throw await flagPeer(peer, deps, {
        code: 'EQUIVOCATION',
        reason: `checkpoint of size ${size} is not consistent with the cosigned one of size ${last.size}`,
        checkpoints: [last.note, cp.note],
      });
    // An older checkpoint that is a prefix of what we cosigned: a stale answer, not a fork. Nothing to cosign.
    if (size < last.size) return { peer: peer.name, status: 'stale', size, rootHash: cp.rootHash };
  }
  const timestamp = Math.floor(now() / 1000);
  const line = signCosignature({
    noteBody: cp.body,
    name: deps.cosigner.name,
    publicKey: deps.cosigner.publicKey,
    sign: (m) => deps.cosigner.sign(m),
    timestamp,
  });
  await deps.store.putWitnessState({
    peer: peer.name,
    size,
    rootHash: cp.rootHash,
    note: cp.note,
    cosignedAt: new Date(timestamp * 1000).toISOString(),
  });
  const delivered = await client.postCosignature(cp.note, line).then(
    () => true,
    () => false,
  );
  return { peer: peer.name, status: 'cosigned', size, rootHash: cp.rootHash, line, delivered };
}
