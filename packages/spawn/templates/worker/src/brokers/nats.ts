// NATS JetStream: a work-queue stream "<queue>" on "<queue>.jobs" (a message leaves it once acked or terminated),
// a stream "<queue>-dead" on "<queue>.dead", and a durable pull consumer on the jobs with explicit acks. A retry is
// a nak with a delay (JetStream redelivers it and counts the delivery); a dead letter is published to
// "<queue>.dead" (awaiting JetStream's ack) before the message is terminated.
import {
  AckPolicy,
  RetentionPolicy,
  StringCodec,
  connect,
  headers,
  nanos,
  type ConsumerMessages,
  type JsMsg,
} from 'nats';
import type { Broker, DeadLetter, Delivery } from '../broker.js';

const sc = StringCodec();

export async function connectBroker(url: string, queue: string): Promise<Broker> {
  const nc = await connect({ servers: url, name: queue, maxReconnectAttempts: -1 });
  let up = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') up = false;
      if (s.type === 'reconnect') up = true;
    }
  })();
  const stream = queue;
  const deadStream = `${queue}-dead`;
  const jobs = `${queue}.jobs`;
  const dead = `${queue}.dead`;
  const durable = `${queue}-workers`;
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: stream, subjects: [jobs], retention: RetentionPolicy.Workqueue });
  await jsm.streams.add({ name: deadStream, subjects: [dead] });
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    filter_subject: jobs,
    // A handler that neither acks nor naks within this time is presumed dead: the message is redelivered.
    ack_wait: nanos(60_000),
  });
  const js = nc.jetstream();
  let messages: ConsumerMessages | undefined;

  const delivery = (m: JsMsg): Delivery => ({
    id: `${m.info.stream}:${m.seq}`,
    body: sc.decode(m.data),
    attempt: m.info.redeliveryCount,
    async ack() {
      await m.ackAck();
    },
    async retry(delayMs) {
      m.nak(delayMs);
    },
    async deadLetter(reason) {
      const h = headers();
      h.set('x-reason', reason.slice(0, 1000));
      h.set('x-attempts', String(m.info.redeliveryCount));
      await js.publish(dead, m.data, { headers: h });
      m.term(reason.slice(0, 200));
    },
  });

  return {
    async consume(onMessage, concurrency) {
      const consumer = await js.consumers.get(stream, durable);
      messages = await consumer.consume({ max_messages: concurrency });
      const iter = messages;
      void (async () => {
        const running = new Set<Promise<void>>();
        for await (const m of iter) {
          const p = onMessage(delivery(m)).finally(() => running.delete(p));
          running.add(p);
          if (running.size >= concurrency) await Promise.race(running);
        }
      })();
    },
    async stop() {
      messages?.stop();
    },
    async publish(body) {
      await js.publish(jobs, sc.encode(body));
    },
    async deadLetters(max) {
      const out: DeadLetter[] = [];
      const { state } = await jsm.streams.info(deadStream);
      for (let seq = state.first_seq; seq <= state.last_seq && out.length < max; seq++) {
        const m = await jsm.streams.getMessage(deadStream, { seq }).catch(() => undefined);
        if (!m) continue; // deleted from the stream
        out.push({
          id: `${deadStream}:${m.seq}`,
          body: sc.decode(m.data),
          reason: m.header.get('x-reason'),
        });
      }
      return out;
    },
    healthy: () => up && !nc.isClosed(),
    async close() {
      if (!nc.isClosed()) await nc.drain();
    },
    async destroy() {
      await jsm.streams.delete(stream);
      await jsm.streams.delete(deadStream);
    },
  };
}
