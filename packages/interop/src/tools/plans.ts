// Plan and run tools: create a plan, dry-run it, execute it, resume or cancel a run, audit a plan, read a plan.
import { z } from 'zod';
import { z as z4 } from 'zod/v4';
import { IntentSchema, TargetSchema } from '@vaultmesh/control';
import { InteropError } from '../errors.ts';
import type { ToolSpec } from '../gateway.ts';
import type { InteropServices } from '../services.ts';
import {
  Id,
  RunSummary,
  Tenant,
  control,
  planRef,
  readScope,
  runPlan,
  runSummary,
  tenantPlan,
  tenantRun,
} from './shared.ts';

/** The plans tools. */
export function plansTools(): ToolSpec<InteropServices>[] {
  const tools: ToolSpec<InteropServices, z.ZodRawShape, z.ZodRawShape>[] = [];
  const add = <I extends z.ZodRawShape, O extends z.ZodRawShape>(t: ToolSpec<InteropServices, I, O>) =>
    tools.push(t as unknown as ToolSpec<InteropServices>);

  add({
    name: 'create_plan',
    title: 'Create a plan',
    description:
      'Turns an intent (deploy, rollback, scale, rotate-key, route-gpu-job) or a free-text goal with a target ' +
      'into a validated plan, stores it (policy action "plan") and returns its id and hash for review.',
    input: {
      intent: z
        .record(z.unknown())
        .optional()
        .describe('A typed intent, e.g. {"kind":"scale","tenant":"acme","environment":"staging",...}'),
      goal: z.string().min(1).max(2000).optional().describe('Free-text goal (needs an AI strategist)'),
      target: z
        .record(z.unknown())
        .optional()
        .describe('With goal: {tenant, environment, namespace?, region?}'),
      tenant: Tenant,
    },
    // What agents see and every edge checks: the strategist's real intent union and the plan target.
    publishedInput: z4.strictObject({
      intent: IntentSchema.optional().describe(
        'A typed intent (deploy, rollback, scale, rotate-key, route-gpu-job); see GET /api/schemas/intent.schema.json',
      ),
      goal: z4.string().min(1).max(2000).optional().describe('Free-text goal (needs an AI strategist)'),
      target: TargetSchema.optional().describe('With goal: {tenant, environment, namespace?, region?}'),
      tenant: z4
        .string()
        .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/)
        .optional()
        .describe('Tenant to act in (a token covering every tenant must name one)'),
    }),
    output: {
      planId: z.string(),
      planHash: z.string(),
      policySetHash: z.string(),
      goal: z.string(),
      tenant: z.string(),
      environment: z.string(),
      phases: z.array(
        z.object({
          id: z.string(),
          steps: z.array(z.object({ id: z.string(), action: z.string(), risk: z.string() })),
        }),
      ),
      receiptIndex: z.number().int(),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run(a, ctx) {
      const c = control(ctx);
      let plan;
      if (a.intent !== undefined && a.goal === undefined) plan = await c.plan({ intent: a.intent });
      else if (a.goal !== undefined && a.target !== undefined && a.intent === undefined)
        plan = await c.plan({ goal: a.goal, target: a.target as never });
      else throw new InteropError('INVALID_INPUT', 'give either an intent, or a goal with a target');
      const stored = await c.storePlan(plan, ctx.caller.principal);
      ctx.addParent(stored.receipt);
      return {
        planId: stored.plan.id,
        planHash: stored.planHash,
        policySetHash: stored.policySetHash,
        goal: stored.plan.goal,
        tenant: stored.plan.target.tenant,
        environment: stored.plan.target.environment,
        phases: stored.plan.phases.map((p) => ({
          id: p.id,
          steps: p.steps.map((s) => ({ id: s.id, action: s.action, risk: s.risk })),
        })),
        receiptIndex: stored.receipt.index,
      };
    },
  });
  add({
    name: 'dry_run_plan',
    title: 'Dry-run a plan',
    description:
      'Runs a stored plan (or one phase) in dry-run mode: every step is checked by policy, autonomy and ' +
      'tripwires and simulated (server-side dry-run for Kubernetes); each step leaves a receipt.',
    input: planRef,
    output: RunSummary,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    timeoutMs: 600_000,
    authorize: () => ({ context: { dryRun: true } }),
    run: (a, ctx) => runPlan(ctx, a, true),
  });
  add({
    name: 'execute_plan',
    title: 'Execute a plan live',
    description:
      'Runs a stored plan (or one phase) live, after its dry-run succeeded for the same hash. Steps that need ' +
      'a human approval hold the run until an approval token is presented; a fired tripwire halts it.',
    input: {
      ...planRef,
      approvals: z.array(z.string().min(1).max(200)).max(50).optional().describe('Approval tokens'),
    },
    output: RunSummary,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    timeoutMs: 600_000,
    authorize: () => ({ context: { dryRun: false } }),
    run: (a, ctx) => runPlan(ctx, a, false),
  });
  add({
    name: 'resume_run',
    title: 'Resume a held run',
    description:
      'Continues a run that is on hold (e.g. waiting for an approval: pass the approval token) or was ' +
      'interrupted; a completed step is never repeated.',
    input: {
      runId: Id,
      approvals: z.array(z.string().min(1).max(200)).max(50).optional().describe('Approval tokens'),
      tenant: Tenant,
    },
    output: RunSummary,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    timeoutMs: 600_000,
    async run(a, ctx) {
      await tenantRun(ctx, a.runId);
      const r = await control(ctx).resume(a.runId, {
        principal: ctx.caller.principal,
        approvals: a.approvals,
      });
      for (const s of r.steps) if (s.receipt && !s.fromJournal) ctx.addParent(s.receipt);
      return runSummary(r);
    },
  });
  add({
    name: 'cancel_run',
    title: 'Cancel a run',
    description: 'Stops a running or held run and rolls back its completed steps (unless rollback is false).',
    input: {
      runId: Id,
      rollback: z.boolean().default(true),
      reason: z.string().min(1).max(1000).optional(),
      tenant: Tenant,
    },
    output: RunSummary,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    timeoutMs: 600_000,
    async run(a, ctx) {
      await tenantRun(ctx, a.runId);
      const r = await control(ctx).cancel(a.runId, {
        principal: ctx.caller.principal,
        rollback: a.rollback,
        reason: a.reason,
      });
      for (const s of r.steps) if (s.receipt && !s.fromJournal) ctx.addParent(s.receipt);
      return runSummary(r);
    },
  });
  add({
    name: 'audit_plan',
    title: 'Audit a plan',
    description:
      'Checks that every executed step has a receipt whose inclusion proof verifies against a signed ' +
      'checkpoint, that health probes pass and that every action was allowed and approved; records an `audit` receipt.',
    input: {
      planId: Id,
      checks: z
        .array(z.enum(['receipts', 'health', 'compliance']))
        .min(1)
        .default(['receipts', 'health', 'compliance']),
      tenant: Tenant,
    },
    output: {
      result: z.enum(['pass', 'fail']),
      receiptIndex: z.number().int().nullable(),
      report: z.unknown(),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    timeoutMs: 120_000,
    async run(a, ctx) {
      await tenantPlan(ctx, a.planId);
      const r = await control(ctx).audit({
        planId: a.planId,
        checks: a.checks,
        principal: ctx.caller.principal,
      });
      if (r.receipt) ctx.addParent(r.receipt);
      return { result: r.result, receiptIndex: r.receipt?.index ?? null, report: r };
    },
  });
  add({
    name: 'get_plan',
    title: 'Get a stored plan',
    description:
      'A stored plan with its hash, the policy-set hash it was stored under and its `plan` receipt.',
    input: { planId: Id, tenant: Tenant },
    output: {
      planId: z.string(),
      planHash: z.string(),
      policySetHash: z.string(),
      storedBy: z.string(),
      storedAt: z.string(),
      receiptIndex: z.number().int(),
      plan: z.record(z.unknown()),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run(a, ctx) {
      let stored;
      try {
        stored = await control(ctx).getPlan(a.planId);
      } catch (err) {
        if (err instanceof InteropError) throw err;
        throw new InteropError('NOT_FOUND', `no plan ${a.planId}`);
      }
      const scope = readScope(ctx.caller, a.tenant);
      if (scope.tenants && !scope.tenants.includes(stored.plan.target.tenant))
        throw new InteropError('NOT_FOUND', `no plan ${a.planId}`);
      return {
        planId: stored.plan.id,
        planHash: stored.planHash,
        policySetHash: stored.policySetHash,
        storedBy: stored.storedBy,
        storedAt: stored.storedAt,
        receiptIndex: stored.receipt.index,
        plan: stored.plan as unknown as Record<string, unknown>,
      };
    },
  });

  return tools;
}
