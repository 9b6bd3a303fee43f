// Tripwires: rules evaluated before each step that halt or pause a run. Three kinds:
//
// - burn-rate: multi-window, multi-burn-rate SLO alerts (Google SRE workbook, "Alerting on SLOs", ch. 5, approach 6).
//   burn rate = error ratio / (1 - objective); the rule fires only when BOTH its long and its short window burn at
//   least `burnRate` times the sustainable rate (e.g. 14.4x over 1h AND 5m: 2% of a 30-day budget in an hour).
// - compensation-rate: compensations (rollbacks) / steps over one window above `threshold`.
// - psi: the anomaly likelihood of a series the node's Ψ-Field watches at or over `threshold` for `points`
//   consecutive points within the last `window` (default 1m), so an episode between two checks is not missed (an
//   AnomalyWatch; a series it does not watch fires halt, a window without points fires the rule's noData).
//
// Measurements come from a MetricSource (a PromQL query at an instant): a Prometheus HTTP API client
// (prometheus-source.ts) or the node's own counters (counter-source.ts). Fail closed: a query that errors or times
// out fires `halt`; a query without data fires the rule's `noData` action (default `halt`).
import { z } from 'zod/v4';
import { parseConfigText, parseWith } from './config-text.ts';
import { ControlError } from './errors.ts';
import type { AnomalyWatch, FiredTripwire, StepFacts, TripwireCheck } from '@vaultmesh/types';

/** Port: the value of a PromQL expression at an instant. Resolves NaN when there is no data; rejects on any error. */
export interface MetricSource {
  query(promql: string, at: Date): Promise<number>;
}

/** Counter the executor reports once per executed step (live or dry), for the node's own metrics. */
export const STEPS_COUNTER = 'vaultmesh_control_steps_total';
/** Counter the executor reports once per failed step. */
export const STEP_ERRORS_COUNTER = 'vaultmesh_control_step_errors_total';
/** Counter the executor reports once per compensation (rollback) it runs. */
export const COMPENSATIONS_COUNTER = 'vaultmesh_control_compensations_total';
/** Default compensation-rate queries ($window is replaced by the rule's window). */
export const DEFAULT_COMPENSATIONS_QUERY = `sum(increase(${COMPENSATIONS_COUNTER}[$window]))`;
export const DEFAULT_STEPS_QUERY = `sum(increase(${STEPS_COUNTER}[$window]))`;
/** Default time limit of one query, on top of the source's own. */
export const DEFAULT_TRIPWIRE_QUERY_TIMEOUT_MS = 10_000;

// Why a tolerance: burn rates are ratios of binary floating-point numbers, so the workbook's exact thresholds
// (1.44% errors at 99.9% is 14.4x) compute as 14.399999999999986. A relative 1e-9 keeps ">= 14.4x" true there.
const BURN_TOLERANCE = 1e-9;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
const DURATION_RE = /^(?:[0-9]+y)?(?:[0-9]+w)?(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?(?:[0-9]+ms)?$/;

/** Milliseconds of a Prometheus duration ("5m", "1h30m", "3d"); INVALID_ARGUMENT otherwise. */
export function parsePromDuration(text: string): number {
  if (text === '' || !DURATION_RE.test(text))
    throw new ControlError(
      'INVALID_ARGUMENT',
      `invalid duration "${text}" (use Prometheus durations: 5m, 1h, 3d)`,
    );
  let ms = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|s|m|h|d|w|y)/g))
    ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms <= 0) throw new ControlError('INVALID_ARGUMENT', `duration "${text}" must be positive`);
  return ms;
}

