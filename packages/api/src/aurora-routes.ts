// HTTP edge of the Aurora router: POST /agent/route (scored recommendations, nothing placed), POST /api/aurora/jobs
// (place with failover), job status and cancel, providers and treaties, model training and the canary SLO report.
// Routes authenticate and shape requests; where a workload may go is decided by Cedar ("route" per provider and
// region) inside the router, and every decision is a `route` receipt.
// Attacker-controlled input: bodies, query strings, headers (residency, purpose). Workloads are validated by the
// router's schema; everything else here.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError, authorize, inScope, tokenActor, type Principal as TokenPrincipal } from '@vaultmesh/auth';
import type { Principal } from '@vaultmesh/control';
import { PURPOSE_PATTERN, RESIDENCY_PATTERN } from '@vaultmesh/interop/core';
import { toControlPrincipal } from './control-routes.ts';
import { HttpError } from './errors.ts';
import { fields, optionalHeader, type Body } from './request.ts';

/** The caller as the router sees it. */
export interface AuroraCaller {
  readonly principal: Principal;
  readonly residency?: string;
  readonly purpose?: string;
}

/** What the routes need (packages/node/src/aurora.ts builds it over the router). */
export interface AuroraApi {
  recommend(workload: unknown, caller: AuroraCaller, opts: { top?: number }): Promise<unknown>;
  place(workload: unknown, caller: AuroraCaller): Promise<{ id: string; state: string }>;
  getJob(id: string, opts: { refresh: boolean }): Promise<{ tenant: string } | undefined>;
  listJobs(opts: { tenant?: string; limit?: number }): Promise<unknown[]>;
  cancel(id: string, caller: AuroraCaller): Promise<unknown>;
  providers(): Promise<unknown>;
  treaties(): unknown;
  models(): Promise<unknown>;
  train(req: { alpha?: number; windowMs?: number; actor: string }): Promise<unknown>;
  sloReport(req: { treaty: string; windowMs: number; actor: string }): Promise<unknown>;
}

const WINDOW = /^(\d{1,6})(m|h|d)$/;

/** "72h", "30m", "7d" → ms (1 minute .. 366 days). */
export function windowMs(v: unknown): number {
  const m = typeof v === 'string' ? WINDOW.exec(v) : null;
  if (!m) throw new HttpError(400, 'INVALID_REQUEST', 'window must be a duration such as 30m, 72h or 7d');
  const ms = Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
  if (ms < 60_000 || ms > 366 * 86_400_000)
    throw new HttpError(400, 'INVALID_REQUEST', 'window must be between 1 minute and 366 days');
  return ms;
}

