// A Kalman filter on the local linear trend model:
//   y_t = level_t + ε_t,                 ε ~ N(0, r)
//   level_t = level_{t-1} + slope_{t-1} + η_t,   η ~ N(0, qLevel·r)
//   slope_t = slope_{t-1} + ζ_t,               ζ ~ N(0, qSlope·r)
// The noise variance r is not known in advance: it is estimated online from the innovations (an exponentially
// weighted mean of the squared standardized innovation, which is 1 when r is right), so the filter is scale-free.
// qSlope = 0 gives the local level model. Each update costs a fixed handful of multiplications; the state is six
// numbers.

/** A one-step forecast: the mean and the variance of the predictive distribution. */
export interface Forecast {
  readonly mean: number;
  readonly variance: number;
}

/** Options of the local linear trend filter. */
export interface KalmanOptions {
  /** Level noise relative to the observation noise (signal-to-noise ratio). */
  readonly qLevel: number;
  /** Slope noise relative to the observation noise; 0 for a local level model. */
  readonly qSlope: number;
  /** Smoothing of the noise-variance estimate (0 < alpha ≤ 1). */
  readonly alpha: number;
}

export const DEFAULT_KALMAN: KalmanOptions = { qLevel: 0.1, qSlope: 0.001, alpha: 0.02 };

export class LocalTrendFilter {
  private level = 0;
  private slope = 0;
  // Covariance of (level, slope), in units of r.
  private p00 = 1e6;
  private p01 = 0;
  private p11 = 1e6;
  private r = 0;
  private n = 0;

  constructor(private readonly opts: KalmanOptions = DEFAULT_KALMAN) {}

  /** Points seen. */
  get count(): number {
    return this.n;
  }

  /** The one-step-ahead forecast (undefined before the first point). */
  forecast(): Forecast | undefined {
    if (this.n === 0) return undefined;
    return this.forecastAhead(1);
  }

  /** The forecast `h` steps ahead: level + h·slope, with the variance growing along the horizon. */
  forecastAhead(h: number): Forecast {
    const { qLevel, qSlope } = this.opts;
    // Propagate the covariance h steps (closed form for the random walk terms is messy; h is small: iterate).
    let a = this.p00;
    let b = this.p01;
    let c = this.p11;
    for (let k = 0; k < h; k++) {
      const na = a + 2 * b + c + qLevel;
      const nb = b + c;
      const nc = c + qSlope;
      a = na;
      b = nb;
      c = nc;
    }
    const r = Math.max(this.r, 1e-12);
    return { mean: this.level + h * this.slope, variance: (a + 1) * r };
  }

  /** Learns a point (after the caller has scored it against forecast()). */
  update(y: number): void {
    if (this.n === 0) {
      this.level = y;
      this.slope = 0;
      this.p00 = 1;
      this.p01 = 0;
      this.p11 = this.opts.qSlope > 0 ? 1 : 0;
      this.n = 1;
      return;
    }
    const { qLevel, qSlope, alpha } = this.opts;
    // Predict.
    const level = this.level + this.slope;
    const p00 = this.p00 + 2 * this.p01 + this.p11 + qLevel;
    const p01 = this.p01 + this.p11;
    const p11 = this.p11 + qSlope;
    // Innovation, in units of r.
    const e = y - level;
    const s = p00 + 1;
    // Noise variance: the first points set it, then an EW mean of e²/s keeps the standardized innovation at 1.
    this.n++;
    const a = Math.max(alpha, 1 / this.n);
    this.r += a * ((e * e) / s - this.r);
    // Update.
    const k0 = p00 / s;
    const k1 = p01 / s;
    this.level = level + k0 * e;
    this.slope = this.slope + k1 * e;
    this.p00 = p00 - k0 * p00;
    this.p01 = p01 - k0 * p01;
    this.p11 = p11 - k1 * p01;
  }
}
