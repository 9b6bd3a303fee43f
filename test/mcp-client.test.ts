// VaultMesh as an MCP client: tools of external MCP servers (a real SDK server over Streamable HTTP on loopback that
// demands a bearer token, and a real stdio server child process) called only through the gateway: policy per
// server and tool, residency, allow-lists, time limits, failures that keep secrets out, and a `tool` receipt.
import { createServer as createNetServer } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { decodeReceipt } from '@vaultmesh/ledger';
import type { InteropError } from '@vaultmesh/interop';
import { type Caller } from '@vaultmesh/interop';
import {
  createControlPlane,
  createInterop,
  initNode,
  openNode,
  type ControlPlane,
  type Interop,
  type OpenedNode,
} from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ROOT, runVm, runVmJson } from './helpers/vm.ts';

const SECRET = 'ext-bearer-Zm9vYmFyYmF6';
let http: Server;
let url = '';
let requests = 0;
let dir: string;
let node: OpenedNode;
let control: ControlPlane;
let interop: Interop;

function mcpFixture(): McpServer {
  const s = new McpServer({ name: 'fixture', version: '1.0.0' });
  s.registerTool('echo', { description: 'echoes', inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text: `echo: ${text}` }],
    structuredContent: { text },
    // The output schema is optional: structuredContent alone is fine for the client.
  }));
  s.registerTool('slow', { description: 'sleeps', inputSchema: { ms: z.number() } }, async ({ ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return { content: [{ type: 'text', text: 'done' }] };
  });
  s.registerTool('boom', { description: 'fails', inputSchema: {} }, async () => {
    throw new Error('kaboom');
  });
  s.registerTool('secret', { description: 'not on the allow-list', inputSchema: {} }, async () => ({
    content: [{ type: 'text', text: 'leak' }],
  }));
  return s;
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  requests++;
  if (req.headers.authorization !== `Bearer ${SECRET}`) {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
    return;
  }
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as unknown) : undefined;
  // Stateless: a fresh server and transport per request, as the SDK's stateless example does.
  const server = mcpFixture();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

const servers = () => [
  {
    name: 'fixture',
    url: `${url}/mcp`,
    bearerToken: SECRET,
    allowTools: ['echo', 'slow', 'boom'],
    timeoutMs: 1500,
  },
  { name: 'faraway', url: `${url}/mcp`, bearerToken: SECRET, region: 'us-east-1' },
  { name: 'wrongkey', url: `${url}/mcp`, bearerToken: 'not-the-secret-token', timeoutMs: 3000 },
  { name: 'down', url: 'http://127.0.0.1:9/mcp', timeoutMs: 3000 },
  { name: 'stdio', command: process.execPath, args: [join(ROOT, 'test/fixtures/mcp-echo-server.mjs')] },
];

const agent: Caller = {
  principal: { type: 'agent', id: 'agent:ext', role: 'agent', tenant: 'acme' },
  via: 'mcp',
};
const viewer: Caller = {
  principal: { type: 'person', id: 'viewer:ext', role: 'viewer', tenant: 'acme' },
  via: 'mcp',
};

async function toolReceipts() {
  await node.log.idle();
  return (await node.storage.listEntries({ kind: 'tool', limit: 1000, order: 'asc' })).map(
    (e) => decodeReceipt(e.bytes).body,
  );
}
const err = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as InteropError,
  );

beforeAll(async () => {
  http = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'vm-mcp-client-'));
  await initNode(join(dir, 'data'));
  node = await openNode(join(dir, 'data'));
  control = createControlPlane(node);
  interop = createInterop(node, control, {
    dataDir: join(dir, 'data'),
    mode: 'dry-run',
    mcpServers: servers(),
  });
}, 60_000);

