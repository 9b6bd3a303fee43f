// The ledger routes: checkpoints, tiles and proofs (hashes only, so public), anchors, and receipts (tenant data:
// authenticated and scoped).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  authorize,
  authorizeResource,
  readableTenants,
  AuthError,
  tokenActor,
  type Principal,
} from '@vaultmesh/auth';
import {
  decodeReceipt,
  isPublicReceiptKind,
  parseTilePath,
  PUBLIC_RECEIPT_KINDS,
  RECEIPT_KINDS,
  toBase64,
  toHex,
  type ReceiptKind,
} from '@vaultmesh/ledger';
import {
  LogError,
  checkpointJson,
  type AnchorStatus,
  type Log,
  type LogStorage,
  type StoredEntry,
} from '@vaultmesh/log';
import { type FederationApi } from './federation-routes.ts';
import { HttpError } from './errors.ts';
import { defaultTenant, intParam, isObject, timeParam, type Query } from './request.ts';

/** What the ledger routes need from the app. */
export interface LedgerRoutesOptions {
  readonly log: Log;
  readonly storage: LogStorage;
  readonly verifierKeyText: string;
  readonly maxWaitMs?: number;
  readonly anchorStatus?: () => readonly AnchorStatus[];
  readonly evidence?: (index: number) => Promise<unknown>;
  readonly federation?: FederationApi;
}

function receiptView(e: StoredEntry) {
  return { index: e.index, leafHash: toHex(e.leafHash), receipt: decodeReceipt(e.bytes) };
}

