// The executor's records, events, requests and options (what runs/ and journal/ hold, what run() resolves to).
import type {
  AutonomyGate,
  ControlStore,
  FiredTripwire,
  GateCheck,
  LedgerQuery,
  PolicyDecider,
  Principal,
  ReceiptWriter,
  TripwireCheck,
} from '@vaultmesh/types';
import type { ActionRegistry } from '../actions.ts';
import type { AnalysisLoop, AnalysisSettings } from '../analysis.ts';
import type { ReceiptRef, StoredPlan } from '../plan-store.ts';
import type { Plan, PlanPhase, PlanStep } from '../plan.ts';
import type { StepProcess } from '../process-fence.ts';

/** ControlStore collections the executor writes. */
export const RUNS = 'runs';
export const JOURNAL = 'journal';
export const DRY_RUNS = 'dry-runs';
export const PLAN_STATE = 'plan-state';
/** Time budget of a step that names none. */
export const DEFAULT_STEP_TIMEOUT_MS = 5 * 60 * 1000;
/** Time budget of one precondition check. */
export const DEFAULT_PRECONDITION_TIMEOUT_MS = 30_000;
/** Largest action output kept in the journal (larger ones are replaced by their size and digest). */
export const MAX_JOURNAL_OUTPUT_BYTES = 16 * 1024;

/**
 * Outcome of one step (or, with rollbackOf, of one compensation). `unverifiable`: a dry-run read that failed after
 * earlier writes of the same plan, which a dry-run does not apply, so what it checks cannot exist yet; it is
 * recorded with the reason (never passed silently) and does not fail the dry-run. The live run checks it for real.
 */
export type StepStatus =
  'succeeded' | 'failed' | 'skipped' | 'unverifiable' | 'denied' | 'halted' | 'rolled-back';
/** A run is running (or its process died), succeeded, on hold, or cancelled. */
export type RunState = 'running' | 'succeeded' | 'hold' | 'cancelled';
/** Why a run is on hold. */
export type HoldReason =
  | 'step-failed'
  | 'policy-denied'
  | 'approval-required'
  | 'tripwire-halt'
  | 'tripwire-pause'
  | 'gate-failed'
  | 'plan-stale'
  | 'interrupted-step';

/** Why a run stopped and what can happen next. */
export interface RunHold {
  readonly reason: HoldReason;
  readonly message: string;
  readonly phaseId?: string;
  readonly stepId?: string;
  /** resume(runId) may continue it (after an approval, a policy or tripwire change, an operator's check). */
  readonly resumable: boolean;
  /** The completed steps' rollbacks ran (see the journal for each one's outcome). */
  readonly rolledBack: boolean;
  readonly tripwires?: readonly FiredTripwire[];
  /** Completed steps that changed something and could not be undone (not reversible, or no rollback). */
  readonly notRolledBack?: readonly string[];
  readonly rollbackFailures?: readonly string[];
}

/** A run as stored in runs/{runId}. */
export interface RunRecord {
  readonly runId: string;
  readonly planId: string;
  readonly planHash: string;
  readonly policySetHash: string;
  readonly tenant: string;
  readonly phases: readonly string[];
  readonly dryRun: boolean;
  readonly startedBy: string;
  /** Who drives it now (the starter, or whoever resumed it last). */
  readonly principal: Principal;
  readonly purpose?: string;
  readonly residency?: string;
  readonly state: RunState;
  readonly hold?: RunHold;
  /** Random id of the executor instance driving it; a resume takes it over, and the old one loses its next CAS. */
  readonly owner: string;
  readonly lastReceipt?: ReceiptRef;
  /** Phase-scoped approvals consumed in this run: phase id → approval id. */
  readonly phaseApprovals: Readonly<Record<string, string>>;
  /** Set while compensating, so a resume after a crash finishes the rollback. */
  readonly rollingBack?: {
    readonly reason: HoldReason;
    readonly message: string;
    readonly phaseId: string;
    readonly stepId?: string;
    readonly tripwires?: readonly FiredTripwire[];
  };
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly finishedAt?: string;
}

