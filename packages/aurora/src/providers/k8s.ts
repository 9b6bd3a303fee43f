// Kubernetes adapter (GPU node pools) over the API server's REST API with plain fetch (base URL + bearer token +
// optional CA file), not the client library. Built against the documented API shape (kubernetes.io API reference:
// core/v1 Node and Pod lists, batch/v1 Job, meta/v1 DeleteOptions; NVIDIA device plugin / GPU feature discovery
// labels), not tried against a real cluster from here.
// - offers: GET /api/v1/nodes → one offer per Ready, schedulable node with allocatable `nvidia.com/gpu` minus the
//   GPUs requested by the non-terminated pods on it (one GET /api/v1/pods?fieldSelector=status.phase!=Succeeded,
//   status.phase!=Failed; skipped when the token may not list pods). An offer is sized to the workload: gpuCount =
//   the requested count, price = count × the per-GPU-hour price of the node's pool (label `poolLabel`, price from
//   `pricePerGpuHour`, else `defaultPricePerGpuHour`; nodes with no price are not offered). Model from
//   `nvidia.com/gpu.product`, memory from `nvidia.com/gpu.memory` (MiB), region from `topology.kubernetes.io/region`
//   (else the `region` option). offerId = the node's `kubernetes.io/hostname` label (else its name).
// - submit: POST /apis/batch/v1/namespaces/{ns}/jobs, a Job with backoffLimit 0, restartPolicy Never, nodeSelector
//   `kubernetes.io/hostname`, a toleration for `nvidia.com/gpu` taints and `resources.limits["nvidia.com/gpu"]`.
//   Job id = the Job's name. Price and region are kept as annotations so status can report them.
// - status: GET the Job: condition Complete → succeeded, Failed → failed, deletionTimestamp → cancelled,
//   ready pods → running, otherwise pending.
// - cancel: DELETE the Job with `propagationPolicy=Background` (its pods are garbage-collected).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { AuroraError } from '../errors.ts';
import type { ComputeProvider, ProviderJob } from '../provider.ts';
import type { Offer } from '../workload.ts';
import { checkJobId, checkOffer, offerFits, parseWorkload, round4 } from './common.ts';
import { createHttpClient, DEFAULT_TIMEOUT_MS, formatIssues, type FetchFn } from './http.ts';

export const K8S_DEFAULT_BASE_URL = 'https://kubernetes.default.svc';
export const GPU_RESOURCE = 'nvidia.com/gpu';
const LABEL_PRODUCT = 'nvidia.com/gpu.product';
const LABEL_MEMORY = 'nvidia.com/gpu.memory';
const LABEL_REGION = 'topology.kubernetes.io/region';
const LABEL_HOSTNAME = 'kubernetes.io/hostname';
const ANNOTATION_PRICE = 'aurora.vaultmesh.dev/price-per-hour';
const ANNOTATION_REGION = 'aurora.vaultmesh.dev/region';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A node hostname label value / node name (DNS subdomain). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export const K8sOptionsSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,63}$/)
      .default('k8s'),
    baseUrl: z.string().url().default(K8S_DEFAULT_BASE_URL),
    timeoutMs: z.number().int().positive().max(600_000).default(DEFAULT_TIMEOUT_MS),
    /** PEM file of the API server's CA (read once, at creation). */
    caFile: z.string().min(1).max(4096).optional(),
    namespace: z.string().regex(DNS_LABEL).default('default'),
    /** Node label naming the node pool. */
    poolLabel: z.string().min(1).max(317).default('aurora.vaultmesh.dev/pool'),
    /** Pool label value → USD per GPU-hour. */
    pricePerGpuHour: z.record(z.number().min(0).max(100_000)).default({}),
    /** Price for nodes whose pool has no entry (absent: such nodes are not offered). */
    defaultPricePerGpuHour: z.number().min(0).max(100_000).optional(),
    /** Region when nodes carry no topology.kubernetes.io/region label. */
    region: z.string().min(1).max(64).default('unknown'),
    /** Subtract GPUs requested by running pods (one extra list call). */
    countPodRequests: z.boolean().default(true),
    defaultImage: z.string().min(1).max(500).optional(),
    /** Seconds a finished Job is kept before Kubernetes deletes it. */
    ttlSecondsAfterFinished: z.number().int().min(0).max(31_536_000).default(86_400),
  })
  .strict();
