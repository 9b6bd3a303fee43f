// Go/no-go polls: every named role must vote "go" within a time window before a promotion from dry-run to live mode
// is allowed. Polls live in the ControlStore (collection 'golive', id = poll id); every change is a compare-and-swap.
// Opening, each vote and the outcome are recorded as `decision` receipts tagged 'golive' (body: title, rationale,
// pollId, and role/vote/outcome as they apply). A vote counts only once its receipt is recorded, and a poll's 'go'
// allows a promotion only once the outcome's receipt is recorded: anything unrecorded reads as silence (fail closed).
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import type { ControlStore, PolicyDecider, Principal, ReceiptWriter } from '@vaultmesh/types';
import { ControlError, isConflict } from './errors.ts';
import { assertAllowed, type ReceiptRef } from './plan-store.ts';

/** ControlStore collection of go/no-go polls (id = poll id). */
export const GOLIVE = 'golive';
/** Tag of every go/no-go `decision` receipt. */
export const GOLIVE_TAG = 'golive';
/** Longest voting window. */
export const MAX_POLL_WINDOW_MS = 30 * 24 * 3_600_000;
/** Shortest voting window. */
export const MIN_POLL_WINDOW_MS = 1_000;

/** A vote: the role is ready ('go') or is not ('no-go'). */
export type GoliveVote = 'go' | 'no-go';
/** A poll's outcome: 'go' only when every role voted go within the window; anything else holds. */
export type PollOutcome = 'go' | 'hold';

/** One role's vote as stored. `receipt` is set once its decision receipt is durable; until then it does not count. */
export interface PollVote {
  readonly role: string;
  readonly vote: GoliveVote;
  readonly reason: string;
  readonly voter: { readonly id: string; readonly type: string; readonly role: string };
  readonly at: number;
  readonly receipt?: ReceiptRef;
}

/** A go/no-go poll as stored in golive/{id}. */
export interface GolivePoll {
  readonly id: string;
  readonly subject: string;
  readonly tenant: string;
  /** The plan (and the exact hash) this poll decides on; absent: a tenant-wide (or, in NODE_POLL_TENANT, node) poll. */
  readonly planId?: string;
  readonly planHash?: string;
  readonly roles: readonly string[];
  readonly windowMs: number;
  readonly openedAt: number;
  /** Votes are accepted while now < closesAt. */
  readonly closesAt: number;
  readonly openedBy: string;
  readonly openReceipt: ReceiptRef;
  readonly state: 'open' | 'closed';
  readonly votes: Readonly<Record<string, PollVote>>;
  readonly outcome?: PollOutcome;
  /** Why the outcome is what it is: one line per role that did not vote go (or 'every role voted go'). */
  readonly reasons?: readonly string[];
  readonly closedAt?: number;
  readonly closedBy?: string;
  /** Set once the outcome's decision receipt is durable; a 'go' allows a promotion only then. */
  readonly outcomeReceipt?: ReceiptRef;
}

/** What the poll service needs. */
export interface GoliveOptions {
  readonly store: ControlStore;
  readonly receipts: ReceiptWriter;
  /** When set, a voter must be allowed action "approve" on the poll's tenant. */
  readonly policy?: PolicyDecider;
  readonly now?: () => number;
  readonly randomBytes?: (n: number) => Uint8Array;
}

/** A request to open a poll. */
export interface OpenPollRequest {
  /** Default: "golive-" + 8 random hex digits. */
  readonly id?: string;
  readonly roles: readonly string[];
  readonly windowMs: number;
  /** What is being decided, e.g. "promote acme/prod to live". */
  readonly subject: string;
  /** Tenant of the poll and its receipts; default NODE_POLL_TENANT (a node-wide promotion poll). */
  readonly tenant?: string;
  /** Binds the poll to one plan hash: its go lets that hash run live (and its `golive` gates pass), nothing else. */
  readonly plan?: { readonly planId: string; readonly planHash: string };
  /** Actor of the opening receipt; default "golive" (the principal's id when one is given). */
  readonly openedBy?: string;
  /** Who opens it: with a policy, it must be allowed "approve" on the poll's tenant. */
  readonly principal?: Principal;
}

/** A vote request. */
export interface VoteRequest {
  readonly pollId: string;
  readonly role: string;
  /**
   * The poll roles the voter holds (from its token). When given, `role` must be one of them: a voter's role comes
   * from who it is, never from what it asks. Absent only for local (data-directory) access.
   */
  readonly voterRoles?: readonly string[];
  readonly voter: Principal;
  readonly vote: GoliveVote;
  readonly reason: string;
}

