// @vaultmesh/federation: peers that witness (cosign), mirror and merge each other's ledgers (one export line each).
export * from './errors.ts';
export * from './compact-range.ts';
export * from './merge.ts';
export * from './ports.ts';
export * from './memory-store.ts';
export * from './peer-client.ts';
export * from './witness.ts';
export * from './mirror.ts';
export * from './mirror-verify.ts';
