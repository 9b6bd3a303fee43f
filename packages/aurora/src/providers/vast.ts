// Vast.ai adapter over its REST API (https://console.vast.ai/api/v0, header `Authorization: Bearer <key>`).
// Built against the documented API shape (docs.vast.ai/api-reference: "search offers", "create instance",
// "show instance", "destroy instance"; vast-ai/vast-python), not tried against the real service from here:
// - offers: POST /bundles/ with a JSON body of filters `{field: {op: value}}` (eq, gte, lte...), `type`, `limit`,
//   `order` → `{offers: [{id, gpu_name, num_gpus, gpu_ram (MB per GPU), dph_total ($/h for the whole offer),
//   geolocation ("City, CC"), reliability2 (0..1), ...}]}`. GPU model is matched here, not by the API: Vast names
//   ("H100 SXM", "RTX 4090") rarely equal the router's generic model names, and `gpu_name eq` is exact.
// - rent: PUT /asks/{offerId}/ with `{client_id: "me", image, disk, label, runtype: "args", args}` →
//   `{success, new_contract}` (new_contract is the instance id, i.e. our job id).
// - status: GET /instances/{id}/ → `{instances: {actual_status, intended_status, cur_state, status_msg, ...}}`.
//   actual_status: null/loading/rebooting → pending; running → running; stopped/frozen → cancelled;
//   exited/unknown/offline → failed (Vast: "it will never reach running").
// - cancel: DELETE /instances/{id}/ → `{success, msg}` (destroys the instance; billing stops).
import { z } from 'zod';
import { AuroraError } from '../errors.ts';
import type { ComputeProvider, ProviderJob } from '../provider.ts';
import type { Offer, Workload } from '../workload.ts';
import { checkJobId, checkOffer, offerFits, parseWorkload, round4 } from './common.ts';
import { DEFAULT_TIMEOUT_MS, hostedSetup, type FetchFn } from './http.ts';

export const VAST_DEFAULT_BASE_URL = 'https://console.vast.ai/api/v0';

/** Options of the Vast.ai adapter (the API key is passed separately and never part of a config file). */
export const VastOptionsSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,63}$/)
      .default('vast'),
    baseUrl: z.string().url().default(VAST_DEFAULT_BASE_URL),
    timeoutMs: z.number().int().positive().max(600_000).default(DEFAULT_TIMEOUT_MS),
    /** Disk for a rented instance, GB. */
    diskGb: z.number().positive().max(100_000).default(20),
    /** Image when the workload names none. */
    defaultImage: z.string().min(1).max(500).optional(),
    /** How many offers the search asks for (the GPU model filter runs here, after the API's filters). */
    searchLimit: z.number().int().min(1).max(1000).default(200),
    /** Only verified hosts. */
    verifiedOnly: z.boolean().default(true),
    /** Country code (lower case, from geolocation) → region id; unmapped codes are the region themselves. */
    regionMap: z.record(z.string().min(1).max(64)).default({}),
  })
  .strict();
export type VastOptions = z.input<typeof VastOptionsSchema>;

const OfferSchema = z
  .object({
    id: z.number().int().nonnegative(),
    gpu_name: z.string().max(200),
    num_gpus: z.number().int().nonnegative(),
    gpu_ram: z.number().nonnegative(),
    dph_total: z.number().nonnegative(),
    geolocation: z.string().max(200).nullish(),
    reliability2: z.number().nullish(),
    reliability: z.number().nullish(),
  })
  .passthrough();
const SearchResponseSchema = z.object({ offers: z.array(OfferSchema).max(10_000) }).passthrough();
const CreateResponseSchema = z
  .object({
    success: z.boolean(),
    new_contract: z.number().int().nonnegative().optional(),
    msg: z.string().optional(),
  })
  .passthrough();
const InstanceSchema = z
  .object({
    id: z.number().int().optional(),
    actual_status: z.string().nullish(),
    intended_status: z.string().nullish(),
    cur_state: z.string().nullish(),
    status_msg: z.string().nullish(),
    geolocation: z.string().nullish(),
    dph_total: z.number().nullish(),
  })
  .passthrough();
const InstanceResponseSchema = z.object({ instances: InstanceSchema.nullable() }).passthrough();
const DestroyResponseSchema = z.object({ success: z.boolean(), msg: z.string().optional() }).passthrough();

const ID = /^[0-9]{1,20}$/;

/** Maps Vast's geolocation ("Washington, US", "SE") to a region id: the lower-case country code, or `regionMap`. */
export function vastRegion(
  geolocation: string | null | undefined,
  regionMap: Record<string, string> = {},
): string {
  const last = (geolocation ?? '').split(',').pop()?.trim() ?? '';
  if (!/^[A-Za-z]{2}$/.test(last)) return 'unknown';
  const code = last.toLowerCase();
  return regionMap[code] ?? code;
}

/** Maps Vast's instance status fields onto ProviderJob.state. */
export function vastState(
  actual: string | null | undefined,
  intended: string | null | undefined,
): ProviderJob['state'] {
  switch (actual) {
    case 'running':
      return 'running';
    case 'stopped':
    case 'frozen':
      return 'cancelled';
    case 'exited':
    case 'unknown':
    case 'offline':
      return 'failed';
    default:
      // null (provisioning), loading, created, scheduling, rebooting
      return intended === 'stopped' ? 'cancelled' : 'pending';
  }
}