/** Registers the Aurora routes. */
export function registerAuroraRoutes(
  app: FastifyInstance,
  aurora: AuroraApi,
  principal: (req: FastifyRequest) => Promise<TokenPrincipal>,
): void {
  /** The body is { workload, residency?, purpose?, top? } or the workload itself; residency/purpose may be headers. */
  const callerOf = async (
    req: FastifyRequest,
    body: Body,
  ): Promise<{ caller: AuroraCaller; token: TokenPrincipal }> => {
    const token = await principal(req);
    const residency = body.residency ?? optionalHeader(req, 'vaultmesh-residency', RESIDENCY_PATTERN);
    const purpose = body.purpose ?? optionalHeader(req, 'vaultmesh-purpose', PURPOSE_PATTERN);
    if (residency !== undefined && (typeof residency !== 'string' || !RESIDENCY_PATTERN.test(residency)))
      throw new HttpError(400, 'INVALID_REQUEST', 'residency must be a region family such as "eu"');
    if (purpose !== undefined && (typeof purpose !== 'string' || !PURPOSE_PATTERN.test(purpose)))
      throw new HttpError(400, 'INVALID_REQUEST', 'purpose must be a short plain-text purpose');
    return {
      token,
      caller: {
        principal: toControlPrincipal(token),
        ...(residency !== undefined ? { residency: residency as string } : {}),
        ...(purpose !== undefined ? { purpose: purpose as string } : {}),
      },
    };
  };
  const workloadOf = (b: Body): unknown => {
    if (b.workload === undefined) throw new HttpError(400, 'INVALID_REQUEST', 'workload is required');
    return b.workload;
  };

  app.post('/agent/route', async (req) => {
    const b = fields(req.body, ['workload', 'residency', 'purpose', 'top']);
    if (
      b.top !== undefined &&
      (typeof b.top !== 'number' || !Number.isInteger(b.top) || b.top < 1 || b.top > 100)
    )
      throw new HttpError(400, 'INVALID_REQUEST', 'top must be an integer between 1 and 100');
    const { caller } = await callerOf(req, b);
    return aurora.recommend(workloadOf(b), caller, { top: b.top as number | undefined });
  });

  app.post('/api/aurora/jobs', async (req, reply) => {
    const b = fields(req.body, ['workload', 'residency', 'purpose']);
    const { caller } = await callerOf(req, b);
    const job = await aurora.place(workloadOf(b), caller);
    return reply.code(job.state === 'unplaced' ? 422 : 201).send(job);
  });

  app.get('/api/aurora/jobs', async (req) => {
    const p = await principal(req);
    const q = req.query as Record<string, string | undefined>;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new HttpError(400, 'INVALID_REQUEST', 'limit must be an integer between 1 and 1000');
    if (q.tenant !== undefined && !inScope(p, q.tenant))
      throw new AuthError('FORBIDDEN', `this token is not scoped to tenant ${q.tenant}`);
    const tenant = q.tenant ?? (p.tenant === '*' ? undefined : p.tenant);
    return { jobs: await aurora.listJobs({ tenant, limit }) };
  });

  app.get('/api/aurora/jobs/:id', async (req) => {
    const p = await principal(req);
    const id = (req.params as { id: string }).id;
    const job = await aurora.getJob(id, { refresh: (req.query as { refresh?: string }).refresh !== 'false' });
    // Another tenant's job is reported as absent, so ids do not leak across tenants.
    if (!job || !inScope(p, job.tenant)) throw new HttpError(404, 'NOT_FOUND', `no Aurora job ${id}`);
    return job;
  });

  app.post('/api/aurora/jobs/:id/cancel', async (req) => {
    const { caller, token } = await callerOf(req, {});
    const id = (req.params as { id: string }).id;
    const job = await aurora.getJob(id, { refresh: false });
    if (!job || !inScope(token, job.tenant)) throw new HttpError(404, 'NOT_FOUND', `no Aurora job ${id}`);
    if (token.role === 'viewer' || token.role === 'auditor')
      throw new AuthError('FORBIDDEN', `role ${token.role} may not cancel jobs`);
    return aurora.cancel(id, caller);
  });

  app.get('/api/aurora/providers', async (req) => {
    await principal(req);
    return aurora.providers();
  });
  app.get('/api/aurora/treaties', async (req) => {
    await principal(req);
    return { treaties: aurora.treaties() };
  });
  app.get('/api/aurora/models', async (req) => {
    await principal(req);
    return aurora.models();
  });

  // The model is node-wide: training it is an admin's act across every tenant.
  app.post('/api/aurora/models/train', async (req, reply) => {
    const p = await principal(req);
    if (p.role !== 'admin' || p.tenant !== '*')
      throw new AuthError(
        'FORBIDDEN',
        'training the routing model needs an admin token scoped to every tenant',
      );
    const b = fields(req.body ?? {}, ['alpha', 'window']);
    if (b.alpha !== undefined && (typeof b.alpha !== 'number' || !(b.alpha >= 0 && b.alpha <= 10)))
      throw new HttpError(400, 'INVALID_REQUEST', 'alpha must be a number between 0 and 10');
    const r = await aurora.train({
      actor: tokenActor(p),
      ...(b.alpha !== undefined ? { alpha: b.alpha as number } : {}),
      ...(b.window !== undefined ? { windowMs: windowMs(b.window) } : {}),
    });
    return reply.code(201).send(r);
  });

  app.post('/api/aurora/slo-report', async (req, reply) => {
    const p = await principal(req);
    authorize(p, 'audit:run');
    if (p.tenant !== '*')
      throw new AuthError(
        'FORBIDDEN',
        'a treaty report covers every tenant: it needs a token scoped to every tenant',
      );
    const b = fields(req.body, ['treaty', 'window']);
    if (typeof b.treaty !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(b.treaty))
      throw new HttpError(400, 'INVALID_REQUEST', 'treaty must be a treaty id');
    const r = await aurora.sloReport({
      treaty: b.treaty,
      windowMs: windowMs(b.window ?? '72h'),
      actor: tokenActor(p),
    });
    return reply.code(201).send(r);
  });
}
