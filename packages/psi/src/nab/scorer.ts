// The Numenta Anomaly Benchmark's scoring (NAB v1.1, nab/sweeper.py and nab/runner.py), pure: anomaly windows,
// the scaled sigmoid, the probationary period, the cost-matrix profiles, the threshold that maximizes the score over
// the whole corpus, and the normalization between the null detector (0) and the perfect one (100).
//
// A row is a detection when its anomaly score is at least the threshold. Inside a window only the earliest detection
// counts: it scores tpWeight at the window's left edge, falling along a sigmoid to 0 at its right edge; a window
// without a detection costs fnWeight. A detection outside every window costs fpWeight, less the closer it follows
// the previous window. Rows of the probationary period (the first 15%, at most 750 rows) are not scored.

/** The weights of a NAB scoring profile (config/profiles.json's CostMatrix). */
export interface CostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

/** NAB's three profiles, as its config/profiles.json defines them. */
export const NAB_PROFILES: Readonly<Record<string, CostMatrix>> = {
  standard: { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 },
  reward_low_FP_rate: { tpWeight: 1, fpWeight: 0.22, fnWeight: 1 },
  reward_low_FN_rate: { tpWeight: 1, fpWeight: 0.11, fnWeight: 2 },
};

/** The share of each series that is probationary (never scored), as in NAB. */
export const NAB_PROBATION_PERCENT = 0.15;

/** NAB's probationary length: 15% of the rows, at most 750 (15% of 5000). */
export function probationaryLength(rows: number, percent = NAB_PROBATION_PERCENT): number {
  return Math.min(Math.floor(percent * rows), percent * 5000);
}

/** NAB's scaled sigmoid of a relative position: 0.987 at a window's left edge (-1), 0 at its right (0), -1 from 3 on. */
export function scaledSigmoid(position: number): number {
  if (position >= 3) return -1;
  return 2 / (1 + Math.exp(5 * position)) - 1;
}

const MAX_TP = scaledSigmoid(-1);

/** Row roles in a swept series. */
const PROBATIONARY = -2;
const OUTSIDE = -1;

/**
 * One series prepared for scoring (profile-independent): per row its anomaly score, its window (an index into the
 * series' windows, OUTSIDE, or PROBATIONARY) and the unweighted sweep value (the TP shape inside a window, the FP
 * shape outside).
 */
export interface SweptSeries {
  readonly name: string;
  readonly rows: number;
  readonly scores: Float64Array;
  readonly window: Int32Array;
  readonly shape: Float64Array;
  /** Windows with at least one scored (non-probationary) row: each costs fnWeight unless detected. */
  readonly scoredWindows: readonly number[];
  readonly windowCount: number;
}

/** A window as inclusive [start, end] times (ms); rows are matched by time. */
export type Window = readonly [number, number];

/**
 * Assigns every row to its window and computes the sweep shape (nab/sweeper.py calcSweepScore). A window spans the
 * rows whose times lie in [start, end]; NAB's windows start and end on row times, and this also accepts windows that
 * do not (the first row at or after the start to the last at or before the end).
 */
export function sweep(
  name: string,
  times: ArrayLike<number>,
  scores: ArrayLike<number>,
  windows: readonly Window[],
  probationPercent = NAB_PROBATION_PERCENT,
): SweptSeries {
  const n = times.length;
  if (scores.length !== n) throw new RangeError(`${name}: ${scores.length} scores for ${n} rows`);
  const sorted = [...windows].sort((a, b) => a[0] - b[0]);
  const probation = probationaryLength(n, probationPercent);
  const window = new Int32Array(n).fill(OUTSIDE);
  const shape = new Float64Array(n);
  const out = Float64Array.from(scores);
  const scored = new Set<number>();
  let w = 0;
  let prevRight = -1;
  let prevWidth = 0;
  let i = 0;
  while (i < n) {
    // Skip windows that end before this row (or hold no row at all).
    while (w < sorted.length && sorted[w]![1] < times[i]!) w++;
    const win = sorted[w];
    if (win && times[i]! >= win[0]) {
      let right = i;
      while (right + 1 < n && times[right + 1]! <= win[1]) right++;
      const width = right - i + 1;
      for (let k = i; k <= right; k++) {
        shape[k] = scaledSigmoid(-(right - k + 1) / width) / MAX_TP;
        if (k >= probation) {
          window[k] = w;
          scored.add(w);
        } else window[k] = PROBATIONARY;
      }
      prevRight = right;
      prevWidth = width;
      i = right + 1;
      w++;
      continue;
    }
    shape[i] = scaledSigmoid(prevRight < 0 ? 3 : Math.abs(prevRight - i) / (prevWidth - 1));
    if (i < probation) window[i] = PROBATIONARY;
    i++;
  }
  return {
    name,
    rows: n,
    scores: out,
    window,
    shape,
    scoredWindows: [...scored].sort((a, b) => a - b),
    windowCount: sorted.length,
  };
}

