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
//
// The parts (this folder): types.ts (records, events, options), run-base.ts (ports, clock and the one
// journal-and-receipt helper), rollback.ts, stops.ts, bake.ts, gates.ts, step.ts, run-loop.ts, and this file, the
// public API over them.
import { canonicalize } from '@vaultmesh/ledger';
import { ControlError } from '../errors.ts';
import { loadFreshPlan, loadPlan, planResource, storePlan } from '../plan-store.ts';
import { createBake } from './bake.ts';
import { createGates } from './gates.ts';
import { createRunBase } from './run-base.ts';
import { createRollback } from './rollback.ts';
import { createRunLoop } from './run-loop.ts';
import { createStepRunner } from './step.ts';
import { createStops } from './stops.ts';
import {
  type Drive,
  DRY_RUNS,
  type Executor,
  type ExecutorOptions,
  JOURNAL,
  type JournalEntry,
  type RunRecord,
  RUNS,
} from './types.ts';

export {
  DEFAULT_PRECONDITION_TIMEOUT_MS,
  DEFAULT_STEP_TIMEOUT_MS,
  DRY_RUNS,
  JOURNAL,
  MAX_JOURNAL_OUTPUT_BYTES,
  PLAN_STATE,
  RUNS,
} from './types.ts';
export type {
  Executor,
  ExecutorOptions,
  HoldReason,
  JournalEntry,
  ResumeRequest,
  RunEvent,
  RunHold,
  RunRecord,
  RunRequest,
  RunResult,
  RunState,
  StepOutcome,
  StepStatus,
} from './types.ts';
export { checkPlanActions } from './plan-checks.ts';

/** Creates an executor over the given ports. */
export function createExecutor(opts: ExecutorOptions): Executor {
  const base = createRunBase(opts);
  const rollbacks = createRollback(base);
  const stopping = createStops(base, rollbacks);
  const baking = createBake(base, stopping);
  const gating = createGates(base);
  const stepping = createStepRunner(base, rollbacks, stopping);
  const looping = createRunLoop(base, rollbacks, baking, gating, stepping);
  const {
    assertActions,
    emit,
    hold,
    iso,
    newId,
    newRunId,
    now,
    policy,
    receipts,
    saveRun,
    setPlanState,
    store,
  } = base;
  const { rollback } = rollbacks;
  const { assertGo, authorizeStart, checkPreconditions, claimPlan, fenceRunProcesses } = gating;
  const { drive } = looping;
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
