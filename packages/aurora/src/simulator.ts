// The Aurora simulator (`vm sim`): a deterministic discrete-event simulation of a GPU market. Jobs arrive (seeded),
// a placement policy ranks the offers that have free capacity, and each attempt succeeds or fails by the providers'
// HIDDEN true behaviour, which no policy sees (failure odds that grow with GPU count and with load, price drift).
// The `rules` and `learned` policies rank with the router's own functions (hardFilter → scoringContext →
// rankOffers, LinUCB updated with rewardOf after every attempt), so the comparison shows what the router would do.
//
// Fairness: every policy sees the same jobs (same arrivals, durations) and the same random numbers for attempt k of
// job j (common random numbers: a failure draw u, a latency draw, a random-policy draw), so differences between
// policies come from their choices, not from luck. Same seed → the same result bytes.
import { LinUcb } from './bandit.ts';
import { AuroraError } from './errors.ts';
import {
  FEATURES,
  hardFilter,
  locationOf,
  observedReliability,
  offerFeatures,
  rankOffers,
  rewardOf,
  scoringContext,
  type ProviderStanding,
  type ScoringContext,
} from './scoring.ts';
import type { Offer, Workload } from './workload.ts';
import {
  invalid,
  MAX_JOBS,
  SIM_FIXED_POLICIES,
  SimOptionsSchema,
  workloadOf,
  type JobClass,
  type SimOptions,
  type SimPolicyName,
  type SimProvider,
  type SimProviders,
  type SimRunOptions as Options,
  type SimWorkloads,
} from './sim-inputs.ts';

export {
  parseSimProviders,
  parseSimWorkloads,
  SIM_DEFAULTS,
  SIM_FIXED_POLICIES,
  SIM_POLICIES,
  SimOptionsSchema,
  SimProvidersSchema,
  SimWorkloadsSchema,
} from './sim-inputs.ts';
export type {
  JobClass,
  SimOptions,
  SimPolicyName,
  SimProvider,
  SimProviders,
  SimWorkloads,
} from './sim-inputs.ts';

// ---------------------------------------------------------------------------------------------------------------
// Randomness: mulberry32 for the arrivals, a hash of (seed, stream, job, attempt) for the common random numbers.

/** mulberry32: a small, fast, seeded 32-bit PRNG; returns a function giving uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** murmur3's 32-bit finalizer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const STREAM = { failure: 1, latency: 2, random: 3 } as const;

/** The common random number of (seed, stream, job, attempt), uniform in [0, 1): the same for every policy. */
function crn(seed: number, stream: number, job: number, attempt: number): number {
  let h = fmix32(seed ^ 0x9e3779b9);
  h = fmix32(h ^ Math.imul(stream, 0x27d4eb2f));
  h = fmix32(h ^ Math.imul(job + 1, 0x165667b1));
  h = fmix32(h ^ Math.imul(attempt + 1, 0x61c88647));
  return h / 4294967296;
}

// ---------------------------------------------------------------------------------------------------------------
// The world: offers and jobs, the same for every policy.

interface SimOffer {
  readonly key: string; // provider/offerId
  readonly provider: SimProvider;
  readonly base: Offer;
  readonly capacity: number;
}

interface SimJob {
  readonly index: number;
  readonly cls: JobClass;
  readonly workload: Workload;
  readonly arrivalMs: number;
  readonly deadlineMs: number;
  readonly durationMs: number;
}

const HOUR = 3_600_000;

function buildOffers(providers: SimProviders): SimOffer[] {
  const out: SimOffer[] = [];
  for (const p of providers.providers)
    for (const o of p.offers)
      out.push({
        key: `${p.name}/${o.id}`,
        provider: p,
        capacity: o.capacity,
        base: {
          provider: p.name,
          offerId: o.id,
          gpuModel: o.gpuModel,
          gpuCount: o.gpuCount,
          memoryGiB: o.memoryGiB,
          pricePerHour: o.pricePerHour,
          region: o.region,
          reliability: p.advertisedReliability,
          latencyMs: p.startLatency.meanMs,
        },
      });
  return out;
}

