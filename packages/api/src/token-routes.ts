// The token routes: list, create and revoke API tokens (tokens:manage), each within the caller's tenant scope.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  authorize,
  authorizeResource,
  createToken,
  publicTokenView,
  type Principal,
  type TokenStore,
} from '@vaultmesh/auth';
import { HttpError } from './errors.ts';
import { isObject } from './request.ts';
import { type Query } from './request.ts';

/** Registers GET/POST /api/tokens and DELETE /api/tokens/:id; `principal` authenticates a request. */
export function registerTokenRoutes(
  app: FastifyInstance,
  tokens: TokenStore,
  principal: (req: FastifyRequest) => Promise<Principal>,
): void {
  // --- tokens -----------------------------------------------------------------------------------------
  app.get('/api/tokens', async (req) => {
    const p = await principal(req);
    authorize(p, 'tokens:manage');
    const visible = (await tokens.listTokens()).filter((t) => p.tenant === '*' || t.tenant === p.tenant);
    return { items: visible.map(publicTokenView) };
  });
  app.post('/api/tokens', async (req, reply) => {
    const p = await principal(req);
    authorize(p, 'tokens:manage');
    const b = req.body;
    if (
      !isObject(b) ||
      typeof b.name !== 'string' ||
      typeof b.role !== 'string' ||
      typeof b.tenant !== 'string'
    ) {
      throw new HttpError(400, 'INVALID_REQUEST', 'name, role and tenant are required strings');
    }
    const allowed = new Set(['name', 'role', 'tenant', 'ttlSeconds', 'audience', 'pollRoles']);
    for (const k of Object.keys(b)) {
      if (!allowed.has(k)) throw new HttpError(400, 'INVALID_REQUEST', `unknown field "${k}"`);
    }
    const ttl = b.ttlSeconds;
    if (
      ttl !== undefined &&
      (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 1 || ttl > 315_360_000)
    ) {
      throw new HttpError(400, 'INVALID_REQUEST', 'ttlSeconds must be an integer between 1 and 315360000');
    }
    if (p.tenant !== '*') authorize(p, 'tokens:manage', b.tenant);
    if (
      b.audience !== undefined &&
      (!Array.isArray(b.audience) || b.audience.some((a) => typeof a !== 'string'))
    )
      throw new HttpError(400, 'INVALID_REQUEST', 'audience must be an array of api, mcp, a2a');
    if (
      b.pollRoles !== undefined &&
      (!Array.isArray(b.pollRoles) || b.pollRoles.some((a) => typeof a !== 'string'))
    )
      throw new HttpError(400, 'INVALID_REQUEST', 'pollRoles must be an array of go/no-go role names');
    const { record, token } = await createToken(tokens, {
      name: b.name,
      role: b.role,
      tenant: b.tenant,
      audience: b.audience as string[] | undefined,
      pollRoles: b.pollRoles as string[] | undefined,
      ttlMs: typeof ttl === 'number' ? ttl * 1000 : undefined,
    });
    return reply.code(201).send({ ...publicTokenView(record), token });
  });
  app.delete('/api/tokens/:id', async (req) => {
    const p = await principal(req);
    authorize(p, 'tokens:manage');
    const id = (req.params as Query).id ?? '';
    const target = await tokens.getToken(id);
    if (target && p.tenant !== '*') authorizeResource(p, 'tokens:manage', target.tenant);
    if (!(await tokens.revokeToken(id, Date.now())))
      throw new HttpError(404, 'NOT_FOUND', `no active token ${id}`);
    return { id, revoked: true };
  });
}
