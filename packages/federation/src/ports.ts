// Ports of federation: the HTTP client of one peer, and the durable store of peers, witness and mirror state.
// Adapters: peer-client.ts (fetch), memory-store.ts (tests), store-sqlite federation-store.ts (the node).

/** A peer as configured: where it is, which log it runs, and the key it is trusted by (the trust anchor). */
export interface PeerRecord {
  /** Local name of the peer (lowercase word), used in receipts, metrics and the CLI. */
  readonly name: string;
  /** Base URL of the peer's node, e.g. http://127.0.0.1:5001. */
  readonly url: string;
  /** The peer's log origin (its checkpoints' first line). */
  readonly origin: string;
  /** The peer's note verifier key (signed-note vkey, type 0x01, name = origin); its cosignatures use the same key. */
  readonly verifierKey: string;
  /** Environment variable that holds an API token for the peer's entry bundles (read by the entry point only). */
  readonly tokenEnv?: string;
  readonly addedAt: string;
  /** False once the peer equivocated or showed an inconsistent history; it is then neither cosigned nor mirrored. */
  readonly trusted: boolean;
  readonly untrustedReason?: string;
}

/** What this node last verified and cosigned of a peer's log. */
export interface WitnessState {
  readonly peer: string;
  readonly size: number;
  /** Hex root hash. */
  readonly rootHash: string;
  /** The peer's signed note of that checkpoint. */
  readonly note: string;
  readonly cosignedAt: string;
  /** Our cosignature line of it, kept until the peer has it. */
  readonly line?: string;
  /** Whether the peer accepted the cosignature; false: it is sent again on every round until it does. */
  readonly delivered?: boolean;
  /** Failed deliveries of this cosignature so far. */
  readonly deliveryFailures?: number;
}

/** A mirror's resumable progress: entries [0, size) are stored and verified; `range` is their compact range. */
export interface MirrorState {
  readonly peer: string;
  readonly origin: string;
  readonly size: number;
  readonly rootHash: string;
  /** Serialized compact range of the mirrored prefix (compact-range.ts). */
  readonly range: unknown;
  /** The peer's signed checkpoint the stored prefix was last proven consistent with. */
  readonly checkpointNote: string;
  readonly checkpointSize: number;
  readonly updatedAt: string;
}

/** One mirrored entry: its index in the peer's log, leaf hash (hex) and receipt bytes. */
export interface MirrorEntry {
  readonly index: number;
  readonly leafHash: string;
  readonly bytes: Uint8Array;
}

/** A cosignature a peer (a witness) made of this node's checkpoint. */
export interface StoredCosignature {
  readonly size: number;
  /** The witness's key name (its origin). */
  readonly witness: string;
  /** The signature line, as it goes into the signed note. */
  readonly line: string;
  /** POSIX seconds from the cosignature. */
  readonly timestamp: number;
}

/**
 * Port: durable federation state. Every method is atomic; `commitMirrorChunk` stores a verified chunk of entries
 * and the new mirror state in one transaction (so a crash leaves the previous, verified state), and refuses a
 * chunk that does not start at the stored size (FederationError CONFLICT semantics: it throws).
 */
export interface FederationStore {
  listPeers(): Promise<PeerRecord[]>;
  getPeer(name: string): Promise<PeerRecord | undefined>;
  /** Inserts or replaces a peer. */
  putPeer(peer: PeerRecord): Promise<void>;
  removePeer(name: string): Promise<boolean>;
  getWitnessState(peer: string): Promise<WitnessState | undefined>;
  putWitnessState(state: WitnessState): Promise<void>;
  getMirrorState(peer: string): Promise<MirrorState | undefined>;
  commitMirrorChunk(peer: string, entries: readonly MirrorEntry[], state: MirrorState): Promise<void>;
  /** Mirrored entries of a peer in index order, [start, start + limit). */
  mirrorEntries(peer: string, start: number, limit: number): Promise<MirrorEntry[]>;
  /** Stores a cosignature of this node's checkpoint (same witness and size again: replaced). */
  putCosignature(c: StoredCosignature): Promise<void>;
  /** Cosignatures of the checkpoint of exactly `size`. */
  listCosignatures(size: number): Promise<StoredCosignature[]>;
}

/** Port: the HTTP API of one peer. Every call has a time limit and rejects with FederationError PEER_UNREACHABLE. */
export interface PeerClient {
  /** The peer's latest signed checkpoint note (C2SP, GET /checkpoint). */
  checkpoint(): Promise<string>;
  /** RFC 9162 consistency proof between two sizes (hex hashes). */
  consistencyProof(from: number, to: number): Promise<string[]>;
  /** Entry bundle N (C2SP tlog-tiles) of a tree of `treeSize` entries: the receipts' bytes. */
  entryBundle(n: number, treeSize: number): Promise<Uint8Array[]>;
  /** Hands the peer a cosignature of its checkpoint (POST /federation/cosignatures). */
  postCosignature(note: string, line: string): Promise<void>;
  /** Asks the peer to check and countersign a merge statement (POST /federation/merge). */
  requestMerge(req: unknown): Promise<unknown>;
}
