// vm mcp serve --stdio: the node's MCP tools for desktop agents that speak MCP over stdio. Either it opens the data
// directory itself (no node may be running on it), or with --url it bridges stdio to a running node's /mcp. The
// caller is the API token in VM_TOKEN (audience mcp); every call goes through policy and leaves a receipt, exactly
// as over HTTP. stdout carries the protocol only: everything else goes to stderr.
import type { Command } from 'commander';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { authenticate, tokenActor } from '@vaultmesh/auth';
import { CliError, EXIT } from '../exit.ts';
import { dataDir, keyOptions, withData } from '../context.ts';

interface ServeOpts {
  data?: string;
  config?: string;
  stdio?: boolean;
  url?: string;
  purpose?: string;
  residency?: string;
}

const TOKEN_HINT = 'set VM_TOKEN to an API token (vm token create --role agent --tenant T --audience mcp)';

/** Resolves when stdin ends or the transport closes, whichever comes first. */
function untilClosed(register: (done: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    let finished = false;
    const done = () => {
      if (!finished) {
        finished = true;
        resolve();
      }
    };
    process.stdin.once('end', done);
    process.stdin.once('close', done);
    register(done);
  });
}

/** Bridges stdio to a running node's Streamable HTTP endpoint, message for message. */
async function bridge(url: string, token: string, o: ServeOpts): Promise<void> {
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  const { StreamableHTTPClientTransport } =
    await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  let endpoint: URL;
  try {
    endpoint = new URL(url);
  } catch {
    throw new CliError(EXIT.USAGE, `--url ${url} is not a URL`);
  }
  if (endpoint.pathname === '/' || endpoint.pathname === '') endpoint.pathname = '/mcp';
  const remote = new StreamableHTTPClientTransport(endpoint, {
    requestInit: {
      headers: {
        authorization: `Bearer ${token}`,
        ...(o.purpose ? { 'vaultmesh-purpose': o.purpose } : {}),
        ...(o.residency ? { 'vaultmesh-residency': o.residency } : {}),
      },
    },
  });
  const local = new StdioServerTransport();
  const initIds = new Set<string | number>();
  local.onmessage = (m: JSONRPCMessage) => {
    if ('method' in m && m.method === 'initialize' && 'id' in m) initIds.add(m.id);
    remote.send(m).catch((err: unknown) => {
      process.stderr.write(`vm mcp serve: ${endpoint.href}: ${(err as Error).message}\n`);
      // Answer the request so the desktop client sees the failure instead of waiting forever.
      if ('id' in m && 'method' in m)
        void local.send({
          jsonrpc: '2.0',
          id: m.id as string | number,
          error: { code: -32603, message: `VaultMesh node unreachable: ${(err as Error).message}` },
        });
    });
  };
  remote.onmessage = (m: JSONRPCMessage) => {
    // After initialize, later requests must carry the negotiated MCP-Protocol-Version header.
    const id = 'id' in m ? m.id : undefined;
    if (id !== undefined && initIds.has(id) && 'result' in m) {
      const v = (m.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof v === 'string') remote.setProtocolVersion(v);
      initIds.delete(id);
    }
    void local.send(m);
  };
  await remote.start();
  await local.start();
  await untilClosed((done) => {
    local.onclose = done;
    remote.onclose = done;
  });
  await remote.terminateSession().catch(() => undefined);
  await Promise.allSettled([remote.close(), local.close()]);
}

/** Serves the gateway of the local data directory over stdio. */
async function serveLocal(token: string, o: ServeOpts): Promise<void> {
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  const { createVaultMeshMcpServer } = await import('@vaultmesh/interop');
  const { VERSION, controlPrincipal, createControlPlane, createInterop, loadConfig, openNode } =
    await import('@vaultmesh/node');
  const cfg = loadConfig({ env: process.env, configFile: o.config });
  const dir = dataDir(o);
  const node = await openNode(dir, keyOptions());
  try {
    const p = await authenticate(node.storage, token, Date.now(), 'mcp');
    const control = createControlPlane(node, cfg.control);
    try {
      const interop = createInterop(node, control, {
        dataDir: dir,
        mode: cfg.mode,
        toolTimeoutMs: cfg.interop.toolTimeoutMs,
        agents: cfg.interop.agents,
        mcpServers: cfg.interop.mcpServers,
      });
      const server = createVaultMeshMcpServer({
        gateway: interop.gateway,
        caller: { principal: controlPrincipal(p), purpose: o.purpose, residency: o.residency, via: 'mcp' },
        version: VERSION,
      });
      const transport = new StdioServerTransport();
      const closed = untilClosed((done) => {
        server.server.onclose = done;
      });
      await server.connect(transport);
      process.stderr.write(`vm mcp serve: serving ${node.origin} over stdio as ${tokenActor(p)}\n`);
      await closed;
      await server.close().catch(() => undefined);
      await interop.close().catch(() => undefined);
    } finally {
      await control.close().catch(() => undefined);
    }
  } finally {
    await node.close();
  }
}

/** Adds `vm mcp serve` to the mcp command. */
export function registerMcpServe(mcp: Command): void {
  withData(
    mcp
      .command('serve')
      .description(
        'serve the VaultMesh MCP tools over stdio for a desktop agent (caller: the token in VM_TOKEN); ' +
          'a running node serves the same tools over Streamable HTTP at /mcp',
      )
      .option('--stdio', 'speak MCP over stdin/stdout (required: the transport of this command)')
      .option('--url <url>', "bridge to a running node's MCP endpoint (e.g. http://127.0.0.1:5000/mcp)")
      .option('-c, --config <file>', 'node config (env VM_CONFIG); without --url only')
      .option('--purpose <text>', 'purpose of the calls, given to policy (e.g. incident-42)')
      .option('--residency <region>', 'data residency the calls require, given to policy (e.g. eu)'),
  ).action(async (o: ServeOpts) => {
    if (!o.stdio)
      throw new CliError(
        EXIT.USAGE,
        'vm mcp serve speaks MCP over stdio: add --stdio (a running node serves Streamable HTTP at /mcp)',
      );
    const token = process.env.VM_TOKEN;
    if (!token) throw new CliError(EXIT.AUTH, `no token: ${TOKEN_HINT}`);
    if (o.url) await bridge(o.url, token, o);
    else await serveLocal(token, o);
  });
}
