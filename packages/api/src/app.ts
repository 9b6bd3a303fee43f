// Fastify app factory: REST edge over the ledger. No business logic lives here.
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  authenticate,
  authorize,
  authorizeResource,
  bearerToken,
  createToken,
  publicTokenView,
  readableTenants,
  AuthError,
  tokenActor,
  type Principal,
  type TokenStore,
} from '@vaultmesh/auth';
import {
  decodeReceipt,
  isPublicReceiptKind,
  parseStrictJson,
  parseTilePath,
  PUBLIC_RECEIPT_KINDS,
  RECEIPT_KINDS,
  toBase64,
  toHex,
  type NoteVerifierKey,
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
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Caller } from '@vaultmesh/interop/core';
import { registerControlRoutes, type ControlApi } from './control-routes.ts';
import { registerMcpRoutes, type McpRoutesOptions } from './mcp-routes.ts';
import { createRateLimiter, type RateLimits } from './rate-limit.ts';
import { registerFederationRoutes, type FederationApi } from './federation-routes.ts';
import { registerAuroraRoutes, type AuroraApi } from './aurora-routes.ts';
import { registerA2aRoutes, type A2aRoutesOptions } from './a2a-routes.ts';
import { HttpError, toProblem } from './errors.ts';
import { isObject } from './request.ts';
import type { NodeMetrics } from './metrics.ts';

/** Everything the HTTP edge needs; built by the composition root. */
export interface AppOptions {
  readonly log: Log;
  readonly storage: LogStorage;
  readonly tokens: TokenStore;
  readonly verifierKey: NoteVerifierKey;
  readonly verifierKeyText: string;
  readonly metrics: NodeMetrics;
  /** What /api/backend/status reports. */
  readonly status: { mode: 'dry-run' | 'live'; storage: string; keySealed: boolean; version: string };
  /** Largest accepted request body. Default 128 KiB. */
  readonly bodyLimit?: number;
  /** Per-token limits on writes and denied requests (defaults: DEFAULT_RATE_LIMITS). */
  readonly rateLimits?: Partial<RateLimits>;
  /** Folder with the dashboard's static files (served at /). */
  readonly dashboardDir?: string;
  /** pino logger options, or false for silence. */
  readonly logger?: boolean | { level: string };
  /** Longest ?wait=checkpoint wait. Default 30 s. */
  readonly maxWaitMs?: number;
  /** Where each anchor authority stands (GET /api/anchor/status); absent when no scheduler runs. */
  readonly anchorStatus?: () => readonly AnchorStatus[];
  /** Builds the offline evidence bundle of one receipt (GET /api/ledger/evidence/:index). */
  readonly evidence?: (index: number) => Promise<unknown>;
  /** The control plane (strategist → executor → auditor, plans, runs, approvals); absent: routes not served. */
  readonly control?: ControlApi;
  /** The Aurora router (POST /agent/route, /api/aurora/*); absent: not served. */
  readonly aurora?: AuroraApi;
  /** MCP over Streamable HTTP at /mcp: a server per authenticated session; absent: not served. */
  readonly mcp?: {
    createServer(caller: Caller): McpServer | Promise<McpServer>;
    /** Session limits (defaults: MCP_SESSION_DEFAULTS). */
    readonly sessions?: Pick<
      McpRoutesOptions,
      'maxSessions' | 'maxSessionsPerToken' | 'maxSessionsPerTenant' | 'idleMs' | 'allowedHosts'
    >;
  };
  /** Federation: cosignatures from peers, merges, peer status; with it /checkpoint carries cosignatures. */
  readonly federation?: FederationApi;
  /** A2A: the agent card, the JSON-RPC endpoint and /a2a/perform over the gateway; absent: not served. */
  readonly a2a?: Omit<A2aRoutesOptions, 'principal'>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

type Query = Record<string, string | undefined>;

function intParam(
  q: Query,
  name: string,
  opts: { min?: number; max?: number; def?: number } = {},
): number | undefined {
  const raw = q[name];
  if (raw === undefined || raw === '') return opts.def;
  if (!/^-?[0-9]+$/.test(raw))
    throw new HttpError(400, 'INVALID_REQUEST', `query parameter ${name} must be an integer`);
  const n = Number(raw);
  if (
    !Number.isSafeInteger(n) ||
    (opts.min !== undefined && n < opts.min) ||
    (opts.max !== undefined && n > opts.max)
  ) {
    throw new HttpError(
      400,
      'INVALID_REQUEST',
      `query parameter ${name} must be between ${opts.min ?? '-∞'} and ${opts.max ?? '∞'}`,
    );
  }
  return n;
}

function timeParam(q: Query, name: string): number | undefined {
  const raw = q[name];
  if (raw === undefined || raw === '') return undefined;
  const t = /^[0-9]+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(t))
    throw new HttpError(
      400,
      'INVALID_REQUEST',
      `query parameter ${name} must be an RFC 3339 time or Unix milliseconds`,
    );
  return t;
}