const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'must be 1-128 of A-Z a-z 0-9 _ . : -');
const Duration = z.string().refine(
  (s) => {
    try {
      return parsePromDuration(s) > 0;
    } catch {
      return false;
    }
  },
  { message: 'must be a Prometheus duration such as 5m, 1h, 3d' },
);
const Query = z.string().min(1).max(4000);
const Window = z.union([Duration, z.strictObject({ window: Duration, query: Query })]);
const Action = z.enum(['halt', 'pause']);
const NoData = z.enum(['halt', 'pause', 'ignore']);
const Description = z.string().max(500).optional();
/** What every rule that acts by itself has: its id, a description, the action and what no data means. */
const RuleBase = { id: Id, description: Description, action: Action, noData: NoData.optional() };

/** Config schema of a burn-rate rule. `query` is a template for windows given without their own (`$window`). */
export const BurnRateRuleSchema = z
  .strictObject({
    ...RuleBase,
    kind: z.literal('burn-rate'),
    /** The SLO target, e.g. 0.999. */
    objective: z.number().gt(0).lt(1),
    /** The burn-rate factor both windows must reach, e.g. 14.4. */
    burnRate: z.number().positive(),
    /** Error-ratio PromQL with `$window` (and optionally `$tenant`), used for windows without their own query. */
    query: Query.optional(),
    long: Window,
    short: Window,
  })
  .superRefine((r, ctx) => {
    // Per rule (not on the file), so these are reported even when another rule has field errors.
    for (const w of ['long', 'short'] as const)
      if (typeof r[w] === 'string' && r.query === undefined)
        ctx.addIssue({ code: 'custom', path: [w], message: 'needs its own query, or a rule-level query' });
    const ms = (x: typeof r.long) => parsePromDuration(typeof x === 'string' ? x : x.window);
    if (ms(r.short) >= ms(r.long))
      ctx.addIssue({
        code: 'custom',
        path: ['short'],
        message: 'the short window must be shorter than the long one',
      });
  });

/** Config schema of a compensation-rate rule. */
export const CompensationRateRuleSchema = z.strictObject({
  ...RuleBase,
  kind: z.literal('compensation-rate'),
  window: Duration,
  /** Fires when compensations / steps is above this. */
  threshold: z.number().min(0).max(1),
  /** Fewer steps than this in the window never fire (default 1). */
  minSteps: z.number().int().min(1).optional(),
  compensationsQuery: Query.optional(),
  stepsQuery: Query.optional(),
});

/** Config schema of a psi rule: the Ψ-Field's anomaly likelihood of a watched series over `points` points. */
export const PsiRuleSchema = z.strictObject({
  ...RuleBase,
  kind: z.literal('psi'),
  /** A series the node's Ψ-Field watches (config `psi.series`). */
  series: Id,
  /** Fires when `points` consecutive points within `window` have an anomaly likelihood at least this. */
  threshold: z.number().gt(0).max(1),
  points: z.number().int().min(1).max(1000).optional(),
  /** How far back to look (default 1m). */
  window: Duration.optional(),
});

/**
 * The SRE workbook's multi-window, multi-burn-rate rows (ch. 5, "Alerting on SLOs"): the two paging rows of table
 * 5-8 (2% of a 30-day budget in 1h, 5% in 6h), the 3x row over 1 day, and the ticket row (10% in 3 days). Pages halt
 * a run by default, tickets pause it.
 */
export const SRE_WORKBOOK_ROWS = [
  { suffix: 'page-1h', severity: 'page', burnRate: 14.4, long: '1h', short: '5m' },
  { suffix: 'page-6h', severity: 'page', burnRate: 6, long: '6h', short: '30m' },
  { suffix: 'ticket-1d', severity: 'ticket', burnRate: 3, long: '1d', short: '2h' },
  { suffix: 'ticket-3d', severity: 'ticket', burnRate: 1, long: '3d', short: '6h' },
] as const;

/** Config schema of an SLO rule: it expands to the four SRE workbook rows (ids `<id>-page-1h` ...). */
export const SloRuleSchema = z.strictObject({
  id: Id,
  kind: z.literal('slo'),
  description: Description,
  objective: z.number().gt(0).lt(1),
  /** Error-ratio PromQL with `$window` (and optionally `$tenant`). */
  query: Query,
  /** What the paging rows do (default halt) and the ticket rows (default pause). */
  page: Action.optional(),
  ticket: Action.optional(),
  noData: NoData.optional(),
});

