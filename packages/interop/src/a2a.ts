// The A2A face of the gateway (A2A protocol v1.0, official @a2a-js/sdk): VaultMesh's agent card, an AgentExecutor
// that turns an incoming message into one governed gateway call, a framework-agnostic JSON-RPC endpoint for the
// HTTP edge, and the client side: remote A2A agents asked persisted queries through the `a2a_perform` tool.
// Identity never comes from a message: the HTTP edge authenticates the bearer token and hands the caller in; the
// executor refuses a request without one. Outcomes map to task states (DESIGN.md: A2A edge): success → completed
// with an artifact carrying the `tool` receipt's provenance; DENIED / INVALID_INPUT → rejected; a run held for an
// approval → input-required; anything else (tripwire halts included) → failed.
// Attacker-controlled input: JSON-RPC bodies and message parts (validated here and again by the gateway), and every
// byte a remote agent answers (agent cards, responses: bounded, shape-checked, same-origin only).
import { parseStrictJson } from '@vaultmesh/ledger';
import { BodyTooLargeError, readBounded, scrubBytes } from '@vaultmesh/net';
import { randomUUID } from 'node:crypto';
import {
  A2A_PROTOCOL_VERSION,
  AgentCard,
  Extensions,
  Role,
  SSE_HEADERS,
  TaskState,
  formatSSEErrorEvent,
  formatSSEEvent,
  type AgentSkill,
  type Artifact,
  type ListTasksRequest,
  type ListTasksResponse,
  type Message,
  type Part,
  type Task,
} from '@a2a-js/sdk';
import {
  AgentEvent,
  DefaultRequestHandler,
  JsonRpcTransportHandler,
  ServerCallContext,
  resolveUserScope,
  validateVersion,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
  type TaskStore,
  type User,
} from '@a2a-js/sdk/server';
import { ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory } from '@a2a-js/sdk/client';
import { z } from 'zod';
import {
  a2aAgentList,
  checkA2aAgents,
  PURPOSE_PATTERN,
  RESIDENCY_PATTERN,
  type A2aAgentEndpoint,
} from './config.ts';
import { A2A_TASK_STATES, InteropError } from './errors.ts';
import { describeIssues, digestOf, type Caller, type ToolGateway } from './gateway.ts';
import { createQueryRegistry } from './queries.ts';
import type { A2aAgentsPort, InteropServices } from './services.ts';

export type { AgentCard } from '@a2a-js/sdk';

/** Media types VaultMesh reads and writes over A2A. */
export const A2A_MODES = ['application/json', 'text/plain'] as const;

// ---------------------------------------------------------------------------------------------------------------
// Agent card

export interface AgentCardOptions {
  /** The node's public base URL, e.g. "https://vm.example.com" (no trailing path). */
  readonly baseUrl: string;
  /** The VaultMesh version. */
  readonly version: string;
  /** The persisted queries agents may run (QueryRegistry.list(); default: the built-in ones). */
  readonly queries?: readonly {
    readonly id: string;
    readonly description: string;
    readonly params?: Readonly<Record<string, unknown>>;
  }[];
  /** Names of the gateway's tools, listed in the "run a governed tool" skill. */
  readonly tools?: readonly string[];
}