/** The outcome of closing a poll. */
export interface PollClosed {
  readonly outcome: PollOutcome;
  readonly reasons: readonly string[];
  readonly poll: GolivePoll;
}

/** Go/no-go polls over a ControlStore and a ReceiptWriter. */
export interface GolivePolls {
  openPoll(req: OpenPollRequest): Promise<GolivePoll>;
  /** Records one role's vote (once per role, only while the window is open). */
  vote(req: VoteRequest): Promise<GolivePoll>;
  /**
   * Closes the poll and records its outcome ('go' only if every role voted go within the window). With a policy,
   * `principal` must be allowed "approve" on the poll's tenant.
   */
  closePoll(pollId: string, opts?: { closedBy?: string; principal?: Principal }): Promise<PollClosed>;
  getPoll(pollId: string): Promise<GolivePoll>;
  /** Every poll, ordered by id. */
  listPolls(): Promise<GolivePoll[]>;
}

/** The tenant of node-wide promotion polls (only principals allowed "approve" there, i.e. '*' admins, open them). */
export const NODE_POLL_TENANT = 'system';

const POLL_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const PLAN_HASH_RE = /^[0-9a-f]{64}$/;
const ROLE_RE = /^[a-z][a-z0-9_-]{0,31}$/;
const TENANT_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const MAX_ROLES = 20;
const CAS_RETRIES = 20;

const bad = (msg: string): never => {
  throw new ControlError('INVALID_ARGUMENT', msg);
};

