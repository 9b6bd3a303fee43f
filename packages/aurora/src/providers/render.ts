// Render adapter over the Render REST API (https://api.render.com/v1, header `Authorization: Bearer <key>`).
// Built against the documented API shape (api-docs.render.com: "Create service" servicePOST, "Retrieve service",
// "List deploys", "Suspend service", "Delete service"; the published OpenAPI-derived schemas), not tried against the
// real service from here.
// - Render has no offer search API: offers come from the configured `plans` (plan id, GPU model/count/memory, USD
//   per hour, regions); one offer per plan × region, offerId `plan:region`.
// - submit: POST /services `{type, name, ownerId, autoDeploy: "no", image: {ownerId, imagePath}, serviceDetails:
//   {runtime: "image", plan, region, numInstances: 1, envSpecificDetails: {dockerCommand}}}` → 201
//   `{service: {id, ...}, deployId}`; the job id is the service id (srv-...). The argv is quoted into Render's
//   single dockerCommand string.
// - status: GET /services/{id} (`suspended: "suspended" | "not_suspended"`) and GET /services/{id}/deploys?limit=1
//   (`[{deploy: {id, status}, cursor}]`): suspended → cancelled; deploy created/queued/*_in_progress → pending,
//   live → running, *_failed → failed, canceled/deactivated → cancelled; no deploy yet → pending.
// - cancel: `cancelMode` "suspend" (default: POST /services/{id}/suspend; billing stops, the service, its logs and
//   events stay for the audit trail, and status keeps answering) or "delete" (DELETE /services/{id}; nothing left).
import { z } from 'zod';
import { AuroraError } from '../errors.ts';
import type { ComputeProvider, ProviderJob } from '../provider.ts';
import type { Offer } from '../workload.ts';
import { checkJobId, checkOffer, offerFits, parseWorkload, round4 } from './common.ts';
import { DEFAULT_TIMEOUT_MS, hostedSetup, type FetchFn } from './http.ts';

export const RENDER_DEFAULT_BASE_URL = 'https://api.render.com/v1';

export const RenderPlanSchema = z
  .object({
    /** Render plan id ("pro", "pro_plus", ...). */
    plan: z.string().regex(/^[a-z0-9_]{1,64}$/),
    gpuModel: z.string().min(1).max(100),
    gpuCount: z.number().int().min(0).max(1024),
    /** GPU memory per GPU, GiB. */
    memoryGiB: z.number().min(0).max(4096),
    /** USD per hour for the whole instance. */
    pricePerHour: z.number().min(0).max(100_000),
    /** Render regions this plan is offered in ("oregon", "frankfurt", ...). */
    regions: z
      .array(z.string().regex(/^[a-z0-9-]{1,64}$/))
      .min(1)
      .max(50),
    reliability: z.number().min(0).max(1).optional(),
    latencyMs: z.number().min(0).optional(),
  })
  .strict();

export const RenderOptionsSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,63}$/)
      .default('render'),
    baseUrl: z.string().url().default(RENDER_DEFAULT_BASE_URL),
    timeoutMs: z.number().int().positive().max(600_000).default(DEFAULT_TIMEOUT_MS),
    /** Workspace (owner) id the services are created in ("tea-..." / "usr-..."). */
    ownerId: z.string().regex(/^[a-z]{3}-[a-z0-9]{1,64}$/),
    /** Service type for workloads (a background worker runs a container with no public port). */
    serviceType: z.enum(['background_worker', 'private_service', 'web_service']).default('background_worker'),
    plans: z.array(RenderPlanSchema).min(1).max(100),
    cancelMode: z.enum(['suspend', 'delete']).default('suspend'),
    defaultImage: z.string().min(1).max(500).optional(),
  })
  .strict();
export type RenderOptions = z.input<typeof RenderOptionsSchema>;

const ServiceSchema = z
  .object({
    id: z.string().regex(/^srv-[a-z0-9]{1,100}$/),
    suspended: z.string().max(50).optional(),
    serviceDetails: z
      .object({ plan: z.string().max(100).optional(), region: z.string().max(100).optional() })
      .passthrough()
      .nullish(),
  })
  .passthrough();
// 201 is `{service, deployId}`; older answers were the bare service: accept both, always yielding the service.
const CreateResponseSchema = z.preprocess(
  (v) => (typeof v === 'object' && v !== null && 'service' in v ? (v as { service: unknown }).service : v),
  ServiceSchema,
);
const DeploysResponseSchema = z
  .array(
    z
      .object({ deploy: z.object({ id: z.string().max(200), status: z.string().max(50) }).passthrough() })
      .passthrough(),
  )
  .max(100);

const OFFER_ID = /^([a-z0-9_]{1,64}):([a-z0-9-]{1,64})$/;
const JOB_ID = /^srv-[a-z0-9]{1,100}$/;

