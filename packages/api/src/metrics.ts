// Prometheus metrics of a node (exposition at /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AnchorStatus, LogStats } from '@vaultmesh/log';
import type { RouterEvent } from '@vaultmesh/aurora';

export interface NodeMetrics {
  readonly registry: Registry;
  /** Hook for Log's onCommit. */
  observeCommit(info: { entries: number; ms: number }): void;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Sets where ledger gauges read from. */
  bindLog(stats: () => LogStats): void;
  /** Sets where the vaultmesh_anchor_* metrics read from (the anchor scheduler's status). */
  bindAnchors(status: () => readonly AnchorStatus[]): void;
  /** Sets where the vaultmesh_federation_* metrics read from (the anti-entropy loop's per-peer status). */
  bindFederation(status: () => readonly FederationPeerStatus[]): void;
  /** One Aurora router event (decisions, placement attempts, provider round trips, placed jobs). */
  observeAurora(e: AuroraMetricEvent): void;
  /**
   * One control-plane counter increment (vaultmesh_control_steps_total, _step_errors_total, _compensations_total).
   * Exported without the tenant label: /metrics is public, and tenant names are the tenants' own business.
   */
  observeControl(name: string, value: number, labels: Readonly<Record<string, string>>): void;
  /** Sets where the vaultmesh_psi_* gauges read from (the Ψ-Field's watched series and its services). */
  bindPsi(
    series: () => readonly PsiSeriesStatus[],
    services?: () => readonly { name: string; psi: number }[],
  ): void;
  /** One scored point of a watched series, and whether it opened an anomaly episode. */
  observePsi(series: string, openedAnomaly: boolean): void;
  /** One request refused by a per-token limit (reason: writes, denies). */
  observeRateLimited(reason: string): void;
}

/** The control-plane counters /metrics exports, with their help text. */
const CONTROL_COUNTERS: Readonly<Record<string, string>> = {
  vaultmesh_control_steps_total: 'Plan steps executed (live or dry-run), by action and status.',
  vaultmesh_control_step_errors_total: 'Plan steps that failed, by action.',
  vaultmesh_control_compensations_total: 'Compensations (rollbacks) run, by action and status.',
};

/** One watched series as the Ψ-Field reports it (@vaultmesh/psi SeriesSummary fits). */
export interface PsiSeriesStatus {
  readonly name: string;
  readonly last?: {
    readonly value: number;
    readonly forecast: number;
    readonly likelihood: number;
    readonly metrics: { readonly psi: number; readonly predictionError: number; readonly futurity: number };
  };
  readonly anomalous: boolean;
}

/** The Aurora router's events. */
export type AuroraMetricEvent = RouterEvent;

/** One peer as the anti-entropy loop sees it (@vaultmesh/node federation.ts). */
export interface FederationPeerStatus {
  readonly peer: string;
  readonly trusted: boolean;
  /** Entries of the peer's latest signed checkpoint not yet mirrored here. */
  readonly lagEntries: number;
  /** Unix ms of the last successful sync (witness + mirror), undefined before the first. */
  readonly lastSyncAt?: number;
  readonly failuresTotal: number;
  /** Our cosignatures the peer did not accept when sent (each is sent again until it does). */
  readonly cosignatureDeliveryFailuresTotal?: number;
  readonly consecutiveFailures: number;
}

