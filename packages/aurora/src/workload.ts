// The workload spec and the offer shape every provider adapter maps onto (the Aurora router's vocabulary).
import { z } from 'zod';

/** What a job needs: GPUs, memory, price cap, where it may run, by when, for whom, how urgent. */
export const WorkloadSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a DNS label'),
    tenant: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/),
    gpu: z
      .object({ model: z.string().min(1).max(100).optional(), count: z.number().int().min(1).max(1024) })
      .strict(),
    /** GPU memory per GPU, GiB. */
    memoryGiB: z.number().positive().max(4096).optional(),
    maxPricePerHour: z.number().positive().max(100_000).optional(),
    /** Allowed regions (provider region ids, e.g. "eu-west-1"); absent: anywhere the residency allows. */
    regions: z.array(z.string().min(1).max(64)).max(100).optional(),
    /** Data residency the job requires ("eu", "us", ...), enforced by policy. */
    residency: z
      .string()
      .regex(/^[a-z]{2,16}$/)
      .optional(),
    /** RFC 3339 deadline by which the job must be running. */
    deadline: z.string().datetime().optional(),
    priority: z.enum(['low', 'normal', 'high', 'critical']).default('normal'),
    image: z.string().min(1).max(500).optional(),
    command: z.array(z.string().max(4096)).max(256).optional(),
    /** Expected run time, hours (for cost estimates). */
    hours: z.number().positive().max(10_000).default(1),
  })
  .strict();
export type Workload = z.infer<typeof WorkloadSchema>;

/** One placement offer from a provider, normalized. */
export interface Offer {
  readonly provider: string;
  /** The provider's own offer id (what submit takes). */
  readonly offerId: string;
  readonly gpuModel: string;
  readonly gpuCount: number;
  readonly memoryGiB: number;
  readonly pricePerHour: number;
  readonly region: string;
  /** Provider-reported or measured reliability, 0..1. */
  readonly reliability?: number;
  /** Measured or estimated latency to start, ms. */
  readonly latencyMs?: number;
}
