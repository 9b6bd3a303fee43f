// The CLI's REST client against a real HTTP server on 127.0.0.1: a node (or whatever answers at --url) that echoes
// the token gets none of it into the error, a body over the limit is cut off instead of filling memory, and each
// problem status maps to its exit code.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, MAX_API_RESPONSE_BYTES } from '../src/api-client.ts';
import { CliError, EXIT } from '../src/exit.ts';

const TOKEN = 'vm_test_0123456789abcdef';
let server: Server;
let url = '';
const sent = { bytes: 0 };

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/echo') {
      res.writeHead(403, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ code: 'FORBIDDEN', detail: `token ${req.headers.authorization} may not` }));
      return;
    }
    if (req.url === '/endless') {
      sent.bytes = 0;
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      const pump = () => {
        while (sent.bytes < 4 * MAX_API_RESPONSE_BYTES) {
          sent.bytes += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => undefined);
      pump();
      return;
    }
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ code: 'NOT_FOUND', detail: 'no such thing' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.VM_TOKEN = TOKEN;
});
afterAll(async () => {
  delete process.env.VM_TOKEN;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a CliError');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(CliError);
      return e as CliError;
    },
  );

describe('apiCall', () => {
  it('scrubs the token from an answer that echoes it, and maps 403 to the auth exit code', async () => {
    const e = await failure(apiCall({ url }, 'GET', '/echo'));
    expect(e.exitCode).toBe(EXIT.AUTH);
    expect(e.message).toBe('403 FORBIDDEN: token Bearer [redacted] may not');
  });

  it('maps 404 to the not-found exit code with the problem detail', async () => {
    const e = await failure(apiCall({ url }, 'GET', '/nothing'));
    expect(e.exitCode).toBe(EXIT.NOT_FOUND);
    expect(e.message).toBe('404 NOT_FOUND: no such thing');
  });

  it('stops reading an answer past its limit and says so', async () => {
    const e = await failure(apiCall({ url }, 'GET', '/endless'));
    expect(e.exitCode).toBe(EXIT.FAILED);
    expect(e.message).toMatch(/larger than the 67108864 bytes allowed/);
    expect(sent.bytes).toBeLessThan(4 * MAX_API_RESPONSE_BYTES);
  });

  it('refuses a --url that is not http(s), and a missing VM_TOKEN, before any request', async () => {
    expect((await failure(apiCall({ url: 'ftp://x' }, 'GET', '/'))).exitCode).toBe(EXIT.USAGE);
    delete process.env.VM_TOKEN;
    try {
      expect((await failure(apiCall({ url }, 'GET', '/'))).exitCode).toBe(EXIT.AUTH);
    } finally {
      process.env.VM_TOKEN = TOKEN;
    }
  });
});
