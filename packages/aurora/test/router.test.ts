// The router over in-test ComputeProvider doubles (the port; the real adapters have their own tests against fake
// provider APIs), the real Cedar engine with the shipped default policies, a real Log (memory storage, Ed25519) for
// receipts and the memory ControlStore: filtering, policy per provider/region, scoring, failover with a blocked
// list, receipts, online learning and its replay.
import { generateNodeKey, nodeHasher } from '@vaultmesh/attest';
import { createMemoryControlStore, type Principal } from '@vaultmesh/control';
import { decodeReceipt, type Receipt } from '@vaultmesh/ledger';
import { Log, createMemoryStorage } from '@vaultmesh/log';
import { createPolicyEngine, readDefaultPolicies } from '@vaultmesh/policy';
import { describe, expect, it } from 'vitest';
import {
  AURORA_OUTCOMES,
  AuroraError,
  createRouter,
  type ComputeProvider,
  type Offer,
  type ProviderJob,
  type RouterOptions,
} from '../src/index.ts';

const engine = createPolicyEngine({ policies: readDefaultPolicies() });
const key = generateNodeKey('aurora.test/router');
const operator: Principal = { type: 'person', id: 'op@acme', role: 'operator', tenant: 'acme' };
const agent: Principal = { type: 'agent', id: 'bot@acme', role: 'agent', tenant: 'acme' };

interface FakeOpts {
  offers: Omit<Offer, 'provider'>[];
  /** submit fails when this returns true (count = submits so far). */
  fail?: (n: number) => boolean;
  listDelayMs?: number;
}

function fakeProvider(
  name: string,
  o: FakeOpts,
): ComputeProvider & { submits: number; cancels: string[]; jobs: Map<string, ProviderJob> } {
  const jobs = new Map<string, ProviderJob>();
  const p = {
    name,
    jobs,
    submits: 0,
    cancels: [] as string[],
    async listOffers(_w: unknown, opts?: { signal?: AbortSignal }) {
      if (o.listDelayMs)
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, o.listDelayMs);
          opts?.signal?.addEventListener('abort', () => {
            clearTimeout(t);
            reject(opts.signal!.reason as Error);
          });
        });
      return o.offers.map((x) => ({ ...x, provider: name }));
    },
    async submit(_w: unknown, offer: Offer) {
      p.submits++;
      if (o.fail?.(p.submits)) throw new AuroraError('PROVIDER_FAILED', `${name} has no capacity`);
      const job: ProviderJob = {
        provider: name,
        jobId: `${name}-${p.submits}`,
        state: 'running',
        region: offer.region,
      };
      jobs.set(job.jobId, job);
      return job;
    },
    async status(id: string) {
      const j = jobs.get(id);
      if (!j) throw new AuroraError('NOT_FOUND', id);
      return j;
    },
    async cancel(id: string) {
      p.cancels.push(id);
      const j = { ...jobs.get(id)!, state: 'cancelled' as const };
      jobs.set(id, j);
      return j;
    },
  };
  return p;
}

const offer = (
  id: string,
  region: string,
  price: number,
  extra: Partial<Offer> = {},
): Omit<Offer, 'provider'> => ({
  offerId: id,
  gpuModel: 'H100',
  gpuCount: 8,
  memoryGiB: 80,
  pricePerHour: price,
  region,
  reliability: 0.95,
  latencyMs: 2000,
  ...extra,
});

async function setup(providers: ComputeProvider[], extra: Partial<RouterOptions> = {}) {
  const storage = createMemoryStorage();
  const log = await Log.open({
    storage,
    origin: 'aurora.test/router',
    signer: key.signer,
    hasher: nodeHasher,
  });
  const store = createMemoryControlStore();
  const router = createRouter({ providers, decider: engine, receipts: log, store, ...extra });
  await router.init();
  const receipts = async (): Promise<Receipt[]> => {
    const entries = await storage.getEntries(0, await storage.size());
    return entries.map((e): Receipt => decodeReceipt(e.bytes));
  };
  return { router, log, store, storage, receipts };
}

