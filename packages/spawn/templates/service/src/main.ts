// Entry point: load the configuration, listen, become ready; on SIGTERM or SIGINT stop being ready, let in-flight
// requests finish (up to SHUTDOWN_GRACE_MS), close, exit (shutdown.ts).
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { createMetrics } from './metrics.js';
import { onShutdown } from './shutdown.js';
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

  onShutdown({
    graceMs: config.shutdownGraceMs,
    log: app.log,
    drain: async () => {
      readiness.ready = false;
      // Finishes the requests in flight, refusing new ones.
      await app.close();
{{#if db == postgres}}
      await db.close();
{{/if}}
      return true;
    },
  });
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', msg: (err as Error).message }));
  process.exit(1);
});
