// The MCP client side: VaultMesh calls tools on external MCP servers listed in config (Streamable HTTP or stdio),
// only through the gateway (policy + `tool` receipt, fail closed) and always with a time limit. The pool connects
// lazily, reuses one connection per server, reconnects once after a dropped connection, and never puts a bearer
// token or header value into an error.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { InteropError } from './errors.ts';
import type { ToolSpec } from './gateway.ts';
import type { ExternalMcpPort, InteropServices } from './services.ts';

const NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const httpUrl = z.string().refine(
  (u) => {
    try {
      return /^https?:$/.test(new URL(u).protocol);
    } catch {
      return false;
    }
  },
  { message: 'must be an http(s) URL' },
);

/** One external MCP server (`interop.mcpServers[]` in the node's config). */
export const McpServerConfigSchema = z
  .object({
    /** The name tools and policy use (context.server, resource <server>/<tool>). */
    name: z.string().regex(NAME, 'must be lowercase letters, digits, _ or -'),
    description: z.string().max(500).optional(),
    /** Streamable HTTP endpoint (exactly one of url or command). */
    url: httpUrl.optional(),
    /** stdio: the command to start (exactly one of url or command) and its arguments. */
    command: z.string().min(1).max(4096).optional(),
    args: z.array(z.string().max(4096)).max(100).default([]),
    /** Extra HTTP headers (values are secrets: never logged, never in errors). */
    headers: z.record(z.string().max(4096)).optional(),
    /** Name of the environment variable holding a bearer token (read by the entry point only). */
    bearerTokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name')
      .optional(),
    /** Where the server runs (resource.region, checked against the caller's residency), e.g. "eu-west-1". */
    region: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a region such as eu-west-1')
      .optional(),
    /** Only these tools may be called (absent: every tool the server lists). */
    allowTools: z.array(z.string().min(1).max(128)).max(500).optional(),
    /** Time limit of one request to the server (connecting included). */
    timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  })
  .strict()
  .refine((s) => (s.url === undefined) !== (s.command === undefined), {
    message: 'give exactly one of url (Streamable HTTP) or command (stdio)',
  });
export type McpServerConfig = z.infer<typeof McpServerConfigSchema>;

/** The configured servers, names unique. */
export const McpServersConfigSchema = z
  .array(McpServerConfigSchema)
  .max(50)
  .superRefine((servers, ctx) => {
    const seen = new Set<string>();
    servers.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate server "${s.name}"` });
      seen.add(s.name);
    });
  });

/** One server the pool may call; `bearerToken` is the token value (the entry point reads bearerTokenEnv). */
export type McpServerEndpoint = Omit<McpServerConfig, 'bearerTokenEnv' | 'args' | 'timeoutMs'> & {
  readonly args?: readonly string[];
  readonly timeoutMs?: number;
  readonly bearerToken?: string;
};

export interface McpClientPoolOptions {
  readonly clientName?: string;
  readonly clientVersion?: string;
  /** How long a server's tool list is reused. Default 30 s. */
  readonly toolListTtlMs?: number;
}

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
  if (byName.size !== servers.length) throw new Error('MCP server names must be unique');
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
      await client.connect(transport, { timeout: s.timeoutMs ?? 30_000 });
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
    servers: () =>
      servers.map((s) => ({
        name: s.name,
        ...(s.region ? { region: s.region } : {}),
        ...(s.description ? { description: s.description } : {}),
      })),
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
      await Promise.allSettled(all.map(async (p) => (await p).close()));
    },
  };
}

/**
 * The gateway tools over the external servers: list_external_tools and call_external_tool. Policy decides per
 * external tool (resource `Tool <server>/<tool>` with the server's region; context server, externalTool). A tool
 * result with isError is still a completed call (recorded `ok`) whose output says isError: the external server
 * answered, and what it answered is the agent's to read; transport failures and timeouts are gateway errors.
 */
export function externalMcpTools(servers: readonly McpServerEndpoint[]): ToolSpec<InteropServices>[] {
  const names = servers.map((s) => s.name);
  const region = new Map(servers.map((s) => [s.name, s.region]));
  const maxTimeout = Math.max(30_000, ...servers.map((s) => s.timeoutMs ?? 30_000));
  const Server = z
    .string()
    .refine((n) => names.includes(n), { message: `is not a configured MCP server (${names.join(', ')})` });
  const port = (s: InteropServices) => {
    if (!s.external) throw new InteropError('UNAVAILABLE', 'no external MCP servers are configured');
    return s.external;
  };
  const list: ToolSpec<InteropServices, { server: z.ZodOptional<typeof Server> }, z.ZodRawShape> = {
    name: 'list_external_tools',
    title: 'List external MCP tools',
    description: 'The external MCP servers this node may call, and the tools each one allows.',
    input: { server: Server.optional() },
    output: {
      servers: z.array(
        z.object({
          name: z.string(),
          region: z.string().nullable(),
          tools: z.array(z.object({ name: z.string(), description: z.string().nullable() })),
        }),
      ),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    timeoutMs: maxTimeout + 5_000,
    authorize: (a) => {
      const r = a.server !== undefined ? region.get(a.server) : undefined;
      const context: Record<string, string> = a.server !== undefined ? { server: a.server } : {};
      return {
        resource: { id: a.server ? `${a.server}/*` : 'external/*', ...(r ? { region: r } : {}) },
        context,
      };
    },
    async run(a, ctx) {
      const p = port(ctx.services);
      // Listing every server is decided without a region, so under a residency the caller must name one server
      // (whose region policy then checks); otherwise a call could reach a server outside the residency.
      if (ctx.caller.residency !== undefined && a.server === undefined)
        throw new InteropError(
          'INVALID_INPUT',
          'with a residency set, name the server to list (policy checks its region)',
        );
      const chosen = p.servers().filter((s) => a.server === undefined || s.name === a.server);
      return {
        servers: await Promise.all(
          chosen.map(async (s) => ({
            name: s.name,
            region: s.region ?? null,
            tools: (await p.listTools(s.name, { signal: ctx.signal })).map((t) => ({
              name: t.name,
              description: t.description ?? null,
            })),
          })),
        ),
      };
    },
  };
  const call: ToolSpec<InteropServices, z.ZodRawShape, z.ZodRawShape> = {
    name: 'call_external_tool',
    title: 'Call an external MCP tool',
    description:
      'Calls one tool on a configured external MCP server, under policy (per server and tool) and with a time ' +
      'limit; the call is recorded as a `tool` receipt.',
    input: {
      server: Server,
      tool: z.string().min(1).max(128),
      arguments: z.record(z.unknown()).default({}),
    },
    output: {
      server: z.string(),
      tool: z.string(),
      isError: z.boolean(),
      content: z.array(z.unknown()),
      structuredContent: z.unknown().optional(),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    timeoutMs: maxTimeout + 5_000,
    authorize: (a) => {
      const server = a.server as string;
      const tool = a.tool as string;
      return {
        resource: { id: `${server}/${tool}`, ...(region.get(server) ? { region: region.get(server)! } : {}) },
        context: { server, externalTool: tool },
      };
    },
    async run(a, ctx) {
      const r = await port(ctx.services).callTool(
        a.server as string,
        a.tool as string,
        a.arguments as Record<string, unknown>,
        { signal: ctx.signal },
      );
      return { server: a.server as string, tool: a.tool as string, ...r };
    },
  };
  return [list as unknown as ToolSpec<InteropServices>, call];
}
