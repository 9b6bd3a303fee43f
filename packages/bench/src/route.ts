// Aurora placement decisions (with and without the offer cache) against ranking alone.
import { openNode } from '@vaultmesh/node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile, type BenchResult } from './result.ts';

/**
 * Aurora routing decision over 1,000 offers (5 providers × 4 regions × 50 offers, in-memory adapters): the router's
 * whole decision (hard filter, one Cedar decision per provider/region, rules + LinUCB scoring, the durable `route`
 * receipt on a SQLite ledger) vs the same filtering and scoring alone, in one run, interleaved.
 */
export async function benchRoute(decisions = 400): Promise<BenchResult[]> {
  const { createControlPlane, initNode } = await import('@vaultmesh/node');
  const aurora = await import('@vaultmesh/aurora');
  const dir = mkdtempSync(join(tmpdir(), 'vm-bench-route-'));
  try {
    await initNode(join(dir, 'data'), { origin: 'bench.vaultmesh/route' });
    const node = await openNode(join(dir, 'data'));
    const control = createControlPlane(node, {});
    const regions = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2'];
    const providers = ['vast', 'akash', 'render', 'k8s', 'lambda'].map((name, pi) => {
      const offers = regions.flatMap((region, ri) =>
        Array.from({ length: 50 }, (_, i) => ({
          provider: name,
          offerId: `${name}-${ri}-${i}`,
          gpuModel: i % 3 === 0 ? 'A100' : 'H100',
          gpuCount: 1 + (i % 8),
          memoryGiB: 80,
          pricePerHour: 2 + ((pi * 7 + ri * 3 + i) % 40) * 0.5,
          region,
          reliability: 0.8 + ((i * 13) % 20) / 100,
          latencyMs: 500 + ((i * 37) % 4000),
        })),
      );
      return {
        name,
        listOffers: async () => offers,
        submit: async () => ({ provider: name, jobId: 'x', state: 'running' as const }),
        status: async () => ({ provider: name, jobId: 'x', state: 'running' as const }),
        cancel: async () => ({ provider: name, jobId: 'x', state: 'cancelled' as const }),
      };
    });
    const router = aurora.createRouter({
      providers,
      decider: control.engine,
      receipts: node.log,
      store: control.store,
    });
    await router.init();
    const principal = { type: 'agent' as const, id: 'bench-agent', role: 'agent' as const, tenant: 'acme' };
    const workload = { id: 'bench', tenant: 'acme', gpu: { count: 2 }, maxPricePerHour: 30 };
    const parsed = aurora.parseWorkload(workload);
    const all = (await Promise.all(providers.map((p) => p.listOffers()))).flat();
    if (all.length !== 1000) throw new Error(`bench expects 1000 offers, has ${all.length}`);
    const model = router.model();
    const bare = () => {
      const f = aurora.hardFilter(all, parsed, {});
      const ctx = aurora.scoringContext(f.kept, parsed, router.standings());
      return aurora.rankOffers(f.kept, ctx, { model }).slice(0, 10);
    };
    const full: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < 20; i++) {
      bare();
      await router.recommend(workload, { principal, residency: 'eu' });
    }
    for (let i = 0; i < decisions; i++) {
      let t = performance.now();
      const d = await router.recommend(workload, { principal, residency: 'eu' });
      full.push(performance.now() - t);
      if (d.offers.seen !== 1000 || d.candidates.length === 0)
        throw new Error('bench decision saw the wrong offers');
      t = performance.now();
      bare();
      base.push(performance.now() - t);
    }
    // The same decisions with every Cedar decision evaluated afresh (no 2 s decision cache).
    const uncachedRouter = aurora.createRouter({
      providers,
      decider: control.engine,
      receipts: node.log,
      store: control.store,
      policyCacheMs: 0,
    });
    const uncached: number[] = [];
    for (let i = 0; i < decisions / 4; i++) {
      const t = performance.now();
      await uncachedRouter.recommend(workload, { principal, residency: 'eu' });
      uncached.push(performance.now() - t);
    }
    await control.close();
    await node.close();
    const p95 = percentile(full, 95);
    const b95 = percentile(base, 95);
    const u95 = percentile(uncached, 95);
    return [
      {
        name: 'Aurora routing decision over 1,000 offers with policy (20 locations, 2 s decision cache) and receipt, p95 (ms)',
        value: p95,
        unit: 'ms',
        baselineName: 'the same filtering and scoring without policy and receipt, p95',
        baseline: b95,
        ratio: p95 / b95,
        target: '< 5 ms',
        pass: p95 < 5,
      },
      {
        name: 'the same decision with every Cedar decision evaluated afresh (no cache), p95 (ms)',
        value: u95,
        unit: 'ms',
        baselineName: 'the same filtering and scoring without policy and receipt, p95',
        baseline: b95,
        ratio: u95 / b95,
        target: '(report)',
        pass: true,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
