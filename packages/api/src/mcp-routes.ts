// MCP over Streamable HTTP at /mcp (MCP 2025-06-18 transport), on the node's Fastify app. Each session is bound to
// the API token that opened it (audience "mcp"): a request with another token, or none, is refused with 401/403 as
// the MCP authorization spec says, with a WWW-Authenticate header naming the protected-resource metadata (RFC 9728).
// The caller's purpose and residency come from the VaultMesh-Purpose / VaultMesh-Residency headers of the
// initialize request and hold for the session. Sessions are bounded in number (in all, per token, per tenant) and
// expire when idle.
// Attacker-controlled input: headers and bodies; the SDK transport validates JSON-RPC, the gateway validates tools.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type * as TransportModule from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { AuthError, authenticate, bearerToken, type Principal, type TokenStore } from '@vaultmesh/auth';
import { PURPOSE_PATTERN, RESIDENCY_PATTERN, type Caller } from '@vaultmesh/interop/core';
import { toControlPrincipal } from './control-routes.ts';
import { HttpError } from './errors.ts';
import { optionalHeader } from './request.ts';

export interface McpRoutesOptions {
  readonly tokens: TokenStore;
  /** A new MCP server bound to one caller (@vaultmesh/node: createVaultMeshMcpServer over the gateway). */
  createServer(caller: Caller): McpServer | Promise<McpServer>;
  /** Most open sessions; an initialize beyond it is refused with 503. Default 1000. */
  readonly maxSessions?: number;
  /**
   * Most open sessions of one token (default 16): its initialize beyond it closes that token's least recently used
   * session, so one token can never crowd out the others (and a client that forgets DELETE is not stuck).
   */
  readonly maxSessionsPerToken?: number;
  /** Most open sessions of one tenant (default 64): an initialize beyond it is refused with 429 and Retry-After. */
  readonly maxSessionsPerTenant?: number;
  /** A session unused this long is closed. Default 10 min. */
  readonly idleMs?: number;
  /**
   * Host names this node answers to at /mcp (DNS-rebinding protection): the Host header, and an Origin when a
   * browser sends one, must name one of them (any port). Default: the loopback names.
   */
  readonly allowedHosts?: readonly string[];
  /** Per-token limits (the app's rate limiter): throws a 429 HttpError when the token must wait. */
  readonly admit?: (p: Principal, req: FastifyRequest) => void;
  /** Counts a denied tool call against the token's deny budget (the app's rate limiter). */
  readonly denied?: (p: Principal) => void;
}

/** The loopback names every node answers to. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;

/** The host name of a Host header or URL authority, lowercased, without port or IPv6 brackets. */
export function hostName(authority: string): string | undefined {
  try {
    return new URL(`http://${authority}`).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  } catch {
    return undefined;
  }
}

/** Defaults of the /mcp session limits. */
export const MCP_SESSION_DEFAULTS = {
  maxSessions: 1000,
  maxSessionsPerToken: 16,
  maxSessionsPerTenant: 64,
  idleMs: 10 * 60_000,
} as const;

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  readonly server: McpServer;
  readonly tokenId: string;
  readonly tenant: string;
  lastUsed: number;
}

/** A JSON-RPC initialize request (what the SDK's isInitializeRequest checks, without loading the SDK for it). */
function isInitialize(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  return (
    b.jsonrpc === '2.0' &&
    b.method === 'initialize' &&
    (typeof b.id === 'string' || typeof b.id === 'number') &&
    typeof b.params === 'object' &&
    b.params !== null &&
    typeof (b.params as Record<string, unknown>).protocolVersion === 'string'
  );
}

/** The SDK's transport module, loaded with the first MCP session (the SDK costs memory a node without MCP clients
 * should not pay). */
let transportModule: Promise<typeof TransportModule> | undefined;
const loadTransport = () =>
  (transportModule ??= import('@modelcontextprotocol/sdk/server/streamableHttp.js'));

