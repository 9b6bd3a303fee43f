// The executor's base: its ports and clock, and the one journal-and-receipt helper every part of a run goes
// through (run records and plan state by compare-and-swap, journal entries, step receipts, policy decisions, holds).
import type { FiredTripwire, PolicyDecision, Principal, StepFacts } from '@vaultmesh/types';
import { randomBytes } from 'node:crypto';
import { type Action, type ActionContext, type ActionResult, governStep } from '../actions.ts';
import type { AnalysisStop } from '../analysis.ts';
import { ControlError, isConflict } from '../errors.ts';
import { planResource, type ReceiptRef } from '../plan-store.ts';
import type { Plan, PlanPhase, PlanStep } from '../plan.ts';
import { locatePlanProblems } from '../schemas.ts';
import { checkPlanActions } from './plan-checks.ts';
import {
  type Drive,
  type ExecutorOptions,
  JOURNAL,
  type JournalEntry,
  PLAN_STATE,
  type RunEvent,
  type RunHold,
  type RunRecord,
  RUNS,
  type RunState,
  type StepStatus,
} from './types.ts';
import { oneLine, type PlanStateDoc } from './util.ts';

/** The base every part of a run is built on: the ports, the clock, events, and the journal-and-receipt helper. */
export function createRunBase(opts: ExecutorOptions) {
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
  async function hold(d: Drive, h: RunHold): Promise<void> {
    await saveRun(d, { state: 'hold', hold: h, rollingBack: undefined, finishedAt: iso() });
    await setPlanState(d.run.planId, d.run.runId, 'hold', h.resumable);
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
  /**
   * The one journal-and-receipt helper: a step or a rollback that has finished is recorded on the ledger first (its
   * receipt durable), then its journal entry says 'done' with that receipt (a compare-and-swap on `version`). A crash
   * between the two leaves the entry 'started' with the receipt already in the ledger, which a resume sees.
   */
  async function recordDone(
    d: Drive,
    key: string,
    done: {
      kind: 'step' | 'rollback';
      phaseId: string;
      stepId: string;
      action: string;
      status: StepStatus;
      attempt: number;
      startedAt: string;
    },
    receiptBody: Record<string, unknown>,
    journalExtra: Partial<JournalEntry>,
    version: number,
    parents: ReceiptRef[] = [],
  ): Promise<ReceiptRef> {
    const receipt = await record(d, receiptBody, parents);
    await journal(
      key,
      {
        runId: d.run.runId,
        phaseId: done.phaseId,
        stepId: done.stepId,
        kind: done.kind,
        action: done.action,
        state: 'done',
        status: done.status,
        attempt: done.attempt,
        startedAt: done.startedAt,
        finishedAt: iso(),
        receipt,
        ...journalExtra,
      },
      version,
    );
    return receipt;
  }

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

  return {
    now,
    iso,
    newId,
    newRunId,
    count,
    emit,
    assertActions,
    invoke,
    saveRun,
    setPlanState,
    facts,
    decide,
    record,
    recordDone,
    journal,
    hold,
    firedOf,
    recordAside,
    store,
    receipts,
    policy,
    autonomy,
    tripwires,
    actions,
    opts,
  };
}

/** What createRunBase returns. */
export type RunBase = ReturnType<typeof createRunBase>;
