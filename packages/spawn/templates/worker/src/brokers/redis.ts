// Redis Streams: jobs on the stream "<queue>.jobs", read by the consumer group "workers" (XREADGROUP, XACK), dead
// letters on the stream "<queue>.dead". A retry waits in the sorted set "<queue>.delayed" (score: when it is due)
// and is moved back onto the jobs stream by a script that removes it first, so two workers cannot both move it.
// Settling is one MULTI (store the retry or dead letter, XACK, XDEL). A message a crashed worker held is claimed
// by another after CLAIM_IDLE_MS and delivered again, as a further attempt.
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Broker, DeadLetter, Delivery } from '../broker.js';

const GROUP = 'workers';
const BLOCK_MS = 1_000;
const CLAIM_IDLE_MS = 60_000;
const MOVE_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, member in ipairs(due) do
  if redis.call('ZREM', KEYS[1], member) == 1 then
    local m = cjson.decode(member)
    redis.call('XADD', KEYS[2], '*', 'body', m.body, 'attempt', tostring(m.attempt))
  end
end
return #due`;

type Entry = [id: string, fields: string[]];

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

export async function connectBroker(url: string, queue: string): Promise<Broker> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  const jobs = `${queue}.jobs`;
  const dead = `${queue}.dead`;
  const delayed = `${queue}.delayed`;
  const consumerName = `${hostname()}-${process.pid}`;
  try {
    await redis.xgroup('CREATE', jobs, GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
  }
  let running = false;
  let loop: Promise<void> | undefined;
  let reader: Redis | undefined;

  const delivery = (id: string, fields: string[], extraDeliveries = 0): Delivery => {
    const body = field(fields, 'body') ?? '';
    const attempt = Number(field(fields, 'attempt') ?? 1) + extraDeliveries;
    return {
      id,
      body,
      attempt,
      async ack() {
        await redis.multi().xack(jobs, GROUP, id).xdel(jobs, id).exec();
      },
      async retry(delayMs) {
        const member = JSON.stringify({ id, body, attempt: attempt + 1 });
        await redis
          .multi()
          .zadd(delayed, Date.now() + delayMs, member)
          .xack(jobs, GROUP, id)
          .xdel(jobs, id)
          .exec();
      },
      async deadLetter(reason) {
        await redis
          .multi()
          .xadd(
            dead,
            '*',
            'body',
            body,
            'attempt',
            String(attempt),
            'reason',
            reason.slice(0, 1000),
          )
          .xack(jobs, GROUP, id)
          .xdel(jobs, id)
          .exec();
      },
    };
  };

  /** Deliveries a crashed consumer held for longer than CLAIM_IDLE_MS, claimed for this one. */
  const claimStuck = async (): Promise<Delivery[]> => {
    const pending = (await redis.xpending(jobs, GROUP, 'IDLE', CLAIM_IDLE_MS, '-', '+', 100)) as [
      string,
      string,
      number,
      number,
    ][];
    if (pending.length === 0) return [];
    const counts = new Map(pending.map(([id, , , n]) => [id, n]));
    const claimed = (await redis.xclaim(
      jobs,
      GROUP,
      consumerName,
      CLAIM_IDLE_MS,
      ...pending.map(([id]) => id),
    )) as Entry[];
    return claimed.map(([id, fields]) => delivery(id, fields, counts.get(id) ?? 1));
  };

  return {
    async consume(onMessage, concurrency) {
      running = true;
      reader = redis.duplicate();
      const r = reader;
      const inFlight = new Set<Promise<void>>();
      const start = (d: Delivery): void => {
        const p = onMessage(d).finally(() => inFlight.delete(p));
        inFlight.add(p);
      };
      let lastClaim = 0;
      loop = (async () => {
        while (running) {
          try {
            await redis.eval(MOVE_DUE, 2, delayed, jobs, String(Date.now()));
            if (Date.now() - lastClaim > CLAIM_IDLE_MS / 2) {
              lastClaim = Date.now();
              for (const d of await claimStuck()) start(d);
            }
            if (inFlight.size >= concurrency) {
              await Promise.race(inFlight);
              continue;
            }
            const res = (await r.xreadgroup(
              'GROUP',
              GROUP,
              consumerName,
              'COUNT',
              concurrency - inFlight.size,
              'BLOCK',
              BLOCK_MS,
              'STREAMS',
              jobs,
              '>',
            )) as [string, Entry[]][] | null;
            for (const [, entries] of res ?? [])
              for (const [id, fields] of entries) start(delivery(id, fields));
          } catch {
            if (running) await new Promise((resolve) => setTimeout(resolve, 500));
          }
        }
      })();
    },
    async stop() {
      running = false;
      await loop;
    },
    async publish(body) {
      await redis.xadd(jobs, '*', 'body', body, 'attempt', '1');
    },
    async deadLetters(max) {
      const entries = (await redis.xrange(dead, '-', '+', 'COUNT', max)) as Entry[];
      return entries.map(([id, fields]): DeadLetter => ({
        id,
        body: field(fields, 'body') ?? '',
        reason: field(fields, 'reason') ?? '',
      }));
    },
    healthy: () => redis.status === 'ready',
    async close() {
      running = false;
      await loop;
      reader?.disconnect();
      await redis.quit();
    },
    async destroy() {
      await redis.del(jobs, dead, delayed);
    },
  };
}
