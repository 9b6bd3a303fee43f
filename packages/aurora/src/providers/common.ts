// Helpers every provider adapter shares: input validation, the workload → offer filter, GPU model matching.
import { AuroraError } from '../errors.ts';
import type { Offer, Workload } from '../workload.ts';
import { WorkloadSchema } from '../workload.ts';
import { formatIssues } from './http.ts';

/** GPU memory tolerance: an "80 GB" card reports ~79.6 GiB, so a 3% shortfall still matches a request. */
const MEMORY_TOLERANCE = 0.97;

/** Parses a workload (INVALID_ARGUMENT naming the fields); adapters never trust their caller's object. */
export function parseWorkload(provider: string, workload: unknown): Workload {
  const parsed = WorkloadSchema.safeParse(workload);
  if (!parsed.success)
    throw new AuroraError(
      'INVALID_ARGUMENT',
      `${provider}: invalid workload: ${formatIssues(parsed.error.issues)}`,
    );
  return parsed.data;
}

/** Checks that an offer belongs to this provider and its id has the adapter's format; returns the id. */
export function checkOffer(provider: string, offer: Offer, idPattern: RegExp): string {
  if (offer === null || typeof offer !== 'object' || offer.provider !== provider)
    throw new AuroraError('INVALID_ARGUMENT', `${provider}: the offer is not from this provider`);
  if (typeof offer.offerId !== 'string' || offer.offerId.length > 300 || !idPattern.test(offer.offerId))
    throw new AuroraError('INVALID_ARGUMENT', `${provider}: malformed offer id`);
  return offer.offerId;
}

/** Checks a job id against the adapter's format (it goes into URL paths); returns it. */
export function checkJobId(provider: string, jobId: string, idPattern: RegExp): string {
  if (typeof jobId !== 'string' || jobId.length > 300 || !idPattern.test(jobId))
    throw new AuroraError('INVALID_ARGUMENT', `${provider}: malformed job id`);
  return jobId;
}

/** PROVIDER_TIMEOUT when the caller's signal is already aborted (the port's convention for aborts). */
export function throwIfAborted(provider: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted === true)
    throw new AuroraError('PROVIDER_TIMEOUT', `${provider}: aborted by the caller`, { reason: 'aborted' });
}

/** Lower-case alphanumerics without vendor words: "NVIDIA GeForce RTX 4090" → "rtx4090". */
export function normalizeGpuModel(model: string): string {
  return model
    .toLowerCase()
    .replace(/nvidia|geforce|tesla/g, '')
    .replace(/[^a-z0-9]/g, '');
}

/**
 * Whether a provider's GPU model satisfies a requested one: the request's letters and digits occur in order in the
 * model (separators between them ignored) and are not followed by a digit ("H100" matches "NVIDIA-H100-80GB-HBM3"
 * and "H100 SXM", "RTX 4090" matches "GeForce RTX4090"; "A10" does not match "A100").
 */
export function gpuModelMatches(offered: string, wanted: string): boolean {
  const w = normalizeGpuModel(wanted);
  if (w.length === 0) return true;
  const o = offered.toLowerCase().replace(/nvidia|geforce|tesla/g, ' ');
  const pattern = new RegExp(`${w.split('').join('[^a-z0-9]*')}(?![0-9])`);
  return pattern.test(o);
}

/** Whether an offer can run the workload: GPU count, model, memory per GPU, price cap and allowed regions. */
export function offerFits(offer: Offer, workload: Workload): boolean {
  if (offer.gpuCount < workload.gpu.count) return false;
  if (workload.gpu.model !== undefined && !gpuModelMatches(offer.gpuModel, workload.gpu.model)) return false;
  if (workload.memoryGiB !== undefined && offer.memoryGiB < workload.memoryGiB * MEMORY_TOLERANCE)
    return false;
  if (workload.maxPricePerHour !== undefined && offer.pricePerHour > workload.maxPricePerHour) return false;
  if (workload.regions !== undefined && !workload.regions.includes(offer.region)) return false;
  return true;
}

/** Rounds to 4 decimals (prices, GiB) so offers compare and print cleanly. */
export function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
