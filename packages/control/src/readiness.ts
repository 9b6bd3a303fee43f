// Readiness: a tenant's checklist (JSON or YAML) of targets — traffic profile, residency tags and regions, cache
// plan, query latency budgets, compliance thresholds, disaster recovery — evaluated against observed values. Every
// item is a finding { section, item, ok, expected, observed, detail }; the verdict is READY only when every finding
// is ok. A metric that is missing, has no data or cannot be read is a NOT_READY finding (fail closed).
//
// Metrics come from a MetricLookup `(name) => number | undefined`: a name is whatever the source understands (a key
// of a measurements file, or a PromQL expression for createPrometheusMetrics); "$tenant" in it is replaced by the
// assessed tenant, so one checklist serves every tenant.
import { z } from 'zod/v4';
import { parseConfigText, parseWith } from './config-text.ts';
import { ControlError } from './errors.ts';
import { createPrometheusSource, type PrometheusSourceOptions } from './prometheus-source.ts';

/** A value and where it came from ("prometheus http://…: <query>", "file observed.json"), with any note on it. */
export interface Observation {
  readonly value: number | undefined;
  readonly source: string;
  /** e.g. the file's value for the same metric, which a measurement overrode. */
  readonly note?: string;
}

/**
 * Observed metric by name: a number, or an Observation saying where it came from; undefined (or NaN) means no data.
 * It may throw or reject: that item is then NOT_READY.
 */
export type MetricLookup = (
  name: string,
) => number | undefined | Observation | Promise<number | undefined | Observation>;

/** Observed facts about the tenant's deployment that are not numbers (residency). */
export interface ReadinessFacts {
  /** Tags on the tenant's resources, e.g. { residency: 'eu', 'data-class': 'pii' }. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Regions the tenant's resources run in. */
  readonly regions?: readonly string[];
  /** Where the tags and regions came from (e.g. "file observed.json"). */
  readonly source?: string;
}

const Name = z.string().min(1).max(200);
const MetricRef = z.string().min(1).max(2000);
const Tenant = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'must match ^[a-z0-9][a-z0-9_.-]{0,62}$');
const Positive = z.number().positive().finite();

/** Version 1 of the readiness checklist (unknown fields anywhere are refused; at least one section). */
export const ReadinessChecklistSchema = z
  .strictObject({
    version: z.literal(1).optional(),
    /** When present, the checklist applies to this tenant only. */
    tenant: Tenant.optional(),
    /** The observed sustainable rate (a load test's or the measured peak) must cover the expected peak with headroom. */
    traffic: z
      .strictObject({
        expectedRps: Positive,
        metric: MetricRef,
        /** Observed must be at least expectedRps × headroom; default 1. */
        headroom: z.number().min(1).max(100).optional(),
      })
      .optional(),
    residency: z
      .strictObject({
        /** Tag names that must be present, or name → required value. */
        requiredTags: z.union([z.array(Name).max(100), z.record(Name, Name)]).optional(),
        /** Every observed region must be one of these (a trailing "*" matches a prefix, e.g. "eu-*"). */
        allowedRegions: z.array(Name).min(1).max(100).optional(),
      })
      .refine((r) => r.requiredTags !== undefined || r.allowedRegions !== undefined, {
        message: 'residency needs requiredTags or allowedRegions',
      })
      .optional(),
    cache: z.strictObject({ hitRatioTarget: z.number().min(0).max(1), metric: MetricRef }).optional(),
    /** Latency budgets per query class: observed p95/p99 (milliseconds) must be at most the budget. */
    queryBudgets: z
      .array(
        z
          .strictObject({
            name: Name,
            p95Ms: Positive.optional(),
            p95Metric: MetricRef.optional(),
            p99Ms: Positive.optional(),
            p99Metric: MetricRef.optional(),
          })
          .refine((q) => (q.p95Ms === undefined) === (q.p95Metric === undefined), {
            message: 'p95Ms and p95Metric go together',
          })
          .refine((q) => (q.p99Ms === undefined) === (q.p99Metric === undefined), {
            message: 'p99Ms and p99Metric go together',
          })
          .refine((q) => q.p95Ms !== undefined || q.p99Ms !== undefined, {
            message: 'a query budget needs p95Ms/p95Metric or p99Ms/p99Metric',
          }),
      )
      .min(1)
      .max(100)
      .optional(),
    /** Thresholds such as provenance coverage ≥ 0.95. */
    compliance: z
      .array(
        z
          .strictObject({
            name: Name,
            metric: MetricRef,
            min: z.number().optional(),
            max: z.number().optional(),
          })
          .refine((c) => c.min !== undefined || c.max !== undefined, { message: 'needs min or max' }),
      )
      .min(1)
      .max(100)
      .optional(),
    /** Recovery point and time objectives against the measured backup age and restore time (seconds). */
    dr: z
      .strictObject({
        rpoSeconds: Positive.optional(),
        backupAgeMetric: MetricRef.optional(),
        rtoSeconds: Positive.optional(),
        restoreTimeMetric: MetricRef.optional(),
      })
      .refine((d) => (d.rpoSeconds === undefined) === (d.backupAgeMetric === undefined), {
        message: 'rpoSeconds and backupAgeMetric go together',
      })
      .refine((d) => (d.rtoSeconds === undefined) === (d.restoreTimeMetric === undefined), {
        message: 'rtoSeconds and restoreTimeMetric go together',
      })
      .refine((d) => d.rpoSeconds !== undefined || d.rtoSeconds !== undefined, {
        message: 'dr needs rpoSeconds/backupAgeMetric or rtoSeconds/restoreTimeMetric',
      })
      .optional(),
  })
  .refine(
    (c) =>
      c.traffic !== undefined ||
      c.residency !== undefined ||
      c.cache !== undefined ||
      c.queryBudgets !== undefined ||
      c.compliance !== undefined ||
      c.dr !== undefined,
    {
      message:
        'a checklist needs at least one section (traffic, residency, cache, queryBudgets, compliance, dr)',
    },
  );

