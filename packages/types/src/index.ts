// @vaultmesh/types: the leaf every package may depend on: the shared ports and types (principal, policy request and
// decision, receipt writer, stores, ledger query, gates) and the one error base. No dependencies, no code beyond
// the error classes.
export { StoreError, VaultMeshError } from './errors.ts';
export type { StoreConflictEvidence, StoreErrorCode, VaultMeshErrorOptions } from './errors.ts';
export type {
  AnomalyPoint,
  AnomalyWatch,
  AutonomyGate,
  ControlDoc,
  ControlStore,
  FiredTripwire,
  GateCheck,
  LeaseGrant,
  LeaseStore,
  LedgerQuery,
  PolicyDecider,
  PolicyDecision,
  PolicyRequest,
  Principal,
  ReceiptWriter,
  StepFacts,
  TripwireCheck,
  TripwireEvaluationResult,
} from './ports.ts';
