// The Ψ-Field series model: per series, online, each point scored against forecasts made before it arrived and then
// learned. Forecasters: a Kalman local linear trend filter and, once a period has been detected in the first points,
// an additive Holt-Winters model on it. Each forecaster's residual is standardized by its own robust scale; the
// ensemble's surprise is the smallest of them (a point is anomalous only when no forecaster expected it). Surprises
// become an anomaly likelihood as in Numenta's method (Ahmad et al. 2017): how unusual the recent average surprise is
// against the long-run distribution of surprises, both kept as exponentially weighted moments, so memory is O(1)
// per series (plus the period's seasonal offsets).
//
// On a series with a known range (a metric with natural bounds, or a NAB file, whose min and max NAB gives every
// detector), a context detector (models/context.ts, after CAD OSE) runs beside the model: the point's score is the
// larger of the two, calibrated so that the combined level `ranged.level` reads as the score 1/3 (likelihood 0.9999,
// the field's default threshold). Monotone, so it changes no NAB score; it keeps the default threshold's alert rate.
import { PsiError } from './errors.ts';
import { ContextDetector, DEFAULT_CONTEXT, type ContextOptions } from './models/context.ts';
import { DEFAULT_KALMAN, LocalTrendFilter, type KalmanOptions } from './models/kalman.ts';
import {
  DEFAULT_PERIOD,
  DEFAULT_SEASONAL,
  SeasonalForecaster,
  detectPeriod,
  type PeriodOptions,
  type SeasonalOptions,
} from './models/seasonal.ts';
import { EwMoments, EwScale, gaussianTail } from './models/stats.ts';
import { psiMetrics, type PsiMetrics, MetricState } from './metrics.ts';

/** Residuals a forecaster's robust scale needs before residuals are measured against it. */
const SCALE_POINTS = 5;

/** The one parameter set of a series model (every series uses the same). */
export interface DetectorOptions {
  readonly kalman: KalmanOptions;
  readonly seasonal: SeasonalOptions;
  readonly period: PeriodOptions;
  /** Points buffered before looking for a period. */
  readonly warmup: number;
  /** Smoothing of each forecaster's residual scale. */
  readonly scaleAlpha: number;
  /** Smoothing of the short-run mean surprise (≈ 2/alpha points). */
  readonly shortAlpha: number;
  /** Smoothing of the long-run surprise distribution. */
  readonly longAlpha: number;
  /** Points after a likelihood peak during which lower scores are damped (alerts are not repeated). */
  readonly suppress: number;
  /** The seasonal forecaster leads when its error scale is below this share of the trend filter's. */
  readonly seasonEdge: number;
  /**
   * Range novelty: after the warm-up (by when a seasonal series has shown its cycles), a value beyond every value
   * seen so far, by more than this share of their range, is surprising (surprisal at least `rangeSurprisal`,
   * decades), whatever the forecasters expected.
   */
  readonly rangeTolerance: number;
  readonly rangeSurprisal: number;
  /** On a series with a known range: the context detector beside the model, and the calibration of their score. */
  readonly ranged: RangedOptions;
}

/** How a series with a known range is scored. */
export interface RangedOptions {
  readonly context: ContextOptions;
  /** The combined score (the larger of the two) that reads as 1/3; higher ones stretch over (1/3, 1]. */
  readonly level: number;
}

/** The bounds of a series' values, when they are known. */
export interface ValueRange {
  readonly min: number;
  readonly max: number;
}

/** The score of likelihood 0.9999 (−log10 of its tail, over 12): where a calibrated combined level lands. */
const ANOMALY_SCORE = 4 / 12;

/**
 * The parameter set used for every series, chosen by a coordinate search on the NAB subset in ../shared/nab (so the
 * NAB score it reaches there is optimistic; docs/psi.md says so).
 */
export const DEFAULT_DETECTOR: DetectorOptions = {
  kalman: { ...DEFAULT_KALMAN, qLevel: 0.01, qSlope: 0.01 },
  seasonal: DEFAULT_SEASONAL,
  period: DEFAULT_PERIOD,
  warmup: 600,
  scaleAlpha: 0.002,
  shortAlpha: 0.3,
  longAlpha: 0.02,
  suppress: 20,
  seasonEdge: 0.9,
  rangeTolerance: 0.01,
  rangeSurprisal: 15,
  // Beside the model the context detector is lighter than CAD OSE's defaults (left sides of at most 5 facts, 10
  // contexts carried on, 5,000 contexts at most): about 2.5 times faster, with less memory, for NAB scores 0.1-0.4
  // lower (68.1 / 56.1 / 74.7 against 68.5 / 56.2 / 74.9 with maxLeft 7, maxActive 15; docs/psi.md). The
  // level is CAD OSE's base threshold, the context score at which it calls a point anomalous and rests.
  ranged: { context: { ...DEFAULT_CONTEXT, maxLeft: 5, maxActive: 10, maxContexts: 5_000 }, level: 0.75 },
};

