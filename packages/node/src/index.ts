// @vaultmesh/node: the composition root (only this package knows every adapter).
export * from './config.ts';
export * from './node.ts';
export * from './node-keys.ts';
export * from './server.ts';
export * from './anchoring.ts';
export * from './control.ts';
export * from './interop.ts';
export * from './federation.ts';
