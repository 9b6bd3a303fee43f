// Policy and query tools: read the policy set, list persisted queries and run one.
import { z } from 'zod';
import type { ToolSpec } from '../gateway.ts';
import type { QueryRegistry } from '../queries.ts';
import type { InteropServices } from '../services.ts';
import { Tenant, control, readScope } from './shared.ts';

/** The queries tools. */
export function queriesTools(queries: QueryRegistry): ToolSpec<InteropServices>[] {
  const tools: ToolSpec<InteropServices, z.ZodRawShape, z.ZodRawShape>[] = [];
  const add = <I extends z.ZodRawShape, O extends z.ZodRawShape>(t: ToolSpec<InteropServices, I, O>) =>
    tools.push(t as unknown as ToolSpec<InteropServices>);

  add({
    name: 'get_policies',
    title: 'Active policy set',
    description: 'The Cedar policy set this node decides with, and its SHA-256.',
    input: {},
    output: { policySetHash: z.string(), text: z.string() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    run: async (_a, ctx) => ({ policySetHash: control(ctx).policySetHash, text: control(ctx).policyText() }),
  });
  add({
    name: 'list_queries',
    title: 'List persisted queries',
    description: 'The persisted queries (pqids) this node lets agents run with run_query.',
    input: {},
    output: {
      queries: z.array(z.object({ id: z.string(), description: z.string(), params: z.record(z.unknown()) })),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    run: async () => ({ queries: [...queries.list()] }),
  });
  add({
    name: 'run_query',
    title: 'Run a persisted query',
    description:
      'Runs one registered query by its pqid with its parameters, within the caller’s tenants. Only ' +
      'persisted queries run; any other pqid is refused.',
    input: {
      pqid: z
        .string()
        .min(1)
        .max(100)
        .refine((id) => queries.has(id), {
          message: 'is not a persisted query; only registered pqids may run (see list_queries)',
        }),
      params: z.record(z.unknown()).optional(),
      tenant: Tenant,
    },
    output: { pqid: z.string(), result: z.unknown() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    authorize: (a) => ({ context: { pqid: a.pqid } }),
    async run(a, ctx) {
      const r = await queries.run(ctx.services, a.pqid, a.params, readScope(ctx.caller, a.tenant));
      return { pqid: r.pqid, result: r.result };
    },
  });

  return tools;
}
