// Continuous analysis (issue 12): tripwires measured during a live run and a bake after its last step, each
// measurement pass / fail / inconclusive, with failure and inconclusive limits, recorded as `analysis` receipts.
import { describe, expect, it } from 'vitest';
import {
  classifyMeasurement,
  createTripwireCheck,
  judgeMeasurement,
  tightenAnalysis,
  DEFAULT_ANALYSIS_SETTINGS,
  EMPTY_TALLY,
  type AnalysisSettings,
  type JournalEntry,
  type MetricSource,
  type Plan,
  type RunEvent,
  type TripwireEvaluation,
} from '../src/index.ts';
import { operator } from './helpers/harness.ts';
import { executorFixture, tracePlan, traceDir } from './helpers/executor-fixture.ts';

const evaluation = (over: Partial<TripwireEvaluation>): TripwireEvaluation => ({
  id: 'r',
  kind: 'burn-rate',
  fired: false,
  result: 'pass',
  action: 'halt',
  reason: 'fine',
  evidence: {},
  ...over,
});
const settings = (over: Partial<AnalysisSettings> = {}): AnalysisSettings => ({
  ...DEFAULT_ANALYSIS_SETTINGS,
  ...over,
});

describe('analysis: measurements and limits', () => {
  it('classifies a measurement: any breach fails, an unmeasured rule is inconclusive, noData ignore passes', () => {
    const at = '2026-12-06T00:00:00.000Z';
    expect(classifyMeasurement(at, [evaluation({})]).result).toBe('pass');
    expect(
      classifyMeasurement(at, [
        evaluation({ result: 'inconclusive', fired: true }),
        evaluation({ id: 'b', result: 'fail', fired: true }),
      ]).result,
    ).toBe('fail');
    expect(classifyMeasurement(at, [evaluation({ result: 'inconclusive', fired: true })]).result).toBe(
      'inconclusive',
    );
    // noData: ignore reports no data but does not count against the run.
    const ignored = classifyMeasurement(at, [evaluation({ result: 'inconclusive', fired: false })]);
    expect(ignored.result).toBe('pass');
    expect(ignored.rules[0]).not.toHaveProperty('action');
  });

  it('stops after failureLimit failures, halting when a halting rule failed, pausing otherwise', () => {
    const at = '2026-12-06T00:00:00.000Z';
    const fail = (action: 'halt' | 'pause') =>
      classifyMeasurement(at, [evaluation({ result: 'fail', fired: true, action })]);
    const s = settings({ failureLimit: 2 });
    let t = EMPTY_TALLY;
    for (let i = 0; i < 2; i++) {
      const j = judgeMeasurement(t, fail('halt'), s);
      expect(j.stop).toBeUndefined();
      t = j.tally;
    }
    const third = judgeMeasurement(t, fail('pause'), s);
    expect(third.stop).toMatchObject({ action: 'pause', result: 'fail' });
    expect(third.stop?.reason).toMatch(/3 failed measurement\(s\), over the failure limit of 2/);
    expect(judgeMeasurement(t, fail('halt'), s).stop?.action).toBe('halt');
    // Passes in between do not forgive failures: the limit counts them all.
    const pass = classifyMeasurement(at, [evaluation({})]);
    expect(judgeMeasurement(judgeMeasurement(t, pass, s).tally, fail('halt'), s).stop).toBeDefined();
  });

  it('stops after inconclusiveLimit consecutive inconclusive measurements; a pass resets the run of them', () => {
    const at = '2026-12-06T00:00:00.000Z';
    const inc = classifyMeasurement(at, [
      evaluation({ result: 'inconclusive', fired: true, action: 'pause' }),
    ]);
    const pass = classifyMeasurement(at, [evaluation({})]);
    const s = settings({ inconclusiveLimit: 1 });
    let t = judgeMeasurement(EMPTY_TALLY, inc, s).tally;
    t = judgeMeasurement(t, pass, s).tally;
    const j = judgeMeasurement(t, inc, s);
    expect(j.stop).toBeUndefined();
    const k = judgeMeasurement(j.tally, inc, s);
    expect(k.stop).toMatchObject({ action: 'pause', result: 'inconclusive' });
    expect(k.tally).toMatchObject({ measurements: 4, pass: 1, inconclusive: 3, consecutiveInconclusive: 2 });
  });

  it('a plan tightens the node settings and never loosens them', () => {
    const node = settings({ intervalMs: 10_000, bakeMs: 60_000, failureLimit: 2, inconclusiveLimit: 3 });
    expect(
      tightenAnalysis(node, { intervalMs: 60_000, bakeMs: 0, failureLimit: 10, inconclusiveLimit: 10 }),
    ).toEqual(node);
    expect(
      tightenAnalysis(node, { intervalMs: 1000, bakeMs: 600_000, failureLimit: 0, inconclusiveLimit: 0 }),
    ).toEqual({ intervalMs: 1000, bakeMs: 600_000, failureLimit: 0, inconclusiveLimit: 0 });
  });
});

