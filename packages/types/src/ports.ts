// The shared ports: what the control plane, the router and the edges need from policy, the ledger and storage.
// Adapters live at the edges (@vaultmesh/policy implements PolicyDecider; the node adapts the Log to ReceiptWriter;
// store-sqlite and the memory stores implement ControlStore). Each says in one line what it guarantees.

/** Who is asking: a person, an agent or a service, with a role and a tenant scope ('*' = every tenant). */
export interface Principal {
  readonly type: 'person' | 'agent' | 'service';
  readonly id: string;
  readonly role: 'admin' | 'operator' | 'agent' | 'auditor' | 'viewer';
  readonly tenant: string;
}

/** One authorization question. Actions are e.g. "plan", "execute:shell", "approve", "route", "read", "record", "tool:<name>". */
export interface PolicyRequest {
  readonly principal: Principal;
  readonly action: string;
  /** The resource asked about, e.g. { type: 'plan', id: 'p-123', tenant: 'acme', environment: 'prod' }. */
  readonly resource: {
    readonly type: 'plan' | 'tenant' | 'environment' | 'provider' | 'ledger' | 'tool' | 'template';
    readonly id: string;
    readonly tenant: string;
    readonly environment?: string;
    readonly region?: string;
  };
  readonly context: {
    readonly purpose?: string;
    /** Data residency the caller requires, e.g. "eu". */
    readonly residency?: string;
    readonly dryRun?: boolean;
    /** RFC 3339 time of the request. */
    readonly time?: string;
    readonly [extra: string]: unknown;
  };
}

/** A policy outcome is a value, never an exception: any evaluation error, diagnostic error or timeout is a deny. */
export interface PolicyDecision {
  readonly decision: 'allow' | 'deny';
  /** Ids of the policies that determined the outcome, or the error that forced a deny. */
  readonly reasons: readonly string[];
  readonly errors: readonly string[];
  /** SHA-256 (hex) of the policy set that decided. */
  readonly policySetHash: string;
}

/** Port: decides a request against the loaded policy set; must fail closed and never throw. */
export interface PolicyDecider {
  readonly policySetHash: string;
  decide(req: PolicyRequest): Promise<PolicyDecision>;
}

/** Port: appends a receipt to the ledger and resolves once it is durable (see @vaultmesh/log AppendInput). */
export interface ReceiptWriter {
  append(input: {
    kind: string;
    actor: string;
    tenant: string;
    body: Record<string, unknown>;
    parents?: readonly (number | { index: number; leafHash: string })[];
  }): Promise<{ index: number; leafHash: string }>;
}

/** A stored document of the control plane, versioned for compare-and-swap. */
export interface ControlDoc<T = unknown> {
  readonly collection: string;
  readonly id: string;
  /** 1 for a new document; each successful put increments it. */
  readonly version: number;
  readonly doc: T;
  readonly updatedAt: number;
}

/**
 * Port: durable documents of the control plane (plans, runs, journal entries, approvals, autonomy settings,
 * votes). `put` is atomic and durable when it resolves; with `expectedVersion` it is a compare-and-swap (0 = must
 * not exist) and fails with StoreError 'CONFLICT' on a mismatch, writing nothing.
 */
export interface ControlStore {
  get<T>(collection: string, id: string): Promise<ControlDoc<T> | undefined>;
  put<T>(collection: string, id: string, doc: T, opts?: { expectedVersion?: number }): Promise<ControlDoc<T>>;
  /** Documents of a collection whose id starts with `prefix` (all when absent), ordered by id. */
  list<T>(collection: string, opts?: { prefix?: string; limit?: number }): Promise<ControlDoc<T>[]>;
  delete(collection: string, id: string): Promise<boolean>;
}

/** The step facts the autonomy gate and tripwires see (a subset of the plan step, see plan.ts). */
export interface StepFacts {
  readonly planId: string;
  readonly planHash: string;
  readonly runId: string;
  readonly phaseId: string;
  readonly stepId: string;
  readonly action: string;
  readonly tenant: string;
  readonly risk: 'low' | 'medium' | 'high' | 'critical';
  readonly reversible: boolean;
  /** The step only reads (probe, http GET, wait, k8s get ...). */
  readonly readOnly: boolean;
  /** The step computes an aggregate from data already held (counts, sums); T3 lets these run alone. */
  readonly aggregation: boolean;
  readonly dryRun: boolean;
}

