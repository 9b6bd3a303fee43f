// @vaultmesh/log: the append lifecycle over storage ports, the in-memory driver and offline log verification.
export * from './errors.ts';
export * from './storage.ts';
export * from './tile-layout.ts';
export * from './memory-storage.ts';
export * from './log.ts';
export * from './verify.ts';
export * from './key-chain.ts';
export * from './anchor.ts';
