// HTTP edge of federation: peers hand this node cosignatures of its checkpoints (self-authenticating: each is
// verified against a configured peer's key), ask it to countersign merges (signed by the asking peer), and operators
// read the peers' status. FederationError codes map to HTTP in one table.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal as TokenPrincipal } from '@vaultmesh/auth';
import type { FederationErrorCode } from '@vaultmesh/federation';
import { HttpError } from './errors.ts';
import { isObject } from './request.ts';

/** What the federation routes need; built by the composition root (packages/node/src/federation.ts). */
export interface FederationApi {
  /** Verifies and stores a peer's cosignature of one of this node's checkpoints. */
  acceptCosignature(note: string, line: string): Promise<{ size: number; witness: string }>;
  /** Cosignature lines collected for the checkpoint of exactly `size`. */
  cosignatures(size: number): Promise<string[]>;
  /** Checks a peer's merge statement against this node's own data, countersigns and records it. */
  handleMerge(body: unknown): Promise<unknown>;
  status(): Promise<unknown>;
}

/** FederationError code → HTTP status. */
export const FEDERATION_STATUS: Readonly<Record<FederationErrorCode, number>> = {
  COSIGNATURE_INVALID: 400,
  CHECKPOINT_INVALID: 400,
  INVALID_ARGUMENT: 400,
  SIGNATURE_INVALID: 403,
  PEER_UNTRUSTED: 403,
  NOT_FOUND: 404,
  MERGE_MISMATCH: 409,
  INCONSISTENT: 409,
  EQUIVOCATION: 409,
  PEER_UNREACHABLE: 502,
};

async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string };
    const status = FEDERATION_STATUS[e?.code as FederationErrorCode] as number | undefined;
    if (e?.name === 'FederationError' && status !== undefined)
      throw new HttpError(status, e.code!, e.message ?? e.code!);
    throw err;
  }
}

/** Registers POST /federation/cosignatures, POST /federation/merge and GET /api/federation/status. */
export function registerFederationRoutes(
  app: FastifyInstance,
  fed: FederationApi,
  principal: (req: FastifyRequest) => Promise<TokenPrincipal>,
): void {
  app.post('/federation/cosignatures', async (req, reply) => {
    const b = req.body;
    if (!isObject(b) || typeof b.note !== 'string' || typeof b.line !== 'string')
      throw new HttpError(
        400,
        'INVALID_REQUEST',
        'body must be {"note": <signed checkpoint>, "line": <cosignature line>}',
      );
    if (b.note.length > 64 * 1024 || b.line.length > 1024)
      throw new HttpError(400, 'INVALID_REQUEST', 'note or line is too long');
    const r = await mapped(() => fed.acceptCosignature(b.note as string, b.line as string));
    return reply.code(201).send(r);
  });
  app.post('/federation/merge', async (req) => mapped(() => fed.handleMerge(req.body)));
  app.get('/api/federation/status', async (req) => {
    await principal(req);
    return fed.status();
  });
}
