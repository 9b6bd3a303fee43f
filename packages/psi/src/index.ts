// @vaultmesh/psi: Ψ-Field: online forecasting and anomaly detection on time series (per series O(1) memory), the Ψ
// metrics, CSV series, and the NAB benchmark's scoring (also at @vaultmesh/psi/nab).
export { PsiError } from './errors.ts';
export type { PsiErrorCode, PsiErrorEvidence } from './errors.ts';
export { DEFAULT_DETECTOR, SeriesModel } from './detector.ts';
export type { DetectorOptions, PointScore, RangedOptions, ValueRange } from './detector.ts';
export { serviceOf, servicePsi } from './metrics.ts';
export type { PsiMetrics } from './metrics.ts';
export { PsiField } from './field.ts';
export { ForecastBook, forecastSkill } from './commitments.ts';
export type { CommittedBatch, CommittedPoint, ForecastsBody, SkillReport } from './commitments.ts';
export type { AnomalyEpisode, FieldOptions, FieldPoint, Observation, SeriesSummary } from './field.ts';
export { DEFAULT_KALMAN, LocalTrendFilter } from './models/kalman.ts';
export type { Forecast, KalmanOptions } from './models/kalman.ts';
export {
  DEFAULT_PERIOD,
  DEFAULT_SEASONAL,
  SeasonalForecaster,
  autocorrelation,
  detectPeriod,
} from './models/seasonal.ts';
export type { PeriodOptions, SeasonalOptions } from './models/seasonal.ts';
export { WindowedGaussian } from './models/windowed-gaussian.ts';
export { ContextDetector, DEFAULT_CONTEXT } from './models/context.ts';
export type { ContextOptions } from './models/context.ts';
export { gaussianTail } from './models/stats.ts';
export { parseCsvSeries, parseTimestamp } from './csv.ts';
export type { CsvSeries } from './csv.ts';
