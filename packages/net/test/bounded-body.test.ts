// The bounded reader against a real HTTP server on 127.0.0.1: a chunked body that never ends is cut at the limit and
// the connection is dropped (the server sees it close long before it would have sent everything); a declared
// Content-Length over the limit is refused before the body is read; truncation keeps the first bytes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BodyTooLargeError,
  boundedFetch,
  readBounded,
  readBoundedJson,
  readBoundedText,
  requestSecrets,
  scrubText,
} from '../src/index.ts';

let server: Server;
let url = '';
const sent = { bytes: 0, closed: false };

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/endless') {
      // 1 GiB, chunked, 64 KiB at a time: only a reader that stops early survives this.
      sent.bytes = 0;
      sent.closed = false;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (sent.bytes < 1024 ** 3) {
          sent.bytes += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => (sent.closed = true));
      pump();
      return;
    }
    if (req.url === '/declared') {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      res.end(Buffer.alloc(10 * 1024 * 1024));
      return;
    }
    if (req.url === '/echo') {
      // Echoes the bearer token back, split across writes, as a hostile or careless server might.
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      res.writeHead(401, { 'content-type': 'application/json' });
      res.write(`{"error":"bad token ${token.slice(0, 7)}`);
      setTimeout(() => res.end(`${token.slice(7)}","again":"${token}"}`), 20);
      return;
    }
    if (req.url === '/json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, items: [1, 2, 3] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>a proxy page</html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('readBounded', () => {
  it('stops an endless chunked body at the limit and drops the transfer', async () => {
    const err = await readBounded(await fetch(`${url}/endless`), {
      limit: 1024 * 1024,
      what: 'peer checkpoint',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BodyTooLargeError);
    expect((err as BodyTooLargeError).message).toBe(
      'peer checkpoint is larger than the 1048576 bytes allowed',
    );
    for (let i = 0; i < 100 && !sent.closed; i++) await new Promise((r) => setTimeout(r, 20));
    expect(sent.closed).toBe(true);
    expect(sent.bytes).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses a declared Content-Length over the limit before reading', async () => {
    const err = (await readBounded(await fetch(`${url}/declared`), {
      limit: 1000,
      what: 'TSA response',
    }).catch((e: unknown) => e)) as BodyTooLargeError;
    expect(err.code).toBe('BODY_TOO_LARGE');
    expect(err.declared).toBe(10 * 1024 * 1024);
  });

  it('truncates when asked, and reads text and JSON within the limit', async () => {
    const cut = await readBounded(await fetch(`${url}/endless`), { limit: 100_000, onLimit: 'truncate' });
    expect(cut).toMatchObject({ truncated: true });
    expect(cut.bytes.byteLength).toBe(100_000);
    expect(await readBoundedJson(await fetch(`${url}/json`), { limit: 1000 })).toEqual({
      ok: true,
      items: [1, 2, 3],
    });
    expect(await readBoundedText(await fetch(`${url}/html`), { limit: 1000 })).toBe(
      '<html>a proxy page</html>',
    );
    await expect(readBoundedJson(await fetch(`${url}/html`), { limit: 1000, what: 'proof' })).rejects.toThrow(
      /^proof is not JSON: "<html>a proxy page<\/html>"$/,
    );
  });
});

describe('boundedFetch', () => {
  it('errors the body stream of an SDK-read response past the limit', async () => {
    const f = boundedFetch(fetch, { limit: 256 * 1024, what: 'A2A agent response' });
    const res = await f(`${url}/endless`);
    await expect(res.arrayBuffer()).rejects.toThrow(
      /A2A agent response is larger than the 262144 bytes allowed/,
    );
    await expect(f(`${url}/declared`)).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(await (await f(`${url}/json`)).json()).toEqual({ ok: true, items: [1, 2, 3] });
  });
});

describe('scrubbing credentials from what is received', () => {
  it('replaces a token the server echoes, even split across chunks', async () => {
    const token = 'sk-live-0123456789abcdef';
    const f = boundedFetch(fetch, { limit: 4096, secrets: [token, undefined] });
    const res = await f(`${url}/echo`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.slice(7));
    expect(JSON.parse(text)).toEqual({ error: 'bad token [redacted]', again: '[redacted]' });
    expect(scrubText(`x ${token} y ${token}`, [token])).toBe('x [redacted] y [redacted]');
  });
});

describe('requestSecrets', () => {
  it('finds credential headers in every form an echo may take, and URL passwords', () => {
    const basic = `Basic ${btoa('scraper:hunter2-pass')}`;
    const s = requestSecrets(
      {
        Authorization: 'Bearer tok_abcdef123',
        'X-Api-Key': 'k-123456',
        'Proxy-Authorization': basic,
        'content-type': 'application/json',
        accept: 'text/plain',
      },
      'https://user:p%40ssw0rd@prom.example/',
    );
    expect(s).toEqual(
      expect.arrayContaining([
        'Bearer tok_abcdef123',
        'tok_abcdef123',
        'k-123456',
        basic,
        'scraper:hunter2-pass',
        'hunter2-pass',
        'p%40ssw0rd',
        'p@ssw0rd',
      ]),
    );
    expect(s).not.toContain('application/json');
    expect(s).not.toContain('text/plain');
    const echoed = scrubText('denied: Bearer tok_abcdef123 / hunter2-pass / p@ssw0rd', s);
    expect(echoed).not.toMatch(/tok_abcdef123|hunter2|p@ssw0rd/);
  });

  it('takes every header with allHeaders, never strings under 4 characters', () => {
    expect(
      requestSecrets({ 'x-tenant-route': 'blue-42', x: 'abc' }, undefined, { allHeaders: true }),
    ).toEqual(['blue-42']);
    expect(requestSecrets(new Headers({ cookie: 'sid=s3cr3t' }))).toEqual(['sid=s3cr3t']);
    expect(requestSecrets(undefined, 'not a url')).toEqual([]);
  });
});