function receiptView(e: StoredEntry) {
  return { index: e.index, leafHash: toHex(e.leafHash), receipt: decodeReceipt(e.bytes) };
}

/** One registered route. */
export interface RouteEntry {
  readonly method: string;
  readonly url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route of the app (method, URL pattern), in registration order. */
    readonly routeTable: readonly RouteEntry[];
  }
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Time a client has to send a whole request (headers and body). */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Time a client has to send the request headers. */
export const HEADERS_TIMEOUT_MS = 10_000;

/** Query parameters whose values may be credentials; their values are never logged. */
const SECRET_PARAM = /token|key|secret|passw|sig|auth|code|cred|session/i;

/** A URL as it may be logged: the values of query parameters that may carry secrets replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const k of new Set(params.keys())) if (SECRET_PARAM.test(k)) params.set(k, '[redacted]');
  return `${url.slice(0, q)}?${params.toString()}`;
}

/** The request as the logger sees it: method, redacted URL, remote address. */
function redactedRequest(req: { method?: string; url?: string; ip?: string; id?: unknown }) {
  return { id: req.id, method: req.method, url: redactUrl(req.url ?? ''), remoteAddress: req.ip };
}

/** Builds the node's HTTP app (call .listen or .inject on the result). */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { log, storage, tokens, metrics } = opts;
  const app = Fastify({
    // Request logs never carry a secret a client put in a query string (token=, key=, signature= ...).
    logger:
      opts.logger === true || typeof opts.logger === 'object'
        ? { ...(typeof opts.logger === 'object' ? opts.logger : {}), serializers: { req: redactedRequest } }
        : false,
    bodyLimit: opts.bodyLimit ?? 128 * 1024,
    // A client gets this long to send a whole request (not to read the answer: event streams stay open), so a
    // slow connection cannot hold a socket for Node's 300 s default.
    requestTimeout: REQUEST_TIMEOUT_MS,
  });
  // ... and this long to send its headers.
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  // The API takes JSON only: drop Fastify's default text/plain parser so other bodies get 415.
  app.removeContentTypeParser('text/plain');
  // I-JSON (RFC 7493): a body with a duplicate key or a lone surrogate is refused (400), never silently resolved
  // (JSON.parse keeps the last of two keys; a verifier's parser may keep the first).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '')
      return done(new HttpError(400, 'INVALID_REQUEST', 'the JSON body cannot be empty'), undefined);
    try {
      done(
        null,
        parseStrictJson(text, (m) => new HttpError(400, 'INVALID_REQUEST', `body: ${m}`)),
      );
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  const started = Date.now();
  // Every route as registered, so guards (the tenancy test) enumerate them instead of a list someone must update.
  const routeTable: RouteEntry[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (r) => {
    for (const method of ([] as string[]).concat(r.method))
      if (method !== 'HEAD') routeTable.push({ method, url: r.url });
  });

  // A full disk fails every write until space is freed: it is logged once when it starts and once when writes work
  // again, not once per refused request.
  let diskFull = false;
  app.setErrorHandler((err, req, reply) => {
    const p = toProblem(err);
    if (p.status === 507) {
      if (!diskFull)
        req.log.error({ err }, "the node's disk is full: writes are refused (507) until space is freed");
      diskFull = true;
    } else if (p.status >= 500) req.log.error({ err }, 'request failed');
    if (p.status === 401) reply.header('www-authenticate', 'Bearer realm="vaultmesh"');
    if (err instanceof HttpError && err.retryAfterS !== undefined)
      reply.header('retry-after', String(err.retryAfterS));
    void reply.code(p.status).type('application/problem+json').send(p);
  });
  app.setNotFoundHandler((req, reply) => {
    const p = toProblem(new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
    void reply.code(404).type('application/problem+json').send(p);
  });
  // A response to an authenticated request is that caller's: no shared cache (a reverse proxy, a CDN) may keep it
  // for anyone else (RFC 9111 §5.2.2.7 private; Vary on the credentials).
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.headers.authorization === undefined) return payload;
    const cc = reply.getHeader('cache-control');
    if (cc === undefined) reply.header('cache-control', 'private, no-store');
    else if (/\bpublic\b/.test(String(cc)))
      reply.header('cache-control', String(cc).replace(/\bpublic\b/, 'private'));
    const vary = reply.getHeader('vary');
    if (!vary) reply.header('vary', 'Authorization');
    else if (!/\bauthorization\b/i.test(String(vary))) reply.header('vary', `${String(vary)}, Authorization`);
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    if (diskFull && req.method !== 'GET' && reply.statusCode < 300) {
      diskFull = false;
      req.log.info('writes succeed again: the disk has space');
    }
    metrics.observeRequest(
      req.method,
      req.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });

  // The REST API is audience "api": a token issued only for MCP or A2A is refused here.
  // Per-token limits (rate-limit.ts): each request is authenticated once, then admitted or refused with 429.
  const limiter = createRateLimiter(opts.rateLimits);
  const authed = new WeakMap<FastifyRequest, Principal>();
  /** The same per-token limits on every edge (REST, /mcp, /a2a): a refusal is 429 with Retry-After. */
  const admit = (p: Principal, req: FastifyRequest): void => {
    const refusal = limiter.admit(p.tokenId, WRITE_METHODS.has(req.method), Date.now());
    if (!refusal) return;
    metrics.observeRateLimited(refusal.reason);
    throw new HttpError(429, 'RATE_LIMITED', refusal.message, refusal.retryAfterS);
  };
  const principal = async (req: FastifyRequest): Promise<Principal> => {
    const known = authed.get(req);
    if (known) return known;
    const p = await authenticate(tokens, bearerToken(req.headers.authorization), Date.now(), 'api');
    admit(p, req);
    authed.set(req, p);
    return p;
  };
  // A denied request counts against its token's deny budget.
  app.addHook('onResponse', async (req, reply) => {
    const p = authed.get(req);
    if (p && reply.statusCode === 403) limiter.denied(p.tokenId, Date.now());
  });

  // --- system ---------------------------------------------------------------------------------------
  app.get('/api/system/health', async (_req, reply) => {
    const s = log.stats();
    // Healthy means the ledger storage answers, not just that the process is up.
    const storageOk = await storage.size().then(
      () => true,
      () => false,
    );
    if (!storageOk) reply.code(503);
    return {
      status: storageOk ? 'ok' : 'degraded',
      checks: { storage: storageOk ? 'ok' : 'failing' },
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      ledger: { size: s.size, checkpointSize: s.checkpointSize, pendingAppends: s.pending },
    };
  });
  app.get('/api/backend/status', async () => {
    const s = log.stats();
    return {
      mode: opts.status.mode,
      storage: opts.status.storage,
      version: opts.status.version,
      origin: log.origin,
      verifierKey: opts.verifierKeyText,
      keySealed: opts.status.keySealed,
      ledger: { size: s.size, checkpointSize: s.checkpointSize, appended: s.appended, batches: s.batches },
    };
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });

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
    const tenant = typeof body.tenant === 'string' ? body.tenant : p.tenant === '*' ? 'default' : p.tenant;
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

  if (opts.control) registerControlRoutes(app, opts.control, principal);
  if (opts.mcp) {
    const mcp = registerMcpRoutes(app, {
      tokens,
      admit,
      denied: (p) => limiter.denied(p.tokenId, Date.now()),
      createServer: opts.mcp.createServer,
      ...opts.mcp.sessions,
    });
    // preClose: open SSE streams are in-flight requests, which onClose would wait for forever.
    app.addHook('preClose', async () => mcp.close());
  }
  if (opts.federation) registerFederationRoutes(app, opts.federation, principal);
  if (opts.aurora) registerAuroraRoutes(app, opts.aurora, principal);
  if (opts.a2a)
    registerA2aRoutes(app, {
      ...opts.a2a,
      // A2A is audience "a2a": a token issued only for the REST API or MCP is refused here.
      principal: async (req) => {
        const p = await authenticate(tokens, bearerToken(req.headers.authorization), Date.now(), 'a2a');
        admit(p, req);
        return p;
      },
      denied: (p) => limiter.denied(p.tokenId, Date.now()),
    });

  // --- dashboard --------------------------------------------------------------------------------------
  if (opts.dashboardDir) {
    const root = normalize(opts.dashboardDir);
    const serve = async (rel: string, reply: FastifyReply) => {
      const file = normalize(join(root, rel));
      if (!file.startsWith(root)) throw new HttpError(404, 'NOT_FOUND', 'no such file');
      const type = MIME[extname(file)];
      if (!type) throw new HttpError(404, 'NOT_FOUND', 'no such file');
      const data = await readFile(file).catch(() => {
        throw new HttpError(404, 'NOT_FOUND', 'no such file');
      });
      return reply.type(type).header('cache-control', 'no-cache').send(data);
    };
    app.get('/', async (_req, reply) => serve('index.html', reply));
    app.get('/ui/*', async (req, reply) => serve((req.params as Query)['*'] ?? '', reply));
  }
  return app;
}
