// Against the real {{queue}} broker in QUEUE_URL (CI starts one). Without it these tests are skipped, loudly.
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { Broker } from '../src/broker.js';
import { connectBroker } from '../src/brokers/{{queue}}.js';
import { startConsumer } from '../src/consumer.js';
import { parseJob, type Handler } from '../src/handler.js';
import { createMetrics } from '../src/metrics.js';

const url = process.env['QUEUE_URL'];
if (!url) console.warn('SKIPPED: broker.test.ts needs QUEUE_URL (a {{queue}} broker)');

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!url)('{{queue}} broker', () => {
  // A queue of its own per run, removed afterwards.
  const queue = `t${process.pid}-${Date.now().toString(36)}`;
  let broker: Broker | undefined;
  afterAll(async () => {
    await broker?.destroy();
    await broker?.close();
  });

  it('acks successes, retries failures, dead-letters at the limit and bad input at once', async () => {
    broker = await connectBroker(url!, queue);
    const seen = new Map<string, number>();
    const handler: Handler = async (body) => {
      const job = parseJob(body);
      const n = (seen.get(job.id) ?? 0) + 1;
      seen.set(job.id, n);
      if (job.task === 'flaky' && n < 3) throw new Error('transient');
      if (job.task === 'broken') throw new Error('always fails');
    };
    const metrics = createMetrics();
    const consumer = await startConsumer({
      broker,
      handler,
      policy: { maxAttempts: 3, baseMs: 20, maxMs: 100 },
      metrics,
      log: pino({ level: 'silent' }),
      concurrency: 4,
    });
    await broker.publish(JSON.stringify({ id: 'a', task: 'ok' }));
    await broker.publish(JSON.stringify({ id: 'b', task: 'flaky' }));
    await broker.publish(JSON.stringify({ id: 'c', task: 'broken' }));
    await broker.publish('not json');
    const b = broker;
    await until(async () => (await b.deadLetters(10)).length === 2 && seen.get('b') === 3, 60_000);
    await until(() => consumer.inFlight() === 0, 10_000);
    expect(seen.get('a')).toBe(1);
    expect(seen.get('b')).toBe(3);
    expect(seen.get('c')).toBe(3);
    const dead = await broker.deadLetters(10);
    expect(dead.map((d) => d.body).sort()).toEqual(
      [JSON.stringify({ id: 'c', task: 'broken' }), 'not json'].sort(),
    );
    expect(dead.find((d) => d.body === 'not json')?.reason).toMatch(/^permanent/);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/worker_messages_total\{outcome="ok"[^}]*\} 2/);
    expect(text).toMatch(/worker_messages_total\{outcome="retried"[^}]*\} 4/);
    expect(text).toMatch(/worker_messages_total\{outcome="dead_lettered"[^}]*\} 2/);
    expect(await consumer.drain(5_000)).toBe(true);
  });
});
