// Fastify app factory: REST edge over the ledger. No business logic lives here.
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { authenticate, bearerToken, type Principal, type TokenStore } from '@vaultmesh/auth';
import { parseStrictJson, type NoteVerifierKey } from '@vaultmesh/ledger';
import { type AnchorStatus, type Log, type LogStorage } from '@vaultmesh/log';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Caller } from '@vaultmesh/interop/core';
import { registerControlRoutes, type ControlApi } from './control-routes.ts';
import { registerMcpRoutes, type McpRoutesOptions } from './mcp-routes.ts';
import { createRateLimiter, type RateLimits } from './rate-limit.ts';
import { registerFederationRoutes, type FederationApi } from './federation-routes.ts';
import { registerAuroraRoutes, type AuroraApi } from './aurora-routes.ts';
import { registerA2aRoutes, type A2aRoutesOptions } from './a2a-routes.ts';
import { HttpError, toProblem } from './errors.ts';
import { type Query } from './request.ts';
import { registerLedgerRoutes } from './ledger-routes.ts';
import { registerPsiRoutes, type PsiApi } from './psi-routes.ts';
import { registerSpawnRoutes, type SpawnApi } from './spawn-routes.ts';
import { registerTokenRoutes } from './token-routes.ts';
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
  readonly status: {
    mode: 'dry-run' | 'live';
    storage: string;
    keySealed: boolean;
    version: string;
    /** Several nodes of one log: this node's id and whether it leads now. */
    cluster?: () => { node: string; leader: boolean; token: number | null; error: string | null };
  };
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
  /** The Ψ-Field (GET /api/psi/series, /api/psi/anomalies); absent: not served. */
  readonly psi?: PsiApi;
  /** Spawn (GET /api/spawn/templates, POST /api/spawn); absent: not served. */
  readonly spawn?: SpawnApi;
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
  /** One denied request of a token, against its deny budget (a REST 403, or a tool call denied over /mcp or /a2a). */
  const countDenied = (p: Principal): void => limiter.denied(p.tokenId, Date.now());
  // A denied request counts against its token's deny budget.
  app.addHook('onResponse', async (req, reply) => {
    const p = authed.get(req);
    if (p && reply.statusCode === 403) countDenied(p);
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
      ...(opts.status.cluster ? { cluster: opts.status.cluster() } : {}),
      ledger: { size: s.size, checkpointSize: s.checkpointSize, appended: s.appended, batches: s.batches },
    };
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });

  registerLedgerRoutes(app, opts, principal);
  registerTokenRoutes(app, tokens, principal);

  if (opts.control) registerControlRoutes(app, opts.control, principal);
  if (opts.mcp) {
    const mcp = registerMcpRoutes(app, {
      tokens,
      admit,
      denied: countDenied,
      createServer: opts.mcp.createServer,
      ...opts.mcp.sessions,
    });
    // preClose: open SSE streams are in-flight requests, which onClose would wait for forever.
    app.addHook('preClose', async () => mcp.close());
  }
  if (opts.federation) registerFederationRoutes(app, opts.federation, principal);
  if (opts.aurora) registerAuroraRoutes(app, opts.aurora, principal);
  if (opts.psi) registerPsiRoutes(app, opts.psi, principal);
  if (opts.spawn) registerSpawnRoutes(app, opts.spawn, principal);
  if (opts.a2a)
    registerA2aRoutes(app, {
      ...opts.a2a,
      // A2A is audience "a2a": a token issued only for the REST API or MCP is refused here.
      principal: async (req) => {
        const p = await authenticate(tokens, bearerToken(req.headers.authorization), Date.now(), 'a2a');
        admit(p, req);
        return p;
      },
      denied: countDenied,
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