/** A validated readiness checklist. */
export type ReadinessChecklist = z.infer<typeof ReadinessChecklistSchema>;

/** Sections of a checklist, in report order. */
export const READINESS_SECTIONS = [
  'traffic',
  'residency',
  'cache',
  'queryBudgets',
  'compliance',
  'dr',
] as const;
export type ReadinessSection = (typeof READINESS_SECTIONS)[number];

/** One evaluated item. */
export interface ReadinessFinding {
  readonly section: ReadinessSection;
  readonly item: string;
  readonly ok: boolean;
  /** The target, e.g. ">= 1200 rps (1000 × 1.2)". */
  readonly expected: string;
  /** What was observed; null when nothing was. */
  readonly observed: number | string | null;
  /** Where the observed value came from (a Prometheus query, a file), when the lookup says. */
  readonly source?: string;
  readonly detail: string;
}

/** A readiness report: READY only when every finding is ok. */
export interface ReadinessReport {
  readonly status: 'READY' | 'NOT_READY';
  readonly tenant: string;
  readonly assessedAt: string;
  readonly findings: readonly ReadinessFinding[];
}

/** Validates an untrusted value as a checklist; INVALID_ARGUMENT naming every problem. */
export function parseReadinessChecklist(value: unknown): ReadinessChecklist {
  return parseWith(ReadinessChecklistSchema, value, 'readiness checklist');
}

/** Parses checklist text (JSON or YAML) and validates it. */
export function readReadinessChecklist(text: string): ReadinessChecklist {
  return parseReadinessChecklist(parseConfigText(text, 'readiness checklist'));
}

/** What assessReadiness needs. */
export interface AssessReadinessInput {
  readonly tenant: string;
  /** A checklist (validated again here) or its JSON/YAML text. */
  readonly checklist: ReadinessChecklist | string;
  readonly metrics: MetricLookup;
  /** Observed residency facts; without them residency items are NOT_READY. */
  readonly facts?: ReadinessFacts;
  readonly now?: () => number;
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6))));

/** Matches a region against an allowed entry: exact, or a prefix when the entry ends with "*". */
function regionAllowed(region: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => (a.endsWith('*') ? region.startsWith(a.slice(0, -1)) : region === a));
}

