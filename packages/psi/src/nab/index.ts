// @vaultmesh/psi/nab: the Numenta Anomaly Benchmark: its scoring, reading a corpus in its layout, and running
// detectors through its protocol.
export {
  NAB_PROBATION_PERCENT,
  NAB_PROFILES,
  normalizedScore,
  optimizeThreshold,
  probationaryLength,
  scaledSigmoid,
  scoreAt,
  sweep,
  thresholdCurve,
} from './scorer.ts';
export type { CostMatrix, SweptSeries, ThresholdScore, Window } from './scorer.ts';
export { publishedDetectors, readNabCorpus, readPublishedFileScores, readPublishedScores } from './corpus.ts';
export type { NabCorpus, NabFile, PublishedFileScore } from './corpus.ts';
export { NAB_DETECTORS, nullBaseline, runDetector, scoreDetector, sweepCorpus } from './run.ts';
export type { NabDetector, ProfileResult } from './run.ts';
