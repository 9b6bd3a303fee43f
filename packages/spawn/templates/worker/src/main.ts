// Entry point: health server, broker connection, consuming; on SIGTERM or SIGINT stop taking messages, let the
// handlers in flight finish and settle (up to SHUTDOWN_GRACE_MS), close, exit. A second signal exits at once.
import { once } from 'node:events';
import { pino } from 'pino';
import { connectBroker } from './brokers/{{queue}}.js';
import { loadConfig } from './config.js';
import { startConsumer } from './consumer.js';
import { handleJob } from './handler.js';
import { createMetrics } from './metrics.js';
import { PACKAGE } from './package-info.js';
import { createHealthServer } from './server.js';

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

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    consuming = false;
    log.info({ signal, inFlight: consumer.inFlight() }, 'shutting down: draining handlers');
    const shutdown = async (): Promise<boolean> => {
      const drained = await consumer.drain(config.shutdownGraceMs);
      await broker.close();
      server.close();
      return drained;
    };
    shutdown().then(
      (drained) => {
        if (!drained)
          log.error('handlers did not finish in time; their messages will be redelivered');
        process.exit(drained ? 0 : 1);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', msg: (err as Error).message }));
  process.exit(1);
});
