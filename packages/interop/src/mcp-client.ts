// The MCP client side: VaultMesh calls tools on external MCP servers listed in config (Streamable HTTP or stdio),
// only through the gateway (policy + `tool` receipt, fail closed) and always with a time limit. The pool connects
// lazily, reuses one connection per server, reconnects once after a dropped connection, and never puts a bearer
// token or header value into an error.
import { boundedFetch, requestSecrets } from '@vaultmesh/net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { checkMcpServers, mcpServerList, type McpServerEndpoint } from './config.ts';
import { InteropError } from './errors.ts';
import type { ExternalMcpPort } from './services.ts';

export interface McpClientPoolOptions {
  readonly clientName?: string;
  readonly clientVersion?: string;
  /** How long a server's tool list is reused. Default 30 s. */
  readonly toolListTtlMs?: number;
  /** Most bytes of one answer from a server over HTTP. Default DEFAULT_MCP_RESPONSE_BYTES. */
  readonly maxResponseBytes?: number;
}

/** Default limit of one answer from an external MCP server over HTTP (a tool result, a list). */
export const DEFAULT_MCP_RESPONSE_BYTES = 4 * 1024 * 1024;

interface ToolInfo {
  name: string;
  description?: string;
  inputSchema: unknown;
  annotations?: unknown;
}

