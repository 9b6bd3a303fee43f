// HTTP edge of the control plane: strategist → executor → auditor, plans, runs (with Server-Sent Events),
// approvals. Routes authenticate the caller and shape requests; every decision (plan, execute, approve) is made
// by Cedar policy inside the control plane, fail closed.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { inScope, tokenActor, type Principal as TokenPrincipal } from '@vaultmesh/auth';
import { NODE_POLL_TENANT } from '@vaultmesh/control';
import type {
  ApprovalView,
  GolivePolls,
  Executor,
  Principal,
  RunEvent,
  RunResult,
  StoredPlan,
  Strategist,
} from '@vaultmesh/control';
import { HttpError } from './errors.ts';
import { followStoredRun } from './run-follow.ts';
import { fields, isObject, type Body } from './request.ts';

/** What the control routes need; built by the composition root (packages/node/src/control.ts). */
export interface ControlApi {
  readonly executor: Executor;
  readonly strategist: Strategist;
  readonly approvals: {
    issue(req: {
      planId: string;
      planHash: string;
      scope: { phaseId: string } | { stepId: string };
      principal: Principal;
      reason?: string;
    }): Promise<ApprovalView & { token: string }>;
  };
  readonly policySetHash: string;
  startRun(req: Parameters<Executor['run']>[0]): Promise<{ runId: string; done: Promise<RunResult> }>;
  subscribe(runId: string, listener: (e: RunEvent) => void): (() => void) | undefined;
  listApprovals(planId?: string): Promise<ApprovalView[]>;
  /** Agents' pending approval requests (MCP request_approval); absent: route answers an empty list. */
  listApprovalRequests?(planId?: string): Promise<readonly { tenant: string }[]>;
  /** Go/no-go polls (POST /api/golive/polls ...). */
  readonly golive?: GolivePolls;
  /** The published plan format by file name (GET /api/schemas, /api/schemas/:name); absent: not served. */
  schemas?(): Record<string, Record<string, unknown>>;
  /** The auditor (POST /api/agent/mcp/auditor/verify); absent until configured. */
  audit?(req: { planId: string; checks: string[]; principal: Principal }): Promise<unknown>;
}

function str(b: Body, k: string, required = true): string | undefined {
  const v = b[k];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 500)
    throw new HttpError(400, 'INVALID_REQUEST', `${k} must be a non-empty string`);
  return v;
}

/** The control-plane principal of an API token holder. */
export function toControlPrincipal(p: TokenPrincipal): Principal {
  return {
    type: p.role === 'agent' ? 'agent' : 'person',
    id: tokenActor(p),
    role: p.role,
    tenant: p.tenant,
  };
}

