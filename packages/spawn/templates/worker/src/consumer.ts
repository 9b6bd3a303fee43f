// Runs the handler for each delivery and settles it: ack on success; on failure the retry policy decides between
// a delayed retry and the dead-letter queue. A failure to settle (the broker went away) leaves the message
// unacknowledged, so the broker delivers it again: at least once, never lost.
import type { Logger } from 'pino';
import type { Broker, Delivery } from './broker.js';
import type { Handler } from './handler.js';
import type { Metrics, Outcome } from './metrics.js';
import { decide, type RetryPolicy } from './retry.js';

export interface ConsumerOptions {
  readonly broker: Broker;
  readonly handler: Handler;
  readonly policy: RetryPolicy;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly concurrency: number;
}

export interface Consumer {
  /** Deliveries being handled now. */
  inFlight(): number;
  /** Stops taking messages and waits until those in flight are settled (or `graceMs` passed). */
  drain(graceMs: number): Promise<boolean>;
}

export async function startConsumer(o: ConsumerOptions): Promise<Consumer> {
  let inFlight = 0;
  const idle: (() => void)[] = [];
  const settle = async (d: Delivery): Promise<Outcome> => {
    const log = o.log.child({ messageId: d.id, attempt: d.attempt });
    try {
      await o.handler(d.body, log);
      await d.ack();
      return 'ok';
    } catch (err) {
      const next = decide(o.policy, d.attempt, err);
      if (next.action === 'retry') {
        log.warn({ err, delayMs: next.delayMs }, 'handler failed: will retry');
        await d.retry(next.delayMs);
        return 'retried';
      }
      log.error({ err, reason: next.reason }, 'handler failed: dead-lettered');
      await d.deadLetter(next.reason);
      return 'dead_lettered';
    }
  };
  await o.broker.consume(async (d) => {
    inFlight++;
    const end = o.metrics.duration.startTimer();
    try {
      const outcome = await settle(d);
      o.metrics.messages.inc({ outcome });
      end({ outcome });
    } catch (err) {
      o.log.error(
        { err, messageId: d.id },
        'could not settle a delivery: the broker will redeliver it',
      );
    } finally {
      inFlight--;
      if (inFlight === 0) idle.splice(0).forEach((f) => f());
    }
  }, o.concurrency);
  return {
    inFlight: () => inFlight,
    async drain(graceMs) {
      await o.broker.stop();
      if (inFlight === 0) return true;
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), graceMs);
        idle.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
  };
}
