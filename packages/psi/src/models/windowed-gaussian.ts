// NAB's windowedGaussian baseline detector (nab/detectors/gaussian/windowedGaussian_detector.py), reimplemented to
// check our runner against its published per-row outputs: each point is scored by its Gaussian tail against the
// mean and standard deviation of a window of up to 6400 earlier points, which slides forward 100 points at a time.
import { gaussianTail } from './stats.ts';

const WINDOW = 6400;
const STEP = 100;

export class WindowedGaussian {
  private window: number[] = [];
  private step: number[] = [];
  private mean = 0;
  private std = 1;
  // Welford's running moments while the window grows (numpy's two-pass values to ~1e-12; O(1) per point).
  private m2 = 0;

  /** The anomaly score of a point (1 − the one-sided Gaussian tail beyond it), then learns it. */
  update(value: number): number {
    const score = this.window.length > 0 ? 1 - gaussianTail(Math.abs(value - this.mean) / this.std) : 0;
    if (this.window.length < WINDOW) {
      this.window.push(value);
      const n = this.window.length;
      const wasMean = n === 1 ? 0 : this.mean;
      const mean = wasMean + (value - wasMean) / n;
      this.m2 = n === 1 ? 0 : this.m2 + (value - wasMean) * (value - mean);
      this.mean = mean;
      this.std = Math.sqrt(this.m2 / n) || 0.000001;
    } else {
      this.step.push(value);
      if (this.step.length === STEP) {
        this.window = this.window.slice(STEP).concat(this.step);
        this.step = [];
        this.refresh();
      }
    }
    return score;
  }

  /** Mean and (population) standard deviation of the window, two-pass, as numpy computes them. */
  private refresh(): void {
    const n = this.window.length;
    let mean = 0;
    for (const v of this.window) mean += v;
    mean /= n;
    let v2 = 0;
    for (const v of this.window) v2 += (v - mean) * (v - mean);
    this.mean = mean;
    this.std = Math.sqrt(v2 / n) || 0.000001;
  }
}
