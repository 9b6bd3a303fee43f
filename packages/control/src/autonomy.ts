// Autonomy tiers: per tenant, which plan steps may run without a human approval. Settings live in the ControlStore
// (collection 'autonomy', id = tenant); a tenant without settings is T0 (fail closed). Every change appends a
// `decision` receipt (tags ['autonomy']) before it is applied, chained to the tenant's previous autonomy receipt.
//
// The tiers are exactly the product spec's, and they are NOT a ladder: T3 is "read-only + computed aggregations
// automatic", so a reversible write that T2 runs alone needs an approval under T3 (see docs/architecture.md).
//
//   tier  runs alone                      needs approval
//   T0    nothing                         every step
//   T1    read-only steps                 everything else
//   T2    read-only or reversible steps   irreversible writes
//   T3    read-only or aggregation steps  every other write, reversible or not
//
// On top of the tier: `requireHitl` forces an approval for every step that is not read-only, and `maxAutoRisk`
// (optional risk ceiling) forces one for every step riskier than it. Both only ever add approvals.
import { createHash, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import { canonicalBytes } from '@vaultmesh/ledger';
import { z } from 'zod/v4';
import { parseConfigText, parseWith } from './config-text.ts';
import { ControlError, isConflict } from './errors.ts';
import type {
  AutonomyGate,
  ControlStore,
  PolicyDecider,
  Principal,
  ReceiptWriter,
  StepFacts,
} from '@vaultmesh/types';

/** ControlStore collection of autonomy settings (id = tenant). */
export const AUTONOMY_COLLECTION = 'autonomy';
/** ControlStore collection of single-use enactment approvals (id = approval id; secrets kept as SHA-256). */
export const AUTONOMY_APPROVALS_COLLECTION = 'autonomy-approvals';
/** The autonomy tiers, in the spec's order (which is not an order of permissiveness: see the file comment). */
export const AUTONOMY_TIERS = ['T0', 'T1', 'T2', 'T3'] as const;
/** The tier of a tenant without settings: manual (fail closed). */
export const DEFAULT_AUTONOMY_TIER: AutonomyTier = 'T0';
/** Default lifetime of an enactment approval token. */
export const DEFAULT_ENACT_APPROVAL_TTL_MS = 60 * 60 * 1000;
/** A scenario may ask for at most this many executions (ops × repeat): results are re-simulated on enactment. */
export const MAX_SIMULATED_EXECUTIONS = 100_000;
/** Step risks, lowest first (the same order as the plan schema's). */
export const AUTONOMY_RISKS = ['low', 'medium', 'high', 'critical'] as const;

/** An autonomy tier. */
export type AutonomyTier = (typeof AUTONOMY_TIERS)[number];
/** A step risk. */
export type AutonomyRisk = StepFacts['risk'];
/** A ledger position (what a ReceiptWriter returns). */
export interface AutonomyReceiptRef {
  readonly index: number;
  readonly leafHash: string;
}

/** A tenant's autonomy settings as stored. */
export interface AutonomySettings {
  readonly tenant: string;
  readonly tier: AutonomyTier;
  readonly requireHitl: boolean;
  /** Steps riskier than this always need an approval; absent = no ceiling beyond the tier. */
  readonly maxAutoRisk?: AutonomyRisk;
  readonly updatedBy: string;
  /** RFC 3339 time of the change. */
  readonly updatedAt: string;
  /** The `decision` receipt that recorded the change. */
  readonly receipt: AutonomyReceiptRef;
  /** Set when the change was enacted from a simulation: its digest and the approval used. */
  readonly simDigest?: string;
  readonly approvalId?: string;
}

/** A tenant's effective autonomy: its stored settings, or the T0 default when it has none. */
export type AutonomyStatus =
  | (AutonomySettings & { readonly source: 'stored' })
  | {
      readonly source: 'default';
      readonly tenant: string;
      readonly tier: AutonomyTier;
      readonly requireHitl: boolean;
    };

/** The question an `authorize` hook is asked before a change (a PolicyDecider can answer it: autonomyAuthorizer). */
export interface AutonomyAction {
  readonly action: 'autonomy:set' | 'autonomy:approve' | 'autonomy:enact';
  readonly tenant: string;
  readonly tier: AutonomyTier;
  readonly requireHitl: boolean;
  readonly maxAutoRisk?: AutonomyRisk;
  readonly simDigest?: string;
}

/** Authorization hook: resolve true to allow. false, a rejection or a throw denies (POLICY_DENIED). */
export type AutonomyAuthorize = (action: AutonomyAction) => Promise<boolean>;

/** The facts of a step the tier rules look at. */
export type AutonomyStepFacts = Pick<StepFacts, 'readOnly' | 'reversible' | 'aggregation' | 'risk'>;

/** The gate's answer for one step. */
export interface AutonomyDecision {
  readonly mode: 'auto' | 'approval-required';
  readonly tier: string;
  readonly reason: string;
}

const TenantSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'must match ^[a-z0-9][a-z0-9_.-]{0,62}$ (the receipt tenant rule)');
const TierSchema = z.enum(AUTONOMY_TIERS);
const RiskSchema = z.enum(AUTONOMY_RISKS);
const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
const RefSchema = z.strictObject({ index: z.number().int().min(0), leafHash: Hex64 });

