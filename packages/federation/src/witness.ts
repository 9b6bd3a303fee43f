// Witnessing a peer (C2SP tlog-witness semantics, pull model): fetch its latest signed checkpoint, check the
// signature against the peer's trust anchor, prove it consistent with the last checkpoint this node cosigned, then
// cosign it (C2SP tlog-cosignature v1) and hand the cosignature back to the peer, again on every round until the
// peer has it.
//
// Only cryptographic evidence flags a peer: two valid signed checkpoints of one size with different roots (a fork:
// `equivocation`), or two valid signed checkpoints and a well-formed consistency proof between them that fails,
// twice (`inconsistent-history`). The peer is marked untrusted first, then the evidence is recorded: each note cut
// to its signed body and the peer's own signature line (so padding cannot push the receipt over its size limit).
// A transport or parse failure (an HTML page from a proxy, a timeout, a truncated body) is a failure with backoff,
// never evidence.
import {
  fromHex,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  signCosignature,
  toHex,
  verifyConsistency,
  type Checkpoint,
  type Ed25519Verify,
  type MerkleHasher,
} from '@vaultmesh/ledger';
import { FederationError } from './errors.ts';
import type { FederationStore, PeerClient, PeerRecord, WitnessState } from './ports.ts';

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
  /**
   * Whether the peer has our cosignature of this checkpoint (false: it was unreachable; the witness state advanced
   * anyway, and the cosignature is sent again on every round until the peer accepts it).
   */
  readonly delivered?: boolean;
  /** Failed deliveries of this cosignature so far (counted until one succeeds). */
  readonly deliveryFailures?: number;
}

