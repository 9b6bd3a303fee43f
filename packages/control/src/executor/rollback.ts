// Rollback: the completed steps of a run compensated in reverse order, each through policy and journaled, with
// what could not be undone named in the hold.
import type { FiredTripwire } from '@vaultmesh/types';
import { type ActionResult, actionTrait } from '../actions.ts';
import type { ReceiptRef } from '../plan-store.ts';
import type { PlanPhase, PlanStep } from '../plan.ts';
import { COMPENSATIONS_COUNTER } from '../tripwires.ts';
import type { RunBase } from './run-base.ts';
import {
  DEFAULT_STEP_TIMEOUT_MS,
  type Drive,
  type HoldReason,
  JOURNAL,
  type JournalEntry,
  type StepStatus,
} from './types.ts';
import { boundedOutput, digestOf, oneLine } from './util.ts';

/** Rollback of a run's completed steps (reverse order, each through policy, journaled and recorded). */
export function createRollback(base: RunBase) {
  const {
    actions,
    count,
    decide,
    emit,
    facts,
    hold,
    invoke,
    iso,
    journal,
    opts,
    recordDone,
    saveRun,
    store,
  } = base;
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
        const receipt = await recordDone(
          d,
          key,
          {
            kind: 'rollback',
            phaseId: phase.id,
            stepId: step.id,
            action: rb.action,
            status: 'denied',
            attempt: 1,
            startedAt: iso(),
          },
          { ...base, status: 'denied', policy: policyBody, reason: why },
          { reason: why },
          j?.version ?? 0,
          parents,
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
      const receipt = await recordDone(
        d,
        key,
        {
          kind: 'rollback',
          phaseId: phase.id,
          stepId: step.id,
          action: rb.action,
          status,
          attempt,
          startedAt,
        },
        {
          ...base,
          status,
          policy: policyBody,
          outputDigest,
          attempt,
          ...(res.exitCode !== undefined ? { exitCode: res.exitCode } : {}),
          ...(res.error ? { error: oneLine(res.error) } : {}),
        },
        {
          outputDigest,
          output: boundedOutput(res.output),
          ...(res.error ? { error: oneLine(res.error) } : {}),
          ...(res.exitCode !== undefined ? { exitCode: res.exitCode } : {}),
        },
        v,
        parents,
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

  return { rollback };
}

/** What createRollback returns. */
export type Rollback = ReturnType<typeof createRollback>;
