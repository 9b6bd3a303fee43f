// Continuous analysis (after Argo Rollouts' background analysis): while a live run runs, and for a bake after its
// last step, the tripwire rules are measured every `intervalMs`. Each measurement is pass, fail or inconclusive:
//
// - fail: a rule measured a breach (burn rate over its threshold, compensation rate over its limit);
// - inconclusive: a rule could not be measured (no data, unless its noData is `ignore`; a query error or timeout);
// - pass: every rule measured and none breached.
//
// A run stops when failures exceed `failureLimit` (default 0: the first failure) or consecutive inconclusive
// measurements exceed `inconclusiveLimit` (default 0: fail closed, as the check before each step). It stops with
// `halt` (roll back) when a rule that asks for halt is among the causes, else `pause` (a resumable hold).
//
// The node configures the defaults (control.analysis); a plan may only tighten them (a shorter interval, a longer
// bake, lower limits), never loosen them.
import { z } from 'zod/v4';
import type { TripwireEvaluationResult } from '@vaultmesh/types';

/** How a run is analysed. */
export interface AnalysisSettings {
  /** Time between two measurements. */
  readonly intervalMs: number;
  /** How long to keep measuring after the last step before the run succeeds. */
  readonly bakeMs: number;
  /** Failed measurements tolerated; one more stops the run. */
  readonly failureLimit: number;
  /** Consecutive inconclusive measurements tolerated; one more stops the run. */
  readonly inconclusiveLimit: number;
}

export const DEFAULT_ANALYSIS_SETTINGS: AnalysisSettings = {
  intervalMs: 30_000,
  bakeMs: 0,
  failureLimit: 0,
  inconclusiveLimit: 0,
};

/** The shortest measurement interval (each measurement queries every rule's windows). */
export const MIN_ANALYSIS_INTERVAL_MS = 250;
/** The longest bake: a week covers the SRE workbook's 3-day ticket window. */
export const MAX_BAKE_MS = 7 * 86_400_000;

/** Analysis settings as written in node config or a plan (every field optional). */
export const AnalysisSchema = z.strictObject({
  intervalMs: z.number().int().min(MIN_ANALYSIS_INTERVAL_MS).max(3_600_000).optional(),
  bakeMs: z.number().int().min(0).max(MAX_BAKE_MS).optional(),
  failureLimit: z.number().int().min(0).max(1000).optional(),
  inconclusiveLimit: z.number().int().min(0).max(1000).optional(),
});
export type AnalysisConfig = z.infer<typeof AnalysisSchema>;

/** Node settings over the defaults. */
export function analysisSettings(config: AnalysisConfig = {}): AnalysisSettings {
  return { ...DEFAULT_ANALYSIS_SETTINGS, ...stripUndefined(config) };
}

