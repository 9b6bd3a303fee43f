// Entry point for Streamable HTTP: listen, become ready; on SIGTERM or SIGINT stop being ready, let requests in
// flight finish (up to SHUTDOWN_GRACE_MS), exit. A second signal exits at once.
import { once } from 'node:events';
import { loadConfig } from './config.js';
import { createHttpServer } from './http.js';
import { createMetrics } from './metrics.js';

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

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    state.ready = false;
    log('info', 'shutting down: draining requests', { signal });
    const force = setTimeout(() => process.exit(1), config.shutdownGraceMs);
    force.unref();
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  log('fatal', (err as Error).message);
  process.exit(1);
});
