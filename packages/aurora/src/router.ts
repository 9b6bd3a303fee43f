// The Aurora router: gathers offers from every provider (in parallel, each time-limited), drops what the workload,
// treaties and the blocked list forbid, asks policy (Cedar action "route" on resource Provider{region}) once per
// distinct provider/region, scores the rest (rules + the learned LinUCB estimate, scoring.ts) and either recommends
// (POST /agent/route) or places with failover (POST /api/aurora/jobs). Every decision is a `route` receipt written
// before the placement it decides, with the top candidates, their scores, the denied locations and the reason.
// Every placement attempt is an outcome the model learns from online and that `vm aurora train` replays.
import { randomUUID } from 'node:crypto';
import type { ControlStore, PolicyDecider, Principal, ReceiptWriter } from '@vaultmesh/types';
import { LinUcb } from './bandit.ts';
import { AuroraError } from './errors.ts';
import type { ComputeProvider, ProviderJob } from './provider.ts';
import {
  DEFAULT_WEIGHTS,
  FEATURES,
  hardFilter,
  locationOf,
  observedReliability,
  offerFeatures,
  rankOffers,
  rewardOf,
  scoringContext,
  type ProviderForecast,
  type ProviderStanding,
  type ScoreWeights,
  type ScoredOffer,
  type ScoringContext,
} from './scoring.ts';
import type { Treaty } from './treaty.ts';
import { WorkloadSchema, type Offer, type Workload } from './workload.ts';

/** ControlStore collections of the router. */
export const AURORA_JOBS = 'aurora-jobs';
export const AURORA_OUTCOMES = 'aurora-outcomes';

/** Who asks, with the residency and purpose they require (policy context). */
export interface RouteCaller {
  readonly principal: Principal;
  readonly residency?: string;
  readonly purpose?: string;
}

export interface Candidate {
  readonly provider: string;
  readonly offerId: string;
  readonly region: string;
  readonly gpuModel: string;
  readonly gpuCount: number;
  readonly pricePerHour: number;
  readonly score: number;
  readonly rule: number;
  readonly learned?: number;
  readonly bonus?: number;
}

export interface DeniedLocation {
  readonly location: string;
  readonly reasons: readonly string[];
}

/** One routing decision (what a `route` receipt records, and what POST /agent/route answers). */
export interface RouteDecision {
  readonly decisionId: string;
  readonly workloadId: string;
  readonly tenant: string;
  /** Best first. */
  readonly candidates: readonly Candidate[];
  /** Offers seen across providers, and how many survived each stage. */
  readonly offers: { readonly seen: number; readonly eligible: number; readonly allowed: number };
  /** The most common reasons offers were dropped by hard constraints (reason → count). */
  readonly dropped: Readonly<Record<string, number>>;
  readonly denied: readonly DeniedLocation[];
  /** Providers whose offer listing failed (the decision went on without them). */
  readonly providerErrors: readonly { readonly provider: string; readonly error: string }[];
  readonly policySetHash: string;
  readonly modelHash?: string;
  readonly reason: string;
  readonly receipt: { readonly index: number; readonly leafHash: string };
  /** Milliseconds: the whole decision, policy, and the providers' offer listing (max). */
  readonly timings: { readonly totalMs: number; readonly policyMs: number; readonly listMs: number };
}

export interface PlacementAttempt {
  readonly provider: string;
  readonly region: string;
  readonly offerId: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly latencyMs: number;
  readonly receipt: { readonly index: number; readonly leafHash: string };
}

/** A job placed (or not) by the router, as stored. */
export interface AuroraJob {
  readonly id: string;
  readonly workload: Workload;
  readonly tenant: string;
  readonly requestedBy: string;
  readonly createdAt: string;
  state: 'placing' | ProviderJob['state'] | 'unplaced';
  provider?: string;
  region?: string;
  offerId?: string;
  providerJobId?: string;
  pricePerHour?: number;
  detail?: string;
  attempts: PlacementAttempt[];
  updatedAt: string;
  /**
   * The placement the model has not learned from yet: a submit the provider answered pending or running is learned
   * from when the job ends (succeeded, or failed), not counted a success before it ran.
   */
  pendingOutcome?: Omit<RouteOutcome, 'seq' | 'reward' | 'success'> & { priceFeature: number };
}

