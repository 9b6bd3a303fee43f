// @vaultmesh/net: reading what remote parties send, within limits, and scrubbed of what we sent them.
export * from './bounded-body.ts';
export * from './credentials.ts';