/** The ExternalMcpPort over the SDK Client. */
export function createMcpClientPool(
  servers: readonly McpServerEndpoint[],
  opts: McpClientPoolOptions = {},
): ExternalMcpPort {
  const byName = new Map(servers.map((s) => [s.name, s]));
  checkMcpServers(servers);
  const clients = new Map<string, Promise<Client>>();
  const toolLists = new Map<string, { at: number; tools: ToolInfo[] }>();
  const ttl = opts.toolListTtlMs ?? 30_000;

  const server = (name: string) => {
    const s = byName.get(name);
    if (!s)
      throw new InteropError('INVALID_INPUT', `no external MCP server "${name.slice(0, 64)}" is configured`);
    return s;
  };
  /** An error's message with every secret of the server blanked out. */
  const scrub = (s: McpServerEndpoint, text: string) => {
    let out = text;
    for (const secret of [s.bearerToken, ...Object.values(s.headers ?? {})])
      if (secret && secret.length >= 4) out = out.split(secret).join('***');
    return out.slice(0, 500);
  };
  const failure = (s: McpServerEndpoint, err: unknown, what: string, signal?: AbortSignal): InteropError => {
    if (err instanceof InteropError) return err;
    // The gateway aborts with the reason it stopped the call (TIMEOUT, or FAILED when its caller cancelled).
    if (signal?.aborted && signal.reason instanceof InteropError) return signal.reason;
    const message = scrub(s, (err as Error)?.message ?? String(err));
    if (
      (err instanceof McpError && err.code === ErrorCode.RequestTimeout) ||
      signal?.aborted ||
      (err as Error)?.name === 'AbortError' ||
      (err as Error)?.name === 'TimeoutError'
    )
      return new InteropError('TIMEOUT', `external MCP server ${s.name}: ${what} timed out`);
    return new InteropError('UPSTREAM_FAILED', `external MCP server ${s.name}: ${what} failed: ${message}`);
  };

  /** Every transport opened, until the pool closes (a connect in progress included). */
  const transports = new Set<{ close(): Promise<void> }>();
  const connect = (s: McpServerEndpoint): Promise<Client> => {
    let pending = clients.get(s.name);
    if (pending) return pending;
    pending = (async () => {
      const client = new Client({
        name: opts.clientName ?? 'vaultmesh',
        version: opts.clientVersion ?? '0.1.0',
      });
      const transport = s.url
        ? new StreamableHTTPClientTransport(new URL(s.url), {
            // Bounded answers, and every credential we send scrubbed from what the server sends back.
            fetch: boundedFetch(fetch, {
              limit: opts.maxResponseBytes ?? DEFAULT_MCP_RESPONSE_BYTES,
              what: `external MCP server ${s.name}'s answer`,
              secrets: [s.bearerToken, ...requestSecrets(s.headers, s.url, { allHeaders: true })],
            }),
            requestInit: {
              headers: {
                ...(s.headers ?? {}),
                ...(s.bearerToken ? { authorization: `Bearer ${s.bearerToken}` } : {}),
              },
              redirect: 'error',
            },
          })
        : new StdioClientTransport({ command: s.command!, args: [...(s.args ?? [])], stderr: 'ignore' });
      client.onclose = () => {
        if (clients.get(s.name) === pending) clients.delete(s.name);
      };
      transports.add(transport);
      try {
        await client.connect(transport, { timeout: s.timeoutMs ?? 30_000 });
      } catch (err) {
        // A failed connect leaves nothing behind (a stdio child is stopped, an HTTP stream aborted).
        transports.delete(transport);
        await transport.close().catch(() => undefined);
        throw err;
      }
      return client;
    })();
    clients.set(s.name, pending);
    pending.catch(() => {
      if (clients.get(s.name) === pending) clients.delete(s.name);
    });
    return pending;
  };

  /** Runs fn on the server's client; after a dropped connection, reconnects once and tries again. */
  const withClient = async <T>(
    s: McpServerEndpoint,
    what: string,
    signal: AbortSignal | undefined,
    fn: (c: Client) => Promise<T>,
  ): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      let client: Client;
      try {
        client = await connect(s);
      } catch (err) {
        throw failure(s, err, 'connecting', signal);
      }
      try {
        return await fn(client);
      } catch (err) {
        // Dropped: a stdio child that exited, a reset socket, or (MCP Streamable HTTP, "Session Management") a 404
        // for our session id, which obliges the client to start a new session.
        const closed =
          (err instanceof McpError && err.code === ErrorCode.ConnectionClosed) ||
          (err instanceof StreamableHTTPError &&
            err.code === 404 &&
            client.transport?.sessionId !== undefined) ||
          /not connected|ECONNRESET|socket hang up|fetch failed/i.test((err as Error)?.message ?? '');
        if (closed && attempt === 0 && !signal?.aborted) {
          clients.delete(s.name);
          await client.close().catch(() => undefined);
          continue;
        }
        throw failure(s, err, what, signal);
      }
    }
  };

  const listAll = async (s: McpServerEndpoint, signal?: AbortSignal, fresh = false): Promise<ToolInfo[]> => {
    const cached = toolLists.get(s.name);
    if (!fresh && cached && Date.now() - cached.at < ttl) return cached.tools;
    const tools = await withClient(s, 'listing tools', signal, async (c) => {
      const out: ToolInfo[] = [];
      let cursor: string | undefined;
      do {
        const page = await c.listTools(cursor ? { cursor } : undefined, {
          signal,
          timeout: s.timeoutMs ?? 30_000,
        });
        out.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor && out.length < 10_000);
      return out;
    });
    toolLists.set(s.name, { at: Date.now(), tools });
    return tools;
  };
  const allowed = (s: McpServerEndpoint, tool: string) => !s.allowTools || s.allowTools.includes(tool);

  return {
    servers: () => mcpServerList(servers),
    async listTools(name, { signal } = {}) {
      const s = server(name);
      return (await listAll(s, signal)).filter((t) => allowed(s, t.name));
    },
    async callTool(name, tool, args, { signal, timeoutMs } = {}) {
      const s = server(name);
      if (!allowed(s, tool))
        throw new InteropError(
          'INVALID_INPUT',
          `tool ${tool.slice(0, 128)} of ${s.name} is not in its allowTools`,
        );
      const before = toolLists.get(s.name);
      let listed = await listAll(s, signal);
      // A miss on a cached list is checked once more against a fresh one (the server may have added the tool).
      if (!listed.some((t) => t.name === tool) && listed === before?.tools)
        listed = await listAll(s, signal, true);
      if (!listed.some((t) => t.name === tool))
        throw new InteropError(
          'NOT_FOUND',
          `external MCP server ${s.name} has no tool ${tool.slice(0, 128)}`,
        );
      const r = await withClient(s, `calling ${tool}`, signal, (c) =>
        c.callTool({ name: tool, arguments: args }, undefined, {
          signal,
          timeout: Math.min(timeoutMs ?? s.timeoutMs ?? 30_000, s.timeoutMs ?? 30_000),
        }),
      );
      return {
        isError: r.isError === true,
        content: Array.isArray(r.content) ? (r.content as unknown[]) : [],
        ...(r.structuredContent !== undefined ? { structuredContent: r.structuredContent } : {}),
      };
    },
    async close() {
      const all = [...clients.values()];
      clients.clear();
      // Every transport is closed at once, connected or still connecting (a server that never answers does not
      // hold the pool, or the CLI, open until its connect times out).
      const open = [...transports];
      transports.clear();
      await Promise.allSettled([...open.map((t) => t.close()), ...all.map(async (p) => (await p).close())]);
    },
  };
}
