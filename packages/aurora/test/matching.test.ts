// Placement safety (issue 13, found with randomized workloads against the real router): one GPU-matching rule, one
// memory tolerance, unknown start latency is not zero, malformed offers are dropped with a reason.
import { describe, expect, it } from 'vitest';
import {
  gpuModelMatches,
  hardFilter,
  malformedOffer,
  memoryFits,
  offerFits,
  type Offer,
} from '../src/index.ts';

const offer = (over: Partial<Offer> = {}): Offer => ({
  provider: 'vast',
  offerId: 'o1',
  gpuModel: 'H100',
  gpuCount: 8,
  memoryGiB: 80,
  pricePerHour: 10,
  region: 'eu-west-1',
  ...over,
});
const workload = (over: Record<string, unknown> = {}) =>
  ({
    id: 'w',
    tenant: 'acme',
    gpu: { model: 'H100', count: 1 },
    hours: 1,
    priority: 'normal',
    ...over,
  }) as never;

describe('GPU model matching (one rule for the filter and every adapter)', () => {
  it.each([
    ['A10', 'NVIDIA A100 80GB', false],
    ['A10', 'NVIDIA A10', true],
    ['L4', 'NVIDIA L40S', false],
    ['L4', 'NVIDIA L4', true],
    ['H100', 'NVIDIA-H100-80GB-HBM3', true],
    ['H100', 'H100 SXM', true],
    ['RTX 4090', 'GeForce RTX4090', true],
    ['A100', 'A100X', true],
    ['T4', 'RTX 4090', false],
  ])('%s on %s: %s', (wanted, offered, fits) => {
    expect(gpuModelMatches(offered, wanted)).toBe(fits);
  });

  it('the router filter refuses A100 for an A10 request and L40S for an L4 request', () => {
    for (const [want, have] of [
      ['A10', 'A100'],
      ['L4', 'L40S'],
    ] as const) {
      const f = hardFilter([offer({ gpuModel: have })], workload({ gpu: { model: want, count: 1 } }));
      expect(f.kept).toEqual([]);
      expect(f.dropped[0]!.reason).toBe(`GPU ${have} is not ${want}`);
    }
  });
});

describe('memory, latency and malformed offers', () => {
  it('an 80 GB card reported as 79.65 GiB fits memoryGiB 80, in the filter and in the adapters', () => {
    expect(memoryFits(79.65, 80)).toBe(true);
    expect(memoryFits(70, 80)).toBe(false);
    const o = offer({ memoryGiB: 79.65 });
    expect(hardFilter([o], workload({ memoryGiB: 80 })).kept).toHaveLength(1);
    expect(offerFits(o, workload({ memoryGiB: 80 }))).toBe(true);
  });

  it('an offer with unknown start latency cannot take a deadline it might miss', () => {
    const now = Date.parse('2026-12-06T10:00:00Z');
    const soon = workload({ deadline: '2026-12-06T10:05:00Z' });
    const f = hardFilter([offer(), offer({ offerId: 'fast', latencyMs: 30_000 })], soon, { nowMs: now });
    expect(f.kept.map((o) => o.offerId)).toEqual(['fast']);
    expect(f.dropped[0]!.reason).toMatch(/start latency is unknown/);
    // A far deadline is met by either.
    expect(
      hardFilter([offer()], workload({ deadline: '2026-12-06T12:00:00Z' }), { nowMs: now }).kept,
    ).toHaveLength(1);
  });

  it.each([
    [{ pricePerHour: Number.NaN }, /price NaN\/h/],
    [{ pricePerHour: Number.POSITIVE_INFINITY }, /price Infinity\/h/],
    [{ latencyMs: Number.NaN }, /start latency NaN/],
    [{ gpuCount: 1.5 }, /GPU count 1.5/],
    [{ memoryGiB: -1 }, /memory -1/],
    [{ reliability: 2 }, /reliability 2/],
  ])('drops a malformed offer %o with its reason, and keeps the rest', (bad, why) => {
    const o = offer({ offerId: 'bad', ...bad });
    expect(malformedOffer(o)).toMatch(why);
    const f = hardFilter([o, offer()], workload());
    expect(f.kept.map((x) => x.offerId)).toEqual(['o1']);
    expect(f.dropped[0]!.reason).toMatch(/^malformed offer: /);
  });
});