/** Creates a registry with ledger, HTTP and process metrics (all prefixed vaultmesh_). */
export function createNodeMetrics(opts: { defaultMetrics?: boolean } = {}): NodeMetrics {
  const registry = new Registry();
  let stats: (() => LogStats) | undefined;
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'vaultmesh_' });
  const gauge = (name: string, help: string, pick: (s: LogStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        if (stats) this.set(pick(stats()));
      },
    });
  gauge('vaultmesh_ledger_entries', 'Entries committed to the ledger.', (s) => s.size);
  gauge('vaultmesh_ledger_pending_appends', 'Appends accepted but not yet committed.', (s) => s.pending);
  gauge(
    'vaultmesh_ledger_checkpoint_size',
    'Tree size of the latest signed checkpoint.',
    (s) => s.checkpointSize,
  );
  gauge(
    'vaultmesh_ledger_checkpoint_timestamp_seconds',
    'When the latest checkpoint was published.',
    (s) => s.checkpointAt / 1000,
  );
  gauge(
    'vaultmesh_ledger_unsealed_entries',
    'Entries not yet covered by a checkpoint.',
    (s) => s.size - s.checkpointSize,
  );
  const appends = new Counter({
    name: 'vaultmesh_ledger_appends_total',
    help: 'Receipts appended.',
    registers: [registry],
  });
  const batches = new Histogram({
    name: 'vaultmesh_ledger_commit_batch_size',
    help: 'Receipts per group commit.',
    buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384],
    registers: [registry],
  });
  const commitSeconds = new Histogram({
    name: 'vaultmesh_ledger_commit_seconds',
    help: 'Duration of one durable group commit.',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const http = new Histogram({
    name: 'vaultmesh_http_request_duration_seconds',
    help: 'HTTP request latency.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  /** A gauge with one series per item of a status list (labelled `label` by `key`), read at each scrape. */
  const listGauge = <T>(
    name: string,
    help: string,
    label: string,
    items: () => readonly T[],
    key: (t: T) => string,
    pick: (t: T) => number | undefined,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset();
        for (const t of items()) {
          const v = pick(t);
          if (v !== undefined) this.set({ [label]: key(t) }, v);
        }
      },
    });
  const finite = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : undefined);
  let psiStatus: (() => readonly PsiSeriesStatus[]) | undefined;
  const psiGauge = (name: string, help: string, pick: (s: PsiSeriesStatus) => number | undefined) =>
    listGauge(
      name,
      help,
      'series',
      () => psiStatus?.() ?? [],
      (s) => s.name,
      (s) => finite(pick(s)),
    );
  psiGauge('vaultmesh_psi_value', 'Last sampled value of a watched series.', (s) => s.last?.value);
  psiGauge('vaultmesh_psi_forecast', 'Forecast the last point was scored against.', (s) => s.last?.forecast);
  psiGauge(
    'vaultmesh_psi_anomaly_likelihood',
    'Anomaly likelihood of the last point (0..1).',
    (s) => s.last?.likelihood,
  );
  psiGauge(
    'vaultmesh_psi_psi',
    'Ψ of the series at its last point (0..1; 1 behaves as forecast).',
    (s) => s.last?.metrics.psi,
  );
  psiGauge(
    'vaultmesh_psi_prediction_error',
    'Standardized residual |z| of the last point.',
    (s) => s.last?.metrics.predictionError,
  );
  psiGauge(
    'vaultmesh_psi_futurity',
    'Forecast skill against the naive forecast (1 is perfect).',
    (s) => s.last?.metrics.futurity,
  );
  psiGauge('vaultmesh_psi_anomalous', '1 while an anomaly episode is open.', (s) => (s.anomalous ? 1 : 0));
  let psiServices: (() => readonly { name: string; psi: number }[]) | undefined;
  listGauge(
    'vaultmesh_psi_service_psi',
    'Ψ of a service: the geometric mean of its series’ Ψ (series grouped by the name before the first dot).',
    'service',
    () => psiServices?.() ?? [],
    (s) => s.name,
    (s) => finite(s.psi),
  );
  const psiPoints = new Counter({
    name: 'vaultmesh_psi_points_total',
    help: 'Points sampled and scored, per watched series.',
    labelNames: ['series'],
    registers: [registry],
  });
  const psiAnomalies = new Counter({
    name: 'vaultmesh_psi_anomalies_total',
    help: 'Anomaly episodes opened, per watched series.',
    labelNames: ['series'],
    registers: [registry],
  });
  let anchorStatus: (() => readonly AnchorStatus[]) | undefined;
  const anchorGauge = (name: string, help: string, pick: (a: AnchorStatus) => number | undefined) =>
    listGauge(
      name,
      help,
      'authority',
      () => anchorStatus?.() ?? [],
      (a) => a.authority,
      pick,
    );
  anchorGauge(
    'vaultmesh_anchor_last_success_timestamp_seconds',
    'When the authority last anchored a checkpoint (Unix seconds).',
    (a) => (a.lastSuccessAt === undefined ? undefined : a.lastSuccessAt / 1000),
  );
  anchorGauge(
    'vaultmesh_anchor_anchored_size',
    'Largest checkpoint size anchored by the authority.',
    (a) => a.anchoredSize,
  );
  anchorGauge(
    'vaultmesh_anchor_lag_entries',
    'Ledger entries not yet covered by an anchor of the authority.',
    (a) => a.lagEntries,
  );
  anchorGauge(
    'vaultmesh_anchor_lag_seconds',
    'Age of the oldest checkpoint the authority has not anchored (0 when caught up).',
    (a) => a.lagSeconds,
  );
  anchorGauge(
    'vaultmesh_anchor_consecutive_failures',
    'Failed attempts since the last success (the backoff exponent).',
    (a) => a.consecutiveFailures,
  );
  // Counters mirror the scheduler's running totals (monotonic within one process, like any counter).
  const anchorCounter = (name: string, help: string, pick: (a: AnchorStatus) => number) => {
    const seen = new Map<string, number>();
    return new Counter({
      name,
      help,
      labelNames: ['authority'],
      registers: [registry],
      collect() {
        for (const a of anchorStatus?.() ?? []) {
          const v = pick(a);
          const prev = seen.get(a.authority);
          // inc by 0 creates the series, so a zero count is exported rather than absent.
          if (prev === undefined || v > prev) this.inc({ authority: a.authority }, v - (prev ?? 0));
          seen.set(a.authority, v);
        }
      },
    });
  };
  anchorCounter('vaultmesh_anchor_failures_total', 'Failed anchoring attempts.', (a) => a.failuresTotal);
  anchorCounter('vaultmesh_anchor_attempts_total', 'Anchoring attempts.', (a) => a.attemptsTotal);

  let federationStatus: (() => readonly FederationPeerStatus[]) | undefined;
  const peerGauge = (name: string, help: string, pick: (p: FederationPeerStatus) => number | undefined) =>
    listGauge(
      name,
      help,
      'peer',
      () => federationStatus?.() ?? [],
      (p) => p.peer,
      pick,
    );
  peerGauge(
    'vaultmesh_federation_peer_lag_entries',
    'Entries of the peer’s signed checkpoint not yet mirrored.',
    (p) => p.lagEntries,
  );
  peerGauge(
    'vaultmesh_federation_last_sync_timestamp_seconds',
    'When the peer was last witnessed and mirrored.',
    (p) => (p.lastSyncAt === undefined ? undefined : p.lastSyncAt / 1000),
  );
  peerGauge(
    'vaultmesh_federation_peer_trusted',
    '1 while the peer is trusted, 0 once it equivocated.',
    (p) => (p.trusted ? 1 : 0),
  );
  peerGauge(
    'vaultmesh_federation_consecutive_failures',
    'Failed syncs since the last success (the backoff exponent).',
    (p) => p.consecutiveFailures,
  );
  const peerFailures = new Map<string, number>();
  new Counter({
    name: 'vaultmesh_federation_failures_total',
    help: 'Failed syncs with the peer.',
    labelNames: ['peer'],
    registers: [registry],
    collect() {
      for (const p of federationStatus?.() ?? []) {
        const prev = peerFailures.get(p.peer);
        if (prev === undefined || p.failuresTotal > prev)
          this.inc({ peer: p.peer }, p.failuresTotal - (prev ?? 0));
        peerFailures.set(p.peer, p.failuresTotal);
      }
    },
  });
  const deliveryFailures = new Map<string, number>();
  new Counter({
    name: 'vaultmesh_federation_cosignature_delivery_failures_total',
    help: 'Cosignatures of the peer’s checkpoints it did not accept when sent (each is sent again until it does).',
    labelNames: ['peer'],
    registers: [registry],
    collect() {
      for (const p of federationStatus?.() ?? []) {
        const now = p.cosignatureDeliveryFailuresTotal ?? 0;
        const prev = deliveryFailures.get(p.peer);
        if (prev === undefined || now > prev) this.inc({ peer: p.peer }, now - (prev ?? 0));
        deliveryFailures.set(p.peer, now);
      }
    },
  });
  const rateLimited = new Counter({
    name: 'vaultmesh_rate_limited_total',
    help: 'Requests refused (429) by a per-token limit: reason writes (write rate) or denies (too many denied requests).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const auroraDecisions = new Counter({
    name: 'vaultmesh_aurora_decisions_total',
    help: 'Aurora routing decisions, by kind (recommend, place) and whether any offer was allowed.',
    labelNames: ['kind', 'result'],
    registers: [registry],
  });
  const auroraDecisionSeconds = new Histogram({
    name: 'vaultmesh_aurora_decision_seconds',
    help: 'Time of one routing decision (offer listing, filtering, policy, scoring and its route receipt).',
    labelNames: ['kind'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const auroraPolicySeconds = new Histogram({
    name: 'vaultmesh_aurora_policy_seconds',
    help: 'Policy time of one routing decision (one Cedar decision per distinct provider/region).',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [registry],
  });
  const auroraAttempts = new Counter({
    name: 'vaultmesh_aurora_attempts_total',
    help: 'Placement attempts by provider and result (ok, failed).',
    labelNames: ['provider', 'result'],
    registers: [registry],
  });
  const auroraRtt = new Histogram({
    name: 'vaultmesh_aurora_provider_rtt_seconds',
    help: 'Round trip of a provider’s offer listing.',
    labelNames: ['provider', 'result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.35, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const auroraJobs = new Counter({
    name: 'vaultmesh_aurora_jobs_total',
    help: 'Jobs the router tried to place, by result (placed, unplaced).',
    labelNames: ['result'],
    registers: [registry],
  });
  const auroraCost = new Counter({
    name: 'vaultmesh_aurora_cost_usd_total',
    help: 'Estimated cost committed by placements (price per hour × the workload’s hours), USD.',
    labelNames: ['provider'],
    registers: [registry],
  });
  let placedJobs = 0;
  let triedJobs = 0;
  new Gauge({
    name: 'vaultmesh_aurora_fill_rate',
    help: 'Share of jobs the router placed since the node started (1 before any job).',
    registers: [registry],
    collect() {
      this.set(triedJobs === 0 ? 1 : placedJobs / triedJobs);
    },
  });
  const control = new Map(
    Object.entries(CONTROL_COUNTERS).map(([name, help]) => [
      name,
      new Counter({
        name,
        help,
        labelNames: ['dry_run', 'action', 'status'] as const,
        registers: [registry],
      }),
    ]),
  );
  return {
    observeRateLimited: (reason) => rateLimited.inc({ reason }),
    registry,
    observeControl(name, value, labels) {
      control
        .get(name)
        ?.inc(
          { dry_run: labels.dryRun ?? '', action: labels.action ?? '', status: labels.status ?? '' },
          value,
        );
    },
    observeAurora(e) {
      switch (e.type) {
        case 'decision':
          auroraDecisions.inc({ kind: e.kind, result: e.candidates > 0 ? 'candidates' : 'none' });
          auroraDecisionSeconds.observe({ kind: e.kind }, e.totalMs / 1000);
          auroraPolicySeconds.observe(e.policyMs / 1000);
          break;
        case 'attempt':
          auroraAttempts.inc({ provider: e.provider, result: e.ok ? 'ok' : 'failed' });
          if (e.ok) auroraCost.inc({ provider: e.provider }, e.pricePerHour * e.hours);
          break;
        case 'rtt':
          auroraRtt.observe({ provider: e.provider, result: e.ok ? 'ok' : 'failed' }, e.ms / 1000);
          break;
        case 'placed':
          triedJobs++;
          if (e.placed) placedJobs++;
          auroraJobs.inc({ result: e.placed ? 'placed' : 'unplaced' });
          break;
      }
    },
    bindAnchors(fn) {
      anchorStatus = fn;
    },
    bindPsi(fn, services) {
      psiStatus = fn;
      psiServices = services;
    },
    observePsi(series, opened) {
      psiPoints.inc({ series });
      if (opened) psiAnomalies.inc({ series });
    },
    bindFederation(fn) {
      federationStatus = fn;
    },
    observeCommit(info) {
      appends.inc(info.entries);
      batches.observe(info.entries);
      commitSeconds.observe(info.ms / 1000);
    },
    observeRequest(method, route, status, seconds) {
      http.observe({ method, route, status: String(status) }, seconds);
    },
    bindLog(fn) {
      stats = fn;
    },
  };
}
