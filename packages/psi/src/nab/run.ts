// Running detectors through NAB's protocol and scoring them: every file is streamed point by point (each point scored
// before it is learned, one parameter set for every file), then each profile's threshold is chosen over the whole
// corpus and the raw score normalized between the null detector and the perfect one.
import { DEFAULT_DETECTOR, SeriesModel, type DetectorOptions, type ValueRange } from '../detector.ts';
import { ContextDetector, DEFAULT_CONTEXT } from '../models/context.ts';
import { WindowedGaussian } from '../models/windowed-gaussian.ts';
import type { NabCorpus } from './corpus.ts';
import {
  normalizedScore,
  optimizeThreshold,
  probationaryLength,
  scoreAt,
  sweep,
  type SweptSeries,
  type ThresholdScore,
} from './scorer.ts';

/**
 * Detectors this package can run: ours under NAB's protocol (`psi`: given each file's min and max, as NAB's harness
 * gives every detector its inputMin/inputMax, so the context detector runs beside the model) and blind (`psi-blind`:
 * no range, the model alone, as on a live metric without natural bounds), NAB's null detector, NAB's
 * windowedGaussian baseline, and the context detector alone. The context detector rests a fifth of the probation
 * after a high score, as NAB runs CAD OSE.
 */
export type NabDetector = 'psi' | 'psi-blind' | 'null' | 'windowedGaussian' | 'context';
export const NAB_DETECTORS: readonly NabDetector[] = [
  'psi',
  'psi-blind',
  'null',
  'windowedGaussian',
  'context',
];

/** A file's min and max (what NAB gives a detector as inputMin and inputMax). */
function rangeOf(values: ArrayLike<number>): ValueRange {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    min = Math.min(min, values[i]!);
    max = Math.max(max, values[i]!);
  }
  return { min, max };
}

/**
 * A fresh detector for one file, as a function from a point to its score. The context detector rests a fifth of the
 * probation, as NAB runs CAD OSE: alone with CAD OSE's parameters, beside the model with the model's.
 */
function detectorFor(
  detector: NabDetector,
  values: ArrayLike<number>,
  opts: DetectorOptions,
): (value: number) => number {
  const restPoints = Math.floor(probationaryLength(values.length) / 5);
  switch (detector) {
    case 'null':
      return () => 0.5;
    case 'windowedGaussian': {
      const d = new WindowedGaussian();
      return (v) => d.update(v);
    }
    case 'context': {
      const d = new ContextDetector(rangeOf(values), { ...DEFAULT_CONTEXT, restPoints });
      return (v) => d.update(v);
    }
    case 'psi': {
      const context = { ...opts.ranged.context, restPoints };
      const m = new SeriesModel({ ...opts, ranged: { ...opts.ranged, context } }, rangeOf(values));
      return (v) => m.update(v).score;
    }
    case 'psi-blind': {
      const m = new SeriesModel(opts);
      return (v) => m.update(v).score;
    }
  }
}

/** Anomaly scores of one detector for every file of the corpus, streamed online. */
export function runDetector(
  corpus: NabCorpus,
  detector: NabDetector,
  opts: DetectorOptions = DEFAULT_DETECTOR,
  onFile?: (path: string, done: number, total: number) => void,
): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  corpus.files.forEach((f, k) => {
    const score = detectorFor(detector, f.values, opts);
    const scores = new Float64Array(f.values.length);
    for (let i = 0; i < f.values.length; i++) scores[i] = score(f.values[i]!);
    out.set(f.path, scores);
    onFile?.(f.path, k + 1, corpus.files.length);
  });
  return out;
}

/** One profile's outcome for a detector: the chosen threshold, raw and normalized scores, and each file's part. */
export interface ProfileResult {
  readonly profile: string;
  readonly threshold: number;
  readonly raw: number;
  /** 100 × (raw − null) / (perfect − null); undefined when no null score was given. */
  readonly normalized: number | undefined;
  readonly counts: { tp: number; tn: number; fp: number; fn: number };
  readonly files: readonly (ThresholdScore & { file: string })[];
}

/** Sweeps every file once (the sweep does not depend on the profile). */
export function sweepCorpus(
  corpus: NabCorpus,
  scores: ReadonlyMap<string, ArrayLike<number>>,
): SweptSeries[] {
  return corpus.files.map((f) => {
    const s = scores.get(f.path);
    if (!s) throw new RangeError(`no scores for ${f.path}`);
    return sweep(f.path, f.times, s, f.windows);
  });
}

/**
 * Scores a detector on every profile of the corpus: the threshold that maximizes the pooled score, and the score
 * normalized against `nullRaw` (the null detector's raw score per profile) when given.
 */
export function scoreDetector(
  corpus: NabCorpus,
  swept: readonly SweptSeries[],
  nullRaw?: Readonly<Record<string, number>>,
  thresholds?: Readonly<Record<string, number>>,
): ProfileResult[] {
  return Object.entries(corpus.profiles).map(([profile, cost]) => {
    const threshold = thresholds?.[profile] ?? optimizeThreshold(swept, cost).threshold;
    const files = swept.map((s) => ({ file: s.name, ...scoreAt(s, cost, threshold) }));
    const raw = files.reduce((a, f) => a + f.score, 0);
    const counts = { tp: 0, tn: 0, fp: 0, fn: 0 };
    for (const f of files) {
      counts.tp += f.tp;
      counts.tn += f.tn;
      counts.fp += f.fp;
      counts.fn += f.fn;
    }
    const base = nullRaw?.[profile];
    return {
      profile,
      threshold,
      raw,
      normalized: base === undefined ? undefined : normalizedScore(raw, base, corpus.labelCount, cost),
      counts,
      files,
    };
  });
}

/** The null detector's raw score per profile (a constant 0.5 everywhere, threshold optimized like any detector). */
export function nullBaseline(corpus: NabCorpus): Record<string, number> {
  const swept = sweepCorpus(corpus, runDetector(corpus, 'null'));
  return Object.fromEntries(scoreDetector(corpus, swept).map((r) => [r.profile, r.raw]));
}
