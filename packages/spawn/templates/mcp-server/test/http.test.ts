import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createHttpServer } from '../src/http.js';
import { createMetrics } from '../src/metrics.js';

const TOKEN = 'test-token-0123456789';
let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function start(env: NodeJS.ProcessEnv = {}): Promise<string> {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', ...env });
  server = createHttpServer(config, createMetrics(), { ready: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function client(base: string, token?: string): Promise<Client> {
  const c = new Client({ name: 'test', version: '1.0.0' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL('/mcp', base), {
      ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}),
    }),
  );
  return c;
}

describe('Streamable HTTP', () => {
  it('answers tools/list and tools/call to the official client', async () => {
    const base = await start();
    const c = await client(base);
    const { tools } = await c.listTools();
    expect(tools.map((t) => t.name)).toContain('greet');
    const r = await c.callTool({ name: 'greet', arguments: { name: 'Lin' } });
    expect(r.content).toEqual([{ type: 'text', text: 'Hello, Lin!' }]);
    await c.close();
  });

  it('requires the bearer token when one is set', async () => {
    const base = await start({ MCP_TOKEN: TOKEN });
    await expect(client(base)).rejects.toThrow();
    const c = await client(base, TOKEN);
    expect((await c.listTools()).tools.length).toBe(2);
    await c.close();
  });

  it('refuses a foreign Origin', async () => {
    const base = await start();
    const res = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(403);
  });

  it('serves health, readiness and metrics', async () => {
    const base = await start();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    await fetch(`${base}/nope`);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/http_requests_total\{[^}]*route="unmatched"[^}]*status="404"/);
  });
});
