// The HTTP app, without listening (main.ts listens; tests use app.inject). Liveness (/healthz) says the process
// runs; readiness (/readyz) says it should get traffic: not before start-up has finished, not while draining, and
{{#if db == postgres}}
// not while the database does not answer.
{{#else}}
// (with a database) not while it does not answer.
{{/if}}
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Metrics } from './metrics.js';
import { PACKAGE } from './package-info.js';
{{#if db == postgres}}
import type { Database } from './db.js';
{{/if}}

export const SERVICE = { name: PACKAGE.name, version: PACKAGE.version };

export interface AppOptions {
  readonly metrics: Metrics;
{{#if db == postgres}}
  readonly db: Database;
{{/if}}
  readonly logger?: FastifyServerOptions['logger'];
}

/** Whether the service should get traffic; main.ts sets it after listening and clears it on SIGTERM. */
export interface Readiness {
  ready: boolean;
}

export function buildApp(opts: AppOptions): { app: FastifyInstance; readiness: Readiness } {
  const readiness: Readiness = { ready: false };
  const app = Fastify({
    logger: opts.logger ?? false,
    // Ids for log correlation; secrets in headers never reach the logs.
    requestIdHeader: 'x-request-id',
  });
  const { metrics } = opts;

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: req.method, route }, seconds);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    if (!readiness.ready) return reply.code(503).send({ status: 'not ready' });
{{#if db == postgres}}
    try {
      await opts.db.ping();
    } catch {
      return reply.code(503).send({ status: 'database unavailable' });
    }
{{/if}}
    return { status: 'ready' };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get('/api/v1/hello', async (req) => {
    const { name } = req.query as { name?: string };
    return { message: `Hello, ${name ?? 'world'}!` };
  });

  app.get('/api/v1/info', async () => SERVICE);
{{#if db == postgres}}

  app.get('/api/v1/items', async () => ({ items: await opts.db.listItems() }));

  app.post('/api/v1/items', async (req, reply) => {
    const body = req.body as { name?: unknown } | undefined;
    if (typeof body?.name !== 'string' || body.name.length === 0 || body.name.length > 200)
      return reply.code(400).send({ error: 'name must be a string of 1 to 200 characters' });
    return reply.code(201).send(await opts.db.addItem(body.name));
  });
{{/if}}

  return { app, readiness };
}
