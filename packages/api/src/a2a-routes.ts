// A2A on the node's Fastify app: the public agent card, the JSON-RPC endpoint (A2A v1.0 over the SDK's
// framework-agnostic handler) and POST /a2a/perform, which asks a configured remote agent a persisted query through
// the governed `a2a_perform` tool. Every call but the card needs a bearer token; the principal comes from it, never
// from a message. JSON-RPC failures are JSON-RPC error responses; /a2a/perform failures are problem+json through
// one exhaustive InteropError table.
// Attacker-controlled input: headers and bodies. Bodies are shape-checked here; the gateway checks tool arguments.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuthError, type Principal as TokenPrincipal } from '@vaultmesh/auth';
import {
  PURPOSE_PATTERN,
  RESIDENCY_PATTERN,
  digestOf,
  InteropError,
  type Caller,
  type InteropErrorCode,
  type InteropServices,
  type ToolGateway,
} from '@vaultmesh/interop/core';
import type { A2aJsonRpc } from '@vaultmesh/interop';
import { toControlPrincipal } from './control-routes.ts';
import { HttpError, toProblem, type Problem } from './errors.ts';
import { isObject, type Body } from './request.ts';

export interface A2aRoutesOptions {
  /** The node's agent card as JSON (agentCardToJson of buildAgentCard), served at /.well-known/agent-card.json. */
  card(): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** The JSON-RPC endpoint (createA2aJsonRpc over the gateway), served at POST /a2a/jsonrpc. */
  readonly rpc: A2aJsonRpc;
  /** The governed tool gateway with `a2a_perform` registered. */
  readonly gateway: ToolGateway<InteropServices>;
  /** Authenticates a request's bearer token (audience "a2a"); rejects with AuthError UNAUTHENTICATED. */
  principal(req: FastifyRequest): Promise<TokenPrincipal>;
  /** Counts a denied call against the token's deny budget (the app's rate limiter). */
  denied?(p: TokenPrincipal): void;
}

/** InteropError → HTTP status, exhaustively. */
export const INTEROP_STATUS: Record<InteropErrorCode, number> = {
  INVALID_INPUT: 400,
  DENIED: 403,
  NOT_FOUND: 404,
  TIMEOUT: 504,
  UPSTREAM_FAILED: 502,
  UNAVAILABLE: 503,
  FAILED: 500,
};

/** The problem document of an InteropError (DENIED carries the deciding policies as `reasons`). */
export function interopProblem(err: InteropError): Problem & { reasons?: readonly string[] } {
  const base = toProblem(new HttpError(INTEROP_STATUS[err.code], err.code, err.message));
  return err.reasons.length ? { ...base, reasons: err.reasons } : base;
}

const PERFORM_FIELDS = ['tenantId', 'purpose', 'residency', 'pqid', 'agent', 'task'] as const;

function performBody(body: unknown) {
  if (!isObject(body)) throw new HttpError(400, 'INVALID_REQUEST', 'request body must be a JSON object');
  for (const k of Object.keys(body))
    if (!(PERFORM_FIELDS as readonly string[]).includes(k))
      throw new HttpError(400, 'INVALID_REQUEST', `unknown field "${k}"`);
  const need = (k: string, re?: RegExp): string => {
    const v = body[k];
    if (typeof v !== 'string' || v.length === 0 || v.length > 500 || (re && !re.test(v)))
      throw new HttpError(
        400,
        'INVALID_REQUEST',
        `${k} must be ${re ? 'a well-formed' : 'a non-empty'} string`,
      );
    return v;
  };
  if (body.task !== undefined && !isObject(body.task))
    throw new HttpError(400, 'INVALID_REQUEST', 'task must be a JSON object (the query parameters)');
  return {
    tenantId: need('tenantId'),
    purpose: need('purpose', PURPOSE_PATTERN),
    residency: body.residency === undefined ? undefined : need('residency', RESIDENCY_PATTERN),
    pqid: need('pqid'),
    agent: need('agent'),
    task: body.task as Body | undefined,
  };
}

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
};

const queryParam = (req: FastifyRequest, name: string): string | undefined => {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : undefined;
};

