// The actions registry: what a plan step can do, each with a params schema, whether it supports dry-run, its effect
// class (read or write: governance derives a step's facts from it, see effects.ts), and whether running it twice is
// safe (decides what resume does after a crash mid-step).
// Built in: shell, http, probe, wait, ledger.record, k8s.apply, k8s.rollout, k8s.scale (k8s-actions.ts), and
// route.submit (a GPU job through the Aurora router, bound by @vaultmesh/node).
import { readBounded, requestSecrets, scrubText } from '@vaultmesh/net';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { createReceiptLeaf, PUBLIC_RECEIPT_KINDS } from '@vaultmesh/ledger';
import { z } from 'zod/v4';
import {
  compileDenyRules,
  DEFAULT_DENY_COMMANDS,
  deriveStepFacts,
  matchDestructive,
  type DeclaredFacts,
  type DenyRule,
  type EffectSource,
  type GovernedFacts,
} from './effects.ts';
import { ControlError } from './errors.ts';
import { createOutboundGuard, type OutboundGuard } from './outbound.ts';
import { createK8sActions, type K8sOptions } from './k8s-actions.ts';
import type { PlanTarget } from './plan.ts';
import type { Principal, ReceiptWriter, StepFacts } from '@vaultmesh/types';
import { describeStepProcess, type StepProcess } from './process-fence.ts';

/** What an action is given besides its params. */
export interface ActionContext {
  /** Change nothing: validate, ask the server for a dry run, or report what would be done. */
  readonly dryRun: boolean;
  /** The step's time budget; `signal` aborts when it is spent. */
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly step: StepFacts;
  readonly target: PlanTarget;
  readonly principal: Principal;
  readonly receipts: ReceiptWriter;
  readonly now: () => number;
  /**
   * In a dry-run: the plan's earlier write steps, none of which a dry-run applies. A read that waits for their
   * effect (a probe) tries once instead of waiting out its budget, since that effect cannot appear.
   */
  readonly unappliedWrites?: readonly string[];
  /** In a dry-run: those earlier write steps themselves (e.g. a k8s.apply that creates the namespace of this one). */
  readonly unappliedSteps?: readonly {
    readonly id: string;
    readonly action: string;
    readonly params: unknown;
  }[];
  /** When the step first started (ms), if a crash interrupted it: timers count from there, not from now. */
  readonly firstStartedAt?: number;
  /**
   * Told of each process group the action starts (the executor journals it, so a resume after a crash can find and
   * fence a group that outlived it). The action waits for it before it goes on.
   */
  readonly onProcess?: (p: StepProcess) => Promise<void>;
}

/** What an action did. `output` is JSON: the journal keeps it (bounded) and the step receipt its SHA-256. */
export interface ActionResult {
  readonly ok: boolean;
  readonly output: Record<string, unknown>;
  readonly exitCode?: number;
  /** Why it failed, one line (never a secret). */
  readonly error?: string;
  /**
   * A dry-run that could not check part of what it would do, and why (e.g. objects in a namespace an earlier step
   * of the plan creates): the step is recorded `unverifiable` with this reason, never passed silently.
   */
  readonly unverifiable?: string;
  /** One line on what it did or would do (a dry-run apply: what live would change), shown with the step. */
  readonly summary?: string;
}

/** One registered action; its effect class (and aggregation, risk floor) is what governance sees (effects.ts). */
export interface Action<P = Record<string, unknown>> extends EffectSource<P> {
  readonly name: string;
  readonly description: string;
  /** Validates step params (attacker-controlled: plans may come from an AI strategist). */
  readonly params: z.ZodType<P>;
  /** True: run with ctx.dryRun = true, changing nothing. False: a dry-run skips the step (status 'skipped'). */
  readonly dryRun: boolean;
  /** Safe to run again after a crash left it 'started' but not 'done' (see the executor's resume). */
  readonly idempotent: boolean | ((params: P) => boolean);
  run(params: P, ctx: ActionContext): Promise<ActionResult>;
}

/** Actions by name. */
export type ActionRegistry = ReadonlyMap<string, Action>;

/** Erases an action's params type so it can sit in a registry. */
export function defineAction<P>(a: Action<P>): Action {
  return a as unknown as Action;
}