/** VaultMesh's A2A agent card: one JSON-RPC interface at /a2a/jsonrpc, bearer auth, a skill per query family. */
export function buildAgentCard(opts: AgentCardOptions): AgentCard {
  const base = opts.baseUrl.replace(/\/+$/, '');
  type Query = NonNullable<AgentCardOptions['queries']>[number];
  const families = new Map<string, Query[]>();
  for (const q of opts.queries ?? createQueryRegistry().list()) {
    const family = q.id.split(/[.-]/)[0]!;
    families.set(family, [...(families.get(family) ?? []), q]);
  }
  const required = (q: Query) =>
    Object.entries(q.params ?? {})
      .filter(([, v]) => !(v as { optional?: unknown } | undefined)?.optional)
      .map(([k]) => k);
  const signature = (q: Query) => {
    const ps = Object.keys(q.params ?? {});
    return ps.length ? `${q.id}(${ps.join(', ')})` : q.id;
  };
  const example = (q: Query) =>
    JSON.stringify({ pqid: q.id, params: Object.fromEntries(required(q).map((k) => [k, `<${k}>`])) });
  const bearer = { schemes: { bearer: { list: [] } } };
  const skill = (s: Omit<AgentSkill, 'inputModes' | 'outputModes' | 'securityRequirements'>): AgentSkill => ({
    ...s,
    inputModes: ['application/json'],
    outputModes: ['application/json'],
    securityRequirements: [bearer],
  });
  const skills: AgentSkill[] = [...families].map(([family, qs]) =>
    skill({
      id: `query.${family}`,
      name: `Persisted queries: ${family}`,
      description:
        'Send a message with a data part {"pqid": …, "params": {…}, "tenant"?: …}. Queries: ' +
        qs.map((q) => `${signature(q)}: ${q.description}`).join('; '),
      tags: ['persisted-query', family, 'read-only'],
      examples: qs.map(example),
    }),
  );
  skills.push(
    skill({
      id: 'tool.call',
      name: 'Run a governed tool',
      description:
        'Send a message with a data part {"tool": <name>, "arguments": {…}} to call one VaultMesh tool. Cedar ' +
        'policy decides with your token’s identity and tenant; every call leaves a `tool` receipt on the ledger.' +
        (opts.tools?.length ? ` Tools: ${opts.tools.join(', ')}.` : ''),
      tags: ['tool', 'governed', 'ledger'],
      examples: [
        JSON.stringify({ tool: 'search_receipts', arguments: { kind: 'policy', limit: 5 } }),
        JSON.stringify({ tool: 'dry_run_plan', arguments: { planId: 'p-1', planHash: '<64 hex>' } }),
      ],
    }),
  );
  return {
    name: 'VaultMesh',
    description:
      'A verifiable control plane: persisted queries over an append-only Merkle ledger, and governed tools ' +
      '(plans, dry-runs, live runs with approvals and tripwires, audits). Purpose and residency go in the ' +
      'message (or data part) metadata: {"purpose": …, "residency": …}.',
    supportedInterfaces: [
      {
        url: `${base}/a2a/jsonrpc`,
        protocolBinding: 'JSONRPC',
        tenant: '',
        protocolVersion: A2A_PROTOCOL_VERSION,
      },
    ],
    provider: { organization: 'VaultMesh', url: base },
    version: opts.version,
    capabilities: { streaming: false, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {
      bearer: {
        scheme: {
          $case: 'httpAuthSecurityScheme',
          value: {
            description: 'A VaultMesh API token (`vm token create --audience a2a`)',
            scheme: 'Bearer',
            bearerFormat: 'vm_<id>_<secret>',
          },
        },
      },
    },
    securityRequirements: [bearer],
    defaultInputModes: [...A2A_MODES],
    defaultOutputModes: [...A2A_MODES],
    skills,
    signatures: [],
  };
}

/** The card's wire form (A2A v1.0 ProtoJSON), as served at /.well-known/agent-card.json. */
export function agentCardToJson(card: AgentCard): Record<string, unknown> {
  return AgentCard.toJSON(card) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------------
// Server: executor, task store, JSON-RPC endpoint

/** The authenticated caller of one A2A request, carried to the executor as the SDK's `User`. */
export class A2aCaller implements User {
  /** `owner` scopes the caller's tasks (the token id: one token never sees another's tasks). */
  constructor(
    readonly caller: Caller,
    readonly owner: string,
  ) {}
  get isAuthenticated(): boolean {
    return true;
  }
  get userName(): string {
    return this.owner;
  }
}

const Meta = z.object({
  purpose: z.string().regex(PURPOSE_PATTERN, 'must be 1-200 letters, digits, space, _ . : -').optional(),
  residency: z.string().regex(RESIDENCY_PATTERN, 'must be a residency such as eu or us').optional(),
});
const QueryCommand = z
  .object({
    pqid: z.string().min(1).max(100),
    params: z.record(z.unknown()).optional(),
    tenant: z.string().min(1).max(63).optional(),
  })
  .strict();
const ToolCommand = z
  .object({ tool: z.string().min(1).max(64), arguments: z.record(z.unknown()).optional() })
  .strict();

const ACCEPTED_SHAPES =
  'send one data part: {"pqid": "<persisted query id>", "params": {…}, "tenant"?: "<tenant>"} to run a ' +
  'persisted query, or {"tool": "<tool name>", "arguments": {…}} to call a governed tool; put purpose and ' +
  'residency in the metadata';

type Command =
  | { ok: true; tool: string; args: Record<string, unknown>; purpose?: string; residency?: string }
  | { ok: false; message: string };

/** The one gateway call a user message asks for (attacker-controlled: every field is checked). */
function parseCommand(message: Message): Command {
  const part = message.parts.find((p) => p.content?.$case === 'data');
  if (!part || part.content?.$case !== 'data')
    return { ok: false, message: `VaultMesh takes structured requests only: ${ACCEPTED_SHAPES}` };
  const value: unknown = part.content.value;
  const meta = Meta.safeParse({ ...(message.metadata ?? {}), ...(part.metadata ?? {}) });
  if (!meta.success) return { ok: false, message: `invalid metadata: ${describeIssues(meta.error)}` };
  const who = {
    ...(meta.data.purpose !== undefined ? { purpose: meta.data.purpose } : {}),
    ...(meta.data.residency !== undefined ? { residency: meta.data.residency } : {}),
  };
  const isObj = typeof value === 'object' && value !== null && !Array.isArray(value);
  if (isObj && 'pqid' in value) {
    const q = QueryCommand.safeParse(value);
    if (!q.success) return { ok: false, message: `invalid query request: ${describeIssues(q.error)}` };
    const args: Record<string, unknown> = { pqid: q.data.pqid };
    if (q.data.params !== undefined) args.params = q.data.params;
    if (q.data.tenant !== undefined) args.tenant = q.data.tenant;
    return { ok: true, tool: 'run_query', args, ...who };
  }
  if (isObj && 'tool' in value) {
    const t = ToolCommand.safeParse(value);
    if (!t.success) return { ok: false, message: `invalid tool request: ${describeIssues(t.error)}` };
    return { ok: true, tool: t.data.tool, args: t.data.arguments ?? {}, ...who };
  }
  return { ok: false, message: `unrecognised data part; ${ACCEPTED_SHAPES}` };
}

const textPart = (text: string): Part => ({
  content: { $case: 'text', value: text },
  metadata: undefined,
  filename: '',
  mediaType: 'text/plain',
});
const dataPart = (value: unknown): Part => ({
  content: { $case: 'data', value },
  metadata: undefined,
  filename: '',
  mediaType: 'application/json',
});

/** How a successful call's output ends the task (a run on hold is not a success for the asking agent). */
function finalState(output: Record<string, unknown>): { state: TaskState; text: string } {
  const hold = output.hold as { reason?: unknown; message?: unknown } | null | undefined;
  if (output.state === 'hold' && hold && typeof hold.reason === 'string') {
    const why = `run ${String(output.runId ?? '')} is on hold (${hold.reason}): ${String(hold.message ?? '')}`;
    if (hold.reason === 'approval-required')
      return {
        state: TaskState.TASK_STATE_INPUT_REQUIRED,
        text:
          `${why}. An approver must issue an approval bound to the plan hash (vm approve; request_approval asks ` +
          `for one); then resume this run with it: {"tool": "resume_run", "arguments": {"runId": ` +
          `"${String(output.runId ?? '')}", "approvals": ["<token>"]}}. Canceling this task cancels the run.`,
      };
    return { state: TaskState.TASK_STATE_FAILED, text: why };
  }
  if (output.state === 'cancelled')
    return { state: TaskState.TASK_STATE_CANCELED, text: `run ${String(output.runId ?? '')} was cancelled` };
  return { state: TaskState.TASK_STATE_COMPLETED, text: 'done' };
}

export interface A2aExecutorOptions {
  readonly gateway: ToolGateway<InteropServices>;
  readonly now?: () => Date;
}

/** The VaultMesh AgentExecutor: one message → one governed gateway call → one final task state. */
export function createVaultMeshAgentExecutor(
  opts: A2aExecutorOptions,
): AgentExecutor & { cancelHeldRun(taskId: string, owner: string): Promise<void> } {
  const now = opts.now ?? (() => new Date());
  const running = new Map<string, AbortController>();
  /** Tasks waiting for input (a run held for an approval): canceling the task cancels its run, as its caller. */
  const held = new Map<string, { runId: string; caller: Caller; owner: string }>();

  return {
    /**
     * A task waiting for an approval holds a run: canceling the task cancels the run (as its caller, so policy
     * decides as for any cancel_run), so nothing stays held behind a canceled task. Refused (policy, a run that
     * finished meanwhile): it rejects, and the task is not canceled.
     */
    async cancelHeldRun(taskId: string, owner: string) {
      const h = held.get(taskId);
      if (!h || h.owner !== owner) return;
      await opts.gateway.call(
        'cancel_run',
        { runId: h.runId, reason: `A2A task ${taskId} was canceled` },
        h.caller,
      );
      held.delete(taskId);
    },

    async execute(rc: RequestContext, bus: ExecutionEventBus) {
      const { taskId, contextId } = rc;
      const at = () => now().toISOString();
      const message = (text: string, data?: unknown): Message => ({
        messageId: randomUUID(),
        contextId,
        taskId,
        role: Role.ROLE_AGENT,
        parts: data === undefined ? [textPart(text)] : [textPart(text), dataPart(data)],
        metadata: undefined,
        extensions: [],
        referenceTaskIds: [],
      });
      const status = (state: TaskState, text?: string, data?: unknown) =>
        bus.publish(
          AgentEvent.statusUpdate({
            taskId,
            contextId,
            status: {
              state,
              message: text === undefined ? undefined : message(text, data),
              timestamp: at(),
            },
            metadata: undefined,
          }),
        );
      // The SDK requires a task (or message) as the first event of every execution.
      const first: Task = rc.task
        ? { ...rc.task, status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: at() } }
        : {
            id: taskId,
            contextId,
            status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: at() },
            artifacts: [],
            history: [],
            metadata: undefined,
          };
      bus.publish(AgentEvent.task(first));

      const user = rc.context.user;
      if (!(user instanceof A2aCaller)) {
        status(
          TaskState.TASK_STATE_REJECTED,
          'UNAUTHENTICATED: this endpoint serves authenticated callers only',
        );
        return;
      }
      const cmd = parseCommand(rc.userMessage);
      if (!cmd.ok) {
        status(TaskState.TASK_STATE_REJECTED, `INVALID_INPUT: ${cmd.message}`, { code: 'INVALID_INPUT' });
        return;
      }
      const caller: Caller = {
        principal: user.caller.principal,
        via: 'a2a',
        ...(user.caller.onDenied ? { onDenied: user.caller.onDenied } : {}),
        ...(cmd.purpose !== undefined ? { purpose: cmd.purpose } : {}),
        ...(cmd.residency !== undefined ? { residency: cmd.residency } : {}),
      };
      if (!rc.task) status(TaskState.TASK_STATE_WORKING);
      const ac = new AbortController();
      running.set(taskId, ac);
      try {
        const r = await opts.gateway.call(cmd.tool, cmd.args, caller, { signal: ac.signal });
        const provenance = {
          receiptIndex: r.receipt.index,
          leafHash: r.receipt.leafHash,
          resultSha256: digestOf(r.output),
          time: at(),
        };
        const artifact: Artifact = {
          artifactId: randomUUID(),
          name: `${cmd.tool} result`,
          description: `Output of ${cmd.tool}, recorded by the tool receipt at ledger index ${r.receipt.index}`,
          parts: [dataPart({ tool: cmd.tool, output: r.output, provenance })],
          metadata: undefined,
          extensions: [],
        };
        bus.publish(
          AgentEvent.artifactUpdate({
            taskId,
            contextId,
            artifact,
            append: false,
            lastChunk: true,
            metadata: undefined,
          }),
        );
        const end = finalState(r.output);
        if (end.state === TaskState.TASK_STATE_INPUT_REQUIRED && typeof r.output.runId === 'string') {
          held.set(taskId, { runId: r.output.runId, caller, owner: user.owner });
          if (held.size > 1000) held.delete(held.keys().next().value!);
        } else held.delete(taskId);
        status(end.state, end.text, {
          provenance,
          ...(end.state === TaskState.TASK_STATE_INPUT_REQUIRED
            ? { next: { tool: 'resume_run', arguments: { runId: r.output.runId, approvals: ['<token>'] } } }
            : {}),
        });
      } catch (err) {
        const e =
          err instanceof InteropError
            ? err
            : new InteropError('FAILED', (err as Error)?.message ?? String(err));
        const details = { code: e.code, ...(e.reasons.length ? { reasons: e.reasons } : {}) };
        const rejected = A2A_TASK_STATES[e.code] === 'rejected';
        const state = ac.signal.aborted
          ? TaskState.TASK_STATE_CANCELED
          : rejected
            ? TaskState.TASK_STATE_REJECTED
            : TaskState.TASK_STATE_FAILED;
        status(state, `${e.code}: ${e.message}`, details);
      } finally {
        running.delete(taskId);
      }
    },

    async cancelTask(taskId: string, bus: ExecutionEventBus) {
      // A running call is aborted (the gateway records it as failed); the execution then ends the task canceled.
      const ac = running.get(taskId);
      if (ac) ac.abort(new InteropError('FAILED', 'the task was canceled'));
      else {
        bus.publish(
          AgentEvent.statusUpdate({
            taskId,
            contextId: '',
            status: {
              state: TaskState.TASK_STATE_CANCELED,
              message: undefined,
              timestamp: now().toISOString(),
            },
            metadata: undefined,
          }),
        );
      }
    },
  };
}