/**
 * Evaluates a checklist for one tenant against observed metrics and facts. Never throws for an unreadable metric
 * (that item is NOT_READY with the error as detail); INVALID_ARGUMENT for a bad checklist or one for another tenant.
 */
export async function assessReadiness(input: AssessReadinessInput): Promise<ReadinessReport> {
  const tenant = input.tenant;
  if (!Tenant.safeParse(tenant).success)
    throw new ControlError('INVALID_ARGUMENT', `invalid tenant "${tenant}"`);
  const cl =
    typeof input.checklist === 'string'
      ? readReadinessChecklist(input.checklist)
      : parseReadinessChecklist(input.checklist);
  if (cl.tenant !== undefined && cl.tenant !== tenant)
    throw new ControlError('INVALID_ARGUMENT', `the checklist is for tenant "${cl.tenant}", not "${tenant}"`);
  const assessedAt = new Date((input.now ?? Date.now)()).toISOString();
  const findings: ReadinessFinding[] = [];

  /** Reads one metric: a number with where it came from, or a string saying why there is none. */
  const read = async (ref: string): Promise<{ v: number; source?: string; note?: string } | string> => {
    const name = ref.replaceAll('$tenant', tenant);
    try {
      const got = await input.metrics(name);
      const o: Observation | undefined =
        typeof got === 'object' && got !== null
          ? got
          : got === undefined
            ? undefined
            : { value: got, source: '' };
      const v = o?.value;
      const from = o?.source ? ` (${o.source})` : '';
      if (v === undefined || v === null || Number.isNaN(v)) return `no data for metric ${name}${from}`;
      if (typeof v !== 'number') return `metric ${name} is not a number${from}`;
      return { v, ...(o?.source ? { source: o.source } : {}), ...(o?.note ? { note: o.note } : {}) };
    } catch (e) {
      return `metric ${name} could not be read: ${(e as Error).message ?? String(e)}`;
    }
  };

  /** One numeric comparison as a finding. */
  const compare = async (
    section: ReadinessSection,
    item: string,
    ref: string,
    op: '>=' | '<=',
    target: number,
    unit: string,
    expectedNote = '',
  ) => {
    const expected = `${op} ${fmt(target)}${unit ? ' ' + unit : ''}${expectedNote}`;
    const r = await read(ref);
    if (typeof r === 'string') {
      findings.push({ section, item, ok: false, expected, observed: null, detail: `${r} (fail closed)` });
      return;
    }
    const { v } = r;
    const ok = op === '>=' ? v >= target : v <= target;
    findings.push({
      section,
      item,
      ok,
      expected,
      observed: v,
      ...(r.source ? { source: r.source } : {}),
      detail: `observed ${fmt(v)}${unit ? ' ' + unit : ''}${r.source ? ` from ${r.source}` : ''} ${ok ? 'meets' : 'misses'} the target ${expected}${r.note ? `; ${r.note}` : ''}`,
    });
  };

  if (cl.traffic) {
    const t = cl.traffic;
    const headroom = t.headroom ?? 1;
    await compare(
      'traffic',
      'sustained-rps',
      t.metric,
      '>=',
      t.expectedRps * headroom,
      'rps',
      headroom !== 1 ? ` (expected ${fmt(t.expectedRps)} × headroom ${fmt(headroom)})` : '',
    );
  }

  if (cl.residency) {
    const r = cl.residency;
    if (r.requiredTags !== undefined) {
      const wanted: [string, string | undefined][] = Array.isArray(r.requiredTags)
        ? r.requiredTags.map((n) => [n, undefined])
        : Object.entries(r.requiredTags);
      const tags = input.facts?.tags;
      for (const [name, value] of wanted) {
        const expected = value === undefined ? 'present' : `= ${value}`;
        const item = `tag:${name}`;
        if (!tags) {
          findings.push({
            section: 'residency',
            item,
            ok: false,
            expected,
            observed: null,
            detail: 'no observed tags were provided (fail closed)',
          });
          continue;
        }
        const seen = Object.prototype.hasOwnProperty.call(tags, name) ? tags[name] : undefined;
        const ok = seen !== undefined && seen !== '' && (value === undefined || seen === value);
        findings.push({
          section: 'residency',
          item,
          ok,
          expected,
          observed: seen ?? null,
          ...(input.facts?.source ? { source: input.facts.source } : {}),
          detail:
            seen === undefined
              ? `tag ${name} is missing`
              : ok
                ? `tag ${name} is ${JSON.stringify(seen)}`
                : `tag ${name} is ${JSON.stringify(seen)}, not ${JSON.stringify(value)}`,
        });
      }
    }
    if (r.allowedRegions !== undefined) {
      const expected = `within ${r.allowedRegions.join(', ')}`;
      const regions = input.facts?.regions;
      if (!regions || regions.length === 0) {
        findings.push({
          section: 'residency',
          item: 'regions',
          ok: false,
          expected,
          observed: null,
          detail: 'no observed regions were provided (fail closed)',
        });
      } else {
        const outside = regions.filter((g) => !regionAllowed(g, r.allowedRegions!));
        findings.push({
          section: 'residency',
          item: 'regions',
          ok: outside.length === 0,
          expected,
          observed: regions.join(', '),
          ...(input.facts?.source ? { source: input.facts.source } : {}),
          detail: outside.length === 0 ? 'every region is allowed' : `not allowed: ${outside.join(', ')}`,
        });
      }
    }
  }

  if (cl.cache) await compare('cache', 'hit-ratio', cl.cache.metric, '>=', cl.cache.hitRatioTarget, '');

  for (const q of cl.queryBudgets ?? []) {
    if (q.p95Ms !== undefined)
      await compare('queryBudgets', `${q.name}:p95`, q.p95Metric!, '<=', q.p95Ms, 'ms');
    if (q.p99Ms !== undefined)
      await compare('queryBudgets', `${q.name}:p99`, q.p99Metric!, '<=', q.p99Ms, 'ms');
  }

  for (const c of cl.compliance ?? []) {
    const both = c.min !== undefined && c.max !== undefined;
    if (c.min !== undefined)
      await compare('compliance', both ? `${c.name}:min` : c.name, c.metric, '>=', c.min, '');
    if (c.max !== undefined)
      await compare('compliance', both ? `${c.name}:max` : c.name, c.metric, '<=', c.max, '');
  }

  if (cl.dr) {
    const d = cl.dr;
    if (d.rpoSeconds !== undefined)
      await compare('dr', 'rpo', d.backupAgeMetric!, '<=', d.rpoSeconds, 's', ' (backup age)');
    if (d.rtoSeconds !== undefined)
      await compare('dr', 'rto', d.restoreTimeMetric!, '<=', d.rtoSeconds, 's', ' (restore time)');
  }

  return {
    status: findings.length > 0 && findings.every((f) => f.ok) ? 'READY' : 'NOT_READY',
    tenant,
    assessedAt,
    findings,
  };
}

