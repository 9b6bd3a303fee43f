// Scoring: the hard filter (what a workload, a treaty and the blocked-location list forbid), the context features
// of an offer, the rule score (price, latency, reliability, treaty standing) and the combined score with the learned
// LinUCB estimate. Pure: the router, the simulator and `vm aurora train` all use these same functions, so what the
// simulator shows is what the router does.
import type { LinUcb } from './bandit.ts';
import type { Treaty } from './treaty.ts';
import type { Offer, Workload } from './workload.ts';
import {
  MEMORY_TOLERANCE,
  UNKNOWN_START_LATENCY_MS,
  gpuModelMatches,
  malformedOffer,
  memoryFits,
  startLatencyMs,
} from './matching.ts';

/** The context vector's features, in order (the model records them; a model over other features is refused). */
export const FEATURES = [
  'bias',
  'price', // offer price / the cheapest eligible price − 1, squashed to 0..1 (0: the cheapest)
  'latency', // (start latency + Ψ-Field's forecast API round trip) / 10 s, capped at 1
  'reliability', // advertised (or observed) reliability, less Ψ-Field's anomaly penalty, 0..1
  'gpus', // requested GPU count / 8, capped at 1
  'standing', // the provider's treaty standing, 0..1
  'urgent', // 1 for high or critical priority
] as const;
export const DIMENSION = FEATURES.length;

const PRIORITY_URGENT: Record<Workload['priority'], number> = { low: 0, normal: 0, high: 1, critical: 1 };

/** What the router knows about a provider beyond its offers. */
export interface ProviderStanding {
  /** Share of the treaty's KPIs met in the last SLO report (1 without a report). */
  readonly treatyCompliance: number;
  /** Observed placement success rate (Laplace-smoothed), when there is history. */
  readonly observedReliability?: number;
  /** What the node's Ψ-Field expects of the provider's API, when it has watched it (see ProviderForecast). */
  readonly forecast?: ProviderForecast;
}

/**
 * The Ψ-Field's view of a provider, from the round trips of its API calls: the forecast of the next round trip, and
 * the anomaly likelihood of the last one (0.5 is ordinary; near 1 the provider behaves as it never has).
 */
export interface ProviderForecast {
  readonly rttMs: number;
  readonly anomalyLikelihood: number;
}

/**
 * How much an anomalous provider's reliability is discounted: 0 up to an ordinary likelihood (0.5), rising to half
 * at a likelihood of 1, so a provider behaving as never before ranks below its peers until it settles.
 */
export function anomalyPenalty(f: ProviderForecast | undefined): number {
  if (!f || !Number.isFinite(f.anomalyLikelihood)) return 0;
  return 0.5 * clamp01(2 * f.anomalyLikelihood - 1);
}

export interface ScoreWeights {
  readonly price: number;
  readonly latency: number;
  readonly reliability: number;
  readonly standing: number;
  /** Weight of the learned estimate (0: rules only). */
  readonly learned: number;
}

export const DEFAULT_WEIGHTS: ScoreWeights = {
  price: 0.35,
  latency: 0.15,
  reliability: 0.35,
  standing: 0.15,
  learned: 1,
};

export interface Dropped {
  readonly offer: Offer;
  readonly reason: string;
}

/** A location a failed placement blocks for the rest of a job's failover ("provider" or "provider/region"). */
export const locationOf = (o: Pick<Offer, 'provider' | 'region'>): string => `${o.provider}/${o.region}`;