export type K8sOptions = z.input<typeof K8sOptionsSchema>;

const NodeSchema = z
  .object({
    metadata: z.object({ name: z.string().max(253), labels: z.record(z.string()).nullish() }).passthrough(),
    spec: z.object({ unschedulable: z.boolean().nullish() }).passthrough().nullish(),
    status: z
      .object({
        allocatable: z.record(z.string()).nullish(),
        conditions: z.array(z.object({ type: z.string(), status: z.string() }).passthrough()).nullish(),
      })
      .passthrough()
      .nullish(),
  })
  .passthrough();
const NodeListSchema = z.object({ items: z.array(NodeSchema).max(100_000) }).passthrough();
const ResourcesSchema = z
  .object({ requests: z.record(z.string()).nullish(), limits: z.record(z.string()).nullish() })
  .passthrough()
  .nullish();
const PodListSchema = z
  .object({
    items: z
      .array(
        z
          .object({
            spec: z
              .object({
                nodeName: z.string().nullish(),
                containers: z.array(z.object({ resources: ResourcesSchema }).passthrough()).default([]),
              })
              .passthrough(),
          })
          .passthrough(),
      )
      .max(1_000_000),
  })
  .passthrough();
const JobSchema = z
  .object({
    metadata: z
      .object({
        name: z.string().max(253),
        deletionTimestamp: z.string().nullish(),
        annotations: z.record(z.string()).nullish(),
      })
      .passthrough(),
    status: z
      .object({
        active: z.number().int().nullish(),
        succeeded: z.number().int().nullish(),
        failed: z.number().int().nullish(),
        ready: z.number().int().nullish(),
        conditions: z
          .array(
            z
              .object({
                type: z.string(),
                status: z.string(),
                reason: z.string().nullish(),
                message: z.string().nullish(),
              })
              .passthrough(),
          )
          .nullish(),
      })
      .passthrough()
      .nullish(),
  })
  .passthrough();

/** Parses a GPU count quantity ("8"); extended resources are integers. NaN for anything else. */
function gpuQuantity(q: string | undefined): number {
  if (q === undefined) return 0;
  return /^[0-9]{1,6}$/.test(q) ? Number(q) : NaN;
}

/** Maps a Job onto ProviderJob.state. */
export function k8sJobState(job: z.infer<typeof JobSchema>): { state: ProviderJob['state']; detail: string } {
  const conds = job.status?.conditions ?? [];
  const isTrue = (type: string) => conds.find((c) => c.type === type && c.status === 'True');
  const failed = isTrue('Failed');
  if (failed)
    return { state: 'failed', detail: `${failed.reason ?? 'Failed'}: ${failed.message ?? ''}`.slice(0, 500) };
  if (isTrue('Complete') || (job.status?.succeeded ?? 0) > 0)
    return { state: 'succeeded', detail: 'complete' };
  if (job.metadata.deletionTimestamp) return { state: 'cancelled', detail: 'deleting' };
  if (isTrue('Suspended')) return { state: 'cancelled', detail: 'suspended' };
  if ((job.status?.ready ?? 0) > 0) return { state: 'running', detail: 'pod ready' };
  if ((job.status?.active ?? 0) > 0) return { state: 'pending', detail: 'pod starting' };
  return { state: 'pending', detail: 'not scheduled yet' };
}

/**
 * A fetch over node:https that trusts `ca` (global fetch cannot take a CA without undici's Agent).
 * Only what the JSON client uses: string URL, method, headers, string body, signal.
 */
