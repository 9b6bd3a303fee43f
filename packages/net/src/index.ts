// @vaultmesh/net: reading what remote parties send, within limits (one export line each).
export * from './bounded-body.ts';