/** Port: whether a step may run without a human approval under the tenant's autonomy tier. Never throws. */
export interface AutonomyGate {
  decide(step: StepFacts): Promise<{ mode: 'auto' | 'approval-required'; tier: string; reason: string }>;
}

/** A tripwire that fired. `halt` stops the run (and rolls back); `pause` holds it until resumed. */
export interface FiredTripwire {
  readonly id: string;
  readonly action: 'halt' | 'pause';
  readonly reason: string;
  /** The measured values that fired it (burn rates per window, compensation rate ...). */
  readonly evidence: Readonly<Record<string, number | string>>;
}

/** Port: evaluates the tripwires before each step; an evaluation error is reported as a fired `halt` (fail closed). */
export interface TripwireCheck {
  check(step: StepFacts): Promise<readonly FiredTripwire[]>;
  /**
   * Every rule's evaluation (pass, fail or inconclusive), for continuous analysis during live runs; absent when
   * there are no rules (then nothing is analysed). Never rejects.
   */
  evaluate?(step: StepFacts): Promise<readonly TripwireEvaluationResult[]>;
}

/** One scored point of a watched series, as the tripwires read it. */
export interface AnomalyPoint {
  /** Unix ms. */
  readonly time: number;
  readonly value: number;
  /** Anomaly likelihood in [0, 1]. */
  readonly likelihood: number;
}

/** Port: the node's Ψ-Field as `psi` tripwire rules read it (@vaultmesh/psi PsiField satisfies it). */
export interface AnomalyWatch {
  /** The last `n` scored points of a watched series, oldest first; undefined when the series is not watched. */
  recent(series: string, n: number): readonly AnomalyPoint[] | undefined;
}

/** One rule's evaluation at an instant (tripwires.ts TripwireEvaluation satisfies it). */
export interface TripwireEvaluationResult {
  readonly id: string;
  readonly fired: boolean;
  readonly result: 'pass' | 'fail' | 'inconclusive';
  readonly action: 'halt' | 'pause';
  readonly reason: string;
  readonly evidence: Readonly<Record<string, number | string>>;
}

/** Port: read-only ledger questions for `ledger` plan preconditions; resolves false when nothing matches. */
export interface LedgerQuery {
  /** Whether a receipt of `kind` under `tenant` exists whose body has every listed top-level field equal. */
  hasReceipt(q: {
    kind: string;
    tenant: string;
    body: Readonly<Record<string, string | number | boolean>>;
  }): Promise<boolean>;
}

/** Port: go/no-go and readiness verdicts for a plan's `golive`/`readiness` gates; a thrown error counts as a fail. */
export interface GateCheck {
  check(
    gate: { id: string; kind: string; phaseId: string; params?: Record<string, unknown> },
    run: { planId: string; planHash: string; runId: string; tenant: string; environment: string },
  ): Promise<{ pass: boolean; reason: string }>;
}

/** A lease as granted: who holds it, its fencing token (grows with every change of holder) and its expiry. */
export interface LeaseGrant {
  readonly name: string;
  readonly holder: string;
  readonly token: number;
  /** Unix ms by the store's clock when the lease lapses unless renewed. */
  readonly expiresAt: number;
}

/**
 * Port: named leases with fencing tokens, so work that must run once per cluster runs on one node at a time.
 * `acquire` grants or renews the lease for `holder` for `ttlMs` (by the store's own clock) and resolves undefined
 * while another holder's lease is unexpired; a new holder gets a larger token than every earlier one.
 */
export interface LeaseStore {
  acquire(name: string, holder: string, ttlMs: number): Promise<LeaseGrant | undefined>;
  /** Gives the lease up (only the holder with that token can); true when it did. */
  release(name: string, holder: string, token: number): Promise<boolean>;
  current(name: string): Promise<LeaseGrant | undefined>;
}
