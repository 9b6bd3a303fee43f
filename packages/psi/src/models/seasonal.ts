// Seasonality: the period detected from the data, and an additive Holt-Winters forecaster on it.
//
// Period detection looks at the autocorrelation of a buffer of the first points (after removing a linear trend)
// and takes the shortest of its local peaks (above a minimum correlation, with at least two cycles in the buffer)
// that is within 5% of the highest, since a period's multiples peak as high as the period. The lags next to it are
// then compared by their seasonal differences, which are sharper than the correlation's flat peak. The buffer is dropped once the period is chosen, so memory stays bounded.

/** Options of period detection. */
export interface PeriodOptions {
  /** Smallest period considered (points). */
  readonly minPeriod: number;
  /** Largest period considered (points); at most half the buffer. */
  readonly maxPeriod: number;
  /** Minimum autocorrelation at the chosen lag. */
  readonly minCorrelation: number;
}

export const DEFAULT_PERIOD: PeriodOptions = { minPeriod: 4, maxPeriod: 2016, minCorrelation: 0.3 };

/** The autocorrelation of `x` at lags 0..maxLag, after removing its least-squares line. */
export function autocorrelation(x: ArrayLike<number>, maxLag: number): Float64Array {
  const n = x.length;
  const out = new Float64Array(maxLag + 1);
  if (n < 2) return out;
  // Detrend.
  let st = 0;
  let sy = 0;
  let stt = 0;
  let sty = 0;
  for (let i = 0; i < n; i++) {
    st += i;
    sy += x[i]!;
    stt += i * i;
    sty += i * x[i]!;
  }
  const den = n * stt - st * st;
  const b = den === 0 ? 0 : (n * sty - st * sy) / den;
  const a = (sy - b * st) / n;
  const d = new Float64Array(n);
  let v = 0;
  for (let i = 0; i < n; i++) {
    d[i] = x[i]! - (a + b * i);
    v += d[i]! * d[i]!;
  }
  if (v === 0) return out;
  // The unbiased estimator (each lag's sum over its own n − lag products): the biased one shrinks with the lag and
  // would pull a noisy peak towards shorter lags.
  for (let lag = 0; lag <= maxLag && lag < n; lag++) {
    let s = 0;
    for (let i = lag; i < n; i++) s += d[i]! * d[i - lag]!;
    out[lag] = s / (n - lag) / (v / n);
  }
  return out;
}

/**
 * The dominant period of `x` in points, or 0 when there is none: among the local maxima of the autocorrelation in
 * [minPeriod, min(maxPeriod, n/2)] that reach minCorrelation, the shortest within 5% of the highest.
 */
export function detectPeriod(x: ArrayLike<number>, opts: PeriodOptions = DEFAULT_PERIOD): number {
  const maxLag = Math.min(opts.maxPeriod, Math.floor(x.length / 2));
  if (maxLag < opts.minPeriod + 1) return 0;
  const acf = autocorrelation(x, maxLag + 1);
  // Local maxima that reach the minimum correlation; the multiples of a period peak too (a sine's at 2P, 3P ... are
  // as high as its own), so the shortest peak within 5% of the highest is the period.
  const peaks: number[] = [];
  let highest = 0;
  for (let lag = opts.minPeriod; lag <= maxLag; lag++) {
    const c = acf[lag]!;
    if (c >= opts.minCorrelation && c >= acf[lag - 1]! && c >= acf[lag + 1]!) {
      peaks.push(lag);
      highest = Math.max(highest, c);
    }
  }
  const best = peaks.find((lag) => acf[lag]! >= 0.95 * highest) ?? 0;
  return best === 0 ? 0 : refinePeriod(x, best, maxLag, opts.minPeriod);
}

/**
 * The autocorrelation peak of a smooth season is flat (cos of a small offset), so noise can move it by a point or two:
 * among lags within 2% (at least 2) of the peak, the one whose seasonal difference x[t] − x[t−lag] has the least mean
 * square wins.
 */
function refinePeriod(x: ArrayLike<number>, lag: number, maxLag: number, minPeriod: number): number {
  const reach = Math.max(2, Math.round(lag * 0.02));
  let best = lag;
  let bestMsd = Infinity;
  for (let l = Math.max(minPeriod, lag - reach); l <= Math.min(maxLag, lag + reach); l++) {
    let s = 0;
    for (let i = l; i < x.length; i++) {
      const d = x[i]! - x[i - l]!;
      s += d * d;
    }
    const msd = s / (x.length - l);
    if (msd < bestMsd) {
      best = l;
      bestMsd = msd;
    }
  }
  return best;
}

/** Options of the Holt-Winters forecaster. */
export interface SeasonalOptions {
  /** Level smoothing. */
  readonly alpha: number;
  /** Seasonal smoothing. */
  readonly gamma: number;
}

export const DEFAULT_SEASONAL: SeasonalOptions = { alpha: 0.1, gamma: 0.1 };

/**
 * Additive Holt-Winters without trend (the trend is the Kalman filter's job): level and one seasonal offset per
 * phase. Memory: the period's offsets.
 */
export class SeasonalForecaster {
  private base = 0;
  private readonly season: Float64Array;
  private phase = 0;
  private seen = 0;

  constructor(
    readonly period: number,
    init: ArrayLike<number>,
    private readonly opts: SeasonalOptions = DEFAULT_SEASONAL,
  ) {
    this.season = new Float64Array(period);
    // Initialize from the buffer: the level is the mean of the last full cycle; offsets are the mean deviation of
    // each phase over the buffer's cycles.
    const n = init.length;
    const cycles = Math.floor(n / period);
    if (cycles >= 1) {
      const start = n - cycles * period;
      let mean = 0;
      for (let i = start; i < n; i++) mean += init[i]!;
      mean /= cycles * period;
      for (let i = start; i < n; i++) this.season[(i - start) % period]! += (init[i]! - mean) / cycles;
      let last = 0;
      for (let i = n - period; i < n; i++) last += init[i]!;
      this.base = last / period;
      this.phase = (n - start) % period;
      this.seen = n;
    }
  }

  /** The deseasonalized level. */
  get level(): number {
    return this.base;
  }

  /** The seasonal offset of the next point. */
  offset(): number {
    return this.season[this.phase]!;
  }

  /** The forecast of the next point. */
  forecast(): number {
    return this.base + this.season[this.phase]!;
  }

  /** The forecast `h` steps ahead. */
  forecastAhead(h: number): number {
    return this.base + this.season[(this.phase + h - 1) % this.period]!;
  }

  update(y: number): void {
    const { alpha, gamma } = this.opts;
    const s = this.season[this.phase]!;
    this.base = alpha * (y - s) + (1 - alpha) * this.base;
    this.season[this.phase] = gamma * (y - this.base) + (1 - gamma) * s;
    this.phase = (this.phase + 1) % this.period;
    this.seen++;
  }
}
