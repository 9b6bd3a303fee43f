// How the node's Ψ-Field samples its own registry: a gauge as its value, a counter and a histogram's _count as a rate
// per second since the last sample (summed over the series its label regexes select), a counter reset as new counts;
// a metric the node does not have is refused at start, and nothing is recorded for a follower.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Log } from '@vaultmesh/log';
import { createNodePsi } from '../src/psi.ts';

function setup() {
  const registry = new Registry();
  const gauge = new Gauge({ name: 'test_queue_depth', help: 'h', registers: [registry] });
  const counter = new Counter({
    name: 'test_jobs_total',
    help: 'h',
    labelNames: ['result'],
    registers: [registry],
  });
  const hist = new Histogram({
    name: 'test_request_seconds',
    help: 'h',
    labelNames: ['status'],
    buckets: [0.1, 1],
    registers: [registry],
  });
  const appended: unknown[] = [];
  const log = { append: async (r: unknown) => void appended.push(r) } as unknown as Log;
  return { registry, gauge, counter, hist, log, appended };
}

const base = { intervalMs: 1000, anomalyThreshold: 0.9999, receipts: true, commitments: false as const };

describe('the node’s Ψ-Field sampling its own metrics', () => {
  it('samples a gauge as its value, a counter and a histogram _count as rates, label regexes summed', async () => {
    const t = setup();
    const psi = await createNodePsi(
      {
        ...base,
        series: [
          { name: 'depth', metric: 'test_queue_depth' },
          { name: 'failed-jobs', metric: 'test_jobs_total', match: { result: 'failed|timeout' } },
          { name: 'errors', metric: 'test_request_seconds_count', match: { status: '5..' } },
        ],
      },
      { registry: t.registry, log: t.log, active: () => true },
    );
    t.gauge.set(7);
    t.counter.inc({ result: 'failed' }, 3);
    await psi.sample(10_000);
    // The first sample of a counter is only its baseline.
    expect(psi.field.recent('depth', 5)!.map((p) => p.value)).toEqual([7]);
    expect(psi.field.recent('failed-jobs', 5)).toEqual([]);
    t.gauge.set(9);
    t.counter.inc({ result: 'failed' }, 4);
    t.counter.inc({ result: 'timeout' }, 2);
    t.counter.inc({ result: 'ok' }, 100);
    for (const status of ['500', '503', '200']) t.hist.observe({ status }, 0.2);
    await psi.sample(12_000);
    expect(psi.field.recent('depth', 5)!.map((p) => p.value)).toEqual([7, 9]);
    // (4 + 2) new failures over 2 s; the 100 ok ones are not selected.
    expect(psi.field.recent('failed-jobs', 5)!.map((p) => p.value)).toEqual([3]);
    // The histogram's first sample (no answer yet) is its baseline: 2 answers with a 5xx over 2 s, then 2 in 1 s.
    for (const status of ['500', '502']) t.hist.observe({ status }, 0.3);
    await psi.sample(13_000);
    expect(psi.field.recent('errors', 5)!.map((p) => p.value)).toEqual([1, 2]);
  });

  it('takes a counter that went down as reset: everything it holds is new', async () => {
    const t = setup();
    const psi = await createNodePsi(
      { ...base, series: [{ name: 'jobs', metric: 'test_jobs_total' }] },
      { registry: t.registry, log: t.log, active: () => true },
    );
    t.counter.inc({ result: 'ok' }, 10);
    await psi.sample(0);
    t.counter.reset();
    t.counter.inc({ result: 'ok' }, 4);
    await psi.sample(1000);
    expect(psi.field.recent('jobs', 5)!.map((p) => p.value)).toEqual([4]);
  });

  it('refuses a metric the node does not have, or a derived name of a counter', async () => {
    const t = setup();
    const make = (metric: string) =>
      createNodePsi(
        { ...base, series: [{ name: 'x', metric }] },
        { registry: t.registry, log: t.log, active: () => true },
      );
    await expect(make('test_nothing_total')).rejects.toThrow(/no metric test_nothing_total/);
    await expect(make('test_jobs_total_count')).rejects.toThrow(/no metric test_jobs_total_count/);
    await expect(make('test_request_seconds_sum')).resolves.toBeDefined();
  });

  it('records anomalies and forecast commitments only on the node that records', async () => {
    for (const active of [true, false]) {
      const t = setup();
      const psi = await createNodePsi(
        {
          ...base,
          commitments: { horizon: 3, batch: 3 },
          series: [{ name: 'depth', metric: 'test_queue_depth' }],
        },
        { registry: t.registry, log: t.log, active: () => active },
      );
      for (let k = 0; k < 30; k++) {
        t.gauge.set(k === 25 ? 500 : 5 + (k % 3) / 10);
        await psi.sample(k * 1000);
      }
      const kinds = (t.appended as { body: { record: string } }[]).map((r) => r.body.record);
      if (active) {
        expect(kinds.filter((k) => k === 'forecasts')).toHaveLength(10);
        expect(kinds).toContain('anomaly');
      } else expect(kinds).toEqual([]);
    }
  });
});
