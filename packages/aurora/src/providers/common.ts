// Helpers every provider adapter shares: input validation, the workload → offer filter, GPU model matching.
import { AuroraError } from '../errors.ts';
import type { Offer, Workload } from '../workload.ts';
import { WorkloadSchema } from '../workload.ts';
import { formatIssues } from './http.ts';
// The one set of matching rules, shared with the router's filter (matching.ts).
export { gpuModelMatches, normalizeGpuModel, offerFits } from '../matching.ts';

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

/** Rounds to 4 decimals (prices, GiB) so offers compare and print cleanly. */
export function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