/** A TaskStore in memory, scoped by tenant and owner like the SDK's, holding at most `max` tasks (oldest go). */
export function createBoundedTaskStore(max = 1000): TaskStore {
  const tasks = new Map<string, Task>();
  const scope = (ctx: ServerCallContext) => `${ctx.tenant ?? ''}\u0000${resolveUserScope(ctx)}\u0000`;
  return {
    async load(taskId, ctx) {
      const t = tasks.get(scope(ctx) + taskId);
      return t ? structuredClone(t) : undefined;
    },
    async save(task, ctx) {
      const k = scope(ctx) + task.id;
      tasks.delete(k);
      tasks.set(k, structuredClone(task));
      while (tasks.size > max) tasks.delete(tasks.keys().next().value!);
    },
    async list(params: ListTasksRequest, ctx): Promise<ListTasksResponse> {
      const prefix = scope(ctx);
      const after = params.statusTimestampAfter ? Date.parse(params.statusTimestampAfter) : undefined;
      const ts = (t: Task) => t.status?.timestamp ?? '';
      const all = [...tasks]
        .filter(([k]) => k.startsWith(prefix))
        .map(([, t]) => t)
        .filter(
          (t) =>
            (!params.contextId || t.contextId === params.contextId) &&
            (!params.status || t.status?.state === params.status) &&
            (after === undefined || (ts(t) !== '' && Date.parse(ts(t)) > after)),
        )
        .sort((a, b) => ts(b).localeCompare(ts(a)) || b.id.localeCompare(a.id));
      const pageSize = Math.min(Math.max(params.pageSize ?? 50, 1), 100);
      let start = 0;
      if (params.pageToken) {
        const i = all.findIndex(
          (t) => `${ts(t)}\u0000${t.id}` === Buffer.from(params.pageToken, 'base64url').toString(),
        );
        start = i === -1 ? all.length : i + 1;
      }
      const page = all.slice(start, start + pageSize);
      const last = page[page.length - 1];
      return {
        tasks: page.map((t) => ({
          ...structuredClone(t),
          artifacts: params.includeArtifacts ? structuredClone(t.artifacts) : [],
        })),
        nextPageToken:
          last && start + page.length < all.length
            ? Buffer.from(`${ts(last)}\u0000${last.id}`).toString('base64url')
            : '',
        pageSize,
        totalSize: all.length,
      };
    },
  };
}