/** One placement attempt's outcome, what the model learns from (stored in order: id o-<seq>). */
export interface RouteOutcome {
  readonly seq: number;
  readonly at: string;
  readonly jobId: string;
  /** The `route` receipt of the decision this attempt carried out. */
  readonly receiptIndex?: number;
  readonly provider: string;
  readonly region: string;
  readonly features: readonly number[];
  readonly success: boolean;
  readonly reward: number;
  readonly latencyMs: number;
  readonly pricePerHour: number;
}

/** What a decision's `route` receipt says about its timing (for SLO reports): read back from the ledger. */
export interface DecisionRecord {
  /** The receipt's index and time. */
  readonly index: number;
  readonly at: string;
  readonly tenant: string;
  /** The provider chosen, or none. */
  readonly provider?: string;
  /** Policy time of the decision, ms. */
  readonly policyMs: number;
  /** Per provider: the offer listing's round trip, ms. */
  readonly rtt: Readonly<Record<string, number>>;
}

/** The DecisionRecord of a `route` receipt that is a decision (recommend, attempt, unplaced); else undefined. */
export function decisionOfReceipt(r: {
  index: number;
  time: string;
  tenant: string;
  body: Record<string, unknown>;
}): DecisionRecord | undefined {
  const b = r.body;
  const t = b.timings as { policyMs?: unknown; rtt?: unknown } | undefined;
  if (typeof t !== 'object' || t === null || typeof t.policyMs !== 'number') return undefined;
  const rtt: Record<string, number> = {};
  if (typeof t.rtt === 'object' && t.rtt !== null)
    for (const [k, v] of Object.entries(t.rtt)) if (typeof v === 'number') rtt[k] = v;
  return {
    index: r.index,
    at: r.time,
    tenant: r.tenant,
    ...(typeof b.provider === 'string' && b.provider !== 'none' ? { provider: b.provider } : {}),
    policyMs: t.policyMs,
    rtt,
  };
}

export type RouterEvent =
  | { type: 'decision'; kind: 'recommend' | 'place'; totalMs: number; policyMs: number; candidates: number }
  | { type: 'attempt'; provider: string; ok: boolean; latencyMs: number; pricePerHour: number; hours: number }
  | { type: 'rtt'; provider: string; ms: number; ok: boolean }
  | { type: 'placed'; placed: boolean };

export interface RouterOptions {
  readonly providers: readonly ComputeProvider[];
  /** The policy engine (decisions are summarized in the route receipt, not recorded one by one). */
  readonly decider: PolicyDecider;
  readonly receipts: ReceiptWriter;
  readonly store: ControlStore;
  readonly treaties?: readonly Treaty[];
  readonly weights?: ScoreWeights;
  /** The active model (learning online from here); absent: an empty one. */
  readonly model?: LinUcb;
  /** Exploration α of a new model. Default 0.25 (the feature vector's norm is about 2: 0.5 would give an untried
   * provider a bonus as large as the whole reward range). */
  readonly alpha?: number;
  /** Weight of the price in the reward. Default 0.3. */
  readonly costWeight?: number;
  /** Time limit of one provider's listing or submit. Default 10 s. */
  readonly providerTimeoutMs?: number;
  /** Placement attempts before a job is unplaced. Default 3. */
  readonly maxAttempts?: number;
  /**
   * How long a policy decision for the same caller, tenant, residency, purpose and provider/region is reused, ms.
   * Default 2000; 0 evaluates every time. Policies that depend on the time of day see it up to this late.
   */
  readonly policyCacheMs?: number;
  /** Candidates kept in a decision (receipt and answer). Default 10. */
  readonly topCandidates?: number;
  readonly onEvent?: (e: RouterEvent) => void;
  /** The Ψ-Field's forecasts per provider (round trip, anomaly likelihood); absent: scores without them. */
  readonly forecasts?: () => ReadonlyMap<string, ProviderForecast>;
  readonly now?: () => number;
}

