// RabbitMQ: durable queues "<queue>.jobs" and "<queue>.dead", and "<queue>.retry", whose messages wait out their
// per-message TTL and then dead-letter back onto the jobs queue. Publishing uses publisher confirms, and the
// delivery is acked only after the broker confirmed the retry or dead letter, so a crash in between redelivers it.
// (A per-message TTL expires only at the head of the retry queue: a long delay holds back shorter ones behind it.)
import amqp, { type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import type { Broker, DeadLetter, Delivery } from '../broker.js';

export async function connectBroker(url: string, queue: string): Promise<Broker> {
  const conn = await amqp.connect(url);
  let up = true;
  conn.on('close', () => (up = false));
  conn.on('error', () => (up = false));
  const ch = await conn.createConfirmChannel();
  const jobs = `${queue}.jobs`;
  const retryQueue = `${queue}.retry`;
  const dead = `${queue}.dead`;
  await ch.assertQueue(jobs, { durable: true });
  await ch.assertQueue(dead, { durable: true });
  await ch.assertQueue(retryQueue, {
    durable: true,
    deadLetterExchange: '',
    deadLetterRoutingKey: jobs,
  });
  let consumerTag: string | undefined;

  const send = (to: string, content: Buffer, options: Options.Publish): Promise<void> =>
    new Promise((resolve, reject) => {
      (ch as ConfirmChannel).sendToQueue(to, content, { persistent: true, ...options }, (err) =>
        err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
      );
    });

  const delivery = (m: ConsumeMessage): Delivery => {
    const attempt = Number(m.properties.headers?.['x-attempt'] ?? 1);
    return {
      id: String(m.properties.messageId ?? m.fields.deliveryTag),
      body: m.content.toString('utf8'),
      attempt,
      async ack() {
        ch.ack(m);
      },
      async retry(delayMs) {
        await send(retryQueue, m.content, {
          messageId: m.properties.messageId as string | undefined,
          expiration: String(delayMs),
          headers: { 'x-attempt': attempt + 1 },
        });
        ch.ack(m);
      },
      async deadLetter(reason) {
        await send(dead, m.content, {
          messageId: m.properties.messageId as string | undefined,
          headers: { 'x-attempt': attempt, 'x-reason': reason.slice(0, 1000) },
        });
        ch.ack(m);
      },
    };
  };

  return {
    async consume(onMessage, concurrency) {
      await ch.prefetch(concurrency);
      const r = await ch.consume(
        jobs,
        (m) => {
          if (m) void onMessage(delivery(m));
        },
        { noAck: false },
      );
      consumerTag = r.consumerTag;
    },
    async stop() {
      if (consumerTag && up) await ch.cancel(consumerTag);
      consumerTag = undefined;
    },
    async publish(body) {
      await send(jobs, Buffer.from(body), {
        messageId: `${Date.now()}-${Math.random().toString(36).slice(2)}`,
      });
    },
    async deadLetters(max) {
      // Read with acks off on a channel of its own, then close it: unacked messages go back in place.
      const reader = await conn.createChannel();
      const out: DeadLetter[] = [];
      try {
        while (out.length < max) {
          const m = await reader.get(dead, { noAck: false });
          if (!m) break;
          out.push({
            id: String(m.properties.messageId ?? m.fields.deliveryTag),
            body: m.content.toString('utf8'),
            reason: String(m.properties.headers?.['x-reason'] ?? ''),
          });
        }
      } finally {
        await reader.close();
      }
      return out;
    },
    healthy: () => up,
    async close() {
      if (!up) return;
      await ch.close();
      await conn.close();
    },
    async destroy() {
      for (const q of [jobs, retryQueue, dead]) await ch.deleteQueue(q);
    },
  };
}
