// The run loop: drives a run's phases and steps in order, then bakes, and settles the run's final state.
import type { Bake } from './bake.ts';
import type { Gates } from './gates.ts';
import type { RunBase } from './run-base.ts';
import type { Rollback } from './rollback.ts';
import type { StepRunner } from './step.ts';
import { type Drive, DRY_RUNS, JOURNAL, type JournalEntry, type RunResult } from './types.ts';

/** The run loop over a run's phases and steps, its bake, and its final state. */
export function createRunLoop(
  base: RunBase,
  rollbacks: Rollback,
  baking: Bake,
  gating: Gates,
  stepping: StepRunner,
) {
  const { emit, iso, saveRun, setPlanState, store } = base;
  const { rollback } = rollbacks;
  const { bake, endAnalysis, startAnalysis } = baking;
  const { passGates } = gating;
  const { runStep } = stepping;
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

  return { drive, driveSteps };
}

/** What createRunLoop returns. */
export type RunLoop = ReturnType<typeof createRunLoop>;
