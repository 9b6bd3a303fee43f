// The one error class of @vaultmesh/policy and its closed set of codes. Policy outcomes (allow/deny) are values
// (PolicyDecision), never errors: these codes are for loading policies, options and recording only.
import { VaultMeshError } from '@vaultmesh/types';

/** Closed set of policy-package failures (one line each). */
export type PolicyErrorCode =
  | 'POLICY_INVALID' // the policy set does not parse or does not validate strictly against the schema (details: errors)
  | 'SCHEMA_INVALID' // the Cedar schema does not parse (details: errors)
  | 'TEST_FILE_INVALID' // a policy test file is not JSON or breaks the test-file format
  | 'NOT_FOUND' // a policy, schema or test file does not exist
  | 'INVALID_ARGUMENT' // bad options (sample rate, timeout, limits)
  | 'RECORD_FAILED'; // one or more decision receipts could not be written (details: failures)

/** One located problem of a policy set or schema. `policyId` is null for whole-set parse errors. */
export interface PolicyProblem {
  readonly policyId: string | null;
  readonly message: string;
  /** 1-based position in the policy text, where Cedar reported one. */
  readonly line?: number;
  readonly column?: number;
  readonly help?: string;
}

/** The one error class of @vaultmesh/policy. */
export class PolicyError extends VaultMeshError<PolicyErrorCode, Record<string, unknown>> {
  readonly details: Record<string, unknown> | undefined;
  constructor(code: PolicyErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details !== undefined ? { evidence: details } : {});
    this.name = 'PolicyError';
    this.details = details;
  }

  /** The located problems of a POLICY_INVALID or SCHEMA_INVALID error (empty for other codes). */
  get problems(): readonly PolicyProblem[] {
    const p = this.details?.['errors'];
    return Array.isArray(p) ? (p as PolicyProblem[]) : [];
  }
}