/** The burn-rate rules an SLO rule stands for: SRE_WORKBOOK_ROWS for its objective and query. */
export function sloBurnRateRules(r: z.input<typeof SloRuleSchema>): z.input<typeof BurnRateRuleSchema>[] {
  return SRE_WORKBOOK_ROWS.map((row) => ({
    id: `${r.id}-${row.suffix}`.slice(0, 128),
    kind: 'burn-rate' as const,
    description: `${r.description ?? `SLO ${r.id}`}: ${row.burnRate}x over ${row.long} and ${row.short} (${row.severity})`,
    objective: r.objective,
    burnRate: row.burnRate,
    query: r.query,
    long: row.long,
    short: row.short,
    action: row.severity === 'page' ? (r.page ?? 'halt') : (r.ticket ?? 'pause'),
    ...(r.noData !== undefined ? { noData: r.noData } : {}),
  }));
}

/** Config schema of a rules file: { rules: [...] } (JSON or YAML; unknown fields refused, ids unique). */
export const TripwireRulesSchema = z
  .strictObject({
    rules: z
      .array(
        z.discriminatedUnion('kind', [
          BurnRateRuleSchema,
          CompensationRateRuleSchema,
          SloRuleSchema,
          PsiRuleSchema,
        ]),
      )
      .max(100),
  })
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.rules.forEach((r, i) => {
      const ids = r.kind === 'slo' ? sloBurnRateRules(r).map((x) => x.id) : [r.id];
      for (const id of ids) {
        if (seen.has(id))
          ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate id "${id}"` });
        seen.add(id);
      }
    });
  });

/** A rule as written in a config file. */
export type TripwireRuleConfig =
  | z.input<typeof BurnRateRuleSchema>
  | z.input<typeof CompensationRateRuleSchema>
  | z.input<typeof SloRuleSchema>
  | z.input<typeof PsiRuleSchema>;

/** A validated burn-rate rule, its windows resolved to { window, query }. */
export interface BurnRateRule {
  readonly id: string;
  readonly kind: 'burn-rate';
  readonly description?: string;
  readonly objective: number;
  readonly burnRate: number;
  readonly long: { readonly window: string; readonly query: string };
  readonly short: { readonly window: string; readonly query: string };
  readonly action: 'halt' | 'pause';
  readonly noData: 'halt' | 'pause' | 'ignore';
}

/** A validated compensation-rate rule, its queries resolved. */
export interface CompensationRateRule {
  readonly id: string;
  readonly kind: 'compensation-rate';
  readonly description?: string;
  readonly window: string;
  readonly threshold: number;
  readonly minSteps: number;
  readonly compensationsQuery: string;
  readonly stepsQuery: string;
  readonly action: 'halt' | 'pause';
  readonly noData: 'halt' | 'pause' | 'ignore';
}

/** A validated psi rule. */
export interface PsiRule {
  readonly id: string;
  readonly kind: 'psi';
  readonly description?: string;
  readonly series: string;
  readonly threshold: number;
  readonly points: number;
  readonly window: string;
  readonly action: 'halt' | 'pause';
  readonly noData: 'halt' | 'pause' | 'ignore';
}

/** A validated tripwire rule. */
export type TripwireRule = BurnRateRule | CompensationRateRule | PsiRule;

const withWindow = (q: string, window: string) => q.replaceAll('$window', window);

/** Validates rules (objects, e.g. from a file) and resolves their windows and default queries. */
export function normalizeTripwireRules(rules: readonly TripwireRuleConfig[]): TripwireRule[] {
  const f = parseWith(TripwireRulesSchema, { rules }, 'tripwire rules');
  // An SLO rule is the SRE workbook's burn-rate rows; validate those as the burn-rate rules they are.
  const flat = f.rules.flatMap((r) =>
    r.kind === 'slo' ? sloBurnRateRules(r).map((b) => BurnRateRuleSchema.parse(b)) : [r],
  );
  return flat.map((r): TripwireRule => {
    const desc = r.description !== undefined ? { description: r.description } : {};
    if (r.kind === 'psi')
      return {
        id: r.id,
        kind: r.kind,
        ...desc,
        series: r.series,
        threshold: r.threshold,
        points: r.points ?? 3,
        window: r.window ?? '1m',
        action: r.action,
        noData: r.noData ?? 'halt',
      };
    if (r.kind === 'compensation-rate')
      return {
        id: r.id,
        kind: r.kind,
        ...desc,
        window: r.window,
        threshold: r.threshold,
        minSteps: r.minSteps ?? 1,
        compensationsQuery: withWindow(r.compensationsQuery ?? DEFAULT_COMPENSATIONS_QUERY, r.window),
        stepsQuery: withWindow(r.stepsQuery ?? DEFAULT_STEPS_QUERY, r.window),
        action: r.action,
        noData: r.noData ?? 'halt',
      };
    const win = (w: typeof r.long) =>
      typeof w === 'string'
        ? { window: w, query: withWindow(r.query!, w) }
        : { window: w.window, query: withWindow(w.query, w.window) };
    return {
      id: r.id,
      kind: r.kind,
      ...desc,
      objective: r.objective,
      burnRate: r.burnRate,
      long: win(r.long),
      short: win(r.short),
      action: r.action,
      noData: r.noData ?? 'halt',
    };
  });
}

/** Parses a rules file ({ rules: [...] }, JSON or YAML text); INVALID_ARGUMENT naming every problem. */
export function parseTripwireRules(text: string): TripwireRule[] {
  const v = parseConfigText(text, 'tripwire rules');
  const f = parseWith(TripwireRulesSchema, v, 'tripwire rules');
  return normalizeTripwireRules(f.rules);
}

/**
 * The SRE workbook's two paging rules for an SLO (table 5-8): fast burn 14.4x over 1h and 5m (halt), slow burn 6x
 * over 6h and 30m (pause). `errorRatioQuery` is PromQL with `$window`, e.g.
 * `sum(rate(http_requests_total{code=~"5.."}[$window])) / sum(rate(http_requests_total[$window]))`.
 */
export function defaultBurnRateRules(objective: number, errorRatioQuery: string): TripwireRule[] {
  return normalizeTripwireRules([
    {
      id: 'slo-fast-burn',
      kind: 'burn-rate',
      objective,
      burnRate: 14.4,
      query: errorRatioQuery,
      long: '1h',
      short: '5m',
      action: 'halt',
    },
    {
      id: 'slo-slow-burn',
      kind: 'burn-rate',
      objective,
      burnRate: 6,
      query: errorRatioQuery,
      long: '6h',
      short: '30m',
      action: 'pause',
    },
  ]);
}

/** Burn rate of an error ratio against an objective: how many times faster than sustainable the budget burns. */
export function burnRate(errorRatio: number, objective: number): number {
  return errorRatio / (1 - objective);
}

/** Whether a burn rate reaches a threshold (with a relative tolerance of 1e-9 for floating-point ratios). */
export function burnRateReaches(rate: number, threshold: number): boolean {
  return rate >= threshold * (1 - BURN_TOLERANCE);
}

/** The outcome of one rule: fired or not, why, and what was measured. */
export interface TripwireEvaluation {
  readonly id: string;
  readonly kind: TripwireRule['kind'];
  /** Whether the rule acts: a measured breach, no data (unless noData is `ignore`), or an error (fail closed). */
  readonly fired: boolean;
  /** pass or fail when measured; inconclusive when it could not be (no data, an error). */
  readonly result: 'pass' | 'fail' | 'inconclusive';
  readonly action: 'halt' | 'pause';
  readonly reason: string;
  readonly evidence: Readonly<Record<string, number | string>>;
}

/** Options of createTripwireCheck and evaluateTripwires. */
export interface TripwireCheckOptions {
  /** Rules as configured (validated and normalized on creation: INVALID_ARGUMENT there, never in check). */
  readonly rules: readonly (TripwireRuleConfig | TripwireRule)[];
  readonly source: MetricSource;
  /** The node's Ψ-Field, for `psi` rules (without it, a psi rule fires halt: nothing watches its series). */
  readonly anomalies?: AnomalyWatch;
  /** The evaluation instant passed to the source; default the wall clock. */
  readonly now?: () => Date;
  /** Time limit of one query (default DEFAULT_TRIPWIRE_QUERY_TIMEOUT_MS); a slower one fires halt. */
  readonly timeoutMs?: number;
}

// Evidence goes into receipts (RFC 8785 has no NaN or Infinity), so non-finite values are written as text.
const ev = (x: number): number | string =>
  Number.isFinite(x) ? x : Number.isNaN(x) ? 'NaN' : x > 0 ? '+Inf' : '-Inf';
const pct = (x: number) => `${+(x * 100).toPrecision(6)}%`;
const times = (x: number) => (Number.isFinite(x) ? `${+x.toPrecision(6)}x` : `${ev(x)}`);

const TENANT_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

class NoDataError extends Error {}

async function measure(
  source: MetricSource,
  query: string,
  at: Date,
  tenant: string | undefined,
  timeoutMs: number,
): Promise<number> {
  let q = query;
  if (q.includes('$tenant')) {
    // The tenant comes from the step; its pattern has no quotes or braces, so it cannot break out of a matcher.
    if (tenant === undefined || !TENANT_RE.test(tenant))
      throw new ControlError(
        'INVALID_ARGUMENT',
        `query uses $tenant but the step's tenant is missing or invalid`,
      );
    q = q.replaceAll('$tenant', tenant);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ControlError('UPSTREAM_FAILED', `query timed out after ${timeoutMs} ms: ${q}`)),
      timeoutMs,
    );
  });
  try {
    const v = await Promise.race([source.query(q, at), timeout]);
    if (typeof v !== 'number')
      throw new ControlError('UPSTREAM_FAILED', `query returned a ${typeof v}: ${q}`);
    if (Number.isNaN(v)) throw new NoDataError(`no data for ${q}`);
    if (v < 0) throw new ControlError('UPSTREAM_FAILED', `query returned a negative value (${v}): ${q}`);
    return v;
  } finally {
    clearTimeout(timer);
  }
}

