import { load as loadYaml } from 'js-yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { akashState, createAkashProvider } from '../../src/providers/akash.ts';
import { WorkloadSchema, type Offer } from '../../src/workload.ts';
import { exposed, fixture, rejection, startFakeApi, type FakeApi, type FakeHandler } from './fake-api.ts';

const KEY = 'ac.sk.production.9f86d081884c7d659a2feaa0c55ad015';
const PROVIDER_A = 'akash18ga02jzaq8cw52anyhzkwta5wygufgu6zsz6xc';
const PROVIDER_B = 'akash1q7spv2cw06yszgfp4f9ed59lkka6ytn8g4tkjf';
const workload = (over: Record<string, unknown> = {}) =>
  WorkloadSchema.parse({
    id: 'train-llm',
    tenant: 'acme',
    gpu: { model: 'H100', count: 1 },
    memoryGiB: 80,
    image: 'pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime',
    command: ['python', 'train.py'],
    ...over,
  });

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

function routes(bids: unknown = fixture('akash-bids.json')): FakeHandler {
  return (req) => {
    if (req.method === 'POST' && req.path === '/v1/deployments')
      return { status: 201, body: fixture('akash-create-deployment.json') };
    if (req.method === 'GET' && req.path === '/v1/bids') return { body: bids };
    if (req.method === 'POST' && req.path === '/v1/leases') return { body: fixture('akash-deployment.json') };
    if (req.method === 'GET' && req.path === '/v1/deployments/21564382')
      return { body: fixture('akash-deployment.json') };
    if (req.method === 'DELETE' && req.path === '/v1/deployments/21564382')
      return { body: fixture('akash-close-deployment.json') };
    return { status: 404, body: { error: 'NotFound', message: 'Deployment not found' } };
  };
}

async function provider(handler: FakeHandler = routes(), extra: Record<string, unknown> = {}) {
  api = await startFakeApi(handler);
  return createAkashProvider({
    apiKey: KEY,
    baseUrl: api.url,
    usdPerAkt: 2,
    bidWaitMs: 60,
    bidPollMs: 10,
    providerRegions: { [PROVIDER_A]: 'us-west' },
    ...extra,
  });
}