/** Default cap on captured stdout/stderr and HTTP bodies, per stream. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
/** PATH for commands when none is given (libraries do not read process.env). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Options of the built-in actions (all optional; k8s actions fail clearly without `kube`). */
export interface ActionsOptions {
  readonly shell?: {
    /** Environment of commands (they do not inherit the process's); default { PATH: DEFAULT_PATH }. */
    readonly env?: Readonly<Record<string, string>>;
    readonly cwd?: string;
    /** When set, only these commands (names or absolute paths, as written in the step) may run. */
    readonly allowCommands?: readonly string[];
    /**
     * Exact command lines ([command, ...args]) the operator declares read-only: only these shell steps are governed
     * as reads. Every other command is a write, whatever the plan says.
     */
    readonly readOnlyCommands?: readonly (readonly string[])[];
    /** Destructive commands refused outright in any plan; default DEFAULT_DENY_COMMANDS (replace, or extend it). */
    readonly denyCommands?: readonly DenyRule[];
    readonly maxOutputBytes?: number;
  };
  readonly http?: {
    /** Injected fetch (tests); the outbound guard still checks every URL first. */
    readonly fetch?: typeof fetch;
    readonly maxBodyBytes?: number;
    /** Where steps may send requests (per-tenant allow-list, denied addresses); default createOutboundGuard(). */
    readonly outbound?: OutboundGuard;
  };
  readonly kube?: K8sOptions;
  /**
   * The Aurora router for route.submit (@vaultmesh/node binds it once the router exists; it needs this control plane's
   * policy engine and store, hence a getter). Absent or returning undefined: route.submit fails UNAVAILABLE.
   */
  readonly route?: () => RoutePort | undefined;
}

/** Port: the Aurora router as route.submit uses it (packages/aurora Router, structurally). */
export interface RoutePort {
  /** Scores offers, places nothing (a dry run). */
  recommend(
    workload: unknown,
    caller: { principal: Principal },
  ): Promise<{
    readonly candidates: readonly {
      provider: string;
      region: string;
      offerId: string;
      pricePerHour: number;
    }[];
    readonly reason: string;
    readonly receipt: { readonly index: number };
  }>;
  /** Places with failover. */
  place(
    workload: unknown,
    caller: { principal: Principal },
  ): Promise<{
    readonly id: string;
    readonly state: string;
    readonly provider?: string;
    readonly region?: string;
    readonly providerJobId?: string;
    readonly detail?: string;
    readonly attempts: readonly { provider: string; ok: boolean; error?: string }[];
  }>;
}

