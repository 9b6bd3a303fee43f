// Prometheus metrics: the default Node.js process metrics, messages by outcome and the handling time.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Outcome = 'ok' | 'retried' | 'dead_lettered';

export interface Metrics {
  readonly registry: Registry;
  readonly messages: Counter<'outcome'>;
  readonly duration: Histogram<'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: '{{name}}' });
  collectDefaultMetrics({ register: registry });
  const messages = new Counter({
    name: 'worker_messages_total',
    help: 'Deliveries handled, by outcome (ok, retried, dead_lettered)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'worker_handle_duration_seconds',
    help: 'Time the handler took, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
    registers: [registry],
  });
  return { registry, messages, duration };
}