/** A file of observed values: measurements by metric name, and residency facts (all optional). */
export const ReadinessObservationsSchema = z.strictObject({
  metrics: z.record(z.string().min(1).max(2000), z.number()).optional(),
  tags: z.record(Name, z.string().max(200)).optional(),
  regions: z.array(Name).max(1000).optional(),
});

/** Observed values as read from a file. */
export type ReadinessObservations = z.infer<typeof ReadinessObservationsSchema>;

/** Parses an observations file (JSON or YAML) and validates it; INVALID_ARGUMENT naming every problem. */
export function readReadinessObservations(text: string): ReadinessObservations {
  return parseWith(
    ReadinessObservationsSchema,
    parseConfigText(text, 'observations file'),
    'observations file',
  );
}

/**
 * What assessReadiness reads for a tenant: a measurement (Prometheus, when given) first; the observations file only
 * for what Prometheus has no data on. A file never silently beats a measurement: where both have a value, the
 * measurement is used and the finding notes the file's. Each value says where it came from.
 */
export function readinessSources(
  observed: ReadinessObservations,
  prometheusUrl?: string,
  observedFile = 'the observations file',
): { metrics: MetricLookup; facts: ReadinessFacts } {
  const file = metricsFromRecord(observed.metrics ?? {}, `file ${observedFile}`);
  const prom = prometheusUrl ? createPrometheusMetrics({ url: prometheusUrl }) : undefined;
  const metrics: MetricLookup = async (name) => {
    const fromFile = (await file(name)) as Observation;
    if (!prom) return fromFile;
    const measured = (await prom(name)) as Observation;
    if (measured.value === undefined)
      return fromFile.value === undefined
        ? { value: undefined, source: `${measured.source}; not in ${fromFile.source}` }
        : fromFile;
    const differs = fromFile.value !== undefined && fromFile.value !== measured.value;
    return differs
      ? { ...measured, note: `${fromFile.source} says ${fromFile.value}; the measurement is used` }
      : measured;
  };
  return {
    metrics,
    facts: {
      ...(observed.tags ? { tags: observed.tags } : {}),
      ...(observed.regions ? { regions: observed.regions } : {}),
      ...(observed.tags || observed.regions ? { source: `file ${observedFile}` } : {}),
    },
  };
}

