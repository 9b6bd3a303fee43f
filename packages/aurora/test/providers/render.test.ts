import { afterEach, describe, expect, it } from 'vitest';
import { createRenderProvider, quoteArgv, renderDeployState } from '../../src/providers/render.ts';
import { WorkloadSchema, type Offer } from '../../src/workload.ts';
import { exposed, fixture, rejection, startFakeApi, type FakeApi, type FakeHandler } from './fake-api.ts';

const KEY = 'rnd_Zx81mQkP3vT9aB2cD4eF6gH8iJ0kL';
const SRV = 'srv-cu1a2b3c4d5e6f7g8h9i';
const plans = [
  {
    plan: 'pro_max',
    gpuModel: 'NVIDIA L4',
    gpuCount: 1,
    memoryGiB: 24,
    pricePerHour: 0.85,
    regions: ['oregon', 'frankfurt'],
  },
  {
    plan: 'pro_ultra',
    gpuModel: 'NVIDIA A100',
    gpuCount: 1,
    memoryGiB: 80,
    pricePerHour: 3.1,
    regions: ['oregon'],
    reliability: 0.999,
  },
];
const workload = (over: Record<string, unknown> = {}) =>
  WorkloadSchema.parse({
    id: 'train-llm',
    tenant: 'acme',
    gpu: { model: 'L4', count: 1 },
    image: 'docker.io/pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime',
    command: ['python', 'train.py', '--name', "it's"],
    ...over,
  });

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

function routes(
  service: unknown = fixture('render-service.json'),
  deploys: unknown = fixture('render-deploys.json'),
): FakeHandler {
  return (req) => {
    if (req.method === 'POST' && req.path === '/v1/services')
      return { status: 201, body: fixture('render-create-service.json') };
    if (req.method === 'GET' && req.path === `/v1/services/${SRV}`) return { body: service };
    if (req.method === 'GET' && req.path === `/v1/services/${SRV}/deploys`) return { body: deploys };
    if (req.method === 'POST' && req.path === `/v1/services/${SRV}/suspend`) return { status: 202, raw: '' };
    if (req.method === 'DELETE' && req.path === `/v1/services/${SRV}`) return { status: 204, raw: '' };
    return { status: 404, body: { id: 'not_found', message: 'Unable to find the requested resource.' } };
  };
}

async function provider(handler: FakeHandler = routes(), extra: Record<string, unknown> = {}) {
  api = await startFakeApi(handler);
  return createRenderProvider({
    apiKey: KEY,
    baseUrl: `${api.url}/v1`,
    ownerId: 'tea-cr0abcdefghijklmnop',
    plans,
    ...extra,
  });
}

