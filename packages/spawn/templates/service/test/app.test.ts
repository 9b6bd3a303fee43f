import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp, type Readiness } from '../src/app.js';
import { createMetrics } from '../src/metrics.js';
{{#if db == postgres}}
import type { Database } from '../src/db.js';

/** A database whose ping fails on demand (the items routes are tested against PostgreSQL in db.test.ts). */
function fakeDb(up: { ok: boolean }): Database {
  return {
    ping: async () => {
      if (!up.ok) throw new Error('down');
    },
    listItems: async () => [],
    addItem: async (name) => ({ id: 1, name, createdAt: new Date(0).toISOString() }),
    close: async () => undefined,
  };
}
{{/if}}

const NAME = '{{name}}';
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

{{#if db == postgres}}
function start(up = { ok: true }): { app: FastifyInstance; readiness: Readiness } {
  const built = buildApp({ metrics: createMetrics(), db: fakeDb(up) });
{{#else}}
function start(): { app: FastifyInstance; readiness: Readiness } {
  const built = buildApp({ metrics: createMetrics() });
{{/if}}
  app = built.app;
  return built;
}

describe('{{name}}', () => {
  it('is alive at once and ready only once started', async () => {
    const { app, readiness } = start();
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/readyz')).statusCode).toBe(503);
    readiness.ready = true;
    expect((await app.inject('/readyz')).json()).toEqual({ status: 'ready' });
    readiness.ready = false;
    expect((await app.inject('/readyz')).statusCode).toBe(503);
  });
{{#if db == postgres}}

  it('is not ready while the database does not answer', async () => {
    const up = { ok: false };
    const { app, readiness } = start(up);
    readiness.ready = true;
    expect((await app.inject('/readyz')).statusCode).toBe(503);
    up.ok = true;
    expect((await app.inject('/readyz')).statusCode).toBe(200);
  });
{{/if}}

  it('answers the example route', async () => {
    const { app } = start();
    expect((await app.inject('/api/v1/hello?name=Ada')).json()).toEqual({ message: 'Hello, Ada!' });
  });

  it('says who it is', async () => {
    const { app } = start();
    expect((await app.inject('/api/v1/info')).json()).toMatchObject({ name: NAME });
  });

  it('counts requests by route pattern in /metrics', async () => {
    const { app } = start();
    await app.inject('/api/v1/hello');
    await app.inject('/nope');
    const res = await app.inject('/metrics');
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(/http_requests_total\{[^}]*route="\/api\/v1\/hello"[^}]*\} 1/);
    expect(res.body).toMatch(/http_requests_total\{[^}]*route="unmatched"[^}]*status="404"/);
    expect(res.body).toContain('process_cpu_user_seconds_total');
  });
});