export function createCaFetch(ca: string | Buffer): FetchFn {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((v, k) => {
        headers[k] = v;
      });
      const req = httpsRequest(
        url,
        { method: init.method ?? 'GET', headers, ca, signal: init.signal ?? undefined },
        (res) => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (Array.isArray(v)) for (const x of v) h.append(k, x);
            else if (v !== undefined) h.set(k, v);
          }
          const status = res.statusCode ?? 500;
          const noBody = status === 204 || status === 304;
          if (noBody) res.resume();
          // Readable.toWeb yields a web ReadableStream; the DOM and node stream typings differ only nominally.
          const body = noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
          resolve(new Response(body, { status, headers: h }));
        },
      );
      req.on('error', reject);
      if (typeof init.body === 'string') req.write(init.body);
      req.end();
    });
}

/** Creates the Kubernetes provider; `apiKey` is the bearer token. INVALID_ARGUMENT for bad options. */
export function createK8sProvider(
  options: K8sOptions & { apiKey?: string },
  deps: { fetch?: FetchFn } = {},
): ComputeProvider {
  const { apiKey, ...rest } = options;
  const parsed = K8sOptionsSchema.safeParse(rest);
  if (!parsed.success)
    throw new AuroraError('INVALID_ARGUMENT', `k8s: invalid options: ${formatIssues(parsed.error.issues)}`);
  const opts = parsed.data;
  const name = opts.name;
  let doFetch = deps.fetch;
  if (doFetch === undefined && opts.caFile !== undefined) {
    let ca: Buffer;
    try {
      ca = readFileSync(opts.caFile);
    } catch {
      throw new AuroraError('INVALID_ARGUMENT', `${name}: cannot read caFile`);
    }
    doFetch = createCaFetch(ca);
  }
  const http = createHttpClient({
    provider: name,
    baseUrl: opts.baseUrl,
    timeoutMs: opts.timeoutMs,
    ...(apiKey !== undefined && apiKey.length > 0
      ? { auth: { header: 'authorization', value: `Bearer ${apiKey}`, secret: apiKey } }
      : {}),
    fetch: doFetch,
  });
  const ns = opts.namespace;
  const jobsPath = `/apis/batch/v1/namespaces/${ns}/jobs`;

  async function requestedGpus(signal: AbortSignal | undefined): Promise<Map<string, number>> {
    const used = new Map<string, number>();
    if (!opts.countPodRequests) return used;
    let pods: z.infer<typeof PodListSchema>;
    try {
      pods = await http.request('GET', '/api/v1/pods', {
        query: { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' },
        schema: PodListSchema,
        signal,
      });
    } catch (err) {
      // A token that may not list pods cluster-wide still gets offers (from allocatable alone).
      const status =
        err instanceof AuroraError ? (err.details as { status?: number } | undefined)?.status : undefined;
      if (status === 403) return used;
      throw err;
    }
    for (const pod of pods.items) {
      const node = pod.spec.nodeName;
      if (!node) continue;
      let n = 0;
      for (const c of pod.spec.containers) {
        const q = c.resources?.requests?.[GPU_RESOURCE] ?? c.resources?.limits?.[GPU_RESOURCE];
        const v = gpuQuantity(q);
        if (Number.isFinite(v)) n += v;
      }
      if (n > 0) used.set(node, (used.get(node) ?? 0) + n);
    }
    return used;
  }

  return {
    name,
    async listOffers(workload, o) {
      const w = parseWorkload(name, workload);
      const nodes = await http.request('GET', '/api/v1/nodes', { schema: NodeListSchema, signal: o?.signal });
      const used = await requestedGpus(o?.signal);
      const offers: Offer[] = [];
      for (const node of nodes.items) {
        const labels = node.metadata.labels ?? {};
        const ready =
          node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
        if (!ready || node.spec?.unschedulable === true) continue;
        const free =
          gpuQuantity(node.status?.allocatable?.[GPU_RESOURCE]) - (used.get(node.metadata.name) ?? 0);
        if (!Number.isFinite(free) || free < w.gpu.count) continue;
        const pool = labels[opts.poolLabel];
        const perGpu =
          (pool !== undefined ? opts.pricePerGpuHour[pool] : undefined) ?? opts.defaultPricePerGpuHour;
        if (perGpu === undefined) continue;
        const hostname = labels[LABEL_HOSTNAME] ?? node.metadata.name;
        if (!DNS_SUBDOMAIN.test(hostname)) continue;
        const memMiB = Number(labels[LABEL_MEMORY]);
        offers.push({
          provider: name,
          offerId: hostname,
          gpuModel: labels[LABEL_PRODUCT] ?? 'unknown',
          gpuCount: w.gpu.count,
          memoryGiB: Number.isFinite(memMiB) ? round4(memMiB / 1024) : 0,
          pricePerHour: round4(perGpu * w.gpu.count),
          region: labels[LABEL_REGION] ?? opts.region,
        });
      }
      return offers.filter((offer) => offerFits(offer, w));
    },

    async submit(workload, offer, o) {
      const w = parseWorkload(name, workload);
      const hostname = checkOffer(name, offer, DNS_SUBDOMAIN);
      const image = w.image ?? opts.defaultImage;
      if (image === undefined)
        throw new AuroraError('INVALID_ARGUMENT', `${name}: the workload names no image`);
      const jobName = `aurora-${w.id.slice(0, 49).replace(/-+$/, '')}-${randomBytes(3).toString('hex').slice(0, 5)}`;
      const labels = {
        'app.kubernetes.io/managed-by': 'aurora',
        'aurora.vaultmesh.dev/workload': w.id,
      };
      const container: Record<string, unknown> = {
        name: 'workload',
        image,
        resources: { limits: { [GPU_RESOURCE]: String(w.gpu.count) } },
      };
      if (w.command !== undefined && w.command.length > 0) container.command = w.command;
      const job = {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: {
          name: jobName,
          namespace: ns,
          labels,
          annotations: { [ANNOTATION_PRICE]: String(offer.pricePerHour), [ANNOTATION_REGION]: offer.region },
        },
        spec: {
          backoffLimit: 0,
          ttlSecondsAfterFinished: opts.ttlSecondsAfterFinished,
          template: {
            metadata: { labels },
            spec: {
              restartPolicy: 'Never',
              nodeSelector: { [LABEL_HOSTNAME]: hostname },
              tolerations: [{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }],
              containers: [container],
            },
          },
        },
      };
      const created = await http.request('POST', jobsPath, {
        body: job,
        schema: JobSchema,
        signal: o?.signal,
      });
      return {
        provider: name,
        jobId: created.metadata.name,
        state: 'pending',
        region: offer.region,
        pricePerHour: offer.pricePerHour,
      };
    },

    async status(jobId, o) {
      const id = checkJobId(name, jobId, DNS_LABEL);
      const job = await http.request('GET', `${jobsPath}/${id}`, {
        schema: JobSchema,
        signal: o?.signal,
        notFound: `job ${id} not found in namespace ${ns}`,
      });
      const { state, detail } = k8sJobState(job);
      const ann = job.metadata.annotations ?? {};
      const price = Number(ann[ANNOTATION_PRICE]);
      const region = ann[ANNOTATION_REGION];
      return {
        provider: name,
        jobId: id,
        state,
        detail,
        ...(region !== undefined ? { region } : {}),
        ...(ann[ANNOTATION_PRICE] !== undefined && Number.isFinite(price) ? { pricePerHour: price } : {}),
      };
    },

    async cancel(jobId, o) {
      const id = checkJobId(name, jobId, DNS_LABEL);
      await http.request('DELETE', `${jobsPath}/${id}`, {
        query: { propagationPolicy: 'Background' },
        schema: z.unknown(),
        signal: o?.signal,
        notFound: `job ${id} not found in namespace ${ns}`,
      });
      return { provider: name, jobId: id, state: 'cancelled', detail: 'job deleted' };
    },
  };
}
