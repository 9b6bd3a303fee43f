// NAB's scoring, checked on hand-computed cases and against the published per-file scores of NAB's windowedGaussian
// detector (../shared/nab: 48 files, 3 profiles: every score and every TP/TN/FP/FN count must match).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  NAB_PROFILES,
  normalizedScore,
  optimizeThreshold,
  probationaryLength,
  readNabCorpus,
  readPublishedFileScores,
  readPublishedScores,
  scaledSigmoid,
  scoreAt,
  sweep,
  sweepCorpus,
  thresholdCurve,
} from '../src/nab/index.ts';

const standard = NAB_PROFILES['standard']!;

describe('NAB scoring primitives', () => {
  it('the scaled sigmoid has NAB’s documented values', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(1)).toBeCloseTo(-0.98661, 5);
    expect(scaledSigmoid(3)).toBe(-1);
  });

  it('the probationary period is 15% of the rows, at most 750', () => {
    expect(probationaryLength(1000)).toBe(150);
    expect(probationaryLength(4032)).toBe(604);
    expect(probationaryLength(22695)).toBe(750);
  });

  // 100 rows, probation 15; one window over rows 40..49 (times = row numbers).
  const times = Array.from({ length: 100 }, (_, i) => i);
  const windows = [[40, 49] as const];
  const at = (rows: number[]) => {
    const s = new Float64Array(100);
    for (const r of rows) s[r] = 1;
    return sweep('t', times, s, windows);
  };

  it('an early detection scores tpWeight; only the earliest in a window counts', () => {
    const r = scoreAt(at([40, 45]), standard, 1);
    expect(r.score).toBeCloseTo(1, 12);
    expect(r).toMatchObject({ tp: 2, fp: 0, fn: 8, tn: 75 });
  });

  it('a detection at the right edge scores less than one at the left', () => {
    const late = scoreAt(at([49]), standard, 1).score;
    expect(late).toBeCloseTo(scaledSigmoid(-1 / 10) / scaledSigmoid(-1), 12);
    expect(late).toBeLessThan(1);
  });

  it('a missed window costs fnWeight; a false positive before any window costs fpWeight', () => {
    expect(scoreAt(at([]), standard, 1).score).toBe(-1);
    expect(scoreAt(at([20]), standard, 1).score).toBeCloseTo(-1 - 0.11, 12);
    // Probationary rows are never scored.
    expect(scoreAt(at([3]), standard, 1)).toMatchObject({ score: -1, fp: 0, tn: 75 });
  });

  it('a false positive right after a window costs less than one far away', () => {
    const near = scoreAt(at([51]), standard, 1).score + 1;
    const far = scoreAt(at([90]), standard, 1).score + 1;
    expect(near).toBeCloseTo(0.11 * scaledSigmoid(2 / 9), 12);
    expect(far).toBeCloseTo(-0.11, 12);
    expect(near).toBeGreaterThan(far);
  });

  it('the threshold curve agrees with scoring at each threshold, and the optimum is its best row', () => {
    const scores = Float64Array.from(times, (i) =>
      i === 42 ? 0.9 : i === 70 ? 0.95 : ((i * 7919) % 100) / 200,
    );
    const s = sweep('t', times, scores, windows);
    const curve = thresholdCurve([s], standard);
    expect(curve[0]).toMatchObject({ threshold: 1.1, score: -1, tp: 0, fp: 0 });
    for (const row of curve) {
      const direct = scoreAt(s, standard, row.threshold);
      expect({ ...direct, score: 0 }).toEqual({ ...row, score: 0 });
      expect(direct.score).toBeCloseTo(row.score, 12);
    }
    const best = optimizeThreshold([s], standard);
    expect(best.score).toBe(Math.max(...curve.map((r) => r.score)));
    expect(best.threshold).toBe(0.9);
  });

  it('normalizes between the null detector (0) and the perfect one (100)', () => {
    expect(normalizedScore(-83, -83, 85, standard)).toBe(0);
    expect(normalizedScore(85, -83, 85, standard)).toBe(100);
  });
});

// The NAB subset beside the checkout (../shared/nab), or wherever VM_NAB_CORPUS points.
const NAB =
  process.env['VM_NAB_CORPUS'] ?? join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'nab');
const haveNab = existsSync(join(NAB, 'labels', 'combined_windows.json'));
if (!haveNab) console.warn(`SKIPPED: the NAB checks: no corpus at ${NAB}`);

describe.skipIf(!haveNab)('against NAB’s published windowedGaussian scores (../shared/nab)', () => {
  it('every file’s score and counts match, on all three profiles', () => {
    const corpus = readNabCorpus(NAB);
    const swept = sweepCorpus(corpus, readPublishedScores(corpus, 'windowedGaussian'));
    let compared = 0;
    for (const [profile, cost] of Object.entries(corpus.profiles)) {
      const published = readPublishedFileScores(NAB, 'windowedGaussian', profile)!;
      expect(published).toHaveLength(corpus.files.length);
      for (const p of published) {
        const s = swept.find((x) => x.name === p.file)!;
        const ours = scoreAt(s, cost, p.threshold);
        expect(p.total).toBe(s.rows);
        // Counts exactly; the score to the 12 significant digits NAB printed (sums may differ in the last bits).
        expect({ file: p.file, ...ours, score: 0 }).toEqual({ ...p, total: undefined, score: 0 });
        expect(Math.abs(ours.score - p.score), p.file).toBeLessThan(1e-9);
        compared++;
      }
    }
    expect(compared).toBe(3 * 48);
  });
});
