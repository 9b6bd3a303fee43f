import { afterEach, describe, expect, it } from 'vitest';
import * as aurora from '../../src/index.ts';
import { createProvider, ProviderConfigSchema, ProvidersConfigSchema } from '../../src/providers/index.ts';
import { WorkloadSchema } from '../../src/workload.ts';
import { exposed, fixture, rejection, startFakeApi, type FakeApi } from './fake-api.ts';

const KEY = 'registry-secret-key-0000000000000001';
let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe('provider registry', () => {
  it('is exported from the package entry point', () => {
    expect(aurora.createProvider).toBe(createProvider);
    expect(aurora.ProviderConfigSchema).toBe(ProviderConfigSchema);
  });

  it('fills defaults: the real API URLs and the env var names that hold the keys', () => {
    const parsed = ProvidersConfigSchema.parse([
      { type: 'vast' },
      { type: 'akash', usdPerAkt: 2.5 },
      {
        type: 'render',
        ownerId: 'tea-abc',
        plans: [
          { plan: 'pro', gpuModel: 'L4', gpuCount: 1, memoryGiB: 24, pricePerHour: 1, regions: ['oregon'] },
        ],
      },
      { type: 'k8s', name: 'onprem', baseUrl: 'https://10.0.0.1:6443', apiKeyEnv: 'K8S_TOKEN' },
      { type: 'local' },
    ]);
    expect(parsed.map((p) => [p.type, p.name, 'baseUrl' in p ? p.baseUrl : undefined, p.apiKeyEnv])).toEqual([
      ['vast', 'vast', 'https://console.vast.ai/api/v0', 'VAST_API_KEY'],
      ['akash', 'akash', 'https://console-api.akash.network', 'AKASH_CONSOLE_API_KEY'],
      ['render', 'render', 'https://api.render.com/v1', 'RENDER_API_KEY'],
      ['k8s', 'onprem', 'https://10.0.0.1:6443', 'K8S_TOKEN'],
      ['local', 'local', undefined, undefined],
    ]);
  });

  it('rejects unknown keys (an API key cannot come from the config file), bad types and duplicate names', () => {
    expect(ProviderConfigSchema.safeParse({ type: 'vast', apiKey: KEY }).success).toBe(false);
    expect(ProviderConfigSchema.safeParse({ type: 'vast', timeout: 5 }).success).toBe(false);
    expect(ProviderConfigSchema.safeParse({ type: 'runpod' }).success).toBe(false);
    expect(ProviderConfigSchema.safeParse({ type: 'vast', apiKeyEnv: 'lower-case' }).success).toBe(false);
    expect(ProviderConfigSchema.safeParse({ type: 'akash' }).success).toBe(false);
    const dup = ProvidersConfigSchema.safeParse([{ type: 'local' }, { type: 'local' }]);
    expect(dup.success).toBe(false);
  });

  it('creates each adapter, requiring a key where the provider needs one, never echoing it', () => {
    expect(createProvider({ type: 'local' }).name).toBe('local');
    expect(createProvider({ type: 'k8s', name: 'gpu-pool' }).name).toBe('gpu-pool');
    expect(createProvider({ type: 'akash', usdPerAkt: 3, apiKey: KEY }).name).toBe('akash');
    try {
      createProvider({ type: 'vast', apiKey: KEY, diskGb: -1 });
      expect.unreachable();
    } catch (err) {
      expect((err as aurora.AuroraError).code).toBe('INVALID_ARGUMENT');
      expect(exposed(err)).not.toContain(KEY);
    }
    expect(() => createProvider({ type: 'vast' })).toThrow(/no API key/);
    expect(() => createProvider({ type: 'render', ownerId: 'tea-abc', plans: [] })).toThrow(
      /invalid provider config/,
    );
  });

  it('wires the injected fetch and key through to the adapter', async () => {
    api = await startFakeApi(() => ({ body: fixture('vast-bundles.json') }));
    const seen: string[] = [];
    const p = createProvider(
      { type: 'vast', name: 'vast-eu', baseUrl: `${api.url}/api/v0`, apiKey: KEY },
      { fetch: (url, init) => (seen.push(url), fetch(url, init)) },
    );
    const offers = await p.listOffers(
      WorkloadSchema.parse({ id: 'w', tenant: 't', gpu: { model: 'A100', count: 1 } }),
    );
    expect(offers.map((o) => [o.provider, o.offerId, o.region])).toEqual([
      ['vast-eu', '32345678', 'unknown'],
    ]);
    expect(seen).toEqual([`${api.url}/api/v0/bundles/`]);
    expect(api.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    const err = await rejection(p.status('nope'));
    expect(exposed(err)).not.toContain(KEY);
  });
});
