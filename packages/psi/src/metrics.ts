// The five Ψ metrics of a series, each defined on the model's own forecasts, and Ψ, their combination.
//
//   prediction error   |z|: the standardized residual of the point against the forecast made before it.
//   futurity           forecast skill against the naive (persistence) forecast: 1 − EW|e_model| / EW|e_naive|;
//                      1 is perfect, 0 no better than "same as last", below 0 worse (clamped at −1).
//   continuity         agreement with the recent past: 1 / (1 + |x_t − x_{t−1}| / σ_Δ), σ_Δ the typical step;
//                      1 for a step of 0, 0.5 for a typical step.
//   temporal entropy   the differential entropy (bits) of the predictive distribution (Gaussian, its spread) in
//                      units of the series' own spread: log2(σ_pred / σ_series) + ½·log2(2πe). Lower is sharper.
//   phase coherence    the EW correlation between the point's deviation from the level and the seasonal offset
//                      the model expected at its phase, in [−1, 1]; 0 where no period was found.
//   Ψ                  the geometric mean of (1 − anomaly likelihood), (1 + futurity)/2, continuity and, where a
//                      period was found, (1 + phase coherence)/2: 1 for a series that behaves as forecast.
// Exponentially weighted with α = 0.02 (a span of about 100 points); O(1) memory.
//
// Ψ of a service: the geometric mean of the Ψ of its series, a service being the part of a series' name before its
// first dot (`aurora.rtt.local` belongs to `aurora`; a name without a dot is a service of its own). One series that
// behaves unexpectedly pulls its service down more than an arithmetic mean would.
import { EwMoments, EwScale } from './models/stats.ts';

/** The Ψ metrics of one point. */
export interface PsiMetrics {
  readonly predictionError: number;
  readonly futurity: number;
  readonly continuity: number;
  readonly temporalEntropy: number;
  readonly phaseCoherence: number;
  readonly psi: number;
}

/** What the metrics are computed from (one point, as the series model saw it). */
export interface MetricInputs {
  readonly value: number;
  readonly residual: number;
  readonly modelError: number;
  readonly naiveError: number;
  readonly naiveScale: number;
  readonly spread: number;
  readonly level: number;
  readonly seasonalOffset: number | undefined;
  readonly likelihood: number;
}

const ALPHA = 0.02;
const HALF_LOG2_2PIE = 0.5 * Math.log2(2 * Math.PI * Math.E);

/** The running state behind the metrics of one series. */
export class MetricState {
  readonly modelAbs = new EwScale(ALPHA);
  readonly naiveAbs = new EwScale(ALPHA);
  readonly values = new EwMoments(ALPHA);
  readonly dev2 = new EwScale(ALPHA);
  readonly off2 = new EwScale(ALPHA);
  cross = 0;
  crossCount = 0;
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/** The metrics of a point; updates the state. */
export function psiMetrics(state: MetricState, p: MetricInputs): PsiMetrics {
  state.modelAbs.add(p.modelError);
  state.naiveAbs.add(p.naiveError);
  state.values.add(p.value);
  const futurity =
    state.naiveAbs.value > 0 ? clamp(1 - state.modelAbs.value / state.naiveAbs.value, -1, 1) : 0;
  const step = 1.25 * p.naiveScale;
  const continuity = step > 0 ? 1 / (1 + Math.abs(p.naiveError) / step) : p.naiveError === 0 ? 1 : 0;
  const sd = state.values.std;
  const temporalEntropy = sd > 0 && p.spread > 0 ? Math.log2(p.spread / sd) + HALF_LOG2_2PIE : 0;
  let phaseCoherence = 0;
  if (p.seasonalOffset !== undefined) {
    const dev = p.value - p.level;
    state.dev2.add(dev * dev);
    state.off2.add(p.seasonalOffset * p.seasonalOffset);
    state.crossCount++;
    const a = Math.max(ALPHA, 1 / state.crossCount);
    state.cross += a * (dev * p.seasonalOffset - state.cross);
    const den = Math.sqrt(state.dev2.value * state.off2.value);
    phaseCoherence = den > 0 ? clamp(state.cross / den, -1, 1) : 0;
  }
  const parts = [1 - p.likelihood, (1 + futurity) / 2, continuity];
  if (p.seasonalOffset !== undefined) parts.push((1 + phaseCoherence) / 2);
  let logSum = 0;
  for (const x of parts) logSum += Math.log(Math.max(x, 1e-12));
  return {
    predictionError: Math.abs(p.residual),
    futurity,
    continuity,
    temporalEntropy,
    phaseCoherence,
    psi: Math.exp(logSum / parts.length),
  };
}

/** The service a series belongs to: its name up to the first dot. */
export function serviceOf(series: string): string {
  const k = series.indexOf('.');
  return k < 0 ? series : series.slice(0, k);
}

/** Ψ per service: the geometric mean of its series' Ψ (series without a point yet are left out). */
export function servicePsi(
  series: readonly { name: string; psi: number | undefined }[],
): { name: string; psi: number; series: number }[] {
  const groups = new Map<string, number[]>();
  for (const s of series) {
    if (s.psi === undefined || !Number.isFinite(s.psi)) continue;
    const g = serviceOf(s.name);
    groups.set(g, [...(groups.get(g) ?? []), s.psi]);
  }
  return [...groups]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([name, ps]) => ({
      name,
      psi: Math.exp(ps.reduce((a, p) => a + Math.log(Math.max(p, 1e-12)), 0) / ps.length),
      series: ps.length,
    }));
}
