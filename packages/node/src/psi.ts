// The node's Ψ-Field: samples the configured series every intervalMs (its own metrics read in process from the
// /metrics registry, or Prometheus queries), scores each point with @vaultmesh/psi, records a `psi` receipt when an
// anomaly episode opens (on the leader only, in a cluster), and serves the field to the API, the metrics and the
// `psi` tripwire rules. A counter (or a histogram's _count/_sum) is sampled as its rate per second since the last
// sample; a gauge as its value.
import type { Registry } from 'prom-client';
import type { PsiApi } from '@vaultmesh/api';
import type { MetricSource } from '@vaultmesh/control';
import type { ProviderForecast } from '@vaultmesh/aurora';
import type { Log } from '@vaultmesh/log';
import { ForecastBook, PsiField, type AnomalyEpisode, type FieldPoint } from '@vaultmesh/psi';
import type { z } from 'zod';
import { ConfigError } from './config.ts';
import type { PsiConfigSchema, PsiSeriesConfigSchema } from './config.ts';

export type PsiConfig = z.infer<typeof PsiConfigSchema>;
type SeriesConfig = z.infer<typeof PsiSeriesConfigSchema>;

/** What the Ψ-Field of a node needs. */
export interface PsiDeps {
  /** The node's /metrics registry (series with `metric`). */
  readonly registry: Registry;
  /** Prometheus (series with `query`); absent when control.prometheusUrl is not set. */
  readonly prometheus?: MetricSource;
  /** Where `psi` receipts go. */
  readonly log: Log;
  /** Whether this node records receipts now (the leader of a cluster; always true alone). */
  readonly active: () => boolean;
  /** Each scored point (for the metrics). */
  readonly onPoint?: (series: string, point: FieldPoint, opened: AnomalyEpisode | undefined) => void;
  /** A series that could not be sampled, or a receipt that could not be written. */
  readonly onError?: (series: string, err: unknown) => void;
}

/** The running Ψ-Field of a node. */
export interface NodePsi {
  readonly field: PsiField;
  readonly api: PsiApi;
  /** Samples every series once (what each tick does). */
  sample(now?: number): Promise<void>;
  /** Scores an event-fed point (watched on first use), e.g. `aurora.rtt.<provider>` from the router's events. */
  observe(series: string, value: number, now?: number): Promise<void>;
  /** The Ψ-Field's forecast round trip and anomaly likelihood per Aurora provider (for the router's scores). */
  providerForecasts(): Map<string, ProviderForecast>;
  start(): void;
  stop(): Promise<void>;
}

/** The series a histogram or summary exposes beside its name, each of them counting. */
const DERIVED_SUFFIXES = ['_count', '_sum', '_bucket'];

interface RegistryMetric {
  name: string;
  type: string;
  values: MetricValue[];
}

/** Whether `metric` names this registry metric or one of its derived series (a histogram's _count ...). */
function names(m: Pick<RegistryMetric, 'name' | 'type'>, metric: string): boolean {
  if (m.name === metric) return true;
  return (
    (m.type === 'histogram' || m.type === 'summary') && DERIVED_SUFFIXES.some((x) => metric === m.name + x)
  );
}

/** The series of an Aurora provider's API round trips (ms), fed by the router's events: `aurora.rtt.<provider>`. */
export const PROVIDER_RTT = 'aurora.rtt.';

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** The sum of a metric's series whose labels match, and whether it counts (a rate is taken) or is a level. */
function readOwnMetric(
  metrics: readonly RegistryMetric[],
  s: SeriesConfig,
  matchers: [string, RegExp][],
): { total: number; counter: boolean } | undefined {
  const metric = s.metric!;
  const m = metrics.find((x) => names(x, metric));
  if (!m) return undefined;
  // A counter, and every derived series of a histogram or summary, counts; a gauge is a level.
  const counter = m.type === 'counter' || m.name !== metric;
  let total = 0;
  for (const v of m.values) {
    if ((v.metricName ?? m.name) !== metric) continue;
    if (matchers.every(([k, re]) => re.test(String(v.labels[k] ?? '')))) total += v.value;
  }
  return { total, counter };
}