/** An error-ratio source a test turns bad; counts its queries. */
function errorRatio(initial: number) {
  const s = { ratio: initial, queries: 0 };
  const source: MetricSource = {
    async query() {
      s.queries++;
      return s.ratio;
    },
  };
  return { s, source };
}

const RULE = {
  id: 'errors',
  kind: 'burn-rate' as const,
  objective: 0.99,
  burnRate: 10,
  query: 'errors[$window]',
  long: '1h',
  short: '5m',
  action: 'halt' as const,
};

async function analysed(o: {
  ratio: number;
  analysis: Partial<AnalysisSettings>;
  rule?: Partial<typeof RULE> & { noData?: 'halt' | 'pause' | 'ignore' };
  source?: MetricSource;
}) {
  const m = errorRatio(o.ratio);
  const tripwires = createTripwireCheck({ rules: [{ ...RULE, ...o.rule }], source: o.source ?? m.source });
  const f = await executorFixture({
    extra: { tripwires, analysis: settings({ intervalMs: 250, ...o.analysis }) },
  });
  return { ...f, metric: m.s };
}

const analysisReceipts = async (f: Awaited<ReturnType<typeof executorFixture>>) =>
  (await f.ledger.all()).filter((r) => r.kind === 'analysis');

const waitStep = (id: string, ms: number) => ({
  id,
  action: 'wait',
  params: { ms },
  risk: 'low' as const,
  reversible: true,
});

/** Resolves at the first event that matches. */
const eventually = (events: RunEvent[], pred: (e: RunEvent) => boolean) =>
  new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (events.some(pred)) {
        clearInterval(t);
        resolve();
      }
    }, 20);
  });