/** The settings a plan runs under: the node's, tightened (never loosened) by what the plan asks for. */
export function tightenAnalysis(node: AnalysisSettings, plan: AnalysisConfig = {}): AnalysisSettings {
  return {
    intervalMs: Math.min(node.intervalMs, plan.intervalMs ?? node.intervalMs),
    bakeMs: Math.max(node.bakeMs, plan.bakeMs ?? node.bakeMs),
    failureLimit: Math.min(node.failureLimit, plan.failureLimit ?? node.failureLimit),
    inconclusiveLimit: Math.min(node.inconclusiveLimit, plan.inconclusiveLimit ?? node.inconclusiveLimit),
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type MeasurementResult = 'pass' | 'fail' | 'inconclusive';

/** One rule's part of a measurement. */
export interface RuleMeasurement {
  readonly id: string;
  readonly result: MeasurementResult;
  /** What the rule asks for when it counts against the run (halt or pause); absent when it does not count. */
  readonly action?: 'halt' | 'pause';
  readonly reason: string;
  readonly evidence: Readonly<Record<string, number | string>>;
}

/** One measurement: every rule at one instant. */
export interface Measurement {
  readonly at: string;
  readonly result: MeasurementResult;
  readonly rules: readonly RuleMeasurement[];
}

/** Classifies rule evaluations into one measurement (a no-data rule with noData `ignore` does not count). */
export function classifyMeasurement(
  at: string,
  evaluations: readonly TripwireEvaluationResult[],
): Measurement {
  const rules = evaluations.map((e): RuleMeasurement => {
    const counts = e.result === 'fail' || (e.result === 'inconclusive' && e.fired);
    return {
      id: e.id,
      result: e.result === 'inconclusive' && !e.fired ? 'pass' : e.result,
      ...(counts ? { action: e.action } : {}),
      reason: e.reason,
      evidence: e.evidence,
    };
  });
  const result: MeasurementResult = rules.some((r) => r.result === 'fail')
    ? 'fail'
    : rules.some((r) => r.result === 'inconclusive')
      ? 'inconclusive'
      : 'pass';
  return { at, result, rules };
}

/** Counts over the measurements of one analysis. */
export interface AnalysisTally {
  readonly measurements: number;
  readonly pass: number;
  readonly fail: number;
  readonly inconclusive: number;
  readonly consecutiveInconclusive: number;
}

export const EMPTY_TALLY: AnalysisTally = {
  measurements: 0,
  pass: 0,
  fail: 0,
  inconclusive: 0,
  consecutiveInconclusive: 0,
};

/** Why an analysis stopped its run. */
export interface AnalysisStop {
  readonly action: 'halt' | 'pause';
  readonly result: 'fail' | 'inconclusive';
  readonly reason: string;
  /** The rules that counted against the run in the deciding measurement. */
  readonly rules: readonly RuleMeasurement[];
}

/** Adds a measurement to a tally and says whether the run must stop. */
export function judgeMeasurement(
  tally: AnalysisTally,
  m: Measurement,
  s: AnalysisSettings,
): { tally: AnalysisTally; stop?: AnalysisStop } {
  const next: AnalysisTally = {
    measurements: tally.measurements + 1,
    pass: tally.pass + (m.result === 'pass' ? 1 : 0),
    fail: tally.fail + (m.result === 'fail' ? 1 : 0),
    inconclusive: tally.inconclusive + (m.result === 'inconclusive' ? 1 : 0),
    consecutiveInconclusive: m.result === 'inconclusive' ? tally.consecutiveInconclusive + 1 : 0,
  };
  const over =
    m.result === 'fail'
      ? next.fail > s.failureLimit
      : m.result === 'inconclusive' && next.consecutiveInconclusive > s.inconclusiveLimit;
  if (!over || m.result === 'pass') return { tally: next };
  const rules = m.rules.filter((r) => r.result === m.result && r.action !== undefined);
  const action = rules.some((r) => r.action === 'halt') ? 'halt' : 'pause';
  const reason =
    m.result === 'fail'
      ? `${next.fail} failed measurement(s), over the failure limit of ${s.failureLimit}: ${rules.map((r) => `${r.id} (${r.reason})`).join(', ')}`
      : `${next.consecutiveInconclusive} inconclusive measurement(s) in a row, over the limit of ${s.inconclusiveLimit}: ${rules.map((r) => `${r.id} (${r.reason})`).join(', ')}`;
  return { tally: next, stop: { action, result: m.result, reason, rules } };
}

/** The result of a whole analysis: fail or inconclusive when it stopped the run on one, else pass. */
export function analysisResult(stop: AnalysisStop | undefined): MeasurementResult {
  return stop ? stop.result : 'pass';
}

/** What the loop needs: a measurement, and where to report each one. */
export interface AnalysisLoopOptions {
  readonly settings: AnalysisSettings;
  /** Measures every rule now; never rejects (an error is an inconclusive rule). */
  readonly measure: () => Promise<Measurement>;
  /** Called after each measurement with the new tally (receipts, events); its errors are ignored. */
  readonly onMeasurement?: (m: Measurement, tally: AnalysisTally, stop?: AnalysisStop) => Promise<void>;
  /** Called once when a measurement stops the run (abort what is running). */
  readonly onStop?: (stop: AnalysisStop) => void;
}

/** A running analysis. */
export interface AnalysisLoop {
  /** The stop decision, once a measurement made one. */
  readonly stopped: AnalysisStop | undefined;
  readonly tally: AnalysisTally;
  /** Resolves when the run must stop (never resolves otherwise). */
  readonly whenStopped: Promise<AnalysisStop>;
  /** Takes one measurement now (after any in flight); the stop decision, if any. */
  measureNow(): Promise<AnalysisStop | undefined>;
  /** Ends the loop (waits for a measurement in flight). */
  end(): Promise<void>;
}

/** Starts measuring every settings.intervalMs until end() or a stop. */
export function startAnalysisLoop(opts: AnalysisLoopOptions): AnalysisLoop {
  let tally = EMPTY_TALLY;
  let stopped: AnalysisStop | undefined;
  let ended = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let signalStop: (s: AnalysisStop) => void = () => undefined;
  const whenStopped = new Promise<AnalysisStop>((resolve) => (signalStop = resolve));

  const once = async () => {
    let m: Measurement;
    try {
      m = await opts.measure();
    } catch (e) {
      // Fail closed: a measurement that could not be taken at all is inconclusive and asks for halt.
      const reason = `could not measure: ${(e as Error)?.message ?? String(e)}`;
      m = {
        at: new Date().toISOString(),
        result: 'inconclusive',
        rules: [{ id: 'analysis', result: 'inconclusive', action: 'halt', reason, evidence: {} }],
      };
    }
    const j = judgeMeasurement(tally, m, opts.settings);
    tally = j.tally;
    if (j.stop && !stopped) stopped = j.stop;
    try {
      await opts.onMeasurement?.(m, tally, j.stop);
    } catch {
      // reporting must not change the decision
    }
    if (j.stop && stopped === j.stop) {
      try {
        opts.onStop?.(j.stop);
      } catch {
        // the stop holds whatever the listener does
      }
      signalStop(j.stop);
    }
  };
  const measure = () => {
    inFlight = inFlight.then(() => (stopped ? undefined : once()));
    return inFlight;
  };
  const schedule = () => {
    if (ended || stopped) return;
    timer = setTimeout(() => {
      void measure().then(schedule);
    }, opts.settings.intervalMs);
  };
  schedule();
  return {
    get stopped() {
      return stopped;
    },
    get tally() {
      return tally;
    },
    whenStopped,
    async measureNow() {
      await measure();
      return stopped;
    },
    async end() {
      ended = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