/** Builds the node's Ψ-Field from its configuration; a metric this node does not have is a ConfigError. */
export async function createNodePsi(cfg: PsiConfig, deps: PsiDeps): Promise<NodePsi> {
  const field = new PsiField({ anomalyThreshold: cfg.anomalyThreshold });
  // Points are numbered within this field's life (its epoch): a restart starts a new numbering.
  const epoch = new Date().toISOString();
  const commitments = cfg.commitments;
  const books = new Map<string, ForecastBook>();
  const known = (await deps.registry.getMetricsAsJSON()) as unknown as RegistryMetric[];
  const series = cfg.series.map((s) => {
    field.watch(s.name, s.range ? { range: s.range } : {});
    if (commitments)
      books.set(s.name, new ForecastBook(s.name, epoch, commitments.horizon, commitments.batch));
    if (s.query !== undefined && !deps.prometheus)
      throw new ConfigError(`psi.series ${s.name}: a query needs control.prometheusUrl`);
    if (s.metric !== undefined && !known.some((m) => names(m, s.metric!)))
      throw new ConfigError(`psi.series ${s.name}: this node has no metric ${s.metric} (see its /metrics)`);
    let matchers: [string, RegExp][];
    try {
      matchers = Object.entries(s.match ?? {}).map(([k, re]) => [k, new RegExp(`^(?:${re})$`)]);
    } catch (err) {
      throw new ConfigError(`psi.series ${s.name}: match: ${(err as Error).message}`);
    }
    return { cfg: s, matchers, last: undefined as { total: number; at: number } | undefined };
  });

  const sampleOne = async (
    s: (typeof series)[number],
    now: number,
    own: () => Promise<RegistryMetric[]>,
  ): Promise<number | undefined> => {
    if (s.cfg.query !== undefined) {
      const v = await deps.prometheus!.query(s.cfg.query, new Date(now));
      return Number.isFinite(v) ? v : undefined;
    }
    const r = readOwnMetric(await own(), s.cfg, s.matchers);
    if (!r) return undefined;
    if (!r.counter) return r.total;
    const prev = s.last;
    s.last = { total: r.total, at: now };
    if (!prev || now <= prev.at) return undefined;
    // A counter that went down was reset: everything it holds is new.
    const delta = r.total >= prev.total ? r.total - prev.total : r.total;
    return delta / ((now - prev.at) / 1000);
  };

  const record = async (e: AnomalyEpisode): Promise<void> => {
    const p = e.peak;
    await deps.log.append({
      kind: 'psi',
      actor: 'vaultmesh/psi',
      tenant: 'system',
      body: {
        record: 'anomaly',
        series: e.series,
        at: new Date(p.time).toISOString(),
        value: p.value,
        forecast: p.forecast,
        residual: Number.isFinite(p.residual) ? p.residual : 0,
        likelihood: p.likelihood,
        threshold: cfg.anomalyThreshold,
      },
    });
  };

  /** Scores a point of a series, records what it opened and the batch it completed (on the recording node). */
  const score = async (name: string, now: number, v: number): Promise<void> => {
    const { point, opened } = field.observe(name, now, v);
    deps.onPoint?.(name, point, opened);
    const active = deps.active();
    if (opened && cfg.receipts && active) await record(opened);
    // Every point is numbered (so forecasts keep pointing at the right point); a batch is committed only by the node
    // that records (a follower's are dropped, and pair with nothing).
    const book = books.get(name);
    const ahead = book ? field.forecast(name, book.horizon) : undefined;
    const batch = ahead ? book!.add(now, v, ahead) : undefined;
    if (batch && active)
      await deps.log.append({ kind: 'psi', actor: 'vaultmesh/psi', tenant: 'system', body: { ...batch } });
  };

  const sample = async (now = Date.now()): Promise<void> => {
    // The registry is read once per tick, whatever the number of series that read it.
    let snapshot: Promise<RegistryMetric[]> | undefined;
    const own = () => (snapshot ??= deps.registry.getMetricsAsJSON() as unknown as Promise<RegistryMetric[]>);
    await Promise.all(
      series.map(async (s) => {
        try {
          const v = await sampleOne(s, now, own);
          if (v !== undefined) await score(s.cfg.name, now, v);
        } catch (err) {
          deps.onError?.(s.cfg.name, err);
        }
      }),
    );
  };

  /** Scores an event-fed point (a provider round trip), watching its series on first use. */
  const observe = async (name: string, value: number, now = Date.now()): Promise<void> => {
    try {
      field.watch(name);
      await score(name, now, value);
    } catch (err) {
      deps.onError?.(name, err);
    }
  };

  /** The Ψ-Field's view of each Aurora provider whose round trips it has seen. */
  const providerForecasts = (): Map<string, ProviderForecast> => {
    const out = new Map<string, ProviderForecast>();
    for (const name of field.names()) {
      if (!name.startsWith(PROVIDER_RTT)) continue;
      const last = field.recent(name, 1)?.[0];
      const next = field.forecast(name, 1);
      if (last && next)
        out.set(name.slice(PROVIDER_RTT.length), {
          rttMs: Math.max(0, next.mean),
          anomalyLikelihood: last.likelihood,
        });
    }
    return out;
  };

  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<void> | undefined;
  return {
    field,
    api: {
      series: () => field.summaries(),
      services: () => field.services(),
      anomalies: (f) => field.anomalies(f),
      settings: () => ({ intervalMs: cfg.intervalMs, anomalyThreshold: cfg.anomalyThreshold }),
    },
    sample,
    observe,
    providerForecasts,
    start() {
      if (timer || series.length === 0) return;
      timer = setInterval(() => {
        // A slow source never stacks ticks: the next one waits for this one.
        if (running) return;
        running = sample().finally(() => (running = undefined));
      }, cfg.intervalMs);
      timer.unref?.();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
