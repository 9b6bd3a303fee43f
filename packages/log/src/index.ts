// @vaultmesh/log: the append lifecycle over storage ports, the in-memory driver and offline log verification.
export { LogError, type LogErrorCode } from './errors.ts';
export {
  checkpointJson,
  type CommitBatch,
  type EntryFilter,
  type EntryRange,
  type LogStorage,
  type PackedEntries,
  type ScanVerify,
  type StoredAnchor,
  type StoredCheckpoint,
  type StoredEntry,
  type StoredTile,
  type SubtreeHash,
  type VerifiedRange,
} from './storage.ts';
export {
  expectedTileWidth,
  locateNode,
  nodesAtTileLevel,
  readSlot,
  rowOffset,
  TILE_BYTES,
  TILE_SLOTS,
  tileLevels,
  type NodeLocation,
} from './tile-layout.ts';
export { createMemoryStorage } from './memory-storage.ts';
export {
  Log,
  type AppendInput,
  type AppendResult,
  type InclusionProof,
  type LogOptions,
  type LogStats,
} from './log.ts';
export { verifyLog, type VerifyOptions, type VerifyProblem, type VerifyReport } from './verify.ts';
export {
  checkpointKeyProblem,
  epochFor,
  KEY_RECEIPT_TENANT,
  keyHistory,
  keyId,
  readKeyChain,
  type KeyChain,
  type KeyEpoch,
  type KeyHistoryItem,
} from './key-chain.ts';
export {
  AnchorScheduler,
  backoffDelay,
  type Anchor,
  type AnchorEvent,
  type AnchorLog,
  type AnchorProof,
  type AnchorSchedulerOptions,
  type AnchorStatus,
  type BackoffOptions,
} from './anchor.ts';
