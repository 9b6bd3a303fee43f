// The executor: runs a stored plan's phases, dry first and then live, step by step through policy, the autonomy
// gate (with single-use approvals), tripwires and the action, writing a `step` receipt per step (parents: the plan
// receipt and the previous step's receipt) and a durable journal so a run survives a crash of its process.
//
// Storage (ControlStore collections):
//   runs/{runId}                          the run: state, hold reason, owner, last receipt (compare-and-swap)
//   journal/{runId}/{phaseId}/{stepId}    one step: 'started' then 'done' with its status and receipt; the id is
//                                         the idempotency key, and each transition is a compare-and-swap
//   journal/{runId}/{phaseId}/{stepId}/rollback   the compensation of that step
//   journal/{runId}/{phaseId}/@gate       the phase's gates passed (approval consumed) in this run
//   journal/{runId}/@bake                 the bake after the last step of a live run (analysis.ts): its start
//   dry-runs/{planHash}/{phaseId}         a successful dry-run of a phase under exactly that plan hash
//   plan-state/{planId}                   the plan's current run and state: one active run per plan
//
// Resume after a crash: a step whose journal says 'done' is never run again. A step left 'started' (the process
// died while it ran) is run again only if its action is idempotent for its params (k8s.*, probe, wait, http GET/
// PUT/DELETE, shell with idempotent: true); otherwise the run goes to hold ('interrupted-step') and says so, and an
// operator who checked the step's effect resumes with rerunStarted: true (or cancels). A step's process group that
// outlived the crash (journaled as `process`) is fenced before the step runs again (process-fence.ts).
import { createHash, randomBytes } from 'node:crypto';
import { canonicalize } from '@vaultmesh/ledger';
import {
  actionTrait,
  governStep,
  type Action,
  type ActionContext,
  type ActionRegistry,
  type ActionResult,
  sleepUnless,
} from './actions.ts';
import {
  DEFAULT_ANALYSIS_SETTINGS,
  tightenAnalysis,
  type AnalysisLoop,
  type AnalysisSettings,
  type AnalysisStop,
} from './analysis.ts';
import { consumeApproval, findApproval } from './approvals.ts';
import { ControlError, isConflict } from './errors.ts';
import { COMPENSATIONS_COUNTER, STEP_ERRORS_COUNTER, STEPS_COUNTER } from './tripwires.ts';
import { describeIssues, type Plan, type PlanPhase, type PlanStep } from './plan.ts';
import { locatePlanProblems } from './schemas.ts';
import { BAKE_STEP_ID, finiteEvidence, startRunAnalysis, summaryBody } from './run-analysis.ts';
import { fenceStepProcess, stepProcessRunning, type StepProcess } from './process-fence.ts';
import {
  assertAllowed,
  loadFreshPlan,
  loadPlan,
  planResource,
  storePlan,
  type ReceiptRef,
  type StoredPlan,
} from './plan-store.ts';
import type {
  AutonomyGate,
  ControlStore,
  FiredTripwire,
  GateCheck,
  LedgerQuery,
  PolicyDecider,
  PolicyDecision,
  Principal,
  ReceiptWriter,
  StepFacts,
  TripwireCheck,
} from '@vaultmesh/types';

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

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

function digestOf(value: unknown): string {
  let text: string;
  try {
    text = canonicalize(value);
  } catch {
    text = JSON.stringify(value) ?? 'null';
  }
  return sha256Hex(text);
}

function boundedOutput(output: unknown): unknown {
  const text = JSON.stringify(output) ?? 'null';
  if (Buffer.byteLength(text) <= MAX_JOURNAL_OUTPUT_BYTES) return JSON.parse(text) as unknown;
  return { truncated: true, bytes: Buffer.byteLength(text), sha256: sha256Hex(text) };
}

const oneLine = (s: string, max = 500) => s.replace(/\s+/g, ' ').slice(0, max);

const isRunActive = (s: { state: RunState; resumable?: boolean }) =>
  s.state === 'running' || (s.state === 'hold' && s.resumable === true);

interface PlanStateDoc {
  planId: string;
  runId: string;
  state: RunState;
  resumable: boolean;
  updatedAt: string;
}

/** A step's params checked against its action: the parsed params, or the problems. */
function checkStep(actions: ActionRegistry, where: string, action: string, params: unknown): string[] {
  const a = actions.get(action);
  if (!a) return [`${where}: unknown action "${action}"`];
  const r = a.params.safeParse(params);
  if (r.success) return [];
  return describeIssues(r.error.issues).map(
    (p) => `${where}/params${p.startsWith('(root)') ? p.slice(6) : p}`,
  );
}

/** Every problem of the plan's steps and rollbacks against the registry (unknown action, bad params). */
export function checkPlanActions(
  plan: Plan,
  actions: ActionRegistry,
  phaseIds?: readonly string[],
): string[] {
  const problems: string[] = [];
  plan.phases.forEach((ph, i) => {
    if (phaseIds && !phaseIds.includes(ph.id)) return;
    ph.steps.forEach((s, j) => {
      problems.push(...checkStep(actions, `/phases/${i}/steps/${j}`, s.action, s.params));
      const action = actions.get(s.action);
      const parsed = s.retry ? action?.params.safeParse(s.params) : undefined;
      if (
        action &&
        parsed?.success &&
        !actionTrait(action, 'idempotent', parsed.data as Record<string, unknown>)
      )
        problems.push(
          `/phases/${i}/steps/${j}/retry: a ${s.action} step with these params is not idempotent, so it is never retried`,
        );
      // A write declared reversible must say how to undo it (the tiers trust `reversible` only then). Params that
      // do not parse are reported above; their effect cannot be judged, so this is not piled on top.
      if (
        s.reversible &&
        !s.rollback &&
        action?.params.safeParse(s.params).success !== false &&
        governStep(action, s, s.params).effect === 'write'
      )
        problems.push(
          `/phases/${i}/steps/${j}/reversible: a ${s.action} step that changes something is reversible only with a rollback`,
        );
      if (s.rollback)
        problems.push(
          ...checkStep(actions, `/phases/${i}/steps/${j}/rollback`, s.rollback.action, s.rollback.params),
        );
    });
  });
  return problems;
}

