import { describe, expect, it, afterEach } from 'vitest';
import { z } from 'zod';
import { AuroraError } from '../../src/errors.ts';
import { createHttpClient } from '../../src/providers/http.ts';
import { exposed, rejection, startFakeApi, type FakeApi } from './fake-api.ts';

const KEY = 'sk-live-SECRET-0123456789abcdef';
let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

function client(url: string, extra: { timeoutMs?: number; maxResponseBytes?: number } = {}) {
  return createHttpClient({
    provider: 'test',
    baseUrl: `${url}/api/v0`,
    auth: { header: 'authorization', value: `Bearer ${KEY}`, secret: KEY },
    ...extra,
  });
}

describe('createHttpClient', () => {
  it('sends method, path under the base URL, query, auth header and JSON body, and validates the answer', async () => {
    api = await startFakeApi(() => ({ body: { ok: true, n: 3 } }));
    const res = await client(api.url).request('POST', '/things/', {
      query: { q: 'a b', skip: undefined, limit: 5 },
      body: { x: 1 },
      schema: z.object({ ok: z.boolean(), n: z.number() }),
    });
    expect(res).toEqual({ ok: true, n: 3 });
    const [req] = api.requests;
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe('/api/v0/things/');
    expect(req?.query.get('q')).toBe('a b');
    expect(req?.query.has('skip')).toBe(false);
    expect(req?.query.get('limit')).toBe('5');
    expect(req?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.body).toEqual({ x: 1 });
  });

  it('turns a non-2xx answer into PROVIDER_FAILED with the status and a bounded excerpt, redacting an echoed key', async () => {
    api = await startFakeApi(() => ({ status: 401, raw: `invalid api key ${KEY} ${'x'.repeat(5000)}` }));
    const err = await rejection(client(api.url).request('GET', '/things/', { schema: z.unknown() }));
    expect(err).toBeInstanceOf(AuroraError);
    expect(err.code).toBe('PROVIDER_FAILED');
    expect(err.message).toContain('HTTP 401');
    expect(err.message).toContain('[redacted]');
    expect(err.message.length).toBeLessThan(400);
    expect(err.details).toMatchObject({ status: 401 });
    expect(exposed(err)).not.toContain(KEY);
  });

  it('maps 404 to NOT_FOUND only when the call asks for it', async () => {
    api = await startFakeApi(() => ({ status: 404, body: { error: 'not found' } }));
    const c = client(api.url);
    expect(
      (await rejection(c.request('GET', '/x', { schema: z.unknown(), notFound: 'x missing' }))).code,
    ).toBe('NOT_FOUND');
    expect((await rejection(c.request('GET', '/x', { schema: z.unknown() }))).code).toBe('PROVIDER_FAILED');
  });

  it('rejects a body that is not JSON, and a wrong shape naming the field', async () => {
    api = await startFakeApi((req) =>
      req.path.endsWith('/text') ? { raw: '<html>oops</html>' } : { body: { offers: [{ id: 'seven' }] } },
    );
    const c = client(api.url);
    const notJson = await rejection(c.request('GET', '/text', { schema: z.unknown() }));
    expect(notJson.code).toBe('PROVIDER_FAILED');
    expect(notJson.message).toContain('not JSON');
    const shape = await rejection(
      c.request('GET', '/shape', { schema: z.object({ offers: z.array(z.object({ id: z.number() })) }) }),
    );
    expect(shape.code).toBe('PROVIDER_FAILED');
    expect(shape.message).toContain('offers.0.id');
  });

  it('times out with PROVIDER_TIMEOUT and reports a caller abort the same way', async () => {
    api = await startFakeApi(() => ({ body: {}, delayMs: 1500 }));
    const t0 = Date.now();
    const timedOut = await rejection(
      client(api.url, { timeoutMs: 100 }).request('GET', '/slow', { schema: z.unknown() }),
    );
    expect(timedOut.code).toBe('PROVIDER_TIMEOUT');
    expect(timedOut.details).toMatchObject({ reason: 'timeout' });
    // Returned before the answer (1.5 s) could have come: cut, not waited for.
    expect(Date.now() - t0).toBeLessThan(1500);

    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const aborted = await rejection(
      client(api.url).request('GET', '/slow', { schema: z.unknown(), signal: ac.signal }),
    );
    expect(aborted.code).toBe('PROVIDER_TIMEOUT');
    expect(aborted.details).toMatchObject({ reason: 'aborted' });
    expect(exposed(aborted)).not.toContain(KEY);
  });

  it('bounds the response size, with or without a content-length', async () => {
    api = await startFakeApi((req) => ({
      raw: JSON.stringify({ blob: 'y'.repeat(10_000) }),
      ...(req.path.endsWith('/chunked') ? { headers: { 'transfer-encoding': 'chunked' } } : {}),
    }));
    const c = client(api.url, { maxResponseBytes: 1000 });
    for (const path of ['/sized', '/chunked']) {
      const err = await rejection(c.request('GET', path, { schema: z.unknown() }));
      expect(err.code).toBe('PROVIDER_FAILED');
      expect(err.message).toContain('larger than 1000 bytes');
    }
  });

  it('reports an unreachable server as PROVIDER_FAILED without the key', async () => {
    api = await startFakeApi(() => ({ body: {} }));
    const url = api.url;
    await api.close();
    api = undefined;
    const err = await rejection(client(url).request('GET', '/x', { schema: z.unknown() }));
    expect(err.code).toBe('PROVIDER_FAILED');
    expect(exposed(err)).not.toContain(KEY);
  });

  it('refuses base URLs with credentials or other schemes, and keys that cannot be a header', () => {
    const mk = (baseUrl: string, value = 'Bearer k') =>
      createHttpClient({ provider: 'test', baseUrl, auth: { header: 'authorization', value, secret: 'k' } });
    expect(() => mk('ftp://example.com')).toThrow(/http or https/);
    expect(() => mk('https://user:pw@example.com')).toThrow(/credentials/);
    const bad = `Bearer ${KEY}\r\nx-evil: 1`;
    try {
      mk('https://example.com', bad);
      expect.unreachable();
    } catch (err) {
      expect((err as AuroraError).code).toBe('INVALID_ARGUMENT');
      expect(exposed(err)).not.toContain(KEY);
    }
  });
});
