// Persisted queries: the only reads an agent may run by name (a pqid) through run_query or A2A. Anything not in the
// registry is refused; each query has a fixed shape with validated parameters, so agents never send query text.
import { z } from 'zod';
import { InteropError } from './errors.ts';
import { describeIssues } from './gateway.ts';
import type { InteropServices } from './services.ts';

/** Where a query may read: the caller's tenants (undefined = every tenant). */
export interface QueryScope {
  readonly tenants?: readonly string[];
}

/** One persisted query. */
export interface PersistedQuery {
  /** The pqid: lowercase words joined by "." or "-". */
  readonly id: string;
  readonly description: string;
  readonly params: z.ZodRawShape;
  run(services: InteropServices, params: Record<string, unknown>, scope: QueryScope): Promise<unknown>;
}

/** The registry of persisted queries. */
export interface QueryRegistry {
  list(): readonly { id: string; description: string; params: Record<string, unknown> }[];
  has(pqid: string): boolean;
  /** Runs a persisted query; INVALID_INPUT for an unknown pqid or parameters outside its schema. */
  run(
    services: InteropServices,
    pqid: string,
    params: unknown,
    scope: QueryScope,
  ): Promise<{ pqid: string; result: unknown }>;
}

export const PQID = /^[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*$/;
const limit = (def: number) => z.number().int().min(1).max(100).default(def);

const needControl = (s: InteropServices) => {
  if (!s.control) throw new InteropError('UNAVAILABLE', 'this node runs no control plane');
  return s.control;
};
const inScope = (scope: QueryScope, tenant: string) =>
  scope.tenants === undefined || scope.tenants.includes(tenant);

/** The queries every node ships. */
export const BUILTIN_QUERIES: readonly PersistedQuery[] = [
  {
    id: 'receipts.recent',
    description: 'The newest receipts, optionally of one kind.',
    params: { kind: z.string().min(1).max(40).optional(), limit: limit(20) },
    run: async (s, p, scope) => ({
      items: await s.ledger.list({
        tenants: scope.tenants,
        kind: p.kind as string | undefined,
        order: 'desc',
        limit: p.limit as number,
      }),
    }),
  },
  {
    id: 'receipts.search',
    description: 'Receipts whose body mentions a text, newest first.',
    params: {
      text: z.string().min(2).max(200),
      kind: z.string().min(1).max(40).optional(),
      limit: limit(20),
    },
    run: async (s, p, scope) => ({
      items: await s.ledger.list({
        tenants: scope.tenants,
        kind: p.kind as string | undefined,
        text: p.text as string,
        order: 'desc',
        limit: p.limit as number,
      }),
    }),
  },
  {
    id: 'policy.denies.recent',
    description: 'The newest policy denials.',
    params: { limit: limit(20) },
    run: async (s, p, scope) => {
      const rows = await s.ledger.list({
        tenants: scope.tenants,
        kind: 'policy',
        order: 'desc',
        limit: 1000,
      });
      return { items: rows.filter((r) => r.receipt.body.decision === 'deny').slice(0, p.limit as number) };
    },
  },
  {
    id: 'runs.recent',
    description: 'The newest plan runs, optionally in one state (running, succeeded, hold, cancelled).',
    params: { state: z.enum(['running', 'succeeded', 'hold', 'cancelled']).optional(), limit: limit(20) },
    run: async (s, p, scope) => {
      const runs = (await needControl(s).listRuns())
        .filter((r) => inScope(scope, r.tenant) && (p.state === undefined || r.state === p.state))
        .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
        .slice(0, p.limit as number);
      return {
        items: runs.map((r) => ({
          runId: r.runId,
          planId: r.planId,
          tenant: r.tenant,
          dryRun: r.dryRun,
          state: r.state,
          hold: r.hold ? { reason: r.hold.reason, message: r.hold.message } : null,
          startedAt: r.startedAt,
          finishedAt: r.finishedAt ?? null,
        })),
      };
    },
  },
  {
    id: 'plans.recent',
    description: 'The newest stored plans with their hashes.',
    params: { limit: limit(20) },
    run: async (s, p, scope) => {
      const plans = (await needControl(s).listPlans({ limit: 1000 }))
        .filter((sp) => inScope(scope, sp.plan.target.tenant))
        .slice(0, p.limit as number);
      return {
        items: plans.map((sp) => ({
          planId: sp.plan.id,
          planHash: sp.planHash,
          goal: sp.plan.goal,
          tenant: sp.plan.target.tenant,
          environment: sp.plan.target.environment,
          storedAt: sp.storedAt,
        })),
      };
    },
  },
  {
    id: 'approvals.pending',
    description: 'Approval requests that no approver has answered yet.',
    params: { limit: limit(20) },
    run: async (s, p, scope) => {
      const c = needControl(s);
      const [requests, issued] = await Promise.all([c.listApprovalRequests(), c.listApprovals()]);
      const answered = new Set(issued.map((a) => `${a.planId} ${a.planHash}`));
      return {
        items: requests
          .filter((r) => inScope(scope, r.tenant) && !answered.has(`${r.planId} ${r.planHash}`))
          .slice(0, p.limit as number),
      };
    },
  },
  {
    id: 'ledger.status',
    description: 'The ledger size and its latest signed checkpoint.',
    params: {},
    run: async (s) => ({ checkpoint: (await s.ledger.checkpointCovering()) ?? null }),
  },
];

/** A registry over the built-in queries and any extra ones (ids must be unique). */
export function createQueryRegistry(extra: readonly PersistedQuery[] = []): QueryRegistry {
  const byId = new Map<string, { q: PersistedQuery; schema: z.ZodTypeAny }>();
  for (const q of [...BUILTIN_QUERIES, ...extra]) {
    if (!PQID.test(q.id)) throw new Error(`persisted query id "${q.id}" is not allowed`);
    if (byId.has(q.id)) throw new Error(`persisted query ${q.id} is defined twice`);
    byId.set(q.id, { q, schema: z.object(q.params).strict() });
  }
  return {
    list: () =>
      [...byId.values()].map(({ q }) => ({
        id: q.id,
        description: q.description,
        params: Object.fromEntries(
          Object.entries(q.params).map(([k, v]) => [
            k,
            { optional: v.isOptional(), description: v.description ?? null },
          ]),
        ),
      })),
    has: (pqid) => byId.has(pqid),
    async run(services, pqid, params, scope) {
      const entry = byId.get(pqid);
      if (!entry)
        throw new InteropError(
          'INVALID_INPUT',
          `"${pqid.slice(0, 80)}" is not a persisted query; only registered pqids may run (see list_queries)`,
        );
      const parsed = entry.schema.safeParse(params ?? {});
      if (!parsed.success)
        throw new InteropError(
          'INVALID_INPUT',
          `invalid parameters for ${pqid}: ${describeIssues(parsed.error)}`,
        );
      return { pqid, result: await entry.q.run(services, parsed.data as Record<string, unknown>, scope) };
    },
  };
}