/** Registers GET /.well-known/agent-card.json, POST /a2a/jsonrpc and POST /a2a/perform. */
export function registerA2aRoutes(app: FastifyInstance, opts: A2aRoutesOptions): void {
  /** 401 per RFC 6750 §3: the token is missing or invalid. */
  const unauthorized = (reply: FastifyReply, err: AuthError) =>
    reply
      .code(401)
      .header('www-authenticate', `Bearer realm="vaultmesh", error="invalid_token"`)
      .type('application/problem+json')
      .send(toProblem(err));
  const authenticate = async (
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<TokenPrincipal | undefined> => {
    try {
      return await opts.principal(req);
    } catch (err) {
      if (err instanceof AuthError && err.code === 'UNAUTHENTICATED') {
        await unauthorized(reply, err);
        return undefined;
      }
      throw err;
    }
  };

  app.get('/.well-known/agent-card.json', async (_req, reply) =>
    reply
      .header('cache-control', 'public, max-age=300')
      .type('application/json')
      .send(await opts.card()),
  );

  // Its own scope: the body is read as text so that unparsable JSON becomes a JSON-RPC parse error (-32700), not a
  // problem document, and the token is checked before the body is read.
  void app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );
    const principals = new WeakMap<FastifyRequest, TokenPrincipal>();
    scope.addHook('onRequest', async (req, reply) => {
      const p = await authenticate(req, reply);
      if (p) principals.set(req, p);
      return p ? undefined : reply;
    });
    scope.post('/a2a/jsonrpc', async (req, reply) => {
      const p = principals.get(req)!;
      const caller: Caller = {
        principal: toControlPrincipal(p),
        via: 'a2a',
        onDenied: () => opts.denied?.(p),
      };
      const out = await opts.rpc.handle({
        body: req.body,
        caller,
        owner: p.tokenId,
        // A2A 3.6: the version may come as a header or as the A2A-Version query parameter.
        version: header(req, 'a2a-version') ?? queryParam(req, 'A2A-Version'),
        extensions: header(req, 'a2a-extensions'),
      });
      if (out.kind === 'json') return reply.code(out.status).type('application/json').send(out.body);
      reply.hijack();
      reply.raw.writeHead(200, out.headers);
      try {
        for await (const event of out.events) {
          if (reply.raw.destroyed) break;
          reply.raw.write(event);
        }
      } finally {
        reply.raw.end();
      }
      return reply;
    });
  });

  app.post('/a2a/perform', async (req, reply) => {
    const p = await authenticate(req, reply);
    if (!p) return reply;
    const b = performBody(req.body);
    const caller: Caller = {
      principal: toControlPrincipal(p),
      purpose: b.purpose,
      ...(b.residency !== undefined ? { residency: b.residency } : {}),
      via: 'a2a',
      onDenied: () => opts.denied?.(p),
    };
    const args: Body = { agent: b.agent, pqid: b.pqid, tenant: b.tenantId };
    if (b.task !== undefined) args.task = b.task;
    let r;
    try {
      r = await opts.gateway.call('a2a_perform', args, caller);
    } catch (err) {
      if (!(err instanceof InteropError)) throw err;
      const problem = interopProblem(err);
      if (problem.status >= 500 && problem.status !== 502 && problem.status !== 504)
        req.log.error({ err }, 'a2a perform failed');
      return reply.code(problem.status).type('application/problem+json').send(problem);
    }
    const out = r.output as { agent: string; pqid: string; taskId: string; state: string; result: unknown };
    return reply.send({
      result: out.result,
      state: out.state,
      taskId: out.taskId,
      agent: out.agent,
      pqid: out.pqid,
      provenance: {
        /** SHA-256 of the canonical (RFC 8785) result. */
        hash: digestOf(out.result),
        /** SHA-256 of the whole tool output: the `resultSha256` of the `tool` receipt. */
        outputSha256: digestOf(r.output),
        time: new Date().toISOString(),
        receiptIndex: r.receipt.index,
        leafHash: r.receipt.leafHash,
      },
    });
  });
}
