// Gate tools: ask for an approval, read the go/no-go status and the readiness assessment.
import { z } from 'zod';
import { InteropError } from '../errors.ts';
import type { ToolSpec } from '../gateway.ts';
import type { InteropServices } from '../services.ts';
import { Hash, Id, Tenant, control, readScope, tenantPlan } from './shared.ts';

/** The gates tools. */
export function gatesTools(): ToolSpec<InteropServices>[] {
  const tools: ToolSpec<InteropServices, z.ZodRawShape, z.ZodRawShape>[] = [];
  const add = <I extends z.ZodRawShape, O extends z.ZodRawShape>(t: ToolSpec<InteropServices, I, O>) =>
    tools.push(t as unknown as ToolSpec<InteropServices>);

  add({
    name: 'request_approval',
    title: 'Request a human approval',
    description:
      'Asks a human approver for an approval of one phase or step of a stored plan, bound to its hash. An ' +
      'approver answers with `vm approve`; the request shows in GET /api/approvals/requests.',
    input: {
      planId: Id,
      planHash: Hash,
      phaseId: Id.optional(),
      stepId: Id.optional(),
      reason: z.string().min(1).max(1000),
      tenant: Tenant,
    },
    output: {
      requestId: z.string(),
      planId: z.string(),
      planHash: z.string(),
      status: z.literal('pending'),
      approveWith: z.string(),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run(a, ctx) {
      if ((a.phaseId === undefined) === (a.stepId === undefined))
        throw new InteropError('INVALID_INPUT', 'give exactly one of phaseId or stepId');
      const c = control(ctx);
      const stored = await tenantPlan(ctx, a.planId);
      if (stored.planHash !== a.planHash)
        throw new InteropError(
          'INVALID_INPUT',
          `plan ${a.planId} has hash ${stored.planHash}, not ${a.planHash}`,
        );
      const where: { phaseId: string } | { stepId: string } =
        a.phaseId !== undefined ? { phaseId: a.phaseId } : { stepId: a.stepId! };
      const ids =
        'phaseId' in where
          ? stored.plan.phases.map((p) => p.id)
          : stored.plan.phases.flatMap((p) => p.steps.map((s) => s.id));
      const wanted = 'phaseId' in where ? where.phaseId : where.stepId;
      if (!ids.includes(wanted))
        throw new InteropError(
          'INVALID_INPUT',
          `plan ${a.planId} has no ${'phaseId' in where ? 'phase' : 'step'} ${wanted}`,
        );
      const req = await c.requestApproval({
        planId: a.planId,
        planHash: a.planHash,
        tenant: stored.plan.target.tenant,
        scope: where,
        reason: a.reason,
        requestedBy: ctx.caller.principal.id,
      });
      return {
        requestId: req.id,
        planId: req.planId,
        planHash: req.planHash,
        status: 'pending' as const,
        approveWith:
          `vm approve ${req.planId} --plan-hash ${req.planHash} ` +
          ('phaseId' in where ? `--phase ${where.phaseId}` : `--step ${where.stepId}`),
      };
    },
  });
  add({
    name: 'golive_status',
    title: 'Go/no-go status',
    description:
      'Whether the node may run live: its mode, whether the latest closed go/no-go poll said go, and the polls.',
    input: {},
    output: {
      mode: z.enum(['dry-run', 'live']),
      promotionAllowed: z.boolean(),
      polls: z.array(
        z.object({ id: z.string(), subject: z.string(), state: z.string(), outcome: z.string().nullable() }),
      ),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run(_a, ctx) {
      const c = control(ctx);
      // Only the caller's tenants' polls (and, for a token of every tenant, the node's): nothing leaks across.
      const scope = readScope(ctx.caller);
      const polls = (await c.listPolls()).filter(
        (p) => scope.tenants === undefined || scope.tenants.includes(p.tenant),
      );
      return {
        mode: ctx.services.node.mode,
        promotionAllowed: await c.promotionAllowed(),
        polls: polls.slice(-20).map((p) => ({
          id: p.id,
          subject: p.subject,
          state: p.state,
          outcome: p.outcome ?? null,
        })),
      };
    },
  });
  add({
    name: 'readiness',
    title: 'Node readiness',
    description:
      'The node’s readiness facts: storage health, key sealing, mode, checkpoint coverage and control plane.',
    input: {},
    output: {
      ready: z.boolean(),
      origin: z.string(),
      mode: z.enum(['dry-run', 'live']),
      checks: z.array(z.object({ id: z.string(), pass: z.boolean(), detail: z.string() })),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run(_a, ctx) {
      const s = ctx.services;
      const storage = await s.node.storageOk();
      const cp = await s.ledger.checkpointCovering().catch(() => undefined);
      const checks = [
        {
          id: 'storage',
          pass: storage,
          detail: storage ? 'the ledger storage answers' : 'the ledger storage fails',
        },
        {
          id: 'key',
          pass: !s.node.keySealed,
          detail: s.node.keySealed ? 'the node key is sealed' : 'the node key is unsealed and signing',
        },
        {
          id: 'checkpoint',
          pass: cp !== undefined,
          detail: cp ? `signed checkpoint at size ${cp.size}` : 'no signed checkpoint yet',
        },
        {
          id: 'control',
          pass: s.control !== undefined,
          detail: s.control ? `policy set ${s.control.policySetHash.slice(0, 12)}…` : 'no control plane',
        },
      ];
      return { ready: checks.every((c) => c.pass), origin: s.node.origin, mode: s.node.mode, checks };
    },
  });

  return tools;
}
