// Akash adapter over the Akash Console managed-wallet REST API (https://console-api.akash.network, header
// `x-api-key`). Built against the documented API shape (akash.network/docs/api-documentation/console-api:
// getting-started and api-reference; the request/response zod schemas in akash-network/console apps/api
// deployment.schema.ts, bid.schema.ts, lease.schema.ts), not tried against the real service from here.
//
// Akash has no offer catalogue: providers bid on a deployment. So listOffers(workload) CREATES a deployment
// (POST /v1/deployments `{data: {sdl, deposit}}` → `{data: {dseq, manifest}}`, the deposit in USD is held in escrow
// and returned on close) from an SDL generated for the workload (GPU units with the vendor/model attribute), polls
// its bids (GET /v1/bids?dseq= → `{data: [{bid: {bid_id|id: {dseq, gseq, oseq, provider}, state, price: {denom,
// amount}, resources_offer}}]}`) for up to `bidWaitMs`, and returns the open bids as offers whose offerId is
// `dseq/gseq/oseq/provider`. A deployment that got no usable bid is closed at once; a later listOffers for the same
// workload id closes the previous unleased one, so at most one unleased deployment per workload is left open.
// submit(offer) creates the lease (POST /v1/leases `{manifest, leases: [{dseq, gseq, oseq, provider}]}`); the job id
// is the dseq. status reads GET /v1/deployments/{dseq} (`{data: {deployment: {state}, leases: [{state, price}]}}`);
// cancel closes the deployment (DELETE /v1/deployments/{dseq} → `{data: {success}}`).
//
// Prices: a bid's price is micro-denom per block. USD per hour = amount × blocksPerHour / 1e6 × USD per unit, where
// the USD per AKT rate is the `usdPerAkt` option (required: there is no safe default) and stable denoms (USDC) are
// 1 USD per unit (`usdPerDenom` adds others). `blocksPerHour` defaults to 590 (Akash's ~6.1 s block time).
// Bids carry no location: the region comes from `providerRegions` (provider address → region), else "unknown".
import { setTimeout as sleep } from 'node:timers/promises';
import { dump as dumpYaml } from 'js-yaml';
import { z } from 'zod';
import { AuroraError } from '../errors.ts';
import type { ComputeProvider, ProviderJob } from '../provider.ts';
import type { Offer, Workload } from '../workload.ts';
import {
  checkJobId,
  checkOffer,
  normalizeGpuModel,
  offerFits,
  parseWorkload,
  round4,
  throwIfAborted,
} from './common.ts';
import { DEFAULT_TIMEOUT_MS, hostedSetup, type FetchFn } from './http.ts';

export const AKASH_DEFAULT_BASE_URL = 'https://console-api.akash.network';
/** USDC on Akash (IBC denom used by managed wallets) and plain uusdc: 1 USD per unit. */
export const AKASH_USDC_DENOMS: Readonly<Record<string, number>> = {
  uusdc: 1,
  'ibc/170C677610AC31DF0904FFE09CD3B5C657492170E7E52372E48756B71E56F2F1': 1,
};

