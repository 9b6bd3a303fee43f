// @vaultmesh/policy: fail-closed ABAC with Cedar (explicit exports: the public API at a glance).
export { PolicyError, type PolicyErrorCode, type PolicyProblem } from './errors.ts';
export { JS_WASM_INLINING_DISABLED } from './v8-guard.ts';
export {
  DEFAULT_POLICIES_PATH,
  NAMESPACE,
  readDefaultPolicies,
  readPolicyFile,
  SCHEMA_PATH,
  VAULTMESH_SCHEMA,
} from './schema.ts';
export {
  MalformedRequest,
  REQUEST_LIMITS,
  toCedarRequest,
  type CedarRequest,
  type CedarUid,
} from './request.ts';
export {
  createPolicyEngine,
  DEFAULT_TIMEOUT_MS,
  formatProblem,
  MAX_POLICIES,
  MAX_POLICY_CHARS,
  validatePolicies,
  type CedarSchema,
  type PolicyEngine,
  type PolicyEngineOptions,
  type PolicyValidation,
} from './engine.ts';
export {
  createRecordingDecider,
  policyReceipt,
  type PolicyReceiptInput,
  type RecordingDecider,
  type RecordingDeciderOptions,
  type RecordingStats,
} from './recording.ts';
export {
  parsePolicyTestFile,
  readPolicyTestFile,
  runPolicyTests,
  type PolicyTestCase,
  type PolicyTestFile,
  type PolicyTestReport,
  type PolicyTestResult,
} from './policy-tests.ts';
export type {
  PolicyDecider,
  PolicyDecision,
  PolicyRequest,
  Principal,
  ReceiptWriter,
} from '@vaultmesh/types';
