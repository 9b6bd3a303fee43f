// The executor's side of continuous analysis (analysis.ts): measure a live run's tripwire rules every interval,
// record each measurement that counts against the run (fail, inconclusive) as an `analysis` receipt, and sum the
// whole analysis up in one more when it ends.
import {
  analysisResult,
  classifyMeasurement,
  startAnalysisLoop,
  type AnalysisLoop,
  type AnalysisSettings,
  type AnalysisStop,
  type AnalysisTally,
  type Measurement,
} from './analysis.ts';
import type { StepFacts, TripwireCheck } from '@vaultmesh/types';

/** Where in the run a measurement was taken: during a step (its id) or during the bake after the last step. */
export interface AnalysisPosition {
  readonly phaseId: string;
  readonly stepId: string;
}

/** The id a bake's position carries instead of a step id. */
export const BAKE_STEP_ID = '@bake';

export interface RunAnalysisOptions {
  readonly evaluate: NonNullable<TripwireCheck['evaluate']>;
  readonly settings: AnalysisSettings;
  /** The run's facts at its current position (step, or the bake); the tenant fills `$tenant` in queries. */
  readonly facts: () => StepFacts;
  readonly now: () => number;
  /** Appends an `analysis` receipt (its errors are ignored: the decision stands without it). */
  readonly record: (body: Record<string, unknown>) => Promise<void>;
  /** Reports each measurement (progress events). */
  readonly report: (m: Measurement, tally: AnalysisTally, stop?: AnalysisStop) => void;
  readonly onStop: (stop: AnalysisStop) => void;
}

const clip = (s: string, max = 300) => s.replace(/\s+/g, ' ').slice(0, max);

/** Evidence as receipt JSON (RFC 8785 has no NaN or Infinity): non-finite numbers (NaN = no data) become text. */
export function finiteEvidence(
  e: Readonly<Record<string, number | string>>,
): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(e))
    out[k] = typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
  return out;
}

function rulesBody(m: Measurement) {
  return m.rules.map((r) => ({
    id: r.id,
    result: r.result,
    ...(r.action ? { action: r.action } : {}),
    reason: clip(r.reason),
    evidence: finiteEvidence(r.evidence),
  }));
}

const stopBody = (s: AnalysisStop) => ({ action: s.action, result: s.result, reason: clip(s.reason, 1000) });

/** Body of the receipt of one measurement that counts against the run. */
export function measurementBody(
  m: Measurement,
  tally: AnalysisTally,
  at: AnalysisPosition,
  stop?: AnalysisStop,
): Record<string, unknown> {
  return {
    record: 'measurement',
    result: m.result,
    measuredAt: m.at,
    phaseId: at.phaseId,
    stepId: at.stepId,
    rules: rulesBody(m),
    tally: { ...tally },
    ...(stop ? { stop: stopBody(stop) } : {}),
  };
}

/** Body of the receipt that sums an analysis up when it ends (run succeeded, stopped, held or taken over). */
export function summaryBody(loop: AnalysisLoop, settings: AnalysisSettings): Record<string, unknown> {
  const stop = loop.stopped;
  return {
    record: 'summary',
    result: analysisResult(stop),
    tally: { ...loop.tally },
    settings: { ...settings },
    ...(stop ? { stop: stopBody(stop) } : {}),
  };
}

/** Starts measuring a live run; the position (facts) is read at each measurement. */
export function startRunAnalysis(o: RunAnalysisOptions): AnalysisLoop {
  return startAnalysisLoop({
    settings: o.settings,
    async measure() {
      const evaluations = await o.evaluate(o.facts());
      return classifyMeasurement(new Date(o.now()).toISOString(), evaluations);
    },
    async onMeasurement(m, tally, stop) {
      o.report(m, tally, stop);
      if (m.result === 'pass') return;
      const { phaseId, stepId } = o.facts();
      try {
        await o.record(measurementBody(m, tally, { phaseId, stepId }, stop));
      } catch {
        // A receipt that cannot be written (run taken over, ledger refusing) does not change the decision.
      }
    },
    onStop: o.onStop,
  });
}