/** Sleeps ms, or less when the signal aborts first (never rejects); the abort listener is always removed. */
export function sleepUnless(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

/** Keeps the first `max` bytes of a stream's chunks and counts the rest. */
class Capture {
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.total += b.length;
    if (this.kept >= this.max) return;
    const part = b.subarray(0, this.max - this.kept);
    this.chunks.push(part);
    this.kept += part.length;
  }
  get truncated(): boolean {
    return this.total > this.kept;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where `command` resolves on `pathVar` (as execve would find it), or undefined. */
export async function resolveCommand(command: string, pathVar: string): Promise<string | undefined> {
  if (command.includes('/')) return (await isExecutable(command)) ? command : undefined;
  for (const dir of pathVar.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const p = join(dir, command);
    if (await isExecutable(p)) return p;
  }
  return undefined;
}

const ShellParamsShape = z.strictObject({
  command: z.string().min(1).max(4096),
  args: z.array(z.string().max(65_536)).max(1000).default([]),
  cwd: z.string().min(1).max(4096).optional(),
  env: z.record(z.string(), z.string()).optional(),
  /** Exit codes that count as success; default [0]. */
  expectExit: z.array(z.number().int()).min(1).optional(),
  /** The plan author declares the command safe to run twice (resume re-runs it after a crash). */
  idempotent: z.boolean().optional(),
});

/** Shell params that also refuse destructive commands (whoever wrote the plan). */
function shellParams(deny: readonly DenyRule[]) {
  const rules = compileDenyRules(deny);
  return ShellParamsShape.superRefine((p, ctx) => {
    const hit = matchDestructive(rules, p.command, p.args);
    if (hit)
      ctx.addIssue({
        code: 'custom',
        path: ['command'],
        message: `destructive command refused (rule ${hit.id}: ${hit.reason})`,
      });
  });
}

function shellAction(o: ActionsOptions['shell'] = {}): Action {
  const baseEnv = o.env ?? { PATH: DEFAULT_PATH };
  const max = o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const readOnly = new Set((o.readOnlyCommands ?? []).map((c) => JSON.stringify(c)));
  return defineAction({
    name: 'shell',
    description:
      'run a command (no shell: execve with arguments), with a timeout and bounded captured output',
    params: shellParams(o.denyCommands ?? DEFAULT_DENY_COMMANDS),
    dryRun: true,
    effect: (p) => (readOnly.has(JSON.stringify([p.command, ...p.args])) ? 'read' : 'write'),
    idempotent: (p) => p.idempotent === true,
    async run(p, ctx) {
      if (o.allowCommands && !o.allowCommands.includes(p.command))
        return {
          ok: false,
          output: { command: p.command },
          error: `command "${p.command}" is not allowed here`,
        };
      const env = { ...baseEnv, ...p.env };
      const resolved = await resolveCommand(p.command, env.PATH ?? DEFAULT_PATH);
      if (!resolved)
        return {
          ok: false,
          output: { command: p.command },
          error: `command "${p.command}" not found or not executable`,
        };
      if (ctx.dryRun)
        return {
          ok: true,
          output: { wouldRun: [p.command, ...p.args], resolved, cwd: p.cwd ?? o.cwd ?? null },
        };
      const started = ctx.now();
      const out = new Capture(max);
      const err = new Capture(max);
      let journaled: Promise<void> = Promise.resolve();
      const res = await new Promise<{ code: number | null; signal: string | null; error?: Error }>(
        (resolve) => {
          // Its own process group (detached): a timeout stops the command and everything it started, and a
          // resume after a crash can find the group and fence it (process-fence.ts).
          const child = spawn(resolved, p.args, {
            shell: false,
            cwd: p.cwd ?? o.cwd,
            env,
            stdio: ['ignore', 'pipe', 'pipe'],
            detached: true,
          });
          const stopGroup = () => {
            try {
              if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
            } catch {
              // gone already
            }
          };
          if (ctx.signal.aborted) stopGroup();
          else ctx.signal.addEventListener('abort', stopGroup, { once: true });
          if (child.pid !== undefined && ctx.onProcess)
            journaled = ctx
              .onProcess(describeStepProcess(child.pid, [p.command, ...p.args], ctx.now()))
              .catch(() => undefined);
          let spawnError: Error | undefined;
          child.stdout.on('data', (b: Buffer) => out.push(b));
          child.stderr.on('data', (b: Buffer) => err.push(b));
          child.on('error', (e) => (spawnError = e));
          child.on('close', (code, signal) => {
            ctx.signal.removeEventListener('abort', stopGroup);
            resolve({ code, signal, ...(spawnError ? { error: spawnError } : {}) });
          });
        },
      );
      await journaled;
      const timedOut = ctx.signal.aborted;
      const expect = p.expectExit ?? [0];
      const ok = !timedOut && res.code !== null && expect.includes(res.code);
      const output = {
        command: [p.command, ...p.args],
        exitCode: res.code,
        signal: res.signal,
        stdout: out.text(),
        stderr: err.text(),
        stdoutBytes: out.total,
        stderrBytes: err.total,
        truncated: out.truncated || err.truncated,
        durationMs: ctx.now() - started,
        timedOut,
      };
      const error = ok
        ? undefined
        : timedOut
          ? `timed out after ${ctx.timeoutMs} ms`
          : res.code === null
            ? `killed by ${res.signal ?? 'a signal'}${res.error && !timedOut ? `: ${res.error.message}` : ''}`
            : `exit code ${res.code} (expected ${expect.join(' or ')})`;
      return {
        ok,
        output,
        ...(res.code !== null ? { exitCode: res.code } : {}),
        ...(error ? { error } : {}),
      };
    },
  });
}

const HttpUrl = z.url({ protocol: /^https?$/ }).max(8192);
const Status = z.number().int().min(100).max(599);
const SAFE_METHODS = new Set(['GET', 'HEAD']);
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

const HttpParams = z.strictObject({
  url: HttpUrl,
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
  headers: z.record(z.string(), z.string()).optional(),
  /** A string is sent as-is; anything else as JSON. */
  body: z.unknown().optional(),
  /** Status(es) that count as success; default any 2xx. */
  expectStatus: z.union([Status, z.array(Status).min(1)]).optional(),
  /** Keep the response body (bounded) in the step's output; default: only its size and SHA-256. */
  captureBody: z.boolean().optional(),
});

async function readBody(
  res: Response,
  max: number,
): Promise<{ text: string; bytes: number; truncated: boolean }> {
  // Cut at `max` (a step keeps a bounded body; reading stops there and the transfer is cancelled).
  const got = await readBounded(res, { limit: max, onLimit: 'truncate' });
  return { text: new TextDecoder().decode(got.bytes), bytes: got.seen, truncated: got.truncated };
}

function scrubbed<T extends { text: string }>(got: T, secrets: readonly string[]): T {
  return secrets.length ? { ...got, text: scrubText(got.text, secrets) } : got;
}

/** The fetch a step of `tenant` uses: the outbound guard checks the URL, then (unless injected) every address. */
function tenantFetch(o: ActionsOptions['http'], guard: OutboundGuard, tenant: string): typeof fetch {
  const injected = o?.fetch;
  if (!injected) return guard.fetchFor(tenant);
  return (async (input: string | URL | Request, init?: RequestInit) => {
    await guard.check(input instanceof Request ? input.url : input, tenant);
    return injected(input, init);
  }) as typeof fetch;
}

/** One line for a failed fetch: undici puts the reason (refused destination, DNS, reset) in `cause`. */
function fetchFailure(e: unknown): string {
  const err = e as Error & { cause?: unknown };
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  return cause && err.message === 'fetch failed' ? cause : (err.message ?? String(e));
}

/** A URL as outputs and receipts show it: no user:password and no query (either may carry a credential). */
export function displayUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
}

const statusOk = (status: number, expect: number | number[] | undefined): boolean =>
  expect === undefined ? status >= 200 && status < 300 : ([] as number[]).concat(expect).includes(status);

function httpAction(o: ActionsOptions['http'] = {}): Action {
  const guard = o.outbound ?? createOutboundGuard();
  const max = o.maxBodyBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  return defineAction({
    name: 'http',
    description:
      'send one HTTP request and check its status; in dry-run only GET/HEAD are sent, others reported',
    params: HttpParams,
    dryRun: true,
    effect: (p) => (SAFE_METHODS.has(p.method) ? 'read' : 'write'),
    idempotent: (p) => IDEMPOTENT_METHODS.has(p.method),
    async run(p, ctx) {
      const headers: Record<string, string> = { ...p.headers };
      let body: string | undefined;
      if (p.body !== undefined) {
        body = typeof p.body === 'string' ? p.body : JSON.stringify(p.body);
        if (typeof p.body !== 'string') headers['content-type'] ??= 'application/json';
      }
      // Header values may be credentials: outputs name the headers, never their values.
      const shown = displayUrl(p.url);
      const request = { method: p.method, url: shown, headers: Object.keys(headers).sort() };
      if (ctx.dryRun && !SAFE_METHODS.has(p.method))
        return {
          ok: true,
          output: { wouldSend: { ...request, bodyBytes: body ? Buffer.byteLength(body) : 0 } },
        };
      const started = ctx.now();
      try {
        const f = tenantFetch(o, guard, ctx.target.tenant);
        const res = await f(p.url, {
          method: p.method,
          headers,
          body,
          signal: ctx.signal,
          redirect: 'manual',
        });
        // A credential we sent (a header, URL user info) never comes back into the journal in an echo.
        const got = scrubbed(await readBody(res, max), requestSecrets(headers, p.url));
        const ok = statusOk(res.status, p.expectStatus);
        // The body stays out of the journal and run views unless the step asks for it (captureBody).
        return {
          ok,
          output: {
            request,
            status: res.status,
            ...(p.captureBody ? { body: got.text } : {}),
            bodySha256: createHash('sha256').update(got.text).digest('hex'),
            bodyBytes: got.bytes,
            truncated: got.truncated,
            durationMs: ctx.now() - started,
          },
          ...(ok ? {} : { error: `HTTP ${res.status} from ${p.method} ${shown}` }),
        };
      } catch (e) {
        const why = ctx.signal.aborted ? `timed out after ${ctx.timeoutMs} ms` : fetchFailure(e);
        return { ok: false, output: { request }, error: `${p.method} ${shown} failed: ${why}` };
      }
    },
  });
}

/** The shortest time between two probe attempts (at most 4 requests a second per probe). */
export const MIN_PROBE_INTERVAL_MS = 250;

const ProbeParams = z.strictObject({
  url: HttpUrl,
  expectStatus: z.union([Status, z.array(Status).min(1)]).optional(),
  /** The body must contain this text, when given. */
  bodyIncludes: z.string().min(1).max(1000).optional(),
  /** Time between attempts; at least MIN_PROBE_INTERVAL_MS so a plan cannot turn a probe into a flood. */
  intervalMs: z.number().int().min(MIN_PROBE_INTERVAL_MS).max(600_000).default(1000),
});

function probeAction(o: ActionsOptions['http'] = {}): Action {
  const guard = o.outbound ?? createOutboundGuard();
  return defineAction({
    name: 'probe',
    description: 'GET a health URL every intervalMs until it answers healthy or the step times out',
    params: ProbeParams,
    dryRun: true, // read-only: runs for real in a dry-run
    effect: 'read',
    idempotent: true,
    async run(p, ctx) {
      const shown = displayUrl(p.url);
      const started = ctx.now();
      let attempts = 0;
      let last: { status?: number; error?: string } = {};
      const f = tenantFetch(o, guard, ctx.target.tenant);
      const once = ctx.dryRun && (ctx.unappliedWrites?.length ?? 0) > 0;
      while (!ctx.signal.aborted) {
        attempts++;
        try {
          const res = await f(p.url, { method: 'GET', signal: ctx.signal, redirect: 'manual' });
          const got = await readBody(res, 16 * 1024);
          last = { status: res.status };
          if (
            statusOk(res.status, p.expectStatus ?? 200) &&
            (!p.bodyIncludes || got.text.includes(p.bodyIncludes))
          )
            return {
              ok: true,
              output: { url: shown, attempts, status: res.status, healthyAfterMs: ctx.now() - started },
            };
        } catch (e) {
          if (ctx.signal.aborted) break;
          const error = fetchFailure(e);
          last = { error };
          // A refused destination will not become allowed by waiting: stop at once.
          if (/outbound|denied to every step/.test(error)) break;
        }
        if (once) break;
        try {
          await sleep(p.intervalMs, ctx.signal);
        } catch {
          break;
        }
      }
      return {
        ok: false,
        output: { url: shown, attempts, ...last },
        error: `${shown} not healthy after ${ctx.timeoutMs} ms (${attempts} attempts; last: ${last.status !== undefined ? `HTTP ${last.status}` : (last.error ?? 'none')})`,
      };
    },
  });
}

function waitAction(): Action {
  return defineAction({
    name: 'wait',
    description:
      'wait a number of milliseconds (a dry-run does not wait: nothing it changed needs to settle)',
    params: z.strictObject({ ms: z.number().int().min(0).max(3_600_000) }),
    dryRun: true,
    effect: 'read',
    idempotent: true,
    async run(p, ctx) {
      if (ctx.dryRun) return { ok: true, output: { wouldWaitMs: p.ms } };
      // A wait the process died in resumes with what is left of it (a durable timer), never from the start.
      const elapsed = ctx.firstStartedAt !== undefined ? Math.max(0, ctx.now() - ctx.firstStartedAt) : 0;
      const remaining = Math.max(0, p.ms - elapsed);
      try {
        await sleep(remaining, ctx.signal);
        return {
          ok: true,
          output: {
            waitedMs: p.ms,
            ...(ctx.firstStartedAt !== undefined ? { resumedWithMs: remaining } : {}),
          },
        };
      } catch {
        const why = ctx.signal.reason instanceof Error ? ctx.signal.reason.message : 'aborted';
        return { ok: false, output: { ms: p.ms }, error: `wait ended early: ${why}` };
      }
    },
  });
}

// A step records what a caller may record (decisions, deploys, evidence, spawns); the node's own kinds (plan, step,
// policy, key, ...) are written only by the node.
const RECORDABLE = [...PUBLIC_RECEIPT_KINDS] as [string, ...string[]];

function ledgerRecordAction(): Action {
  return defineAction({
    name: 'ledger.record',
    description:
      'append a receipt (decision, deploy, evidence or spawn) under the plan tenant; a dry-run only validates it',
    params: z.strictObject({ kind: z.enum(RECORDABLE), body: z.record(z.string(), z.unknown()) }),
    dryRun: true,
    effect: 'write',
    writeRiskFloor: 'low', // appends a receipt: a write, but only to the tenant's own ledger
    idempotent: false,
    async run(p, ctx) {
      const body = { ...p.body, planId: ctx.step.planId, runId: ctx.step.runId, stepId: ctx.step.stepId };
      const input = { kind: p.kind, actor: ctx.principal.id, tenant: ctx.target.tenant, body };
      // Validates like the ledger would (kind's body schema, size limit), throwing LedgerError when invalid.
      createReceiptLeaf(input, ctx.now());
      if (ctx.dryRun)
        return { ok: true, output: { wouldRecord: { kind: p.kind, tenant: ctx.target.tenant } } };
      const r = await ctx.receipts.append(input);
      return { ok: true, output: { index: r.index, leafHash: r.leafHash, kind: p.kind } };
    },
  });
}

const RouteJobParams = z.strictObject({
  jobId: z.string().min(1).max(63),
  image: z.string().min(1).max(500).optional(),
  gpu: z.strictObject({
    model: z.string().min(1).max(200).optional(),
    count: z.number().int().min(1).max(1024),
  }),
  command: z.array(z.string().max(4096)).max(256).optional(),
  maxPricePerHour: z.number().positive().optional(),
  regions: z.array(z.string().min(1).max(200)).max(50).optional(),
  memoryGiB: z.number().positive().optional(),
  hours: z.number().positive().optional(),
  priority: z.enum(['low', 'normal', 'high', 'critical']).optional(),
});

/** route.submit: the job goes to the Aurora router as a workload of the plan's tenant; a dry run only scores. */
function routeSubmitAction(route: (() => RoutePort | undefined) | undefined): Action {
  return defineAction({
    name: 'route.submit',
    description: 'place a GPU job with the Aurora router (dry run: score the offers and place nothing)',
    params: RouteJobParams,
    dryRun: true,
    effect: 'write',
    idempotent: false,
    async run(p, ctx) {
      const router = route?.();
      if (!router) throw new ControlError('UNAVAILABLE', 'the Aurora router is not configured on this node');
      const { jobId, ...rest } = p;
      const workload = { id: jobId, tenant: ctx.target.tenant, ...rest };
      const caller = { principal: ctx.principal };
      if (ctx.dryRun) {
        const d = await router.recommend(workload, caller);
        const best = d.candidates[0];
        return best
          ? {
              ok: true,
              output: { wouldPlace: best, candidates: d.candidates.length, routeReceipt: d.receipt.index },
            }
          : { ok: false, output: { routeReceipt: d.receipt.index }, error: d.reason.slice(0, 300) };
      }
      const job = await router.place(workload, caller);
      const output = {
        job: job.id,
        state: job.state,
        ...(job.provider
          ? { provider: job.provider, region: job.region, providerJobId: job.providerJobId }
          : {}),
        attempts: job.attempts.map((a) => ({ provider: a.provider, ok: a.ok })),
      };
      return job.state === 'unplaced'
        ? { ok: false, output, error: (job.detail ?? 'no provider could place the job').slice(0, 300) }
        : { ok: true, output };
    },
  });
}

/** The built-in actions. Add your own with `new Map([...createActionRegistry(o), [a.name, a]])`. */
export function createActionRegistry(o: ActionsOptions = {}): ActionRegistry {
  const list = [
    shellAction(o.shell),
    httpAction(o.http),
    probeAction(o.http),
    waitAction(),
    ledgerRecordAction(),
    ...createK8sActions(o.kube),
    routeSubmitAction(o.route),
  ];
  return new Map(list.map((a) => [a.name, a]));
}

/**
 * The facts a step is governed by: its params are parsed first (defaults such as http's GET apply); an unknown
 * action or params it refuses are governed as a write at high risk.
 */
export function governStep(
  action: Action | undefined,
  declared: DeclaredFacts,
  rawParams: unknown,
): GovernedFacts {
  const parsed = action?.params.safeParse(rawParams);
  return parsed?.success
    ? deriveStepFacts(action, declared, parsed.data as Record<string, unknown>)
    : deriveStepFacts(undefined, declared, rawParams);
}

/** Whether an action with these params is safe to repeat. */
export function actionTrait(a: Action, trait: 'idempotent', params: Record<string, unknown>): boolean {
  const t = a[trait];
  return typeof t === 'function' ? t(params) : t;
}