/** Maps a Render deploy status onto ProviderJob.state. */
export function renderDeployState(status: string | undefined): ProviderJob['state'] {
  switch (status) {
    case 'live':
      return 'running';
    case 'build_failed':
    case 'update_failed':
    case 'pre_deploy_failed':
      return 'failed';
    case 'canceled':
    case 'deactivated':
      return 'cancelled';
    default:
      // undefined (no deploy yet), created, queued, build_in_progress, update_in_progress, pre_deploy_in_progress
      return 'pending';
  }
}

/** Quotes an argv into one POSIX-shell-like command string (Render's dockerCommand is a single string). */
export function quoteArgv(argv: readonly string[]): string {
  return argv
    .map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

/** Creates the Render provider; INVALID_ARGUMENT for bad options or a missing key. */
export function createRenderProvider(
  options: RenderOptions & { apiKey: string },
  deps: { fetch?: FetchFn } = {},
): ComputeProvider {
  const { opts, name, http } = hostedSetup('render', RenderOptionsSchema, options, 'authorization', deps);
  const planById = new Map(opts.plans.map((p) => [p.plan, p]));

  const allOffers: Offer[] = opts.plans.flatMap((p) =>
    p.regions.map((region) => ({
      provider: name,
      offerId: `${p.plan}:${region}`,
      gpuModel: p.gpuModel,
      gpuCount: p.gpuCount,
      memoryGiB: p.memoryGiB,
      pricePerHour: round4(p.pricePerHour),
      region,
      ...(p.reliability !== undefined ? { reliability: p.reliability } : {}),
      ...(p.latencyMs !== undefined ? { latencyMs: p.latencyMs } : {}),
    })),
  );

  return {
    name,
    async listOffers(workload, o) {
      const w = parseWorkload(name, workload);
      if (o?.signal?.aborted === true)
        throw new AuroraError('PROVIDER_TIMEOUT', `${name}: aborted by the caller`, { reason: 'aborted' });
      return allOffers.filter((offer) => offerFits(offer, w));
    },

    async submit(workload, offer, o) {
      const w = parseWorkload(name, workload);
      const m = OFFER_ID.exec(checkOffer(name, offer, OFFER_ID));
      const plan = m?.[1] !== undefined ? planById.get(m[1]) : undefined;
      const region = m?.[2];
      if (plan === undefined || region === undefined || !plan.regions.includes(region))
        throw new AuroraError('INVALID_ARGUMENT', `${name}: the offer names no configured plan and region`);
      const image = w.image ?? opts.defaultImage;
      if (image === undefined)
        throw new AuroraError('INVALID_ARGUMENT', `${name}: the workload names no image`);
      const serviceDetails: Record<string, unknown> = {
        runtime: 'image',
        plan: plan.plan,
        region,
        numInstances: 1,
      };
      if (w.command !== undefined && w.command.length > 0)
        serviceDetails.envSpecificDetails = { dockerCommand: quoteArgv(w.command) };
      const res = await http.request('POST', '/services', {
        body: {
          type: opts.serviceType,
          name: `aurora-${w.id}`,
          ownerId: opts.ownerId,
          autoDeploy: 'no',
          image: { ownerId: opts.ownerId, imagePath: image },
          serviceDetails,
        },
        schema: CreateResponseSchema,
        signal: o?.signal,
      });
      return {
        provider: name,
        jobId: res.id,
        state: 'pending',
        region,
        pricePerHour: round4(plan.pricePerHour),
      };
    },

    async status(jobId, o) {
      const id = checkJobId(name, jobId, JOB_ID);
      const notFound = `service ${id} not found`;
      const service = await http.request('GET', `/services/${id}`, {
        schema: ServiceSchema,
        signal: o?.signal,
        notFound,
      });
      const planId = service.serviceDetails?.plan;
      const price = planId !== undefined ? planById.get(planId)?.pricePerHour : undefined;
      const region = service.serviceDetails?.region;
      const extra = {
        ...(region !== undefined ? { region } : {}),
        ...(price !== undefined ? { pricePerHour: round4(price) } : {}),
      };
      if (service.suspended === 'suspended')
        return { provider: name, jobId: id, state: 'cancelled', detail: 'suspended', ...extra };
      const deploys = await http.request('GET', `/services/${id}/deploys`, {
        query: { limit: 1 },
        schema: DeploysResponseSchema,
        signal: o?.signal,
        notFound,
      });
      const deploy = deploys[0]?.deploy;
      return {
        provider: name,
        jobId: id,
        state: renderDeployState(deploy?.status),
        detail: deploy !== undefined ? `deploy ${deploy.id}: ${deploy.status}` : 'no deploy yet',
        ...extra,
      };
    },

    async cancel(jobId, o) {
      const id = checkJobId(name, jobId, JOB_ID);
      const notFound = `service ${id} not found`;
      if (opts.cancelMode === 'delete') {
        await http.request('DELETE', `/services/${id}`, { schema: z.unknown(), signal: o?.signal, notFound });
        return { provider: name, jobId: id, state: 'cancelled', detail: 'deleted' };
      }
      await http.request('POST', `/services/${id}/suspend`, {
        schema: z.unknown(),
        signal: o?.signal,
        notFound,
      });
      return { provider: name, jobId: id, state: 'cancelled', detail: 'suspended' };
    },
  };
}
