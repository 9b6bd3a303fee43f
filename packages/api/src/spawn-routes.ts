// HTTP edge of Spawn: the template catalog, and the record of a spawn. The node renders the tree itself from the
// template, version and parameters (so the digest on the receipt is its own, not the caller's), asks the tenant's
// Cedar policy (action "spawn" on the Template), and only then appends the `spawn` receipt.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize, type Principal as TokenPrincipal } from '@vaultmesh/auth';
import type { Principal } from '@vaultmesh/types';
import { toControlPrincipal } from './control-routes.ts';
import { HttpError } from './errors.ts';
import { defaultTenant, fields, isObject, type Body } from './request.ts';

/** What a caller asks the node to record. */
export interface SpawnRecordRequest {
  readonly operation: 'create' | 'update';
  readonly template: string;
  readonly service: string;
  readonly tenant: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** The template version generated (default: the newest). */
  readonly version?: string;
  /** update: the version the tree had before. */
  readonly from?: string;
  /** The digest of the tree the caller wrote; the node refuses when its own render differs. */
  readonly treeSha256: string;
}

/** What the routes need (packages/node/src/spawn.ts builds it). */
export interface SpawnApi {
  templates(): readonly unknown[];
  record(req: SpawnRecordRequest, principal: Principal): Promise<unknown>;
}

const HEX64 = /^[0-9a-f]{64}$/;
const TENANT = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const FIELDS = ['operation', 'template', 'service', 'tenant', 'params', 'version', 'from', 'treeSha256'];

function str(body: Body, key: string, required: boolean): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 200)
    throw new HttpError(400, 'INVALID_REQUEST', `${key} must be a string of 1 to 200 characters`);
  return v;
}

/** Checks the shape of a record request (the node checks its meaning). */
export function parseSpawnRequest(body: unknown, p: TokenPrincipal): SpawnRecordRequest {
  const b = fields(body, FIELDS);
  const operation = b['operation'] ?? 'create';
  if (operation !== 'create' && operation !== 'update')
    throw new HttpError(400, 'INVALID_REQUEST', 'operation must be "create" or "update"');
  const params = b['params'] ?? {};
  if (!isObject(params)) throw new HttpError(400, 'INVALID_REQUEST', 'params must be a JSON object');
  const treeSha256 = str(b, 'treeSha256', true)!;
  if (!HEX64.test(treeSha256))
    throw new HttpError(400, 'INVALID_REQUEST', 'treeSha256 must be 64 lower-case hex digits');
  const tenant = str(b, 'tenant', false) ?? defaultTenant(p);
  if (!TENANT.test(tenant))
    throw new HttpError(400, 'INVALID_REQUEST', 'tenant must match ^[a-z0-9][a-z0-9_.-]{0,62}$');
  const version = str(b, 'version', false);
  const from = str(b, 'from', false);
  if (operation === 'update' && from === undefined)
    throw new HttpError(400, 'INVALID_REQUEST', 'an update names the version it comes from ("from")');
  return {
    operation,
    template: str(b, 'template', true)!,
    service: str(b, 'service', true)!,
    tenant,
    params,
    treeSha256,
    ...(version !== undefined ? { version } : {}),
    ...(from !== undefined ? { from } : {}),
  };
}

/** Registers GET /api/spawn/templates and POST /api/spawn. */
export function registerSpawnRoutes(
  app: FastifyInstance,
  spawn: SpawnApi,
  principal: (req: FastifyRequest) => Promise<TokenPrincipal>,
): void {
  app.get('/api/spawn/templates', async (req) => {
    const p = await principal(req);
    authorize(p, 'receipts:read');
    // The tenant a spawn by this caller goes to unless it names one (what `vm spawn create` renders with).
    return { tenant: defaultTenant(p), templates: spawn.templates() };
  });
  app.post('/api/spawn', async (req, reply) => {
    const p = await principal(req);
    authorize(p, 'receipts:write');
    const r = parseSpawnRequest(req.body, p);
    authorize(p, 'receipts:write', r.tenant);
    return reply.code(201).send(await spawn.record(r, toControlPrincipal(p)));
  });
}