/** A MetricLookup over a plain record of measurements (e.g. a load test's report), naming `source` when given. */
export function metricsFromRecord(values: Readonly<Record<string, number>>, source?: string): MetricLookup {
  return (name) => {
    const v = Object.prototype.hasOwnProperty.call(values, name) ? values[name] : undefined;
    return source === undefined ? v : { value: v, source };
  };
}

/** A MetricLookup asking each lookup in turn and taking the first value it has (errors are passed on). */
export function firstMetric(...lookups: readonly MetricLookup[]): MetricLookup {
  return async (name) => {
    for (const l of lookups) {
      const got = await l(name);
      const v = typeof got === 'object' && got !== null ? got.value : got;
      if (v !== undefined && !Number.isNaN(v)) return got;
    }
    return undefined;
  };
}

/** Options of createPrometheusMetrics. */
export interface PrometheusMetricsOptions extends PrometheusSourceOptions {
  /** Named PromQL queries; a name not listed is sent as PromQL itself. */
  readonly queries?: Readonly<Record<string, string>>;
  /** Evaluation instant of the queries; default now. */
  readonly at?: () => Date;
}

/**
 * A MetricLookup over the Prometheus HTTP API (instant queries, GET /api/v1/query): an empty result is no data
 * (undefined); a failed query rejects with UPSTREAM_FAILED, which assessReadiness reports as NOT_READY.
 */
export function createPrometheusMetrics(opts: PrometheusMetricsOptions): MetricLookup {
  const source = createPrometheusSource(opts);
  return async (name) => {
    const promql =
      opts.queries && Object.prototype.hasOwnProperty.call(opts.queries, name) ? opts.queries[name]! : name;
    const v = await source.query(promql, opts.at ? opts.at() : new Date());
    return {
      value: Number.isNaN(v) ? undefined : v,
      source: `prometheus ${withoutCredentials(opts.url)}: ${promql}`,
    };
  };
}

/** A URL as it may be shown: without user name and password. */
function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}

/** The most findings a readiness receipt lists (the audit body's limit). */
const MAX_RECEIPT_FINDINGS = 1000;

/**
 * The body of the `audit` receipt that records a readiness report: subject `readiness:<tenant>`, pass when READY,
 * and every finding with what was observed and where it came from (the checklist by its SHA-256 when given).
 */
export function readinessReceiptBody(
  report: ReadinessReport,
  o: { checklistSha256?: string; via?: string } = {},
): Record<string, unknown> {
  return {
    subject: `readiness:${report.tenant}`,
    result: report.status === 'READY' ? 'pass' : 'fail',
    status: report.status,
    assessedAt: report.assessedAt,
    ...(o.checklistSha256 ? { checklistSha256: o.checklistSha256 } : {}),
    ...(o.via ? { via: o.via } : {}),
    checks: report.findings.slice(0, MAX_RECEIPT_FINDINGS).map((f) => ({
      section: f.section,
      item: f.item,
      ok: f.ok,
      expected: f.expected,
      observed: f.observed,
      ...(f.source ? { source: f.source } : {}),
      detail: f.detail.slice(0, 1000),
    })),
  };
}
