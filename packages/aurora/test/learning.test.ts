// LinUCB against a direct ridge-regression solve, model artifacts (round trip, hash, refusal of bad ones), the rule
// score and hard filter, training by replay, and the canary SLO report's KPIs.
import { describe, expect, it } from 'vitest';
import {
  anomalyPenalty,
  FEATURES,
  LinUcb,
  offerFeatures,
  computeSloReport,
  hardFilter,
  quantile,
  rankOffers,
  ruleScore,
  scoringContext,
  trainModel,
  type DecisionRecord,
  type Offer,
  type RouteOutcome,
  type Workload,
} from '../src/index.ts';

/** Solves (λI + Σxxᵀ)θ = Σrx by Gaussian elimination with partial pivoting. */
function ridge(xs: number[][], rs: number[], lambda: number): number[] {
  const d = xs[0]!.length;
  const a = Array.from({ length: d }, (_, i) =>
    Array.from({ length: d + 1 }, (_, j) => (i === j ? lambda : 0)),
  );
  xs.forEach((x, k) => {
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) a[i]![j]! += x[i]! * x[j]!;
      a[i]![d]! += rs[k]! * x[i]!;
    }
  });
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    [a[c], a[p]] = [a[p]!, a[c]!];
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = a[r]![c]! / a[c]![c]!;
      for (let j = c; j <= d; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  return a.map((row, i) => row[d]! / row[i]!);
}

function rng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

describe('LinUCB', () => {
  it('its estimate is the ridge-regression solution, and its bonus shrinks with data', () => {
    const r = rng(7);
    const m = new LinUcb({ features: ['a', 'b', 'c'], alpha: 0.8, lambda: 1.5 });
    const xs: number[][] = [];
    const rs: number[] = [];
    const probe = [1, 0.3, 0.7];
    const bonus0 = m.estimate('arm', probe).bonus;
    for (let i = 0; i < 60; i++) {
      const x = [1, r(), r()];
      const reward = 0.2 + 0.5 * x[1]! - 0.3 * x[2]! + (r() - 0.5) * 0.1;
      xs.push(x);
      rs.push(reward);
      m.update('arm', x, reward);
    }
    const theta = ridge(xs, rs, 1.5);
    const want = theta.reduce((s, t, i) => s + t * probe[i]!, 0);
    const e = m.estimate('arm', probe);
    expect(e.mean).toBeCloseTo(want, 9);
    expect(e.bonus).toBeLessThan(bonus0 / 3);
    expect(e.n).toBe(60);
    expect(m.estimate('other', probe)).toMatchObject({ mean: 0, n: 0 });
  });

  it('serializes deterministically, round-trips, and refuses malformed models and inputs', () => {
    const m = new LinUcb({ features: FEATURES });
    m.update('vast', [1, 0.1, 0.2, 0.9, 0.25, 1, 0], 0.8);
    const json = m.toJSON();
    const back = LinUcb.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(back.hash()).toBe(m.hash());
    expect(back.estimate('vast', [1, 0, 0, 1, 0, 1, 0])).toEqual(m.estimate('vast', [1, 0, 0, 1, 0, 1, 0]));
    expect(() => LinUcb.fromJSON({ ...json, version: 2 })).toThrow(/version 2/);
    expect(() => LinUcb.fromJSON({ ...json, arms: { x: { ainv: [1], b: [1], n: 1 } } })).toThrow(/arm x/);
    expect(() => LinUcb.fromJSON({ ...json, dimension: 3 })).toThrow(/dimension/);
    expect(() => m.update('vast', [1, 2], 1)).toThrow(/2 features/);
    expect(() => m.update('vast', [1, NaN, 0, 0, 0, 0, 0], 1)).toThrow(/price is not finite/);
    expect(() => m.update('vast', [1, 0, 0, 0, 0, 0, 0], Infinity)).toThrow(/reward/);
  });
});

const workload: Workload = {
  id: 'w',
  tenant: 'acme',
  gpu: { count: 2, model: 'H100' },
  priority: 'normal',
  hours: 1,
};
const offer = (o: Partial<Offer>): Offer => ({
  provider: 'p',
  offerId: 'o',
  gpuModel: 'H100 SXM',
  gpuCount: 4,
  memoryGiB: 80,
  pricePerHour: 10,
  region: 'eu-west-1',
  ...o,
});

