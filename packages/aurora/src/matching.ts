// What an offer must be to be considered, and when it fits a workload: one set of rules, used by the router's
// filter and by every adapter (a substring match once placed "A10" on A100 and "L4" on L40S; the filter and the
// adapters had different memory tolerances). Pure.
import type { Offer, Workload } from './workload.ts';

/** GPU memory tolerance: an "80 GB" card reports ~79.6 GiB, so a 3% shortfall still matches a request. */
export const MEMORY_TOLERANCE = 0.97;

/**
 * The start latency assumed for an offer that reports none, when a workload has a deadline: unknown is not zero,
 * so an offer that says nothing about when it starts cannot take a deadline it might miss.
 */
export const UNKNOWN_START_LATENCY_MS = 10 * 60_000;

/** Lower-case alphanumerics without vendor words: "NVIDIA GeForce RTX 4090" → "rtx4090". */
export function normalizeGpuModel(model: string): string {
  return model
    .toLowerCase()
    .replace(/nvidia|geforce|tesla/g, '')
    .replace(/[^a-z0-9]/g, '');
}

/**
 * Whether a provider's GPU model satisfies a requested one: the request's letters and digits occur in order in the
 * model (separators between them ignored) and are not followed by a letter or digit that makes another model
 * ("H100" matches "NVIDIA-H100-80GB-HBM3" and "H100 SXM", "RTX 4090" matches "GeForce RTX4090"; "A10" does not
 * match "A100", and "L4" does not match "L40S").
 */
export function gpuModelMatches(offered: string, wanted: string): boolean {
  const w = normalizeGpuModel(wanted);
  if (w.length === 0) return true;
  const o = offered.toLowerCase().replace(/nvidia|geforce|tesla/g, ' ');
  const pattern = new RegExp(`(?<![a-z0-9])${w.split('').join('[^a-z0-9]*')}(?![0-9])`);
  return pattern.test(o);
}

/** Whether an offer's memory per GPU covers the request, within MEMORY_TOLERANCE. */
export function memoryFits(offeredGiB: number, wantedGiB: number | undefined): boolean {
  return wantedGiB === undefined || offeredGiB >= wantedGiB * MEMORY_TOLERANCE;
}

/** The start latency to count against a deadline: the offer's own, or UNKNOWN_START_LATENCY_MS. */
export function startLatencyMs(offer: Offer): number {
  return offer.latencyMs ?? UNKNOWN_START_LATENCY_MS;
}

const finiteAtLeast0 = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * Why an offer a provider returned cannot be considered at all (NaN or infinite price or latency, a negative or
 * fractional GPU count ...), or undefined when it is well formed. Such an offer is dropped with this reason; it
 * never reaches scoring.
 */
export function malformedOffer(o: Offer): string | undefined {
  if (typeof o.provider !== 'string' || o.provider === '') return 'no provider';
  if (typeof o.offerId !== 'string' || o.offerId === '') return 'no offer id';
  if (typeof o.gpuModel !== 'string') return 'no GPU model';
  if (typeof o.region !== 'string' || o.region === '') return 'no region';
  if (!Number.isInteger(o.gpuCount) || o.gpuCount < 0)
    return `GPU count ${String(o.gpuCount)} is not a count`;
  if (!finiteAtLeast0(o.memoryGiB)) return `memory ${String(o.memoryGiB)} GiB is not a finite amount`;
  if (!finiteAtLeast0(o.pricePerHour)) return `price ${String(o.pricePerHour)}/h is not a finite price`;
  if (o.latencyMs !== undefined && !finiteAtLeast0(o.latencyMs))
    return `start latency ${String(o.latencyMs)} ms is not a finite time`;
  if (o.reliability !== undefined && !(finiteAtLeast0(o.reliability) && o.reliability <= 1))
    return `reliability ${String(o.reliability)} is not within 0..1`;
  return undefined;
}

/** Whether an offer can run the workload: GPU count, model, memory per GPU, price cap and allowed regions. */
export function offerFits(offer: Offer, workload: Workload): boolean {
  if (offer.gpuCount < workload.gpu.count) return false;
  if (workload.gpu.model !== undefined && !gpuModelMatches(offer.gpuModel, workload.gpu.model)) return false;
  if (!memoryFits(offer.memoryGiB, workload.memoryGiB)) return false;
  if (workload.maxPricePerHour !== undefined && offer.pricePerHour > workload.maxPricePerHour) return false;
  if (workload.regions !== undefined && !workload.regions.includes(offer.region)) return false;
  return true;
}
