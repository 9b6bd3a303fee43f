// Inputs of the Aurora simulator (`vm sim`): the providers file (offers and each provider's hidden true behaviour),
// the workloads file (job classes and their arrival rates) and the run options, validated with every problem named.
import { z } from 'zod';
import { AuroraError } from './errors.ts';
import { WorkloadSchema, type Workload } from './workload.ts';

const NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const LABEL = /^[a-z0-9][a-z0-9-]{0,39}$/;
const probability = z.number().min(0).max(1);

/** What a provider truly does; policies never see it. */
const HiddenSchema = z
  .object({
    failure: z
      .object({
        /** Probability that a placement fails whatever the job. */
        base: probability,
        /** Added for each GPU the job asks for beyond the first (multi-GPU jobs fail more often). */
        perExtraGpu: probability.default(0),
        /** Added at full utilization of the provider, ramping linearly from `loadThreshold` to 100 %. */
        highLoad: probability.default(0),
        /** Utilization (0..1) above which `highLoad` starts to apply. */
        loadThreshold: z.number().min(0).max(0.99).default(0.7),
      })
      .strict(),
    /** Relative change of every listed price per day (linear; e.g. 0.02: +2 % a day). Policies see today's price. */
    priceDriftPerDay: z.number().min(-0.5).max(0.5).default(0),
  })
  .strict();

const SimOfferSchema = z
  .object({
    id: z.string().regex(LABEL, 'must be a DNS label of at most 40 characters'),
    gpuModel: z.string().min(1).max(100),
    gpuCount: z.number().int().min(1).max(1024),
    /** GPU memory per GPU, GiB. */
    memoryGiB: z.number().positive().max(4096),
    pricePerHour: z.number().positive().max(100_000),
    region: z.string().min(1).max(64),
    /** How many jobs this offer runs at once. */
    capacity: z.number().int().min(1).max(100_000),
  })
  .strict();

const SimProviderSchema = z
  .object({
    name: z.string().regex(NAME, 'must be lower-case letters, digits, - or _ (starting with a letter)'),
    regions: z.array(z.string().min(1).max(64)).min(1).max(100),
    /** The reliability the provider advertises (what the policies see), 0..1. */
    advertisedReliability: probability,
    /** Time from a placement request to a running job (or a failure), ms: uniform in mean ± jitter. */
    startLatency: z
      .object({
        meanMs: z.number().min(0).max(3_600_000),
        jitterMs: z.number().min(0).max(3_600_000).default(0),
      })
      .strict(),
    offers: z.array(SimOfferSchema).min(1).max(1000),
    hidden: HiddenSchema,
  })
  .strict();

export const SimProvidersSchema = z
  .object({
    description: z.string().max(2000).optional(),
    providers: z.array(SimProviderSchema).min(1).max(100),
  })
  .strict();
export type SimProviders = z.infer<typeof SimProvidersSchema>;
export type SimProvider = z.infer<typeof SimProviderSchema>;

const JobClassSchema = z
  .object({
    name: z.string().regex(LABEL, 'must be a DNS label of at most 40 characters'),
    tenant: z.string().default('sim'),
    /** Exactly one of count (jobs spread uniformly at random over the window) and ratePerHour (Poisson). */
    count: z.number().int().min(0).max(1_000_000).optional(),
    ratePerHour: z.number().min(0).max(100_000).optional(),
    /** The arrival window, hours from the start (default: the whole horizon). */
    fromHour: z.number().min(0).optional(),
    toHour: z.number().positive().optional(),
    gpu: z
      .object({ model: z.string().min(1).max(100).optional(), count: z.number().int().min(1).max(1024) })
      .strict(),
    memoryGiB: z.number().positive().max(4096).optional(),
    maxPricePerHour: z.number().positive().max(100_000).optional(),
    regions: z.array(z.string().min(1).max(64)).min(1).max(100).optional(),
    priority: z.enum(['low', 'normal', 'high', 'critical']).default('normal'),
    /** Run time, hours; each job's is hours × (1 ± hoursJitter), uniform. */
    hours: z.number().positive().max(10_000),
    hoursJitter: z.number().min(0).max(0.9).default(0),
    /** Deadline: a job must be running within this many minutes of its arrival (else it is dropped). */
    maxWaitMinutes: z.number().positive().max(525_600),
  })
  .strict();

export const SimWorkloadsSchema = z
  .object({
    description: z.string().max(2000).optional(),
    /** Arrivals happen in [0, horizonHours). */
    horizonHours: z
      .number()
      .positive()
      .max(24 * 366),
    classes: z.array(JobClassSchema).min(1).max(100),
  })
  .strict();
export type SimWorkloads = z.infer<typeof SimWorkloadsSchema>;
export type JobClass = z.infer<typeof JobClassSchema>;

export const SIM_POLICIES = ['random', 'cheapest', 'fastest', 'rules', 'learned'] as const;
export type SimPolicyName = (typeof SIM_POLICIES)[number];
/** The policies that do not learn (what `learned` is compared against). */
export const SIM_FIXED_POLICIES: readonly SimPolicyName[] = ['random', 'cheapest', 'fastest', 'rules'];