/** Drops what the workload, the providers' treaties and the blocked list forbid; says why for each. */
export function hardFilter(
  offers: readonly Offer[],
  workload: Workload,
  opts: {
    treaties?: ReadonlyMap<string, Treaty>;
    blocked?: ReadonlySet<string>;
    /** Now (ms): with a workload deadline, an offer that would start after it is dropped. */
    nowMs?: number;
  } = {},
): { kept: Offer[]; dropped: Dropped[] } {
  const kept: Offer[] = [];
  const dropped: Dropped[] = [];
  const deadline =
    workload.deadline !== undefined && opts.nowMs !== undefined ? Date.parse(workload.deadline) : undefined;
  for (const o of offers) {
    const treaty = opts.treaties?.get(o.provider);
    let reason: string | undefined;
    const malformed = malformedOffer(o);
    if (malformed !== undefined) reason = `malformed offer: ${malformed}`;
    else if (opts.blocked?.has(o.provider) || opts.blocked?.has(locationOf(o)))
      reason = 'blocked after a failed placement';
    else if (o.gpuCount < workload.gpu.count) reason = `${o.gpuCount} GPUs < ${workload.gpu.count} requested`;
    else if (workload.gpu.model !== undefined && !gpuModelMatches(o.gpuModel, workload.gpu.model))
      reason = `GPU ${o.gpuModel} is not ${workload.gpu.model}`;
    else if (!memoryFits(o.memoryGiB, workload.memoryGiB))
      reason = `${o.memoryGiB} GiB per GPU < ${workload.memoryGiB} GiB (with ${Math.round((1 - MEMORY_TOLERANCE) * 100)}% tolerance)`;
    else if (workload.maxPricePerHour !== undefined && o.pricePerHour > workload.maxPricePerHour)
      reason = `price ${o.pricePerHour}/h above the workload's cap ${workload.maxPricePerHour}/h`;
    else if (workload.regions !== undefined && !workload.regions.includes(o.region))
      reason = `region ${o.region} not among the workload's regions`;
    else if (treaty?.priceCapPerHour !== undefined && o.pricePerHour > treaty.priceCapPerHour)
      reason = `price ${o.pricePerHour}/h above treaty ${treaty.id}'s cap ${treaty.priceCapPerHour}/h`;
    else if (treaty?.allowedRegions !== undefined && !treaty.allowedRegions.includes(o.region))
      reason = `region ${o.region} not allowed by treaty ${treaty.id}`;
    else if (deadline !== undefined && opts.nowMs! + startLatencyMs(o) > deadline)
      reason =
        o.latencyMs === undefined
          ? `its start latency is unknown (counted as ${UNKNOWN_START_LATENCY_MS / 60_000} min): it might start after the deadline ${workload.deadline}`
          : `would start after the deadline ${workload.deadline}`;
    if (reason === undefined) kept.push(o);
    else dropped.push({ offer: o, reason });
  }
  return { kept, dropped };
}

/** Numbers every offer of one decision is normalized against. */
export interface ScoringContext {
  readonly minPrice: number;
  readonly workload: Workload;
  readonly standings: ReadonlyMap<string, ProviderStanding>;
}

