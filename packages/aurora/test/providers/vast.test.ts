import { afterEach, describe, expect, it } from 'vitest';
import { createVastProvider, vastRegion, vastState } from '../../src/providers/vast.ts';
import { WorkloadSchema, type Offer } from '../../src/workload.ts';
import { exposed, fixture, rejection, startFakeApi, type FakeApi, type FakeHandler } from './fake-api.ts';

const KEY = 'vast-key-5d41402abc4b2a76b9719d911017c592';
const workload = (over: Record<string, unknown> = {}) =>
  WorkloadSchema.parse({
    id: 'train-llm',
    tenant: 'acme',
    gpu: { model: 'H100', count: 1 },
    image: 'pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime',
    command: ['python', 'train.py', '--epochs', '3'],
    ...over,
  });

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const routes: FakeHandler = (req) => {
  if (req.method === 'POST' && req.path === '/api/v0/bundles/') return { body: fixture('vast-bundles.json') };
  if (req.method === 'PUT' && req.path === '/api/v0/asks/12345678/')
    return { body: fixture('vast-create-instance.json') };
  if (req.method === 'GET' && req.path === '/api/v0/instances/7835610/')
    return { body: fixture('vast-instance.json') };
  if (req.method === 'DELETE' && req.path === '/api/v0/instances/7835610/')
    return { body: fixture('vast-destroy-instance.json') };
  return { status: 404, body: { success: false, error: 'no_such_instance', msg: 'Instance not found' } };
};

async function provider(handler: FakeHandler = routes, extra: Record<string, unknown> = {}) {
  api = await startFakeApi(handler);
  return createVastProvider({ apiKey: KEY, baseUrl: `${api.url}/api/v0`, ...extra });
}

