// The canary SLO report of a treaty: its KPIs measured over a window from what the router stored about every
// decision and placement attempt (the node's own metrics history: per-decision policy latency and provider round
// trips, per-attempt outcomes, and the route receipts on the ledger). Pure: the server reads the history and the
// ledger, signs (DSSE) and records the result.
import type { DecisionRecord, RouteOutcome } from './router.ts';
import type { Treaty } from './treaty.ts';

export const SLO_REPORT_VERSION = 1;
export const SLO_REPORT_PAYLOAD_TYPE = 'application/vnd.vaultmesh.canary-slo-report+json';

export interface KpiResult {
  readonly name: 'fill_rate_p95' | 'rtt_p95_ms' | 'provenance_coverage' | 'policy_latency_p99_ms';
  /** What the treaty requires, and in which direction. */
  readonly target: number;
  readonly comparator: '>=' | '<=';
  /** The measured value; null when there were no samples (a KPI without data is not compliant). */
  readonly value: number | null;
  readonly samples: number;
  readonly compliant: boolean;
  readonly how: string;
}

export interface SloReport {
  readonly version: typeof SLO_REPORT_VERSION;
  readonly treaty: string;
  readonly provider: string;
  readonly window: { readonly from: string; readonly to: string; readonly ms: number };
  readonly kpis: readonly KpiResult[];
  /** KPIs met / KPIs, 0..1. */
  readonly complianceRate: number;
  readonly compliant: boolean;
  readonly generatedAt: string;
  readonly origin: string;
}

/** The p-quantile (0..1) by nearest rank; null for no values. */
export function quantile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil(p * s.length)));
  return s[rank - 1]!;
}

const r3 = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);

export function computeSloReport(input: {
  treaty: Treaty;
  /** Decisions (read from the ledger's route receipts; those that involve the treaty's provider count). */
  decisions: readonly DecisionRecord[];
  /** Placement attempts (the stored outcomes). */
  outcomes: readonly RouteOutcome[];
  /** Whether the ledger holds a `route` receipt at this index. */
  receiptExists: (index: number) => boolean;
  nowMs: number;
  windowMs: number;
  origin: string;
  /** Fill-rate buckets. Default 1 h (or the window / 12 when shorter than 12 h). */
  bucketMs?: number;
}): SloReport {
  const { treaty, nowMs, windowMs } = input;
  const from = nowMs - windowMs;
  const inWindow = (iso: string) => {
    const t = Date.parse(iso);
    return t >= from && t <= nowMs;
  };
  const provider = treaty.provider;
  const decisions = input.decisions.filter(
    (d) => inWindow(d.at) && (d.provider === provider || d.rtt[provider] !== undefined),
  );
  const attempts = input.outcomes.filter((o) => inWindow(o.at) && o.provider === provider);

  // Fill rate per bucket: attempts on the provider that placed / attempts; the KPI is the level met in 95% of the
  // buckets that saw attempts (the 5th percentile of bucket fill rates), so one bad hour in twenty is tolerated.
  const bucketMs = input.bucketMs ?? Math.min(3_600_000, Math.max(60_000, Math.floor(windowMs / 12)));
  const buckets = new Map<number, { ok: number; n: number }>();
  for (const o of attempts) {
    const b = Math.floor((Date.parse(o.at) - from) / bucketMs);
    const c = buckets.get(b) ?? { ok: 0, n: 0 };
    c.n++;
    if (o.success) c.ok++;
    buckets.set(b, c);
  }
  const fillRates = [...buckets.values()].map((c) => c.ok / c.n);
  const fill = quantile(fillRates, 0.05);
  const rtts = decisions.map((d) => d.rtt[provider]).filter((v): v is number => v !== undefined);
  const rtt = quantile(rtts, 0.95);
  // Provenance: every placement attempt on the provider should carry out a decision whose route receipt is on the
  // ledger (an attempt without one, or pointing at something else, is uncovered).
  const covered = attempts.filter(
    (o) => o.receiptIndex !== undefined && input.receiptExists(o.receiptIndex),
  ).length;
  const coverage = attempts.length ? covered / attempts.length : null;
  const policy = quantile(
    decisions.map((d) => d.policyMs),
    0.99,
  );
  const slo = treaty.slo;
  const kpi = (
    name: KpiResult['name'],
    target: number,
    comparator: KpiResult['comparator'],
    value: number | null,
    samples: number,
    how: string,
  ): KpiResult => ({
    name,
    target,
    comparator,
    value: r3(value),
    samples,
    compliant: value !== null && (comparator === '>=' ? value >= target : value <= target),
    how,
  });
  const kpis = [
    kpi(
      'fill_rate_p95',
      slo.fillRateP95,
      '>=',
      fill,
      attempts.length,
      `placed/attempted per ${bucketMs / 60_000}-minute bucket; the level met in 95% of ${fillRates.length} buckets`,
    ),
    kpi(
      'rtt_p95_ms',
      slo.rttP95Ms,
      '<=',
      rtt,
      rtts.length,
      'p95 of the offer-listing round trip of each decision',
    ),
    kpi(
      'provenance_coverage',
      slo.provenanceCoverage,
      '>=',
      coverage,
      attempts.length,
      'placement attempts on the provider whose route receipt is on the ledger',
    ),
    kpi(
      'policy_latency_p99_ms',
      slo.policyLatencyP99Ms,
      '<=',
      policy,
      decisions.length,
      'p99 of the policy time of each decision',
    ),
  ];
  const met = kpis.filter((k) => k.compliant).length;
  return {
    version: SLO_REPORT_VERSION,
    treaty: treaty.id,
    provider,
    window: { from: new Date(from).toISOString(), to: new Date(nowMs).toISOString(), ms: windowMs },
    kpis,
    complianceRate: met / kpis.length,
    compliant: met === kpis.length,
    generatedAt: new Date(nowMs).toISOString(),
    origin: input.origin,
  };
}