/** Sends a cosignature the peer does not have yet; records whether it now does. */
async function deliver(
  client: PeerClient,
  deps: WitnessDeps,
  state: WitnessState & { line: string },
): Promise<{ delivered: boolean; deliveryFailures: number }> {
  const delivered = await client.postCosignature(state.note, state.line).then(
    () => true,
    () => false,
  );
  const deliveryFailures = (state.deliveryFailures ?? 0) + (delivered ? 0 : 1);
  await deps.store.putWitnessState({ ...state, delivered, deliveryFailures });
  return { delivered, deliveryFailures };
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

/**
 * A signed note cut to what proves it: the body and the signature line by `peer`'s own key (other lines, such as
 * cosignatures or padding, are dropped). A note without a verifying line of the peer is returned bounded.
 */
export function peerSignedNote(note: string, peer: PeerRecord, verify: Ed25519Verify): string {
  const split = note.indexOf('\n\n');
  if (split < 0) return note.slice(0, 4096);
  const body = note.slice(0, split + 1);
  const key = parseVerifierKey(peer.verifierKey);
  for (const line of note.slice(split + 2).split('\n')) {
    if (!line.startsWith(`— ${peer.origin} `)) continue;
    const candidate = `${body}\n${line}\n`;
    try {
      openNote(candidate, [key], verify);
      return candidate;
    } catch {
      // not the peer's own signature
    }
  }
  return note.slice(0, 4096);
}

/** What proves a peer misbehaved: a same-size fork, or a history a consistency proof does not bridge. */
export type PeerMisbehaviour =
  | { code: 'EQUIVOCATION'; reason: string; checkpoints: readonly string[] }
  | {
      code: 'INCONSISTENT';
      reason: string;
      checkpoints: readonly string[];
      /** The consistency proof that failed, when that is the evidence (the mirror's is the entries themselves). */
      proof?: { readonly from: number; readonly to: number; readonly hashes: readonly string[] };
    };

/**
 * Marks a misbehaving peer untrusted, then records the evidence (the notes cut to the peer's own signature, the
 * failing proof); returns the error to throw. Untrusting comes first: a receipt that cannot be written leaves the
 * peer untrusted all the same.
 */
export async function flagPeer(
  peer: PeerRecord,
  deps: Pick<WitnessDeps, 'store' | 'receipts' | 'cosigner' | 'tenant' | 'ed25519Verify'>,
  why: PeerMisbehaviour,
): Promise<FederationError> {
  await deps.store.putPeer({ ...peer, trusted: false, untrustedReason: why.reason });
  const checkpoints = why.checkpoints.map((n) => peerSignedNote(n, peer, deps.ed25519Verify));
  let receipt: { index: number; leafHash: string } | undefined;
  let recordError: string | undefined;
  try {
    receipt = await deps.receipts.append({
      kind: 'federation',
      actor: `federation:${deps.cosigner.name}`,
      tenant: deps.tenant ?? 'federation',
      body: {
        peer: peer.name,
        operation: why.code === 'EQUIVOCATION' ? 'equivocation' : 'inconsistent-history',
        origin: peer.origin,
        reason: why.reason.slice(0, 1000),
        checkpoints,
        ...(why.code === 'INCONSISTENT' && why.proof ? { proof: why.proof } : {}),
      },
    });
    await deps.store.putPeer({
      ...peer,
      trusted: false,
      untrustedReason: `${why.reason} (receipt ${receipt.index})`,
    });
  } catch (err) {
    recordError = (err as Error).message;
  }
  return new FederationError(
    why.code,
    `peer ${peer.name}: ${why.reason}; marked untrusted${receipt ? ` (receipt ${receipt.index})` : ` (the evidence could not be recorded: ${recordError})`}`,
    { ...(receipt ? { receipt } : {}), checkpoints },
  );
}

/** A consistency proof from the peer: a transport or shape failure is a failure (never evidence). */
async function fetchProof(client: PeerClient, peer: PeerRecord, from: number, to: number): Promise<string[]> {
  try {
    return await client.consistencyProof(from, to);
  } catch (err) {
    if (err instanceof FederationError) throw err;
    throw new FederationError(
      'PEER_UNREACHABLE',
      `peer ${peer.name}: no usable consistency proof ${from}→${to}: ${(err as Error).message}`,
    );
  }
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
      if (cp.rootHash === last.rootHash) {
        // A cosignature the peer never got is sent again, until it has it.
        if (last.delivered === false && last.line) {
          const d = await deliver(client, deps, { ...last, line: last.line });
          return { peer: peer.name, status: 'unchanged', size, rootHash: cp.rootHash, ...d };
        }
        return { peer: peer.name, status: 'unchanged', size, rootHash: cp.rootHash };
      }
      throw await flagPeer(peer, deps, {
        code: 'EQUIVOCATION',
        reason: `two different signed checkpoints for size ${size} (a fork)`,
        checkpoints: [last.note, cp.note],
      });
    }
    const [small, large] = size < last.size ? [cp, last] : [last, cp];
    const smallSize = size < last.size ? size : last.size;
    const largeSize = size < last.size ? last.size : size;
    const verifies = (proof: readonly string[]) =>
      verifyConsistency(
        deps.hasher,
        smallSize,
        largeSize,
        proof.map(fromHex),
        fromHex(small.rootHash),
        fromHex(large.rootHash),
      );
    let proof = await fetchProof(client, peer, smallSize, largeSize);
    // A proof that does not verify is asked for once more before it counts: evidence, not a glitch.
    if (!verifies(proof)) {
      proof = await fetchProof(client, peer, smallSize, largeSize);
      if (!verifies(proof))
        throw await flagPeer(peer, deps, {
          code: 'INCONSISTENT',
          reason: `checkpoint of size ${size} is not consistent with the cosigned one of size ${last.size}: the peer's consistency proof does not verify`,
          checkpoints: [last.note, cp.note],
          proof: { from: smallSize, to: largeSize, hashes: proof },
        });
    }
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
  const state = {
    peer: peer.name,
    size,
    rootHash: cp.rootHash,
    note: cp.note,
    cosignedAt: new Date(timestamp * 1000).toISOString(),
    line,
    delivered: false,
    deliveryFailures: 0,
  };
  // The state (with the line) is durable before the peer is told, so a crash in between still delivers it later.
  await deps.store.putWitnessState(state);
  const d = await deliver(client, deps, state);
  return { peer: peer.name, status: 'cosigned', size, rootHash: cp.rootHash, line, ...d };
}
