// How a run stops: a stopped step recorded with its reason, an interrupted step held for a human, a tripwire that
// halts (rolls back) or pauses.
import type { FiredTripwire } from '@vaultmesh/types';
import type { PlanPhase, PlanStep } from '../plan.ts';
import { finiteEvidence } from '../run-analysis.ts';
import type { RunBase } from './run-base.ts';
import type { Rollback } from './rollback.ts';
import type { Drive, StepStatus } from './types.ts';
import { oneLine } from './util.ts';

/** How a run stops: stopped steps, interrupted-step holds, tripwire halts and pauses. */
export function createStops(base: RunBase, rollbacks: Rollback) {
  const { emit, hold, iso, record, recordDone } = base;
  const { rollback } = rollbacks;
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
    const receiptBody = { stepId: step.id, phaseId: phase.id, action: step.action, status, ...body };
    const key = `${d.run.runId}/${phase.id}/${step.id}`;
    const receipt = keepJournal
      ? await record(d, receiptBody)
      : await recordDone(
          d,
          key,
          {
            kind: 'step',
            phaseId: phase.id,
            stepId: step.id,
            action: step.action,
            status,
            attempt: (prev?.attempt ?? 0) + 1,
            startedAt: iso(),
          },
          receiptBody,
          typeof body.reason === 'string' ? { reason: body.reason } : {},
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

  return { recordStopped, holdInterrupted, tripStop };
}

/** What createStops returns. */
export type Stops = ReturnType<typeof createStops>;