afterAll(async () => {
  await interop?.close();
  await control?.close();
  await node?.close();
  http.closeAllConnections();
  await new Promise((r) => http.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('external MCP servers through the gateway', () => {
  it('lists the allowed tools and calls one, recording a tool receipt that names server and tool by policy', async () => {
    const list = await interop.gateway.call('list_external_tools', { server: 'fixture' }, agent);
    expect(
      (list.output.servers as { tools: { name: string }[] }[])[0]!.tools.map((t) => t.name).sort(),
    ).toEqual(['boom', 'echo', 'slow']);
    const r = await interop.gateway.call(
      'call_external_tool',
      { server: 'fixture', tool: 'echo', arguments: { text: 'hi' } },
      agent,
    );
    expect(r.output).toMatchObject({
      server: 'fixture',
      tool: 'echo',
      isError: false,
      structuredContent: { text: 'hi' },
    });
    expect(r.output.content).toEqual([{ type: 'text', text: 'echo: hi' }]);
    const last = (await toolReceipts()).at(-1)!;
    expect(last).toMatchObject({ tool: 'call_external_tool', outcome: 'ok', via: 'mcp' });
  });

  it('a denied call never reaches the external server, and neither does a call outside the caller’s residency', async () => {
    const before = requests;
    const denied = await err(
      interop.gateway.call(
        'call_external_tool',
        { server: 'fixture', tool: 'echo', arguments: { text: 'x' } },
        viewer,
      ),
    );
    expect(denied?.code).toBe('DENIED');
    const far = await err(
      interop.gateway.call(
        'call_external_tool',
        { server: 'faraway', tool: 'echo', arguments: { text: 'x' } },
        { ...agent, residency: 'eu' },
      ),
    );
    expect(far?.code).toBe('DENIED');
    expect(far?.reasons).toContain('residency-eu');
    // Listing every server under a residency would reach servers policy never saw: the caller must name one.
    const listAll = await err(interop.gateway.call('list_external_tools', {}, { ...agent, residency: 'eu' }));
    expect(listAll?.code).toBe('INVALID_INPUT');
    expect(requests).toBe(before);
  });

  it('refuses an unknown server before policy (nothing recorded) and a tool outside allowTools', async () => {
    const n = (await toolReceipts()).length;
    const unknown = await err(
      interop.gateway.call('call_external_tool', { server: 'nowhere', tool: 'echo', arguments: {} }, agent),
    );
    expect(unknown?.code).toBe('INVALID_INPUT');
    expect(unknown?.message).toMatch(/not a configured MCP server/);
    expect((await toolReceipts()).length).toBe(n);
    const before = requests;
    const secret = await err(
      interop.gateway.call('call_external_tool', { server: 'fixture', tool: 'secret', arguments: {} }, agent),
    );
    expect(secret?.code).toBe('INVALID_INPUT');
    expect(secret?.message).toMatch(/not in its allowTools/);
    expect(requests).toBe(before);
  });

  it('an external tool error is a completed call whose output says isError', async () => {
    const r = await interop.gateway.call(
      'call_external_tool',
      { server: 'fixture', tool: 'boom', arguments: {} },
      agent,
    );
    expect(r.output.isError).toBe(true);
    expect(JSON.stringify(r.output.content)).toContain('kaboom');
  });

  it('stops a call at the server’s time limit: TIMEOUT, recorded as a timeout', async () => {
    const t = await err(
      interop.gateway.call(
        'call_external_tool',
        { server: 'fixture', tool: 'slow', arguments: { ms: 5000 } },
        agent,
      ),
    );
    expect(t?.code).toBe('TIMEOUT');
    const last = (await toolReceipts()).at(-1)!;
    expect(last).toMatchObject({ tool: 'call_external_tool', outcome: 'timeout' });
  });

  it('a refused bearer token or an unreachable server is UPSTREAM_FAILED, and no secret is in the message', async () => {
    const wrong = await err(
      interop.gateway.call(
        'call_external_tool',
        { server: 'wrongkey', tool: 'echo', arguments: { text: 'x' } },
        agent,
      ),
    );
    expect(wrong?.code).toBe('UPSTREAM_FAILED');
    expect(wrong?.message).not.toContain('not-the-secret-token');
    expect(wrong?.message).not.toContain(SECRET);
    const down = await err(
      interop.gateway.call(
        'call_external_tool',
        { server: 'down', tool: 'echo', arguments: { text: 'x' } },
        agent,
      ),
    );
    expect(down?.code).toBe('UPSTREAM_FAILED');
    expect(JSON.stringify(await toolReceipts())).not.toContain('not-the-secret-token');
  });

  it('calls a stdio server started as a child process', async () => {
    const r = await interop.gateway.call(
      'call_external_tool',
      { server: 'stdio', tool: 'echo', arguments: { text: 'over stdio' } },
      agent,
    );
    expect(r.output.content).toEqual([{ type: 'text', text: 'stdio echo: over stdio' }]);
  }, 30_000);
});

describe('vm mcp tools|call', () => {
  it('lists and calls an external tool from the CLI through policy, and says what is wrong with bad input', async () => {
    const data = join(dir, 'cli');
    expect((await runVm(['init', '-d', data])).code).toBe(0);
    const cfg = join(dir, 'cli.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        interop: { mcpServers: [{ name: 'fixture', url: `${url}/mcp`, bearerTokenEnv: 'FIXTURE_TOKEN' }] },
      }),
    );
    const env = { FIXTURE_TOKEN: SECRET };
    const tools = await runVm(['mcp', 'tools', '-d', data, '-c', cfg], { env });
    expect(tools.code).toBe(0);
    expect(tools.stdout).toMatch(/^fixture: 4 tools$/m);
    const out = await runVmJson<{ content: { text: string }[]; receipt: { index: number } }>(
      ['mcp', 'call', 'fixture', 'echo', '--args', '{"text":"from the cli"}', '-d', data, '-c', cfg],
      { env },
    );
    expect(out.content[0]!.text).toBe('echo: from the cli');
    const shown = await runVmJson<{ receipt: { kind: string; actor: string; body: { via: string } } }>([
      'memory',
      'show',
      String(out.receipt.index),
      '-d',
      data,
    ]);
    expect(shown.receipt).toMatchObject({ kind: 'tool', body: { via: 'cli' } });
    const bad = await runVm(['mcp', 'call', 'fixture', 'echo', '--args', '[1]', '-d', data, '-c', cfg], {
      env,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--args must be a JSON object/);
    const noEnv = await runVm(['mcp', 'tools', '-d', data, '-c', cfg]);
    expect(noEnv.code).toBe(2);
    expect(noEnv.stderr).toMatch(/FIXTURE_TOKEN/);
    const unknown = await runVm(['mcp', 'call', 'nowhere', 'echo', '-d', data, '-c', cfg], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/not a configured MCP server/);
  }, 60_000);

  it('lists every server on its own: a dead or silent one is named, the others are listed, and the command exits', async () => {
    const data = join(dir, 'cli-many');
    expect((await runVm(['init', '-d', data])).code).toBe(0);
    const silent = createNetServer((sock) => void sock); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as AddressInfo).port;
    const cfg = join(dir, 'cli-many.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        interop: {
          mcpServers: [
            { name: 'fixture', url: `${url}/mcp`, bearerTokenEnv: 'FIXTURE_TOKEN' },
            { name: 'down', url: 'http://127.0.0.1:9/mcp', timeoutMs: 2000 },
            { name: 'silent', url: `http://127.0.0.1:${silentPort}/mcp`, timeoutMs: 2000 },
            {
              name: 'stdio',
              command: process.execPath,
              args: [join(ROOT, 'test/fixtures/mcp-echo-server.mjs')],
            },
          ],
        },
      }),
    );
    try {
      const r = await runVm(['mcp', 'tools', '-d', data, '-c', cfg], {
        env: { FIXTURE_TOKEN: SECRET },
        timeoutMs: 60_000,
      });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^fixture: 4 tools$/m);
      expect(r.stdout).toMatch(/^stdio: \d+ tools?$/m);
      expect(r.stdout).toMatch(/^down: could not list its tools: /m);
      expect(r.stdout).toMatch(/^silent: could not list its tools: /m);
      expect(r.stderr).toMatch(/2 of 4 servers could not be listed: down, silent/);
    } finally {
      silent.close();
    }
  }, 90_000);
});