describe('Ψ-Field forecasts in the scores', () => {
  it('an ordinary likelihood costs nothing; an anomalous provider loses up to half its reliability', () => {
    expect(anomalyPenalty(undefined)).toBe(0);
    expect(anomalyPenalty({ rttMs: 100, anomalyLikelihood: 0.3 })).toBe(0);
    expect(anomalyPenalty({ rttMs: 100, anomalyLikelihood: 0.5 })).toBe(0);
    expect(anomalyPenalty({ rttMs: 100, anomalyLikelihood: 0.75 })).toBeCloseTo(0.25, 12);
    expect(anomalyPenalty({ rttMs: 100, anomalyLikelihood: 1 })).toBe(0.5);
    expect(anomalyPenalty({ rttMs: 100, anomalyLikelihood: Number.NaN })).toBe(0);
  });

  it('the forecast round trip adds to the start latency, and an anomalous provider ranks below its twin', () => {
    const offers = [offer({ offerId: 'calm', provider: 'calm' }), offer({ offerId: 'odd', provider: 'odd' })];
    const standings = new Map([
      ['calm', { treatyCompliance: 1, forecast: { rttMs: 3000, anomalyLikelihood: 0.5 } }],
      ['odd', { treatyCompliance: 1, forecast: { rttMs: 3000, anomalyLikelihood: 0.99999 } }],
    ]);
    const ctx = scoringContext(offers, workload, standings);
    const calm = offerFeatures(offers[0]!, ctx);
    const odd = offerFeatures(offers[1]!, ctx);
    expect(calm[FEATURES.indexOf('latency')]).toBeCloseTo((2000 + 3000) / 10_000, 12);
    expect(calm[FEATURES.indexOf('reliability')]).toBeCloseTo(0.9, 12);
    expect(odd[FEATURES.indexOf('reliability')]).toBeCloseTo(0.9 * (1 - 0.5 * (2 * 0.99999 - 1)), 12);
    expect(rankOffers(offers, ctx).map((s) => s.offer.offerId)).toEqual(['calm', 'odd']);
    // Without the field's view, the twins tie and the ranking falls back to the provider name.
    expect(rankOffers(offers, scoringContext(offers, workload)).map((s) => s.offer.offerId)).toEqual([
      'calm',
      'odd',
    ]);
    const reversed = new Map([
      ['calm', { treatyCompliance: 1, forecast: { rttMs: 3000, anomalyLikelihood: 0.99999 } }],
      ['odd', { treatyCompliance: 1, forecast: { rttMs: 3000, anomalyLikelihood: 0.5 } }],
    ]);
    expect(
      rankOffers(offers, scoringContext(offers, workload, reversed)).map((s) => s.offer.offerId),
    ).toEqual(['odd', 'calm']);
  });
});

describe('rules and filters', () => {
  it('drops offers for each hard constraint with its reason, and keeps the rest', () => {
    const r = hardFilter(
      [
        offer({ offerId: 'ok' }),
        offer({ offerId: 'few', gpuCount: 1 }),
        offer({ offerId: 'model', gpuModel: 'A100' }),
        offer({ offerId: 'blocked', provider: 'q' }),
        offer({ offerId: 'cap', provider: 'capped', pricePerHour: 50 }),
      ],
      { ...workload, maxPricePerHour: 100 },
      {
        blocked: new Set(['q/eu-west-1']),
        treaties: new Map([
          ['capped', { id: 't', provider: 'capped', slo: {} as never, priceCapPerHour: 20 }],
        ]),
      },
    );
    expect(r.kept.map((o) => o.offerId)).toEqual(['ok']);
    expect(r.dropped.map((d) => [d.offer.offerId, d.reason])).toEqual([
      ['few', '1 GPUs < 2 requested'],
      ['model', 'GPU A100 is not H100'],
      ['blocked', 'blocked after a failed placement'],
      ['cap', "price 50/h above treaty t's cap 20/h"],
    ]);
  });

  it('prefers cheaper, faster and more reliable offers, and ranks deterministically', () => {
    const offers = [
      offer({ offerId: 'b', pricePerHour: 10 }),
      offer({ offerId: 'a', pricePerHour: 10 }),
      offer({ offerId: 'dear', pricePerHour: 30 }),
      offer({ offerId: 'slow', pricePerHour: 10, latencyMs: 9000 }),
      offer({ offerId: 'flaky', pricePerHour: 10, reliability: 0.5 }),
    ];
    const ctx = scoringContext(offers, workload);
    const ranked = rankOffers(offers, ctx).map((s) => s.offer.offerId);
    // Triple the price costs more than a 9 s start or a coin-flip reliability under the default weights.
    expect(ranked).toEqual(['a', 'b', 'slow', 'flaky', 'dear']);
    const x = [1, 0, 0, 1, 0, 1, 0];
    expect(ruleScore(x)).toBeCloseTo(1, 12);
    expect(ruleScore([1, 0.5, 0, 1, 0, 1, 0])).toBeLessThan(ruleScore(x));
  });
});