export function scoringContext(
  offers: readonly Offer[],
  workload: Workload,
  standings: ReadonlyMap<string, ProviderStanding> = new Map(),
): ScoringContext {
  let minPrice = Infinity;
  for (const o of offers) if (o.pricePerHour < minPrice) minPrice = o.pricePerHour;
  return { minPrice: Number.isFinite(minPrice) ? minPrice : 0, workload, standings };
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Placement attempts on a provider after which its observed success rate replaces the advertised reliability. */
export const OBSERVED_AFTER_ATTEMPTS = 5;

/** The observed success rate of a provider (Laplace-smoothed), once it has OBSERVED_AFTER_ATTEMPTS attempts. */
export function observedReliability(c: { ok: number; n: number }): number | undefined {
  return c.n >= OBSERVED_AFTER_ATTEMPTS ? (c.ok + 1) / (c.n + 2) : undefined;
}

/**
 * Reliability the router believes: observed history when there is some, else what the provider advertises; less the
 * Ψ-Field's anomaly penalty when the provider's API behaves anomalously.
 */
export function reliabilityOf(o: Offer, s: ProviderStanding | undefined): number {
  return clamp01((s?.observedReliability ?? o.reliability ?? 0.9) * (1 - anomalyPenalty(s?.forecast)));
}

/** The context vector of one offer (FEATURES order), written into `out` when given (no allocation). */
export function offerFeatures(
  o: Offer,
  ctx: ScoringContext,
  out: Float64Array = new Float64Array(DIMENSION),
): Float64Array {
  const s = ctx.standings.get(o.provider);
  const rel = ctx.minPrice > 0 ? o.pricePerHour / ctx.minPrice - 1 : o.pricePerHour > 0 ? 1 : 0;
  out[0] = 1;
  out[1] = rel / (1 + rel); // 0 for the cheapest, → 1 as the price grows
  const rtt = s?.forecast && Number.isFinite(s.forecast.rttMs) ? Math.max(0, s.forecast.rttMs) : 0;
  out[2] = clamp01(((o.latencyMs ?? 2000) + rtt) / 10_000);
  out[3] = reliabilityOf(o, s);
  out[4] = clamp01(ctx.workload.gpu.count / 8);
  out[5] = clamp01(s?.treatyCompliance ?? 1);
  out[6] = PRIORITY_URGENT[ctx.workload.priority];
  return out;
}

/** The rule score, 0..1 (higher is better) from the features. Urgent work weighs latency double. */
export function ruleScore(x: ArrayLike<number>, w: ScoreWeights = DEFAULT_WEIGHTS): number {
  const latencyW = w.latency * (x[6] === 1 ? 2 : 1);
  const total = w.price + latencyW + w.reliability + w.standing;
  if (total <= 0) return 0;
  return (
    (w.price * (1 - x[1]!) + latencyW * (1 - x[2]!) + w.reliability * x[3]! + w.standing * x[5]!) / total
  );
}

export interface ScoredOffer {
  readonly offer: Offer;
  /** The combined score the ranking used. */
  readonly score: number;
  readonly rule: number;
  /** The learned estimate (LinUCB mean), without a model: absent. */
  readonly learned?: number;
  /** The exploration bonus added to the learned estimate. */
  readonly bonus?: number;
}

export interface RankOptions {
  readonly weights?: ScoreWeights;
  /** The learned model; absent: rules only. */
  readonly model?: LinUcb;
  /** Add the exploration bonus (online learning); false: exploit only. Default true. */
  readonly explore?: boolean;
  /** Keep only the best k (default all). */
  readonly top?: number;
}

/**
 * Scores and ranks offers, best first; ties broken by price then provider/offer id, so the ranking is deterministic.
 * The learned arm is the provider: θᵀx estimates the reward (success, less the price) of placing there in this context.
 */
export function rankOffers(
  offers: readonly Offer[],
  ctx: ScoringContext,
  opts: RankOptions = {},
): ScoredOffer[] {
  const w = opts.weights ?? DEFAULT_WEIGHTS;
  const explore = opts.explore ?? true;
  const x = new Float64Array(DIMENSION);
  const scored: ScoredOffer[] = new Array(offers.length);
  for (let i = 0; i < offers.length; i++) {
    const o = offers[i]!;
    offerFeatures(o, ctx, x);
    const rule = ruleScore(x, w);
    if (opts.model && w.learned > 0) {
      const e = opts.model.estimate(o.provider, x);
      const learned = explore ? e.ucb : e.mean;
      scored[i] = {
        offer: o,
        score: rule + w.learned * learned,
        rule,
        learned: e.mean,
        bonus: explore ? e.bonus : 0,
      };
    } else scored[i] = { offer: o, score: rule, rule };
  }
  scored.sort(
    (a, b) =>
      b.score - a.score ||
      a.offer.pricePerHour - b.offer.pricePerHour ||
      (a.offer.provider < b.offer.provider ? -1 : a.offer.provider > b.offer.provider ? 1 : 0) ||
      (a.offer.offerId < b.offer.offerId ? -1 : a.offer.offerId > b.offer.offerId ? 1 : 0),
  );
  return opts.top !== undefined ? scored.slice(0, opts.top) : scored;
}

/**
 * The reward the model learns from one placement attempt: 0 when it failed; when it ran, 1 less a price penalty
 * (the price feature × costWeight), so that of two providers that both deliver the cheaper one is preferred.
 */
export function rewardOf(outcome: { success: boolean; priceFeature: number }, costWeight = 0.3): number {
  return outcome.success ? 1 - costWeight * outcome.priceFeature : 0;
}