/** One JSON-RPC request as the HTTP edge hands it over, after authenticating the bearer token. */
export interface A2aRpcRequest {
  /** The raw body (text) or the parsed JSON. */
  readonly body: unknown;
  /** The authenticated caller (via "a2a"); purpose and residency come from each message's metadata. */
  readonly caller: Caller;
  /** Scopes the caller's tasks; the token id. */
  readonly owner: string;
  /** The A2A-Version header (absent means 0.3, which this node does not serve). */
  readonly version?: string;
  /** The A2A-Extensions header. */
  readonly extensions?: string;
}

/** What the edge sends back: one JSON body, or a Server-Sent Events stream of preformatted events. */
export type A2aRpcResponse =
  | { readonly kind: 'json'; readonly status: number; readonly body: unknown }
  | {
      readonly kind: 'sse';
      readonly headers: Readonly<Record<string, string>>;
      readonly events: AsyncIterable<string>;
    };

/** The framework-agnostic A2A JSON-RPC endpoint (mount it at POST /a2a/jsonrpc). */
export interface A2aJsonRpc {
  handle(req: A2aRpcRequest): Promise<A2aRpcResponse>;
}

export interface A2aJsonRpcOptions {
  readonly gateway: ToolGateway<InteropServices>;
  readonly card: AgentCard;
  /** Default: a bounded in-memory store of 1000 tasks. */
  readonly taskStore?: TaskStore;
  readonly now?: () => Date;
}

