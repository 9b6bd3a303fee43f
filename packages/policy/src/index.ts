// @vaultmesh/policy: fail-closed ABAC with Cedar (one export line each).
export * from './errors.ts';
export { JS_WASM_INLINING_DISABLED } from './v8-guard.ts';
export * from './schema.ts';
export * from './request.ts';
export * from './engine.ts';
export * from './recording.ts';
export * from './policy-tests.ts';
export type {
  PolicyDecider,
  PolicyDecision,
  PolicyRequest,
  Principal,
  ReceiptWriter,
} from '@vaultmesh/types';
