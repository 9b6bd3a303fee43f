// What must hold before and between phases: start authorization, go/no-go, preconditions, phase gates with
// approvals, one active run per plan, and fencing of processes a crashed attempt left behind.
import type { Principal, StepFacts } from '@vaultmesh/types';
import { consumeApproval, findApproval } from '../approvals.ts';
import { ControlError } from '../errors.ts';
import { assertAllowed, planResource } from '../plan-store.ts';
import type { Plan, PlanPhase } from '../plan.ts';
import { fenceStepProcess } from '../process-fence.ts';
import type { RunBase } from './run-base.ts';
import {
  DEFAULT_PRECONDITION_TIMEOUT_MS,
  type Drive,
  JOURNAL,
  type JournalEntry,
  PLAN_STATE,
  type RunRecord,
} from './types.ts';
import { isRunActive, oneLine, type PlanStateDoc } from './util.ts';

/** Checks before and between phases: authorization, go/no-go, preconditions, phase gates, plan claims, fencing. */
export function createGates(base: RunBase) {
  const { actions, hold, invoke, iso, journal, now, opts, policy, saveRun, store } = base;
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

  return { authorizeStart, assertGo, checkPreconditions, passGates, fenceRunProcesses, claimPlan };
}

/** What createGates returns. */
export type Gates = ReturnType<typeof createGates>;