/** One journal entry. */
export interface JournalEntry {
  readonly runId: string;
  readonly phaseId: string;
  readonly stepId: string;
  readonly kind: 'step' | 'rollback' | 'gate' | 'bake';
  readonly action: string;
  readonly state: 'started' | 'done';
  readonly status?: StepStatus;
  readonly attempt: number;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly receipt?: ReceiptRef;
  readonly approvalId?: string;
  readonly reason?: string;
  readonly error?: string;
  readonly exitCode?: number;
  /** The action's one line on what it did or, in a dry-run, would do (e.g. what a k8s.apply would change). */
  readonly summary?: string;
  /** The process group the step started (shell), so a resume after a crash can find and fence it. */
  readonly process?: StepProcess;
  /** What a resume found of an earlier attempt's process group and did about it. */
  readonly fenced?: string;
  readonly outputDigest?: string;
  readonly output?: unknown;
}

/** Progress events (for server-sent events): one per run start/finish and per step start/finish. */
export type RunEvent =
  | {
      type: 'run-started';
      runId: string;
      planId: string;
      dryRun: boolean;
      phases: readonly string[];
      resumed: boolean;
      at: string;
    }
  | {
      type: 'step-started';
      runId: string;
      planId: string;
      dryRun: boolean;
      phaseId: string;
      stepId: string;
      action: string;
      rollback: boolean;
      at: string;
    }
  | {
      type: 'step-finished';
      runId: string;
      planId: string;
      dryRun: boolean;
      phaseId: string;
      stepId: string;
      action: string;
      rollback: boolean;
      status: StepStatus;
      error?: string;
      /** Why a step did not run or was excused: approval-required, policy-denied, a tripwire, unverifiable ... */
      reason?: string;
      /** The action's one line on what it did or would do (a dry-run k8s.apply: what live would change). */
      summary?: string;
      at: string;
    }
  | {
      /** Continuous analysis of a live run: one measurement, or the summary when the analysis ends. */
      type: 'analysis';
      runId: string;
      planId: string;
      dryRun: boolean;
      record: 'measurement' | 'summary';
      result: 'pass' | 'fail' | 'inconclusive';
      phaseId: string;
      stepId: string;
      tally: { measurements: number; pass: number; fail: number; inconclusive: number };
      stop?: { action: 'halt' | 'pause'; reason: string };
      at: string;
    }
  | {
      type: 'run-finished';
      runId: string;
      planId: string;
      dryRun: boolean;
      state: RunState;
      hold?: RunHold;
      at: string;
    };

/** One step's outcome in a RunResult. */
export interface StepOutcome {
  readonly phaseId: string;
  readonly stepId: string;
  readonly action: string;
  readonly status: StepStatus;
  readonly receipt?: ReceiptRef;
  /** This outcome is the compensation of stepId. */
  readonly rollback?: boolean;
  /** Done in an earlier attempt of the run (resume), not repeated. */
  readonly fromJournal?: boolean;
  readonly error?: string;
}

/** What run() and resume() resolve to. */
export interface RunResult {
  readonly runId: string;
  readonly planId: string;
  readonly planHash: string;
  readonly dryRun: boolean;
  readonly state: RunState;
  readonly hold?: RunHold;
  readonly steps: readonly StepOutcome[];
}

/** A run request. */
export interface RunRequest {
  /** The plan (must equal the stored one) or its id. */
  readonly plan: Plan | string;
  /** The hash the caller reviewed; must still be the stored plan's hash under the current policy set. */
  readonly planHash: string;
  /** One phase; all phases in order when absent. */
  readonly phaseId?: string;
  readonly dryRun: boolean;
  readonly principal: Principal;
  /** Approval tokens presented for this run (step- or phase-scoped; each is consumed at most once). */
  readonly approvals?: readonly string[];
  /** Idempotency key of the run; a random id when absent. */
  readonly runId?: string;
  readonly purpose?: string;
  readonly residency?: string;
}