/** Points a psi rule looks at, at most (the newest within its window). */
const PSI_MAX_POINTS = 10_000;

/** A psi rule against the Ψ-Field: `points` consecutive likelihoods at or over the threshold within the window. */
function evaluatePsi(
  rule: PsiRule,
  anomalies: AnomalyWatch | undefined,
  at: Date,
): Omit<TripwireEvaluation, 'id' | 'kind'> {
  const all = anomalies?.recent(rule.series, PSI_MAX_POINTS);
  if (!all)
    throw new ControlError(
      'INVALID_ARGUMENT',
      `series "${rule.series}" is not watched by the node's Ψ-Field`,
    );
  const from = at.getTime() - parsePromDuration(rule.window);
  const pts = all.filter((p) => p.time >= from && p.time <= at.getTime());
  if (pts.length < rule.points)
    throw new NoDataError(
      `series "${rule.series}" has ${pts.length} scored point(s) in the last ${rule.window}, the rule needs ${rule.points}`,
    );
  let run = 0;
  let longest = 0;
  let max = 0;
  for (const p of pts) {
    run = p.likelihood >= rule.threshold ? run + 1 : 0;
    longest = Math.max(longest, run);
    max = Math.max(max, p.likelihood);
  }
  const fired = longest >= rule.points;
  const last = pts[pts.length - 1]!;
  return {
    fired,
    result: fired ? 'fail' : 'pass',
    action: rule.action,
    reason:
      `series ${rule.series}: ${longest} consecutive point(s) at or over an anomaly likelihood of ${rule.threshold} ` +
      `in the last ${rule.window} (highest ${+max.toPrecision(6)}); the rule ${fired ? 'fires at' : 'needs'} ${rule.points}`,
    evidence: {
      series: rule.series,
      threshold: rule.threshold,
      points: rule.points,
      window: rule.window,
      longestRun: longest,
      maxLikelihood: ev(max),
      lastValue: ev(last.value),
      lastAt: new Date(last.time).toISOString(),
    },
  };
}

