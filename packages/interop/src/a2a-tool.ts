// The `a2a_perform` gateway tool (no SDK imports: the A2A client behind services.agents is loaded on first use).
import { z } from 'zod';
import { InteropError } from './errors.ts';
import type { ToolGateway, ToolSpec } from './gateway.ts';
import { PQID } from './queries.ts';
import type { InteropServices } from './services.ts';

const Tenant = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'must be a tenant name')
  .optional()
  .describe('Tenant to act in; defaults to the caller token’s tenant');

/** The `a2a_perform` tool: asks a configured remote agent one persisted query (never free text or other tools). */
export function a2aPerformTool(
  agents: readonly { readonly name: string; readonly region?: string; readonly timeoutMs?: number }[],
): ToolSpec<InteropServices> {
  const byName = new Map(agents.map((a) => [a.name, a]));
  const longest = Math.max(30_000, ...agents.map((a) => a.timeoutMs ?? 30_000));
  const tool = <I extends z.ZodRawShape, O extends z.ZodRawShape>(t: ToolSpec<InteropServices, I, O>) =>
    t as unknown as ToolSpec<InteropServices>;
  return tool({
    name: 'a2a_perform',
    title: 'Ask a remote A2A agent',
    description:
      'Sends one persisted query (pqid and its parameters) to a configured remote A2A agent and returns its ' +
      'final task state and result. Policy sees the agent as resource a2a/<agent> in its region, so residency ' +
      'applies. Agents: ' +
      (agents.length ? agents.map((a) => a.name + (a.region ? ` (${a.region})` : '')).join(', ') : 'none'),
    input: {
      agent: z
        .string()
        .refine((a) => byName.has(a), { message: 'is not a configured A2A agent' })
        .describe('The configured agent name'),
      pqid: z
        .string()
        .min(1)
        .max(100)
        .regex(PQID, 'must be a persisted query id (lowercase words joined by "." or "-")')
        .describe('The persisted query the remote agent runs'),
      task: z.record(z.unknown()).optional().describe('The query parameters'),
      tenant: Tenant,
    },
    output: {
      agent: z.string(),
      pqid: z.string(),
      taskId: z.string(),
      state: z.string(),
      result: z.unknown(),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    // Above every agent's own limit, so the agent's TIMEOUT (which names it) comes first.
    timeoutMs: longest + 5_000,
    authorize: (a) => {
      const region = byName.get(a.agent)?.region;
      return {
        resource: { id: `a2a/${a.agent}`, ...(region ? { region } : {}) },
        context: { agent: a.agent, pqid: a.pqid },
      };
    },
    async run(a, ctx) {
      const port = ctx.services.agents;
      if (!port) throw new InteropError('UNAVAILABLE', 'this node has no A2A agents configured');
      const r = await port.send(
        a.agent,
        {
          pqid: a.pqid,
          params: a.task ?? {},
          tenant: ctx.tenant,
          ...(ctx.caller.purpose !== undefined ? { purpose: ctx.caller.purpose } : {}),
        },
        { signal: ctx.signal, timeoutMs: byName.get(a.agent)?.timeoutMs },
      );
      return { agent: a.agent, pqid: a.pqid, taskId: r.taskId, state: r.state, result: r.result };
    },
  });
}

/** Registers `a2a_perform` on a gateway. */
export function registerA2aPerformTool(
  gateway: ToolGateway<InteropServices>,
  agents: readonly { readonly name: string; readonly region?: string; readonly timeoutMs?: number }[],
): void {
  gateway.register(a2aPerformTool(agents));
}
