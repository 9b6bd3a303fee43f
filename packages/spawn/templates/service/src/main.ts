// Entry point: load the configuration, listen, become ready; on SIGTERM or SIGINT stop being ready, let in-flight
// requests finish (up to SHUTDOWN_GRACE_MS), close, exit. A second signal exits at once.
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { createMetrics } from './metrics.js';
{{#if db == postgres}}
import { createDatabase } from './db.js';
{{/if}}

async function main(): Promise<void> {
  const config = loadConfig();
{{#if db == postgres}}
  const db = createDatabase(config.databaseUrl);
{{/if}}
  const { app, readiness } = buildApp({
    metrics: createMetrics(),
{{#if db == postgres}}
    db,
{{/if}}
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    },
  });
  await app.listen({ host: config.host, port: config.port });
  readiness.ready = true;

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    readiness.ready = false;
    app.log.info({ signal }, 'shutting down: draining in-flight requests');
    const force = setTimeout(() => {
      app.log.error('in-flight requests did not finish in time: exiting');
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    const close = async (): Promise<void> => {
      await app.close();
{{#if db == postgres}}
      await db.close();
{{/if}}
    };
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
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
