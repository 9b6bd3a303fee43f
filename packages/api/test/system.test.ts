// The app itself: system endpoints, request logs and slow clients, a full disk, per-token limits.
// ------------------------------------------------------------------------------------------------------------
import { parseVerifierKey } from '@vaultmesh/ledger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../src/index.ts';
import { KEY, ORIGIN, expectProblem, seed, startNode, type TestNode } from './helpers.ts';

describe('system endpoints', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode();
    await seed(node, 3);
  });
  afterAll(() => node.close());

  it('GET /api/system/health reports ok and the committed ledger size', async () => {
    const res = await node.send({ method: 'GET', url: '/api/system/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'ok',
      checks: { storage: 'ok' },
      ledger: { size: 3, checkpointSize: 0 },
    });
  });

  it('GET /api/system/health answers 503 "degraded" when the ledger storage stops answering', async () => {
    const broken = await startNode();
    await broken.storage.close();
    const res = await broken.send({ method: 'GET', url: '/api/system/health' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'degraded', checks: { storage: 'failing' } });
    await broken.app.close();
  });

  it('GET /api/backend/status reports mode, storage, origin and the node verifier key', async () => {
    const res = await node.send({ method: 'GET', url: '/api/backend/status' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { mode: string; origin: string; verifierKey: string; storage: string };
    expect(body).toMatchObject({ mode: 'dry-run', storage: 'memory', origin: ORIGIN, ledger: { size: 3 } });
    expect(parseVerifierKey(body.verifierKey).publicKey).toEqual(KEY.verifierKey.publicKey);
  });

  it('GET /metrics serves Prometheus text with the ledger entry gauge', async () => {
    const res = await node.send({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/^# TYPE vaultmesh_ledger_entries gauge$/m);
    expect(res.body).toMatch(/^vaultmesh_ledger_entries 3$/m);
  });

  it('answers unknown routes with a problem+json 404', async () => {
    expectProblem(await node.send({ method: 'GET', url: '/api/nope' }), 404, /no route GET \/api\/nope/);
  });
});

// ------------------------------------------------------------------------------------------------------------

describe('request logs and slow clients', () => {
  it('never logs a secret a client put in a query string', async () => {
    const { redactUrl } = await import('../src/app.ts');
    expect(redactUrl('/api/x?token=vm_abc&limit=5&api_key=k1&signature=s')).toBe(
      '/api/x?token=%5Bredacted%5D&limit=5&api_key=%5Bredacted%5D&signature=%5Bredacted%5D',
    );
    expect(redactUrl('/api/x?limit=5')).toBe('/api/x?limit=5');
    expect(redactUrl('/health')).toBe('/health');
  });

  it('sets request and header time limits, so a slow client cannot hold a socket for Node’s 300 s', async () => {
    const { HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } = await import('../src/app.ts');
    const n = await startNode();
    expect(n.app.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
    expect(n.app.server.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
    expect(REQUEST_TIMEOUT_MS).toBeLessThan(300_000);
    await n.app.close();
  });
});

describe('a full disk', () => {
  it('answers 507 with a clear message, stores nothing, and writes work again once there is space', async () => {
    const full = { on: true };
    const n = await startNode({ full });
    const { auth } = await n.mint('operator', 'acme');
    const post = () =>
      n.app.inject({
        method: 'POST',
        url: '/api/ledger/receipts',
        headers: { ...auth, 'content-type': 'application/json' },
        payload: { kind: 'decision', tenant: 'acme', body: { title: 'while full' } },
      });
    const r = await post();
    expect(r.statusCode).toBe(507);
    expect(r.json()).toMatchObject({ code: 'INSUFFICIENT_STORAGE', title: 'Insufficient Storage' });
    expect(r.json().detail).toMatch(/disk is full/);
    full.on = false;
    const ok = await post();
    expect(ok.statusCode).toBe(201);
    await n.app.close();
  });
});

describe('per-token limits', () => {
  it('the limiter: a write bucket that refills, and a deny budget over a sliding minute', () => {
    const l = createRateLimiter({ writesPerSecond: 2, writeBurst: 2, deniesPerMinute: 3 });
    const t = 1_000_000;
    expect(l.admit('a', true, t)).toBeUndefined();
    expect(l.admit('a', true, t)).toBeUndefined();
    expect(l.admit('a', true, t)).toMatchObject({ reason: 'writes', retryAfterS: 1 });
    expect(l.admit('b', true, t)).toBeUndefined(); // another token has its own bucket
    expect(l.admit('a', false, t)).toBeUndefined(); // reads are not writes
    expect(l.admit('a', true, t + 500)).toBeUndefined(); // refilled by one
    for (let i = 0; i < 3; i++) l.denied('c', t + i);
    expect(l.admit('c', false, t + 10)).toMatchObject({ reason: 'denies', retryAfterS: 60 });
    expect(l.admit('c', false, t + 60_001)).toBeUndefined(); // the first deny left the minute
    expect(l.refused).toEqual({ writes: 1, denies: 1 });
  });

  it('over HTTP: 429 with Retry-After, counted on /metrics; a token that keeps being denied is stopped', async () => {
    const n = await startNode({ rateLimits: { writesPerSecond: 0.01, writeBurst: 2, deniesPerMinute: 2 } });
    const { auth } = await n.mint('operator', 'acme');
    const post = (headers: Record<string, string>) =>
      n.app.inject({
        method: 'POST',
        url: '/api/ledger/receipts',
        headers: { ...headers, 'content-type': 'application/json' },
        payload: { kind: 'decision', tenant: 'acme', body: { title: 'x' } },
      });
    expect((await post(auth)).statusCode).toBe(201);
    expect((await post(auth)).statusCode).toBe(201);
    const limited = await post(auth);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED', title: 'Too Many Requests' });
    // A viewer may not write: two denies, then even its reads wait until the minute has passed.
    const viewer = (await n.mint('viewer', 'acme')).auth;
    expect((await post(viewer)).statusCode).toBe(403);
    expect((await post(viewer)).statusCode).toBe(403);
    const stopped = await n.app.inject({
      method: 'GET',
      url: '/api/ledger/receipts?limit=1',
      headers: viewer,
    });
    expect(stopped.statusCode).toBe(429);
    expect(stopped.json().detail).toMatch(/2 requests denied in the last minute/);
    const metrics = await n.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/vaultmesh_rate_limited_total\{reason="writes"\} 1/);
    expect(metrics.body).toMatch(/vaultmesh_rate_limited_total\{reason="denies"\} 1/);
    await n.app.close();
  });
});