export const AkashOptionsSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,63}$/)
      .default('akash'),
    baseUrl: z.string().url().default(AKASH_DEFAULT_BASE_URL),
    timeoutMs: z.number().int().positive().max(600_000).default(DEFAULT_TIMEOUT_MS),
    /** USD per AKT, to convert uakt bids to USD (set by the operator; AKT's price moves). */
    usdPerAkt: z.number().positive().max(1_000_000),
    /** USD per unit of other denoms (added to the USDC defaults). */
    usdPerDenom: z.record(z.number().positive()).default({}),
    /** Blocks per hour (Akash: ~6.1 s blocks). */
    blocksPerHour: z.number().positive().max(100_000).default(590),
    /** Deposit for each deployment, USD (held in escrow, returned on close). */
    depositUsd: z.number().positive().max(100_000).default(5),
    /** Denom the SDL's max price is written in. */
    pricingDenom: z.string().min(1).max(100).default('uakt'),
    /** Max price per block in micro-denom when the workload sets no price cap. */
    maxAmountPerBlock: z.number().int().positive().default(100_000),
    /** How long listOffers waits for bids, ms, and how often it polls. */
    bidWaitMs: z.number().int().min(0).max(600_000).default(30_000),
    bidPollMs: z.number().int().min(1).max(60_000).default(3_000),
    /** Resources per service instance besides GPUs. */
    cpuUnits: z.number().positive().max(512).default(4),
    memoryGiB: z.number().positive().max(4096).default(16),
    storageGiB: z.number().positive().max(100_000).default(50),
    /** Image when the workload names none. */
    defaultImage: z.string().min(1).max(500).optional(),
    /** Provider address → region id. */
    providerRegions: z.record(z.string().min(1).max(64)).default({}),
  })
  .strict();
export type AkashOptions = z.input<typeof AkashOptionsSchema>;

const DseqSchema = z.string().regex(/^[0-9]{1,20}$/, 'must be a block height');
const AddressSchema = z.string().regex(/^akash1[02-9ac-hj-np-z]{38,58}$/, 'must be an akash address');
const CoinSchema = z.object({
  denom: z.string().max(200),
  amount: z.string().regex(/^[0-9]{1,30}(\.[0-9]{1,30})?$/, 'must be a decimal'),
});
const AttributeSchema = z.object({ key: z.string().max(300), value: z.string().max(300) });
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

const CreateDeploymentSchema = z.object({
  // The docs show both `{data: {dseq, manifest}}` and `{data: {data: {...}}}`: unwrap the second.
  data: z.preprocess(
    (v) => (isRecord(v) && isRecord(v.data) ? v.data : v),
    z.object({ dseq: DseqSchema, manifest: z.string().min(1).max(1_000_000) }).passthrough(),
  ),
});

const BidIdSchema = z.object({
  dseq: DseqSchema,
  gseq: z.number().int().nonnegative(),
  oseq: z.number().int().nonnegative(),
  provider: AddressSchema,
});
const BidSchema = z
  .object({
    bid: z
      .object({
        bid_id: BidIdSchema.optional(),
        id: BidIdSchema.optional(),
        state: z.string().max(50),
        price: CoinSchema,
        resources_offer: z
          .array(
            z
              .object({
                resources: z
                  .object({
                    gpu: z
                      .object({
                        units: z.object({ val: z.string().max(20) }),
                        attributes: z.array(AttributeSchema).nullish(),
                      })
                      .passthrough()
                      .nullish(),
                  })
                  .passthrough(),
                count: z.number().int().nonnegative(),
              })
              .passthrough(),
          )
          .nullish(),
      })
      .passthrough()
      .refine((b) => b.bid_id !== undefined || b.id !== undefined, {
        message: 'bid.bid_id (or bid.id) is required',
      }),
  })
  .passthrough();
const BidsResponseSchema = z.object({ data: z.array(BidSchema).max(10_000) });

const DeploymentSchema = z
  .object({
    deployment: z
      .object({ deployment_id: z.object({ dseq: DseqSchema }).passthrough(), state: z.string().max(50) })
      .passthrough(),
    leases: z
      .array(
        z
          .object({
            lease_id: z.object({ provider: AddressSchema }).passthrough(),
            state: z.string().max(50),
            price: CoinSchema.optional(),
          })
          .passthrough(),
      )
      .default([]),
  })
  .passthrough();
const DeploymentResponseSchema = z.object({ data: DeploymentSchema });
const CloseResponseSchema = z
  .object({ data: z.object({ success: z.boolean() }).passthrough() })
  .passthrough();

const OFFER_ID = /^([0-9]{1,20})\/([0-9]{1,10})\/([0-9]{1,10})\/(akash1[02-9ac-hj-np-z]{38,58})$/;
const JOB_ID = /^[0-9]{1,20}$/;
/** Bound on remembered manifests (deployments listed but not yet leased or closed). */
const MAX_REMEMBERED = 1000;