describe('training and SLO reports', () => {
  const t0 = Date.parse('2026-11-30T00:00:00Z');
  const outcome = (seq: number, provider: string, success: boolean, minutes: number): RouteOutcome => ({
    seq,
    at: new Date(t0 + minutes * 60_000).toISOString(),
    jobId: `j${seq}`,
    receiptIndex: seq,
    provider,
    region: 'eu-west-1',
    features: [1, 0.2, 0.1, 0.9, 0.25, 1, 0],
    success,
    reward: success ? 0.94 : 0,
    latencyMs: 10,
    pricePerHour: 2,
  });

  it('train replays outcomes in sequence order (input order does not matter) and can forget old ones', () => {
    const outs = [outcome(2, 'a', false, 10), outcome(1, 'a', true, 5), outcome(3, 'b', true, 200)];
    const x = trainModel(outs);
    const y = trainModel([...outs].reverse());
    expect(x.hash).toBe(y.hash);
    expect(x).toMatchObject({ outcomes: 3, throughSeq: 3 });
    const recent = trainModel(outs, { sinceMs: t0 + 100 * 60_000 });
    expect(recent.outcomes).toBe(1);
    expect(recent.model.armNames()).toEqual(['b']);
  });

  it('computes each KPI over the window; no data is not compliant', () => {
    expect(quantile([5, 1, 3, 2, 4], 0.95)).toBe(5);
    expect(quantile([], 0.5)).toBeNull();
    const decision = (i: number, extra: Partial<DecisionRecord> = {}): DecisionRecord => ({
      index: i,
      at: new Date(t0 + i * 60_000).toISOString(),
      tenant: 'acme',
      provider: 'a',
      policyMs: 1 + (i % 3),
      rtt: { a: 100 + i },
      ...extra,
    });
    const decisions = Array.from({ length: 20 }, (_, i) => decision(i));
    const outcomes = Array.from({ length: 20 }, (_, i) => outcome(i + 1, 'a', i !== 3, i * 10));
    const report = computeSloReport({
      treaty: {
        id: 'a-eu',
        provider: 'a',
        slo: { fillRateP95: 0.8, rttP95Ms: 110, provenanceCoverage: 0.95, policyLatencyP99Ms: 25 },
      },
      decisions,
      outcomes,
      receiptExists: (i) => i !== 7,
      nowMs: t0 + 4 * 3_600_000,
      windowMs: 4 * 3_600_000,
      origin: 'test/origin',
    });
    const byName = Object.fromEntries(report.kpis.map((k) => [k.name, k]));
    expect(byName.rtt_p95_ms).toMatchObject({ value: 118, compliant: false, samples: 20 });
    expect(byName.provenance_coverage).toMatchObject({ value: 0.95, compliant: true });
    expect(byName.policy_latency_p99_ms).toMatchObject({ value: 3, compliant: true });
    // A 4 h window has 20-minute buckets (window / 12): the bucket with the failure placed 1 of 2.
    expect(byName.fill_rate_p95).toMatchObject({ value: 0.5, compliant: false, samples: 20 });
    expect(report.complianceRate).toBe(0.5);
    expect(report.compliant).toBe(false);
    const empty = computeSloReport({
      treaty: {
        id: 'b',
        provider: 'b',
        slo: { fillRateP95: 0.8, rttP95Ms: 350, provenanceCoverage: 0.95, policyLatencyP99Ms: 25 },
      },
      decisions,
      outcomes,
      receiptExists: () => true,
      nowMs: t0 + 4 * 3_600_000,
      windowMs: 4 * 3_600_000,
      origin: 'test/origin',
    });
    expect(empty.kpis.every((k) => k.value === null && !k.compliant)).toBe(true);
  });
});