const SettingsSchema = z.strictObject({
  tenant: TenantSchema,
  tier: TierSchema,
  requireHitl: z.boolean(),
  maxAutoRisk: RiskSchema.optional(),
  updatedBy: z.string().min(1),
  updatedAt: z.string().min(1),
  receipt: RefSchema,
  simDigest: Hex64.optional(),
  approvalId: z.string().optional(),
});

const riskRank = (r: AutonomyRisk): number => AUTONOMY_RISKS.indexOf(r);
const sha256Hex = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** Whether the tier alone lets the step run without approval (the spec's table; no flags, no ceiling). */
export function tierAllows(
  tier: AutonomyTier,
  step: Pick<StepFacts, 'readOnly' | 'reversible' | 'aggregation'>,
): boolean {
  switch (tier) {
    case 'T0':
      return false;
    case 'T1':
      return step.readOnly;
    case 'T2':
      return step.readOnly || step.reversible;
    case 'T3':
      // As specified: read-only + computed aggregations. Reversibility does not count here (unlike T2).
      return step.readOnly || step.aggregation;
  }
}

const TIER_RUNS: Record<AutonomyTier, string> = {
  T0: 'nothing',
  T1: 'read-only steps',
  T2: 'read-only and reversible steps',
  T3: 'read-only and aggregation steps',
};

/** Decides one step under the given settings (pure): tier first, then requireHitl and the risk ceiling. */
export function decideAutonomy(
  settings: { tier: AutonomyTier; requireHitl: boolean; maxAutoRisk?: AutonomyRisk | undefined },
  step: AutonomyStepFacts,
): AutonomyDecision {
  const { tier } = settings;
  const need = (reason: string): AutonomyDecision => ({ mode: 'approval-required', tier, reason });
  if (tier === 'T0') return need('T0 (manual): every step needs a human approval');
  if (settings.requireHitl && !step.readOnly)
    return need(`${tier} with requireHitl: a step that is not read-only needs a human approval`);
  if (settings.maxAutoRisk !== undefined && riskRank(step.risk) > riskRank(settings.maxAutoRisk))
    return need(`${tier}: risk ${step.risk} is above the autonomy ceiling ${settings.maxAutoRisk}`);
  const facts = `${step.readOnly ? 'read-only' : 'not read-only'}, ${step.reversible ? 'reversible' : 'irreversible'}${
    step.aggregation ? ', an aggregation' : ''
  }`;
  if (tierAllows(tier, step))
    return { mode: 'auto', tier, reason: `${tier} runs ${TIER_RUNS[tier]} alone; this step is ${facts}` };
  return need(`${tier} runs only ${TIER_RUNS[tier]} alone; this step is ${facts}`);
}

/** A tenant's effective autonomy (the T0 default when it has none); INVALID_ARGUMENT when the stored doc is malformed. */
export async function getAutonomy(store: ControlStore, tenant: string): Promise<AutonomyStatus> {
  const d = await store.get<unknown>(AUTONOMY_COLLECTION, tenant);
  if (!d) return { source: 'default', tenant, tier: DEFAULT_AUTONOMY_TIER, requireHitl: false };
  return { ...parseWith(SettingsSchema, d.doc, `autonomy settings of ${tenant}`), source: 'stored' };
}

/** Every tenant with stored settings, ordered by tenant (malformed docs are skipped). */
export async function listAutonomy(store: ControlStore): Promise<AutonomySettings[]> {
  const docs = await store.list<unknown>(AUTONOMY_COLLECTION);
  return docs.flatMap((d) => {
    const r = SettingsSchema.safeParse(d.doc);
    return r.success ? [r.data] : [];
  });
}

/** The AutonomyGate over stored settings. Never throws: an unreadable or malformed setting asks for approval. */
export function createAutonomyGate(store: ControlStore): AutonomyGate {
  return {
    async decide(step) {
      let status: AutonomyStatus;
      try {
        status = await getAutonomy(store, step.tenant);
      } catch (e) {
        return {
          mode: 'approval-required',
          tier: DEFAULT_AUTONOMY_TIER,
          reason: `autonomy settings of tenant ${step.tenant} could not be read (${(e as Error).message}); approval required`,
        };
      }
      const d = decideAutonomy(status, step);
      return status.source === 'default'
        ? { ...d, reason: `tenant ${step.tenant} has no autonomy settings, so T0 (fail closed): ${d.reason}` }
        : d;
    },
  };
}

/**
 * An `authorize` hook backed by a PolicyDecider: asks `decide` for `principal` with the action 'autonomy:set',
 * 'autonomy:approve' or 'autonomy:enact' on resource { type: 'tenant', id: tenant }, the tier in the context.
 * Only an explicit allow passes (a policy set that does not mention these actions denies them).
 */
export function autonomyAuthorizer(
  decider: PolicyDecider,
  principal: Principal,
  now: () => number = Date.now,
): AutonomyAuthorize {
  return async (a) => {
    const d = await decider.decide({
      principal,
      action: a.action,
      resource: { type: 'tenant', id: a.tenant, tenant: a.tenant },
      context: {
        time: new Date(now()).toISOString(),
        tier: a.tier,
        requireHitl: a.requireHitl,
        ...(a.maxAutoRisk ? { maxAutoRisk: a.maxAutoRisk } : {}),
        ...(a.simDigest ? { simDigest: a.simDigest } : {}),
      },
    });
    return d.decision === 'allow';
  };
}

async function assertAuthorized(authorize: AutonomyAuthorize | undefined, a: AutonomyAction): Promise<void> {
  if (!authorize) return;
  let ok = false;
  let why = 'denied';
  try {
    ok = (await authorize(a)) === true;
  } catch (e) {
    why = `authorization failed: ${(e as Error).message}`;
  }
  if (!ok)
    throw new ControlError('POLICY_DENIED', `${a.action} of tenant ${a.tenant} to ${a.tier}: ${why}`, {
      action: a.action,
      tenant: a.tenant,
    });
}

/** What setAutonomy needs. */
export interface SetAutonomyOptions {
  readonly store: ControlStore;
  readonly receipts: ReceiptWriter;
  /** The receipt actor, e.g. `cli:alice` or `token:ops`. */
  readonly actor: string;
  readonly tenant: string;
  readonly tier: AutonomyTier;
  readonly requireHitl?: boolean;
  readonly maxAutoRisk?: AutonomyRisk;
  /** Why (goes into the receipt's `rationale`). */
  readonly rationale?: string;
  /** Asked with 'autonomy:set' before anything is written; absent = the caller already authorized. */
  readonly authorize?: AutonomyAuthorize;
  readonly now?: () => number;
}

/** A change that was recorded and applied. */
export interface AutonomyChange {
  readonly settings: AutonomySettings;
  readonly previous: AutonomyStatus;
  readonly receipt: AutonomyReceiptRef;
}

interface WriteSettings {
  readonly store: ControlStore;
  readonly receipts: ReceiptWriter;
  readonly actor: string;
  readonly tenant: string;
  readonly tier: AutonomyTier;
  readonly requireHitl: boolean;
  readonly maxAutoRisk?: AutonomyRisk | undefined;
  readonly title: string;
  readonly rationale?: string | undefined;
  readonly now: () => number;
  readonly extra?: { simDigest: string; approvalId: string; approvedBy: string };
  readonly parents?: readonly AutonomyReceiptRef[];
}

// Receipt first, then a compare-and-swap on the version read before it: nothing changes unrecorded, and a
// concurrent change makes this one fail with CONFLICT (its receipt then records an attempt that did not apply).
async function writeSettings(w: WriteSettings): Promise<AutonomyChange> {
  const cur = await w.store.get<unknown>(AUTONOMY_COLLECTION, w.tenant);
  const parsed = cur ? SettingsSchema.safeParse(cur.doc) : undefined;
  // A malformed stored doc is overwritten (the compare-and-swap still guards it); it counts as the T0 default.
  const previous: AutonomyStatus = parsed?.success
    ? { ...parsed.data, source: 'stored' }
    : { source: 'default', tenant: w.tenant, tier: DEFAULT_AUTONOMY_TIER, requireHitl: false };
  const updatedAt = new Date(w.now()).toISOString();
  const parents = [...(w.parents ?? []), ...(previous.source === 'stored' ? [previous.receipt] : [])];
  const receipt = await w.receipts.append({
    kind: 'decision',
    actor: w.actor,
    tenant: w.tenant,
    body: {
      title: w.title,
      rationale: w.rationale ?? '',
      status: 'accepted',
      tags: ['autonomy'],
      tenant: w.tenant,
      tier: w.tier,
      requireHitl: w.requireHitl,
      ...(w.maxAutoRisk ? { maxAutoRisk: w.maxAutoRisk } : {}),
      previousTier: previous.tier,
      ...(w.extra ?? {}),
    },
    ...(parents.length ? { parents } : {}),
  });
  const ref = { index: receipt.index, leafHash: receipt.leafHash };
  const settings: AutonomySettings = {
    tenant: w.tenant,
    tier: w.tier,
    requireHitl: w.requireHitl,
    ...(w.maxAutoRisk ? { maxAutoRisk: w.maxAutoRisk } : {}),
    updatedBy: w.actor,
    updatedAt,
    receipt: ref,
    ...(w.extra ? { simDigest: w.extra.simDigest, approvalId: w.extra.approvalId } : {}),
  };
  await w.store.put(AUTONOMY_COLLECTION, w.tenant, settings, { expectedVersion: cur?.version ?? 0 });
  return { settings, previous, receipt: ref };
}

/** Sets a tenant's tier: authorizes ('autonomy:set'), appends the `decision` receipt, then stores the settings. */
export async function setAutonomy(opts: SetAutonomyOptions): Promise<AutonomyChange> {
  const tenant = parseWith(TenantSchema, opts.tenant, 'tenant');
  const tier = parseWith(TierSchema, opts.tier, 'tier');
  const maxAutoRisk =
    opts.maxAutoRisk === undefined ? undefined : parseWith(RiskSchema, opts.maxAutoRisk, 'maxAutoRisk');
  const requireHitl = opts.requireHitl ?? false;
  await assertAuthorized(opts.authorize, {
    action: 'autonomy:set',
    tenant,
    tier,
    requireHitl,
    ...(maxAutoRisk ? { maxAutoRisk } : {}),
  });
  return writeSettings({
    store: opts.store,
    receipts: opts.receipts,
    actor: opts.actor,
    tenant,
    tier,
    requireHitl,
    maxAutoRisk,
    title: `autonomy of ${tenant} set to ${tier}${requireHitl ? ' (human in the loop)' : ''}`,
    rationale: opts.rationale,
    now: opts.now ?? Date.now,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Simulation

const OpSchema = z
  .strictObject({
    action: z.string().min(1).max(200),
    readOnly: z.boolean(),
    reversible: z.boolean(),
    aggregation: z.boolean().optional(),
    risk: RiskSchema,
    /** The op's outcome; or give `failureRate` (with a scenario `seed`) to draw it. */
    outcome: z.enum(['success', 'failure']).optional(),
    failureRate: z.number().min(0).max(1).optional(),
    /** The op's effect was undone by a compensation (rollback); with `failureRate`: whenever the draw fails. */
    compensates: z.boolean().optional(),
  })
  .refine((o) => (o.outcome === undefined) !== (o.failureRate === undefined), {
    message: 'give exactly one of outcome and failureRate',
  });

/** The scenario schema of `simulateAutonomy` (JSON or YAML; unknown fields are refused). */
export const AutonomyScenarioSchema = z
  .strictObject({
    tenant: TenantSchema,
    tier: TierSchema,
    requireHitl: z.boolean().optional(),
    maxAutoRisk: RiskSchema.optional(),
    /** Needed when an op has `failureRate`; the draws are a pure function of it. */
    seed: z.union([z.string().min(1).max(200), z.number().int()]).optional(),
    /** How many times the op list is replayed (default 1). */
    repeat: z.number().int().min(1).max(10_000).optional(),
    ops: z.array(OpSchema).min(1).max(1000),
    expect: z
      .strictObject({
        successRate: z.strictObject({ min: z.number().min(0).max(1) }).optional(),
        compensationRate: z.strictObject({ max: z.number().min(0).max(1) }).optional(),
      })
      .refine((e) => e.successRate !== undefined || e.compensationRate !== undefined, {
        message: 'expect needs successRate.min or compensationRate.max',
      }),
  })
  .refine((s) => s.ops.length * (s.repeat ?? 1) <= MAX_SIMULATED_EXECUTIONS, {
    message: `ops × repeat must be at most ${MAX_SIMULATED_EXECUTIONS}`,
    path: ['repeat'],
  })
  .refine((s) => s.seed !== undefined || s.ops.every((o) => o.failureRate === undefined), {
    message: 'ops with failureRate need a seed (the simulation never draws without one)',
    path: ['seed'],
  });

/** A validated scenario. */
export type AutonomyScenario = z.output<typeof AutonomyScenarioSchema>;

/** What the simulation concluded about one op of the scenario (summed over `repeat`). */
export interface SimulatedOp {
  readonly index: number;
  readonly action: string;
  readonly mode: 'auto' | 'approval-required';
  readonly reason: string;
  readonly runs: number;
  readonly successes: number;
  readonly failures: number;
  readonly compensations: number;
}

/** One expectation and whether it held. */
export interface SimulationCheck {
  readonly name: 'successRate' | 'compensationRate';
  readonly actual: number;
  readonly min?: number;
  readonly max?: number;
  readonly pass: boolean;
}

/** The result of a simulation; `digest` is SHA-256 (hex) of the RFC 8785 bytes of everything else. */
export interface AutonomySimulation {
  readonly v: 1;
  readonly type: 'vaultmesh.autonomy.simulation';
  readonly scenario: AutonomyScenario;
  readonly tenant: string;
  readonly tier: AutonomyTier;
  readonly requireHitl: boolean;
  readonly ops: readonly SimulatedOp[];
  readonly totals: {
    readonly executions: number;
    readonly auto: number;
    readonly approvalRequired: number;
    readonly successes: number;
    readonly failures: number;
    readonly compensations: number;
  };
  /** successes / executions, over every execution (automatic or approved). */
  readonly successRate: number;
  /** compensated executions / executions. */
  readonly compensationRate: number;
  readonly checks: readonly SimulationCheck[];
  readonly passed: boolean;
  readonly digest: string;
}

/** Parses a scenario file (JSON or YAML text) and validates it; INVALID_ARGUMENT naming every problem. */
export function parseAutonomyScenario(text: string): AutonomyScenario {
  return parseWith(AutonomyScenarioSchema, parseConfigText(text, 'autonomy scenario'), 'autonomy scenario');
}

// Draw i of a seeded run: the first 48 bits of SHA-256(JCS([seed, i])) as a fraction in [0, 1). No state, so a
// re-run (enactAutonomy re-simulates) draws exactly the same numbers on any platform.
function draw(seed: string | number, i: number): number {
  const h = createHash('sha256')
    .update(canonicalBytes([seed, i]))
    .digest();
  return h.readUIntBE(0, 6) / 2 ** 48;
}

/** The digest of a simulation result (SHA-256 of the canonical JSON of all its fields but `digest`). */
export function simulationDigest(sim: Omit<AutonomySimulation, 'digest'> & { digest?: string }): string {
  const { digest: _omit, ...rest } = sim;
  return sha256Hex(canonicalBytes(rest));
}

/**
 * Runs a scenario (an object, validated here) through the same tier rules as the gate, deterministically: outcomes
 * are as given, or drawn from `seed`. Reports which ops would run alone, the success and compensation rates, and
 * whether `expect` holds. Approval-required ops count as run (after approval) in the rates.
 */
export function simulateAutonomy(scenario: unknown): AutonomySimulation {
  const s = parseWith(AutonomyScenarioSchema, scenario, 'autonomy scenario');
  const settings = { tier: s.tier, requireHitl: s.requireHitl ?? false, maxAutoRisk: s.maxAutoRisk };
  const repeat = s.repeat ?? 1;
  let drawIndex = 0;
  const ops: SimulatedOp[] = s.ops.map((op, index) => {
    const d = decideAutonomy(settings, { ...op, aggregation: op.aggregation ?? false });
    let successes = 0;
    let compensations = 0;
    for (let r = 0; r < repeat; r++) {
      const failed =
        op.outcome !== undefined ? op.outcome === 'failure' : draw(s.seed!, drawIndex++) < op.failureRate!;
      if (!failed) successes++;
      const compensated =
        op.outcome !== undefined ? op.compensates === true : failed && op.compensates === true;
      if (compensated) compensations++;
    }
    return {
      index,
      action: op.action,
      mode: d.mode,
      reason: d.reason,
      runs: repeat,
      successes,
      failures: repeat - successes,
      compensations,
    };
  });
  const sum = (f: (o: SimulatedOp) => number) => ops.reduce((a, o) => a + f(o), 0);
  const executions = sum((o) => o.runs);
  const totals = {
    executions,
    auto: sum((o) => (o.mode === 'auto' ? o.runs : 0)),
    approvalRequired: sum((o) => (o.mode === 'auto' ? 0 : o.runs)),
    successes: sum((o) => o.successes),
    failures: sum((o) => o.failures),
    compensations: sum((o) => o.compensations),
  };
  const successRate = totals.successes / executions;
  const compensationRate = totals.compensations / executions;
  const checks: SimulationCheck[] = [];
  if (s.expect.successRate)
    checks.push({
      name: 'successRate',
      actual: successRate,
      min: s.expect.successRate.min,
      pass: successRate >= s.expect.successRate.min,
    });
  if (s.expect.compensationRate)
    checks.push({
      name: 'compensationRate',
      actual: compensationRate,
      max: s.expect.compensationRate.max,
      pass: compensationRate <= s.expect.compensationRate.max,
    });
  const body: Omit<AutonomySimulation, 'digest'> = {
    v: 1,
    type: 'vaultmesh.autonomy.simulation',
    scenario: s,
    tenant: s.tenant,
    tier: s.tier,
    requireHitl: settings.requireHitl,
    ops,
    totals,
    successRate,
    compensationRate,
    checks,
    passed: checks.every((c) => c.pass),
  };
  return { ...body, digest: simulationDigest(body) };
}

/**
 * Checks an untrusted simulation result (e.g. a RESULT.json file): it must re-simulate from its own scenario to the
 * same digest it carries, and have passed its expectations. SIMULATION_REJECTED otherwise.
 */
export function verifySimulation(fromSim: unknown): AutonomySimulation {
  // Attacker-controlled: only `scenario` and `digest` are read; everything else is recomputed.
  const claimed = (fromSim ?? {}) as { scenario?: unknown; digest?: unknown };
  if (typeof fromSim !== 'object' || typeof claimed.digest !== 'string' || claimed.scenario === undefined)
    throw new ControlError('SIMULATION_REJECTED', 'not a simulation result (no scenario or digest)');
  let rerun: AutonomySimulation;
  try {
    rerun = simulateAutonomy(claimed.scenario);
  } catch (e) {
    throw new ControlError(
      'SIMULATION_REJECTED',
      `the simulation's scenario is invalid: ${(e as Error).message}`,
    );
  }
  let fileDigest: string | undefined;
  try {
    fileDigest = simulationDigest(fromSim as AutonomySimulation);
  } catch {
    fileDigest = undefined; // not canonicalizable: cannot be the result it claims to be
  }
  if (rerun.digest !== claimed.digest || fileDigest !== claimed.digest)
    throw new ControlError(
      'SIMULATION_REJECTED',
      `the simulation result does not match its digest (re-simulated ${rerun.digest}, claimed ${claimed.digest})`,
      { expected: rerun.digest, claimed: claimed.digest },
    );
  if (!rerun.passed)
    throw new ControlError(
      'SIMULATION_REJECTED',
      `the simulation did not pass its expectations: ${rerun.checks
        .filter((c) => !c.pass)
        .map((c) => `${c.name} ${c.actual} (${c.min !== undefined ? `min ${c.min}` : `max ${c.max}`})`)
        .join(', ')}`,
      { digest: rerun.digest },
    );
  return rerun;
}

// ---------------------------------------------------------------------------------------------------------------
// Enactment approvals: single-use tokens bound to one simulation digest (separate from plan approvals in
// approvals.ts, which bind to a plan hash). Token: "vmae_" + 16 hex id + "." + 43 base64url (32 random bytes).

const TOKEN_RE = /^vmae_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

/** An enactment approval as stored (the secret only as its SHA-256). */
export interface EnactApprovalRecord {
  readonly id: string;
  readonly simDigest: string;
  /** The simulation's tenant and tier when it was given at approval time. */
  readonly tenant?: string;
  readonly tier?: AutonomyTier;
  readonly approver: {
    readonly id: string;
    readonly type: string;
    readonly role: string;
    readonly tenant: string;
  };
  readonly secretHash: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly receipt?: AutonomyReceiptRef;
  readonly used?: { readonly at: number; readonly by: string };
}

/** A freshly created approval; `token` is shown this once and cannot be recovered. */
export interface IssuedEnactApproval {
  readonly id: string;
  readonly token: string;
  readonly simDigest: string;
  readonly expiresAt: number;
  readonly receipt?: AutonomyReceiptRef;
}

/** Options of createEnactApproval. */
export interface EnactApprovalOptions {
  readonly store: ControlStore;
  /** The simulation result itself: verified (re-run, passed, same digest) and its tenant and tier recorded. */
  readonly fromSim?: unknown;
  /** Where to append the approval's `decision` receipt (needs `fromSim`, for the tenant). */
  readonly receipts?: ReceiptWriter;
  /** Asked with 'autonomy:approve' (needs `fromSim`). */
  readonly authorize?: AutonomyAuthorize;
  readonly ttlMs?: number;
  readonly now?: () => number;
  /** Source of randomness (tests); default node:crypto randomBytes. */
  readonly randomBytes?: (n: number) => Uint8Array;
}

const ApprovalRecordSchema = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  simDigest: Hex64,
  tenant: TenantSchema.optional(),
  tier: TierSchema.optional(),
  approver: z.strictObject({ id: z.string(), type: z.string(), role: z.string(), tenant: z.string() }),
  secretHash: Hex64,
  createdAt: z.number(),
  expiresAt: z.number(),
  receipt: RefSchema.optional(),
  used: z.strictObject({ at: z.number(), by: z.string() }).optional(),
});

const APPROVER_ROLES: readonly Principal['role'][] = ['admin', 'operator'];
const covers = (p: { tenant: string }, tenant: string) => p.tenant === '*' || p.tenant === tenant;

/**
 * Creates a single-use token that approves enacting the simulation with digest `simDigest`. The principal must be
 * an admin or operator whose tenant scope covers the simulation's tenant (POLICY_DENIED otherwise).
 */
export async function createEnactApproval(
  principal: Principal,
  simDigest: string,
  opts: EnactApprovalOptions,
): Promise<IssuedEnactApproval> {
  parseWith(Hex64, simDigest, 'simDigest');
  if (!APPROVER_ROLES.includes(principal.role))
    throw new ControlError('POLICY_DENIED', `a ${principal.role} cannot approve autonomy changes`);
  let sim: AutonomySimulation | undefined;
  if (opts.fromSim !== undefined) {
    sim = verifySimulation(opts.fromSim);
    if (sim.digest !== simDigest)
      throw new ControlError('SIMULATION_REJECTED', `simDigest ${simDigest} is not the given simulation's`);
    if (!covers(principal, sim.tenant))
      throw new ControlError(
        'POLICY_DENIED',
        `${principal.id} (tenant ${principal.tenant}) cannot approve for ${sim.tenant}`,
      );
    await assertAuthorized(opts.authorize, {
      action: 'autonomy:approve',
      tenant: sim.tenant,
      tier: sim.tier,
      requireHitl: sim.requireHitl,
      simDigest,
    });
  } else if (opts.receipts || opts.authorize)
    throw new ControlError('INVALID_ARGUMENT', 'receipts and authorize need fromSim (for the tenant)');
  const now = opts.now ?? Date.now;
  const random = opts.randomBytes ?? ((n: number) => new Uint8Array(nodeRandomBytes(n)));
  const ttl = opts.ttlMs ?? DEFAULT_ENACT_APPROVAL_TTL_MS;
  if (!Number.isInteger(ttl) || ttl <= 0)
    throw new ControlError('INVALID_ARGUMENT', 'ttlMs must be a positive integer');
  const at = now();
  const id = Buffer.from(random(8)).toString('hex');
  const secret = Buffer.from(random(32)).toString('base64url');
  const approver = { id: principal.id, type: principal.type, role: principal.role, tenant: principal.tenant };
  let receipt: AutonomyReceiptRef | undefined;
  if (sim && opts.receipts) {
    const r = await opts.receipts.append({
      kind: 'decision',
      actor: principal.id,
      tenant: sim.tenant,
      body: {
        title: `autonomy enactment of ${sim.tenant} to ${sim.tier} approved`,
        rationale: `simulation ${simDigest} passed: success rate ${sim.successRate}, compensation rate ${sim.compensationRate}`,
        status: 'accepted',
        tags: ['autonomy', 'approval'],
        tenant: sim.tenant,
        tier: sim.tier,
        requireHitl: sim.requireHitl,
        simDigest,
        approvalId: id,
        approver,
        expiresAt: new Date(at + ttl).toISOString(),
      },
    });
    receipt = { index: r.index, leafHash: r.leafHash };
  }
  const record: EnactApprovalRecord = {
    id,
    simDigest,
    ...(sim ? { tenant: sim.tenant, tier: sim.tier } : {}),
    approver,
    secretHash: sha256Hex(secret),
    createdAt: at,
    expiresAt: at + ttl,
    ...(receipt ? { receipt } : {}),
  };
  await opts.store.put(AUTONOMY_APPROVALS_COLLECTION, id, record, { expectedVersion: 0 });
  return {
    id,
    token: `vmae_${id}.${secret}`,
    simDigest,
    expiresAt: at + ttl,
    ...(receipt ? { receipt } : {}),
  };
}

/** Options of enactAutonomy. */
export interface EnactAutonomyOptions {
  readonly store: ControlStore;
  readonly receipts: ReceiptWriter;
  /** The simulation result (untrusted: re-simulated and checked against its digest). */
  readonly fromSim: unknown;
  /** A token from createEnactApproval for this simulation's digest; consumed on success. */
  readonly approvalToken: string;
  /** The receipt actor. */
  readonly actor: string;
  /** Asked with 'autonomy:enact' before the token is consumed. */
  readonly authorize?: AutonomyAuthorize;
  readonly rationale?: string;
  readonly now?: () => number;
}

/** The outcome of enactAutonomy. */
export interface AutonomyEnactment extends AutonomyChange {
  readonly approvalId: string;
  readonly simDigest: string;
}

/**
 * Applies a simulated tier: only if the simulation re-runs to its digest and passed (SIMULATION_REJECTED), the
 * token is a valid, unexpired, unused approval of that digest by an approver covering the tenant (APPROVAL_INVALID),
 * and `authorize` allows it (POLICY_DENIED). The token is consumed (compare-and-swap) before the change is recorded.
 */
export async function enactAutonomy(opts: EnactAutonomyOptions): Promise<AutonomyEnactment> {
  const now = opts.now ?? Date.now;
  const sim = verifySimulation(opts.fromSim);
  // Attacker-controlled: only a well-formed token is looked up, and its secret is compared in constant time.
  const m = TOKEN_RE.exec(opts.approvalToken);
  if (!m) throw new ControlError('APPROVAL_INVALID', 'the approval token is malformed');
  const [, id, secret] = m as unknown as [string, string, string];
  const d = await opts.store.get<unknown>(AUTONOMY_APPROVALS_COLLECTION, id);
  // A stored record that does not parse is treated as unknown (never as valid with missing fields).
  const parsed = d ? ApprovalRecordSchema.safeParse(d.doc) : undefined;
  const match =
    parsed?.success === true &&
    timingSafeEqual(Buffer.from(parsed.data.secretHash, 'hex'), Buffer.from(sha256Hex(secret), 'hex'));
  if (!d || !parsed?.success || !match) throw new ControlError('APPROVAL_INVALID', `approval ${id}: unknown`);
  const r: EnactApprovalRecord = parsed.data;
  const at = now();
  if (r.used) throw new ControlError('APPROVAL_INVALID', `approval ${id}: already used`);
  if (r.expiresAt <= at) throw new ControlError('APPROVAL_INVALID', `approval ${id}: expired`);
  if (r.simDigest !== sim.digest)
    throw new ControlError(
      'APPROVAL_INVALID',
      `approval ${id}: bound to another simulation (${r.simDigest})`,
    );
  if (!covers(r.approver, sim.tenant) || !APPROVER_ROLES.includes(r.approver.role as Principal['role']))
    throw new ControlError(
      'APPROVAL_INVALID',
      `approval ${id}: its approver cannot approve for ${sim.tenant}`,
    );
  await assertAuthorized(opts.authorize, {
    action: 'autonomy:enact',
    tenant: sim.tenant,
    tier: sim.tier,
    requireHitl: sim.requireHitl,
    ...(sim.scenario.maxAutoRisk ? { maxAutoRisk: sim.scenario.maxAutoRisk } : {}),
    simDigest: sim.digest,
  });
  try {
    await opts.store.put(
      AUTONOMY_APPROVALS_COLLECTION,
      id,
      { ...r, used: { at, by: opts.actor } },
      {
        expectedVersion: d.version,
      },
    );
  } catch (e) {
    if (isConflict(e)) throw new ControlError('APPROVAL_INVALID', `approval ${id} was used concurrently`);
    throw e;
  }
  const change = await writeSettings({
    store: opts.store,
    receipts: opts.receipts,
    actor: opts.actor,
    tenant: sim.tenant,
    tier: sim.tier,
    requireHitl: sim.requireHitl,
    maxAutoRisk: sim.scenario.maxAutoRisk,
    title: `autonomy of ${sim.tenant} enacted at ${sim.tier} from simulation`,
    rationale:
      opts.rationale ??
      `simulation ${sim.digest} passed: success rate ${sim.successRate}, compensation rate ${sim.compensationRate}`,
    now,
    extra: { simDigest: sim.digest, approvalId: id, approvedBy: r.approver.id },
    ...(r.receipt ? { parents: [r.receipt] } : {}),
  });
  return { ...change, approvalId: id, simDigest: sim.digest };
}
