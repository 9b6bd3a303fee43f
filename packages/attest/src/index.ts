// @vaultmesh/attest: keys and (later) RFC 3161, RFC 9421, DSSE and evidence bundles.
export * from './keys.ts';
