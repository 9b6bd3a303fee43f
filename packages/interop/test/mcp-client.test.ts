// The MCP client pool against real SDK servers: a stateful Streamable HTTP server on loopback (sessions, an API-key
// header) and a stdio child process. Lazy connection, one session reused, cached tool lists, reconnection after a
// lost session or a dead child, time limits, and no secret in any error. (End-to-end through a real node's gateway
// and the vm binary: test/mcp-client.test.ts.)
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  InteropError,
  McpServerConfigSchema,
  McpServersConfigSchema,
  createLazyA2aAgentsClient,
  createLazyMcpClientPool,
  createMcpClientPool,
  type ExternalMcpPort,
} from '../src/index.ts';

const KEY = 'x-api-key-value-7f3a9c';
const STDIO_FIXTURE = fileURLToPath(new URL('./fixtures/stdio-server.mjs', import.meta.url));

let http: Server;
let url = '';
/** Requests the HTTP server received, by JSON-RPC method (every POST body counted, refused ones too). */
let seen: Record<string, number> = {};
let sessions = new Map<string, StreamableHTTPServerTransport>();

function fixture(): McpServer {
  const s = new McpServer({ name: 'pool-fixture', version: '1.0.0' });
  s.registerTool('echo', { description: 'echoes', inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text: `echo: ${text}` }],
  }));
  s.registerTool('slow', { description: 'sleeps', inputSchema: { ms: z.number() } }, async ({ ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return { content: [{ type: 'text', text: 'done' }] };
  });
  return s;
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = chunks.length
    ? (JSON.parse(Buffer.concat(chunks).toString()) as { method?: string })
    : undefined;
  if (body?.method) seen[body.method] = (seen[body.method] ?? 0) + 1;
  if (req.headers['x-api-key'] !== KEY) {
    // A careless server that echoes the credentials it refused: the client must not pass them on.
    res
      .writeHead(401, { 'content-type': 'text/plain' })
      .end(`refused key ${String(req.headers['x-api-key'])} with ${String(req.headers.authorization)}`);
    return;
  }
  const sid = req.headers['mcp-session-id'];
  let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
  if (typeof sid === 'string' && !transport) {
    // MCP Streamable HTTP, Session Management: an unknown or expired session id is answered with 404.
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end(
        JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }),
      );
    return;
  }
  if (!transport) {
    const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, t),
    });
    await fixture().connect(t);
    transport = t;
  }
  await transport.handleRequest(req, res, body);
}

/** The server forgets every session, as after a restart. */
async function forgetSessions() {
  const old = [...sessions.values()];
  sessions = new Map();
  await Promise.all(old.map((t) => t.close()));
}

const err = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as InteropError,
  );
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  http = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
});

afterAll(async () => {
  await forgetSessions();
  http.closeAllConnections();
  await new Promise((r) => http.close(r));
});

beforeEach(() => {
  seen = {};
});

describe('McpServerConfigSchema', () => {
  it('takes exactly one of an http(s) url or a command, a lowercase name, and no unknown keys', () => {
    expect(McpServerConfigSchema.parse({ name: 'web', url: 'https://mcp.example/mcp' })).toMatchObject({
      timeoutMs: 30_000,
      args: [],
    });
    expect(McpServerConfigSchema.safeParse({ name: 'local', command: 'node', args: ['s.mjs'] }).success).toBe(
      true,
    );
    for (const bad of [
      { name: 'both', url: 'https://a/mcp', command: 'node' },
      { name: 'neither' },
      { name: 'ftp', url: 'ftp://a/mcp' },
      { name: 'Upper', url: 'https://a/mcp' },
      { name: 'extra', url: 'https://a/mcp', token: 'inline secrets are not a key' },
      { name: 'env', url: 'https://a/mcp', bearerTokenEnv: 'not an env name' },
    ])
      expect(McpServerConfigSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });

  it('refuses two servers with the same name', () => {
    const r = McpServersConfigSchema.safeParse([
      { name: 'a', url: 'https://a/mcp' },
      { name: 'a', command: 'node' },
    ]);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('duplicate server');
  });
});

describe('createMcpClientPool over Streamable HTTP', () => {
  let pool: ExternalMcpPort;
  beforeAll(() => {
    pool = createMcpClientPool(
      [
        {
          name: 'web',
          url,
          headers: { 'x-api-key': KEY },
          region: 'eu-west-1',
          description: 'the fixture',
          timeoutMs: 3000,
        },
        { name: 'limited', url, headers: { 'x-api-key': KEY }, allowTools: ['echo'] },
        {
          name: 'badkey',
          url,
          headers: { 'x-api-key': 'wrong-header-value-51d2' },
          bearerToken: 'wrong-bearer-token-8e0b',
        },
      ],
      { clientName: 'vaultmesh-test', clientVersion: '0.0.1', toolListTtlMs: 60_000 },
    );
  });
  afterAll(() => pool.close());

  it('names its servers without contacting them, and without any secret', () => {
    expect(pool.servers()).toEqual([
      { name: 'web', region: 'eu-west-1', description: 'the fixture' },
      { name: 'limited' },
      { name: 'badkey' },
    ]);
    expect(seen).toEqual({});
    expect(JSON.stringify(pool.servers())).not.toContain(KEY);
  });

  it('connects on first use and reuses one session: one initialize and one tools/list for many calls', async () => {
    for (const text of ['a', 'b', 'c']) {
      const r = await pool.callTool('web', 'echo', { text }, {});
      expect(r).toEqual({ isError: false, content: [{ type: 'text', text: `echo: ${text}` }] });
    }
    expect((await pool.listTools('web', {})).map((t) => t.name).sort()).toEqual(['echo', 'slow']);
    expect(seen).toMatchObject({ initialize: 1, 'tools/list': 1, 'tools/call': 3 });
  });

  it('lists and calls only allowed tools: outside allowTools is INVALID_INPUT before any request', async () => {
    expect((await pool.listTools('limited', {})).map((t) => t.name)).toEqual(['echo']);
    seen = {};
    const e = await err(pool.callTool('limited', 'slow', { ms: 1 }, {}));
    expect(e).toBeInstanceOf(InteropError);
    expect(e?.code).toBe('INVALID_INPUT');
    expect(seen).toEqual({});
  });

  it('a tool the server does not list is NOT_FOUND, checked once against a fresh list, never called', async () => {
    const e = await err(pool.callTool('web', 'nosuch', {}, {}));
    expect(e?.code).toBe('NOT_FOUND');
    expect(seen).toEqual({ 'tools/list': 1 });
  });

  it('an unknown server is INVALID_INPUT', async () => {
    expect((await err(pool.callTool('elsewhere', 'echo', {}, {})))?.code).toBe('INVALID_INPUT');
    expect((await err(pool.listTools('elsewhere', {})))?.code).toBe('INVALID_INPUT');
  });

  it('starts a new session once when the server answers 404 for the old one, and the call succeeds', async () => {
    await pool.callTool('web', 'echo', { text: 'before' }, {});
    await forgetSessions();
    seen = {};
    const r = await pool.callTool('web', 'echo', { text: 'after' }, {});
    expect(r.content).toEqual([{ type: 'text', text: 'echo: after' }]);
    expect(seen).toMatchObject({ initialize: 1, 'tools/call': 2 });
  });

  it('stops a call at the per-call time limit: TIMEOUT, well before the tool finishes', async () => {
    const started = Date.now();
    const e = await err(pool.callTool('web', 'slow', { ms: 3000 }, { timeoutMs: 200 }));
    expect(e?.code).toBe('TIMEOUT');
    // Returned before the tool could have finished (3 s): the call was cut, not waited for.
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('an aborted call keeps the reason it was aborted with (a cancel is not a timeout)', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new InteropError('FAILED', 'the caller cancelled the call')), 100);
    const e = await err(pool.callTool('web', 'slow', { ms: 3000 }, { signal: ac.signal }));
    expect(e?.code).toBe('FAILED');
    expect(e?.message).toMatch(/cancelled/);
  });

  it('a refused credential is UPSTREAM_FAILED, and neither header value nor bearer token is in the message', async () => {
    const e = await err(pool.callTool('badkey', 'echo', { text: 'x' }, {}));
    expect(e?.code).toBe('UPSTREAM_FAILED');
    expect(e?.message).toMatch(/badkey/);
    expect(e?.message).not.toContain('wrong-header-value-51d2');
    expect(e?.message).not.toContain('wrong-bearer-token-8e0b');
  });
});