function formatWindow(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Why each role keeps the poll from going ahead (empty when every role voted go, recorded, within the window). */
export function pollHoldReasons(poll: GolivePoll): string[] {
  const reasons: string[] = [];
  for (const role of poll.roles) {
    const v = poll.votes[role];
    if (!v) reasons.push(`${role}: no vote within the window`);
    else if (!v.receipt) reasons.push(`${role}: the vote by ${v.voter.id} was not recorded in the ledger`);
    else if (v.at >= poll.closesAt)
      reasons.push(`${role}: the vote by ${v.voter.id} came after the window closed`);
    else if (v.vote !== 'go') reasons.push(`${role}: no-go by ${v.voter.id}: ${v.reason}`);
  }
  return reasons;
}

/** Creates the poll service. */
export function createGolivePolls(opts: GoliveOptions): GolivePolls {
  const { store, receipts, policy } = opts;
  const now = opts.now ?? Date.now;
  const random = opts.randomBytes ?? nodeRandomBytes;

  async function load(pollId: string) {
    if (typeof pollId !== 'string' || !POLL_ID_RE.test(pollId)) bad(`invalid poll id "${String(pollId)}"`);
    const d = await store.get<GolivePoll>(GOLIVE, pollId);
    if (!d) throw new ControlError('NOT_FOUND', `no go/no-go poll "${pollId}"`);
    return d;
  }

  /** Applies `change` with compare-and-swap, re-reading and re-applying it after a lost race. */
  async function update(pollId: string, change: (p: GolivePoll) => GolivePoll): Promise<GolivePoll> {
    for (let i = 0; ; i++) {
      const cur = await load(pollId);
      const next = change(cur.doc);
      try {
        return (await store.put(GOLIVE, pollId, next, { expectedVersion: cur.version })).doc;
      } catch (e) {
        if (!isConflict(e) || i >= CAS_RETRIES) throw e;
      }
    }
  }

  /** Opening and closing a poll are decided like votes: action "approve" on the poll's tenant. */
  async function authorizePoll(
    principal: Principal | undefined,
    poll: { id: string; tenant: string },
    event: 'open' | 'close',
  ): Promise<void> {
    if (!policy) return;
    if (!principal)
      throw new ControlError(
        'POLICY_DENIED',
        `${event === 'open' ? 'opening' : 'closing'} a poll needs a principal`,
      );
    const decision = await policy.decide({
      principal,
      action: 'approve',
      resource: { type: 'tenant', id: poll.tenant, tenant: poll.tenant },
      context: { purpose: 'golive', pollId: poll.id, time: new Date(now()).toISOString() },
    });
    assertAllowed(
      decision,
      `${principal.id} ${event === 'open' ? 'opening' : 'closing'} go/no-go poll ${poll.id}`,
    );
  }

  const ref = (r: { index: number; leafHash: string }): ReceiptRef => ({
    index: r.index,
    leafHash: r.leafHash,
  });

  return {
    async openPoll(req) {
      const id = req.id ?? `golive-${Buffer.from(random(4)).toString('hex')}`;
      if (!POLL_ID_RE.test(id))
        bad(`invalid poll id "${id}": use 1-128 of A-Z a-z 0-9 _ . : - (starting alphanumeric)`);
      const roles = [...req.roles];
      if (roles.length === 0 || roles.length > MAX_ROLES) bad(`a poll needs 1 to ${MAX_ROLES} roles`);
      for (const r of roles)
        if (!ROLE_RE.test(r))
          bad(`invalid role "${r}": use a-z 0-9 _ - (starting with a letter, at most 32)`);
      if (new Set(roles).size !== roles.length) bad('roles must be unique');
      if (
        !Number.isSafeInteger(req.windowMs) ||
        req.windowMs < MIN_POLL_WINDOW_MS ||
        req.windowMs > MAX_POLL_WINDOW_MS
      )
        bad(`window must be ${MIN_POLL_WINDOW_MS} ms to ${MAX_POLL_WINDOW_MS} ms`);
      if (typeof req.subject !== 'string' || req.subject.trim() === '' || req.subject.length > 500)
        bad('subject must be 1 to 500 characters');
      const tenant = req.tenant ?? NODE_POLL_TENANT;
      if (!TENANT_RE.test(tenant)) bad(`invalid tenant "${tenant}"`);
      if (req.plan !== undefined) {
        if (typeof req.plan.planId !== 'string' || !POLL_ID_RE.test(req.plan.planId))
          bad(`invalid plan id "${String(req.plan.planId)}"`);
        if (typeof req.plan.planHash !== 'string' || !PLAN_HASH_RE.test(req.plan.planHash))
          bad('planHash must be 64 lowercase hex digits');
      }
      await authorizePoll(req.principal, { id, tenant }, 'open');
      const openedBy = req.openedBy ?? req.principal?.id ?? 'golive';
      if (await store.get(GOLIVE, id))
        throw new ControlError('CONFLICT', `go/no-go poll "${id}" already exists`);
      const openedAt = now();
      const closesAt = openedAt + req.windowMs;
      const r = await receipts.append({
        kind: 'decision',
        actor: openedBy,
        tenant,
        body: {
          title: `go/no-go poll ${id} opened: ${req.subject}`.slice(0, 500),
          rationale: `every role must vote go within ${formatWindow(req.windowMs)}: ${roles.join(', ')}`,
          status: 'proposed',
          tags: [GOLIVE_TAG],
          pollId: id,
          event: 'open',
          subject: req.subject,
          roles,
          windowMs: req.windowMs,
          closesAt: new Date(closesAt).toISOString(),
          ...(req.plan ? { planId: req.plan.planId, planHash: req.plan.planHash } : {}),
        },
      });
      const poll: GolivePoll = {
        id,
        subject: req.subject,
        tenant,
        ...(req.plan ? { planId: req.plan.planId, planHash: req.plan.planHash } : {}),
        roles,
        windowMs: req.windowMs,
        openedAt,
        closesAt,
        openedBy,
        openReceipt: ref(r),
        state: 'open',
        votes: {},
      };
      return (await store.put(GOLIVE, id, poll, { expectedVersion: 0 })).doc;
    },

    async vote(req) {
      if (req.vote !== 'go' && req.vote !== 'no-go')
        bad(`vote must be "go" or "no-go", got "${String(req.vote)}"`);
      if (typeof req.reason !== 'string' || req.reason.trim() === '' || req.reason.length > 2000)
        bad('a vote needs a reason of 1 to 2000 characters');
      const first = (await load(req.pollId)).doc;
      if (!first.roles.includes(req.role))
        bad(`poll ${first.id} has no role "${req.role}" (roles: ${first.roles.join(', ')})`);
      if (req.voterRoles !== undefined && !req.voterRoles.includes(req.role))
        throw new ControlError(
          'POLICY_DENIED',
          `${req.voter.id} does not hold the go/no-go role ${req.role} (its token votes as: ${req.voterRoles.join(', ') || 'no role'})`,
        );
      if (policy) {
        const decision = await policy.decide({
          principal: req.voter,
          action: 'approve',
          resource: { type: 'tenant', id: first.tenant, tenant: first.tenant },
          context: {
            purpose: 'golive',
            pollId: first.id,
            pollRole: req.role,
            vote: req.vote,
            time: new Date(now()).toISOString(),
          },
        });
        assertAllowed(decision, `${req.voter.id} voting as ${req.role} in go/no-go poll ${first.id}`);
      }
      const at = now();
      const voter = { id: req.voter.id, type: req.voter.type, role: req.voter.role };
      // Reserve the role first (compare-and-swap), so two voters racing for one role cannot both count.
      const reserved = await update(req.pollId, (p) => {
        if (p.state !== 'open')
          throw new ControlError('CONFLICT', `go/no-go poll ${p.id} is closed (outcome ${p.outcome})`);
        if (at >= p.closesAt)
          throw new ControlError(
            'CONFLICT',
            `the voting window of poll ${p.id} closed at ${new Date(p.closesAt).toISOString()}`,
          );
        const prev = p.votes[req.role];
        // A vote whose receipt was never recorded (its writer failed) may be cast again by the same voter.
        if (prev && (prev.receipt || prev.voter.id !== voter.id))
          throw new ControlError(
            'CONFLICT',
            `role ${req.role} already voted ${prev.vote} in poll ${p.id} (by ${prev.voter.id})`,
          );
        // One voter, one vote: nobody speaks for two roles of one poll.
        const other = Object.values(p.votes).find((v) => v.voter.id === voter.id && v.role !== req.role);
        if (other)
          throw new ControlError(
            'CONFLICT',
            `${voter.id} already voted in poll ${p.id} (as ${other.role}): one voter, one vote`,
          );
        return {
          ...p,
          votes: {
            ...p.votes,
            [req.role]: { role: req.role, vote: req.vote, reason: req.reason, voter, at },
          },
        };
      });
      const r = await receipts.append({
        kind: 'decision',
        actor: voter.id,
        tenant: reserved.tenant,
        body: {
          title: `go/no-go poll ${reserved.id}: ${req.role} votes ${req.vote}`,
          rationale: req.reason,
          status: req.vote === 'go' ? 'accepted' : 'rejected',
          tags: [GOLIVE_TAG],
          pollId: reserved.id,
          event: 'vote',
          role: req.role,
          vote: req.vote,
          voter: voter.id,
          subject: reserved.subject,
        },
        parents: [reserved.openReceipt],
      });
      return update(req.pollId, (p) => {
        const v = p.votes[req.role];
        if (!v || v.at !== at || v.voter.id !== voter.id)
          throw new ControlError(
            'CONFLICT',
            `the vote of role ${req.role} in poll ${p.id} changed under this writer`,
          );
        return { ...p, votes: { ...p.votes, [req.role]: { ...v, receipt: ref(r) } } };
      });
    },

    async closePoll(pollId, o = {}) {
      const first = (await load(pollId)).doc;
      await authorizePoll(o.principal, first, 'close');
      const closedBy = o.closedBy ?? o.principal?.id ?? 'golive';
      const closedAt = now();
      const closed = await update(pollId, (p) => {
        if (p.state !== 'open')
          throw new ControlError(
            'CONFLICT',
            `go/no-go poll ${p.id} is already closed (outcome ${p.outcome})`,
          );
        const reasons = pollHoldReasons(p);
        return {
          ...p,
          state: 'closed',
          outcome: reasons.length === 0 ? 'go' : 'hold',
          reasons: reasons.length === 0 ? ['every role voted go within the window'] : reasons,
          closedAt,
          closedBy,
        };
      });
      const parents = [closed.openReceipt, ...closed.roles.flatMap((r) => closed.votes[r]?.receipt ?? [])];
      const r = await receipts.append({
        kind: 'decision',
        actor: closedBy,
        tenant: closed.tenant,
        body: {
          title: `go/no-go poll ${closed.id}: ${closed.outcome}`,
          rationale: (closed.reasons ?? []).join('\n').slice(0, 10_000),
          status: closed.outcome === 'go' ? 'accepted' : 'rejected',
          tags: [GOLIVE_TAG],
          pollId: closed.id,
          event: 'outcome',
          outcome: closed.outcome,
          subject: closed.subject,
          ...(closed.planHash ? { planId: closed.planId, planHash: closed.planHash } : {}),
          votes: closed.roles.map((role) => {
            const v = closed.votes[role];
            return v
              ? { role, vote: v.vote, voter: v.voter.id, recorded: v.receipt !== undefined }
              : { role, vote: null };
          }),
        },
        parents,
      });
      const poll = await update(pollId, (p) => ({ ...p, outcomeReceipt: ref(r) }));
      return { outcome: poll.outcome!, reasons: poll.reasons ?? [], poll };
    },

    async getPoll(pollId) {
      return (await load(pollId)).doc;
    },

    async listPolls() {
      return (await store.list<GolivePoll>(GOLIVE)).map((d) => d.doc);
    },
  };
}

const nodePoll = (p: GolivePoll) => p.tenant === NODE_POLL_TENANT && p.planHash === undefined;

/** The most recently closed of `polls` (by close time, then id) that `filter` keeps, if any. */
export function latestClosedOf(
  polls: readonly GolivePoll[],
  filter: (p: GolivePoll) => boolean,
): GolivePoll | undefined {
  let latest: GolivePoll | undefined;
  for (const doc of polls) {
    if (doc.state !== 'closed' || typeof doc.closedAt !== 'number' || !filter(doc)) continue;
    if (
      !latest ||
      doc.closedAt > latest.closedAt! ||
      (doc.closedAt === latest.closedAt && doc.id > latest.id)
    )
      latest = doc;
  }
  return latest;
}

/**
 * The most recently closed poll (by close time, then id) that `filter` keeps, if any. Default: node-wide promotion
 * polls (tenant NODE_POLL_TENANT, bound to no plan), so no tenant's poll decides for the node.
 */
export async function latestClosedPoll(
  store: ControlStore,
  filter: (p: GolivePoll) => boolean = nodePoll,
): Promise<GolivePoll | undefined> {
  return latestClosedOf(await listPollDocs(store), filter);
}

const listPollDocs = async (store: ControlStore) => (await store.list<GolivePoll>(GOLIVE)).map((d) => d.doc);

/** The latest closed poll bound to the plan hash, of the plan's tenant, and of the node (one read of the polls). */
async function pollsFor(
  store: ControlStore,
  run: { readonly tenant: string; readonly planId: string; readonly planHash: string },
) {
  const polls = await listPollDocs(store);
  return {
    bound: latestClosedOf(polls, (p) => p.planId === run.planId && p.planHash === run.planHash),
    tenant: latestClosedOf(polls, (p) => p.tenant === run.tenant && p.planHash === undefined),
    node: latestClosedOf(polls, nodePoll),
  };
}

/**
 * Whether a promotion from dry-run to live mode is allowed: only when the latest closed node-wide poll's outcome is
 * 'go' and that outcome is recorded in the ledger. No poll, an open one only, a 'hold' or an unrecorded 'go' all say
 * false.
 */
export async function promotionAllowed(store: ControlStore): Promise<boolean> {
  const p = await latestClosedPoll(store);
  return p?.outcome === 'go' && p.outcomeReceipt !== undefined;
}

/**
 * The go/no-go decision that applies to a plan hash now: the latest closed poll bound to it, else the latest of the
 * plan's tenant, else the node's (the same order liveRunAllowed asks in); undefined when none was ever closed.
 */
export async function applicableGoDecision(
  store: ControlStore,
  run: { readonly tenant: string; readonly planId: string; readonly planHash: string },
): Promise<GolivePoll | undefined> {
  const { bound, tenant, node } = await pollsFor(store, run);
  return bound ?? tenant ?? node;
}

const recordedGo = (p: GolivePoll | undefined) => p?.outcome === 'go' && p.outcomeReceipt !== undefined;
const holdWhy = (p: GolivePoll) =>
  `${p.id} closed with ${p.outcome}: ${(p.reasons ?? []).join('; ') || 'no go'}`;

/**
 * Whether a live run of this plan hash may start or resume, by the recorded go/no-go outcomes: the latest closed
 * poll bound to this plan hash decides when there is one; otherwise the latest closed poll of the plan's tenant and
 * the latest node-wide poll must not be a hold. A no-go recorded for a plan hash binds that hash only.
 */
export async function liveRunAllowed(
  store: ControlStore,
  run: { readonly tenant: string; readonly planId: string; readonly planHash: string },
): Promise<{ allowed: boolean; reason: string }> {
  const { bound, tenant, node } = await pollsFor(store, run);
  if (bound)
    return recordedGo(bound)
      ? { allowed: true, reason: `poll ${bound.id} said go for plan hash ${run.planHash}` }
      : { allowed: false, reason: `go/no-go poll ${holdWhy(bound)} (plan hash ${run.planHash})` };
  if (tenant && !recordedGo(tenant))
    return { allowed: false, reason: `tenant ${run.tenant}'s latest go/no-go poll ${holdWhy(tenant)}` };
  if (node && !recordedGo(node))
    return { allowed: false, reason: `the node's latest go/no-go poll ${holdWhy(node)}` };
  return { allowed: true, reason: 'no recorded no-go applies' };
}
