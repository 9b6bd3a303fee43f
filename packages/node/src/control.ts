// Composition of the control plane for one node: Cedar policy (recorded as `policy` receipts), the SQLite
// ControlStore, autonomy gate, tripwires, action registry, executor, approvals and strategist, plus the small
// facade the HTTP edge calls (it holds no business logic of its own).
import { existsSync, readFileSync } from 'node:fs';
import { nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { tokenActor } from '@vaultmesh/auth';
import { parseVerifierKey } from '@vaultmesh/ledger';
import {
  ControlError,
  auditPlan,
  createLogAuditLedger,
  journalExecutedSteps,
  type AuditCheckName,
  type DenyRule,
  type OutboundGuard,
  type OutboundRules,
  type AuditReport,
  assessReadiness,
  createActionRegistry,
  createPlanGates,
  controlSchemas,
  applicableGoDecision,
  DRY_RUNS,
  replayJournalCounters,
  type MetricSource,
  readinessSources,
  liveRunAllowed,
  readReadinessObservations,
  type ReadinessReport,
  DEFAULT_DENY_COMMANDS,
  createOutboundGuard,
  type RoutePort,
  createApprovals,
  createAutonomyGate,
  createCounterSource,
  createExecutor,
  createOpenAiStrategist,
  createGolivePolls,
  type GolivePolls,
  createPrometheusSource,
  createStrategist,
  createTripwireCheck,
  analysisSettings,
  type AnalysisConfig,
  parseTripwireRules,
  type ApprovalView,
  type ControlStore,
  type CounterSource,
  type Executor,
  type Principal,
  type RunEvent,
  type RunResult,
  type Strategist,
  type TripwireRule,
} from '@vaultmesh/control';
import {
  DEFAULT_POLICIES_PATH,
  createPolicyEngine,
  createRecordingDecider,
  readPolicyFile,
  type PolicyEngine,
  type RecordingDecider,
} from '@vaultmesh/policy';
import { logKeyTexts } from './anchoring.ts';
import { ConfigError } from './config.ts';
import type { OpenedNode } from './node.ts';
import type { AnomalyWatch } from '@vaultmesh/types';
import { newHolderId } from './cluster.ts';
import { withRunLeases } from './run-leases.ts';

/** Control-plane options from configuration (paths resolved by the entry point). */
export interface ControlPlaneOptions {
  /** Cedar policy file; default the shipped packages/policy/policies/default.cedar. */
  readonly policiesFile?: string;
  /** Tripwire rules file (JSON or YAML); default: none. */
  readonly tripwiresFile?: string;
  /** Prometheus base URL for tripwire queries; default: the node's own counters. */
  readonly prometheusUrl?: string;
  /** kubeconfig for k8s.* actions; without it those actions fail with a clear error. */
  readonly kubeconfig?: string;
  readonly kubeContext?: string;
  /** Record allow decisions with this probability (denies are always recorded). Default 1. */
  readonly sampleAllows?: number;
  /** Return denies only once their receipt is durable. Default false (batched with the next group commit). */
  readonly durablePolicyDenies?: boolean;
  /** An OpenAI-compatible strategist for free-text goals; off unless given (with its key). */
  readonly openai?: { readonly baseUrl: string; readonly model: string; readonly timeoutMs?: number };
  readonly openaiApiKey?: string;
  /** The Aurora router for route.submit steps (bound late: the router needs this plane's engine and store). */
  readonly route?: () => RoutePort | undefined;
  /** `readiness` plan gates: checklist files per tenant and an observations file (read when a gate is checked). */
  readonly readiness?: {
    readonly checklists?: Readonly<Record<string, string>>;
    readonly observedFile?: string;
  };
  /** Limit of one Cedar evaluation, ms (default DEFAULT_TIMEOUT_MS of @vaultmesh/policy). */
  readonly policyTimeoutMs?: number;
  /** Four eyes (whoever stored a plan cannot approve it): on by default, per-tenant overrides. */
  readonly fourEyes?: { readonly default?: boolean; readonly tenants?: Readonly<Record<string, boolean>> };
  /** Told of every live control-plane counter increment (the node exports them on /metrics). */
  readonly onCounter?: (name: string, value: number, labels: Readonly<Record<string, string>>) => void;
  /** Outbound destinations of steps: per-tenant allow-lists and denied addresses (default: metadata, link-local). */
  readonly outbound?: OutboundRules;
  /** Continuous analysis of live runs (node defaults; plans may only tighten them). */
  /** The node's Ψ-Field, for `psi` tripwire rules (each rule's series must be one it watches). */
  readonly anomalies?: AnomalyWatch & { names(): string[] };
  readonly analysis?: AnalysisConfig;
  /**
   * Several nodes of one log: the node's holder id and lease TTL for run leases (see run-leases.ts). On PostgreSQL
   * runs always hold their lease (a CLI process gets an id of its own); SQLite has no other node to take over.
   */
  readonly runLeases?: { readonly holder: string; readonly ttlMs: number };
  /** Shell steps: exact command lines governed as reads; destructive-command rules added to the shipped ones. */
  readonly shell?: {
    readonly readOnlyCommands?: readonly (readonly string[])[];
    readonly denyCommands?: readonly DenyRule[];
  };
}

/** A live run's event stream: past events (for late subscribers) and listeners. */
interface RunChannel {
  readonly events: RunEvent[];
  readonly listeners: Set<(e: RunEvent) => void>;
  done: boolean;
}

/** What the HTTP edge and the CLI use. */
export interface ControlPlane {
  readonly store: ControlStore;
  readonly policy: RecordingDecider;
  readonly engine: PolicyEngine;
  /** The Cedar policy set text the engine was built from. */
  readonly policyText: string;
  readonly executor: Executor;
  readonly strategist: Strategist;
  readonly approvals: ReturnType<typeof createApprovals>;
  /** Go/no-go polls (votes authorized by policy action "approve", each recorded). */
  readonly golive: GolivePolls;
  readonly tripwireRules: readonly TripwireRule[];
  /** The node's own counters (the default tripwire metric source); services in-process may report to it. */
  readonly counters: CounterSource;
  /** Resolves (with the count) once the journal's earlier increments are restored into `counters`. */
  readonly countersReplayed: Promise<number>;
  /** The published plan format (JSON Schemas of plans, intents and this node's action params), by file name. */
  schemas(): Record<string, Record<string, unknown>>;
  /** Starts a run in the background; resolves with its id once the run record exists. */
  startRun(req: Parameters<Executor['run']>[0]): Promise<{ runId: string; done: Promise<RunResult> }>;
  /** Subscribes to a run's events (replaying those already emitted); returns an unsubscribe function. */
  /**
   * Subscribes to a run's events (replaying those already emitted); returns an unsubscribe function, or undefined
   * when this process has no events of the run. `follow`: listen for a run about to be driven here (a resume).
   */
  subscribe(
    runId: string,
    listener: (e: RunEvent) => void,
    opts?: { follow?: boolean },
  ): (() => void) | undefined;
  listApprovals(planId?: string): Promise<ApprovalView[]>;
  /**
   * Audits a plan (receipts with verified inclusion proofs, health probes, compliance) after policy allows the
   * caller to read it; records an `audit` receipt. The plan's own `probe` steps are the health probes.
   */
  audit(req: { planId: string; checks: string[]; principal: Principal }): Promise<AuditReport>;
  close(): Promise<void>;
}

/** Builds the control plane over an opened node. A policy file that fails strict validation refuses to start. */
export function createControlPlane(node: OpenedNode, opts: ControlPlaneOptions = {}): ControlPlane {
  const policiesFile = opts.policiesFile ?? DEFAULT_POLICIES_PATH;
  const policyText = readPolicyFile(policiesFile, 'policy file');
  const engine = createPolicyEngine({
    policies: policyText,
    ...(opts.policyTimeoutMs !== undefined ? { timeoutMs: opts.policyTimeoutMs } : {}),
  });
  const policy = createRecordingDecider(engine, node.log, {
    sampleAllows: opts.sampleAllows ?? 1,
    durableDenies: opts.durablePolicyDenies ?? false,
  });
  // The journal gets its own connection with synchronous=NORMAL: in WAL mode its commits survive a process crash at
  // once, and reach the disk with the next fsync, which every step's durable receipt commit (synchronous=FULL on the
  // writer thread) performs right after. So a journal entry is on disk before the receipt that follows it, without
  // an fsync of its own. Only the last 'done' mark can be lost to a power cut; resume then sees the step 'started'
  // with its receipt already in the ledger (see docs/architecture.md).
  const journal = node.storage.openControlStore({ journal: true });
  const store = journal.store;
  const counters = createCounterSource(opts.onCounter ? { onAdd: opts.onCounter } : {});
  // The journal is the counters' durable record: restore what finished before this process (tripwires see it).
  const countersReplayed = replayJournalCounters(store, counters, { before: Date.now() }).catch(() => 0);
  let tripwireRules: TripwireRule[] = [];
  if (opts.tripwiresFile) {
    if (!existsSync(opts.tripwiresFile))
      throw new ConfigError(`tripwires file ${opts.tripwiresFile} does not exist`);
    tripwireRules = [...parseTripwireRules(readFileSync(opts.tripwiresFile, 'utf8'))];
  }
  const watched = new Set(opts.anomalies?.names() ?? []);
  for (const r of tripwireRules)
    if (r.kind === 'psi' && !watched.has(r.series))
      throw new ConfigError(
        `tripwire rule ${r.id} reads series "${r.series}", which the Ψ-Field does not watch (add it to psi.series)`,
      );
  const source: MetricSource = opts.prometheusUrl
    ? createPrometheusSource({ url: opts.prometheusUrl })
    : {
        async query(promql, at) {
          await countersReplayed;
          return counters.query(promql, at);
        },
      };
  const channels = new Map<string, RunChannel>();
  const channel = (runId: string) => {
    let c = channels.get(runId);
    if (!c) channels.set(runId, (c = { events: [], listeners: new Set(), done: false }));
    return c;
  };
  let outbound: OutboundGuard;
  try {
    outbound = createOutboundGuard(opts.outbound ?? {});
  } catch (e) {
    throw new ConfigError(`control.outbound: ${(e as Error).message}`);
  }
  const actions = createActionRegistry({
    http: { outbound },
    shell: {
      readOnlyCommands: opts.shell?.readOnlyCommands ?? [],
      denyCommands: [...DEFAULT_DENY_COMMANDS, ...(opts.shell?.denyCommands ?? [])],
    },
    ...(opts.kubeconfig ? { kube: { kubeconfigPath: opts.kubeconfig, context: opts.kubeContext } } : {}),
    ...(opts.route ? { route: opts.route } : {}),
  });
  const bareExecutor = createExecutor({
    store,
    gates: createPlanGates({
      store,
      readiness: (tenant) => tenantReadiness(tenant, opts),
      receipts: node.log,
    }),
    liveGate: (run) => liveRunAllowed(store, run),
    receipts: node.log,
    policy,
    autonomy: createAutonomyGate(store),
    tripwires: createTripwireCheck({
      rules: tripwireRules,
      source,
      ...(opts.anomalies ? { anomalies: opts.anomalies } : {}),
    }),
    analysis: analysisSettings(opts.analysis),
    actions,
    counters,
    onEvent: (e) => {
      const c = channel(e.runId);
      c.events.push(e);
      if (c.events.length > 10_000) c.events.shift();
      if (e.type === 'run-finished') {
        c.done = true;
        // Keep finished runs' events a while for late subscribers, bounded in count.
        if (channels.size > 200)
          for (const [id, ch] of channels) if (ch.done && id !== e.runId) channels.delete(id);
      }
      for (const l of c.listeners) l(e);
    },
  });
  const newRunId = () => `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const executor =
    node.storage.driver === 'postgres'
      ? withRunLeases(
          bareExecutor,
          {
            leases: node.storage.leases,
            holder: opts.runLeases?.holder ?? newHolderId(),
            ttlMs: opts.runLeases?.ttlMs ?? 3000,
          },
          newRunId,
        )
      : bareExecutor;
  const approvals = createApprovals({
    store,
    receipts: node.log,
    policy,
    fourEyes: (tenant) => opts.fourEyes?.tenants?.[tenant] ?? opts.fourEyes?.default ?? true,
  });
  const golive = createGolivePolls({ store, receipts: node.log, policy });
  const strategist = createStrategist(
    opts.openai && opts.openaiApiKey
      ? {
          ai: createOpenAiStrategist({
            baseUrl: opts.openai.baseUrl,
            model: opts.openai.model,
            apiKey: opts.openaiApiKey,
            timeoutMs: opts.openai.timeoutMs,
          }),
        }
      : {},
  );
  return {
    store,
    policy,
    engine,
    policyText,
    executor,
    strategist,
    approvals,
    golive,
    tripwireRules,
    counters,
    countersReplayed,
    schemas: () => controlSchemas(actions),
    async startRun(req) {
      const runId = req.runId ?? newRunId();
      channel(runId);
      const started = new Promise<void>((resolve) => {
        const l = (e: RunEvent) => {
          if (e.type === 'run-started' || e.type === 'run-finished') {
            channels.get(runId)?.listeners.delete(l);
            resolve();
          }
        };
        channels.get(runId)!.listeners.add(l);
      });
      const done = executor.run({ ...req, runId });
      // A refusal (stale plan, live before dry-run ...) rejects before any event: surface it to the caller.
      await Promise.race([started, done.then(() => undefined)]);
      return { runId, done };
    },
    subscribe(runId, listener, o = {}) {
      const c = channels.get(runId) ?? (o.follow ? channel(runId) : undefined);
      if (!c) return undefined;
      for (const e of c.events) listener(e);
      if (c.done) return () => undefined;
      c.listeners.add(listener);
      return () => c.listeners.delete(listener);
    },
    listApprovals: (planId) => approvals.list(planId),
    async audit({ planId, checks, principal }) {
      const stored = await executor.getPlan(planId);
      const decision = await policy.decide({
        principal,
        action: 'read',
        resource: {
          type: 'plan',
          id: planId,
          tenant: stored.plan.target.tenant,
          environment: stored.plan.target.environment,
          ...(stored.plan.target.region ? { region: stored.plan.target.region } : {}),
        },
        context: { purpose: 'audit', time: new Date().toISOString() },
      });
      if (decision.decision !== 'allow')
        throw new ControlError('POLICY_DENIED', `policy denied ${principal.id} auditing plan ${planId}`, {
          decision,
        });
      const probes = stored.plan.phases.flatMap((ph) =>
        ph.steps
          .filter((st) => st.action === 'probe' && typeof st.params.url === 'string')
          .map((st) => ({ name: `${ph.id}/${st.id}`, url: st.params.url as string })),
      );
      const keys = (await logKeyTexts(node.storage, node.key.verifierKeyText)).map((k) =>
        parseVerifierKey(k),
      );
      return auditPlan({
        planId,
        checks: checks as AuditCheckName[],
        ledger: createLogAuditLedger({ storage: node.storage, log: node.log }),
        trust: {
          origin: node.origin,
          verifierKeys: keys,
          hasher: nodeHasher,
          ed25519Verify: nodeEd25519Verify,
        },
        executedSteps: journalExecutedSteps(executor),
        // The plan's probe URLs are its author's: the tenant's outbound rules apply to the auditor too.
        health: { probes, fetch: outbound.fetchFor(stored.plan.target.tenant) },
        compliance: { plan: stored.plan },
        currentPlanHash: stored.planHash,
        // What a live run relied on: the successful dry-run records of its plan hash and the go decision.
        reliance: async (run) => {
          let dryRun: { runId: string; receiptIndex?: number } | undefined;
          for (const phase of run.phases) {
            const d = await store.get<{ runId: string; receipt: { index: number } | null }>(
              DRY_RUNS,
              `${run.planHash}/${phase}`,
            );
            if (d)
              dryRun = {
                runId: d.doc.runId,
                ...(d.doc.receipt ? { receiptIndex: d.doc.receipt.index } : {}),
              };
          }
          const go = await applicableGoDecision(store, {
            tenant: stored.plan.target.tenant,
            planId: stored.plan.id,
            planHash: run.planHash,
          });
          return {
            ...(dryRun ? { dryRun } : {}),
            ...(go
              ? {
                  go: {
                    pollId: go.id,
                    outcome: go.outcome ?? 'open',
                    ...(go.outcomeReceipt ? { receiptIndex: go.outcomeReceipt.index } : {}),
                  },
                }
              : {}),
          };
        },
        receipts: node.log,
        actor: principal.id,
      });
    },
    async close() {
      try {
        await policy.flush();
      } finally {
        journal.close();
      }
    },
  };
}

/**
 * A tenant's readiness for `readiness` gates: its configured checklist against the observations file and, when
 * configured, Prometheus. Undefined when no checklist is configured for the tenant; a file that cannot be read is a
 * NOT_READY finding (the gate fails, saying why).
 */
async function tenantReadiness(
  tenant: string,
  opts: ControlPlaneOptions,
): Promise<ReadinessReport | undefined> {
  const file = opts.readiness?.checklists?.[tenant];
  if (file === undefined) return undefined;
  const failed = (item: string, detail: string): ReadinessReport => ({
    status: 'NOT_READY',
    tenant,
    assessedAt: new Date().toISOString(),
    findings: [{ section: 'traffic', item, ok: false, expected: 'readable', observed: null, detail }],
  });
  let checklist: string;
  let observed: ReturnType<typeof readReadinessObservations> = {};
  try {
    checklist = readFileSync(file, 'utf8');
  } catch (e) {
    return failed('checklist', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    if (opts.readiness?.observedFile)
      observed = readReadinessObservations(readFileSync(opts.readiness.observedFile, 'utf8'));
  } catch (e) {
    return failed('observations', `cannot read ${opts.readiness?.observedFile}: ${(e as Error).message}`);
  }
  return assessReadiness({
    tenant,
    checklist,
    ...readinessSources(observed, opts.prometheusUrl, opts.readiness?.observedFile),
  });
}

/** The control-plane principal of an API token holder. */
export function controlPrincipal(p: {
  tokenId: string;
  name: string;
  role: Principal['role'];
  tenant: string;
}): Principal {
  return {
    type: p.role === 'agent' ? 'agent' : 'person',
    id: tokenActor(p),
    role: p.role,
    tenant: p.tenant,
  };
}
