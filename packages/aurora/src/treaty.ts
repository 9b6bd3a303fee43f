// Treaties: what VaultMesh agreed with a provider (YAML or JSON files): SLO targets, price caps and allowed regions.
// The router drops offers a treaty forbids and scores providers by how well they keep their treaty; the canary SLO
// report (slo-report.ts) measures a treaty's KPIs.
import { parseConfigText } from '@vaultmesh/control/config-text';
import { z } from 'zod';
import { AuroraError } from './errors.ts';

/** The KPIs a treaty can set, with the issue's defaults. */
export const SloTargetsSchema = z
  .object({
    /** p95 over windows of placed / requested placements. */
    fillRateP95: z.number().min(0).max(1).default(0.8),
    /** p95 of the provider's round-trip (request → answer), ms. */
    rttP95Ms: z.number().positive().default(350),
    /** Share of decisions that have a receipt on the ledger. */
    provenanceCoverage: z.number().min(0).max(1).default(0.95),
    /** p99 of the policy decision latency, ms. */
    policyLatencyP99Ms: z.number().positive().default(25),
  })
  .strict();

export const TreatySchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a DNS label'),
    provider: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/),
    slo: SloTargetsSchema.default({}),
    /** No offer above this price per hour (per whole offer) is used. */
    priceCapPerHour: z.number().positive().optional(),
    /** Only offers in these regions are used (absent: any region policy allows). */
    allowedRegions: z.array(z.string().min(1).max(64)).max(200).optional(),
  })
  .strict();
export type Treaty = z.infer<typeof TreatySchema>;

/** Parses one treaty or a list of treaties from YAML or JSON text; INVALID_ARGUMENT naming each problem. */
export function parseTreaties(text: string, what = 'treaty file'): Treaty[] {
  let value: unknown;
  try {
    value = parseConfigText(text, what);
  } catch (err) {
    throw new AuroraError('INVALID_ARGUMENT', (err as Error).message);
  }
  const list = Array.isArray(value)
    ? value
    : typeof value === 'object' && value !== null && Array.isArray((value as { treaties?: unknown }).treaties)
      ? (value as { treaties: unknown[] }).treaties
      : [value];
  const out: Treaty[] = [];
  list.forEach((v, i) => {
    const r = TreatySchema.safeParse(v);
    if (!r.success)
      throw new AuroraError(
        'INVALID_ARGUMENT',
        `${what}: treaty ${i}: ${r.error.issues.map((x) => `${x.path.join('.') || '(root)'}: ${x.message}`).join('; ')}`,
      );
    out.push(r.data);
  });
  const ids = new Set<string>();
  const providers = new Map<string, string>();
  for (const t of out) {
    if (ids.has(t.id)) throw new AuroraError('INVALID_ARGUMENT', `${what}: treaty ${t.id} is defined twice`);
    ids.add(t.id);
    // One treaty per provider: with two, only one could apply, and which one would be a silent accident.
    const other = providers.get(t.provider);
    if (other !== undefined)
      throw new AuroraError(
        'INVALID_ARGUMENT',
        `${what}: treaties ${other} and ${t.id} both cover provider ${t.provider}; merge them into one`,
      );
    providers.set(t.provider, t.id);
  }
  return out;
}
