// Prometheus metrics of a node (exposition at /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LogStats } from '@vaultmesh/log';

export interface NodeMetrics {
  readonly registry: Registry;
  /** Hook for Log's onCommit. */
  observeCommit(info: { entries: number; ms: number }): void;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Sets where ledger gauges read from. */
  bindLog(stats: () => LogStats): void;
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
  return {
    registry,
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