describe('render provider', () => {
  it('offers the configured plans per region (no API call) and filters them by the workload', async () => {
    const p = await provider();
    const offers = await p.listOffers(workload());
    expect(offers.map((o) => o.offerId)).toEqual(['pro_max:oregon', 'pro_max:frankfurt']);
    expect(offers[0]).toEqual({
      provider: 'render',
      offerId: 'pro_max:oregon',
      gpuModel: 'NVIDIA L4',
      gpuCount: 1,
      memoryGiB: 24,
      pricePerHour: 0.85,
      region: 'oregon',
    });
    expect(
      await p.listOffers(workload({ gpu: { count: 1 }, memoryGiB: 40, regions: ['oregon'] })),
    ).toMatchObject([{ offerId: 'pro_ultra:oregon', reliability: 0.999 }]);
    expect(await p.listOffers(workload({ maxPricePerHour: 0.5 }))).toEqual([]);
    expect(api?.requests).toHaveLength(0);
  });

  it('submits by creating an image-backed service with plan and region', async () => {
    const p = await provider();
    const [offer] = await p.listOffers(workload({ regions: ['frankfurt'] }));
    const job = await p.submit(workload(), offer as Offer);
    const req = api?.requests[0];
    expect(req).toMatchObject({ method: 'POST', path: '/v1/services' });
    expect(req?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req?.body).toEqual({
      type: 'background_worker',
      name: 'aurora-train-llm',
      ownerId: 'tea-cr0abcdefghijklmnop',
      autoDeploy: 'no',
      image: {
        ownerId: 'tea-cr0abcdefghijklmnop',
        imagePath: 'docker.io/pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime',
      },
      serviceDetails: {
        runtime: 'image',
        plan: 'pro_max',
        region: 'frankfurt',
        numInstances: 1,
        envSpecificDetails: { dockerCommand: `python train.py --name 'it'\\''s'` },
      },
    });
    expect(job).toEqual({
      provider: 'render',
      jobId: SRV,
      state: 'pending',
      region: 'frankfurt',
      pricePerHour: 0.85,
    });
  });

  it('rejects offers that name no configured plan or region', async () => {
    const p = await provider();
    const offer: Offer = {
      provider: 'render',
      offerId: 'pro_max:singapore',
      gpuModel: 'x',
      gpuCount: 1,
      memoryGiB: 1,
      pricePerHour: 1,
      region: 'singapore',
    };
    expect((await rejection(p.submit(workload(), offer))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(p.submit(workload(), { ...offer, offerId: 'nope' }))).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(api?.requests).toHaveLength(0);
  });

  it('reads status from the service and its latest deploy', async () => {
    const p = await provider();
    expect(await p.status(SRV)).toEqual({
      provider: 'render',
      jobId: SRV,
      state: 'running',
      detail: 'deploy dep-cu1a2b3c4d5e6f7g8h9j: live',
      region: 'oregon',
      pricePerHour: 0.85,
    });
    expect(api?.requests.map((r) => `${r.method} ${r.path}?${r.query.toString()}`)).toEqual([
      `GET /v1/services/${SRV}?`,
      `GET /v1/services/${SRV}/deploys?limit=1`,
    ]);
    expect(renderDeployState('build_in_progress')).toBe('pending');
    expect(renderDeployState('build_failed')).toBe('failed');
    expect(renderDeployState('canceled')).toBe('cancelled');
    expect(renderDeployState(undefined)).toBe('pending');
  });

  it('reports a suspended service as cancelled and a failed deploy as failed', async () => {
    const suspended = { ...(fixture('render-service.json') as object), suspended: 'suspended' };
    let p = await provider(routes(suspended));
    expect(await p.status(SRV)).toMatchObject({ state: 'cancelled', detail: 'suspended' });
    expect(api?.requests).toHaveLength(1);
    await api?.close();
    p = await provider(
      routes(undefined, [{ deploy: { id: 'dep-x', status: 'update_failed' }, cursor: 'c' }]),
    );
    expect(await p.status(SRV)).toMatchObject({ state: 'failed' });
  });

  it('cancels by suspending (default) or deleting (cancelMode delete)', async () => {
    let p = await provider();
    expect(await p.cancel(SRV)).toMatchObject({ state: 'cancelled', detail: 'suspended' });
    expect(api?.requests[0]).toMatchObject({ method: 'POST', path: `/v1/services/${SRV}/suspend` });
    await api?.close();
    p = await provider(routes(), { cancelMode: 'delete' });
    expect(await p.cancel(SRV)).toMatchObject({ state: 'cancelled', detail: 'deleted' });
    expect(api?.requests[0]).toMatchObject({ method: 'DELETE', path: `/v1/services/${SRV}` });
  });

  it('maps 404, 401, a malformed body and a timeout to errors without the key', async () => {
    let p = await provider();
    expect((await rejection(p.status('srv-missing'))).code).toBe('NOT_FOUND');
    expect((await rejection(p.cancel('srv-missing'))).code).toBe('NOT_FOUND');
    expect((await rejection(p.status('../../owners'))).code).toBe('INVALID_ARGUMENT');
    await api?.close();
    const offer: Offer = {
      provider: 'render',
      offerId: 'pro_max:oregon',
      gpuModel: 'NVIDIA L4',
      gpuCount: 1,
      memoryGiB: 24,
      pricePerHour: 0.85,
      region: 'oregon',
    };
    const cases: [FakeHandler, string, string][] = [
      [
        () => ({ status: 401, body: { id: 'unauthorized', message: `bad token ${KEY}` } }),
        'PROVIDER_FAILED',
        'HTTP 401',
      ],
      [() => ({ status: 201, body: { service: { id: 42 } } }), 'PROVIDER_FAILED', 'id'],
      [() => ({ status: 201, body: {}, delayMs: 1500 }), 'PROVIDER_TIMEOUT', 'timed out'],
    ];
    for (const [handler, code, text] of cases) {
      p = await provider(handler, { timeoutMs: code === 'PROVIDER_TIMEOUT' ? 150 : 5000 });
      const err = await rejection(p.submit(workload(), offer));
      expect(err.code).toBe(code);
      expect(err.message).toContain(text);
      expect(exposed(err)).not.toContain(KEY);
      await api?.close();
      api = undefined;
    }
  });

  it('validates its options', () => {
    expect(() => createRenderProvider({ apiKey: KEY, plans } as never)).toThrow(/ownerId/);
    expect(() => createRenderProvider({ apiKey: KEY, ownerId: 'tea-x', plans: [] })).toThrow(/plans/);
    expect(quoteArgv(['a', 'b c', ''])).toBe(`a 'b c' ''`);
  });
});