/** Creates the Vast.ai provider; INVALID_ARGUMENT for bad options or a missing key. */
export function createVastProvider(
  options: VastOptions & { apiKey: string },
  deps: { fetch?: FetchFn } = {},
): ComputeProvider {
  const { opts, name, http } = hostedSetup('vast', VastOptionsSchema, options, 'authorization', deps);

  function toOffer(o: z.infer<typeof OfferSchema>): Offer {
    const reliability = o.reliability2 ?? o.reliability ?? undefined;
    return {
      provider: name,
      offerId: String(o.id),
      gpuModel: o.gpu_name,
      gpuCount: o.num_gpus,
      memoryGiB: round4(o.gpu_ram / 1024),
      pricePerHour: round4(o.dph_total),
      region: vastRegion(o.geolocation, opts.regionMap),
      ...(reliability !== undefined ? { reliability: Math.min(1, Math.max(0, reliability)) } : {}),
    };
  }

  function searchBody(w: Workload): Record<string, unknown> {
    const body: Record<string, unknown> = {
      rentable: { eq: true },
      rented: { eq: false },
      num_gpus: { gte: w.gpu.count },
      type: 'on-demand',
      limit: opts.searchLimit,
      order: [['dph_total', 'asc']],
    };
    if (opts.verifiedOnly) body.verified = { eq: true };
    // gpu_ram is MB per GPU in the REST API (the CLI takes GB); leave 3% slack like offerFits does.
    if (w.memoryGiB !== undefined) body.gpu_ram = { gte: Math.floor(w.memoryGiB * 1024 * 0.97) };
    if (w.maxPricePerHour !== undefined) body.dph_total = { lte: w.maxPricePerHour };
    return body;
  }

  function toJob(jobId: string, inst: z.infer<typeof InstanceSchema>): ProviderJob {
    const state = vastState(inst.actual_status, inst.intended_status);
    const detail = [inst.actual_status ?? 'provisioning', inst.status_msg].filter(Boolean).join(': ');
    return {
      provider: name,
      jobId,
      state,
      detail: detail.slice(0, 500),
      ...(inst.geolocation ? { region: vastRegion(inst.geolocation, opts.regionMap) } : {}),
      ...(typeof inst.dph_total === 'number' ? { pricePerHour: round4(inst.dph_total) } : {}),
    };
  }

  return {
    name,
    async listOffers(workload, o) {
      const w = parseWorkload(name, workload);
      const res = await http.request('POST', '/bundles/', {
        body: searchBody(w),
        schema: SearchResponseSchema,
        signal: o?.signal,
      });
      return res.offers.map(toOffer).filter((offer) => offerFits(offer, w));
    },

    async submit(workload, offer, o) {
      const w = parseWorkload(name, workload);
      const askId = checkOffer(name, offer, ID);
      const image = w.image ?? opts.defaultImage;
      if (image === undefined)
        throw new AuroraError('INVALID_ARGUMENT', `${name}: the workload names no image`);
      const body: Record<string, unknown> = {
        client_id: 'me',
        image,
        disk: opts.diskGb,
        label: `aurora-${w.id}`,
        runtype: 'args',
        cancel_unavail: true,
      };
      if (w.command !== undefined) body.args = w.command;
      const res = await http.request('PUT', `/asks/${askId}/`, {
        body,
        schema: CreateResponseSchema,
        signal: o?.signal,
      });
      if (!res.success || res.new_contract === undefined)
        throw new AuroraError(
          'PROVIDER_FAILED',
          http.redact(
            `${name}: renting offer ${askId} was refused: ${(res.msg ?? 'no reason given').slice(0, 200)}`,
          ),
        );
      return {
        provider: name,
        jobId: String(res.new_contract),
        state: 'pending',
        region: offer.region,
        pricePerHour: offer.pricePerHour,
      };
    },

    async status(jobId, o) {
      const id = checkJobId(name, jobId, ID);
      const res = await http.request('GET', `/instances/${id}/`, {
        schema: InstanceResponseSchema,
        signal: o?.signal,
        notFound: `instance ${id} not found`,
      });
      if (res.instances === null) throw new AuroraError('NOT_FOUND', `${name}: instance ${id} not found`);
      return toJob(id, res.instances);
    },

    async cancel(jobId, o) {
      const id = checkJobId(name, jobId, ID);
      const res = await http.request('DELETE', `/instances/${id}/`, {
        schema: DestroyResponseSchema,
        signal: o?.signal,
        notFound: `instance ${id} not found`,
      });
      if (!res.success)
        throw new AuroraError(
          'PROVIDER_FAILED',
          http.redact(
            `${name}: destroying instance ${id} failed: ${(res.msg ?? 'no reason given').slice(0, 200)}`,
          ),
        );
      return { provider: name, jobId: id, state: 'cancelled', detail: 'destroyed' };
    },
  };
}
