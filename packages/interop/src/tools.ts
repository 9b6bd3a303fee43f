// The built-in VaultMesh tools that agents call through the gateway (MCP, A2A, REST): ledger, plans, approvals,
// go/no-go, readiness and persisted queries. Each declares its schemas and annotations; none decides anything
// about authorization itself (the gateway asks policy first, and the control plane asks again for what it runs).
import { z } from 'zod';
import { z as z4 } from 'zod/v4';
import { IntentSchema, TargetSchema, type RunResult } from '@vaultmesh/control';
import { type Principal } from '@vaultmesh/types';
import { InteropError } from './errors.ts';
import type { Caller, ToolContext, ToolGateway, ToolSpec } from './gateway.ts';
import type { QueryRegistry, QueryScope } from './queries.ts';
import type { InteropServices, ReceiptView } from './services.ts';

type Ctx = ToolContext<InteropServices>;

const Tenant = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'must be a tenant name')
  .optional()
  .describe('Tenant to act in; defaults to the caller token’s tenant');
const Index = z.number().int().min(0).describe('Ledger index of the receipt');
const Hash = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
const Id = z.string().min(1).max(200);

const receiptShape = {
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
const Receipt = z.object(receiptShape);
const Checkpoint = z.object({
  origin: z.string(),
  size: z.number().int(),
  rootHash: z.string(),
  note: z.string(),
  verifierKey: z.string(),
});
const RunSummary = {
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
const visible = (scope: QueryScope, r: ReceiptView) =>
  scope.tenants === undefined || scope.tenants.includes(r.receipt.tenant);

function control(ctx: Ctx) {
  const c = ctx.services.control;
  if (!c) throw new InteropError('UNAVAILABLE', 'this node runs no control plane');
  return c;
}

async function getVisible(ctx: Ctx, index: number, tenant?: string): Promise<ReceiptView> {
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

function runSummary(r: RunResult) {
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
async function tenantPlan(ctx: Ctx, planId: string) {
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
async function tenantRun(ctx: Ctx, runId: string) {
  const run = await control(ctx).getRun(runId);
  if (!run || run.tenant !== ctx.tenant) throw new InteropError('NOT_FOUND', `no run ${runId}`);
  return run;
}

async function runPlan(
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

const planRef = {
  planId: Id.describe('Stored plan id (from create_plan)'),
  planHash: Hash.describe('The plan hash you reviewed; a changed plan or policy set is refused as stale'),
  phase: Id.optional().describe('Run one phase; every phase in order when absent'),
  tenant: Tenant,
};

/** Builds the tool list (each a ToolSpec over InteropServices). */
export function builtinTools(queries: QueryRegistry): ToolSpec<InteropServices>[] {
  const tools: ToolSpec<InteropServices, z.ZodRawShape, z.ZodRawShape>[] = [];
  const add = <I extends z.ZodRawShape, O extends z.ZodRawShape>(t: ToolSpec<InteropServices, I, O>) =>
    tools.push(t as unknown as ToolSpec<InteropServices>);

  add({
    name: 'record_decision',
    title: 'Record a decision',
    description:
      'Records an architecture or operations decision as a signed, append-only `decision` receipt on the ledger.',
    input: {
      title: z.string().min(1).max(500),
      rationale: z.string().max(10_000).optional(),
      status: z.enum(['proposed', 'accepted', 'superseded', 'rejected']).optional(),
      tags: z.array(z.string().min(1).max(200)).max(20).optional(),
      tenant: Tenant,
    },
    output: { index: z.number().int(), leafHash: z.string() },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run(a, ctx) {
      const body: Record<string, unknown> = { title: a.title };
      if (a.rationale !== undefined) body.rationale = a.rationale;
      if (a.status !== undefined) body.status = a.status;
      if (a.tags !== undefined) body.tags = a.tags;
      const r = await ctx.services.ledger.append({
        kind: 'decision',
        actor: ctx.caller.principal.id,
        tenant: ctx.tenant,
        body,
      });
      ctx.addParent(r);
      return { index: r.index, leafHash: r.leafHash };
    },
  });

  add({
    name: 'search_receipts',
    title: 'Search receipts',
    description:
      'Lists receipts newest first, filtered by kind and by text in their body, within the caller’s tenants.',
    input: {
      kind: z.string().min(1).max(40).optional(),
      text: z.string().min(1).max(200).optional(),
      before: z.number().int().min(0).optional().describe('Page: only receipts with a smaller index'),
      limit: z.number().int().min(1).max(100).default(20),
      tenant: Tenant,
    },
    output: { items: z.array(Receipt), next: z.object({ before: z.number().int() }).nullable() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run(a, ctx) {
      const items = await ctx.services.ledger.list({
        ...readScope(ctx.caller, a.tenant),
        kind: a.kind,
        text: a.text,
        before: a.before,
        order: 'desc',
        limit: a.limit,
      });
      const last = items[items.length - 1];
      return { items, next: items.length === a.limit && last ? { before: last.index } : null };
    },
  });

  add({
    name: 'get_receipt',
    title: 'Get a receipt',
    description: 'Returns one receipt by its ledger index.',
    input: { index: Index, tenant: Tenant },
    output: receiptShape,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    run: async (a, ctx) => getVisible(ctx, a.index, a.tenant),
  });

  add({
    name: 'prove_receipt',
    title: 'Prove a receipt',
    description:
      'Returns a receipt with its RFC 9162 inclusion proof and the signed checkpoint (C2SP signed note) it is ' +
      'proven against, so anyone can verify it offline with the verifier key.',
    input: { index: Index, tenant: Tenant },
    output: {
      receipt: Receipt,
      proof: z.object({
        index: z.number().int(),
        size: z.number().int(),
        leafHash: z.string(),
        proof: z.array(z.string()),
      }),
      checkpoint: Checkpoint,
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run(a, ctx) {
      const receipt = await getVisible(ctx, a.index, a.tenant);
      const cp = await ctx.services.ledger.checkpointCovering(a.index);
      if (!cp || cp.size <= a.index)
        throw new InteropError('UNAVAILABLE', `no signed checkpoint covers index ${a.index} yet`);
      const p = await ctx.services.ledger.inclusionProof(a.index, cp.size);
      return {
        receipt,
        proof: { index: a.index, size: cp.size, leafHash: p.leafHash, proof: p.proof },
        checkpoint: cp,
      };
    },
  });

  add({
    name: 'verify_ledger',
    title: 'Verify the ledger',
    description:
      'Checks every stored checkpoint’s signature, root and mutual consistency (like `vm audit verify`) and ' +
      'reports each problem found.',
    input: {},
    output: {
      ok: z.boolean(),
      size: z.number().int(),
      checkpointsChecked: z.number().int(),
      problems: z.array(z.string()),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    timeoutMs: 300_000,
    run: async (_a, ctx) =>
      ctx.services.ledger.verify({ onProgress: (done, total) => ctx.progress(done, total, 'verifying') }),
  });

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

  add({
    name: 'get_checkpoint',
    title: 'Latest signed checkpoint',
    description:
      'The ledger’s latest signed checkpoint (C2SP tlog-checkpoint in a signed note) and verifier key.',
    input: {},
    output: { checkpoint: Checkpoint.nullable() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    run: async (_a, ctx) => ({ checkpoint: (await ctx.services.ledger.checkpointCovering()) ?? null }),
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

/** Registers the built-in tools on a gateway. */
export function registerBuiltinTools(gateway: ToolGateway<InteropServices>, queries: QueryRegistry): void {
  for (const t of builtinTools(queries)) gateway.register(t);
}

/** A principal for tests and local callers. */
export type { Principal };