const INTERNAL_ERROR = -32603;

/** A requested A2A version as major.minor: a patch number is ignored (A2A spec 3.6.1); absent stays absent. */
export function majorMinor(version: string | undefined): string | undefined {
  if (!version) return undefined;
  const m = /^\s*(\d+)\.(\d+)(?:\.\d+)?\s*$/.exec(version);
  return m ? `${m[1]}.${m[2]}` : version;
}

/** Builds the JSON-RPC endpoint over the gateway: DefaultRequestHandler + VaultMesh executor. */
export function createA2aJsonRpc(opts: A2aJsonRpcOptions): A2aJsonRpc {
  const executor = createVaultMeshAgentExecutor({ gateway: opts.gateway, now: opts.now });
  const handler = new DefaultRequestHandler(
    opts.card,
    opts.taskStore ?? createBoundedTaskStore(),
    executor,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    // Every execution ends in one event; an input-required task is continued by a new message (a new bus), so no
    // bus is kept alive waiting for one that may never come.
    { keepBusAliveStates: [] },
  );
  const transport = new JsonRpcTransportHandler(handler);
  const rpcError = (id: unknown, err: unknown) => ({
    jsonrpc: '2.0',
    id: typeof id === 'string' || typeof id === 'number' ? id : null,
    error: JsonRpcTransportHandler.mapToJSONRPCError(err),
  });
  return {
    async handle(req) {
      let body: unknown = req.body;
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        const text = String(body);
        try {
          JSON.parse(text);
        } catch {
          // JSON-RPC 2.0 §5.1: an unparsable request gets -32700 and a null id.
          return {
            kind: 'json',
            status: 200,
            body: {
              jsonrpc: '2.0',
              id: null,
              error: { code: -32700, message: 'Parse error: the body is not JSON' },
            },
          };
        }
        // Valid JSON but not I-JSON (a duplicate key, a lone surrogate): an Invalid Request, never guessed at.
        try {
          body = parseStrictJson(text, (m) => new Error(m));
        } catch (err) {
          return {
            kind: 'json',
            status: 200,
            body: {
              jsonrpc: '2.0',
              id: null,
              error: { code: -32600, message: `Invalid Request: ${(err as Error).message}` },
            },
          };
        }
      }
      // JSON-RPC 2.0 §4, §6: a request must say "jsonrpc": "2.0"; A2A serves no batches. Both are -32600.
      const invalid = (message: string, id: unknown = null) => ({
        kind: 'json' as const,
        status: 200,
        body: {
          jsonrpc: '2.0',
          id: typeof id === 'string' || typeof id === 'number' ? id : null,
          error: { code: -32600, message: `Invalid Request: ${message}` },
        },
      });
      if (Array.isArray(body)) return invalid('batch requests are not supported');
      if (typeof body !== 'object' || body === null) return invalid('the request must be a JSON object');
      const id = (body as { id?: unknown }).id;
      if ((body as { jsonrpc?: unknown }).jsonrpc !== '2.0') return invalid('"jsonrpc" must be "2.0"', id);
      const context = new ServerCallContext({
        user: new A2aCaller(req.caller, req.owner),
        requestedVersion: majorMinor(req.version),
        requestedExtensions: Extensions.parseServiceParameter(req.extensions),
      });
      try {
        validateVersion(context.requestedVersion, opts.card, 'JSONRPC');
      } catch (err) {
        return { kind: 'json', status: 200, body: rpcError(id, err) };
      }
      // The SDK marks a task without a live execution canceled by itself; a held run behind it is canceled first.
      const rpc = body as { method?: unknown; params?: { id?: unknown } };
      if (rpc.method === 'CancelTask' && typeof rpc.params?.id === 'string')
        try {
          await executor.cancelHeldRun(rpc.params.id, req.owner);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          return {
            kind: 'json',
            status: 200,
            body: {
              jsonrpc: '2.0',
              id: typeof id === 'string' || typeof id === 'number' ? id : null,
              error: {
                code: -32002,
                message: `Task not cancelable: its run could not be canceled: ${message}`,
              },
            },
          };
        }
      const out = await transport.handle(
        (typeof body === 'object' && body !== null ? body : String(body)) as Record<string, unknown>,
        context,
      );
      if (Symbol.asyncIterator in out) {
        const it = out[Symbol.asyncIterator]();
        let first: IteratorResult<unknown>;
        try {
          first = await it.next();
        } catch (err) {
          return { kind: 'json', status: 200, body: rpcError(id, err) };
        }
        async function* events(): AsyncGenerator<string> {
          if (first.done) return;
          yield formatSSEEvent(first.value);
          try {
            for (let n = await it.next(); !n.done; n = await it.next()) yield formatSSEEvent(n.value);
          } catch (err) {
            yield formatSSEErrorEvent(rpcError(id, err));
          }
        }
        return { kind: 'sse', headers: { ...SSE_HEADERS }, events: events() };
      }
      const code = (out.error as { code?: unknown } | undefined)?.code;
      return { kind: 'json', status: code === INTERNAL_ERROR ? 500 : 200, body: out };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Client: remote agents and the a2a_perform tool

export interface A2aAgentsClientOptions {
  readonly fetch?: typeof fetch;
  /** Largest response body read from an agent. Default 4 MiB. */
  readonly maxResponseBytes?: number;
}

const STATE_NAMES: Partial<Record<TaskState, string>> = {
  [TaskState.TASK_STATE_COMPLETED]: 'completed',
  [TaskState.TASK_STATE_FAILED]: 'failed',
  [TaskState.TASK_STATE_CANCELED]: 'canceled',
  [TaskState.TASK_STATE_REJECTED]: 'rejected',
  [TaskState.TASK_STATE_INPUT_REQUIRED]: 'input-required',
  [TaskState.TASK_STATE_AUTH_REQUIRED]: 'auth-required',
};

/** What a task or message says, as JSON: its data parts (one: the value), else its text. */
function partsValue(parts: readonly Part[]): unknown {
  const data = parts.filter((p) => p.content?.$case === 'data').map((p) => p.content!.value as unknown);
  if (data.length === 1) return data[0];
  if (data.length > 1) return data;
  const text = parts
    .filter((p) => p.content?.$case === 'text')
    .map((p) => p.content!.value as string)
    .join('\n');
  return text === '' ? null : text;
}

function taskResult(task: Task): unknown {
  if (task.status?.state === TaskState.TASK_STATE_COMPLETED && task.artifacts.length > 0)
    return partsValue(task.artifacts.flatMap((a) => a.parts));
  const msg = task.status?.message;
  if (!msg) return null;
  return {
    message: partsValue(msg.parts.filter((p) => p.content?.$case === 'text')),
    details: partsValue(msg.parts.filter((p) => p.content?.$case === 'data')),
  };
}

/** The A2aAgentsPort over the SDK client: blocking SendMessage to configured agents, each call time-limited. */
export function createA2aAgentsClient(
  agents: readonly A2aAgentEndpoint[],
  opts: A2aAgentsClientOptions = {},
): A2aAgentsPort {
  checkA2aAgents(agents);
  const byName = new Map(agents.map((a) => [a.name, a]));
  const baseFetch = opts.fetch ?? fetch;
  const maxBytes = opts.maxResponseBytes ?? 4 * 1024 * 1024;

  /**
   * fetch bound to one agent: its origin only (the token never leaves it), its signal, a bounded body, and the
   * token scrubbed from everything the agent answers (an echo of it never reaches an error, a log or a receipt).
   */
  const agentFetch = (agent: A2aAgentEndpoint, signal: AbortSignal): typeof fetch => {
    const origin = new URL(agent.url).origin;
    return async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.origin !== origin)
        throw new InteropError(
          'UPSTREAM_FAILED',
          `agent ${agent.name} pointed to another origin (${url.origin})`,
        );
      const headers = new Headers(init?.headers);
      if (agent.token) headers.set('authorization', `Bearer ${agent.token}`);
      const res = await baseFetch(url, { ...init, headers, signal, redirect: 'error' });
      let bytes: Uint8Array;
      try {
        bytes = (await readBounded(res, { limit: maxBytes, what: `agent ${agent.name}'s answer` })).bytes;
      } catch (err) {
        if (err instanceof BodyTooLargeError)
          throw new InteropError(
            'UPSTREAM_FAILED',
            `agent ${agent.name} answered more than ${maxBytes} bytes`,
          );
        throw err;
      }
      const clean = Buffer.from(agent.token ? scrubBytes(bytes, [agent.token]) : bytes);
      const out = new Headers(res.headers);
      out.delete('content-length');
      return new Response(res.status === 204 || res.status === 304 ? null : clean, {
        status: res.status,
        statusText: res.statusText,
        headers: out,
      });
    };
  };

  return {
    agents: () => a2aAgentList(agents),

    async send(name, message, sendOpts) {
      const agent = byName.get(name);
      if (!agent)
        throw new InteropError('INVALID_INPUT', `"${name.slice(0, 64)}" is not a configured A2A agent`);
      const limit = Math.min(agent.timeoutMs ?? 30_000, sendOpts.timeoutMs ?? Infinity);
      const timeout = AbortSignal.timeout(limit);
      const signal = sendOpts.signal ? AbortSignal.any([sendOpts.signal, timeout]) : timeout;
      const fetchImpl = agentFetch(agent, signal);
      const origin = new URL(agent.url).origin;
      try {
        const resolver = new DefaultAgentCardResolver({ fetchImpl });
        const card = await resolver.resolve(
          `${agent.url.replace(/\/+$/, '')}/.well-known/agent-card.json`,
          '',
        );
        if (typeof card !== 'object' || card === null || !Array.isArray(card.supportedInterfaces))
          throw new InteropError('UPSTREAM_FAILED', `agent ${name} served no valid agent card`);
        // Only JSON-RPC interfaces on the configured origin: a card must not redirect our bearer token elsewhere.
        const interfaces = card.supportedInterfaces.filter((i) => {
          try {
            return i.protocolBinding === 'JSONRPC' && new URL(i.url).origin === origin;
          } catch {
            return false;
          }
        });
        if (interfaces.length === 0)
          throw new InteropError(
            'UPSTREAM_FAILED',
            `agent ${name}'s card names no JSON-RPC interface on ${origin}`,
          );
        const factory = new ClientFactory({
          transports: [new JsonRpcTransportFactory({ fetchImpl })],
          cardResolver: resolver,
        });
        const client = await factory.createFromAgentCard({ ...card, supportedInterfaces: interfaces });
        const res = await client.sendMessage(
          {
            tenant: '',
            message: {
              messageId: randomUUID(),
              contextId: '',
              taskId: '',
              role: Role.ROLE_USER,
              parts: [dataPart({ pqid: message.pqid, params: message.params, tenant: message.tenant })],
              metadata: message.purpose !== undefined ? { purpose: message.purpose } : undefined,
              extensions: [],
              referenceTaskIds: [],
            },
            configuration: {
              acceptedOutputModes: [...A2A_MODES],
              taskPushNotificationConfig: undefined,
              returnImmediately: false,
            },
            metadata: undefined,
          },
          { signal },
        );
        if (typeof res !== 'object' || res === null)
          throw new InteropError('UPSTREAM_FAILED', `agent ${name} answered out of shape`);
        if ('messageId' in res) return { taskId: '', state: 'completed', result: partsValue(res.parts) };
        const state = res.status ? STATE_NAMES[res.status.state] : undefined;
        if (!state || typeof res.id !== 'string')
          throw new InteropError(
            'UPSTREAM_FAILED',
            `agent ${name} answered a blocking request with a task that is not final (state ${String(res.status?.state)})`,
          );
        return { taskId: res.id, state, result: taskResult(res) };
      } catch (err) {
        if (timeout.aborted)
          throw new InteropError('TIMEOUT', `agent ${name} did not answer within ${limit} ms`);
        if (sendOpts.signal?.aborted) {
          const reason: unknown = sendOpts.signal.reason;
          throw reason instanceof InteropError
            ? reason
            : new InteropError('FAILED', 'the call was cancelled');
        }
        if (err instanceof InteropError) throw err;
        throw new InteropError(
          'UPSTREAM_FAILED',
          `agent ${name} failed: ${((err as Error)?.message ?? String(err)).slice(0, 300)}`,
        );
      }
    },
  };
}
