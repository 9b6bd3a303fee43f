// @vaultmesh/control: plans, strategist, executor, auditor, gates, autonomy, tripwires, analysis, readiness (one export line each).
export * from './errors.ts';
export type {
  AutonomyGate,
  ControlDoc,
  ControlStore,
  FiredTripwire,
  GateCheck,
  LedgerQuery,
  PolicyDecider,
  PolicyDecision,
  PolicyRequest,
  Principal,
  ReceiptWriter,
  StepFacts,
  TripwireCheck,
  TripwireEvaluationResult,
} from '@vaultmesh/types';
export { StoreError, VaultMeshError } from '@vaultmesh/types';
export * from './memory-store.ts';
export * from './autonomy.ts';
export * from './tripwires.ts';
export * from './analysis.ts';
export * from './run-analysis.ts';
export * from './prometheus-source.ts';
export * from './counter-source.ts';
export * from './counter-replay.ts';
export * from './plan.ts';
export * from './schemas.ts';
export * from './schema-pointer.ts';
export * from './plan-store.ts';
export * from './approvals.ts';
export * from './effects.ts';
export * from './outbound.ts';
export * from './actions.ts';
export * from './k8s-actions.ts';
export * from './strategist.ts';
export * from './openai-strategist.ts';
export * from './executor/index.ts';
export * from './process-fence.ts';
export * from './http-get.ts';
export * from './golive-checks.ts';
export * from './golive-polls.ts';
export * from './plan-gates.ts';
export * from './readiness.ts';
export * from './auditor.ts';
