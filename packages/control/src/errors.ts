// The one error class of @vaultmesh/control and its closed set of codes (one line each, grouped by area).
import { StoreError, VaultMeshError } from '@vaultmesh/types';

/** Closed set of control-plane failures. Policy denials are values (PolicyDecision), not errors. */
export type ControlErrorCode =
  | 'INVALID_ARGUMENT' // bad input: a plan, step or request that breaks its schema
  | 'NOT_FOUND' // no such plan, run, approval or document
  | 'CONFLICT' // a compare-and-swap lost, or the state does not allow the operation
  | 'PLAN_INVALID' // a plan (typed in, or returned by a strategist) breaks the plan schema; details.problems lists why
  | 'PLAN_STALE' // the plan hash no longer matches the stored plan under the current policy set: re-plan
  | 'POLICY_DENIED' // the policy decider denied a request that has no step to record it on (store plan, approve)
  | 'APPROVAL_INVALID' // an approval token is unknown, used, expired or bound to another plan hash or scope
  | 'DRY_RUN_REQUIRED' // a live run of a phase without a recorded successful dry-run for the same plan hash
  | 'PRECONDITION_FAILED' // a plan precondition did not hold when the run started; details.failed lists them
  | 'NO_GO' // a recorded go/no-go outcome (hold) forbids this live run or resume
  | 'UPSTREAM_FAILED' // an external service (an OpenAI-compatible API) failed, timed out or answered garbage
  | 'SIMULATION_REJECTED' // an autonomy simulation result that does not re-run to its digest or did not pass
  | 'UNAVAILABLE'; // a capability that is not configured or not built yet (e.g. the Aurora router)

/** The one error class of @vaultmesh/control; `details` is its evidence. */
export class ControlError extends VaultMeshError<ControlErrorCode, Record<string, unknown>> {
  readonly details: Record<string, unknown> | undefined;
  constructor(
    code: ControlErrorCode,
    message: string,
    details?: Record<string, unknown>,
    opts: { cause?: unknown } = {},
  ) {
    super(code, message, { ...opts, ...(details !== undefined ? { evidence: details } : {}) });
    this.name = 'ControlError';
    this.details = details;
  }
}

/** A lost compare-and-swap: a store's (StoreError) or the control plane's own (ControlError), both code CONFLICT. */
export function isConflict(e: unknown): e is ControlError | StoreError {
  return (e instanceof ControlError || e instanceof StoreError) && e.code === 'CONFLICT';
}
