// Continuous analysis while a live run runs, and the bake after its last step (analysis.ts does the measuring).
import type { StepFacts } from '@vaultmesh/types';
import { sleepUnless } from '../actions.ts';
import { DEFAULT_ANALYSIS_SETTINGS, tightenAnalysis } from '../analysis.ts';
import { ControlError } from '../errors.ts';
import { BAKE_STEP_ID, startRunAnalysis, summaryBody } from '../run-analysis.ts';
import type { RunBase } from './run-base.ts';
import type { Stops } from './stops.ts';
import { type Drive, JOURNAL, type JournalEntry, type RunRecord, RUNS, type StepStatus } from './types.ts';

/** Continuous analysis of a live run and the bake after its last step. */
export function createBake(base: RunBase, stopping: Stops) {
  const { emit, firedOf, iso, journal, now, opts, record, recordAside, store, tripwires } = base;
  const { tripStop } = stopping;
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

  return { startAnalysis, endAnalysis, bake };
}

/** What createBake returns. */
export type Bake = ReturnType<typeof createBake>;