describe('akash provider', () => {
  it('lists offers by creating a deployment from a generated GPU SDL and reading its open bids', async () => {
    const p = await provider();
    const offers = await p.listOffers(workload());
    const [create, bids] = api?.requests ?? [];
    expect(create).toMatchObject({ method: 'POST', path: '/v1/deployments' });
    expect(create?.headers['x-api-key']).toBe(KEY);
    const body = create?.body as { data: { sdl: string; deposit: number } };
    expect(body.data.deposit).toBe(5);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking parsed YAML in a test
    const sdl = loadYaml(body.data.sdl) as Record<string, any>;
    expect(sdl.version).toBe('2.0');
    expect(sdl.services.job).toEqual({
      image: 'pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime',
      command: ['python', 'train.py'],
    });
    expect(sdl.profiles.compute.job.resources.gpu).toEqual({
      units: 1,
      attributes: { vendor: { nvidia: [{ model: 'h100', ram: '80Gi' }] } },
    });
    expect(sdl.deployment.job.dcloud).toEqual({ profile: 'job', count: 1 });
    expect(bids).toMatchObject({ method: 'GET', path: '/v1/bids' });
    expect(bids?.query.get('dseq')).toBe('21564382');
    // uakt: 2847.4576 × 590 blocks/h / 1e6 × $2 = $3.36/h; USDC: 3389.8305 × 590 / 1e6 = $2.00/h. The closed bid is dropped.
    expect(offers).toEqual([
      {
        provider: 'akash',
        offerId: `21564382/1/1/${PROVIDER_A}`,
        gpuModel: 'h100',
        gpuCount: 1,
        memoryGiB: 80,
        pricePerHour: 3.36,
        region: 'us-west',
      },
      {
        provider: 'akash',
        offerId: `21564382/1/1/${PROVIDER_B}`,
        gpuModel: 'h100',
        gpuCount: 1,
        memoryGiB: 80,
        pricePerHour: 2,
        region: 'unknown',
      },
    ]);
  });

  it('writes the price cap into the SDL and filters bids above it', async () => {
    const p = await provider();
    const offers = await p.listOffers(workload({ maxPricePerHour: 2.5 }));
    const sent = api?.requests[0]?.body as { data: { sdl: string } };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking parsed YAML in a test
    const sdl = loadYaml(sent.data.sdl) as Record<string, any>;
    // $2.5/h at $2/AKT over 590 blocks/h = 2118.6 uakt per block, rounded up.
    expect(sdl.profiles.placement.dcloud.pricing.job).toEqual({ denom: 'uakt', amount: 2119 });
    expect(offers.map((o) => o.pricePerHour)).toEqual([2]);
  });

  it('closes the deployment when no bid arrives in time', async () => {
    const p = await provider(routes({ data: [] }));
    expect(await p.listOffers(workload())).toEqual([]);
    const methods = api?.requests.map((r) => `${r.method} ${r.path}`) ?? [];
    expect(methods.filter((m) => m === 'GET /v1/bids').length).toBeGreaterThan(1);
    expect(methods.at(-1)).toBe('DELETE /v1/deployments/21564382');
  });

  it('closes the previous unleased deployment when the same workload is listed again', async () => {
    const p = await provider();
    await p.listOffers(workload());
    await p.listOffers(workload());
    const methods = api?.requests.map((r) => `${r.method} ${r.path}`);
    expect(methods).toEqual([
      'POST /v1/deployments',
      'GET /v1/bids',
      'DELETE /v1/deployments/21564382',
      'POST /v1/deployments',
      'GET /v1/bids',
    ]);
  });

  it('submits by creating the lease with the manifest and the bid id', async () => {
    const p = await provider();
    const [offer] = await p.listOffers(workload());
    const job = await p.submit(workload(), offer as Offer);
    const lease = api?.requests.at(-1);
    expect(lease).toMatchObject({ method: 'POST', path: '/v1/leases' });
    expect(lease?.headers['x-api-key']).toBe(KEY);
    const body = lease?.body as { manifest: string; leases: unknown[] };
    expect(body.manifest).toBe(
      (fixture('akash-create-deployment.json') as { data: { manifest: string } }).data.manifest,
    );
    expect(body.leases).toEqual([{ dseq: '21564382', gseq: 1, oseq: 1, provider: PROVIDER_A }]);
    expect(job).toEqual({
      provider: 'akash',
      jobId: '21564382',
      state: 'running',
      detail: 'lease active',
      region: 'us-west',
      pricePerHour: 3.36,
    });
    // Leased: the next listing for this workload must not close it.
    await p.listOffers(workload());
    expect(api?.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
  });

  it('refuses an offer whose deployment it does not know (stale) or that is malformed', async () => {
    const p = await provider();
    const offer: Offer = {
      provider: 'akash',
      offerId: `999/1/1/${PROVIDER_A}`,
      gpuModel: 'h100',
      gpuCount: 1,
      memoryGiB: 80,
      pricePerHour: 1,
      region: 'x',
    };
    expect((await rejection(p.submit(workload(), offer))).message).toContain('stale');
    expect((await rejection(p.submit(workload(), { ...offer, offerId: '999/1/1/evil' }))).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(api?.requests).toHaveLength(0);
  });

  it('reads status from the deployment and its leases, and cancels by closing it', async () => {
    const p = await provider();
    expect(await p.status('21564382')).toMatchObject({
      jobId: '21564382',
      state: 'running',
      pricePerHour: 3.36,
    });
    expect(api?.requests[0]).toMatchObject({ method: 'GET', path: '/v1/deployments/21564382' });
    expect(await p.cancel('21564382')).toMatchObject({ state: 'cancelled' });
    expect(api?.requests[1]).toMatchObject({ method: 'DELETE', path: '/v1/deployments/21564382' });
    expect((await rejection(p.status('1'))).code).toBe('NOT_FOUND');
    expect(akashState('closed', ['closed'])).toMatchObject({ state: 'cancelled' });
    expect(akashState('active', [])).toMatchObject({ state: 'pending' });
    expect(akashState('active', ['insufficient_funds'])).toMatchObject({ state: 'failed' });
    expect(akashState('active', ['closed'])).toMatchObject({ state: 'failed' });
  });

  it('maps 401, 500, malformed bids and a timeout to provider errors without the key, closing what it opened', async () => {
    const badBids = {
      data: [
        {
          bid: {
            bid_id: { dseq: '21564382', gseq: 1, oseq: 1, provider: 'akash1NOPE' },
            state: 'open',
            price: { denom: 'uakt', amount: '1' },
          },
        },
      ],
    };
    const cases: [FakeHandler, string, string][] = [
      [
        () => ({ status: 401, body: { error: 'Unauthorized', message: `Invalid API key ${KEY}` } }),
        'PROVIDER_FAILED',
        'HTTP 401',
      ],
      [
        () => ({ status: 500, body: { error: 'InternalServerError', message: 'boom' } }),
        'PROVIDER_FAILED',
        'HTTP 500',
      ],
      [routes(badBids), 'PROVIDER_FAILED', 'data.0.bid.bid_id.provider'],
      [
        (req) => (req.path === '/v1/bids' ? { body: {}, delayMs: 1500 } : routes()(req)),
        'PROVIDER_TIMEOUT',
        'timed out',
      ],
    ];
    for (const [handler, code, text] of cases) {
      const p = await provider(handler, { timeoutMs: code === 'PROVIDER_TIMEOUT' ? 150 : 5000 });
      const err = await rejection(p.listOffers(workload()));
      expect(err.code).toBe(code);
      expect(err.message).toContain(text);
      expect(exposed(err)).not.toContain(KEY);
      if (text !== 'HTTP 401' && text !== 'HTTP 500')
        expect(
          api?.requests.some((r) => r.method === 'DELETE' && r.path === '/v1/deployments/21564382'),
        ).toBe(true);
      await api?.close();
      api = undefined;
    }
  });

  it('requires a USD per AKT rate and an API key', () => {
    expect(() => createAkashProvider({ apiKey: KEY } as never)).toThrow(/usdPerAkt/);
    expect(() => createAkashProvider({ apiKey: '', usdPerAkt: 2 })).toThrow(/no API key/);
  });
});