export interface Router {
  /** Scores and recommends; records a `route` receipt; places nothing. */
  recommend(workload: unknown, caller: RouteCaller, opts?: { top?: number }): Promise<RouteDecision>;
  /** Places with failover; resolves with the stored job (state unplaced when every attempt failed or no offer). */
  place(workload: unknown, caller: RouteCaller): Promise<AuroraJob>;
  getJob(id: string, opts?: { refresh?: boolean }): Promise<AuroraJob | undefined>;
  listJobs(opts?: { tenant?: string; limit?: number }): Promise<AuroraJob[]>;
  cancel(id: string, caller: RouteCaller): Promise<AuroraJob>;
  /** The active model (learning online). */
  model(): LinUcb;
  modelHash(): string | undefined;
  /** Replaces the active model (after `vm aurora train`), replaying outcomes after `throughSeq`. */
  activate(model: LinUcb, hash: string, throughSeq: number): Promise<void>;
  /** Provider standings the scores use (treaty compliance and observed reliability). */
  standings(): ReadonlyMap<string, ProviderStanding>;
  /** Sets a provider's treaty compliance (from an SLO report). */
  setCompliance(provider: string, compliance: number): void;
  readonly treaties: readonly Treaty[];
  readonly providers: readonly string[];
  /** Loads outcome counters and replays outcomes newer than the model (call once before use). */
  init(opts?: { modelThroughSeq?: number }): Promise<void>;
}

const round = (v: number, digits = 6) => Math.round(v * 10 ** digits) / 10 ** digits;
const seqId = (n: number) => `o-${String(n).padStart(12, '0')}`;
const clip = (s: string, n = 300) => (s.length <= n ? s : s.slice(0, n - 1) + '…');

function withTimeout(ms: number): { signal: AbortSignal; done: () => void } {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(new AuroraError('PROVIDER_TIMEOUT', `no answer within ${ms} ms`)), ms);
  t.unref?.();
  return { signal: ac.signal, done: () => clearTimeout(t) };
}

const errText = (err: unknown) =>
  clip(
    err instanceof AuroraError
      ? `${err.code}: ${err.message}`
      : err instanceof Error
        ? err.message
        : String(err),
  );

export function parseWorkload(input: unknown): Workload {
  const r = WorkloadSchema.safeParse(input);
  if (!r.success)
    throw new AuroraError(
      'INVALID_ARGUMENT',
      `invalid workload: ${r.error.issues
        .slice(0, 10)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')}`,
    );
  return r.data;
}