async function evaluateRule(
  rule: TripwireRule,
  source: MetricSource,
  at: Date,
  tenant: string | undefined,
  timeoutMs: number,
  anomalies?: AnomalyWatch,
): Promise<TripwireEvaluation> {
  const base = { id: rule.id, kind: rule.kind };
  try {
    if (rule.kind === 'psi') return { ...base, ...evaluatePsi(rule, anomalies, at) };
    if (rule.kind === 'burn-rate') {
      const [longRatio, shortRatio] = await Promise.all([
        measure(source, rule.long.query, at, tenant, timeoutMs),
        measure(source, rule.short.query, at, tenant, timeoutMs),
      ]);
      const longRate = burnRate(longRatio, rule.objective);
      const shortRate = burnRate(shortRatio, rule.objective);
      const fired = burnRateReaches(longRate, rule.burnRate) && burnRateReaches(shortRate, rule.burnRate);
      const evidence = {
        objective: rule.objective,
        burnRateThreshold: rule.burnRate,
        [`errorRatio:${rule.long.window}`]: ev(longRatio),
        [`burnRate:${rule.long.window}`]: ev(longRate),
        [`errorRatio:${rule.short.window}`]: ev(shortRatio),
        [`burnRate:${rule.short.window}`]: ev(shortRate),
      };
      const measured =
        `error budget of ${pct(rule.objective)} burning ${times(longRate)} over ${rule.long.window} ` +
        `and ${times(shortRate)} over ${rule.short.window}`;
      return {
        ...base,
        fired,
        result: fired ? 'fail' : 'pass',
        action: rule.action,
        reason: fired
          ? `${measured}: both windows reach ${rule.burnRate}x`
          : `${measured}: not both windows reach ${rule.burnRate}x`,
        evidence,
      };
    }
    const [compensations, steps] = await Promise.all([
      measure(source, rule.compensationsQuery, at, tenant, timeoutMs),
      measure(source, rule.stepsQuery, at, tenant, timeoutMs),
    ]);
    const rate = steps > 0 ? compensations / steps : 0;
    const enough = steps >= rule.minSteps;
    const fired = enough && rate > rule.threshold;
    return {
      ...base,
      fired,
      result: fired ? 'fail' : 'pass',
      action: rule.action,
      reason: !enough
        ? `${steps} step(s) in the last ${rule.window}, fewer than the ${rule.minSteps} needed to judge`
        : `${compensations} compensation(s) in ${steps} step(s) over ${rule.window}: ${pct(rate)} ${fired ? '>' : '<='} ${pct(rule.threshold)}`,
      evidence: {
        window: rule.window,
        compensations: ev(compensations),
        steps: ev(steps),
        compensationRate: ev(rate),
        threshold: rule.threshold,
      },
    };
  } catch (e) {
    if (e instanceof NoDataError) {
      const ignore = rule.noData === 'ignore';
      return {
        ...base,
        fired: !ignore,
        result: 'inconclusive',
        action: ignore ? rule.action : rule.noData === 'pause' ? 'pause' : 'halt',
        reason: `${e.message} (noData: ${rule.noData})`,
        evidence: { noData: rule.noData },
      };
    }
    // Fail closed: whatever went wrong (source down, HTTP 500, garbage, timeout, bad query), the run stops.
    return {
      ...base,
      fired: true,
      result: 'inconclusive',
      action: 'halt',
      reason: `could not evaluate (fail closed): ${(e as Error)?.message ?? String(e)}`,
      evidence: { error: String((e as Error)?.message ?? e).slice(0, 500) },
    };
  }
}

