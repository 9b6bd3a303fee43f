// @vaultmesh/attest: keys, RFC 3161 timestamps, RFC 9421 signatures, DSSE and evidence (one export line each).
export * from './errors.ts';
export * from './keys.ts';
export * from './timestamp.ts';
export * from './key-seal.ts';
export * from './dsse.ts';
export * from './release.ts';
export * from './structured-fields.ts';
export * from './content-digest.ts';
export * from './replay-cache.ts';
export * from './http-signature.ts';
export * from './bundle.ts';
export * from './tsa-anchor.ts';