/** Registers POST/GET/DELETE /mcp and GET /.well-known/oauth-protected-resource; returns a closer for shutdown. */
export function registerMcpRoutes(app: FastifyInstance, opts: McpRoutesOptions): { close(): Promise<void> } {
  const sessions = new Map<string, Session>();
  const maxSessions = opts.maxSessions ?? MCP_SESSION_DEFAULTS.maxSessions;
  const perToken = opts.maxSessionsPerToken ?? MCP_SESSION_DEFAULTS.maxSessionsPerToken;
  const perTenant = opts.maxSessionsPerTenant ?? MCP_SESSION_DEFAULTS.maxSessionsPerTenant;
  const idleMs = opts.idleMs ?? MCP_SESSION_DEFAULTS.idleMs;
  const sessionsWhere = (pred: (s: Session) => boolean) => [...sessions].filter(([, s]) => pred(s));
  /** Room for one more session of this token and tenant: the token's oldest goes, a full tenant is refused. */
  const makeRoom = async (p: Principal, reply: FastifyReply): Promise<boolean> => {
    const own = sessionsWhere((s) => s.tokenId === p.tokenId).sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
    for (const [id] of own.slice(0, Math.max(0, own.length - perToken + 1))) await closeSession(id);
    if (sessionsWhere((s) => s.tenant === p.tenant).length >= perTenant) {
      void reply
        .code(429)
        .header('retry-after', String(Math.ceil(Math.min(idleMs, 60_000) / 1000)))
        .type('application/problem+json')
        .send({
          type: 'https://vaultmesh.dev/problems/too-many-sessions',
          title: 'Too Many Requests',
          status: 429,
          code: 'TOO_MANY_SESSIONS',
          detail: `tenant ${p.tenant} holds ${perTenant} open MCP sessions, the most it may; close one (DELETE /mcp) or retry later`,
        });
      return false;
    }
    if (sessions.size >= maxSessions)
      throw new HttpError(503, 'UNAVAILABLE', 'too many open MCP sessions; close one or retry later');
    return true;
  };
  const base = (req: FastifyRequest) => `${req.protocol}://${req.headers.host ?? 'localhost'}`;
  const metadataUrl = (req: FastifyRequest) => `${base(req)}/.well-known/oauth-protected-resource`;

  const closeSession = async (id: string) => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    await s.transport.close().catch(() => undefined);
    await s.server.close().catch(() => undefined);
  };
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [id, s] of sessions) if (now - s.lastUsed > idleMs) void closeSession(id);
    },
    Math.min(idleMs, 60_000),
  );
  sweep.unref();

  /** 401 per RFC 6750 §3 with the MCP-required resource_metadata parameter (RFC 9728 §5.1). */
  const unauthorized = (req: FastifyRequest, reply: FastifyReply, message: string) =>
    reply
      .code(401)
      .header(
        'www-authenticate',
        `Bearer resource_metadata="${metadataUrl(req)}", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`,
      )
      .type('application/problem+json')
      .send({
        type: 'about:blank',
        title: 'Unauthorized',
        status: 401,
        code: 'UNAUTHENTICATED',
        detail: message,
      });

  const allowed = new Set(
    [...LOOPBACK_HOSTS, ...(opts.allowedHosts ?? [])].map((h) => hostName(h) ?? h.toLowerCase()),
  );
  const authed = async (req: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined> => {
    // DNS rebinding: a page whose name now resolves to this node sends its own name as Host. Only the names this
    // node answers to are served; a browser's Origin must name one of them too (a page elsewhere is refused).
    const host = hostName(req.headers.host ?? '');
    if (!host || !allowed.has(host))
      throw new HttpError(
        403,
        'FORBIDDEN',
        `MCP requests for host "${String(req.headers.host ?? '').slice(0, 100)}" are refused: this node answers to ${[...allowed].join(', ')} (interop.allowedHosts)`,
      );
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let originHost: string | undefined;
      try {
        originHost = hostName(new URL(origin).host);
      } catch {
        originHost = undefined;
      }
      if (!originHost || !allowed.has(originHost))
        throw new HttpError(403, 'FORBIDDEN', 'cross-origin MCP requests are refused');
    }
    try {
      const p = await authenticate(opts.tokens, bearerToken(req.headers.authorization), Date.now(), 'mcp');
      opts.admit?.(p, req);
      return p;
    } catch (err) {
      if (err instanceof AuthError && err.code === 'UNAUTHENTICATED') {
        await unauthorized(req, reply, err.message);
        return undefined;
      }
      throw err;
    }
  };

  const sessionOf = (req: FastifyRequest, p: Principal): Session => {
    const id = req.headers['mcp-session-id'];
    if (typeof id !== 'string') throw new HttpError(400, 'INVALID_REQUEST', 'missing mcp-session-id header');
    const s = sessions.get(id);
    // The spec's answer to an unknown or expired session: 404, and the client starts a new one.
    if (!s)
      throw new HttpError(404, 'NOT_FOUND', 'no such MCP session (expired or closed); initialize again');
    if (s.tokenId !== p.tokenId)
      throw new HttpError(403, 'FORBIDDEN', 'this MCP session belongs to another token');
    s.lastUsed = Date.now();
    return s;
  };

  app.get('/.well-known/oauth-protected-resource', async (req) => ({
    resource: `${base(req)}/mcp`,
    resource_name: 'VaultMesh MCP',
    bearer_methods_supported: ['header'],
    // Tokens are the node's API tokens (`vm token create --audience mcp`), not issued by an OAuth server.
    authorization_servers: [],
    scopes_supported: [],
  }));

  app.post('/mcp', async (req, reply) => {
    const p = await authed(req, reply);
    if (!p) return reply;
    let session: Session;
    if (req.headers['mcp-session-id'] !== undefined) session = sessionOf(req, p);
    else {
      if (!isInitialize(req.body))
        throw new HttpError(400, 'INVALID_REQUEST', 'without mcp-session-id the request must be initialize');
      if (!(await makeRoom(p, reply))) return reply;
      const caller: Caller = {
        principal: toControlPrincipal(p),
        purpose: optionalHeader(req, 'vaultmesh-purpose', PURPOSE_PATTERN),
        residency: optionalHeader(req, 'vaultmesh-residency', RESIDENCY_PATTERN),
        via: 'mcp',
        onDenied: () => opts.denied?.(p),
      };
      const server = await opts.createServer(caller);
      const { StreamableHTTPServerTransport } = await loadTransport();
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, session);
        },
        onsessionclosed: (id) => {
          void closeSession(id);
        },
      });
      session = { transport, server, tokenId: p.tokenId, tenant: p.tenant, lastUsed: Date.now() };
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await server.connect(transport);
    }
    reply.hijack();
    await session.transport.handleRequest(req.raw, reply.raw, req.body);
    return reply;
  });

  const stream = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = await authed(req, reply);
    if (!p) return reply;
    const session = sessionOf(req, p);
    reply.hijack();
    await session.transport.handleRequest(req.raw, reply.raw);
    return reply;
  };
  app.get('/mcp', stream);
  app.delete('/mcp', stream);

  return {
    async close() {
      clearInterval(sweep);
      await Promise.all([...sessions.keys()].map(closeSession));
    },
  };
}