describe('vast provider', () => {
  it('searches offers with the bearer key and the workload filters, then maps and filters them', async () => {
    const p = await provider();
    const offers = await p.listOffers(workload({ memoryGiB: 80 }));
    const req = api?.requests[0];
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe('/api/v0/bundles/');
    expect(req?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req?.body).toMatchObject({
      verified: { eq: true },
      rentable: { eq: true },
      rented: { eq: false },
      num_gpus: { gte: 1 },
      gpu_ram: { gte: Math.floor(80 * 1024 * 0.97) },
      type: 'on-demand',
      limit: 200,
    });
    expect(offers).toEqual([
      {
        provider: 'vast',
        offerId: '12345678',
        gpuModel: 'H100 SXM',
        gpuCount: 1,
        memoryGiB: 79.6475,
        pricePerHour: 2.2346,
        region: 'us',
        reliability: 0.9971,
      },
    ]);
  });

  it('filters by count, model, price cap and region (mapped through regionMap)', async () => {
    const p = await provider(routes, { regionMap: { de: 'eu-central' } });
    const w = workload({ gpu: { model: 'RTX 4090', count: 2 }, maxPricePerHour: 1, regions: ['eu-central'] });
    const offers = await p.listOffers(w);
    expect(offers.map((o) => o.offerId)).toEqual(['22345678']);
    expect(offers[0]).toMatchObject({ gpuCount: 2, region: 'eu-central', pricePerHour: 0.6421 });
    expect(api?.requests[0]?.body).toMatchObject({ dph_total: { lte: 1 }, num_gpus: { gte: 2 } });
  });

  it('rents an offer with PUT /asks/{id}/ and returns the new contract as the job', async () => {
    const p = await provider();
    const [offer] = await p.listOffers(workload());
    const job = await p.submit(workload(), offer as Offer);
    const req = api?.requests[1];
    expect(req?.method).toBe('PUT');
    expect(req?.path).toBe('/api/v0/asks/12345678/');
    expect(req?.body).toMatchObject({
      client_id: 'me',
      image: 'pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime',
      disk: 20,
      runtype: 'args',
      args: ['python', 'train.py', '--epochs', '3'],
      label: 'aurora-train-llm',
    });
    expect(job).toEqual({
      provider: 'vast',
      jobId: '7835610',
      state: 'pending',
      region: 'us',
      pricePerHour: 2.2346,
    });
  });

  it('reports a refused rent as PROVIDER_FAILED', async () => {
    const p = await provider(() => ({ body: { success: false, msg: 'offer no longer available' } }));
    const offer: Offer = { ...baseOffer, offerId: '99' };
    const err = await rejection(p.submit(workload(), offer));
    expect(err.code).toBe('PROVIDER_FAILED');
    expect(err.message).toContain('no longer available');
  });

  it('reads status from GET /instances/{id}/ and maps actual_status', async () => {
    const p = await provider();
    const job = await p.status('7835610');
    expect(api?.requests[0]?.path).toBe('/api/v0/instances/7835610/');
    expect(job).toMatchObject({
      provider: 'vast',
      jobId: '7835610',
      state: 'running',
      region: 'us',
      pricePerHour: 2.2346,
    });
    expect(vastState(null, 'running')).toBe('pending');
    expect(vastState('loading', 'running')).toBe('pending');
    expect(vastState('exited', 'running')).toBe('failed');
    expect(vastState('offline', 'running')).toBe('failed');
    expect(vastState('stopped', 'stopped')).toBe('cancelled');
    expect(vastRegion('Sweden, SE')).toBe('se');
    expect(vastRegion('US')).toBe('us');
    expect(vastRegion(null)).toBe('unknown');
  });

  it('is NOT_FOUND for an unknown instance (404 or instances: null)', async () => {
    const p = await provider((req) =>
      req.path.includes('/111/') ? { body: { instances: null } } : routes(req),
    );
    expect((await rejection(p.status('404404'))).code).toBe('NOT_FOUND');
    expect((await rejection(p.status('111'))).code).toBe('NOT_FOUND');
  });

  it('cancels by destroying the instance', async () => {
    const p = await provider();
    const job = await p.cancel('7835610');
    expect(api?.requests[0]).toMatchObject({ method: 'DELETE', path: '/api/v0/instances/7835610/' });
    expect(job).toMatchObject({ jobId: '7835610', state: 'cancelled' });
  });

  it('maps 401, 500, a malformed body and a timeout to provider errors without the key', async () => {
    const cases: [FakeHandler, string, string][] = [
      [
        () => ({ status: 401, body: { success: false, msg: `bad key ${KEY}` } }),
        'PROVIDER_FAILED',
        'HTTP 401',
      ],
      [() => ({ status: 500, raw: 'Internal Server Error' }), 'PROVIDER_FAILED', 'HTTP 500'],
      [
        () => ({ body: { offers: [{ id: 1, gpu_name: 'x', num_gpus: 1, gpu_ram: 1, dph_total: '1' }] } }),
        'PROVIDER_FAILED',
        'offers.0.dph_total',
      ],
      [() => ({ body: { offers: [] }, delayMs: 1500 }), 'PROVIDER_TIMEOUT', 'timed out'],
    ];
    for (const [handler, code, text] of cases) {
      const p = await provider(handler, { timeoutMs: code === 'PROVIDER_TIMEOUT' ? 150 : 5000 });
      const err = await rejection(p.listOffers(workload()));
      expect(err.code).toBe(code);
      expect(err.message).toContain(text);
      expect(exposed(err)).not.toContain(KEY);
      await api?.close();
      api = undefined;
    }
  });

  it('validates inputs before any request and honours an aborted signal', async () => {
    const p = await provider();
    expect((await rejection(p.status('../admin'))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(p.submit(workload(), { ...baseOffer, provider: 'akash' }))).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect((await rejection(p.listOffers({ ...workload(), gpu: { count: 0 } }))).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect((await rejection(p.submit(workload({ image: undefined }), baseOffer))).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(api?.requests).toHaveLength(0);
    const ac = new AbortController();
    ac.abort();
    expect((await rejection(p.listOffers(workload(), { signal: ac.signal }))).code).toBe('PROVIDER_TIMEOUT');
    expect(() => createVastProvider({ apiKey: '' })).toThrow(/no API key/);
  });
});

const baseOffer: Offer = {
  provider: 'vast',
  offerId: '12345678',
  gpuModel: 'H100 SXM',
  gpuCount: 1,
  memoryGiB: 80,
  pricePerHour: 2.2,
  region: 'us',
};
