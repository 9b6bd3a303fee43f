// @vaultmesh/federation: peers that witness (cosign), mirror and merge each other's ledgers (explicit exports: the public API at a glance).
export { FederationError, type FederationErrorCode } from './errors.ts';
export { CompactRange, type CompactRangeJson } from './compact-range.ts';
export {
  computeMerge,
  MERGE_ORDER,
  mergeStatement,
  signMergeStatement,
  verifyMergeReceipt,
  verifyMergeSignatures,
  type MergeInput,
  type MergeLeaf,
  type MergeResult,
  type MergeSignature,
} from './merge.ts';
export {
  type FederationStore,
  type MirrorEntry,
  type MirrorState,
  type PeerClient,
  type PeerRecord,
  type StoredCosignature,
  type WitnessState,
} from './ports.ts';
export { createMemoryFederationStore } from './memory-store.ts';
export {
  createHttpPeerClient,
  entryBundlePath,
  parseEntryBundle,
  PEER_LIMITS,
  type HttpPeerClientOptions,
} from './peer-client.ts';
export {
  fetchPeerCheckpoint,
  flagPeer,
  peerSignedNote,
  witnessPeer,
  type Cosigner,
  type FederationReceipts,
  type PeerCheckpoint,
  type PeerMisbehaviour,
  type WitnessDeps,
  type WitnessOutcome,
} from './witness.ts';
export { mirrorPeer, type MirrorDeps, type MirrorOutcome } from './mirror.ts';
export { verifyMirror, type MirrorCheck, type MirrorProblem } from './mirror-verify.ts';
