// Entry point for Streamable HTTP: listen, become ready; on SIGTERM or SIGINT stop being ready, let requests in
// flight finish (up to SHUTDOWN_GRACE_MS), exit (shutdown.ts).
import { once } from 'node:events';
import { loadConfig } from './config.js';
import { createHttpServer } from './http.js';
import { createMetrics } from './metrics.js';
import { onShutdown } from './shutdown.js';

function log(level: string, msg: string, extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ level, time: new Date().toISOString(), msg, ...extra }));
}

async function main(): Promise<void> {
  const config = loadConfig();
  const state = { ready: false };
  const server = createHttpServer(config, createMetrics(), state);
  server.listen(config.port, config.host);
  await once(server, 'listening');
  state.ready = true;
  log('info', 'listening', { port: config.port, auth: config.token !== undefined });

  onShutdown({
    graceMs: config.shutdownGraceMs,
    log: {
      info: (extra, msg) => log('info', msg, { ...extra }),
      error: (extra, msg) => log('error', msg, { ...extra }),
    },
    drain: () =>
      new Promise((resolve) => {
        state.ready = false;
        // Finishes the requests in flight, refusing new connections.
        server.close(() => resolve(true));
        server.closeIdleConnections();
      }),
  });
}

main().catch((err: unknown) => {
  log('fatal', (err as Error).message);
  process.exit(1);
});