export function createRouter(opts: RouterOptions): Router {
  const now = opts.now ?? Date.now;
  const weights = opts.weights ?? DEFAULT_WEIGHTS;
  const costWeight = opts.costWeight ?? 0.3;
  const providerTimeoutMs = opts.providerTimeoutMs ?? 10_000;
  const maxAttempts = opts.maxAttempts ?? 3;
  const top = opts.topCandidates ?? 10;
  const emit = opts.onEvent ?? (() => undefined);
  // Durations come from the monotonic clock (sub-millisecond); `now` is wall time for records.
  const tick = () => performance.now();
  const policyCacheMs = opts.policyCacheMs ?? 2000;
  const policyCache = new Map<
    string,
    { at: number; allow: boolean; reasons: readonly string[]; hash: string }
  >();
  const byName = new Map(opts.providers.map((p) => [p.name, p]));
  if (byName.size !== opts.providers.length)
    throw new AuroraError('INVALID_ARGUMENT', 'provider names must be unique');
  const treaties = [...(opts.treaties ?? [])];
  const treatyByProvider = new Map(treaties.map((t) => [t.provider, t]));
  if (treatyByProvider.size !== treaties.length)
    throw new AuroraError('INVALID_ARGUMENT', 'two treaties cover one provider: merge them into one');
  let model = opts.model ?? new LinUcb({ features: FEATURES, alpha: opts.alpha ?? 0.25 });
  if (model.features.join() !== FEATURES.join())
    throw new AuroraError(
      'INVALID_ARGUMENT',
      `the model's features (${model.features.join(',')}) are not the router's`,
    );
  let modelHash: string | undefined = opts.model ? opts.model.hash() : undefined;
  const counts = new Map<string, { ok: number; n: number }>();
  const compliance = new Map<string, number>();
  let nextSeq = 1;

  const standings = (): Map<string, ProviderStanding> => {
    const m = new Map<string, ProviderStanding>();
    const forecasts = opts.forecasts?.();
    for (const name of byName.keys()) {
      const c = counts.get(name);
      const forecast = forecasts?.get(name);
      m.set(name, {
        treatyCompliance: compliance.get(name) ?? 1,
        ...(forecast ? { forecast } : {}),
        // Observed reliability replaces the advertised one after a few attempts (Laplace-smoothed).
        ...(c && observedReliability(c) !== undefined
          ? { observedReliability: observedReliability(c)! }
          : {}),
      });
    }
    return m;
  };

  const learn = (o: Omit<RouteOutcome, 'seq' | 'reward'> & { priceFeature: number }): RouteOutcome => {
    // Rounded as stored, so that replaying the stored outcomes rebuilds exactly this model.
    const reward = round(rewardOf({ success: o.success, priceFeature: o.priceFeature }, costWeight));
    model.update(o.provider, o.features, reward);
    const c = counts.get(o.provider) ?? { ok: 0, n: 0 };
    c.n++;
    if (o.success) c.ok++;
    counts.set(o.provider, c);
    const { priceFeature: _p, ...rest } = o;
    return { ...rest, seq: nextSeq++, reward };
  };
  /** Learns from one placement outcome and stores it (what `vm aurora train` replays). */
  const recordOutcome = async (
    o: Omit<RouteOutcome, 'seq' | 'reward'> & { priceFeature: number },
  ): Promise<void> => {
    const outcome = learn(o);
    await opts.store.put(AURORA_OUTCOMES, seqId(outcome.seq), outcome);
  };

  async function gather(workload: Workload, signal?: AbortSignal) {
    const errors: { provider: string; error: string }[] = [];
    const rtt: Record<string, number> = {};
    const t0 = tick();
    const lists = await Promise.all(
      opts.providers.map(async (p) => {
        const t = withTimeout(providerTimeoutMs);
        const start = tick();
        try {
          const s = signal ? AbortSignal.any([signal, t.signal]) : t.signal;
          const offers = await p.listOffers(workload, { signal: s });
          rtt[p.name] = tick() - start;
          emit({ type: 'rtt', provider: p.name, ms: rtt[p.name]!, ok: true });
          // An adapter must not speak for another provider.
          return offers.filter((o) => o.provider === p.name);
        } catch (err) {
          rtt[p.name] = tick() - start;
          emit({ type: 'rtt', provider: p.name, ms: rtt[p.name]!, ok: false });
          errors.push({ provider: p.name, error: errText(err) });
          return [];
        } finally {
          t.done();
        }
      }),
    );
    return { offers: lists.flat(), errors, rtt, listMs: tick() - t0 };
  }

  /** Policy per distinct provider/region (Cedar "route" on Provider{region}); denied locations with reasons. */
  async function policyFilter(offers: readonly Offer[], workload: Workload, caller: RouteCaller) {
    const t0 = tick();
    const verdict = new Map<string, { allow: boolean; reasons: readonly string[] }>();
    let policySetHash = opts.decider.policySetHash;
    let cached = 0;
    // The stricter of the two applies: the workload's residency and the caller's each must allow a location (a
    // caller naming another residency never loosens what the workload requires).
    const residencies = [...new Set([workload.residency, caller.residency].filter((r) => r !== undefined))];
    const p = caller.principal;
    const who = `${p.type}\u0000${p.id}\u0000${p.role}\u0000${p.tenant}\u0000${workload.tenant}\u0000${residencies.join(',')}\u0000${caller.purpose ?? ''}`;
    const at = now();
    if (policyCache.size > 10_000) policyCache.clear();
    for (const o of offers) {
      const loc = locationOf(o);
      if (verdict.has(loc)) continue;
      const key = `${who}\u0000${loc}`;
      const hit = policyCacheMs > 0 ? policyCache.get(key) : undefined;
      if (hit && at - hit.at < policyCacheMs && hit.hash === opts.decider.policySetHash) {
        verdict.set(loc, { allow: hit.allow, reasons: hit.reasons });
        cached++;
        continue;
      }
      let v: { allow: boolean; reasons: readonly string[] } = { allow: true, reasons: [] };
      for (const residency of residencies.length ? residencies : [undefined]) {
        const d = await opts.decider.decide({
          principal: p,
          action: 'route',
          resource: { type: 'provider', id: o.provider, tenant: workload.tenant, region: o.region },
          context: {
            ...(residency ? { residency } : {}),
            ...(caller.purpose ? { purpose: caller.purpose } : {}),
            dryRun: false,
          },
        });
        policySetHash = d.policySetHash;
        if (d.decision !== 'allow') {
          v = { allow: false, reasons: [...d.reasons, ...d.errors].slice(0, 5) };
          break;
        }
        v = { allow: true, reasons: d.reasons };
      }
      verdict.set(loc, v);
      if (policyCacheMs > 0) policyCache.set(key, { at, ...v, hash: policySetHash });
    }
    const allowed = offers.filter((o) => verdict.get(locationOf(o))!.allow);
    const denied: DeniedLocation[] = [...verdict]
      .filter(([, v]) => !v.allow)
      .map(([location, v]) => ({
        location,
        reasons: v.reasons.length ? v.reasons : ['no policy permits it'],
      }))
      .sort((a, b) => (a.location < b.location ? -1 : 1));
    return { allowed, denied, policySetHash, policyMs: tick() - t0, decisions: verdict.size, cached };
  }

  const toCandidate = (s: ScoredOffer): Candidate => ({
    provider: s.offer.provider,
    offerId: s.offer.offerId,
    region: s.offer.region,
    gpuModel: s.offer.gpuModel,
    gpuCount: s.offer.gpuCount,
    pricePerHour: s.offer.pricePerHour,
    score: round(s.score),
    rule: round(s.rule),
    ...(s.learned !== undefined ? { learned: round(s.learned) } : {}),
    ...(s.bonus !== undefined ? { bonus: round(s.bonus) } : {}),
  });

  /** One decision over the current offers, less the blocked locations; the receipt is durable when it returns. */
  async function decide(
    workload: Workload,
    caller: RouteCaller,
    d: {
      kind: 'recommend' | 'place';
      jobId: string;
      blocked: ReadonlySet<string>;
      attempt: number;
      parent?: { index: number; leafHash: string };
      previousFailure?: string;
      top: number;
    },
  ): Promise<RouteDecision & { ranked: ScoredOffer[]; ctx: ScoringContext }> {
    const t0 = tick();
    const g = await gather(workload);
    const f = hardFilter(g.offers, workload, {
      treaties: treatyByProvider,
      blocked: d.blocked,
      nowMs: now(),
    });
    const dropped: Record<string, number> = {};
    for (const x of f.dropped) {
      // Group by the reason's shape (numbers removed) so the summary stays small.
      const key = x.reason.replace(/[\d.]+/g, 'N');
      dropped[key] = (dropped[key] ?? 0) + 1;
    }
    const p = await policyFilter(f.kept, workload, caller);
    const ctx = scoringContext(p.allowed, workload, standings());
    const ranked = rankOffers(p.allowed, ctx, { weights, model });
    const candidates = ranked.slice(0, d.top).map(toCandidate);
    const best = candidates[0];
    const reason = best
      ? `${d.previousFailure ? `failover (attempt ${d.attempt}) after ${d.previousFailure}; ` : ''}` +
        `${best.provider}/${best.region} offer ${best.offerId} scores best (${best.score}: rules ${best.rule}` +
        `${best.learned !== undefined ? `, learned ${best.learned}${best.bonus ? ` + exploration ${best.bonus}` : ''}` : ''}` +
        `) of ${p.allowed.length} allowed offers at ${best.pricePerHour}/h`
      : `no offer: ${g.offers.length} seen, ${f.kept.length} meet the workload and treaties, ${p.allowed.length} allowed by policy` +
        (g.errors.length ? `; ${g.errors.length} provider(s) failed to list` : '') +
        (d.previousFailure ? `; after ${d.previousFailure}` : '');
    const decisionId = `route-${randomUUID()}`;
    const body = {
      jobId: d.jobId,
      provider: best?.provider ?? 'none',
      reason: clip(reason, 2000),
      decisionId,
      phase: d.kind === 'recommend' ? 'recommend' : best ? 'attempt' : 'unplaced',
      attempt: d.attempt,
      workload: {
        id: workload.id,
        gpu: workload.gpu,
        priority: workload.priority,
        ...(workload.residency ? { residency: workload.residency } : {}),
        ...(workload.maxPricePerHour !== undefined ? { maxPricePerHour: workload.maxPricePerHour } : {}),
      },
      candidates,
      offers: { seen: g.offers.length, eligible: f.kept.length, allowed: p.allowed.length },
      dropped,
      denied: p.denied.slice(0, 100),
      blocked: [...d.blocked].sort(),
      providerErrors: g.errors,
      policySetHash: p.policySetHash,
      policyDecisions: { locations: p.decisions, cached: p.cached },
      // What the canary SLO report measures (read back from the ledger): policy time and each listing's round trip.
      timings: {
        policyMs: round(p.policyMs, 3),
        listMs: round(g.listMs, 3),
        rtt: Object.fromEntries(Object.entries(g.rtt).map(([k, v]) => [k, round(v, 3)])),
      },
      ...(modelHash ? { modelHash } : {}),
      modelUpdates: model.updates,
      ...(caller.residency ? { residency: caller.residency } : {}),
    };
    const receipt = await opts.receipts.append({
      kind: 'route',
      actor: caller.principal.id,
      tenant: workload.tenant,
      body,
      ...(d.parent ? { parents: [d.parent] } : {}),
    });
    const totalMs = tick() - t0;
    emit({ type: 'decision', kind: d.kind, totalMs, policyMs: p.policyMs, candidates: p.allowed.length });
    return {
      decisionId,
      workloadId: workload.id,
      tenant: workload.tenant,
      candidates,
      offers: body.offers,
      dropped,
      denied: p.denied,
      providerErrors: g.errors,
      policySetHash: p.policySetHash,
      ...(modelHash ? { modelHash } : {}),
      reason: body.reason,
      receipt,
      timings: { totalMs: round(totalMs, 3), policyMs: round(p.policyMs, 3), listMs: round(g.listMs, 3) },
      ranked,
      ctx,
    };
  }

  const saveJob = async (job: AuroraJob) => {
    job.updatedAt = new Date(now()).toISOString();
    await opts.store.put(AURORA_JOBS, job.id, job);
  };

  const requireTenant = (caller: RouteCaller, tenant: string) => {
    const t = caller.principal.tenant;
    if (t !== '*' && t !== tenant)
      throw new AuroraError('POLICY_DENIED', `this token is scoped to tenant ${t}, not ${tenant}`);
  };

  return {
    treaties,
    providers: [...byName.keys()],
    model: () => model,
    modelHash: () => modelHash,
    standings,
    setCompliance(provider, c) {
      compliance.set(provider, Math.min(1, Math.max(0, c)));
    },

    async init(initOpts = {}) {
      const docs = await opts.store.list<RouteOutcome>(AURORA_OUTCOMES);
      const through = initOpts.modelThroughSeq ?? 0;
      for (const { doc } of docs) {
        nextSeq = Math.max(nextSeq, doc.seq + 1);
        const c = counts.get(doc.provider) ?? { ok: 0, n: 0 };
        c.n++;
        if (doc.success) c.ok++;
        counts.set(doc.provider, c);
        if (doc.seq > through) model.update(doc.provider, doc.features, doc.reward);
      }
    },

    async activate(next, hash, throughSeq) {
      if (next.features.join() !== FEATURES.join())
        throw new AuroraError('INVALID_ARGUMENT', "the model's features are not the router's");
      const docs = await opts.store.list<RouteOutcome>(AURORA_OUTCOMES, {});
      for (const { doc } of docs)
        if (doc.seq > throughSeq) next.update(doc.provider, doc.features, doc.reward);
      model = next;
      modelHash = hash;
    },

    async recommend(input, caller, recOpts = {}) {
      const workload = parseWorkload(input);
      requireTenant(caller, workload.tenant);
      const n = Math.min(Math.max(recOpts.top ?? top, 1), 100);
      const {
        ranked: _r,
        ctx: _c,
        ...decision
      } = await decide(workload, caller, {
        kind: 'recommend',
        jobId: workload.id,
        blocked: new Set(),
        attempt: 0,
        top: n,
      });
      return decision;
    },

    async place(input, caller) {
      const workload = parseWorkload(input);
      requireTenant(caller, workload.tenant);
      const t = new Date(now()).toISOString();
      const job: AuroraJob = {
        id: `job-${randomUUID()}`,
        workload,
        tenant: workload.tenant,
        requestedBy: caller.principal.id,
        createdAt: t,
        updatedAt: t,
        state: 'placing',
        attempts: [],
      };
      await opts.store.put(AURORA_JOBS, job.id, job);
      const blocked = new Set<string>();
      let parent: { index: number; leafHash: string } | undefined;
      let previousFailure: string | undefined;
      let placed = false;
      // Whatever goes wrong in a decision or a submit, the job ends unplaced, saying why: never left 'placing'.
      try {
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          const d = await decide(workload, caller, {
            kind: 'place',
            jobId: job.id,
            blocked,
            attempt,
            parent,
            previousFailure,
            top,
          });
          parent = d.receipt;
          const choice = d.ranked[0];
          if (!choice) {
            job.detail = d.reason;
            break;
          }
          const offer = choice.offer;
          const provider = byName.get(offer.provider)!;
          // The context the decision ranked with: what the model learns from is what it scored.
          const features = Array.from(offerFeatures(offer, d.ctx));
          const t0 = tick();
          const tl = withTimeout(providerTimeoutMs);
          let result: ProviderJob | undefined;
          let error: string | undefined;
          try {
            result = await provider.submit(workload, offer, { signal: tl.signal });
            if (result.state === 'failed' || result.state === 'cancelled')
              error = `provider reports ${result.state}${result.detail ? `: ${clip(result.detail, 200)}` : ''}`;
          } catch (err) {
            error = errText(err);
          } finally {
            tl.done();
          }
          const latencyMs = tick() - t0;
          const ok = error === undefined;
          emit({
            type: 'attempt',
            provider: offer.provider,
            ok,
            latencyMs,
            pricePerHour: offer.pricePerHour,
            hours: workload.hours,
          });
          const attemptOutcome = {
            at: new Date(now()).toISOString(),
            jobId: job.id,
            receiptIndex: d.receipt.index,
            provider: offer.provider,
            region: offer.region,
            features,
            latencyMs: round(latencyMs, 3),
            pricePerHour: offer.pricePerHour,
            priceFeature: features[1]!,
          };
          // A failure is known now; a job the provider has only accepted (pending, running) is learned from when it
          // ends (getJob), so an accepted job that then fails is never counted a success.
          if (ok && result && (result.state === 'pending' || result.state === 'running'))
            job.pendingOutcome = attemptOutcome;
          else await recordOutcome({ ...attemptOutcome, success: ok });
          job.attempts.push({
            provider: offer.provider,
            region: offer.region,
            offerId: offer.offerId,
            ok,
            ...(error ? { error } : {}),
            latencyMs: round(latencyMs, 3),
            receipt: d.receipt,
          });
          if (ok && result) {
            Object.assign(job, {
              state: result.state,
              provider: offer.provider,
              region: offer.region,
              offerId: offer.offerId,
              providerJobId: result.jobId,
              pricePerHour: result.pricePerHour ?? offer.pricePerHour,
              detail: d.reason,
            });
            placed = true;
            break;
          }
          blocked.add(locationOf(offer));
          previousFailure = `${locationOf(offer)} failed (${error})`;
          job.detail = previousFailure;
          await saveJob(job);
        }
      } catch (err) {
        job.state = 'unplaced';
        job.detail = clip(`placement stopped: ${errText(err)}`, 500);
        await saveJob(job).catch(() => undefined);
        throw err;
      }
      if (!placed) {
        job.state = 'unplaced';
        if (previousFailure && job.attempts.length >= maxAttempts)
          job.detail = `every attempt failed (${maxAttempts}); last: ${previousFailure}`;
      }
      // The outcome as a receipt of its own: what was placed where (or that nothing was), after the decisions.
      await opts.receipts.append({
        kind: 'route',
        actor: caller.principal.id,
        tenant: workload.tenant,
        body: {
          jobId: job.id,
          provider: job.provider ?? 'none',
          reason: clip(
            placed
              ? `placed on ${job.provider}/${job.region} as ${job.providerJobId}`
              : (job.detail ?? 'unplaced'),
            2000,
          ),
          phase: placed ? 'placed' : 'unplaced',
          attempts: job.attempts.map((a) => ({
            provider: a.provider,
            region: a.region,
            offerId: a.offerId,
            ok: a.ok,
            ...(a.error ? { error: a.error } : {}),
          })),
          ...(job.providerJobId ? { providerJobId: job.providerJobId } : {}),
        },
        ...(parent ? { parents: [parent] } : {}),
      });
      emit({ type: 'placed', placed });
      await saveJob(job);
      return job;
    },

    async getJob(id, getOpts = {}) {
      const doc = await opts.store.get<AuroraJob>(AURORA_JOBS, id);
      if (!doc) return undefined;
      const job = doc.doc;
      if (
        getOpts.refresh &&
        job.provider &&
        job.providerJobId &&
        ['pending', 'running'].includes(job.state)
      ) {
        const p = byName.get(job.provider);
        if (p) {
          const tl = withTimeout(providerTimeoutMs);
          try {
            const s = await p.status(job.providerJobId, { signal: tl.signal });
            if (s.state !== job.state || s.detail !== job.detail) {
              job.state = s.state;
              if (s.detail) job.detail = clip(s.detail, 500);
              // The job ended: now the model learns whether the placement worked.
              if (job.pendingOutcome && ['succeeded', 'failed', 'cancelled'].includes(s.state)) {
                await recordOutcome({ ...job.pendingOutcome, success: s.state === 'succeeded' });
                delete job.pendingOutcome;
              }
              await saveJob(job);
            }
          } catch (err) {
            job.detail = `status unavailable: ${errText(err)}`;
          } finally {
            tl.done();
          }
        }
      }
      return job;
    },

    async listJobs(listOpts = {}) {
      const docs = await opts.store.list<AuroraJob>(AURORA_JOBS);
      return docs
        .map((d) => d.doc)
        .filter(
          (j) => listOpts.tenant === undefined || listOpts.tenant === '*' || j.tenant === listOpts.tenant,
        )
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .slice(0, listOpts.limit ?? 100);
    },

    async cancel(id, caller) {
      const doc = await opts.store.get<AuroraJob>(AURORA_JOBS, id);
      if (!doc) throw new AuroraError('NOT_FOUND', `no Aurora job ${id}`);
      const job = doc.doc;
      requireTenant(caller, job.tenant);
      if (!job.provider || !job.providerJobId || !['pending', 'running'].includes(job.state))
        throw new AuroraError('INVALID_ARGUMENT', `job ${id} is ${job.state}: nothing to cancel`);
      const p = byName.get(job.provider);
      if (!p) throw new AuroraError('NOT_FOUND', `provider ${job.provider} is no longer configured`);
      const tl = withTimeout(providerTimeoutMs);
      try {
        const s = await p.cancel(job.providerJobId, { signal: tl.signal });
        job.state = s.state === 'running' || s.state === 'pending' ? 'cancelled' : s.state;
        // Cancelled by its owner: says nothing about the provider, so the model does not learn from it.
        delete job.pendingOutcome;
      } finally {
        tl.done();
      }
      await opts.receipts.append({
        kind: 'route',
        actor: caller.principal.id,
        tenant: job.tenant,
        body: {
          jobId: job.id,
          provider: job.provider,
          reason: `cancelled by ${caller.principal.id}`,
          phase: 'cancelled',
          providerJobId: job.providerJobId,
        },
      });
      await saveJob(job);
      return job;
    },
  };
}
