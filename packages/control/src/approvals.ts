// Approvals: single-use tokens bound to (plan hash, phase or step), issued by a principal the policy allows to
// "approve", stored hashed (collection 'approvals') and consumed with compare-and-swap. A re-plan or a policy change
// gives the plan a new hash, so every earlier approval stops matching.
//
// Ledger record (the choice): issuing an approval appends a `decision` receipt, tags ['approval'], body { title:
// 'approval', planId, planHash, scope, approver, approvalId, expiresAt } with the plan's receipt as parent. No new
// receipt kind is needed, and consuming it is recorded by the step receipt that names its approvalId.
import { createHash, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import { ControlError, isConflict } from './errors.ts';
import { assertAllowed, loadFreshPlan, planResource, type ReceiptRef } from './plan-store.ts';
import type { ControlStore, PolicyDecider, Principal, ReceiptWriter } from '@vaultmesh/types';

/** ControlStore collection of approvals (id = approval id; the token's secret is kept only as its SHA-256). */
export const APPROVALS = 'approvals';
/** Default lifetime of an approval token. */
export const DEFAULT_APPROVAL_TTL_MS = 24 * 60 * 60 * 1000;

/** What an approval approves: one phase (all its steps, once, in one run) or one step. */
export type ApprovalScope = { readonly phaseId: string } | { readonly stepId: string };

/** An approval as stored. */
export interface ApprovalRecord {
  readonly id: string;
  /** The plan's tenant (absent on records from before it was kept: look the plan up). */
  readonly tenant?: string;
  readonly planId: string;
  readonly planHash: string;
  readonly scope: { readonly phaseId?: string; readonly stepId?: string };
  readonly approver: { readonly id: string; readonly type: string; readonly role: string };
  /** SHA-256 (hex) of the token's secret part. */
  readonly secretHash: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly receipt: ReceiptRef;
  readonly used?: { readonly runId: string; readonly at: number };
}

/** An approval as shown (never its secret hash). */
export type ApprovalView = Omit<ApprovalRecord, 'secretHash'>;

/** A freshly issued approval; `token` is shown this once and cannot be recovered. */
export interface IssuedApproval extends ApprovalView {
  readonly token: string;
}

/** What the approvals service needs. */
export interface ApprovalsOptions {
  readonly store: ControlStore;
  readonly receipts: ReceiptWriter;
  readonly policy: PolicyDecider;
  readonly now?: () => number;
  /** Lifetime of new tokens; default DEFAULT_APPROVAL_TTL_MS. */
  readonly ttlMs?: number;
  /** Source of randomness (tests); default node:crypto randomBytes. */
  readonly randomBytes?: (n: number) => Uint8Array;
  /**
   * Whether a tenant requires four eyes (passed to policy as context.fourEyes; the default policy then forbids whoever
   * stored a plan to approve it). Default: every tenant does.
   */
  readonly fourEyes?: (tenant: string) => boolean;
}

/** Issues and lists approvals. */
export interface Approvals {
  issue(req: {
    planId: string;
    planHash: string;
    scope: ApprovalScope;
    principal: Principal;
    ttlMs?: number;
    reason?: string;
  }): Promise<IssuedApproval>;
  list(planId?: string): Promise<ApprovalView[]>;
}

// Token: "vmap_" + 16 hex id + "." + 43 base64url characters (32 random bytes).
const TOKEN_RE = /^vmap_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;
const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');

function view(r: ApprovalRecord): ApprovalView {
  const { secretHash: _omit, ...rest } = r;
  return rest;
}

/** The approval id inside a token (for messages), or undefined when it is not a token; never the secret. */
export function approvalIdOf(token: string): string | undefined {
  return TOKEN_RE.exec(token)?.[1];
}

/** Creates the approvals service. */
export function createApprovals(opts: ApprovalsOptions): Approvals {
  const now = opts.now ?? Date.now;
  const random = opts.randomBytes ?? ((n: number) => new Uint8Array(nodeRandomBytes(n)));
  return {
    async issue(req) {
      const stored = await loadFreshPlan(opts.store, opts.policy, req.planId, req.planHash);
      const { plan } = stored;
      const scope =
        'stepId' in req.scope ? { stepId: String(req.scope.stepId) } : { phaseId: String(req.scope.phaseId) };
      const step = scope.stepId
        ? plan.phases
            .flatMap((p) => p.steps.map((s) => ({ phaseId: p.id, step: s })))
            .find((x) => x.step.id === scope.stepId)
        : undefined;
      if (scope.stepId !== undefined && !step)
        throw new ControlError('NOT_FOUND', `plan ${plan.id} has no step "${scope.stepId}"`);
      if (scope.phaseId !== undefined && !plan.phases.some((p) => p.id === scope.phaseId))
        throw new ControlError('NOT_FOUND', `plan ${plan.id} has no phase "${scope.phaseId}"`);
      const at = now();
      const decision = await opts.policy.decide({
        principal: req.principal,
        action: 'approve',
        resource: planResource(plan),
        context: {
          time: new Date(at).toISOString(),
          planHash: req.planHash,
          // Lets a policy forbid approving one's own plan (four eyes): storedBy is the authenticated caller who stored
          // it; createdBy is what the plan body says (an author's claim, never proof).
          planCreatedBy: plan.createdBy,
          planStoredBy: stored.storedBy,
          fourEyes: (opts.fourEyes ?? (() => true))(plan.target.tenant),
          ...scope,
          ...(step ? { phaseId: step.phaseId, stepAction: step.step.action, risk: step.step.risk } : {}),
        },
      });
      assertAllowed(decision, `${req.principal.id} approving ${JSON.stringify(scope)} of plan ${plan.id}`);
      const ttl = req.ttlMs ?? opts.ttlMs ?? DEFAULT_APPROVAL_TTL_MS;
      if (!Number.isInteger(ttl) || ttl <= 0)
        throw new ControlError('INVALID_ARGUMENT', 'ttlMs must be a positive integer');
      const id = Buffer.from(random(8)).toString('hex');
      const secret = Buffer.from(random(32)).toString('base64url');
      const approver = { id: req.principal.id, type: req.principal.type, role: req.principal.role };
      const expiresAt = at + ttl;
      const receipt = await opts.receipts.append({
        kind: 'decision',
        actor: req.principal.id,
        tenant: plan.target.tenant,
        body: {
          title: 'approval',
          status: 'accepted',
          tags: ['approval'],
          approvalId: id,
          planId: plan.id,
          planHash: req.planHash,
          scope,
          approver,
          expiresAt: new Date(expiresAt).toISOString(),
          ...(req.reason ? { rationale: req.reason.slice(0, 10_000) } : {}),
        },
        parents: [stored.receipt],
      });
      const record: ApprovalRecord = {
        id,
        tenant: plan.target.tenant,
        planId: plan.id,
        planHash: req.planHash,
        scope,
        approver,
        secretHash: sha256Hex(secret),
        createdAt: at,
        expiresAt,
        receipt: { index: receipt.index, leafHash: receipt.leafHash },
      };
      await opts.store.put(APPROVALS, id, record, { expectedVersion: 0 });
      return { ...view(record), token: `vmap_${id}.${secret}` };
    },
    async list(planId) {
      const all = await opts.store.list<ApprovalRecord>(APPROVALS);
      return all.map((d) => view(d.doc)).filter((r) => planId === undefined || r.planId === planId);
    },
  };
}

/** What a run needs an approval for: a step, or a phase (stepId absent: only phase-scoped approvals match). */
export interface ApprovalNeed {
  readonly planHash: string;
  readonly phaseId: string;
  readonly stepId?: string;
}

/**
 * Finds, among the presented tokens, a valid unused approval matching `need` without consuming it: one scoped to
 * the step first, then one scoped to the phase. `rejected` says why each other token did not match (by id only).
 */
export async function findApproval(
  store: ControlStore,
  tokens: readonly string[],
  need: ApprovalNeed,
  at: number,
): Promise<{ found?: { token: string; record: ApprovalRecord; version: number }; rejected: string[] }> {
  const rejected: string[] = [];
  let phaseMatch: { token: string; record: ApprovalRecord; version: number } | undefined;
  for (const token of tokens) {
    // Attacker-controlled: only a well-formed token is looked up, and its secret is compared in constant time.
    const m = TOKEN_RE.exec(token);
    if (!m) {
      rejected.push('a presented token is malformed');
      continue;
    }
    const [, id, secret] = m as unknown as [string, string, string];
    const d = await store.get<ApprovalRecord>(APPROVALS, id);
    const ok =
      d !== undefined &&
      timingSafeEqual(Buffer.from(d.doc.secretHash, 'hex'), Buffer.from(sha256Hex(secret), 'hex'));
    if (!d || !ok) {
      rejected.push(`approval ${id}: unknown`);
      continue;
    }
    const r = d.doc;
    if (r.used) rejected.push(`approval ${id}: already used by run ${r.used.runId}`);
    else if (r.expiresAt <= at) rejected.push(`approval ${id}: expired`);
    else if (r.planHash !== need.planHash) rejected.push(`approval ${id}: bound to another plan hash`);
    else if (need.stepId !== undefined && r.scope.stepId === need.stepId)
      return { found: { token, record: r, version: d.version }, rejected };
    else if (r.scope.phaseId === need.phaseId && r.scope.stepId === undefined)
      phaseMatch ??= { token, record: r, version: d.version };
    else rejected.push(`approval ${id}: bound to another ${r.scope.stepId ? 'step' : 'phase'}`);
  }
  return phaseMatch ? { found: phaseMatch, rejected } : { rejected };
}

/** Marks a found approval used by `runId` (compare-and-swap: APPROVAL_INVALID when someone used it first). */
export async function consumeApproval(
  store: ControlStore,
  found: { record: ApprovalRecord; version: number },
  runId: string,
  at: number,
): Promise<ApprovalRecord> {
  const used: ApprovalRecord = { ...found.record, used: { runId, at } };
  try {
    await store.put(APPROVALS, found.record.id, used, { expectedVersion: found.version });
  } catch (e) {
    if (isConflict(e))
      throw new ControlError('APPROVAL_INVALID', `approval ${found.record.id} was used concurrently`);
    throw e;
  }
  return used;
}