// Normalized rules are valid configs too (resolved windows, resolved queries), so one path serves both.
const normalizeAny = (rules: readonly (TripwireRuleConfig | TripwireRule)[]): TripwireRule[] =>
  normalizeTripwireRules(rules as readonly TripwireRuleConfig[]);

/**
 * Evaluates every rule at one instant (in parallel) and reports each, fired or not. Never throws: an error fires
 * `halt`. `tenant` fills `$tenant` in queries.
 */
export async function evaluateTripwires(
  opts: TripwireCheckOptions & { tenant?: string },
): Promise<TripwireEvaluation[]> {
  const rules = normalizeAny(opts.rules);
  const at = (opts.now ?? (() => new Date()))();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TRIPWIRE_QUERY_TIMEOUT_MS;
  return Promise.all(
    rules.map((r) => evaluateRule(r, opts.source, at, opts.tenant, timeoutMs, opts.anomalies)),
  );
}

/** The TripwireCheck over rules and a source. Invalid rules throw here; `check` never throws (errors fire halt). */
export function createTripwireCheck(opts: TripwireCheckOptions): TripwireCheck {
  const rules = normalizeAny(opts.rules);
  const now = opts.now ?? (() => new Date());
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TRIPWIRE_QUERY_TIMEOUT_MS;
  const evaluate = async (step: StepFacts): Promise<TripwireEvaluation[]> => {
    let at: Date;
    try {
      at = now();
    } catch (e) {
      return [
        {
          id: 'tripwires',
          kind: 'burn-rate',
          fired: true,
          result: 'inconclusive',
          action: 'halt',
          reason: `clock failed: ${(e as Error).message}`,
          evidence: {},
        },
      ];
    }
    return Promise.all(
      rules.map((r) => evaluateRule(r, opts.source, at, step.tenant, timeoutMs, opts.anomalies)),
    );
  };
  return {
    // Continuous analysis measures only when there is something to measure.
    ...(rules.length > 0 ? { evaluate } : {}),
    async check(step) {
      let at: Date;
      try {
        at = now();
      } catch (e) {
        return [
          { id: 'tripwires', action: 'halt', reason: `clock failed: ${(e as Error).message}`, evidence: {} },
        ];
      }
      const results = await Promise.all(
        rules.map((r) => evaluateRule(r, opts.source, at, step.tenant, timeoutMs, opts.anomalies)),
      );
      return results
        .filter((r) => r.fired)
        .map((r): FiredTripwire => ({ id: r.id, action: r.action, reason: r.reason, evidence: r.evidence }));
    },
  };
}

/**
 * The body of the `step` receipt that records a fired tripwire on `step` (the executor appends it): the step's
 * identity, status 'halted' or 'paused', and the tripwire with its evidence (non-finite numbers as text).
 */
export function tripwireReceiptBody(fired: FiredTripwire, step: StepFacts): Record<string, unknown> {
  const evidence: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(fired.evidence))
    evidence[k] = typeof v === 'number' ? ev(v) : String(v);
  return {
    planId: step.planId,
    planHash: step.planHash,
    runId: step.runId,
    phaseId: step.phaseId,
    stepId: step.stepId,
    action: step.action,
    status: fired.action === 'halt' ? 'halted' : 'paused',
    dryRun: step.dryRun,
    tripwire: { id: fired.id, action: fired.action, reason: fired.reason.slice(0, 2000), evidence },
  };
}