/** What a point got: the forecast it was scored against, the standardized residual and the anomaly scores. */
export interface PointScore {
  /** The ensemble's forecast made before the point arrived. */
  readonly forecast: number;
  /** The standard deviation of that forecast (its predictive spread). */
  readonly spread: number;
  /** The standardized residual of the forecaster that expected the point best (signed). */
  readonly residual: number;
  /** The raw surprise in [0, 1): 1 − 2·Q(|residual|). */
  readonly surprise: number;
  /** The anomaly likelihood in [0, 1]. */
  readonly likelihood: number;
  /**
   * The anomaly score for thresholds in [0, 1]: the likelihood on a log scale (−log10 of its tail, over 12), so
   * values near 1 keep their order instead of all rounding to 1.
   */
  readonly score: number;
  /** The five Ψ metrics and Ψ at this point. */
  readonly metrics: PsiMetrics;
  /** The context detector's score in [0, 1] (on a series with a known range only). */
  readonly context?: number;
}

/** The combined score of a ranged series, piecewise linear: 0 → 0, `level` → 1/3, 1 → 1. */
export function calibrate(combined: number, level: number): number {
  return combined <= level
    ? (combined / level) * ANOMALY_SCORE
    : ANOMALY_SCORE + ((combined - level) / (1 - level)) * (1 - ANOMALY_SCORE);
}

/** One series' online model. */
export class SeriesModel {
  private readonly trend: LocalTrendFilter;
  private seasonal: SeasonalForecaster | undefined;
  private buffer: number[] | undefined = [];
  private readonly trendScale: EwScale;
  private readonly seasonScale: EwScale;
  private readonly naiveScale: EwScale;
  private readonly short: EwMoments;
  private readonly long: EwMoments;
  private readonly metricState = new MetricState();
  private last: number | undefined;
  private lowest = Infinity;
  private highest = -Infinity;
  private points = 0;
  private peak = 0;
  private sincePeak = Infinity;
  private readonly context: ContextDetector | undefined;

  /** A series model; with `range`, the context detector runs beside it (see the top of this file). */
  constructor(
    private readonly opts: DetectorOptions = DEFAULT_DETECTOR,
    range?: ValueRange,
  ) {
    if (range) {
      const level = opts.ranged.level;
      if (!(level > 0 && level < 1))
        throw new PsiError('INVALID_ARGUMENT', `ranged.level must be in (0, 1), got ${level}`);
      this.context = new ContextDetector(range, opts.ranged.context);
    }
    this.trend = new LocalTrendFilter(opts.kalman);
    this.trendScale = new EwScale(opts.scaleAlpha);
    this.seasonScale = new EwScale(opts.scaleAlpha);
    this.naiveScale = new EwScale(opts.scaleAlpha);
    this.short = new EwMoments(opts.shortAlpha);
    this.long = new EwMoments(opts.longAlpha);
  }

  /** Points learned so far. */
  get count(): number {
    return this.points;
  }

  /** The detected period in points (0: none found, or not looked for yet). */
  get period(): number {
    return this.seasonal?.period ?? 0;
  }

  /** The forecast `h` ≥ 1 steps ahead and its standard deviation (undefined before the first point). */
  forecast(h = 1): { mean: number; std: number } | undefined {
    if (!Number.isInteger(h) || h < 1)
      throw new PsiError('INVALID_ARGUMENT', `horizon must be an integer ≥ 1, got ${h}`);
    const f = this.trend.count > 0 ? this.trend.forecastAhead(h) : undefined;
    if (!f) return undefined;
    if (this.seasonal && this.seasonLeads())
      return { mean: this.seasonal.forecastAhead(h), std: 1.25 * this.seasonScale.value * Math.sqrt(h) };
    return { mean: f.mean, std: Math.sqrt(f.variance) };
  }

