// What the built-in tools share: argument and output schemas, the caller's read scope, run summaries.
import { z } from 'zod';
import { type RunResult } from '@vaultmesh/control';
import { InteropError } from '../errors.ts';
import type { Caller, ToolContext } from '../gateway.ts';
import type { QueryScope } from '../queries.ts';
import type { InteropServices, ReceiptView } from '../services.ts';

export type Ctx = ToolContext<InteropServices>;

export const Tenant = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'must be a tenant name')
  .optional()
  .describe('Tenant to act in; defaults to the caller token’s tenant');
export const Index = z.number().int().min(0).describe('Ledger index of the receipt');
export const Hash = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
export const Id = z.string().min(1).max(200);

export const receiptShape = {
  index: z.number().int(),
  leafHash: z.string(),
  // passthrough: the receipt must reach the caller byte for byte (its canonical form is the Merkle leaf), so no
  // field, not even one this schema does not name (v), may be stripped.
  receipt: z
    .object({
      v: z.number().int(),
      kind: z.string(),
      actor: z.string(),
      tenant: z.string(),
      time: z.string(),
      body: z.record(z.unknown()),
      parents: z.array(z.object({ index: z.number(), leafHash: z.string() })).optional(),
    })
    .passthrough(),
};
export const Receipt = z.object(receiptShape);
export const Checkpoint = z.object({
  origin: z.string(),
  size: z.number().int(),
  rootHash: z.string(),
  note: z.string(),
  verifierKey: z.string(),
});
export const RunSummary = {
  runId: z.string(),
  planId: z.string(),
  planHash: z.string(),
  dryRun: z.boolean(),
  state: z.string(),
  hold: z.object({ reason: z.string(), message: z.string(), resumable: z.boolean() }).nullable(),
  steps: z.array(
    z.object({
      phaseId: z.string(),
      stepId: z.string(),
      action: z.string(),
      status: z.string(),
      receiptIndex: z.number().int().nullable(),
      error: z.string().nullable(),
    }),
  ),
};

/** The tenants a read may cover: the token's tenant, or the named one / every tenant for a "*" token. */
export function readScope(caller: Caller, tenant?: string): QueryScope {
  if (caller.principal.tenant !== '*') return { tenants: [caller.principal.tenant] };
  return tenant === undefined ? {} : { tenants: [tenant] };
}
export const visible = (scope: QueryScope, r: ReceiptView) =>
  scope.tenants === undefined || scope.tenants.includes(r.receipt.tenant);

export function control(ctx: Ctx) {
  const c = ctx.services.control;
  if (!c) throw new InteropError('UNAVAILABLE', 'this node runs no control plane');
  return c;
}

export async function getVisible(ctx: Ctx, index: number, tenant?: string): Promise<ReceiptView> {
  let r: ReceiptView;
  try {
    r = await ctx.services.ledger.get(index);
  } catch {
    throw new InteropError('NOT_FOUND', `no receipt at index ${index}`);
  }
  // Out of scope reads as absent, so a caller learns nothing about other tenants.
  if (!visible(readScope(ctx.caller, tenant), r))
    throw new InteropError('NOT_FOUND', `no receipt at index ${index}`);
  return r;
}

export function runSummary(r: RunResult) {
  return {
    runId: r.runId,
    planId: r.planId,
    planHash: r.planHash,
    dryRun: r.dryRun,
    state: r.state,
    hold: r.hold ? { reason: r.hold.reason, message: r.hold.message, resumable: r.hold.resumable } : null,
    steps: r.steps.map((s) => ({
      phaseId: s.phaseId,
      stepId: s.stepId,
      action: s.action,
      status: s.status,
      receiptIndex: s.receipt?.index ?? null,
      error: s.error ?? null,
    })),
  };
}

/**
 * The stored plan, when it belongs to the tenant this call was authorized in (ctx.tenant); NOT_FOUND otherwise, so
 * a caller can neither act on nor learn about another tenant's plans.
 */
export async function tenantPlan(ctx: Ctx, planId: string) {
  let stored;
  try {
    stored = await control(ctx).getPlan(planId);
  } catch (err) {
    if (err instanceof InteropError) throw err;
    throw new InteropError('NOT_FOUND', `no plan ${planId}`);
  }
  if (stored.plan.target.tenant !== ctx.tenant) throw new InteropError('NOT_FOUND', `no plan ${planId}`);
  return stored;
}

/** The run, when it belongs to the tenant this call was authorized in; NOT_FOUND otherwise. */
export async function tenantRun(ctx: Ctx, runId: string) {
  const run = await control(ctx).getRun(runId);
  if (!run || run.tenant !== ctx.tenant) throw new InteropError('NOT_FOUND', `no run ${runId}`);
  return run;
}

export async function runPlan(
  ctx: Ctx,
  a: { planId: string; planHash: string; phase?: string; approvals?: string[] },
  dryRun: boolean,
) {
  await tenantPlan(ctx, a.planId);
  const r = await control(ctx).run({
    plan: a.planId,
    planHash: a.planHash,
    phaseId: a.phase,
    dryRun,
    principal: ctx.caller.principal,
    approvals: a.approvals,
    purpose: ctx.caller.purpose,
    residency: ctx.caller.residency,
  });
  for (const s of r.steps) if (s.receipt) ctx.addParent(s.receipt);
  return runSummary(r);
}

export const planRef = {
  planId: Id.describe('Stored plan id (from create_plan)'),
  planHash: Hash.describe('The plan hash you reviewed; a changed plan or policy set is refused as stale'),
  phase: Id.optional().describe('Run one phase; every phase in order when absent'),
  tenant: Tenant,
};
