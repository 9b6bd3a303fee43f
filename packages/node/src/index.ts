// @vaultmesh/node: the composition root (only this package knows every adapter).
export {
  AnchorConfigSchema,
  AuroraConfigSchema,
  ConfigError,
  ConfigSchema,
  ControlConfigSchema,
  FederationConfigSchema,
  InteropConfigSchema,
  loadConfig,
  nodeStorageConfig,
  StorageConfigSchema,
  readKeyPassphrase,
  TsaConfigSchema,
  type AnchorConfig,
  type ConfigInput,
  type ControlConfig,
  type NodeConfig,
  type TsaConfig,
} from './config.ts';
export {
  dataPaths,
  initNode,
  isInitialized,
  openNode,
  verifyNode,
  verifyStorage,
  type NodeVerifyReport,
  type VerifyNodeOptions,
  type OpenedNode,
} from './node.ts';
export { copyToPostgres, type CopyProgress, type CopyReport } from './storage-copy.ts';
export {
  describeStorage,
  openNodeStorage,
  recordedStorage,
  resolveStorage,
  storageFromEnv,
  type NodeStorage,
  type OwnedStore,
  type StorageConfig,
} from './storage.ts';
export {
  nodeKeyStatus,
  rotateNodeKey,
  sealNodeKeyFile,
  unsealNodeKeyFile,
  type KeyRotationResult,
  type NodeKeyStatus,
} from './node-keys.ts';
export { DASHBOARD_DIR, startNode, stopOnSignal, VERSION, type RunningNode } from './server.ts';
export {
  createAnchorScheduler,
  exportEvidence,
  loadTsaTrust,
  logKeyTexts,
  splitPem,
  verifyAnchors,
  type AnchorProblem,
} from './anchoring.ts';
export {
  controlPrincipal,
  createControlPlane,
  type ControlPlane,
  type ControlPlaneOptions,
} from './control.ts';
export { APPROVAL_REQUESTS, createInterop, type Interop, type InteropOptions } from './interop.ts';
export {
  createFederation,
  type Federation,
  type FederationOptions,
  type MergeReceiptFile,
  type PeerSyncStatus,
} from './federation.ts';
