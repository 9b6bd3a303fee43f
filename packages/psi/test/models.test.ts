// The models on closed-form cases: a ramp (the trend filter learns it exactly), a step (one large residual, then
// the level follows), a pure sine (its period is found and the seasonal forecaster predicts it), a spike in a noisy
// season (the highest anomaly score of the series), and NAB's windowedGaussian reimplementation against its
// published per-row outputs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ContextDetector,
  DEFAULT_DETECTOR,
  LocalTrendFilter,
  PsiError,
  SeasonalForecaster,
  SeriesModel,
  WindowedGaussian,
  autocorrelation,
  detectPeriod,
  gaussianTail,
} from '../src/index.ts';
import { calibrate } from '../src/detector.ts';
import { readNabCorpus, readPublishedScores } from '../src/nab/index.ts';

/** A deterministic standard normal sequence (mulberry32 + Box-Muller). */
function noise(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

describe('Gaussian tail', () => {
  it('matches known values of Q(z)', () => {
    expect(gaussianTail(0)).toBeCloseTo(0.5, 7);
    expect(gaussianTail(1)).toBeCloseTo(0.158655254, 7);
    expect(gaussianTail(3)).toBeCloseTo(0.001349898, 8);
    expect(gaussianTail(-2)).toBeCloseTo(0.977249868, 7);
  });
});

describe('local linear trend filter', () => {
  it('learns a ramp: the one-step forecast becomes exact and the slope is the ramp’s', () => {
    const f = new LocalTrendFilter({ qLevel: 0.01, qSlope: 0.01, alpha: 0.02 });
    for (let t = 0; t < 200; t++) f.update(5 + 2 * t);
    expect(f.forecast()!.mean).toBeCloseTo(5 + 2 * 200, 6);
    expect(f.forecastAhead(10).mean).toBeCloseTo(5 + 2 * 209, 5);
  });

  it('a step gives one large residual, then the level follows it', () => {
    const f = new LocalTrendFilter({ qLevel: 0.1, qSlope: 0, alpha: 0.02 });
    const n = noise(1);
    for (let t = 0; t < 300; t++) f.update(10 + 0.1 * n());
    const before = f.forecast()!;
    expect(before.mean).toBeCloseTo(10, 1);
    const z = (20 - before.mean) / Math.sqrt(before.variance);
    expect(z).toBeGreaterThan(20);
    for (let t = 0; t < 100; t++) f.update(20 + 0.1 * n());
    expect(f.forecast()!.mean).toBeCloseTo(20, 1);
  });
});

describe('seasonality', () => {
  const period = 24;
  const sine = Array.from({ length: 600 }, (_, t) => 10 + 3 * Math.sin((2 * Math.PI * t) / period));

  it('finds the period of a pure sine, and its autocorrelation is 1 at the period', () => {
    expect(detectPeriod(sine)).toBe(period);
    expect(autocorrelation(sine, period)[period]).toBeGreaterThan(0.95);
  });

  it('finds the period of a noisy sine, not one of its multiples (which correlate as well)', () => {
    const n = noise(11);
    const x = Array.from(
      { length: 1440 },
      (_, t) => 0.2 + 0.05 * Math.sin((2 * Math.PI * t) / 60) + 0.01 * n(),
    );
    expect(detectPeriod(x)).toBe(60);
  });

  it('finds no period in white noise', () => {
    const n = noise(7);
    expect(detectPeriod(Array.from({ length: 600 }, () => n()))).toBe(0);
  });

  it('the seasonal forecaster predicts the sine', () => {
    const m = new SeasonalForecaster(period, sine.slice(0, 480));
    for (let t = 480; t < 600; t++) {
      expect(m.forecast()).toBeCloseTo(sine[t]!, 6);
      m.update(sine[t]!);
    }
  });
});

describe('series model', () => {
  it('scores a spike in a noisy season above every other point, and forecasts the season', () => {
    const n = noise(3);
    const m = new SeriesModel();
    const scores: number[] = [];
    for (let t = 0; t < 2000; t++) {
      const x = 50 + 10 * Math.sin((2 * Math.PI * t) / 96) + n() + (t === 1500 ? 12 : 0);
      scores.push(m.update(x).score);
    }
    expect(m.period).toBe(96);
    const top = scores.indexOf(Math.max(...scores.slice(DEFAULT_DETECTOR.warmup)));
    expect(top).toBe(1500);
    const f = m.forecast(1)!;
    expect(Math.abs(f.mean - (50 + 10 * Math.sin((2 * Math.PI * 2000) / 96)))).toBeLessThan(3 * f.std);
  });

  it('keeps its metrics in range: continuity and Ψ in [0, 1], phase coherence in [−1, 1], futurity ≤ 1', () => {
    const n = noise(4);
    const m = new SeriesModel();
    for (let t = 0; t < 1500; t++) {
      const s = m.update(20 + 5 * Math.sin((2 * Math.PI * t) / 50) + 0.3 * n());
      const x = s.metrics;
      expect(x.continuity).toBeGreaterThanOrEqual(0);
      expect(x.continuity).toBeLessThanOrEqual(1);
      expect(x.psi).toBeGreaterThanOrEqual(0);
      expect(x.psi).toBeLessThanOrEqual(1);
      expect(Math.abs(x.phaseCoherence)).toBeLessThanOrEqual(1);
      expect(x.futurity).toBeLessThanOrEqual(1);
      expect(s.score).toBeGreaterThanOrEqual(0);
      expect(s.score).toBeLessThanOrEqual(1);
    }
    // A well-forecast season: the model beats "same as last" and follows the season's phase.
    const last = m.update(20 + 5 * Math.sin((2 * Math.PI * 1500) / 50)).metrics;
    expect(last.futurity).toBeGreaterThan(0.3);
    expect(last.phaseCoherence).toBeGreaterThan(0.5);
  });

  it('range novelty: after the warm-up, a value just beyond all seen is more surprising than its residual alone says', () => {
    /** 700 points of |noise| around 10, then a value 5% of their range above the highest. */
    const run = (opts: Partial<typeof DEFAULT_DETECTOR>) => {
      const n = noise(9);
      const m = new SeriesModel({ ...DEFAULT_DETECTOR, ...opts });
      let lo = Infinity;
      let hi = -Infinity;
      for (let t = 0; t < 700; t++) {
        const x = 10 + Math.abs(n());
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
        m.update(x);
      }
      return m.update(hi + 0.05 * (hi - lo));
    };
    const withRange = run({});
    const without = run({ rangeTolerance: Number.POSITIVE_INFINITY });
    // Same forecast and residual; only the range makes it surprising.
    expect(withRange.residual).toBeCloseTo(without.residual, 9);
    expect(withRange.surprise).toBeCloseTo(without.surprise, 9);
    expect(withRange.likelihood).toBeGreaterThan(without.likelihood);
    expect(withRange.likelihood).toBeGreaterThan(0.999);
  });

  it('with a known range, scores the larger of its own score and the context detector’s, calibrated', () => {
    const z = noise(21);
    const values = Array.from({ length: 1_500 }, (_, t) => 50 + 20 * Math.sin((2 * Math.PI * t) / 100) + z());
    values[1_200] = 95;
    const range = { min: 0, max: 100 };
    const ranged = new SeriesModel(DEFAULT_DETECTOR, range);
    const alone = new SeriesModel(DEFAULT_DETECTOR);
    const context = new ContextDetector(range, DEFAULT_DETECTOR.ranged.context);
    const level = DEFAULT_DETECTOR.ranged.level;
    for (const v of values) {
      const r = ranged.update(v);
      const a = alone.update(v);
      const c = context.update(v);
      expect(r.context).toBe(c);
      expect(r.score).toBeCloseTo(calibrate(Math.max(a.score, c), level), 12);
      // The forecasts are the model's own, unchanged by the range.
      expect(r.forecast).toBe(a.forecast);
      expect(r.residual).toBe(a.residual);
      expect(a.context).toBeUndefined();
    }
    expect(() => new SeriesModel(DEFAULT_DETECTOR, { min: 1, max: 0 })).toThrow(PsiError);
    expect(
      () => new SeriesModel({ ...DEFAULT_DETECTOR, ranged: { ...DEFAULT_DETECTOR.ranged, level: 1 } }, range),
    ).toThrow(/level/);
  });

  it('calibrates the combined score piecewise linearly: 0, the level and 1 stay fixed points of the scale', () => {
    expect(calibrate(0, 0.75)).toBe(0);
    expect(calibrate(0.75, 0.75)).toBeCloseTo(1 / 3, 15);
    expect(calibrate(1, 0.75)).toBeCloseTo(1, 15);
    const grid = Array.from({ length: 101 }, (_, k) => calibrate(k / 100, 0.75));
    for (let k = 1; k < grid.length; k++) expect(grid[k]!).toBeGreaterThan(grid[k - 1]!);
  });

  it('refuses a point that is not a finite number, and a horizon below 1', () => {
    const m = new SeriesModel();
    expect(() => m.update(Number.NaN)).toThrow(PsiError);
    m.update(1);
    expect(() => m.forecast(0)).toThrow(/horizon/);
    expect(m.count).toBe(1);
  });
});

// The NAB subset beside the checkout (../shared/nab), or wherever VM_NAB_CORPUS points.
const NAB =
  process.env['VM_NAB_CORPUS'] ?? join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'nab');
const haveNab = existsSync(join(NAB, 'results', 'windowedGaussian'));
if (!haveNab) console.warn(`SKIPPED: windowedGaussian against its published rows: no corpus at ${NAB}`);

describe.skipIf(!haveNab)('windowedGaussian reimplemented, streamed online like NAB', () => {
  it('reproduces the published anomaly score of every row of every file', () => {
    const corpus = readNabCorpus(NAB);
    const published = readPublishedScores(corpus, 'windowedGaussian');
    let rows = 0;
    for (const f of corpus.files) {
      const d = new WindowedGaussian();
      const want = published.get(f.path)!;
      for (let i = 0; i < f.values.length; i++) {
        const got = d.update(f.values[i]!);
        if (Math.abs(got - want[i]!) > 1e-6) throw new Error(`${f.path} row ${i}: ${got} vs ${want[i]}`);
        rows++;
      }
    }
    expect(rows).toBeGreaterThan(200_000);
  });
});