/** Akash's SDL GPU model name: "NVIDIA H100" → "h100", "RTX 4090" → "rtx4090". */
export function akashGpuModel(model: string): string {
  return normalizeGpuModel(model);
}

/** Generates the SDL (YAML, version 2.0) for a workload: one service with GPU units and the model attribute. */
export function generateAkashSdl(
  w: Workload,
  o: {
    image: string;
    cpuUnits: number;
    memoryGiB: number;
    storageGiB: number;
    pricingDenom: string;
    maxAmountPerBlock: number;
  },
): string {
  const nvidia: Record<string, string> = {};
  if (w.gpu.model !== undefined) nvidia.model = akashGpuModel(w.gpu.model);
  if (w.memoryGiB !== undefined) nvidia.ram = `${Math.ceil(w.memoryGiB)}Gi`;
  const service: Record<string, unknown> = { image: o.image };
  if (w.command !== undefined && w.command.length > 0) service.command = w.command;
  const sdl = {
    version: '2.0',
    services: { job: service },
    profiles: {
      compute: {
        job: {
          resources: {
            cpu: { units: o.cpuUnits },
            memory: { size: `${o.memoryGiB}Gi` },
            storage: [{ size: `${o.storageGiB}Gi` }],
            gpu: {
              units: w.gpu.count,
              attributes: { vendor: { nvidia: Object.keys(nvidia).length > 0 ? [nvidia] : null } },
            },
          },
        },
      },
      placement: {
        dcloud: { pricing: { job: { denom: o.pricingDenom, amount: o.maxAmountPerBlock } } },
      },
    },
    deployment: { job: { dcloud: { profile: 'job', count: 1 } } },
  };
  return dumpYaml(sdl, { lineWidth: -1, noRefs: true });
}

/** Parses a GPU attribute key such as "vendor/nvidia/model/h100/ram/80Gi". */
function parseGpuAttribute(key: string): { model: string; ramGiB?: number } | undefined {
  const m = /^vendor\/[a-z0-9-]+\/model\/([^/]+)(?:\/ram\/([0-9.]+)(Ti|Gi|Mi|T|G|M))?/.exec(key);
  if (m === null || m[1] === undefined) return undefined;
  if (m[2] === undefined) return { model: m[1] };
  const n = Number(m[2]);
  const unit = m[3];
  const gib = unit === 'Ti' || unit === 'T' ? n * 1024 : unit === 'Mi' || unit === 'M' ? n / 1024 : n;
  return { model: m[1], ramGiB: gib };
}

/** Maps an Akash deployment (and its leases) onto ProviderJob.state. */
export function akashState(
  deploymentState: string,
  leaseStates: readonly string[],
): { state: ProviderJob['state']; detail: string } {
  if (leaseStates.includes('insufficient_funds'))
    return { state: 'failed', detail: 'lease: insufficient funds' };
  if (deploymentState === 'closed') return { state: 'cancelled', detail: 'deployment closed' };
  if (leaseStates.includes('active')) return { state: 'running', detail: 'lease active' };
  if (leaseStates.length === 0) return { state: 'pending', detail: 'waiting for a lease' };
  return { state: 'failed', detail: `lease ${leaseStates.join(', ')}` };
}