describe('createMcpClientPool over stdio', () => {
  const pidOf = async (pool: ExternalMcpPort) => {
    const r = await pool.callTool('local', 'pid', {}, {});
    return Number((r.content[0] as { text: string }).text);
  };

  it('starts the child on first use, restarts it once after it died, and close() ends it', async () => {
    const pool = createMcpClientPool([
      { name: 'local', command: process.execPath, args: [STDIO_FIXTURE], timeoutMs: 10_000 },
    ]);
    try {
      const first = await pidOf(pool);
      expect(first).not.toBe(process.pid);
      expect(await pidOf(pool)).toBe(first);
      process.kill(first, 'SIGKILL');
      await until(() => !alive(first));
      const r = await pool.callTool('local', 'echo', { text: 'again' }, {});
      expect(r.content).toEqual([{ type: 'text', text: 'stdio echo: again' }]);
      const second = await pidOf(pool);
      expect(second).not.toBe(first);
      await pool.close();
      await until(() => !alive(second));
    } finally {
      await pool.close();
    }
  }, 30_000);
});

describe('lazy ports (@vaultmesh/interop/core: the SDK loads on first use)', () => {
  it('the MCP pool names its servers and closes without connecting, then delegates to the real pool', async () => {
    const pool = createLazyMcpClientPool([
      { name: 'web', url, headers: { 'x-api-key': KEY }, region: 'eu-west-1', description: 'lazy' },
    ]);
    seen = {};
    expect(pool.servers()).toEqual([{ name: 'web', region: 'eu-west-1', description: 'lazy' }]);
    expect(seen).toEqual({});
    try {
      const r = await pool.callTool('web', 'echo', { text: 'lazy' }, {});
      expect(r.content).toEqual([{ type: 'text', text: 'echo: lazy' }]);
      expect(seen).toMatchObject({ initialize: 1, 'tools/call': 1 });
      await expect(pool.callTool('nope', 'echo', {}, {})).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    } finally {
      await pool.close();
    }
    await createLazyMcpClientPool([{ name: 'never', url }]).close();
  });

  it('refuses duplicate names and bad agents at construction, as the eager clients do', () => {
    expect(() =>
      createLazyMcpClientPool([
        { name: 'a', url },
        { name: 'a', url },
      ]),
    ).toThrow(/unique/);
    expect(() => createLazyA2aAgentsClient([{ name: 'x', url: 'ftp://example.test/' }])).toThrow(
      /http\(s\) URL/,
    );
    expect(() =>
      createLazyA2aAgentsClient([
        { name: 'x', url: 'http://127.0.0.1:1/' },
        { name: 'x', url: 'http://127.0.0.1:2/' },
      ]),
    ).toThrow(/unique/);
    expect(
      createLazyA2aAgentsClient([{ name: 'x', url: 'http://127.0.0.1:1/', region: 'eu' }]).agents(),
    ).toEqual([{ name: 'x', url: 'http://127.0.0.1:1/', region: 'eu' }]);
  });
});