  /** Scores a point against the forecasts made before it, then learns it. */
  update(value: number): PointScore {
    if (!Number.isFinite(value))
      throw new PsiError('INVALID_ARGUMENT', `a point must be a finite number, got ${value}`);
    const tf = this.trend.forecast();
    const sf = this.seasonal?.forecast();
    let forecast = tf?.mean ?? value;
    let spread = tf ? Math.sqrt(tf.variance) : 0;
    let z = 0;
    if (tf) {
      z = this.standardize(value - tf.mean, this.trendScale, Math.sqrt(tf.variance));
      // The seasonal forecaster leads once its recent errors are smaller than the trend filter's: a point that
      // breaks the season is then anomalous even where a trend alone would have expected it.
      if (sf !== undefined && this.seasonLeads()) {
        z = this.standardize(value - sf, this.seasonScale, 0);
        forecast = sf;
        spread = 1.25 * this.seasonScale.value;
      }
    }
    const twoSided = Math.max(2 * gaussianTail(Math.abs(z)), 1e-300);
    const surprise = 1 - twoSided;
    // Likelihood: the short-run mean surprisal (−log10 of the two-sided tail: unbounded, so a large residual
    // stands out) against the long-run distribution of surprisals.
    let surprisal = -Math.log10(twoSided);
    if (this.beyondRange(value)) surprisal = Math.max(surprisal, this.opts.rangeSurprisal);
    // Until the trend filter has a residual scale of its own (its first few points), residuals are measured against
    // a guess: they stay out of the surprisal statistics, which would otherwise carry one huge early value for long.
    const calibrated = this.trendScale.count >= SCALE_POINTS;
    if (calibrated) this.short.add(surprisal);
    let tail = 0.5;
    if (calibrated && this.long.count >= 10) {
      const sd = Math.max(this.long.std, 1e-4);
      tail = gaussianTail((this.short.mean - this.long.mean) / sd);
    }
    if (calibrated) this.long.add(surprisal);
    let likelihood = 1 - tail;
    const unsuppressed = Math.min(1, -Math.log10(Math.max(tail, 1e-300)) / 12);
    let score = unsuppressed;
    if (this.opts.suppress > 0) {
      this.sincePeak++;
      if (score >= this.peak || this.sincePeak > this.opts.suppress) {
        this.peak = score;
        this.sincePeak = 0;
      } else score *= 0.5;
    }
    const context = this.context?.update(value);
    if (context !== undefined) {
      // The likelihood is the view of the score before the model's damping of repeated alerts, as without a range.
      const level = this.opts.ranged.level;
      score = calibrate(Math.max(score, context), level);
      likelihood = 1 - 10 ** (-12 * calibrate(Math.max(unsuppressed, context), level));
    }
    const naiveError = this.last === undefined ? 0 : value - this.last;
    const metrics = psiMetrics(this.metricState, {
      value,
      residual: z,
      modelError: value - forecast,
      naiveError,
      naiveScale: this.naiveScale.value,
      spread,
      level: this.seasonal?.level ?? tf?.mean ?? value,
      seasonalOffset: this.seasonal?.offset(),
      likelihood,
    });
    this.learn(value, tf?.mean, sf, naiveError);
    return {
      forecast,
      spread,
      residual: z,
      surprise,
      likelihood,
      score,
      metrics,
      ...(context === undefined ? {} : { context }),
    };
  }

  /** Whether a value lies beyond every value seen so far, by more than the tolerance (then learns it). */
  private beyondRange(value: number): boolean {
    const tolerance = this.opts.rangeTolerance * (this.highest - this.lowest);
    const beyond =
      this.points >= this.opts.warmup &&
      (value > this.highest + tolerance || value < this.lowest - tolerance);
    this.lowest = Math.min(this.lowest, value);
    this.highest = Math.max(this.highest, value);
    return beyond;
  }

  /** Whether the seasonal forecaster has been the better one recently. */
  private seasonLeads(): boolean {
    return (
      this.seasonScale.count >= 5 && this.seasonScale.value < this.opts.seasonEdge * this.trendScale.value
    );
  }

  /** A residual over its forecaster's robust scale (≈ σ for Gaussian noise), or over the filter's own spread. */
  private standardize(e: number, scale: EwScale, fallback: number): number {
    const s = scale.count >= SCALE_POINTS ? 1.25 * scale.value : fallback;
    if (s > 0) return e / s;
    return e === 0 ? 0 : Math.sign(e) * 40;
  }

  private learn(
    value: number,
    trendForecast: number | undefined,
    seasonalForecast: number | undefined,
    naive: number,
  ): void {
    if (trendForecast !== undefined) this.trendScale.add(value - trendForecast);
    if (seasonalForecast !== undefined) this.seasonScale.add(value - seasonalForecast);
    if (this.last !== undefined) this.naiveScale.add(naive);
    this.trend.update(value);
    this.seasonal?.update(value);
    this.last = value;
    this.points++;
    if (this.buffer) {
      this.buffer.push(value);
      if (this.buffer.length >= this.opts.warmup) {
        const period = detectPeriod(this.buffer, this.opts.period);
        if (period > 0) this.seasonal = new SeasonalForecaster(period, this.buffer, this.opts.seasonal);
        this.buffer = undefined;
      }
    }
  }
}
