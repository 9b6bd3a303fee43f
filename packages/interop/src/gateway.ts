// The governed tool gateway: the only way an agent's call (MCP, A2A, REST or CLI) reaches the ledger, the executor or
// an external tool. Each call is checked against the tool's input schema, decided by policy with the caller's
// identity, tenant, purpose and residency (fail closed: any deny or decider error stops it), run with a time limit,
// and recorded as a `tool` receipt. Tools receive the node's services only after the allow, so no tool can touch
// the ledger or the executor without a policy decision.
// Attacker-controlled input: `args` come straight from agents; nothing reaches a tool before its schema accepts it.
import { createHash } from 'node:crypto';
import { canonicalize } from '@vaultmesh/ledger';
import type {
  PolicyDecider,
  PolicyDecision,
  PolicyRequest,
  Principal,
  ReceiptWriter,
} from '@vaultmesh/types';
import { z } from 'zod';
import type { z as z4 } from 'zod/v4';
import { InteropError, type InteropErrorCode } from './errors.ts';

/** Who calls, for what, and through which edge. */
export interface Caller {
  readonly principal: Principal;
  /** Why the caller asks (policy context `purpose`), e.g. "incident-response". */
  readonly purpose?: string;
  /** The data residency the caller requires (policy context `residency`), e.g. "eu". */
  readonly residency?: string;
  /** The edge the call came through. */
  readonly via: 'mcp' | 'a2a' | 'rest' | 'cli';
  /** Told when a call of this caller is denied (the edge counts it against the token's deny budget). */
  readonly onDenied?: () => void;
}

/** MCP tool annotations (hints for clients; policy decides what actually runs). */
export interface ToolAnnotations {
  readonly readOnlyHint: boolean;
  readonly destructiveHint: boolean;
  readonly idempotentHint?: boolean;
  readonly openWorldHint?: boolean;
}

/** A reference to a receipt on the ledger. */
export interface ReceiptRef {
  readonly index: number;
  readonly leafHash: string;
}

/** What a tool's run() gets once policy has allowed the call. */
export interface ToolContext<S> {
  readonly services: S;
  readonly caller: Caller;
  /** The tenant the call acts in (checked by policy). */
  readonly tenant: string;
  /** Aborted when the call runs past its time limit. */
  readonly signal: AbortSignal;
  /** Reports progress of long work (MCP progress notifications). */
  progress(done: number, total?: number, message?: string): void;
  /** Receipts the tool wrote; the `tool` receipt names them as parents. */
  addParent(ref: ReceiptRef): void;
}

/** The policy question of one call, beyond the defaults (resource tool/<name> in the call's tenant). */
export interface ToolAuthorization {
  readonly resource?: Partial<PolicyRequest['resource']>;
  readonly context?: Readonly<Record<string, string | boolean | number>>;
}

/** One tool. `input` and `output` are zod object shapes; unknown input keys are refused. */
export interface ToolSpec<
  S,
  I extends z.ZodRawShape = z.ZodRawShape,
  O extends z.ZodRawShape = z.ZodRawShape,
> {
  /** MCP tool name: letters, digits, "_", "-" and "." only. It is also the Cedar action argument: tool:<name>. */
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly input: I;
  /**
   * The arguments' exact schema (zod v4), where `input` can only say "an object" (e.g. create_plan's intent: the
   * strategist's discriminated union). The gateway checks it after `input` on every edge; MCP publishes it as the
   * tool's inputSchema, so agents see the real shape.
   */
  readonly publishedInput?: z4.ZodObject;
  readonly output: O;
  readonly annotations: ToolAnnotations;
  /** Time limit of one call; the gateway's default when absent. */
  readonly timeoutMs?: number;
  /** Extra policy facts (dry-run, plan resource, pqid ...). */
  authorize?(args: z.infer<z.ZodObject<I>>, caller: Caller): ToolAuthorization;
  run(args: z.infer<z.ZodObject<I>>, ctx: ToolContext<S>): Promise<z.infer<z.ZodObject<O>>>;
}

/** A successful call: the tool's output and the `tool` receipt that records it. */
export interface ToolCallResult {
  readonly output: Record<string, unknown>;
  readonly receipt: ReceiptRef;
}