/** Registers /api/agent/mcp/*, /api/plans, /api/runs (+ SSE) and /api/approvals. */
export function registerControlRoutes(
  app: FastifyInstance,
  control: ControlApi,
  principal: (req: FastifyRequest) => Promise<TokenPrincipal>,
): void {
  const caller = async (req: FastifyRequest) => {
    const p = await principal(req);
    return { token: p, control: toControlPrincipal(p) };
  };
  const visiblePlan = (p: TokenPrincipal, plan: StoredPlan) => {
    if (!inScope(p, plan.plan.target.tenant))
      throw new HttpError(404, 'NOT_FOUND', `no plan ${plan.plan.id}`);
    return plan;
  };
  /** The plan by id when the caller's tenant holds it; another tenant's plan is reported absent (nothing leaks). */
  const planInScope = async (p: TokenPrincipal, planId: string) => {
    let stored: StoredPlan;
    try {
      stored = await control.executor.getPlan(planId);
    } catch (e) {
      if ((e as { code?: unknown }).code === 'NOT_FOUND')
        throw new HttpError(404, 'NOT_FOUND', `no plan ${planId}`);
      throw e;
    }
    return visiblePlan(p, stored);
  };

  // The plan format is public documentation (like the agent card): no token needed, no tenant data in it.
  app.get('/api/schemas', async () => ({ items: Object.keys(control.schemas?.() ?? {}) }));
  app.get('/api/schemas/:name', async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const schema = control.schemas?.()[name];
    if (!schema) throw new HttpError(404, 'NOT_FOUND', `no schema ${name.slice(0, 100)}`);
    return reply.type('application/schema+json').send(JSON.stringify(schema));
  });

  app.get('/api/agent/mcp/status', async (req) => {
    await principal(req);
    const runs = await control.executor.listRuns();
    const active = runs.filter((r) => r.state === 'running').length;
    return {
      strategist: { name: control.strategist.name },
      executor: { runs: runs.length, active },
      auditor: { enabled: control.audit !== undefined },
      policySetHash: control.policySetHash,
    };
  });

  app.post('/api/agent/mcp/strategist/plan', async (req, reply) => {
    const { control: who } = await caller(req);
    const b = fields(req.body, ['intent', 'goal', 'target', 'context']);
    let plan;
    if (b.intent !== undefined) plan = await control.strategist.plan({ intent: b.intent });
    else if (typeof b.goal === 'string' && isObject(b.target))
      plan = await control.strategist.plan({
        goal: b.goal,
        target: b.target as never,
        context: isObject(b.context) ? b.context : undefined,
      });
    else throw new HttpError(400, 'INVALID_REQUEST', 'give an intent, or a goal with a target');
    const stored = await control.executor.storePlan(plan, who);
    return reply.code(201).send(stored);
  });

  app.post('/api/plans', async (req, reply) => {
    const { control: who } = await caller(req);
    const b = fields(req.body, ['plan', 'replaces']);
    const replaces = str(b, 'replaces', false);
    return reply
      .code(201)
      .send(await control.executor.storePlan(b.plan, who, replaces !== undefined ? { replaces } : {}));
  });
  app.get('/api/plans/:id', async (req) => {
    const { token } = await caller(req);
    return visiblePlan(token, await control.executor.getPlan((req.params as { id: string }).id));
  });

  app.post('/api/agent/mcp/executor/run', async (req, reply) => {
    const { control: who, token } = await caller(req);
    const b = fields(req.body, [
      'planId',
      'planHash',
      'phase',
      'dryRun',
      'approvals',
      'purpose',
      'residency',
      'wait',
    ]);
    const planId = str(b, 'planId')!;
    const planHash = str(b, 'planHash')!;
    if (b.dryRun !== undefined && typeof b.dryRun !== 'boolean')
      throw new HttpError(400, 'INVALID_REQUEST', 'dryRun must be a boolean');
    if (
      b.approvals !== undefined &&
      (!Array.isArray(b.approvals) || b.approvals.some((a) => typeof a !== 'string'))
    )
      throw new HttpError(400, 'INVALID_REQUEST', 'approvals must be an array of tokens');
    await planInScope(token, planId);
    const { runId, done } = await control.startRun({
      plan: planId,
      planHash,
      phaseId: str(b, 'phase', false),
      dryRun: b.dryRun !== false,
      principal: who,
      approvals: b.approvals as string[] | undefined,
      purpose: str(b, 'purpose', false),
      residency: str(b, 'residency', false),
    });
    if (b.wait === true) return reply.code(200).send(await done);
    done.catch(() => undefined);
    return reply.code(202).send({ runId, events: `/api/runs/${runId}/events`, run: `/api/runs/${runId}` });
  });

  app.get('/api/runs', async (req) => {
    const { token } = await caller(req);
    const q = req.query as { planId?: string };
    const runs = await control.executor.listRuns(q.planId);
    return { items: runs.filter((r) => inScope(token, r.tenant)) };
  });
  app.get('/api/runs/:id', async (req) => {
    const { token } = await caller(req);
    const id = (req.params as { id: string }).id;
    const r = await control.executor.getRun(id);
    if (!r || !inScope(token, r.run.tenant)) throw new HttpError(404, 'NOT_FOUND', `no run ${id}`);
    return r;
  });
  // Server-Sent Events: every event of the run so far, then live ones until it finishes.
  app.get('/api/runs/:id/events', async (req, reply) => {
    const { token } = await caller(req);
    const runId = (req.params as { id: string }).id;
    const r = await control.executor.getRun(runId);
    if (!r || !inScope(token, r.run.tenant)) throw new HttpError(404, 'NOT_FOUND', `no run ${runId}`);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    let id = 0;
    const send = (e: RunEvent | { type: 'state'; run: unknown }) =>
      res.write(`id: ${++id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    // The listener may see run-finished while subscribe() still replays, so it ends on the next turn.
    const ref: { unsubscribe?: () => void } = {};
    const end = () => {
      ref.unsubscribe?.();
      res.end();
    };
    const unsubscribe = control.subscribe(runId, (e) => {
      send(e);
      if (e.type === 'run-finished') setImmediate(end);
    });
    ref.unsubscribe = unsubscribe;
    if (!unsubscribe) {
      // Not run by this process: the stored state, then (while it runs elsewhere: another node, a `vm` command)
      // its progress as its journal records it, until it finishes or the client goes.
      send({ type: 'state', run: r.run });
      const closed = new AbortController();
      req.raw.on('close', () => closed.abort());
      if (r.run.state === 'running')
        await followStoredRun(control.executor, runId, send, closed.signal).catch(() => undefined);
      end();
      return;
    }
    req.raw.on('close', () => unsubscribe());
  });

  const ownRun = async (req: FastifyRequest) => {
    const { token, control: who } = await caller(req);
    const id = (req.params as { id: string }).id;
    const r = await control.executor.getRun(id);
    if (!r || !inScope(token, r.run.tenant)) throw new HttpError(404, 'NOT_FOUND', `no run ${id}`);
    return { id, who };
  };
  app.post('/api/runs/:id/resume', async (req) => {
    const { id, who } = await ownRun(req);
    const b = fields(req.body ?? {}, ['approvals', 'rerunStarted']);
    if (
      b.approvals !== undefined &&
      (!Array.isArray(b.approvals) || b.approvals.some((a) => typeof a !== 'string'))
    )
      throw new HttpError(400, 'INVALID_REQUEST', 'approvals must be an array of tokens');
    if (b.rerunStarted !== undefined && typeof b.rerunStarted !== 'boolean')
      throw new HttpError(400, 'INVALID_REQUEST', 'rerunStarted must be a boolean');
    return control.executor.resume(id, {
      principal: who,
      approvals: b.approvals as string[] | undefined,
      rerunStarted: b.rerunStarted as boolean | undefined,
    });
  });
  app.post('/api/runs/:id/cancel', async (req) => {
    const { id, who } = await ownRun(req);
    const b = fields(req.body ?? {}, ['rollback', 'reason']);
    if (b.rollback !== undefined && typeof b.rollback !== 'boolean')
      throw new HttpError(400, 'INVALID_REQUEST', 'rollback must be a boolean');
    return control.executor.cancel(id, {
      principal: who,
      rollback: b.rollback as boolean | undefined,
      reason: str(b, 'reason', false),
    });
  });

  app.post('/api/approvals', async (req, reply) => {
    const { control: who, token } = await caller(req);
    const b = fields(req.body, ['planId', 'planHash', 'phaseId', 'stepId', 'reason']);
    await planInScope(token, str(b, 'planId')!);
    const phaseId = str(b, 'phaseId', false);
    const stepId = str(b, 'stepId', false);
    if ((phaseId === undefined) === (stepId === undefined))
      throw new HttpError(400, 'INVALID_REQUEST', 'give exactly one of phaseId or stepId');
    const issued = await control.approvals.issue({
      planId: str(b, 'planId')!,
      planHash: str(b, 'planHash')!,
      scope: phaseId ? { phaseId } : { stepId: stepId! },
      principal: who,
      reason: str(b, 'reason', false),
    });
    return reply.code(201).send(issued);
  });
  // Before /api/approvals/:x routes: requests agents made (request_approval), answered with vm approve.
  app.get('/api/approvals/requests', async (req) => {
    const { token } = await caller(req);
    const q = req.query as { planId?: string };
    const items = (await control.listApprovalRequests?.(q.planId)) ?? [];
    return { items: items.filter((r) => inScope(token, r.tenant)) };
  });
  app.get('/api/approvals', async (req) => {
    const { token } = await caller(req);
    const q = req.query as { planId?: string };
    const items = [];
    const tenantOf = new Map<string, string | undefined>();
    for (const a of await control.listApprovals(q.planId)) {
      // Records from before approvals kept their tenant: the plan's tenant decides.
      let tenant = a.tenant;
      if (tenant === undefined) {
        if (!tenantOf.has(a.planId))
          tenantOf.set(
            a.planId,
            await control.executor.getPlan(a.planId).then(
              (sp) => sp.plan.target.tenant,
              () => undefined,
            ),
          );
        tenant = tenantOf.get(a.planId);
      }
      if (tenant !== undefined ? inScope(token, tenant) : token.tenant === '*') items.push(a);
    }
    return { items };
  });

  // --- go/no-go polls: named roles vote within a window; any no-go or silence is a hold ---------------------
  const polls = () => {
    if (!control.golive)
      throw new HttpError(503, 'UNAVAILABLE', 'go/no-go polls are not enabled on this node');
    return control.golive;
  };
  /** A poll the caller's tenant holds; another tenant's (or the node's, for a tenant token) reads as absent. */
  const pollInScope = async (p: TokenPrincipal, id: string) => {
    let poll;
    try {
      poll = await polls().getPoll(id);
    } catch (e) {
      if ((e as { code?: unknown }).code === 'NOT_FOUND')
        throw new HttpError(404, 'NOT_FOUND', `no poll ${id}`);
      throw e;
    }
    if (!inScope(p, poll.tenant)) throw new HttpError(404, 'NOT_FOUND', `no poll ${id}`);
    return poll;
  };
  app.post('/api/golive/polls', async (req, reply) => {
    const { control: who, token } = await caller(req);
    const b = fields(req.body, ['id', 'roles', 'windowMs', 'subject', 'tenant', 'planId', 'planHash']);
    if (!Array.isArray(b.roles) || b.roles.some((r) => typeof r !== 'string'))
      throw new HttpError(400, 'INVALID_REQUEST', 'roles must be an array of role names');
    if (typeof b.windowMs !== 'number')
      throw new HttpError(400, 'INVALID_REQUEST', 'windowMs must be a number');
    const planId = str(b, 'planId', false);
    const planHash = str(b, 'planHash', false);
    if ((planId === undefined) !== (planHash === undefined))
      throw new HttpError(
        400,
        'INVALID_REQUEST',
        'give planId and planHash together (a poll on one plan hash)',
      );
    let tenant = str(b, 'tenant', false);
    if (planId !== undefined) {
      const plan = await planInScope(token, planId);
      if (tenant !== undefined && tenant !== plan.plan.target.tenant)
        throw new HttpError(
          400,
          'INVALID_REQUEST',
          `plan ${planId} belongs to tenant ${plan.plan.target.tenant}`,
        );
      tenant = plan.plan.target.tenant;
    }
    // Default: the caller's tenant; a token for every tenant opens a node-wide poll.
    tenant ??= token.tenant === '*' ? NODE_POLL_TENANT : token.tenant;
    const poll = await polls().openPoll({
      id: str(b, 'id', false),
      roles: b.roles as string[],
      windowMs: b.windowMs,
      subject: str(b, 'subject')!,
      tenant,
      ...(planId !== undefined && planHash !== undefined ? { plan: { planId, planHash } } : {}),
      principal: who,
    });
    return reply.code(201).send(poll);
  });
  app.get('/api/golive/polls', async (req) => {
    const { token } = await caller(req);
    return { items: (await polls().listPolls()).filter((p) => inScope(token, p.tenant)) };
  });
  app.get('/api/golive/polls/:id', async (req) => {
    const { token } = await caller(req);
    return pollInScope(token, (req.params as { id: string }).id);
  });
  app.post('/api/golive/polls/:id/votes', async (req) => {
    const { control: who, token } = await caller(req);
    const poll = await pollInScope(token, (req.params as { id: string }).id);
    const b = fields(req.body, ['role', 'vote', 'reason']);
    if (b.vote !== 'go' && b.vote !== 'no-go')
      throw new HttpError(400, 'INVALID_REQUEST', 'vote must be go or no-go');
    // The voter's role comes from its token (pollRoles), never from the request alone.
    const held = (token.pollRoles ?? []).filter((r) => poll.roles.includes(r));
    const role = str(b, 'role', false) ?? (held.length === 1 ? held[0] : undefined);
    if (role === undefined)
      throw new HttpError(
        held.length === 0 ? 403 : 400,
        held.length === 0 ? 'FORBIDDEN' : 'INVALID_REQUEST',
        held.length === 0
          ? `this token holds none of poll ${poll.id}'s roles (${poll.roles.join(', ')}); tokens get roles with --poll-roles`
          : `this token holds several of the poll's roles (${held.join(', ')}): name the one you vote as`,
      );
    return polls().vote({
      pollId: poll.id,
      role,
      voterRoles: token.pollRoles ?? [],
      voter: who,
      vote: b.vote,
      reason: str(b, 'reason')!,
    });
  });
  app.post('/api/golive/polls/:id/close', async (req) => {
    const { control: who, token } = await caller(req);
    const poll = await pollInScope(token, (req.params as { id: string }).id);
    return polls().closePoll(poll.id, { principal: who });
  });

  app.post('/api/agent/mcp/auditor/verify', async (req) => {
    const { control: who, token } = await caller(req);
    const b = fields(req.body, ['planId', 'checks']);
    const checks = b.checks ?? ['receipts', 'health', 'compliance'];
    if (
      !Array.isArray(checks) ||
      checks.some((c) => !['receipts', 'health', 'compliance'].includes(c as string))
    )
      throw new HttpError(400, 'INVALID_REQUEST', 'checks must be a subset of receipts, health, compliance');
    if (!control.audit) throw new HttpError(503, 'UNAVAILABLE', 'the auditor is not configured on this node');
    await planInScope(token, str(b, 'planId')!);
    return control.audit({ planId: str(b, 'planId')!, checks: checks as string[], principal: who });
  });
}