/** Creates an executor over the given ports. */
export function createExecutor(opts: ExecutorOptions): Executor {
  const { store, receipts, policy, autonomy, tripwires, actions } = opts;
  const now = opts.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();
  const newId = () => randomBytes(8).toString('hex');
  const newRunId = opts.newRunId ?? (() => `run-${newId()}`);
  const count = (name: string, run: RunRecord, labels: Record<string, string>) => {
    try {
      opts.counters?.add(name, 1, { tenant: run.tenant, dryRun: String(run.dryRun), ...labels });
    } catch {
      // metrics must not change a run
    }
  };
  const emit = (e: RunEvent) => {
    try {
      opts.onEvent?.(e);
    } catch {
      // a listener's failure must not change a run
    }
  };

  const assertActions = (plan: Plan, phaseIds?: readonly string[]) => {
    const problems = checkPlanActions(plan, actions, phaseIds);
    if (problems.length)
      throw new ControlError('PLAN_INVALID', `plan steps are invalid: ${problems.join('; ')}`, {
        problems,
        errors: locatePlanProblems(problems, plan, actions),
      });
  };

  /** Runs one action under its time budget; a throw or a timeout is a failed result, never an exception. */
  async function invoke(
    action: Action,
    rawParams: Record<string, unknown>,
    timeoutMs: number,
    ctx: {
      dryRun: boolean;
      facts: StepFacts;
      plan: Plan;
      principal: Principal;
      unappliedWrites?: readonly string[];
      unappliedSteps?: ActionContext['unappliedSteps'];
      firstStartedAt?: number;
      /** Aborts the action early (continuous analysis stopping the run during a read or a wait). */
      stop?: AbortSignal;
      onProcess?: ActionContext['onProcess'];
    },
  ): Promise<ActionResult> {
    const ac = new AbortController();
    const onStop = () => ac.abort(ctx.stop?.reason);
    if (ctx.stop?.aborted) onStop();
    else ctx.stop?.addEventListener('abort', onStop, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<ActionResult>((resolve) => {
      timer = setTimeout(() => {
        ac.abort(new Error(`timed out after ${timeoutMs} ms`));
        // Grace period for the action to notice the abort and report on its own.
        setTimeout(
          () => resolve({ ok: false, output: {}, error: `timed out after ${timeoutMs} ms` }),
          1000,
        ).unref();
      }, timeoutMs);
      timer.unref?.();
    });
    try {
      const params = action.params.parse(rawParams) as Record<string, unknown>;
      return await Promise.race([
        action.run(params, {
          dryRun: ctx.dryRun,
          timeoutMs,
          signal: ac.signal,
          step: ctx.facts,
          target: ctx.plan.target,
          principal: ctx.principal,
          receipts,
          now,
          ...(ctx.unappliedWrites ? { unappliedWrites: ctx.unappliedWrites } : {}),
          ...(ctx.unappliedSteps ? { unappliedSteps: ctx.unappliedSteps } : {}),
          ...(ctx.firstStartedAt !== undefined ? { firstStartedAt: ctx.firstStartedAt } : {}),
          ...(ctx.onProcess ? { onProcess: ctx.onProcess } : {}),
        }),
        timedOut,
      ]);
    } catch (e) {
      return { ok: false, output: {}, error: oneLine((e as Error).message ?? String(e)) };
    } finally {
      clearTimeout(timer);
      ctx.stop?.removeEventListener('abort', onStop);
    }
  }

  /**
   * Policy before any effect: a run starts (or resumes) only for a principal that may execute this plan at least as a
   * dry run (Cedar `execute`, dryRun true: a viewer, or anyone outside the plan's tenant, is refused here). Nothing
   * is written and nothing fires before it; each precondition and step is then decided on its own.
   */
  async function authorizeStart(
    plan: Plan,
    principal: Principal,
    ctx: { planHash: string; runId: string; what: string },
  ): Promise<void> {
    const decision = await policy.decide({
      principal,
      action: 'execute',
      resource: planResource(plan),
      context: { dryRun: true, time: iso(), planHash: ctx.planHash, runId: ctx.runId },
    });
    assertAllowed(decision, `${principal.id} ${ctx.what} plan ${plan.id}`);
  }

  /** A live start or resume goes ahead only when no recorded go/no-go outcome forbids it (NO_GO otherwise). */
  async function assertGo(plan: Plan, planHash: string): Promise<void> {
    if (!opts.liveGate) return;
    const v = await opts.liveGate({ tenant: plan.target.tenant, planId: plan.id, planHash });
    if (!v.allowed)
      throw new ControlError('NO_GO', `live run of plan ${plan.id} refused: ${v.reason}`, { planHash });
  }

  /** Checks every precondition, each decided by policy as a read step before it fires; the failures, if any. */
  async function checkPreconditions(
    plan: Plan,
    principal: Principal,
    runId: string,
    run: { dryRun: boolean; planHash: string; purpose?: string; residency?: string },
  ): Promise<{ id: string; kind: string; reason: string }[]> {
    const failed: { id: string; kind: string; reason: string }[] = [];
    for (const pc of plan.preconditions) {
      const facts: StepFacts = {
        planId: plan.id,
        planHash: '',
        runId,
        phaseId: '',
        stepId: pc.id,
        action: pc.kind,
        tenant: plan.target.tenant,
        risk: 'low',
        reversible: true,
        readOnly: true,
        aggregation: false,
        dryRun: false,
      };
      try {
        if (pc.kind === 'ledger') {
          const kind = pc.params.kind;
          const body = (pc.params.body ?? {}) as Record<string, string | number | boolean>;
          if (typeof kind !== 'string') throw new Error('params.kind must be a receipt kind');
          if (!opts.ledger) throw new Error('no ledger query is configured');
          if (!(await opts.ledger.hasReceipt({ kind, tenant: plan.target.tenant, body })))
            throw new Error(`no ${kind} receipt with ${JSON.stringify(body)}`);
          continue;
        }
        const { timeoutMs, ...rest } = pc.params as { timeoutMs?: unknown };
        const params = pc.kind === 'http' ? { ...rest, method: 'GET' } : rest;
        const action = actions.get(pc.kind);
        if (!action) throw new Error(`no "${pc.kind}" action is registered`);
        const decision = await policy.decide({
          principal,
          action: 'execute',
          resource: planResource(plan),
          context: {
            stepAction: pc.kind,
            risk: 'low',
            readOnly: true,
            dryRun: run.dryRun,
            time: iso(),
            planHash: run.planHash,
            runId,
            stepId: pc.id,
            ...(run.purpose !== undefined ? { purpose: run.purpose } : {}),
            ...(run.residency !== undefined ? { residency: run.residency } : {}),
          },
        });
        if (decision.decision !== 'allow')
          throw new Error(`policy denied it: ${decision.reasons.join(', ') || 'no policy allows it'}`);
        const budget = typeof timeoutMs === 'number' ? timeoutMs : DEFAULT_PRECONDITION_TIMEOUT_MS;
        const r = await invoke(action, params, budget, { dryRun: false, facts, plan, principal });
        if (!r.ok) throw new Error(r.error ?? 'failed');
      } catch (e) {
        failed.push({ id: pc.id, kind: pc.kind, reason: oneLine((e as Error).message) });
      }
    }
    return failed;
  }

  /** The mutable state of one drive of a run (one run() or resume() call). */
  interface Drive {
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

  async function saveRun(d: Drive, patch: Partial<RunRecord>): Promise<void> {
    const next: RunRecord = { ...d.run, ...patch, updatedAt: iso() };
    try {
      const r = await store.put(RUNS, d.run.runId, next, { expectedVersion: d.version });
      d.run = r.doc;
      d.version = r.version;
    } catch (e) {
      if (isConflict(e))
        throw new ControlError('CONFLICT', `run ${d.run.runId} was taken over by another executor (resume)`, {
          runId: d.run.runId,
        });
      throw e;
    }
  }

  async function setPlanState(
    planId: string,
    runId: string,
    state: RunState,
    resumable: boolean,
  ): Promise<void> {
    const cur = await store.get<PlanStateDoc>(PLAN_STATE, planId);
    if (cur && cur.doc.runId !== runId) return; // another run owns the plan now
    await store.put<PlanStateDoc>(
      PLAN_STATE,
      planId,
      { planId, runId, state, resumable, updatedAt: iso() },
      cur ? { expectedVersion: cur.version } : { expectedVersion: 0 },
    );
  }

  const facts = (
    d: Drive,
    phase: PlanPhase,
    step: {
      id: string;
      action: string;
      risk: PlanStep['risk'];
      reversible: boolean;
      readOnly?: boolean;
      aggregation?: boolean;
      rollback?: unknown;
    },
    params: Record<string, unknown>,
  ): StepFacts => {
    // Governance sees what the action does, not what the plan says it does (effects.ts).
    const g = governStep(actions.get(step.action), step, params);
    return {
      planId: d.run.planId,
      planHash: d.run.planHash,
      runId: d.run.runId,
      phaseId: phase.id,
      stepId: step.id,
      action: step.action,
      tenant: d.run.tenant,
      risk: g.risk,
      reversible: g.reversible,
      readOnly: g.readOnly,
      aggregation: g.aggregation,
      dryRun: d.run.dryRun,
    };
  };

  async function decide(
    d: Drive,
    phase: PlanPhase,
    stepAction: string,
    stepId: string,
    extra: Record<string, unknown> = {},
  ): Promise<PolicyDecision> {
    return policy.decide({
      principal: d.principal,
      action: 'execute',
      resource: planResource(d.stored.plan),
      context: {
        stepAction,
        dryRun: d.run.dryRun,
        time: iso(),
        ...(d.run.purpose !== undefined ? { purpose: d.run.purpose } : {}),
        ...(d.run.residency !== undefined ? { residency: d.run.residency } : {}),
        planHash: d.run.planHash,
        runId: d.run.runId,
        phaseId: phase.id,
        stepId,
        ...extra,
      },
    });
  }

  /** Appends a `step` receipt chained to the plan receipt and the run's previous receipt. */
  async function record(
    d: Drive,
    body: Record<string, unknown>,
    extraParents: ReceiptRef[] = [],
    kind: 'step' | 'analysis' = 'step',
  ): Promise<ReceiptRef> {
    const parents: ReceiptRef[] = [d.stored.receipt];
    if (d.run.lastReceipt) parents.push(d.run.lastReceipt);
    for (const p of extraParents) if (!parents.some((x) => x.index === p.index)) parents.push(p);
    // Fence: an executor whose run was taken over (resume elsewhere) stops before it writes to the ledger.
    const latest = await store.get<RunRecord>(RUNS, d.run.runId);
    if (latest?.version !== d.version)
      throw new ControlError('CONFLICT', `run ${d.run.runId} was taken over by another executor (resume)`, {
        runId: d.run.runId,
      });
    const r = await receipts.append({
      kind,
      actor: d.principal.id,
      tenant: d.run.tenant,
      body: {
        ...body,
        runId: d.run.runId,
        planId: d.run.planId,
        planHash: d.run.planHash,
        dryRun: d.run.dryRun,
      },
      parents,
    });
    const ref = { index: r.index, leafHash: r.leafHash };
    await saveRun(d, { lastReceipt: ref });
    return ref;
  }

  /** Writes a journal entry with compare-and-swap on its previous version (0 = new). */
  async function journal(id: string, entry: JournalEntry, expectedVersion: number): Promise<number> {
    try {
      return (await store.put(JOURNAL, id, entry, { expectedVersion })).version;
    } catch (e) {
      if (isConflict(e))
        throw new ControlError(
          'CONFLICT',
          `journal ${id} changed under this executor: another executor drives the run`,
          { id },
        );
      throw e;
    }
  }

  /** Records a step that did not run (denied, halted) as done, with its receipt. */
  async function recordStopped(
    d: Drive,
    phase: PlanPhase,
    step: PlanStep,
    status: StepStatus,
    prev: { version: number; attempt: number } | undefined,
    body: Record<string, unknown>,
    // An interrupted step keeps its 'started' entry, so every later resume asks again (never re-runs it silently).
    keepJournal = false,
  ): Promise<void> {
    const receipt = await record(d, {
      stepId: step.id,
      phaseId: phase.id,
      action: step.action,
      status,
      ...body,
    });
    const key = `${d.run.runId}/${phase.id}/${step.id}`;
    if (!keepJournal)
      await journal(
        key,
        {
          runId: d.run.runId,
          phaseId: phase.id,
          stepId: step.id,
          kind: 'step',
          action: step.action,
          state: 'done',
          status,
          attempt: (prev?.attempt ?? 0) + 1,
          startedAt: iso(),
          finishedAt: iso(),
          receipt,
          ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
        },
        prev?.version ?? 0,
      );
    d.outcomes.push({ phaseId: phase.id, stepId: step.id, action: step.action, status, receipt });
    emit({
      type: 'step-finished',
      runId: d.run.runId,
      planId: d.run.planId,
      dryRun: d.run.dryRun,
      phaseId: phase.id,
      stepId: step.id,
      action: step.action,
      rollback: false,
      status,
      ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
      at: iso(),
    });
  }

  async function hold(d: Drive, h: RunHold): Promise<void> {
    await saveRun(d, { state: 'hold', hold: h, rollingBack: undefined, finishedAt: iso() });
    await setPlanState(d.run.planId, d.run.runId, 'hold', h.resumable);
  }

  /**
   * Holds the run at a step a crash interrupted (resumable): recorded 'halted', its journal left 'started' so every
   * later resume asks again.
   */
  async function holdInterrupted(
    d: Drive,
    phase: PlanPhase,
    step: PlanStep,
    prev: { version: number; attempt: number } | undefined,
    message: string,
  ): Promise<void> {
    await recordStopped(d, phase, step, 'halted', prev, { reason: 'interrupted-step' }, true);
    await hold(d, {
      reason: 'interrupted-step',
      message,
      phaseId: phase.id,
      stepId: step.id,
      resumable: true,
      rolledBack: false,
    });
  }

  /**
   * Stops the run for tripwires that fired (before a step, or continuous analysis during a step or the bake):
   * the step is recorded 'halted' when it did not finish, then a halt rolls back and a pause holds (resumable).
   */
  async function tripStop(
    d: Drive,
    at: { phaseId: string; stepId: string },
    fired: readonly FiredTripwire[],
    message: string,
    unfinished?: {
      phase: PlanPhase;
      step: PlanStep;
      prev: { version: number; attempt: number } | undefined;
      body: Record<string, unknown>;
    },
  ): Promise<void> {
    const halt = fired.some((t) => t.action === 'halt');
    const trip = fired.map((t) => ({
      id: t.id,
      action: t.action,
      reason: oneLine(t.reason, 300),
      evidence: finiteEvidence(t.evidence),
    }));
    // A rollback is the safe direction: nothing is measured while it runs.
    await d.analysis?.end();
    if (unfinished)
      await recordStopped(d, unfinished.phase, unfinished.step, 'halted', unfinished.prev, {
        ...unfinished.body,
        reason: halt ? 'tripwire-halt' : 'tripwire-pause',
        tripwires: trip,
      });
    if (halt) await rollback(d, 'tripwire-halt', message, undefined, at, trip);
    else
      await hold(d, {
        reason: 'tripwire-pause',
        message,
        ...at,
        resumable: true,
        rolledBack: false,
        tripwires: trip,
      });
  }

  /** The tripwires behind an analysis stop, as fired tripwires. */
  const firedOf = (stop: AnalysisStop): FiredTripwire[] =>
    stop.rules.map((r) => ({
      id: r.id,
      action: r.action ?? stop.action,
      reason: r.reason,
      evidence: r.evidence,
    }));

  /** Appends an `analysis` receipt beside the run's chain: it writes no run record, so it never races a step. */
  async function recordAside(d: Drive, body: Record<string, unknown>): Promise<void> {
    const latest = await store.get<RunRecord>(RUNS, d.run.runId);
    if (latest?.doc.owner !== d.run.owner) throw new ControlError('CONFLICT', 'run taken over');
    const parents: ReceiptRef[] = [d.stored.receipt];
    if (d.run.lastReceipt) parents.push(d.run.lastReceipt);
    await receipts.append({
      kind: 'analysis',
      actor: d.principal.id,
      tenant: d.run.tenant,
      body: { ...body, runId: d.run.runId, planId: d.run.planId, planHash: d.run.planHash, dryRun: false },
      parents,
    });
  }

  /** Starts continuous analysis of a live run when there are rules to measure. */
  function startAnalysis(d: Drive): void {
    if (d.run.dryRun || !tripwires.evaluate) return;
    const settings = tightenAnalysis(opts.analysis ?? DEFAULT_ANALYSIS_SETTINGS, d.stored.plan.analysis);
    d.analysisSettings = settings;
    const analysisFacts = (): StepFacts => ({
      planId: d.run.planId,
      planHash: d.run.planHash,
      runId: d.run.runId,
      phaseId: d.position.phaseId,
      stepId: d.position.stepId,
      action: 'analysis',
      tenant: d.run.tenant,
      risk: 'low',
      reversible: true,
      readOnly: true,
      aggregation: false,
      dryRun: false,
    });
    d.analysis = startRunAnalysis({
      evaluate: (f) => tripwires.evaluate!(f),
      settings,
      facts: analysisFacts,
      now,
      record: (body) => recordAside(d, body),
      report: (m, tally, stop) =>
        emit({
          type: 'analysis',
          runId: d.run.runId,
          planId: d.run.planId,
          dryRun: false,
          record: 'measurement',
          result: m.result,
          ...d.position,
          tally: {
            measurements: tally.measurements,
            pass: tally.pass,
            fail: tally.fail,
            inconclusive: tally.inconclusive,
          },
          ...(stop ? { stop: { action: stop.action, reason: stop.reason } } : {}),
          at: iso(),
        }),
      onStop: (stop) =>
        d.analysisStop.abort(new Error(`continuous analysis stopped the run: ${stop.reason}`)),
    });
  }

  /** Ends continuous analysis and sums it up in an `analysis` receipt (once per drive). */
  async function endAnalysis(d: Drive): Promise<void> {
    const loop = d.analysis;
    if (!loop || !d.analysisSettings) return;
    d.analysis = undefined;
    await loop.end();
    // Nothing was measured (the run stopped before the first measurement): there is nothing to sum up.
    if (loop.tally.measurements === 0) return;
    const body = summaryBody(loop, d.analysisSettings);
    try {
      await record(d, { ...body, ...d.position }, [], 'analysis');
    } catch {
      // taken over: the new driver sums up its own analysis
    }
    const t = loop.tally;
    emit({
      type: 'analysis',
      runId: d.run.runId,
      planId: d.run.planId,
      dryRun: false,
      record: 'summary',
      result: body.result as 'pass' | 'fail' | 'inconclusive',
      ...d.position,
      tally: { measurements: t.measurements, pass: t.pass, fail: t.fail, inconclusive: t.inconclusive },
      ...(loop.stopped ? { stop: { action: loop.stopped.action, reason: loop.stopped.reason } } : {}),
      at: iso(),
    });
  }

  /**
   * The bake after a live run's last step: analysis goes on for bakeMs (counted from the bake's first start, so a
   * restart continues it), then one last measurement decides. False when the run stopped.
   */
  async function bake(d: Drive): Promise<boolean> {
    const loop = d.analysis;
    const settings = d.analysisSettings;
    if (!loop || !settings) return true;
    const phaseId = d.run.phases[d.run.phases.length - 1]!;
    const key = `${d.run.runId}/${BAKE_STEP_ID}`;
    const j = await store.get<JournalEntry>(JOURNAL, key);
    if (j?.doc.state === 'done' && j.doc.status === 'succeeded') return true;
    const resumed = j?.doc.state === 'started';
    const startedAt = resumed ? j.doc.startedAt : iso();
    const attempt = resumed ? j.doc.attempt : (j?.doc.attempt ?? 0) + 1;
    const entry = {
      runId: d.run.runId,
      phaseId,
      stepId: BAKE_STEP_ID,
      kind: 'bake' as const,
      action: 'bake',
      attempt,
      startedAt,
    };
    const v = resumed ? j.version : await journal(key, { ...entry, state: 'started' }, j?.version ?? 0);
    d.position = { phaseId, stepId: BAKE_STEP_ID };
    const ev = { runId: d.run.runId, planId: d.run.planId, dryRun: false, phaseId, stepId: BAKE_STEP_ID };
    emit({ type: 'step-started', ...ev, action: 'bake', rollback: false, at: iso() });
    const until = Date.parse(startedAt) + settings.bakeMs;
    while (!loop.stopped && now() < until) {
      await sleepUnless(Math.min(until - now(), settings.intervalMs), d.analysisStop.signal);
      const latest = await store.get<RunRecord>(RUNS, d.run.runId);
      if (latest?.doc.owner !== d.run.owner)
        throw new ControlError('CONFLICT', `run ${d.run.runId} was taken over by another executor (resume)`, {
          runId: d.run.runId,
        });
    }
    const stop = loop.stopped ?? (await loop.measureNow());
    const status: StepStatus = stop ? 'halted' : 'succeeded';
    await journal(key, { ...entry, state: 'done', status, finishedAt: iso() }, v);
    emit({
      type: 'step-finished',
      ...ev,
      action: 'bake',
      rollback: false,
      status,
      ...(stop ? { reason: stop.action === 'halt' ? 'tripwire-halt' : 'tripwire-pause' } : {}),
      at: iso(),
    });
    if (!stop) return true;
    await tripStop(
      d,
      d.position,
      firedOf(stop),
      `continuous analysis stopped the run in the bake after its last step: ${stop.reason}`,
    );
    return false;
  }

  /**
   * Compensates: the failed step's own rollback first (it may have partly applied), then the rollbacks of the run's
   * completed reversible steps in reverse order. Each is policy-checked (a deny is recorded and skipped), journaled
   * and recorded (status 'rolled-back', or 'failed'); autonomy and tripwires are not consulted, since a rollback is
   * the safe direction. Then the run goes to a non-resumable hold.
   */
  async function rollback(
    d: Drive,
    reason: HoldReason,
    message: string,
    failed: { phase: PlanPhase; step: PlanStep } | undefined,
    stop: { phaseId: string; stepId?: string },
    fired?: readonly FiredTripwire[],
  ): Promise<void> {
    if (!d.run.rollingBack)
      await saveRun(d, { rollingBack: { reason, message, ...stop, ...(fired ? { tripwires: fired } : {}) } });
    const tripwiresFired = d.run.rollingBack?.tripwires;
    const targets: { phase: PlanPhase; step: PlanStep; receipt?: ReceiptRef }[] = [];
    if (
      failed &&
      failed.step.reversible &&
      failed.step.rollback &&
      !facts(d, failed.phase, failed.step, failed.step.params).readOnly
    )
      targets.push(failed);
    targets.push(...[...d.completed].reverse());
    const notRolledBack: string[] = [];
    const failures: string[] = [];
    for (const { phase, step, receipt: original } of targets) {
      const rb = step.rollback;
      const readOnly = facts(d, phase, step, step.params).readOnly;
      if (!rb || !step.reversible) {
        if (!readOnly) notRolledBack.push(step.id);
        continue;
      }
      const key = `${d.run.runId}/${phase.id}/${step.id}/rollback`;
      const j = await store.get<JournalEntry>(JOURNAL, key);
      if (j?.doc.state === 'done') {
        d.outcomes.push({
          phaseId: phase.id,
          stepId: step.id,
          action: rb.action,
          status: j.doc.status ?? 'failed',
          rollback: true,
          fromJournal: true,
          ...(j.doc.receipt ? { receipt: j.doc.receipt } : {}),
        });
        if (j.doc.status !== 'rolled-back') failures.push(step.id);
        continue;
      }
      const action = actions.get(rb.action);
      const f = { ...facts(d, phase, { ...step, action: rb.action }, rb.params) };
      const base = { stepId: step.id, phaseId: phase.id, action: rb.action, rollbackOf: step.id };
      const parents = original ? [original] : [];
      const decision = await decide(d, phase, rb.action, step.id, { rollback: true });
      const policyBody = {
        decision: decision.decision,
        reasons: decision.reasons.slice(0, 20),
        policySetHash: decision.policySetHash,
      };
      if (decision.decision !== 'allow' || !action) {
        const why = !action ? `unknown action ${rb.action}` : `policy denied: ${decision.reasons.join(', ')}`;
        const receipt = await record(
          d,
          { ...base, status: 'denied', policy: policyBody, reason: why },
          parents,
        );
        await journal(
          key,
          {
            runId: d.run.runId,
            phaseId: phase.id,
            stepId: step.id,
            kind: 'rollback',
            action: rb.action,
            state: 'done',
            status: 'denied',
            attempt: 1,
            startedAt: iso(),
            finishedAt: iso(),
            receipt,
            reason: why,
          },
          j?.version ?? 0,
        );
        d.outcomes.push({
          phaseId: phase.id,
          stepId: step.id,
          action: rb.action,
          status: 'denied',
          rollback: true,
          receipt,
        });
        failures.push(step.id);
        continue;
      }
      const attempt = (j?.doc.attempt ?? 0) + 1;
      const startedAt = iso();
      const v = await journal(
        key,
        {
          runId: d.run.runId,
          phaseId: phase.id,
          stepId: step.id,
          kind: 'rollback',
          action: rb.action,
          state: 'started',
          attempt,
          startedAt,
        },
        j?.version ?? 0,
      );
      emit({
        type: 'step-started',
        runId: d.run.runId,
        planId: d.run.planId,
        dryRun: d.run.dryRun,
        phaseId: phase.id,
        stepId: step.id,
        action: rb.action,
        rollback: true,
        at: iso(),
      });
      const interrupted = j?.doc.state === 'started' && !actionTrait(action, 'idempotent', rb.params);
      const res: ActionResult = interrupted
        ? {
            ok: false,
            output: {},
            error: 'rollback was interrupted by a crash and its action is not idempotent: check it by hand',
          }
        : d.run.dryRun && !action.dryRun
          ? { ok: true, output: { skipped: 'action has no dry-run' } }
          : await invoke(
              action,
              rb.params,
              rb.timeoutMs ?? opts.defaultStepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
              { dryRun: d.run.dryRun, facts: f, plan: d.stored.plan, principal: d.principal },
            );
      const status: StepStatus = res.ok ? 'rolled-back' : 'failed';
      count(COMPENSATIONS_COUNTER, d.run, { action: rb.action, status });
      const outputDigest = digestOf(res.output);
      const receipt = await record(
        d,
        {
          ...base,
          status,
          policy: policyBody,
          outputDigest,
          attempt,
          ...(res.exitCode !== undefined ? { exitCode: res.exitCode } : {}),
          ...(res.error ? { error: oneLine(res.error) } : {}),
        },
        parents,
      );
      await journal(
        key,
        {
          runId: d.run.runId,
          phaseId: phase.id,
          stepId: step.id,
          kind: 'rollback',
          action: rb.action,
          state: 'done',
          status,
          attempt,
          startedAt,
          finishedAt: iso(),
          receipt,
          outputDigest,
          output: boundedOutput(res.output),
          ...(res.error ? { error: oneLine(res.error) } : {}),
          ...(res.exitCode !== undefined ? { exitCode: res.exitCode } : {}),
        },
        v,
      );
      d.outcomes.push({
        phaseId: phase.id,
        stepId: step.id,
        action: rb.action,
        status,
        rollback: true,
        receipt,
        ...(res.error ? { error: res.error } : {}),
      });
      emit({
        type: 'step-finished',
        runId: d.run.runId,
        planId: d.run.planId,
        dryRun: d.run.dryRun,
        phaseId: phase.id,
        stepId: step.id,
        action: rb.action,
        rollback: true,
        status,
        ...(res.error ? { error: res.error } : {}),
        at: iso(),
      });
      if (!res.ok) failures.push(step.id);
    }
    await hold(d, {
      reason,
      message,
      ...stop,
      resumable: false,
      rolledBack: true,
      ...(notRolledBack.length ? { notRolledBack } : {}),
      ...(failures.length ? { rollbackFailures: failures } : {}),
      ...(tripwiresFired ? { tripwires: tripwiresFired } : {}),
    });
  }

  /** Gates in front of a live phase: approvals (phase.gate.approval or plan gates of kind approval) and checks. */
  async function passGates(d: Drive, phase: PlanPhase): Promise<boolean> {
    const plan = d.stored.plan;
    const gates = plan.gates.filter((g) => g.phaseId === phase.id);
    const needApproval = phase.gate?.approval === true || gates.some((g) => g.kind === 'approval');
    if (d.run.dryRun || (!needApproval && gates.length === 0)) return true;
    const key = `${d.run.runId}/${phase.id}/@gate`;
    const j = await store.get<JournalEntry>(JOURNAL, key);
    if (j?.doc.state === 'done' && j.doc.status === 'succeeded') return true;
    for (const g of gates.filter((x) => x.kind !== 'approval')) {
      let verdict: { pass: boolean; reason: string };
      try {
        verdict = opts.gates
          ? await opts.gates.check(g, {
              planId: plan.id,
              planHash: d.run.planHash,
              runId: d.run.runId,
              tenant: plan.target.tenant,
              environment: plan.target.environment,
            })
          : { pass: false, reason: `no gate check is configured for ${g.kind} gates` };
      } catch (e) {
        verdict = { pass: false, reason: `gate check failed: ${oneLine((e as Error).message)}` };
      }
      if (!verdict.pass) {
        await hold(d, {
          reason: 'gate-failed',
          message: `gate ${g.id} (${g.kind}) did not pass: ${verdict.reason}`,
          phaseId: phase.id,
          resumable: true,
          rolledBack: false,
        });
        return false;
      }
    }
    let approvalId: string | undefined = d.run.phaseApprovals[phase.id];
    if (needApproval && !approvalId) {
      const at = now();
      const f = await findApproval(store, d.approvals, { planHash: d.run.planHash, phaseId: phase.id }, at);
      try {
        if (!f.found)
          throw new ControlError('APPROVAL_INVALID', f.rejected.join('; ') || 'no approval token presented');
        approvalId = (await consumeApproval(store, f.found, d.run.runId, at)).id;
      } catch (e) {
        if (!(e instanceof ControlError && e.code === 'APPROVAL_INVALID')) throw e;
        await hold(d, {
          reason: 'approval-required',
          message: `phase ${phase.id} needs an approval bound to plan hash ${d.run.planHash} and this phase (${e.message})`,
          phaseId: phase.id,
          resumable: true,
          rolledBack: false,
        });
        return false;
      }
      await saveRun(d, { phaseApprovals: { ...d.run.phaseApprovals, [phase.id]: approvalId } });
    }
    await journal(
      key,
      {
        runId: d.run.runId,
        phaseId: phase.id,
        stepId: '@gate',
        kind: 'gate',
        action: 'gate',
        state: 'done',
        status: 'succeeded',
        attempt: (j?.doc.attempt ?? 0) + 1,
        startedAt: iso(),
        finishedAt: iso(),
        ...(approvalId ? { approvalId } : {}),
      },
      j?.version ?? 0,
    );
    return true;
  }

  /** One step; false when the run stopped (held) at it. */
  async function runStep(d: Drive, phase: PlanPhase, step: PlanStep): Promise<boolean> {
    const { run } = d;
    const key = `${run.runId}/${phase.id}/${step.id}`;
    const j = await store.get<JournalEntry>(JOURNAL, key);
    const prev = j ? { version: j.version, attempt: j.doc.attempt } : undefined;
    if (
      j?.doc.state === 'done' &&
      (j.doc.status === 'succeeded' || j.doc.status === 'skipped' || j.doc.status === 'unverifiable')
    ) {
      d.outcomes.push({
        phaseId: phase.id,
        stepId: step.id,
        action: step.action,
        status: j.doc.status,
        fromJournal: true,
        ...(j.doc.receipt ? { receipt: j.doc.receipt } : {}),
      });
      if (j.doc.status === 'succeeded' && j.doc.receipt)
        d.completed.push({ phase, step, receipt: j.doc.receipt });
      return true;
    }
    const action = actions.get(step.action);
    if (!action) throw new ControlError('PLAN_INVALID', `unknown action "${step.action}" in step ${step.id}`);
    const f = facts(d, phase, step, step.params);
    d.position = { phaseId: phase.id, stepId: step.id };
    const stoppedBefore = d.analysis?.stopped;
    if (stoppedBefore) {
      await tripStop(
        d,
        d.position,
        firedOf(stoppedBefore),
        `continuous analysis stopped the run before step ${step.id}: ${stoppedBefore.reason}`,
        { phase, step, prev, body: {} },
      );
      return false;
    }
    // An earlier attempt's process group (a crash left the step 'started'): it may still be running.
    const orphan = j?.doc.state === 'started' ? j.doc.process : undefined;
    const orphanRunning = orphan ? stepProcessRunning(orphan) : false;
    if (j?.doc.state === 'started' && !actionTrait(action, 'idempotent', step.params) && !d.rerunStarted) {
      const still =
        orphan && orphanRunning !== false
          ? orphanRunning
            ? `; its process group ${orphan.pgid} (${orphan.command.join(' ').slice(0, 200)}) is still running: wait for it, cancel (which stops it), or resume with rerunStarted (which stops it and runs the step again)`
            : `; its process group ${orphan.pgid} ran on host ${orphan.host}: check it there`
          : '';
      const message = `step ${step.id} (${step.action}) was started before the executor stopped and did not finish; its action is not idempotent, so it is not run again: check its effect, then resume with rerunStarted, or cancel${still}`;
      await holdInterrupted(d, phase, step, prev, message);
      return false;
    }
    if (policy.policySetHash !== run.policySetHash) {
      const message = `the policy set changed during the run (was ${run.policySetHash}, now ${policy.policySetHash}): store the plan again and start a new run`;
      await recordStopped(d, phase, step, 'halted', prev, { reason: 'plan-stale' });
      await hold(d, {
        reason: 'plan-stale',
        message,
        phaseId: phase.id,
        stepId: step.id,
        resumable: false,
        rolledBack: false,
      });
      return false;
    }
    const decision = await decide(d, phase, step.action, step.id, { risk: f.risk, readOnly: f.readOnly });
    const policyBody = {
      decision: decision.decision,
      reasons: decision.reasons.slice(0, 20),
      policySetHash: decision.policySetHash,
    };
    if (decision.decision !== 'allow') {
      await recordStopped(d, phase, step, 'denied', prev, { policy: policyBody, reason: 'policy-denied' });
      await hold(d, {
        reason: 'policy-denied',
        message: `policy denied step ${step.id} (${step.action}): ${decision.reasons.join(', ') || 'no policy allows it'}`,
        phaseId: phase.id,
        stepId: step.id,
        resumable: true,
        rolledBack: false,
      });
      return false;
    }
    const gate = await autonomy.decide(f);
    const autonomyBody = { mode: gate.mode, tier: gate.tier, reason: oneLine(gate.reason, 200) };
    // Approvals guard live changes; a dry-run changes nothing, so it notes the need and goes on.
    let approval: Awaited<ReturnType<typeof findApproval>>['found'];
    let approvalId: string | undefined;
    if (gate.mode === 'approval-required' && !run.dryRun) {
      approvalId = run.phaseApprovals[phase.id];
      if (!approvalId) {
        const f2 = await findApproval(
          store,
          d.approvals,
          { planHash: run.planHash, phaseId: phase.id, stepId: step.id },
          now(),
        );
        approval = f2.found;
        if (!approval) {
          const why = f2.rejected.join('; ') || 'no approval token presented';
          await recordStopped(d, phase, step, 'denied', prev, {
            policy: policyBody,
            autonomy: autonomyBody,
            reason: 'approval-required',
          });
          await hold(d, {
            reason: 'approval-required',
            message: `step ${step.id} needs an approval bound to plan hash ${run.planHash} and step ${step.id} or phase ${phase.id} (tier ${gate.tier}: ${gate.reason}; ${why})`,
            phaseId: phase.id,
            stepId: step.id,
            resumable: true,
            rolledBack: false,
          });
          return false;
        }
      }
    }
    let fired: readonly FiredTripwire[];
    try {
      fired = await tripwires.check(f);
    } catch (e) {
      fired = [
        {
          id: 'tripwire-check',
          action: 'halt',
          reason: `tripwire check failed: ${oneLine((e as Error).message)}`,
          evidence: {},
        },
      ];
    }
    if (fired.length > 0) {
      const message = `tripwire${fired.length > 1 ? 's' : ''} ${fired.map((t) => `${t.id} (${t.action}: ${t.reason})`).join(', ')} fired before step ${step.id}`;
      await tripStop(d, d.position, fired, message, {
        phase,
        step,
        prev,
        body: { policy: policyBody, autonomy: autonomyBody },
      });
      return false;
    }
    if (approval) {
      try {
        const used = await consumeApproval(store, approval, run.runId, now());
        approvalId = used.id;
        if (used.scope.stepId === undefined)
          await saveRun(d, { phaseApprovals: { ...d.run.phaseApprovals, [phase.id]: used.id } });
      } catch (e) {
        if (!(e instanceof ControlError && e.code === 'APPROVAL_INVALID')) throw e;
        await recordStopped(d, phase, step, 'denied', prev, {
          policy: policyBody,
          autonomy: autonomyBody,
          reason: 'approval-required',
        });
        await hold(d, {
          reason: 'approval-required',
          message: e.message,
          phaseId: phase.id,
          stepId: step.id,
          resumable: true,
          rolledBack: false,
        });
        return false;
      }
    }

    // Never two runs of a step at once: an earlier attempt's group still running is stopped before this one starts.
    let fenced: string | undefined;
    if (orphan && orphanRunning !== false) {
      const f2 = orphanRunning
        ? await fenceStepProcess(orphan)
        : {
            wasRunning: true,
            stopped: d.rerunStarted,
            detail: `process group ${orphan.pgid} ran on host ${orphan.host}`,
          };
      if (!f2.stopped) {
        const message = `step ${step.id} (${step.action}) cannot run again yet: ${f2.detail}; stop it, then resume${orphanRunning ? '' : ' with rerunStarted'}, or cancel`;
        await holdInterrupted(d, phase, step, prev, message);
        return false;
      }
      if (f2.wasRunning) fenced = oneLine(f2.detail);
    }
    const attempt = (prev?.attempt ?? 0) + 1;
    // A step the process died in keeps its first start, so a timer (wait, bake) counts from there on resume.
    const firstStartedAt = j?.doc.state === 'started' ? Date.parse(j.doc.startedAt) : undefined;
    const startedAt = iso();
    const startedEntry: JournalEntry = {
      runId: run.runId,
      phaseId: phase.id,
      stepId: step.id,
      kind: 'step',
      action: step.action,
      state: 'started',
      attempt,
      startedAt,
      ...(approvalId ? { approvalId } : {}),
      ...(fenced ? { fenced } : {}),
    };
    let v = await journal(key, startedEntry, prev?.version ?? 0);
    // Each process group the step starts is journaled before the step goes on (see process-fence.ts).
    let processWrites: Promise<void> = Promise.resolve();
    const onProcess = (p: StepProcess): Promise<void> =>
      (processWrites = processWrites.then(async () => {
        v = await journal(key, { ...startedEntry, process: p }, v);
      }));
    emit({
      type: 'step-started',
      runId: run.runId,
      planId: run.planId,
      dryRun: run.dryRun,
      phaseId: phase.id,
      stepId: step.id,
      action: step.action,
      rollback: false,
      at: iso(),
    });
    const began = now();
    const skipped = run.dryRun && !action.dryRun;
    // In a dry-run, the plan's earlier writes (none applied): told to the action, and the test for `unverifiable`.
    const writes = run.dryRun ? earlierWrites(d, phase, step) : [];
    const once = () =>
      invoke(action, step.params, step.timeoutMs ?? opts.defaultStepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS, {
        dryRun: run.dryRun,
        facts: f,
        plan: d.stored.plan,
        principal: d.principal,
        ...(run.dryRun
          ? {
              unappliedWrites: writes.map((w) => w.id),
              unappliedSteps: writes.map((w) => ({ id: w.id, action: w.action, params: w.params })),
            }
          : {}),
        ...(firstStartedAt !== undefined && Number.isFinite(firstStartedAt) ? { firstStartedAt } : {}),
        // A read or a wait ends at once when analysis stops the run; a write finishes (then rolls back).
        ...(f.readOnly ? { stop: d.analysisStop.signal } : {}),
        ...(run.dryRun ? {} : { onProcess }),
      });
    let tries = 1;
    let res: ActionResult = skipped
      ? { ok: true, output: { skipped: `action ${step.action} has no dry-run` } }
      : await once();
    // Retries (idempotent steps only, checked when the plan was stored), with exponential backoff. A crash during
    // the backoff resumes the step as a whole, which an idempotent step allows.
    while (!skipped && !res.ok && step.retry && tries < step.retry.attempts && !d.analysis?.stopped) {
      await new Promise((r) => setTimeout(r, Math.min(step.retry!.backoffMs * 2 ** (tries - 1), 600_000)));
      tries++;
      res = await once();
    }
    await processWrites.catch(() => undefined);
    const stoppedDuring = d.analysis?.stopped;
    if (stoppedDuring && f.readOnly && !res.ok) {
      await tripStop(
        d,
        d.position,
        firedOf(stoppedDuring),
        `continuous analysis stopped the run during step ${step.id}: ${stoppedDuring.reason}`,
        {
          phase,
          step,
          prev: { version: v, attempt: attempt - 1 },
          body: { policy: policyBody, autonomy: autonomyBody },
        },
      );
      return false;
    }
    let status: StepStatus = skipped ? 'skipped' : res.ok ? 'succeeded' : 'failed';
    // A dry-run applies no write, so a read after this plan's own writes may look for what they would create.
    let unverifiable: string | undefined;
    // A dry-run that could not check part of what it would do says so itself (a k8s.apply into a planned namespace).
    if (status === 'succeeded' && run.dryRun && res.unverifiable) {
      status = 'unverifiable';
      unverifiable = oneLine(res.unverifiable);
    }
    if (status === 'failed' && run.dryRun && f.readOnly) {
      if (writes.length > 0) {
        status = 'unverifiable';
        unverifiable = oneLine(
          `not checkable in a dry-run: it reads what earlier writes of this plan (${writes.map((w) => w.id).join(', ')}) would create, and a dry-run applies none; the live run checks it`,
        );
      }
    } else if (status === 'failed' && run.dryRun) {
      // A rollout or scale of a Deployment that an earlier k8s.apply of this plan creates: the server-side dry-run
      // of that apply persisted nothing, so the Deployment is not there to change yet.
      const creator = deploymentCreator(d, phase, step);
      if (creator) {
        status = 'unverifiable';
        unverifiable = oneLine(
          `not checkable in a dry-run: ${creator.what} is created by step ${creator.stepId} (k8s.apply), which a dry-run does not persist; the live run checks it`,
        );
      }
    }
    if (!skipped) count(STEPS_COUNTER, run, { action: step.action, status });
    if (status === 'failed') count(STEP_ERRORS_COUNTER, run, { action: step.action });
    const outputDigest = digestOf(res.output);
    const receipt = await record(d, {
      stepId: step.id,
      phaseId: phase.id,
      action: step.action,
      status,
      risk: f.risk,
      policy: policyBody,
      autonomy: autonomyBody,
      ...(gate.mode === 'approval-required' && run.dryRun ? { approvalRequired: true } : {}),
      ...(approvalId ? { approvalId } : {}),
      ...(unverifiable ? { reason: unverifiable } : {}),
      ...(tries > 1 ? { tries } : {}),
      ...(fenced ? { fenced } : {}),
      outputDigest,
      ...(res.exitCode !== undefined ? { exitCode: res.exitCode } : {}),
      ...(res.error ? { error: oneLine(res.error) } : {}),
      durationMs: now() - began,
      attempt,
    });
    await journal(
      key,
      {
        runId: run.runId,
        phaseId: phase.id,
        stepId: step.id,
        kind: 'step',
        action: step.action,
        state: 'done',
        status,
        attempt,
        startedAt,
        finishedAt: iso(),
        receipt,
        outputDigest,
        output: boundedOutput(res.output),
        ...(approvalId ? { approvalId } : {}),
        ...(unverifiable ? { reason: unverifiable } : {}),
        ...(res.summary ? { summary: oneLine(res.summary, 2000) } : {}),
        ...(fenced ? { fenced } : {}),
        ...(res.error ? { error: oneLine(res.error) } : {}),
        ...(res.exitCode !== undefined ? { exitCode: res.exitCode } : {}),
      },
      v,
    );
    d.outcomes.push({
      phaseId: phase.id,
      stepId: step.id,
      action: step.action,
      status,
      receipt,
      ...(res.error ? { error: res.error } : {}),
    });
    emit({
      type: 'step-finished',
      runId: run.runId,
      planId: run.planId,
      dryRun: run.dryRun,
      phaseId: phase.id,
      stepId: step.id,
      action: step.action,
      rollback: false,
      status,
      ...(res.error ? { error: res.error } : {}),
      ...(unverifiable ? { reason: unverifiable } : {}),
      ...(res.summary ? { summary: oneLine(res.summary, 2000) } : {}),
      at: iso(),
    });
    if (status === 'failed') {
      await rollback(
        d,
        'step-failed',
        `step ${step.id} (${step.action}) failed: ${oneLine(res.error ?? 'failed')}`,
        { phase, step },
        { phaseId: phase.id, stepId: step.id },
      );
      return false;
    }
    if (status === 'succeeded') d.completed.push({ phase, step, receipt });
    const stoppedAfter = d.analysis?.stopped;
    if (stoppedAfter) {
      await tripStop(
        d,
        d.position,
        firedOf(stoppedAfter),
        `continuous analysis stopped the run during step ${step.id}: ${stoppedAfter.reason}`,
      );
      return false;
    }
    return true;
  }

  /** The earlier k8s.apply step of this plan that creates the Deployment a k8s.rollout/k8s.scale step changes. */
  function deploymentCreator(
    d: Drive,
    phase: PlanPhase,
    step: PlanStep,
  ): { stepId: string; what: string } | undefined {
    if (step.action !== 'k8s.rollout' && step.action !== 'k8s.scale') return undefined;
    const name = step.params.deployment;
    const ns = (step.params.namespace as string | undefined) ?? d.stored.plan.target.namespace;
    if (typeof name !== 'string') return undefined;
    for (const ph of d.stored.plan.phases)
      for (const s of ph.steps) {
        if (ph.id === phase.id && s.id === step.id) return undefined;
        if (s.action !== 'k8s.apply' || !Array.isArray(s.params.manifests)) continue;
        for (const m of s.params.manifests as {
          kind?: unknown;
          metadata?: { name?: unknown; namespace?: unknown };
        }[])
          if (
            m?.kind === 'Deployment' &&
            m.metadata?.name === name &&
            (m.metadata.namespace === undefined || m.metadata.namespace === ns)
          )
            return { stepId: s.id, what: `Deployment ${name}` };
      }
    return undefined;
  }

  /**
   * Ids of the plan's steps before `step` (in plan order: a phase dry-run alone did not apply its predecessors
   * either) whose action writes, by the governed facts, not the declarations.
   */
  function earlierWrites(d: Drive, phase: PlanPhase, step: PlanStep): PlanStep[] {
    const out: PlanStep[] = [];
    for (const ph of d.stored.plan.phases) {
      for (const s of ph.steps) {
        if (ph.id === phase.id && s.id === step.id) return out;
        if (governStep(actions.get(s.action), s, s.params).effect === 'write') out.push(s);
      }
    }
    return out;
  }

  /** Drives the run's phases from the journal's point on, then finishes it. */
  async function drive(d: Drive, resumed: boolean): Promise<RunResult> {
    emit({
      type: 'run-started',
      runId: d.run.runId,
      planId: d.run.planId,
      dryRun: d.run.dryRun,
      phases: d.run.phases,
      resumed,
      at: iso(),
    });
    let stopped = false;
    try {
      stopped = await driveSteps(d);
      if (!stopped && d.analysis) stopped = !(await bake(d));
      await endAnalysis(d);
    } finally {
      await d.analysis?.end();
    }
    if (!stopped) {
      await saveRun(d, { state: 'succeeded', hold: undefined, finishedAt: iso() });
      await setPlanState(d.run.planId, d.run.runId, 'succeeded', false);
    }
    emit({
      type: 'run-finished',
      runId: d.run.runId,
      planId: d.run.planId,
      dryRun: d.run.dryRun,
      state: d.run.state,
      ...(d.run.hold ? { hold: d.run.hold } : {}),
      at: iso(),
    });
    return {
      runId: d.run.runId,
      planId: d.run.planId,
      planHash: d.run.planHash,
      dryRun: d.run.dryRun,
      state: d.run.state,
      ...(d.run.hold ? { hold: d.run.hold } : {}),
      steps: d.outcomes,
    };
  }

  /** The run's phases from the journal's point on (or the rollback a crash interrupted); true when it stopped. */
  async function driveSteps(d: Drive): Promise<boolean> {
    const plan = d.stored.plan;
    let stopped = false;
    if (d.run.rollingBack) {
      // Crashed while compensating: rebuild what had completed, then finish the rollback.
      const rb = d.run.rollingBack;
      for (const phaseId of d.run.phases) {
        const phase = plan.phases.find((p) => p.id === phaseId)!;
        for (const step of phase.steps) {
          const j = await store.get<JournalEntry>(JOURNAL, `${d.run.runId}/${phase.id}/${step.id}`);
          if (j?.doc.state === 'done' && j.doc.status === 'succeeded' && j.doc.receipt)
            d.completed.push({ phase, step, receipt: j.doc.receipt });
        }
      }
      const failedPhase = plan.phases.find((p) => p.id === rb.phaseId);
      const failedStep = failedPhase?.steps.find((s) => s.id === rb.stepId);
      const failed =
        rb.reason === 'step-failed' && failedPhase && failedStep
          ? { phase: failedPhase, step: failedStep }
          : undefined;
      await rollback(d, rb.reason, rb.message, failed, {
        phaseId: rb.phaseId,
        ...(rb.stepId ? { stepId: rb.stepId } : {}),
      });
      stopped = true;
    } else {
      startAnalysis(d);
      outer: for (const phaseId of d.run.phases) {
        const phase = plan.phases.find((p) => p.id === phaseId)!;
        if (!(await passGates(d, phase))) {
          stopped = true;
          break;
        }
        for (const step of phase.steps) {
          if (!(await runStep(d, phase, step))) {
            stopped = true;
            break outer;
          }
        }
        if (d.run.dryRun)
          await store.put(DRY_RUNS, `${d.run.planHash}/${phase.id}`, {
            runId: d.run.runId,
            planId: d.run.planId,
            phaseId: phase.id,
            at: iso(),
            receipt: d.run.lastReceipt ?? null,
          });
      }
    }
    return stopped;
  }

  /** Stops every process group that steps of the run left running (journal 'started' with a process). */
  async function fenceRunProcesses(plan: Plan, r: RunRecord): Promise<string[]> {
    const out: string[] = [];
    for (const phaseId of r.phases)
      for (const step of plan.phases.find((p) => p.id === phaseId)?.steps ?? []) {
        const j = await store.get<JournalEntry>(JOURNAL, `${r.runId}/${phaseId}/${step.id}`);
        if (j?.doc.state !== 'started' || !j.doc.process) continue;
        const f = await fenceStepProcess(j.doc.process);
        if (f.wasRunning) out.push(oneLine(`${phaseId}/${step.id}: ${f.detail}`));
      }
    return out;
  }

  /** Claims the plan for a run: no other run may be running or on a resumable hold. */
  async function claimPlan(planId: string, runId: string): Promise<void> {
    const cur = await store.get<PlanStateDoc>(PLAN_STATE, planId);
    if (cur && cur.doc.runId !== runId && isRunActive(cur.doc))
      throw new ControlError(
        'CONFLICT',
        `plan ${planId} is held by run ${cur.doc.runId} (${cur.doc.state}): resume or cancel it first`,
        { runId: cur.doc.runId },
      );
    await store.put<PlanStateDoc>(
      PLAN_STATE,
      planId,
      { planId, runId, state: 'running', resumable: false, updatedAt: iso() },
      { expectedVersion: cur?.version ?? 0 },
    );
  }

  return {
    storePlan(plan, principal, o) {
      return storePlan({ store, receipts, policy, now }, plan, principal, (p) => assertActions(p), o);
    },

    getPlan(planId) {
      return loadPlan(store, planId);
    },

    async run(req) {
      if (typeof req.dryRun !== 'boolean')
        throw new ControlError('INVALID_ARGUMENT', 'dryRun must be true or false');
      const planId = typeof req.plan === 'string' ? req.plan : req.plan.id;
      const runId = req.runId ?? newRunId();
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(runId))
        throw new ControlError('INVALID_ARGUMENT', 'runId must be 1-128 of A-Z a-z 0-9 _ . : -');
      await authorizeStart((await loadPlan(store, planId)).plan, req.principal, {
        planHash: req.planHash,
        runId,
        what: 'starting a run of',
      });
      const stored = await loadFreshPlan(store, policy, planId, req.planHash);
      if (typeof req.plan !== 'string' && canonicalize(req.plan) !== canonicalize(stored.plan))
        throw new ControlError(
          'PLAN_STALE',
          `the plan given differs from stored plan ${planId}: store it first`,
          { planId },
        );
      const plan = stored.plan;
      if (!req.dryRun) await assertGo(plan, req.planHash);
      const phases = req.phaseId
        ? [plan.phases.find((p) => p.id === req.phaseId)?.id]
        : plan.phases.map((p) => p.id);
      if (phases[0] === undefined)
        throw new ControlError('NOT_FOUND', `plan ${planId} has no phase "${req.phaseId}"`);
      const phaseIds = phases as string[];
      assertActions(plan, phaseIds);
      if (!req.dryRun) {
        const missing: string[] = [];
        for (const p of phaseIds) if (!(await store.get(DRY_RUNS, `${req.planHash}/${p}`))) missing.push(p);
        if (missing.length)
          throw new ControlError(
            'DRY_RUN_REQUIRED',
            `phase${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of plan ${planId} need a successful dry-run under plan hash ${req.planHash} before a live run`,
            { missing },
          );
      }
      if (await store.get(RUNS, runId))
        throw new ControlError('CONFLICT', `run ${runId} exists: resume it instead`, { runId });
      const failed = await checkPreconditions(plan, req.principal, runId, {
        dryRun: req.dryRun,
        planHash: req.planHash,
        ...(req.purpose !== undefined ? { purpose: req.purpose } : {}),
        ...(req.residency !== undefined ? { residency: req.residency } : {}),
      });
      if (failed.length)
        throw new ControlError(
          'PRECONDITION_FAILED',
          `preconditions of plan ${planId} do not hold: ${failed.map((f) => `${f.id}: ${f.reason}`).join('; ')}`,
          { failed },
        );
      await claimPlan(planId, runId);
      const at = iso();
      const record: RunRecord = {
        runId,
        planId,
        planHash: req.planHash,
        policySetHash: policy.policySetHash,
        tenant: plan.target.tenant,
        phases: phaseIds,
        dryRun: req.dryRun,
        startedBy: req.principal.id,
        principal: req.principal,
        ...(req.purpose !== undefined ? { purpose: req.purpose } : {}),
        ...(req.residency !== undefined ? { residency: req.residency } : {}),
        state: 'running',
        owner: newId(),
        phaseApprovals: {},
        startedAt: at,
        updatedAt: at,
      };
      const created = await store.put(RUNS, runId, record, { expectedVersion: 0 });
      return drive(
        {
          run: created.doc,
          version: created.version,
          stored,
          principal: req.principal,
          approvals: req.approvals ?? [],
          rerunStarted: false,
          outcomes: [],
          completed: [],
          position: { phaseId: phaseIds[0]!, stepId: '@start' },
          analysisStop: new AbortController(),
        },
        false,
      );
    },

    async resume(runId, req) {
      const cur = await store.get<RunRecord>(RUNS, runId);
      if (!cur) throw new ControlError('NOT_FOUND', `no run "${runId}"`);
      const r = cur.doc;
      if (!(r.state === 'running' || (r.state === 'hold' && r.hold?.resumable)))
        throw new ControlError(
          'CONFLICT',
          `run ${runId} is ${r.state}${r.hold ? ` (${r.hold.reason})` : ''} and cannot be resumed`,
          { state: r.state },
        );
      const planOfRun = await loadPlan(store, r.planId);
      // The tenant's policy decides before the run is taken over (its principal is rewritten below).
      await authorizeStart(planOfRun.plan, req.principal, {
        planHash: r.planHash,
        runId,
        what: 'resuming a run of',
      });
      if (!r.dryRun) await assertGo(planOfRun.plan, r.planHash);
      const d: Drive = {
        run: r,
        version: cur.version,
        stored: planOfRun,
        principal: req.principal,
        approvals: req.approvals ?? [],
        rerunStarted: req.rerunStarted === true,
        outcomes: [],
        completed: [],
        position: { phaseId: r.phases[0]!, stepId: '@start' },
        analysisStop: new AbortController(),
      };
      // Take the run over first: an executor still driving it loses its next compare-and-swap.
      await saveRun(d, {
        owner: newId(),
        state: 'running',
        hold: undefined,
        principal: req.principal,
        finishedAt: undefined,
      });
      await setPlanState(r.planId, runId, 'running', false);
      try {
        d.stored = await loadFreshPlan(store, policy, r.planId, r.planHash);
      } catch (e) {
        if (!(e instanceof ControlError && e.code === 'PLAN_STALE')) throw e;
        await hold(d, { reason: 'plan-stale', message: e.message, resumable: false, rolledBack: false });
        throw e;
      }
      return drive(d, true);
    },

    async cancel(runId, req) {
      const cur = await store.get<RunRecord>(RUNS, runId);
      if (!cur) throw new ControlError('NOT_FOUND', `no run "${runId}"`);
      const r = cur.doc;
      if (r.state === 'succeeded' || r.state === 'cancelled')
        throw new ControlError('CONFLICT', `run ${runId} is ${r.state}`, { state: r.state });
      const stored = await loadPlan(store, r.planId);
      const decision = await policy.decide({
        principal: req.principal,
        action: 'cancel',
        resource: planResource(stored.plan),
        context: { time: iso(), runId },
      });
      if (decision.decision !== 'allow')
        throw new ControlError(
          'POLICY_DENIED',
          `policy denied ${req.principal.id} cancelling run ${runId}: ${decision.reasons.join(', ') || 'no policy allows it'}`,
          { decision },
        );
      const d: Drive = {
        run: r,
        version: cur.version,
        stored,
        principal: req.principal,
        approvals: [],
        rerunStarted: false,
        outcomes: [],
        completed: [],
        position: { phaseId: r.phases[0]!, stepId: '@cancel' },
        analysisStop: new AbortController(),
      };
      await saveRun(d, { owner: newId() });
      // A step a crash left running is stopped first: a cancelled run leaves nothing of itself running.
      const stopped = await fenceRunProcesses(stored.plan, r);
      if (req.rollback && !r.hold?.rolledBack) {
        for (const phaseId of r.phases) {
          const phase = stored.plan.phases.find((p) => p.id === phaseId);
          for (const step of phase?.steps ?? []) {
            const j = await store.get<JournalEntry>(JOURNAL, `${runId}/${phaseId}/${step.id}`);
            if (phase && j?.doc.state === 'done' && j.doc.status === 'succeeded' && j.doc.receipt)
              d.completed.push({ phase, step, receipt: j.doc.receipt });
          }
        }
        await rollback(d, r.hold?.reason ?? 'step-failed', `cancelled by ${req.principal.id}`, undefined, {
          phaseId: r.hold?.phaseId ?? r.phases[0]!,
          ...(r.hold?.stepId ? { stepId: r.hold.stepId } : {}),
        });
      }
      const receipt = await receipts.append({
        kind: 'decision',
        actor: req.principal.id,
        tenant: r.tenant,
        body: {
          title: 'run cancelled',
          status: 'accepted',
          tags: ['run', 'cancel'],
          planId: r.planId,
          runId,
          planHash: r.planHash,
          rolledBack: d.run.hold?.rolledBack === true,
          ...(stopped.length ? { stoppedProcesses: stopped } : {}),
          ...(req.reason ? { rationale: req.reason.slice(0, 10_000) } : {}),
        },
        parents: [stored.receipt, ...(d.run.lastReceipt ? [d.run.lastReceipt] : [])],
      });
      await saveRun(d, {
        state: 'cancelled',
        lastReceipt: { index: receipt.index, leafHash: receipt.leafHash },
        finishedAt: iso(),
      });
      await setPlanState(r.planId, runId, 'cancelled', false);
      emit({
        type: 'run-finished',
        runId,
        planId: r.planId,
        dryRun: r.dryRun,
        state: 'cancelled',
        ...(d.run.hold ? { hold: d.run.hold } : {}),
        at: iso(),
      });
      return {
        runId,
        planId: r.planId,
        planHash: r.planHash,
        dryRun: r.dryRun,
        state: 'cancelled',
        ...(d.run.hold ? { hold: d.run.hold } : {}),
        steps: d.outcomes,
      };
    },

    async getRun(runId) {
      const r = await store.get<RunRecord>(RUNS, runId);
      if (!r) return undefined;
      const journalDocs = await store.list<JournalEntry>(JOURNAL, { prefix: `${runId}/` });
      return { run: r.doc, journal: journalDocs.map((x) => x.doc) };
    },

    async listRuns(planId) {
      const all = await store.list<RunRecord>(RUNS);
      return all.map((x) => x.doc).filter((r) => planId === undefined || r.planId === planId);
    },
  };
}
