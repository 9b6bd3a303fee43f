// Stored plans: a plan is accepted (validated, allowed by policy action "plan"), hashed under the current policy
// set, recorded as a `plan` receipt and kept in the ControlStore (collection 'plans', id = plan id).
import { canonicalize } from '@vaultmesh/ledger';
import { ControlError } from './errors.ts';
import { parsePlan, planHash, type Plan } from './plan.ts';
import type { ControlStore, PolicyDecider, PolicyDecision, Principal, ReceiptWriter } from '@vaultmesh/types';

/** ControlStore collection of stored plans (id = plan id; a re-plan with the same id replaces it). */
export const PLANS = 'plans';

/** A receipt in the ledger, by index and leaf hash (what ReceiptWriter.append returns). */
export interface ReceiptRef {
  readonly index: number;
  readonly leafHash: string;
}

/** A plan as stored: the plan, its hash under the policy set of the moment, and its `plan` receipt. */
export interface StoredPlan {
  readonly plan: Plan;
  readonly planHash: string;
  readonly policySetHash: string;
  readonly receipt: ReceiptRef;
  readonly storedBy: string;
  /** RFC 3339. */
  readonly storedAt: string;
}

/** What storePlan needs. */
export interface PlanStoreDeps {
  readonly store: ControlStore;
  readonly receipts: ReceiptWriter;
  readonly policy: PolicyDecider;
  readonly now?: () => number;
}

/** The resource a policy request about this plan names. */
export function planResource(plan: Plan) {
  return {
    type: 'plan' as const,
    id: plan.id,
    tenant: plan.target.tenant,
    environment: plan.target.environment,
    ...(plan.target.region !== undefined ? { region: plan.target.region } : {}),
  };
}

/** Throws POLICY_DENIED carrying the decision (reasons, errors, policy set) as its evidence. */
export function assertAllowed(d: PolicyDecision, what: string): void {
  if (d.decision === 'allow') return;
  throw new ControlError(
    'POLICY_DENIED',
    `policy denied ${what}: ${d.reasons.join(', ') || 'no policy allows it'}`,
    {
      decision: d,
    },
  );
}

/**
 * Validates `value` as a plan (PLAN_INVALID), asks policy for action "plan" (POLICY_DENIED), records a `plan`
 * receipt and stores it. Creating is not updating: a plan whose id is taken is refused (CONFLICT) unless the caller
 * names the hash it replaces (`replaces`, an update within the same tenant, decided by policy with the stored plan's
 * storedBy); the replaced plan's approvals and dry-runs then no longer match. Storing the identical plan under the
 * same policy set again is a no-op that returns the record. `check` may refuse the plan further (the executor checks
 * actions and params against its registry).
 */
export async function storePlan(
  deps: PlanStoreDeps,
  value: unknown,
  principal: Principal,
  check?: (plan: Plan) => void,
  opts: { readonly replaces?: string } = {},
): Promise<StoredPlan> {
  const plan = parsePlan(value);
  check?.(plan);
  const now = deps.now ?? Date.now;
  const policySetHash = deps.policy.policySetHash;
  const hash = planHash(plan, policySetHash);
  const cur = await deps.store.get<StoredPlan>(PLANS, plan.id);
  // The same plan again (only its createdAt differs): planning one intent twice returns the stored plan, and after a
  // policy change re-binds it to the new policy set. Anything else under a taken id is an update.
  const same = cur !== undefined && sameContent(cur.doc.plan, plan);
  if (cur && !same) {
    if (opts.replaces === undefined)
      throw new ControlError(
        'CONFLICT',
        `plan ${plan.id} exists (hash ${cur.doc.planHash}): creating is not updating; choose another id, or replace it by naming that hash (replaces)`,
        { planId: plan.id },
      );
    if (opts.replaces !== cur.doc.planHash)
      throw new ControlError(
        'PLAN_STALE',
        `plan ${plan.id} is at hash ${cur.doc.planHash}, not ${opts.replaces}: review it again before replacing it`,
        { planId: plan.id },
      );
    if (cur.doc.plan.target.tenant !== plan.target.tenant)
      throw new ControlError('CONFLICT', `plan ${plan.id} belongs to another tenant; choose another id`, {
        planId: plan.id,
      });
  }
  const replacing = cur !== undefined && !same;
  const decision = await deps.policy.decide({
    principal,
    action: 'plan',
    resource: planResource(plan),
    context: {
      time: new Date(now()).toISOString(),
      planHash: hash,
      ...(replacing ? { replaces: cur.doc.planHash, planStoredBy: cur.doc.storedBy } : {}),
    },
  });
  assertAllowed(decision, `${principal.id} storing plan ${plan.id}`);
  if (cur && (cur.doc.planHash === hash || (same && cur.doc.policySetHash === policySetHash))) return cur.doc;
  const receipt = await deps.receipts.append({
    kind: 'plan',
    actor: principal.id,
    tenant: plan.target.tenant,
    body: {
      planId: plan.id,
      planHash: hash,
      goal: plan.goal,
      policySetHash,
      environment: plan.target.environment,
      phases: plan.phases.map((p) => p.id),
      createdBy: plan.createdBy,
      ...(cur ? { replaces: cur.doc.planHash } : {}),
    },
    ...(cur ? { parents: [cur.doc.receipt] } : {}),
  });
  const doc: StoredPlan = {
    plan,
    planHash: hash,
    policySetHash,
    receipt: { index: receipt.index, leafHash: receipt.leafHash },
    storedBy: principal.id,
    storedAt: new Date(now()).toISOString(),
  };
  // Compare-and-swap: two concurrent re-plans cannot both win silently.
  await deps.store.put(PLANS, plan.id, doc, { expectedVersion: cur?.version ?? 0 });
  return doc;
}

/** Whether two plans say the same thing (createdAt aside). */
function sameContent(a: Plan, b: Plan): boolean {
  const { createdAt: _a, ...x } = a;
  const { createdAt: _b, ...y } = b;
  return canonicalize(x) === canonicalize(y);
}

/** The stored plan with this id, or NOT_FOUND. */
export async function loadPlan(store: ControlStore, planId: string): Promise<StoredPlan> {
  const d = await store.get<StoredPlan>(PLANS, planId);
  if (!d) throw new ControlError('NOT_FOUND', `no stored plan "${planId}"`);
  return d.doc;
}

/**
 * The stored plan, checked fresh: `expectedHash` must equal both the stored hash and the hash recomputed under
 * the decider's current policy set (PLAN_STALE otherwise: the plan was replaced, or the policy changed).
 */
export async function loadFreshPlan(
  store: ControlStore,
  policy: PolicyDecider,
  planId: string,
  expectedHash: string,
): Promise<StoredPlan> {
  const stored = await loadPlan(store, planId);
  const current = planHash(stored.plan, policy.policySetHash);
  if (stored.planHash !== expectedHash || current !== expectedHash) {
    const why =
      stored.planHash !== expectedHash
        ? `plan ${planId} was re-planned (stored hash ${stored.planHash})`
        : `the policy set changed since plan ${planId} was stored (was ${stored.policySetHash}, now ${policy.policySetHash})`;
    throw new ControlError('PLAN_STALE', `plan hash ${expectedHash} is stale: ${why}; store the plan again`, {
      planId,
      expected: expectedHash,
      stored: stored.planHash,
      current,
    });
  }
  return stored;
}
