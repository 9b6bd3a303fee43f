// Small numeric helpers shared by the models: the Gaussian tail, and exponentially weighted moments that take
// O(1) memory whatever the length of the stream.

/** erfc(x), Numerical Recipes' Chebyshev fit (relative error < 1.2e-7 everywhere). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** The Gaussian upper tail Q(z) = P(Z > z). */
export function gaussianTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** An exponentially weighted mean and variance with smoothing `alpha` (span ≈ 2/alpha). */
export class EwMoments {
  mean = 0;
  variance = 0;
  count = 0;
  constructor(readonly alpha: number) {}

  /** Adds a value; the first `1/alpha` values are averaged equally, so early estimates are not biased to the first. */
  add(x: number): void {
    this.count++;
    const a = Math.max(this.alpha, 1 / this.count);
    const d = x - this.mean;
    this.mean += a * d;
    this.variance = (1 - a) * (this.variance + a * d * d);
  }

  get std(): number {
    return Math.sqrt(this.variance);
  }
}

/** An exponentially weighted mean of |x| (a robust scale that a single outlier moves by at most alpha·|x|). */
export class EwScale {
  value = 0;
  count = 0;
  constructor(readonly alpha: number) {}

  add(x: number): void {
    this.count++;
    const a = Math.max(this.alpha, 1 / this.count);
    this.value += a * (Math.abs(x) - this.value);
  }
}
