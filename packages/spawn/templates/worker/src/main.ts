// Entry point: health server, broker connection, consuming; on SIGTERM or SIGINT stop taking messages, let the
// handlers in flight finish and settle (up to SHUTDOWN_GRACE_MS), close, exit (shutdown.ts).
import { once } from 'node:events';
import { pino } from 'pino';
import { connectBroker } from './brokers/{{queue}}.js';
import { loadConfig } from './config.js';
import { startConsumer } from './consumer.js';
import { handleJob } from './handler.js';
import { createMetrics } from './metrics.js';
import { PACKAGE } from './package-info.js';
import { createHealthServer } from './server.js';
import { onShutdown } from './shutdown.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel, base: { service: PACKAGE.name } });
  const metrics = createMetrics();
  let consuming = false;
  const broker = await connectBroker(config.queueUrl, config.queue);
  const server = createHealthServer(metrics, { ready: () => consuming && broker.healthy() });
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const consumer = await startConsumer({
    broker,
    handler: handleJob,
    policy: {
      maxAttempts: config.maxAttempts,
      baseMs: config.retryBaseMs,
      maxMs: config.retryMaxMs,
    },
    metrics,
    log,
    concurrency: config.concurrency,
  });
  consuming = true;
  log.info({ queue: `${config.queue}.jobs`, port: config.port }, 'consuming');

  onShutdown({
    graceMs: config.shutdownGraceMs,
    log,
    drain: async () => {
      consuming = false;
      // Stops taking messages; those in flight settle (or, past the grace period, are redelivered later).
      const drained = await consumer.drain(config.shutdownGraceMs);
      await broker.close();
      server.close();
      return drained;
    },
  });
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', msg: (err as Error).message }));
  process.exit(1);
});
