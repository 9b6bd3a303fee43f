// @vaultmesh/ledger: the pure core (no I/O). Merkle math, proofs, receipts, checkpoints, signed notes, tiles.
export * from './errors.ts';
export * from './bytes.ts';
export * from './hash.ts';
export * from './merkle.ts';
export * from './jcs.ts';
export * from './strict-json.ts';
export * from './receipt.ts';
export * from './note.ts';
export * from './cosignature.ts';
export * from './key-rotation.ts';
export * from './checkpoint.ts';
export * from './tiles.ts';