const workload = (extra: Record<string, unknown> = {}) => ({
  id: 'train-llm',
  tenant: 'acme',
  gpu: { model: 'H100', count: 4 },
  memoryGiB: 40,
  hours: 2,
  ...extra,
});

describe('Aurora router', () => {
  it('recommends: hard constraints and treaties filter, policy per location, best first, one route receipt', async () => {
    const vast = fakeProvider('vast', {
      offers: [
        offer('v1', 'eu-west-1', 20),
        offer('v2', 'us-east-1', 12),
        offer('v3', 'eu-west-1', 25, { gpuCount: 2 }), // too few GPUs
        offer('v4', 'eu-west-1', 90), // above the workload's cap
      ],
    });
    const akash = fakeProvider('akash', { offers: [offer('a1', 'eu-central-1', 18, { reliability: 0.7 })] });
    const { router, receipts } = await setup([vast, akash], {
      treaties: [{ id: 'akash-eu', provider: 'akash', slo: {} as never, allowedRegions: ['eu-central-1'] }],
    });
    const d = await router.recommend(workload({ maxPricePerHour: 50 }), {
      principal: operator,
      residency: 'eu',
    });
    expect(d.offers).toEqual({ seen: 5, eligible: 3, allowed: 2 });
    expect(d.denied).toEqual([{ location: 'vast/us-east-1', reasons: ['residency-eu'] }]);
    expect(d.candidates.map((c) => c.offerId)).toEqual(['v1', 'a1']); // more reliable beats slightly cheaper
    expect(d.candidates[0]!.score).toBeGreaterThan(d.candidates[1]!.score);
    expect(Object.values(d.dropped).reduce((a, b) => a + b, 0)).toBe(2);
    expect(vast.submits + akash.submits).toBe(0);
    const [r] = await receipts();
    expect(r).toMatchObject({ kind: 'route', tenant: 'acme', actor: 'op@acme' });
    expect(r!.body).toMatchObject({
      jobId: 'train-llm',
      provider: 'vast',
      phase: 'recommend',
      policySetHash: engine.policySetHash,
    });
    expect((r!.body.candidates as unknown[]).length).toBe(2);
    expect(r!.body.reason).toMatch(/vast\/eu-west-1 offer v1 scores best/);
  });

  it('bad input changes nothing: an invalid workload is INVALID_ARGUMENT with the field, and no receipt', async () => {
    const { router, storage } = await setup([
      fakeProvider('vast', { offers: [offer('v1', 'eu-west-1', 1)] }),
    ]);
    await expect(
      router.recommend({ ...workload(), gpu: { count: 0 } }, { principal: operator }),
    ).rejects.toThrow(/gpu\.count/);
    await expect(router.place({ ...workload(), extra: 1 }, { principal: operator })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(router.place(workload({ tenant: 'globex' }), { principal: agent })).rejects.toMatchObject({
      code: 'POLICY_DENIED',
    });
    expect(await storage.size()).toBe(0);
    expect(await router.listJobs()).toEqual([]);
  });

  it('a deadline drops offers that would start after it; a passed deadline leaves no offer', async () => {
    const clock = Date.parse('2026-12-01T12:00:00Z');
    const p = fakeProvider('vast', {
      offers: [
        offer('fast', 'eu-west-1', 20, { latencyMs: 1000 }),
        offer('slow', 'eu-west-1', 10, { latencyMs: 120_000 }),
      ],
    });
    const { router } = await setup([p], { now: () => clock });
    const soon = await router.recommend(workload({ deadline: '2026-12-01T12:01:00Z' }), {
      principal: operator,
    });
    expect(soon.candidates.map((c) => c.offerId)).toEqual(['fast']);
    expect(Object.keys(soon.dropped)).toEqual(['would start after the deadline N-N-NTN:N:NZ']);
    const late = await router.recommend(workload({ deadline: '2026-12-01T11:00:00Z' }), {
      principal: operator,
    });
    expect(late.candidates).toEqual([]);
  });

  it('a viewer is denied every location: no candidate, and the receipt says why', async () => {
    const { router } = await setup([fakeProvider('vast', { offers: [offer('v1', 'eu-west-1', 1)] })]);
    const viewer: Principal = { type: 'person', id: 'v@acme', role: 'viewer', tenant: 'acme' };
    const d = await router.recommend(workload(), { principal: viewer });
    expect(d.candidates).toEqual([]);
    expect(d.denied).toEqual([{ location: 'vast/eu-west-1', reasons: ['no policy permits it'] }]);
    expect(d.reason).toMatch(/no offer: 1 seen, 1 meet the workload and treaties, 0 allowed by policy/);
  });

  it('places with failover: a failed location is blocked, the next candidate runs, receipts chain', async () => {
    const vast = fakeProvider('vast', { offers: [offer('v1', 'eu-west-1', 10)], fail: () => true });
    const akash = fakeProvider('akash', { offers: [offer('a1', 'eu-central-1', 14)] });
    const { router, receipts, store } = await setup([vast, akash]);
    const job = await router.place(workload(), { principal: agent });
    expect(job).toMatchObject({
      state: 'running',
      provider: 'akash',
      region: 'eu-central-1',
      providerJobId: 'akash-1',
    });
    expect(job.attempts.map((a) => [a.provider, a.ok])).toEqual([
      ['vast', false],
      ['akash', true],
    ]);
    expect(job.attempts[0]!.error).toMatch(/PROVIDER_FAILED: vast has no capacity/);
    const rs = await receipts();
    expect(rs.map((r) => r.body.phase)).toEqual(['attempt', 'attempt', 'placed']);
    expect(rs[1]!.body.blocked).toEqual(['vast/eu-west-1']);
    expect(rs[1]!.body.reason).toMatch(/failover \(attempt 2\) after vast\/eu-west-1 failed/);
    expect(rs[1]!.parents?.[0]?.index).toBe(0);
    expect(rs[2]!.parents?.[0]?.index).toBe(1);
    // The failure is learned at once; the accepted (running) job only when it ends.
    expect((await store.list(AURORA_OUTCOMES)).length).toBe(1);
    expect(router.model().updates).toBe(1);
    expect((await router.getJob(job.id, { refresh: true }))?.state).toBe('running');
    expect(router.model().updates).toBe(1);
    const cancelled = await router.cancel(job.id, { principal: operator });
    expect(cancelled.state).toBe('cancelled');
    expect(akash.cancels).toEqual(['akash-1']);
    expect((await receipts()).at(-1)!.body.phase).toBe('cancelled');
  });

  it('a malformed offer (NaN price) is dropped with its reason; the decision and the placement go on', async () => {
    const vast = fakeProvider('vast', {
      offers: [offer('nan', 'eu-west-1', Number.NaN), offer('ok', 'eu-west-1', 12)],
    });
    const { router, store } = await setup([vast]);
    const job = await router.place(workload(), { principal: agent });
    expect(job).toMatchObject({ state: 'running', offerId: 'ok' });
    const all = (await store.list<{ state: string }>('aurora-jobs')).map((d) => d.doc.state);
    expect(all).not.toContain('placing');
  });

  it('the stricter residency applies: a caller naming another residency cannot loosen the workload’s', async () => {
    const vast = fakeProvider('vast', {
      offers: [offer('us', 'us-east-1', 10), offer('eu', 'eu-west-1', 20)],
    });
    const { router } = await setup([vast]);
    const d = await router.recommend(workload({ residency: 'eu' }), { principal: operator, residency: 'us' });
    // eu-west-1 fails the caller's "us", us-east-1 fails the workload's "eu": nothing may be placed.
    expect(d.candidates).toEqual([]);
    expect(d.denied.map((x) => x.location).sort()).toEqual(['vast/eu-west-1', 'vast/us-east-1']);
    const same = await router.recommend(workload({ residency: 'eu' }), {
      principal: operator,
      residency: 'eu',
    });
    expect(same.candidates.map((c) => c.offerId)).toEqual(['eu']);
  });

  it('learns from an accepted job when it ends: a running job that then fails is a failure, not a success', async () => {
    const akash = fakeProvider('akash', { offers: [offer('a1', 'eu-central-1', 14)] });
    const { router, store } = await setup([akash]);
    const failing = await router.place(workload(), { principal: agent });
    const ok = await router.place(workload(), { principal: agent });
    expect(router.model().updates).toBe(0);
    akash.jobs.set(failing.providerJobId!, { ...akash.jobs.get(failing.providerJobId!)!, state: 'failed' });
    akash.jobs.set(ok.providerJobId!, { ...akash.jobs.get(ok.providerJobId!)!, state: 'succeeded' });
    await router.getJob(failing.id, { refresh: true });
    await router.getJob(ok.id, { refresh: true });
    const outcomes = (await store.list<{ jobId: string; success: boolean }>(AURORA_OUTCOMES)).map(
      (d) => d.doc,
    );
    expect(outcomes.map((o) => [o.jobId, o.success])).toEqual([
      [failing.id, false],
      [ok.id, true],
    ]);
    expect(router.model().updates).toBe(2);
    // Learned once: a later refresh does not count it again.
    await router.getJob(ok.id, { refresh: true });
    expect(router.model().updates).toBe(2);
  });

  it('gives up after maxAttempts and records the job as unplaced; a slow provider is skipped, not waited for', async () => {
    const providers = ['p1', 'p2', 'p3', 'p4'].map((n, i) =>
      fakeProvider(n, { offers: [offer(`${n}-o`, 'eu-west-1', 10 + i)], fail: () => true }),
    );
    const slow = fakeProvider('slow', { offers: [offer('s', 'eu-west-1', 1)], listDelayMs: 5000 });
    const { router, receipts } = await setup([...providers, slow], {
      maxAttempts: 3,
      providerTimeoutMs: 200,
    });
    const t0 = Date.now();
    const job = await router.place(workload(), { principal: operator });
    // Returned before the slow provider's listing (5 s) could have come: skipped, not waited for.
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(job.state).toBe('unplaced');
    expect(job.attempts).toHaveLength(3);
    expect(job.detail).toMatch(/every attempt failed \(3\)/);
    const rs = await receipts();
    expect(rs.at(-1)!.body).toMatchObject({ phase: 'unplaced', provider: 'none' });
    expect(rs[0]!.body.providerErrors).toEqual([
      { provider: 'slow', error: expect.stringMatching(/PROVIDER_TIMEOUT/) },
    ]);
    expect(providers[3]!.submits).toBe(0);
  });

  it('learns online: a provider that looks best by the rules but keeps failing loses to one that delivers', async () => {
    // "cheap" advertises the same reliability and is cheaper, but fails 80% of the time.
    const cheap = fakeProvider('cheap', { offers: [offer('c', 'eu-west-1', 8)], fail: (n) => n % 5 !== 0 });
    const solid = fakeProvider('solid', { offers: [offer('s', 'eu-west-1', 11)] });
    const { router, store } = await setup([cheap, solid], { maxAttempts: 2 });
    const firstChoice: string[] = [];
    for (let i = 0; i < 40; i++) {
      const job = await router.place(workload({ id: `w-${i}` }), { principal: operator });
      expect(job.state).toBe('running');
      firstChoice.push(job.attempts[0]!.provider);
    }
    expect(firstChoice[0]).toBe('cheap');
    const late = firstChoice.slice(-10);
    expect(late.filter((p) => p === 'solid').length).toBeGreaterThanOrEqual(8);
    // The online model is exactly the replay of the stored outcomes: a new router over the store agrees.
    const again = createRouter({
      providers: [cheap, solid],
      decider: engine,
      receipts: { append: async () => ({ index: 0, leafHash: '' }) },
      store,
    });
    await again.init();
    expect(again.model().hash()).toBe(router.model().hash());
  });
});