/** Registers the ledger routes; `principal` authenticates (and rate-limits) a request. */
export function registerLedgerRoutes(
  app: FastifyInstance,
  opts: LedgerRoutesOptions,
  principal: (req: FastifyRequest) => Promise<Principal>,
): void {
  const { log, storage } = opts;
  // --- ledger reads (proofs and checkpoints carry hashes only, so they are public) --------------------
  app.get('/api/ledger/checkpoint', async () => {
    const cp = await log.latestCheckpoint();
    if (!cp) throw new HttpError(404, 'NOT_FOUND', 'no checkpoint has been published yet');
    return { ...checkpointJson(cp, log.origin), verifierKey: opts.verifierKeyText };
  });
  app.post('/api/ledger/checkpoint', async (req) => {
    authorize(await principal(req), 'checkpoint:publish');
    await log.idle();
    return checkpointJson(await log.checkpoint(), log.origin);
  });
  app.get('/checkpoint', async (_req, reply) => {
    const cp = await log.latestCheckpoint();
    if (!cp) throw new HttpError(404, 'NOT_FOUND', 'no checkpoint has been published yet');
    // Witness cosignatures (C2SP tlog-cosignature) are further signature lines of the same signed note.
    const cosigs = (await opts.federation?.cosignatures(cp.size)) ?? [];
    const note = cosigs.length ? cp.note + cosigs.map((l) => l + '\n').join('') : cp.note;
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-cache').send(note);
  });
  app.get('/tile/*', async (req, reply) => {
    const addr = parseTilePath(req.url.split('?')[0]!);
    if (addr.level < 0) {
      // Entry bundles carry receipts of every tenant: only an all-tenant reader may fetch them.
      const p = await principal(req);
      authorize(p, 'receipts:read');
      if (p.tenant !== '*')
        throw new AuthError('FORBIDDEN', 'entry bundles need a token scoped to every tenant');
    }
    const bytes = await log.readTileResource(addr);
    // Hash tiles are public; an entry bundle was served to one token, so no shared cache may keep it.
    const scope = addr.level < 0 ? 'private' : 'public';
    return reply
      .type('application/octet-stream')
      .header('cache-control', addr.width === 256 ? `${scope}, max-age=31536000, immutable` : 'no-cache')
      .send(Buffer.from(bytes));
  });
  app.get('/api/ledger/proof/inclusion', async (req) => {
    const q = req.query as Query;
    const index = intParam(q, 'index', { min: 0 });
    if (index === undefined) throw new HttpError(400, 'INVALID_REQUEST', 'query parameter index is required');
    const p = await log.inclusionProof(index, intParam(q, 'size', { min: 1 }));
    return { index: p.index, size: p.size, leafHash: toHex(p.leafHash), proof: p.proof.map(toHex) };
  });
  app.get('/api/ledger/proof/consistency', async (req) => {
    const q = req.query as Query;
    const from = intParam(q, 'from', { min: 0 });
    const to = intParam(q, 'to', { min: 0 });
    if (from === undefined || to === undefined)
      throw new HttpError(400, 'INVALID_REQUEST', 'query parameters from and to are required');
    return { from, to, proof: (await log.consistencyProof(from, to)).map(toHex) };
  });

  // --- anchors (timestamps of checkpoints: public, like the checkpoints they cover) --------------------
  app.get('/api/anchor/status', async () => {
    const now = Date.now();
    const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());
    return {
      scheduler: opts.anchorStatus !== undefined,
      now: iso(now),
      authorities: (opts.anchorStatus?.() ?? []).map((a) => ({
        ...a,
        lastSuccessAt: iso(a.lastSuccessAt),
        lastAttemptAt: iso(a.lastAttemptAt),
        nextAttemptAt: iso(a.nextAttemptAt),
        lastError: a.lastError ?? null,
      })),
    };
  });
  app.get('/api/ledger/anchors', async (req) => {
    const q = req.query as Query;
    for (const k of Object.keys(q))
      if (k !== 'size') throw new HttpError(400, 'INVALID_REQUEST', `unknown query parameter ${k}`);
    const items = await storage.listAnchors(intParam(q, 'size', { min: 1 }));
    return {
      items: items.map((a) => ({
        size: a.size,
        authority: a.authority,
        type: a.type,
        anchoredAt: new Date(a.anchoredAt).toISOString(),
        createdAt: new Date(a.createdAt).toISOString(),
        proof: toBase64(a.proof),
      })),
    };
  });

  // --- receipts (tenant data: authenticated and scoped) -----------------------------------------------
  app.get('/api/ledger/evidence/:index', async (req) => {
    const p = await principal(req);
    authorize(p, 'receipts:read');
    const index = intParam(req.params as Query, 'index', { min: 0 })!;
    const e = await log.getEntry(index);
    authorizeResource(p, 'receipts:read', e.tenant);
    if (!opts.evidence) throw new HttpError(404, 'NOT_FOUND', 'evidence export is not enabled on this node');
    return opts.evidence(index);
  });
  app.get('/api/ledger/receipts', async (req) => {
    const p = await principal(req);
    authorize(p, 'receipts:read');
    const q = req.query as Query;
    const known = new Set(['kind', 'tenant', 'from', 'to', 'after', 'before', 'limit', 'order', 'q']);
    for (const k of Object.keys(q))
      if (!known.has(k)) throw new HttpError(400, 'INVALID_REQUEST', `unknown query parameter ${k}`);
    let tenants = readableTenants(p);
    if (q.tenant) {
      authorize(p, 'receipts:read', q.tenant);
      tenants = [q.tenant];
    }
    if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc')
      throw new HttpError(400, 'INVALID_REQUEST', 'order must be asc or desc');
    const limit = intParam(q, 'limit', { min: 1, max: 1000, def: 50 })!;
    const items = await storage.listEntries({
      kind: q.kind || undefined,
      tenants,
      fromTime: timeParam(q, 'from'),
      toTime: timeParam(q, 'to'),
      after: intParam(q, 'after', { min: -1 }),
      before: intParam(q, 'before', { min: 0 }),
      order: q.order === 'desc' ? 'desc' : 'asc',
      text: q.q ? q.q.slice(0, 200) : undefined,
      limit,
    });
    const last = items[items.length - 1];
    const next =
      items.length === limit && last
        ? q.order === 'desc'
          ? { before: last.index }
          : { after: last.index }
        : null;
    return { items: items.map(receiptView), next };
  });
  app.get('/api/ledger/receipts/:index', async (req) => {
    const p = await principal(req);
    authorize(p, 'receipts:read');
    const index = intParam(req.params as Query, 'index', { min: 0 })!;
    const e = await log.getEntry(index);
    authorizeResource(p, 'receipts:read', e.tenant);
    return receiptView(e);
  });
  app.post('/api/ledger/receipts', async (req, reply) => {
    const p = await principal(req);
    authorize(p, 'receipts:write');
    const body = req.body;
    if (!isObject(body)) throw new HttpError(400, 'INVALID_REQUEST', 'request body must be a JSON object');
    const allowed = new Set(['kind', 'body', 'tenant', 'parents']);
    for (const k of Object.keys(body))
      if (!allowed.has(k)) throw new HttpError(400, 'INVALID_REQUEST', `unknown field "${k}"`);
    if (typeof body.kind !== 'string') throw new HttpError(400, 'INVALID_REQUEST', 'kind is required');
    // The node's own records (plan, step, policy, key, audit, ...) cannot be forged through the public path.
    if (RECEIPT_KINDS.includes(body.kind as ReceiptKind) && !isPublicReceiptKind(body.kind))
      throw new AuthError(
        'FORBIDDEN',
        `receipts of kind ${body.kind} are written only by the node itself (callers may write ${PUBLIC_RECEIPT_KINDS.join(', ')})`,
      );
    if (!isObject(body.body)) throw new HttpError(400, 'INVALID_REQUEST', 'body must be a JSON object');
    const tenant = typeof body.tenant === 'string' ? body.tenant : defaultTenant(p);
    authorize(p, 'receipts:write', tenant);
    if (body.parents !== undefined && !Array.isArray(body.parents))
      throw new HttpError(400, 'INVALID_REQUEST', 'parents must be an array');
    const q = req.query as Query;
    if (q.wait !== undefined && q.wait !== 'checkpoint')
      throw new HttpError(400, 'INVALID_REQUEST', 'wait must be "checkpoint"');
    const result = await log.append({
      kind: body.kind,
      actor: tokenActor(p),
      tenant,
      body: body.body,
      parents: body.parents as number[] | undefined,
    });
    let sealed: Record<string, unknown> = {};
    if (q.wait === 'checkpoint') {
      // The receipt is durable already; a slow checkpoint must not turn that into an error for the caller.
      const w = await log
        .waitForCheckpoint(result.index, { timeoutMs: opts.maxWaitMs ?? 30_000, publish: true })
        .catch((err: unknown) => {
          if (err instanceof LogError && err.code === 'TIMEOUT') return undefined;
          throw err;
        });
      sealed = w
        ? {
            checkpoint: checkpointJson(w.checkpoint, log.origin),
            proof: {
              index: w.proof.index,
              size: w.proof.size,
              leafHash: toHex(w.proof.leafHash),
              proof: w.proof.proof.map(toHex),
            },
          }
        : { checkpoint: null, proof: null, sealed: false };
    }
    return reply
      .code(201)
      .send({ index: result.index, leafHash: result.leafHash, receipt: result.receipt, ...sealed });
  });
}