/** A resume request. */
export interface ResumeRequest {
  readonly principal: Principal;
  readonly approvals?: readonly string[];
  /** Run again a non-idempotent step a crash left 'started' (the operator checked it did not take effect). */
  readonly rerunStarted?: boolean;
}

/** What the executor needs. */
export interface ExecutorOptions {
  readonly store: ControlStore;
  readonly receipts: ReceiptWriter;
  readonly policy: PolicyDecider;
  readonly autonomy: AutonomyGate;
  readonly tripwires: TripwireCheck;
  readonly actions: ActionRegistry;
  readonly now?: () => number;
  /** Progress listener; its errors are ignored. */
  readonly onEvent?: (e: RunEvent) => void;
  /** Verdicts for `golive`/`readiness` plan gates; without it such a gate fails (fail closed). */
  readonly gates?: GateCheck;
  /**
   * Whether recorded go/no-go outcomes let a live run of this plan hash start or resume (see liveRunAllowed);
   * asked on every live start and resume. Absent: no go/no-go applies.
   */
  readonly liveGate?: (run: {
    readonly tenant: string;
    readonly planId: string;
    readonly planHash: string;
  }) => Promise<{ readonly allowed: boolean; readonly reason: string }>;
  /** Answers `ledger` preconditions; without it they fail. */
  readonly ledger?: LedgerQuery;
  /**
   * Where to count steps, failures and compensations for the compensation-rate tripwire (a CounterSource from
   * counter-source.ts fits): STEPS_COUNTER, STEP_ERRORS_COUNTER and COMPENSATIONS_COUNTER, labelled by tenant.
   */
  readonly counters?: { add(name: string, value?: number, labels?: Readonly<Record<string, string>>): void };
  readonly newRunId?: () => string;
  readonly defaultStepTimeoutMs?: number;
  /**
   * Continuous analysis of live runs (analysis.ts): how often the tripwire rules are measured, the bake after the
   * last step, and the failure and inconclusive limits. A plan's own `analysis` can only tighten these.
   */
  readonly analysis?: AnalysisSettings;
}

/** The executor. */
export interface Executor {
  /**
   * Validates the plan (schema, actions, params), asks policy "plan", records a `plan` receipt and stores it.
   * Creating is not updating: replacing a stored plan needs `replaces` (its current hash).
   */
  storePlan(plan: unknown, principal: Principal, opts?: { replaces?: string }): Promise<StoredPlan>;
  getPlan(planId: string): Promise<StoredPlan>;
  /** Runs a stored plan's phase (or all phases). Refusals throw; step outcomes (deny, failure ...) are values. */
  run(req: RunRequest): Promise<RunResult>;
  /** Continues a run that is 'running' (its process died) or on a resumable hold, never repeating a done step. */
  resume(runId: string, req: ResumeRequest): Promise<RunResult>;
  /** Cancels a running or held run (policy action "cancel"), optionally rolling back its completed steps first. */
  cancel(
    runId: string,
    req: { principal: Principal; rollback?: boolean; reason?: string },
  ): Promise<RunResult>;
  getRun(runId: string): Promise<{ run: RunRecord; journal: JournalEntry[] } | undefined>;
  listRuns(planId?: string): Promise<RunRecord[]>;
}

/** The mutable state of one drive of a run (one run() or resume() call). */
export interface Drive {
  run: RunRecord;
  version: number;
  stored: StoredPlan;
  principal: Principal;
  approvals: readonly string[];
  rerunStarted: boolean;
  outcomes: StepOutcome[];
  /** Steps completed (succeeded) in this run, in order, with their receipts. */
  completed: { phase: PlanPhase; step: PlanStep; receipt: ReceiptRef }[];
  /** Continuous analysis of a live run, while it runs. */
  analysis?: AnalysisLoop;
  analysisSettings?: AnalysisSettings;
  /** Where the run is (what analysis measurements are attributed to). */
  position: { phaseId: string; stepId: string };
  /** Aborted when continuous analysis stops the run: ends a read or wait in progress at once. */
  analysisStop: AbortController;
}