/** Named defaults of the simulation options. */
export const SIM_DEFAULTS = {
  seed: 1,
  maxAttempts: 3,
  retryIntervalMs: 60_000,
  seriesPoints: 100,
  /**
   * LinUCB exploration α of the learned policy. The context vector's norm is about 2 (bias, reliability and standing
   * are near 1), so α = 0.5 gave an unseen provider a bonus as large as the whole reward range (0..1) and kept it
   * trying a provider that had just failed a job; 0.25 explores at half that.
   */
  alpha: 0.25,
  /** The reward's price penalty (rewardOf's costWeight). */
  costWeight: 0.3,
} as const;

export const SimOptionsSchema = z
  .object({
    seed: z.number().int().min(0).max(0xffffffff).default(SIM_DEFAULTS.seed),
    policies: z
      .array(z.enum(SIM_POLICIES))
      .min(1)
      .refine((p) => new Set(p).size === p.length, 'must not repeat a policy')
      .default([...SIM_POLICIES]),
    /** Placement attempts per job (the first and its failovers). */
    maxAttempts: z.number().int().min(1).max(20).default(SIM_DEFAULTS.maxAttempts),
    /** How long a job that finds every eligible offer busy waits before it looks again, ms. */
    retryIntervalMs: z.number().int().min(1000).max(86_400_000).default(SIM_DEFAULTS.retryIntervalMs),
    /** Overrides the workloads file's horizon. */
    horizonHours: z
      .number()
      .positive()
      .max(24 * 366)
      .optional(),
    /** Points of the time series (plus the origin). */
    seriesPoints: z.number().int().min(10).max(1000).default(SIM_DEFAULTS.seriesPoints),
    alpha: z.number().min(0).max(10).default(SIM_DEFAULTS.alpha),
    costWeight: z.number().min(0).max(1).default(SIM_DEFAULTS.costWeight),
    /** Keep every policy's event log in the result (tests, debugging). */
    log: z.boolean().default(false),
  })
  .strict();
export type SimOptions = z.input<typeof SimOptionsSchema>;
export type SimRunOptions = z.output<typeof SimOptionsSchema>;

export const MAX_JOBS = 200_000;

const pathText = (path: readonly (string | number)[]) =>
  path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '') || '(root)';

export function invalid(what: string, issues: readonly z.ZodIssue[]): never {
  throw new AuroraError(
    'INVALID_ARGUMENT',
    `${what}: ${issues.map((i) => `${pathText(i.path)}: ${i.message}`).join('; ')}`,
  );
}

/** Validates a providers file (parsed JSON); INVALID_ARGUMENT naming each problem's field. */
export function parseSimProviders(input: unknown, what = 'providers file'): SimProviders {
  const r = SimProvidersSchema.safeParse(input);
  if (!r.success) invalid(what, r.error.issues);
  const names = new Set<string>();
  r.data.providers.forEach((p, i) => {
    if (names.has(p.name)) invalid(what, [issue(['providers', i, 'name'], `duplicate provider "${p.name}"`)]);
    names.add(p.name);
    const ids = new Set<string>();
    p.offers.forEach((o, j) => {
      const at = ['providers', i, 'offers', j];
      if (ids.has(o.id)) invalid(what, [issue([...at, 'id'], `duplicate offer id "${o.id}"`)]);
      ids.add(o.id);
      if (!p.regions.includes(o.region))
        invalid(what, [
          issue(
            [...at, 'region'],
            `"${o.region}" is not one of the provider's regions (${p.regions.join(', ')})`,
          ),
        ]);
    });
  });
  return r.data;
}

const issue = (path: (string | number)[], message: string): z.ZodIssue => ({ code: 'custom', path, message });

/** Validates a workloads file (parsed JSON); INVALID_ARGUMENT naming each problem's field. */
export function parseSimWorkloads(input: unknown, what = 'workloads file'): SimWorkloads {
  const r = SimWorkloadsSchema.safeParse(input);
  if (!r.success) invalid(what, r.error.issues);
  const names = new Set<string>();
  r.data.classes.forEach((c, i) => {
    const at = ['classes', i];
    if (names.has(c.name)) invalid(what, [issue([...at, 'name'], `duplicate class "${c.name}"`)]);
    names.add(c.name);
    if ((c.count === undefined) === (c.ratePerHour === undefined))
      invalid(what, [issue(at, 'give exactly one of count and ratePerHour')]);
    if (c.fromHour !== undefined && c.toHour !== undefined && c.toHour <= c.fromHour)
      invalid(what, [issue([...at, 'toHour'], 'must be after fromHour')]);
    const w = WorkloadSchema.safeParse(workloadOf(c, `${c.name}-0`));
    if (!w.success)
      invalid(
        what,
        w.error.issues.map((x) => ({ ...x, path: [...at, ...(x.path[0] === 'id' ? ['name'] : x.path)] })),
      );
  });
  return r.data;
}

/** The router's workload for one job of a class (the deadline is the sim's business, not the ranking's). */
export function workloadOf(c: JobClass, id: string): Workload {
  return {
    id,
    tenant: c.tenant,
    gpu: c.gpu.model !== undefined ? { model: c.gpu.model, count: c.gpu.count } : { count: c.gpu.count },
    ...(c.memoryGiB !== undefined ? { memoryGiB: c.memoryGiB } : {}),
    ...(c.maxPricePerHour !== undefined ? { maxPricePerHour: c.maxPricePerHour } : {}),
    ...(c.regions !== undefined ? { regions: c.regions } : {}),
    priority: c.priority,
    hours: c.hours,
  };
}
