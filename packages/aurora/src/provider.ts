// The ComputeProvider port: one GPU provider behind the router. Adapters in src/providers/ (Vast.ai, Akash, Render,
// Kubernetes, local). Every method has a time limit (the adapter's option) and fails with AuroraError
// PROVIDER_FAILED / PROVIDER_TIMEOUT; secrets (API keys) never appear in errors.
import type { Offer, Workload } from './workload.ts';

/** A placed job as a provider reports it. */
export interface ProviderJob {
  readonly provider: string;
  /** The provider's id of the placement (instance, lease, service, pod...). */
  readonly jobId: string;
  readonly state: 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  readonly detail?: string;
  /** Where it runs, when known. */
  readonly region?: string;
  readonly pricePerHour?: number;
}

/** Port: a compute provider. */
export interface ComputeProvider {
  /** Stable provider name ("vast", "akash", "render", "k8s", "local"). */
  readonly name: string;
  /** Current offers that could run the workload (the provider's own filters applied where its API has them). */
  listOffers(workload: Workload, opts?: { signal?: AbortSignal }): Promise<Offer[]>;
  /** Places the workload on one of this provider's offers. */
  submit(workload: Workload, offer: Offer, opts?: { signal?: AbortSignal }): Promise<ProviderJob>;
  status(jobId: string, opts?: { signal?: AbortSignal }): Promise<ProviderJob>;
  cancel(jobId: string, opts?: { signal?: AbortSignal }): Promise<ProviderJob>;
}