describe('analysis: continuous during a live run', () => {
  it('a breach during a bake wait halts at once: the wait ends, completed writes roll back, receipts say why', async () => {
    const { trace, read } = traceDir();
    const f = await analysed({ ratio: 0, analysis: {} });
    const plan: Plan = tracePlan(trace, { deploy: [{ id: 'canary' }] });
    plan.phases[0]!.steps.push(waitStep('bake', 600_000));
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    expect((await f.executor.run({ ...base, dryRun: true })).state).toBe('succeeded');
    // Dry-runs are not analysed: nothing changes there.
    expect(await analysisReceipts(f)).toEqual([]);
    const live = f.executor.run({ ...base, dryRun: false });
    await eventually(f.events, (e) => e.type === 'step-started' && e.stepId === 'bake' && !e.dryRun);
    f.metric.ratio = 0.5; // 50x the sustainable burn
    const r = await live;
    expect(r.state).toBe('hold');
    expect(r.hold).toMatchObject({ reason: 'tripwire-halt', rolledBack: true, stepId: 'bake' });
    expect(r.hold?.message).toMatch(/continuous analysis stopped the run during step bake/);
    expect(r.steps.find((s) => s.stepId === 'bake' && !s.rollback)?.status).toBe('halted');
    expect(read()).toEqual(['canary', 'undo-canary']); // live (a dry shell step only checks its command), then undone
    const receipts = await analysisReceipts(f);
    const fail = receipts.find((x) => x.body.record === 'measurement');
    expect(fail?.body).toMatchObject({
      result: 'fail',
      stepId: 'bake',
      runId: r.runId,
      planHash: stored.planHash,
      stop: { action: 'halt', result: 'fail' },
    });
    expect((fail?.body.rules as { id: string; result: string }[])[0]).toMatchObject({
      id: 'errors',
      result: 'fail',
    });
    const summary = receipts.find((x) => x.body.record === 'summary');
    expect(summary?.body).toMatchObject({ result: 'fail', tally: { fail: 1 } });
    expect(f.events.some((e) => e.type === 'analysis' && e.record === 'summary' && e.result === 'fail')).toBe(
      true,
    );
  });

  it('keeps measuring for the bake after the last step; a breach there rolls the run back', async () => {
    const { trace, read } = traceDir();
    const f = await analysed({ ratio: 0, analysis: { bakeMs: 600_000 } });
    const plan = tracePlan(trace, { deploy: [{ id: 'a' }, { id: 'b' }] });
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    await f.executor.run({ ...base, dryRun: true });
    const live = f.executor.run({ ...base, dryRun: false });
    await eventually(f.events, (e) => e.type === 'step-started' && e.stepId === '@bake');
    f.metric.ratio = 0.5;
    const r = await live;
    expect(r.hold).toMatchObject({ reason: 'tripwire-halt', rolledBack: true, stepId: '@bake' });
    expect(read().slice(-2)).toEqual(['undo-b', 'undo-a']);
    const bake = await f.store.get<JournalEntry>('journal', `${r.runId}/@bake`);
    expect(bake?.doc).toMatchObject({ kind: 'bake', state: 'done', status: 'halted' });
  });

  it('tolerates failureLimit failed measurements, then halts', async () => {
    const { trace } = traceDir();
    const f = await analysed({ ratio: 0.5, analysis: { failureLimit: 2, bakeMs: 600_000 } });
    // Bad from the start would trip the check before each step: start good, turn bad in the bake.
    f.metric.ratio = 0;
    const plan = tracePlan(trace, { deploy: [{ id: 'a' }] });
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    await f.executor.run({ ...base, dryRun: true });
    const live = f.executor.run({ ...base, dryRun: false });
    await eventually(f.events, (e) => e.type === 'step-started' && e.stepId === '@bake');
    f.metric.ratio = 0.5;
    const r = await live;
    expect(r.hold?.reason).toBe('tripwire-halt');
    const receipts = await analysisReceipts(f);
    const fails = receipts.filter((x) => x.body.record === 'measurement' && x.body.result === 'fail');
    expect(fails).toHaveLength(3);
    expect(fails.map((x) => (x.body.tally as { fail: number }).fail)).toEqual([1, 2, 3]);
    expect(fails.map((x) => x.body.stop !== undefined)).toEqual([false, false, true]);
  });

  it('no data pauses (noData: pause) in a resumable hold; resumed with data, the bake starts again and passes', async () => {
    const { trace } = traceDir();
    const f = await analysed({ ratio: 0, analysis: { bakeMs: 1000 }, rule: { noData: 'pause' } });
    const plan = tracePlan(trace, { deploy: [{ id: 'a' }] });
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    await f.executor.run({ ...base, dryRun: true });
    const live = f.executor.run({ ...base, dryRun: false });
    await eventually(f.events, (e) => e.type === 'step-started' && e.stepId === '@bake');
    f.metric.ratio = Number.NaN;
    const r = await live;
    expect(r.hold).toMatchObject({ reason: 'tripwire-pause', resumable: true, rolledBack: false });
    const inc = (await analysisReceipts(f)).find((x) => x.body.record === 'measurement');
    expect(inc?.body).toMatchObject({ result: 'inconclusive', stop: { action: 'pause' } });
    f.metric.ratio = 0;
    const resumed = await f.executor.resume(r.runId, { principal: operator });
    expect(resumed.state).toBe('succeeded');
    const bake = await f.store.get<JournalEntry>('journal', `${r.runId}/@bake`);
    expect(bake?.doc).toMatchObject({ state: 'done', status: 'succeeded', attempt: 2 });
    const summaries = (await analysisReceipts(f)).filter((x) => x.body.record === 'summary');
    expect(summaries.map((x) => x.body.result)).toEqual(['inconclusive', 'pass']);
  });

  it('a run that stays healthy succeeds after its bake, with a passing summary', async () => {
    const { trace } = traceDir();
    const f = await analysed({ ratio: 0.001, analysis: { bakeMs: 600 } });
    const plan = tracePlan(trace, { deploy: [{ id: 'a' }] });
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    await f.executor.run({ ...base, dryRun: true });
    const r = await f.executor.run({ ...base, dryRun: false });
    expect(r.state).toBe('succeeded');
    const receipts = await analysisReceipts(f);
    // Passing measurements are counted in the summary, not written one by one.
    expect(receipts.map((x) => x.body.record)).toEqual(['summary']);
    const tally = receipts[0]!.body.tally as { measurements: number; pass: number };
    expect(receipts[0]!.body).toMatchObject({ result: 'pass', settings: { bakeMs: 600, intervalMs: 250 } });
    expect(tally.measurements).toBeGreaterThanOrEqual(1);
    expect(tally.pass).toBe(tally.measurements);
  });

  it('a bake interrupted by a crash continues with what is left of it when the run is resumed', async () => {
    const { trace } = traceDir();
    const f = await analysed({ ratio: 0, analysis: { bakeMs: 3_600_000 } });
    const plan = tracePlan(trace, { deploy: [{ id: 'a' }] });
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    await f.executor.run({ ...base, dryRun: true });
    const first = f.executor.run({ ...base, dryRun: false });
    await eventually(f.events, (e) => e.type === 'step-started' && e.stepId === '@bake');
    const runId = f.events.find((e) => e.type === 'run-started' && !e.dryRun)!.runId;
    // Another executor takes the run over an hour later (as after a crash): the bake is over, one measurement decides.
    const later = f.make({ now: () => Date.now() + 3_600_000 });
    const resumed = await later.resume(runId, { principal: operator });
    expect(resumed.state).toBe('succeeded');
    expect(resumed.steps.find((s) => s.stepId === 'a')?.fromJournal).toBe(true);
    // The first executor notices it lost the run and stops without writing.
    await expect(first).rejects.toMatchObject({ code: 'CONFLICT' });
    const bake = await f.store.get<JournalEntry>('journal', `${runId}/@bake`);
    expect(bake?.doc).toMatchObject({ state: 'done', status: 'succeeded', attempt: 1 });
  });

  it('a plan cannot loosen the node limits (a larger failureLimit in the plan is ignored)', async () => {
    const { trace } = traceDir();
    const f = await analysed({ ratio: 0, analysis: { bakeMs: 600_000 } });
    const plan = tracePlan(trace, { deploy: [{ id: 'a' }] }, { analysis: { failureLimit: 100 } });
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    await f.executor.run({ ...base, dryRun: true });
    const live = f.executor.run({ ...base, dryRun: false });
    await eventually(f.events, (e) => e.type === 'step-started' && e.stepId === '@bake');
    f.metric.ratio = 0.5;
    const r = await live;
    expect(r.hold?.reason).toBe('tripwire-halt');
    const fails = (await analysisReceipts(f)).filter(
      (x) => x.body.result === 'fail' && x.body.record === 'measurement',
    );
    expect(fails).toHaveLength(1);
  });
});
