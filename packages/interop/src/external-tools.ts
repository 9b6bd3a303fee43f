// The gateway tools over external MCP servers (no SDK imports: the MCP client pool behind services.external is
// loaded on first use).
import { z } from 'zod';
import { InteropError } from './errors.ts';
import type { McpServerEndpoint } from './config.ts';
import type { ToolSpec } from './gateway.ts';
import type { InteropServices } from './services.ts';

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
          /** Why this server's tools could not be listed (the others are listed all the same). */
          error: z.string().nullable(),
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
      // Each server on its own: one that is down (or slow to fail) hides no other server's tools.
      const results = await Promise.allSettled(
        chosen.map((s) => p.listTools(s.name, { signal: ctx.signal })),
      );
      const servers = chosen.map((s, i) => {
        const r = results[i]!;
        return {
          name: s.name,
          region: s.region ?? null,
          tools:
            r.status === 'fulfilled'
              ? r.value.map((t) => ({ name: t.name, description: t.description ?? null }))
              : [],
          error:
            r.status === 'rejected' ? String((r.reason as Error)?.message ?? r.reason).slice(0, 500) : null,
        };
      });
      // Naming one server that failed is a failure of the call; a listing of several reports each.
      if (a.server !== undefined && servers[0]?.error)
        throw results[0]!.status === 'rejected' ? results[0]!.reason : new Error(servers[0].error);
      return { servers };
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