export interface ToolGatewayOptions<S> {
  readonly decider: PolicyDecider;
  readonly receipts: ReceiptWriter;
  readonly services: S;
  /** Default time limit of a call. Default 30 s. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

/** The gateway: a registry of tools and the one governed way to call them. */
export interface ToolGateway<S> {
  register<I extends z.ZodRawShape, O extends z.ZodRawShape>(tool: ToolSpec<S, I, O>): void;
  list(): readonly ToolSpec<S>[];
  get(name: string): ToolSpec<S> | undefined;
  /**
   * Validates, decides, runs and records one call. Throws InteropError: INVALID_INPUT (nothing recorded, nothing
   * changed), DENIED (the decider recorded its `policy` receipt; nothing else changed), TIMEOUT or FAILED (a
   * `tool` receipt records the failure).
   */
  call(
    name: string,
    args: unknown,
    caller: Caller,
    opts?: { onProgress?: (done: number, total?: number, message?: string) => void; signal?: AbortSignal },
  ): Promise<ToolCallResult>;
}

/** Tool names: what MCP clients accept everywhere, and a valid Cedar action argument. */
export const TOOL_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const DEFAULT_TIMEOUT_MS = 30_000;

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** SHA-256 of a value's canonical JSON (RFC 8785), used so receipts name arguments and results without holding them. */
export function digestOf(value: unknown): string {
  try {
    return sha256Hex(canonicalize(value));
  } catch {
    return sha256Hex(JSON.stringify(value) ?? 'null');
  }
}

/** One readable line per schema problem, path first. */
export function describeIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 10)
    .map((i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`)
    .join('; ');
}

/** The tenant a call acts in: the caller's own, or the one it names when its token covers every tenant. */
export function callTenant(args: unknown, caller: Caller): string {
  const named =
    typeof args === 'object' && args !== null && typeof (args as { tenant?: unknown }).tenant === 'string'
      ? (args as { tenant: string }).tenant
      : undefined;
  if (named !== undefined) return named;
  return caller.principal.tenant === '*' ? 'default' : caller.principal.tenant;
}

/** Codes of the domain errors tools pass through (ControlError, LogError ...) that have an interop meaning. */
const FOREIGN_CODES: Readonly<Record<string, InteropErrorCode>> = {
  POLICY_DENIED: 'DENIED',
  APPROVAL_INVALID: 'DENIED',
  NOT_FOUND: 'NOT_FOUND',
  INVALID_ARGUMENT: 'INVALID_INPUT',
  PLAN_INVALID: 'INVALID_INPUT',
  NO_GO: 'DENIED',
  UPSTREAM_FAILED: 'UPSTREAM_FAILED',
  UNAVAILABLE: 'UNAVAILABLE',
  TIMEOUT: 'TIMEOUT',
};

/** A tool's failure as an InteropError, keeping the domain error's meaning where it has one. */
export function toInteropError(tool: string, err: unknown): InteropError {
  if (err instanceof InteropError) return err;
  const code = (err as { code?: unknown })?.code;
  const mapped = typeof code === 'string' ? FOREIGN_CODES[code] : undefined;
  const message = (err as Error)?.message ?? String(err);
  // Validation problems located in a published schema (control's details.errors) name where to look.
  const located = (err as { details?: { errors?: unknown } })?.details?.errors;
  const where = Array.isArray(located)
    ? located
        .slice(0, 5)
        .map((e: { pointer?: unknown; schema?: unknown; schemaPointer?: unknown }) =>
          typeof e?.schema === 'string'
            ? `${String(e.pointer) || '(root)'}: see ${e.schema}${String(e.schemaPointer ?? '')}`
            : '',
        )
        .filter(Boolean)
    : [];
  return new InteropError(
    mapped ?? 'FAILED',
    `${tool}: ${message}${where.length ? ` (schema: ${where.join('; ')})` : ''}`,
  );
}

/** Builds a gateway over the node's services. */
export function createToolGateway<S>(opts: ToolGatewayOptions<S>): ToolGateway<S> {
  const tools = new Map<string, ToolSpec<S>>();
  const parsers = new Map<string, { input: z.ZodTypeAny; output: z.ZodTypeAny }>();
  const now = opts.now ?? Date.now;

  async function record(
    tool: ToolSpec<S>,
    caller: Caller,
    tenant: string,
    body: Record<string, unknown>,
    parents: readonly ReceiptRef[],
  ): Promise<ReceiptRef> {
    const r = await opts.receipts.append({
      kind: 'tool',
      actor: caller.principal.id,
      tenant,
      body: {
        tool: tool.name,
        via: caller.via,
        ...(caller.purpose !== undefined ? { purpose: caller.purpose } : {}),
        ...(caller.residency !== undefined ? { residency: caller.residency } : {}),
        policySetHash: opts.decider.policySetHash,
        ...body,
      },
      parents: parents.length ? parents : undefined,
    });
    return { index: r.index, leafHash: r.leafHash };
  }

  async function callTool(
    name: string,
    args: unknown,
    caller: Caller,
    callOpts: Parameters<ToolGateway<S>['call']>[3] = {},
  ): Promise<ToolCallResult> {
    const tool = typeof name === 'string' ? tools.get(name) : undefined;
    if (!tool) throw new InteropError('INVALID_INPUT', `unknown tool "${String(name).slice(0, 64)}"`);
    const parser = parsers.get(tool.name)!;
    const parsed = parser.input.safeParse(args ?? {});
    if (!parsed.success)
      throw new InteropError(
        'INVALID_INPUT',
        `invalid arguments for ${tool.name}: ${describeIssues(parsed.error)}`,
      );
    if (tool.publishedInput) {
      const exact = tool.publishedInput.safeParse(args ?? {});
      if (!exact.success)
        throw new InteropError(
          'INVALID_INPUT',
          `invalid arguments for ${tool.name}: ${exact.error.issues
            .slice(0, 10)
            .map((i) => `${i.path.length ? '/' + i.path.join('/') : '(arguments)'}: ${i.message}`)
            .join('; ')}`,
        );
    }
    const input = parsed.data as Record<string, unknown>;
    const tenant = callTenant(input, caller);
    const extra = tool.authorize?.(input as never, caller) ?? {};
    // The decider must never throw; if one does, that is a deny (fail closed), not a crash of the call.
    const decision = await opts.decider
      .decide({
        principal: caller.principal,
        action: `tool:${tool.name}`,
        resource: { type: 'tool', id: tool.name, tenant, ...extra.resource },
        context: {
          readOnly: tool.annotations.readOnlyHint,
          destructive: tool.annotations.destructiveHint,
          transport: caller.via,
          ...(caller.purpose !== undefined ? { purpose: caller.purpose } : {}),
          ...(caller.residency !== undefined ? { residency: caller.residency } : {}),
          ...extra.context,
        },
      })
      .catch((err: unknown): PolicyDecision => ({
        decision: 'deny',
        reasons: [],
        errors: [`policy evaluation failed: ${(err as Error)?.message ?? String(err)}`],
        policySetHash: opts.decider.policySetHash,
      }));
    if (decision.decision !== 'allow') {
      const why = [...decision.reasons, ...decision.errors];
      throw new InteropError(
        'DENIED',
        `policy denied tool:${tool.name} for ${caller.principal.id} in tenant ${tenant}` +
          (why.length ? `: ${why.join('; ')}` : ' (no policy permits it)'),
        why,
      );
    }

    const started = now();
    const parents: ReceiptRef[] = [];
    const ac = new AbortController();
    const limit = tool.timeoutMs ?? opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const onOuterAbort = () => ac.abort(new InteropError('FAILED', 'the caller cancelled the call'));
    callOpts.signal?.addEventListener('abort', onOuterAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = new InteropError('TIMEOUT', `${tool.name} ran past its time limit of ${limit} ms`);
        ac.abort(e);
        reject(e);
      }, limit);
    });
    const ctx: ToolContext<S> = {
      services: opts.services,
      caller,
      tenant,
      signal: ac.signal,
      progress: (done, total, message) => callOpts.onProgress?.(done, total, message),
      addParent: (ref) => parents.push(ref),
    };
    let output: Record<string, unknown>;
    try {
      const raw = await Promise.race([tool.run(input as never, ctx), timedOut]);
      const checked = parser.output.safeParse(raw);
      if (!checked.success)
        throw new InteropError(
          'FAILED',
          `${tool.name} returned output outside its schema: ${describeIssues(checked.error)}`,
        );
      output = checked.data as Record<string, unknown>;
    } catch (err) {
      const e = toInteropError(tool.name, err);
      await record(
        tool,
        caller,
        tenant,
        {
          outcome: e.code === 'TIMEOUT' ? 'timeout' : 'failed',
          argsSha256: digestOf(input),
          error: e.message.slice(0, 1000),
          durationMs: now() - started,
        },
        parents,
      );
      throw e;
    } finally {
      clearTimeout(timer);
      callOpts.signal?.removeEventListener('abort', onOuterAbort);
    }
    const receipt = await record(
      tool,
      caller,
      tenant,
      {
        outcome: 'ok',
        argsSha256: digestOf(input),
        resultSha256: digestOf(output),
        durationMs: now() - started,
      },
      parents,
    );
    return { output, receipt };
  }

  return {
    register(tool) {
      if (!TOOL_NAME.test(tool.name)) throw new Error(`tool name "${tool.name}" is not allowed`);
      if (tools.has(tool.name)) throw new Error(`tool ${tool.name} is registered twice`);
      tools.set(tool.name, tool as unknown as ToolSpec<S>);
      parsers.set(tool.name, {
        input: z.object(tool.input).strict(),
        output: z.object(tool.output),
      });
    },
    list: () => [...tools.values()],
    get: (name) => tools.get(name),

    async call(name, args, caller, callOpts = {}) {
      try {
        return await callTool(name, args, caller, callOpts);
      } catch (err) {
        if (err instanceof InteropError && err.code === 'DENIED') caller.onDenied?.();
        throw err;
      }
    },
  };
}