/** Creates the Akash provider; INVALID_ARGUMENT for bad options or a missing key. */
export function createAkashProvider(
  options: AkashOptions & { apiKey: string },
  deps: { fetch?: FetchFn } = {},
): ComputeProvider {
  const { opts, name, http } = hostedSetup('akash', AkashOptionsSchema, options, 'x-api-key', deps);
  const usdPerUnit: Record<string, number> = {
    ...AKASH_USDC_DENOMS,
    ...opts.usdPerDenom,
    uakt: opts.usdPerAkt,
  };
  /** dseq → manifest of deployments this adapter created and has not leased or closed. */
  const manifests = new Map<string, string>();
  /** workload id → its unleased deployment (dseq). */
  const openByWorkload = new Map<string, string>();

  const remember = (workloadId: string, dseq: string, manifest: string) => {
    if (manifests.size >= MAX_REMEMBERED) {
      const oldest = manifests.keys().next().value;
      if (oldest !== undefined) manifests.delete(oldest);
    }
    manifests.set(dseq, manifest);
    openByWorkload.set(workloadId, dseq);
  };
  const forget = (dseq: string) => {
    manifests.delete(dseq);
    for (const [w, d] of openByWorkload) if (d === dseq) openByWorkload.delete(w);
  };
  /** Best-effort close of a deployment nobody will lease (own time limit, not the caller's aborted signal). */
  const closeQuietly = async (dseq: string) => {
    forget(dseq);
    try {
      await http.request('DELETE', `/v1/deployments/${dseq}`, { schema: z.unknown() });
    } catch {
      // Best effort: the deposit returns when the escrow runs out or the operator closes it.
    }
  };

  const priceUsdPerHour = (coin: { denom: string; amount: string }): number | undefined => {
    const rate = usdPerUnit[coin.denom];
    if (rate === undefined) return undefined;
    return round4(((Number(coin.amount) * opts.blocksPerHour) / 1e6) * rate);
  };

  function maxAmountPerBlock(w: Workload): number {
    const rate = usdPerUnit[opts.pricingDenom];
    if (w.maxPricePerHour === undefined || rate === undefined) return opts.maxAmountPerBlock;
    return Math.max(1, Math.ceil(((w.maxPricePerHour / rate) * 1e6) / opts.blocksPerHour));
  }

  function toOffer(bid: z.infer<typeof BidSchema>['bid'], w: Workload): Offer | undefined {
    const id = bid.bid_id ?? bid.id;
    if (id === undefined || bid.state !== 'open') return undefined;
    const price = priceUsdPerHour(bid.price);
    if (price === undefined) return undefined; // a denom we cannot price in USD
    let gpuCount = 0;
    let model: string | undefined;
    let ramGiB: number | undefined;
    for (const r of bid.resources_offer ?? []) {
      const gpu = r.resources.gpu;
      if (gpu === null || gpu === undefined) continue;
      gpuCount += Number(gpu.units.val) * r.count;
      for (const a of gpu.attributes ?? []) {
        const parsedAttr = parseGpuAttribute(a.key);
        if (parsedAttr === undefined) continue;
        model ??= parsedAttr.model;
        if (parsedAttr.ramGiB !== undefined) ramGiB ??= parsedAttr.ramGiB;
      }
    }
    if (bid.resources_offer === null || bid.resources_offer === undefined) gpuCount = w.gpu.count;
    if (!Number.isFinite(gpuCount)) return undefined;
    return {
      provider: name,
      offerId: `${id.dseq}/${id.gseq}/${id.oseq}/${id.provider}`,
      gpuModel: model ?? w.gpu.model ?? 'unknown',
      gpuCount,
      memoryGiB: round4(ramGiB ?? w.memoryGiB ?? 0),
      pricePerHour: price,
      region: opts.providerRegions[id.provider] ?? 'unknown',
    };
  }

  function toJob(dseq: string, d: z.infer<typeof DeploymentSchema>): ProviderJob {
    const { state, detail } = akashState(
      d.deployment.state,
      d.leases.map((l) => l.state),
    );
    const lease = d.leases.find((l) => l.state === 'active') ?? d.leases[0];
    const price = lease?.price !== undefined ? priceUsdPerHour(lease.price) : undefined;
    const region = lease !== undefined ? opts.providerRegions[lease.lease_id.provider] : undefined;
    return {
      provider: name,
      jobId: dseq,
      state,
      detail,
      ...(region !== undefined ? { region } : {}),
      ...(price !== undefined ? { pricePerHour: price } : {}),
    };
  }

  return {
    name,
    async listOffers(workload, o) {
      const w = parseWorkload(name, workload);
      throwIfAborted(name, o?.signal);
      const image = w.image ?? opts.defaultImage;
      if (image === undefined)
        throw new AuroraError('INVALID_ARGUMENT', `${name}: the workload names no image`);
      const previous = openByWorkload.get(w.id);
      if (previous !== undefined) await closeQuietly(previous);

      const sdl = generateAkashSdl(w, { ...opts, image, maxAmountPerBlock: maxAmountPerBlock(w) });
      const created = await http.request('POST', '/v1/deployments', {
        body: { data: { sdl, deposit: opts.depositUsd } },
        schema: CreateDeploymentSchema,
        signal: o?.signal,
      });
      const { dseq, manifest } = created.data;
      remember(w.id, dseq, manifest);

      try {
        const deadline = Date.now() + opts.bidWaitMs;
        let offers: Offer[] = [];
        for (;;) {
          const bids = await http.request('GET', '/v1/bids', {
            query: { dseq },
            schema: BidsResponseSchema,
            signal: o?.signal,
          });
          const open = bids.data.filter((b) => b.bid.state === 'open');
          offers = open.flatMap((b) => toOffer(b.bid, w) ?? []).filter((offer) => offerFits(offer, w));
          if (open.length > 0 || Date.now() + opts.bidPollMs > deadline) break;
          try {
            await sleep(opts.bidPollMs, undefined, { signal: o?.signal });
          } catch {
            throw new AuroraError(
              'PROVIDER_TIMEOUT',
              `${name}: aborted by the caller while waiting for bids`,
              {
                reason: 'aborted',
              },
            );
          }
        }
        if (offers.length === 0) await closeQuietly(dseq);
        return offers;
      } catch (err) {
        await closeQuietly(dseq);
        throw err;
      }
    },

    async submit(workload, offer, o) {
      parseWorkload(name, workload);
      const m = OFFER_ID.exec(checkOffer(name, offer, OFFER_ID));
      if (m === null) throw new AuroraError('INVALID_ARGUMENT', `${name}: malformed offer id`);
      const [, dseq = '', gseq, oseq, providerAddr = ''] = m;
      const manifest = manifests.get(dseq);
      if (manifest === undefined)
        throw new AuroraError(
          'INVALID_ARGUMENT',
          `${name}: offer for deployment ${dseq} is stale; list offers again`,
        );
      const res = await http.request('POST', '/v1/leases', {
        body: {
          manifest,
          leases: [{ dseq, gseq: Number(gseq), oseq: Number(oseq), provider: providerAddr }],
        },
        schema: DeploymentResponseSchema,
        signal: o?.signal,
      });
      forget(dseq);
      const job = toJob(dseq, res.data);
      return {
        ...job,
        region: job.region ?? offer.region,
        pricePerHour: job.pricePerHour ?? offer.pricePerHour,
      };
    },

    async status(jobId, o) {
      const dseq = checkJobId(name, jobId, JOB_ID);
      const res = await http.request('GET', `/v1/deployments/${dseq}`, {
        schema: DeploymentResponseSchema,
        signal: o?.signal,
        notFound: `deployment ${dseq} not found`,
      });
      return toJob(dseq, res.data);
    },

    async cancel(jobId, o) {
      const dseq = checkJobId(name, jobId, JOB_ID);
      const res = await http.request('DELETE', `/v1/deployments/${dseq}`, {
        schema: CloseResponseSchema,
        signal: o?.signal,
        notFound: `deployment ${dseq} not found`,
      });
      if (!res.data.success)
        throw new AuroraError('PROVIDER_FAILED', `${name}: closing deployment ${dseq} failed`);
      forget(dseq);
      return { provider: name, jobId: dseq, state: 'cancelled', detail: 'deployment closed' };
    },
  };
}
