// Ψ-Field: the series model's cost per point and memory per series, without and with a known range (the context
// detector beside it), each beside a baseline measured in the same run, and the NAB scores (standard, low FP, low FN)
// on the corpus in ../shared/nab (or VM_NAB_CORPUS) beside windowedGaussian's published rows, scored by the same
// scorer: under NAB's protocol (each file's range given, as NAB gives every detector) and blind (no range).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SeriesModel, WindowedGaussian } from '@vaultmesh/psi';
import {
  nullBaseline,
  readNabCorpus,
  readPublishedScores,
  runDetector,
  scoreDetector,
  sweepCorpus,
  type NabDetector,
} from '@vaultmesh/psi/nab';
import type { BenchResult } from './result.ts';

/** A deterministic uniform generator in [0, 1) (a 32-bit linear congruential one). */
function uniform(seed: number): () => number {
  let x = seed;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** A daily-seasonal series with noise and a few spikes (5-minute points). */
function series(n: number): Float64Array {
  const u = uniform(12345);
  return Float64Array.from(
    { length: n },
    (_, t) => 50 + 10 * Math.sin((2 * Math.PI * t) / 288) + 2 * u() + (t % 5000 === 4999 ? 30 : 0),
  );
}

/** The bounds given the synthetic series when a range is measured (its values stay within them). */
const RANGE = { min: 0, max: 150 };

/** Microseconds per point of `update` over `values`, best of three passes (fresh state each pass). */
function perPoint(values: Float64Array, make: () => { update(v: number): unknown }): number {
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const d = make();
    const t = performance.now();
    for (let i = 0; i < values.length; i++) d.update(values[i]!);
    best = Math.min(best, ((performance.now() - t) * 1000) / values.length);
  }
  return best;
}

/** Heap bytes per live detector, `count` of them, each fed `points` points. */
function bytesPerSeries(
  count: number,
  points: Float64Array,
  make: () => { update(v: number): unknown },
): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // Typed arrays keep their bytes outside the V8 heap: count both.
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  for (let k = 0; k < 3; k++) gc();
  const before = used();
  const live: unknown[] = [];
  for (let k = 0; k < count; k++) {
    const d = make();
    for (let i = 0; i < points.length; i++) d.update(points[i]!);
    live.push(d);
  }
  for (let k = 0; k < 3; k++) gc();
  const bytes = (used() - before) / count;
  if (live.length !== count) throw new Error('unreachable');
  return bytes;
}

export async function benchPsi(): Promise<BenchResult[]> {
  const values = series(200_000);
  const psiUs = perPoint(values, () => new SeriesModel());
  const wgUs = perPoint(values, () => new WindowedGaussian());
  // Past the 600-point warm-up (the period buffer is gone, the seasonal offsets are allocated).
  const warm = values.subarray(0, 1000);
  const psiBytes = bytesPerSeries(2000, warm, () => new SeriesModel());
  const wgBytes = bytesPerSeries(200, values.subarray(0, 8000), () => new WindowedGaussian());
  // With a range, memory grows with the contexts learned, up to maxContexts: after two weeks of 5-minute points of the
  // seasonal series, and of pure noise over the range (which reaches the bound).
  const rangedBytes = bytesPerSeries(50, values.subarray(0, 4032), () => new SeriesModel(undefined, RANGE));
  const u = uniform(7);
  const noise = Float64Array.from({ length: 4032 }, () => RANGE.max * u());
  const boundBytes = bytesPerSeries(10, noise, () => new SeriesModel(undefined, RANGE));
  /** Memory per series beside windowedGaussian's. */
  const memory = (name: string, bytes: number): BenchResult => ({
    name,
    value: bytes,
    unit: 'B',
    baselineName: 'NAB windowedGaussian per series (6,400-point window)',
    baseline: wgBytes,
    ratio: bytes / wgBytes,
    target: '(report)',
    pass: true,
  });
  const results: BenchResult[] = [
    {
      name: 'Ψ series model, cost per point (µs; 200,000-point seasonal series)',
      value: psiUs,
      unit: 'µs',
      baselineName: 'NAB windowedGaussian per point',
      baseline: wgUs,
      ratio: psiUs / wgUs,
      target: '< 20 µs',
      pass: psiUs < 20,
    },
    memory('Ψ series model, memory per series (bytes; period 288, after warm-up)', psiBytes),
    memory(
      'Ψ with a known range, memory per series (bytes; 4,032 points of the seasonal series)',
      rangedBytes,
    ),
    memory(
      'Ψ with a known range, memory per series at its bound (bytes; 4,032 points of noise, maxContexts)',
      boundBytes,
    ),
  ];
  const corpusDir =
    process.env['VM_NAB_CORPUS'] ?? join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'nab');
  if (!existsSync(join(corpusDir, 'labels', 'combined_windows.json'))) {
    console.warn(`SKIPPED: the NAB scores: no corpus at ${corpusDir} (set VM_NAB_CORPUS)`);
    return results;
  }
  const corpus = readNabCorpus(corpusDir);
  const nullRaw = nullBaseline(corpus);
  const rows = corpus.files.reduce((a, f) => a + f.values.length, 0);
  const timed = (detector: NabDetector) => {
    const started = performance.now();
    const scores = runDetector(corpus, detector);
    return { us: ((performance.now() - started) * 1000) / rows, scores };
  };
  const ranged = timed('psi');
  const blind = timed('psi-blind');
  const contextRun = timed('context');
  const scored = (scores: ReadonlyMap<string, ArrayLike<number>>) =>
    scoreDetector(corpus, sweepCorpus(corpus, scores), nullRaw);
  const wg = scored(
    existsSync(join(corpusDir, 'results', 'windowedGaussian'))
      ? readPublishedScores(corpus, 'windowedGaussian')
      : runDetector(corpus, 'windowedGaussian'),
  );
  const scoredRows: [string, ReturnType<typeof scored>][] = [
    ['NAB score, NAB protocol (each file’s range given; context detector beside)', scored(ranged.scores)],
    ['NAB score, blind (no range: the model alone)', scored(blind.scores)],
    ['NAB score of the context detector alone (file range)', scored(contextRun.scores)],
  ];
  for (const [label, profiles] of scoredRows)
    for (const [k, p] of profiles.entries()) {
      const base = wg[k]!.normalized!;
      results.push({
        name: `${label}, ${p.profile} (${corpus.files.length} files; null detector 0, perfect 100)`,
        value: p.normalized!,
        unit: '',
        baselineName: 'windowedGaussian, same files and scorer',
        baseline: base,
        ratio: p.normalized! / base,
        target: '> windowedGaussian',
        pass: p.normalized! > base,
      });
    }
  results.push(
    {
      name: 'Ψ with each file’s range (context detector beside), cost per point over the NAB files (µs)',
      value: ranged.us,
      unit: 'µs',
      baselineName: 'the model alone (blind) over the same files',
      baseline: blind.us,
      ratio: ranged.us / blind.us,
      target: '< 20 µs',
      pass: ranged.us < 20,
    },
    {
      name: 'context detector alone, cost per point over the NAB files (µs)',
      value: contextRun.us,
      unit: 'µs',
      baselineName: 'the model alone (blind) over the same files',
      baseline: blind.us,
      ratio: contextRun.us / blind.us,
      target: '(report)',
      pass: true,
    },
  );
  return results;
}