/** Every job of the run, by arrival time (ties: class order, then draw order). */
function buildJobs(workloads: SimWorkloads, horizonHours: number, seed: number): SimJob[] {
  const rnd = mulberry32(seed);
  const drafts: { cls: JobClass; ci: number; t: number; u: number }[] = [];
  workloads.classes.forEach((cls, ci) => {
    const from = Math.min(cls.fromHour ?? 0, horizonHours) * HOUR;
    const to = Math.min(cls.toHour ?? horizonHours, horizonHours) * HOUR;
    const span = Math.max(0, to - from);
    const times: number[] = [];
    if (cls.count !== undefined) {
      for (let i = 0; i < cls.count && span > 0; i++) times.push(from + rnd() * span);
      times.sort((a, b) => a - b);
    } else if ((cls.ratePerHour ?? 0) > 0 && span > 0) {
      const meanGap = HOUR / cls.ratePerHour!;
      for (let t = from - Math.log(1 - rnd()) * meanGap; t < to; t -= Math.log(1 - rnd()) * meanGap) {
        times.push(t);
        if (times.length > MAX_JOBS) break;
      }
    }
    for (const t of times) drafts.push({ cls, ci, t: Math.floor(t), u: rnd() });
    if (drafts.length > MAX_JOBS)
      throw new AuroraError(
        'INVALID_ARGUMENT',
        `the workloads make more than ${MAX_JOBS} jobs; lower the rates`,
      );
  });
  drafts.sort((a, b) => a.t - b.t || a.ci - b.ci);
  const perClass = new Map<string, number>();
  return drafts.map((d, index) => {
    const n = perClass.get(d.cls.name) ?? 0;
    perClass.set(d.cls.name, n + 1);
    const hours = d.cls.hours * (1 + d.cls.hoursJitter * (2 * d.u - 1));
    return {
      index,
      cls: d.cls,
      workload: workloadOf(d.cls, `${d.cls.name}-${n}`),
      arrivalMs: d.t,
      deadlineMs: d.t + Math.round(d.cls.maxWaitMinutes * 60_000),
      durationMs: Math.max(1, Math.round(hours * HOUR)),
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Results

export type DropReason = 'no-offer' | 'attempts' | 'deadline';

export interface PolicySummary {
  readonly policy: SimPolicyName;
  readonly jobs: number;
  readonly placed: number;
  readonly dropped: number;
  readonly droppedBy: Record<DropReason, number>;
  /** placed / jobs. */
  readonly fillRate: number;
  /** Arrival → running, over placed jobs (waiting, failed attempts and the start latency included), ms. */
  readonly avgLatencyMs: number;
  readonly p95LatencyMs: number;
  /** Σ price per hour × hours over placed jobs. */
  readonly totalCost: number;
  readonly costPerPlacedJob: number;
  readonly attempts: number;
  readonly failures: number;
  readonly byClass: Record<string, { jobs: number; placed: number; cost: number }>;
  /** The learned policy's model at the end of the run (sha256 of its canonical JSON, updates). */
  readonly model?: { hash: string; updates: number };
}

/** One event of a policy's run (with options.log): enough to replay capacity and outcomes. */
export interface SimEvent {
  readonly t: number;
  /** start takes a slot of the offer; fail, late (running after the deadline: cancelled) and release free it. */
  readonly kind: 'arrive' | 'start' | 'fail' | 'late' | 'place' | 'release' | 'wait' | 'drop';
  readonly job: string;
  /** provider/offerId (start, fail, place, release). */
  readonly offer?: string;
  readonly reason?: DropReason;
}

export interface SimSeries {
  /** Sample times, hours from the start. */
  readonly hours: number[];
  readonly byPolicy: Record<
    string,
    {
      /** Placed / decided (placed + dropped) jobs so far; null before the first decision. */
      fillRate: (number | null)[];
      placed: number[];
      dropped: number[];
      cost: number[];
    }
  >;
}

export interface LearnedComparison {
  /** The fixed policy with the highest fill rate (ties: the lower cost per placed job). */
  readonly bestFixed: SimPolicyName;
  /** Learned fills more jobs than the best fixed policy at an equal or lower cost per placed job. */
  readonly learnedBeatsBestFixed: boolean;
  readonly fillRateDelta: number;
  readonly costPerPlacedJobDelta: number;
}

export interface SimResult {
  readonly version: 1;
  readonly seed: number;
  readonly horizonHours: number;
  readonly maxAttempts: number;
  readonly retryIntervalMs: number;
  readonly learning: { alpha: number; costWeight: number };
  readonly jobs: number;
  readonly offers: { key: string; capacity: number }[];
  readonly policies: PolicySummary[];
  /** Highest fill rate; ties: the lower cost per placed job, then the order of SIM_POLICIES. */
  readonly winner: SimPolicyName;
  /** Present when learned and at least one fixed policy ran. */
  readonly comparison?: LearnedComparison;
  readonly series: SimSeries;
  /** Per policy, with options.log. */
  readonly log?: Record<string, SimEvent[]>;
}

// ---------------------------------------------------------------------------------------------------------------
// The event loop

/** Event kinds; at equal times the lower runs first (capacity is released before new work looks for it). */
const Kind = { Release: 0, AttemptEnd: 1, Arrival: 2, Retry: 3 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

interface QEvent {
  t: number;
  kind: Kind;
  seq: number;
  job: SimJob;
}

/** A binary min-heap on (t, kind, seq): deterministic order for simultaneous events. */
class EventQueue {
  private readonly h: QEvent[] = [];
  private seq = 0;
  get size(): number {
    return this.h.length;
  }
  private less(a: QEvent, b: QEvent): boolean {
    return a.t !== b.t ? a.t < b.t : a.kind !== b.kind ? a.kind < b.kind : a.seq < b.seq;
  }
  push(t: number, kind: Kind, job: SimJob): void {
    const h = this.h;
    h.push({ t, kind, job, seq: this.seq++ });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): QEvent | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** A policy orders the eligible offers (free capacity, not blocked) of one decision; the first is tried. */
type Order = (kept: Offer[], ctx: ScoringContext, job: SimJob, attempt: number) => Offer[];

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const tieBreak = (a: Offer, b: Offer) => byText(a.provider, b.provider) || byText(a.offerId, b.offerId);

function makeOrder(policy: SimPolicyName, seed: number, model: LinUcb | undefined): Order {
  switch (policy) {
    case 'random':
      return (kept, _ctx, job, attempt) => {
        // A uniform pick with the job's common random number for this attempt (the rest keep a stable order).
        const out = [...kept].sort(tieBreak);
        const j = Math.floor(crn(seed, STREAM.random, job.index, attempt) * out.length);
        return [out[j]!, ...out.slice(0, j), ...out.slice(j + 1)];
      };
    case 'cheapest':
      return (kept) =>
        [...kept].sort(
          (a, b) =>
            a.pricePerHour - b.pricePerHour || (a.latencyMs ?? 0) - (b.latencyMs ?? 0) || tieBreak(a, b),
        );
    case 'fastest':
      return (kept) =>
        [...kept].sort(
          (a, b) =>
            (a.latencyMs ?? 0) - (b.latencyMs ?? 0) || a.pricePerHour - b.pricePerHour || tieBreak(a, b),
        );
    case 'rules':
      return (kept, ctx) => rankOffers(kept, ctx).map((s) => s.offer);
    case 'learned':
      return (kept, ctx) => rankOffers(kept, ctx, { model }).map((s) => s.offer);
  }
}

interface JobState {
  attempts: number;
  readonly blocked: Set<string>;
  /** The attempt in flight, with the context vector the router would learn from. */
  current?: { offer: SimOffer; listed: Offer; features: Float64Array; success: boolean };
  done: boolean;
}

interface Resolution {
  t: number;
  placed: boolean;
  cost: number;
}

function runPolicy(
  policy: SimPolicyName,
  offers: readonly SimOffer[],
  jobs: readonly SimJob[],
  o: Options,
): { summary: PolicySummary; resolutions: Resolution[]; log?: SimEvent[] } {
  const model = policy === 'learned' ? new LinUcb({ features: FEATURES, alpha: o.alpha }) : undefined;
  const order = makeOrder(policy, o.seed, model);
  const inUse = new Map<string, number>(offers.map((x) => [x.key, 0]));
  const byKey = new Map(offers.map((x) => [x.key, x]));
  const providerCap = new Map<string, { used: number; capacity: number }>();
  for (const x of offers) {
    const c = providerCap.get(x.provider.name) ?? { used: 0, capacity: 0 };
    c.capacity += x.capacity;
    providerCap.set(x.provider.name, c);
  }
  const states = new Map<number, JobState>();
  /** Placed jobs and the offer each runs on, until their release. */
  const running = new Map<number, SimOffer>();
  const q = new EventQueue();
  const log: SimEvent[] | undefined = o.log ? [] : undefined;
  const resolutions: Resolution[] = [];
  const latencies: number[] = [];
  const droppedBy: Record<DropReason, number> = { 'no-offer': 0, attempts: 0, deadline: 0 };
  const byClass: PolicySummary['byClass'] = {};
  let placed = 0;
  let totalCost = 0;
  let attempts = 0;
  let failures = 0;

  const priceAt = (x: SimOffer, t: number) =>
    x.base.pricePerHour * Math.max(0.05, 1 + x.provider.hidden.priceDriftPerDay * (t / (24 * HOUR)));
  const listed = (x: SimOffer, t: number): Offer => {
    const price = priceAt(x, t);
    return price === x.base.pricePerHour ? x.base : { ...x.base, pricePerHour: round(price, 6) };
  };
  const free = (x: SimOffer) => inUse.get(x.key)! < x.capacity;
  const acquire = (x: SimOffer, delta: 1 | -1) => {
    inUse.set(x.key, inUse.get(x.key)! + delta);
    providerCap.get(x.provider.name)!.used += delta;
  };
  const cls = (job: SimJob) => (byClass[job.cls.name] ??= { jobs: 0, placed: 0, cost: 0 });
  // The router's provider standings: no treaties here (compliance 1); the observed, Laplace-smoothed success rate
  // once a provider has seen OBSERVED_AFTER_ATTEMPTS attempts of this run.
  const outcomes = new Map<string, { ok: number; n: number }>();
  const standings = (): Map<string, ProviderStanding> => {
    const m = new Map<string, ProviderStanding>();
    for (const [name, c] of outcomes) {
      const observed = observedReliability(c);
      if (observed !== undefined) m.set(name, { treatyCompliance: 1, observedReliability: observed });
    }
    return m;
  };

  const drop = (job: SimJob, s: JobState, t: number, reason: DropReason) => {
    s.done = true;
    droppedBy[reason]++;
    resolutions.push({ t, placed: false, cost: 0 });
    log?.push({ t, kind: 'drop', job: job.workload.id, reason });
  };

  /** Tries to start the job's next attempt at time t (or makes it wait, or drops it). */
  const tryPlace = (job: SimJob, s: JobState, t: number): void => {
    if (t >= job.deadlineMs) return drop(job, s, t, 'deadline');
    // Like the router, every attempt is a fresh decision over what is offered now (the offers with free capacity),
    // less what the workload forbids and the locations that already failed this job.
    const available = offers.filter(free).map((x) => listed(x, t));
    const kept = hardFilter(available, job.workload, { blocked: s.blocked }).kept;
    if (kept.length === 0) {
      // Nothing free: is there anything the job could ever use (capacity aside)?
      const eligible = hardFilter(
        offers.map((x) => x.base),
        job.workload,
        { blocked: s.blocked },
      ).kept;
      if (eligible.length === 0) return drop(job, s, t, 'no-offer');
      log?.push({ t, kind: 'wait', job: job.workload.id });
      q.push(Math.min(t + o.retryIntervalMs, job.deadlineMs), Kind.Retry, job);
      return;
    }
    const now = standings();
    const ctx = scoringContext(kept, job.workload, now);
    const ranked = order(kept, ctx, job, s.attempts);
    const cand = ranked[0]!;
    // The context the router learns from: the one it ranked with (every allowed offer, the standings of the moment).
    const features = offerFeatures(cand, ctx);
    startAttempt(job, s, t, byKey.get(`${cand.provider}/${cand.offerId}`)!, cand, features);
  };

  const startAttempt = (
    job: SimJob,
    s: JobState,
    t: number,
    x: SimOffer,
    cand: Offer,
    features: Float64Array,
  ) => {
    const k = s.attempts++;
    attempts++;
    const f = x.provider.hidden.failure;
    const cap = providerCap.get(x.provider.name)!;
    const util = cap.used / cap.capacity;
    const load = util > f.loadThreshold ? (util - f.loadThreshold) / (1 - f.loadThreshold) : 0;
    const pFail = Math.min(1, f.base + f.perExtraGpu * (job.workload.gpu.count - 1) + f.highLoad * load);
    const success = crn(o.seed, STREAM.failure, job.index, k) >= pFail;
    const { meanMs, jitterMs } = x.provider.startLatency;
    const latency = Math.max(
      0,
      Math.round(meanMs + jitterMs * (2 * crn(o.seed, STREAM.latency, job.index, k) - 1)),
    );
    acquire(x, 1);
    s.current = { offer: x, listed: cand, features, success };
    log?.push({ t, kind: 'start', job: job.workload.id, offer: x.key });
    q.push(t + latency, Kind.AttemptEnd, job);
  };

  const attemptEnd = (job: SimJob, s: JobState, t: number) => {
    const { offer: x, listed: cand, features, success } = s.current!;
    s.current = undefined;
    model?.update(cand.provider, features, rewardOf({ success, priceFeature: features[1]! }, o.costWeight));
    const c = outcomes.get(cand.provider) ?? { ok: 0, n: 0 };
    c.n++;
    if (success) c.ok++;
    outcomes.set(cand.provider, c);
    if (success && t > job.deadlineMs) {
      // Running, but too late: the job is cancelled at once (not billed) and counts as missing its deadline.
      acquire(x, -1);
      log?.push({ t, kind: 'late', job: job.workload.id, offer: x.key });
      return drop(job, s, t, 'deadline');
    }
    if (success) {
      s.done = true;
      placed++;
      const cost = cand.pricePerHour * (job.durationMs / HOUR);
      totalCost += cost;
      const c = cls(job);
      c.placed++;
      c.cost += cost;
      latencies.push(t - job.arrivalMs);
      running.set(job.index, x);
      resolutions.push({ t, placed: true, cost });
      log?.push({ t, kind: 'place', job: job.workload.id, offer: x.key });
      q.push(t + job.durationMs, Kind.Release, job);
      return;
    }
    failures++;
    acquire(x, -1);
    s.blocked.add(locationOf(cand));
    log?.push({ t, kind: 'fail', job: job.workload.id, offer: x.key });
    if (s.attempts >= o.maxAttempts) return drop(job, s, t, 'attempts');
    tryPlace(job, s, t);
  };

  for (const job of jobs) q.push(job.arrivalMs, Kind.Arrival, job);
  for (let e = q.pop(); e; e = q.pop()) {
    const { job, t } = e;
    switch (e.kind) {
      case Kind.Arrival: {
        const s: JobState = { attempts: 0, blocked: new Set(), done: false };
        states.set(job.index, s);
        cls(job).jobs++;
        log?.push({ t, kind: 'arrive', job: job.workload.id });
        tryPlace(job, s, t);
        break;
      }
      case Kind.Retry: {
        tryPlace(job, states.get(job.index)!, t);
        break;
      }
      case Kind.AttemptEnd: {
        attemptEnd(job, states.get(job.index)!, t);
        break;
      }
      case Kind.Release: {
        const x = running.get(job.index)!;
        running.delete(job.index);
        acquire(x, -1);
        states.delete(job.index);
        log?.push({ t, kind: 'release', job: job.workload.id, offer: x.key });
        break;
      }
    }
  }

  latencies.sort((a, b) => a - b);
  const dropped = jobs.length - placed;
  const summary: PolicySummary = {
    policy,
    jobs: jobs.length,
    placed,
    dropped,
    droppedBy,
    fillRate: jobs.length > 0 ? round(placed / jobs.length, 6) : 0,
    avgLatencyMs:
      latencies.length > 0 ? round(latencies.reduce((a, b) => a + b, 0) / latencies.length, 1) : 0,
    p95LatencyMs: latencies.length > 0 ? latencies[Math.ceil(0.95 * latencies.length) - 1]! : 0,
    totalCost: round(totalCost, 2),
    costPerPlacedJob: placed > 0 ? round(totalCost / placed, 4) : 0,
    attempts,
    failures,
    byClass: Object.fromEntries(
      Object.keys(byClass)
        .sort()
        .map((k) => [k, { ...byClass[k]!, cost: round(byClass[k]!.cost, 2) }]),
    ),
    ...(model ? { model: { hash: model.hash(), updates: model.updates } } : {}),
  };
  return { summary, resolutions, ...(log ? { log } : {}) };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function buildSeries(
  runs: readonly { policy: SimPolicyName; resolutions: Resolution[] }[],
  points: number,
  horizonHours: number,
): SimSeries {
  let endMs = horizonHours * HOUR;
  for (const r of runs) for (const x of r.resolutions) if (x.t > endMs) endMs = x.t;
  const endHours = Math.ceil((endMs / HOUR) * 10) / 10;
  const hours = Array.from({ length: points + 1 }, (_, i) => round((endHours * i) / points, 4));
  const byPolicy: SimSeries['byPolicy'] = {};
  for (const r of runs) {
    const res = [...r.resolutions].sort((a, b) => a.t - b.t);
    const s = {
      fillRate: [] as (number | null)[],
      placed: [] as number[],
      dropped: [] as number[],
      cost: [] as number[],
    };
    let i = 0;
    let placed = 0;
    let dropped = 0;
    let cost = 0;
    for (const h of hours) {
      const limit = h * HOUR;
      while (i < res.length && res[i]!.t <= limit) {
        const x = res[i++]!;
        if (x.placed) placed++;
        else dropped++;
        cost += x.cost;
      }
      s.fillRate.push(placed + dropped > 0 ? round(placed / (placed + dropped), 6) : null);
      s.placed.push(placed);
      s.dropped.push(dropped);
      s.cost.push(round(cost, 2));
    }
    byPolicy[r.policy] = s;
  }
  return { hours, byPolicy };
}

const better = (a: PolicySummary, b: PolicySummary) =>
  a.fillRate !== b.fillRate ? a.fillRate > b.fillRate : a.costPerPlacedJob < b.costPerPlacedJob;

/** The best of the summaries: highest fill rate, then the lowest cost per placed job, then the first given. */
export function bestPolicy(summaries: readonly PolicySummary[]): PolicySummary {
  if (summaries.length === 0) throw new AuroraError('INVALID_ARGUMENT', 'no policy to compare');
  return summaries.reduce((best, s) => (better(s, best) ? s : best));
}

/** Learned vs the best fixed policy; undefined unless learned and a fixed policy ran. */
export function compareLearned(summaries: readonly PolicySummary[]): LearnedComparison | undefined {
  const learned = summaries.find((s) => s.policy === 'learned');
  const fixed = summaries.filter((s) => SIM_FIXED_POLICIES.includes(s.policy));
  if (!learned || fixed.length === 0) return undefined;
  const best = bestPolicy(fixed);
  return {
    bestFixed: best.policy,
    learnedBeatsBestFixed:
      learned.fillRate > best.fillRate && learned.costPerPlacedJob <= best.costPerPlacedJob,
    fillRateDelta: round(learned.fillRate - best.fillRate, 6),
    costPerPlacedJobDelta: round(learned.costPerPlacedJob - best.costPerPlacedJob, 4),
  };
}

/**
 * Runs every policy over the same jobs and hidden draws. Validates the options (INVALID_ARGUMENT naming the field);
 * the providers and workloads must come from parseSimProviders / parseSimWorkloads.
 */
export function runSimulation(
  providers: SimProviders,
  workloads: SimWorkloads,
  options: SimOptions = {},
): SimResult {
  const r = SimOptionsSchema.safeParse(options);
  if (!r.success) invalid('simulation options', r.error.issues);
  const o = r.data;
  const horizonHours = o.horizonHours ?? workloads.horizonHours;
  const offers = buildOffers(providers);
  const jobs = buildJobs(workloads, horizonHours, o.seed);
  const runs = o.policies.map((p) => ({ policy: p, ...runPolicy(p, offers, jobs, o) }));
  const summaries = runs.map((x) => x.summary);
  const comparison = compareLearned(summaries);
  return {
    version: 1,
    seed: o.seed,
    horizonHours,
    maxAttempts: o.maxAttempts,
    retryIntervalMs: o.retryIntervalMs,
    learning: { alpha: o.alpha, costWeight: o.costWeight },
    jobs: jobs.length,
    offers: offers.map((x) => ({ key: x.key, capacity: x.capacity })),
    policies: summaries,
    winner: bestPolicy(summaries).policy,
    ...(comparison ? { comparison } : {}),
    series: buildSeries(runs, o.seriesPoints, horizonHours),
    ...(o.log ? { log: Object.fromEntries(runs.map((x) => [x.policy, x.log ?? []])) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// CSV (RFC 4180)

const csvField = (v: string | number | null | undefined): string => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const csvRows = (rows: (string | number | null | undefined)[][]) =>
  rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';

export const SUMMARY_CSV_COLUMNS = [
  'policy',
  'jobs',
  'placed',
  'dropped',
  'dropped_no_offer',
  'dropped_attempts',
  'dropped_deadline',
  'fill_rate',
  'avg_latency_ms',
  'p95_latency_ms',
  'total_cost',
  'cost_per_placed_job',
  'attempts',
  'failures',
] as const;

/** One row per policy. */
export function summaryCsv(result: SimResult): string {
  return csvRows([
    [...SUMMARY_CSV_COLUMNS],
    ...result.policies.map((p) => [
      p.policy,
      p.jobs,
      p.placed,
      p.dropped,
      p.droppedBy['no-offer'],
      p.droppedBy.attempts,
      p.droppedBy.deadline,
      p.fillRate,
      p.avgLatencyMs,
      p.p95LatencyMs,
      p.totalCost,
      p.costPerPlacedJob,
      p.attempts,
      p.failures,
    ]),
  ]);
}

/** Long format: one row per (policy, sample time). */
export function timeseriesCsv(result: SimResult): string {
  const rows: (string | number | null)[][] = [['policy', 'hour', 'fill_rate', 'placed', 'dropped', 'cost']];
  for (const p of result.policies) {
    const s = result.series.byPolicy[p.policy]!;
    result.series.hours.forEach((h, i) =>
      rows.push([p.policy, h, s.fillRate[i] ?? null, s.placed[i]!, s.dropped[i]!, s.cost[i]!]),
    );
  }
  return csvRows(rows);
}