/** The outcome of one series (or a corpus) at one threshold. */
export interface ThresholdScore {
  readonly threshold: number;
  readonly score: number;
  readonly tp: number;
  readonly tn: number;
  readonly fp: number;
  readonly fn: number;
}

/** Scores one swept series at a threshold (a row with anomaly score ≥ threshold is a detection). */
export function scoreAt(s: SweptSeries, cost: CostMatrix, threshold: number): ThresholdScore {
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  let fpScore = 0;
  const best = new Map<number, number>();
  for (let i = 0; i < s.rows; i++) {
    const w = s.window[i]!;
    if (w === PROBATIONARY) continue;
    const detected = s.scores[i]! >= threshold;
    if (w === OUTSIDE) {
      if (detected) {
        fp++;
        fpScore += s.shape[i]! * cost.fpWeight;
      } else tn++;
    } else if (detected) {
      tp++;
      const v = s.shape[i]! * cost.tpWeight;
      best.set(w, Math.max(best.get(w) ?? -Infinity, v));
    } else fn++;
  }
  let score = fpScore;
  for (const w of s.scoredWindows) score += best.get(w) ?? -cost.fnWeight;
  return { threshold, score, tp, tn, fp, fn };
}

/**
 * Every distinct threshold of a set of series pooled together, with the pooled score at it (nab/sweeper.py
 * calcScoreByThreshold): the first row is threshold 1.1 (nothing detected), then each distinct anomaly score from
 * the highest down, each row counting every scored row with an anomaly score at least that high.
 */
export function thresholdCurve(series: readonly SweptSeries[], cost: CostMatrix): ThresholdScore[] {
  let total = 0;
  for (const s of series) total += s.rows;
  const scores = new Float64Array(total);
  const role = new Int32Array(total);
  const value = new Float64Array(total);
  let m = 0;
  let windowBase = 0;
  let windowParts = 0;
  let tn = 0;
  let fn = 0;
  for (const s of series) {
    for (let i = 0; i < s.rows; i++) {
      const w = s.window[i]!;
      if (w === PROBATIONARY) continue;
      scores[m] = s.scores[i]!;
      role[m] = w === OUTSIDE ? OUTSIDE : windowBase + w;
      value[m] = w === OUTSIDE ? s.shape[i]! * cost.fpWeight : s.shape[i]! * cost.tpWeight;
      if (w === OUTSIDE) tn++;
      else fn++;
      m++;
    }
    windowParts -= s.scoredWindows.length * cost.fnWeight;
    windowBase += s.windowCount;
  }
  const order = Array.from({ length: m }, (_, k) => k).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const best = new Float64Array(windowBase).fill(-cost.fnWeight);
  let fpScore = 0;
  let tp = 0;
  let fp = 0;
  const curve: ThresholdScore[] = [];
  let current = 1.1;
  for (const k of order) {
    if (scores[k] !== current) {
      curve.push({ threshold: current, score: fpScore + windowParts, tp, tn, fp, fn });
      current = scores[k]!;
    }
    const w = role[k]!;
    if (w === OUTSIDE) {
      fp++;
      tn--;
      fpScore += value[k]!;
    } else {
      tp++;
      fn--;
      if (value[k]! > best[w]!) {
        windowParts += value[k]! - best[w]!;
        best[w] = value[k]!;
      }
    }
  }
  curve.push({ threshold: current, score: fpScore + windowParts, tp, tn, fp, fn });
  return curve;
}

/** The threshold with the highest pooled score (ties: the highest threshold), as nab/optimizer.py chooses it. */
export function optimizeThreshold(series: readonly SweptSeries[], cost: CostMatrix): ThresholdScore {
  let best: ThresholdScore | undefined;
  for (const row of thresholdCurve(series, cost)) if (!best || row.score > best.score) best = row;
  return best!;
}

/** NAB's normalized score: 100 × (raw − null) / (perfect − null), perfect being tpWeight per labelled anomaly. */
export function normalizedScore(raw: number, nullRaw: number, labels: number, cost: CostMatrix): number {
  const perfect = labels * cost.tpWeight;
  return (100 * (raw - nullRaw)) / (perfect - nullRaw);
}
