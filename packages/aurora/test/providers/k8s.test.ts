import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createK8sProvider, k8sJobState } from '../../src/providers/k8s.ts';
import { WorkloadSchema, type Offer } from '../../src/workload.ts';
import { exposed, fixture, rejection, startFakeApi, type FakeApi, type FakeHandler } from './fake-api.ts';

const TOKEN = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IlNFQ1JFVCJ9.sa-token-payload.signature';
const JOBS = '/apis/batch/v1/namespaces/aurora/jobs';
const JOB = 'aurora-train-llm-3f2a1';
const workload = (over: Record<string, unknown> = {}) =>
  WorkloadSchema.parse({
    id: 'train-llm',
    tenant: 'acme',
    gpu: { count: 2 },
    image: 'pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime',
    command: ['python', 'train.py'],
    ...over,
  });

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

function routes(pods: FakeHandler = () => ({ body: fixture('k8s-pods.json') })): FakeHandler {
  return (req) => {
    if (req.method === 'GET' && req.path === '/api/v1/nodes') return { body: fixture('k8s-nodes.json') };
    if (req.method === 'GET' && req.path === '/api/v1/pods') return pods(req);
    if (req.method === 'POST' && req.path === JOBS) return { status: 201, body: fixture('k8s-job.json') };
    if (req.method === 'GET' && req.path === `${JOBS}/${JOB}`) return { body: fixture('k8s-job.json') };
    if (req.method === 'GET' && req.path === `${JOBS}/aurora-failed-00000`)
      return { body: fixture('k8s-job-failed.json') };
    if (req.method === 'DELETE' && req.path === `${JOBS}/${JOB}`)
      return { body: fixture('k8s-status-deleted.json') };
    return { status: 404, body: fixture('k8s-status-not-found.json') };
  };
}

const options = { namespace: 'aurora', pricePerGpuHour: { h100: 2.25, a100: 1.1 } };
async function provider(handler: FakeHandler = routes(), extra: Record<string, unknown> = {}) {
  api = await startFakeApi(handler);
  return createK8sProvider({ apiKey: TOKEN, baseUrl: api.url, ...options, ...extra });
}

describe('k8s provider', () => {
  it('offers Ready, schedulable GPU nodes with enough free GPUs, priced per pool', async () => {
    const p = await provider();
    const offers = await p.listOffers(workload());
    const [nodes, pods] = api?.requests ?? [];
    expect(nodes).toMatchObject({ method: 'GET', path: '/api/v1/nodes' });
    expect(nodes?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(pods?.path).toBe('/api/v1/pods');
    expect(pods?.query.get('fieldSelector')).toBe('status.phase!=Succeeded,status.phase!=Failed');
    // gpu-h100-a: 8 allocatable − 6 requested = 2 free; gpu-a100-b: 4 free; cordoned / not ready / cpu-only dropped.
    expect(offers).toEqual([
      {
        provider: 'k8s',
        offerId: 'gpu-h100-a',
        gpuModel: 'NVIDIA-H100-80GB-HBM3',
        gpuCount: 2,
        memoryGiB: 79.6475,
        pricePerHour: 4.5,
        region: 'us-east-1',
      },
      {
        provider: 'k8s',
        offerId: 'gpu-a100-b',
        gpuModel: 'NVIDIA-A100-SXM4-40GB',
        gpuCount: 2,
        memoryGiB: 40,
        pricePerHour: 2.2,
        region: 'eu-west-1',
      },
    ]);
  });

  it('filters by free GPUs, model, region and pool price', async () => {
    let p = await provider();
    expect((await p.listOffers(workload({ gpu: { count: 3 } }))).map((o) => o.offerId)).toEqual([
      'gpu-a100-b',
    ]);
    expect(
      (await p.listOffers(workload({ gpu: { model: 'H100', count: 1 } }))).map((o) => o.offerId),
    ).toEqual(['gpu-h100-a']);
    expect(await p.listOffers(workload({ regions: ['ap-south-1'] }))).toEqual([]);
    await api?.close();
    p = await provider(routes(), { pricePerGpuHour: { h100: 2.25 } });
    expect((await p.listOffers(workload())).map((o) => o.offerId)).toEqual(['gpu-h100-a']);
  });

  it('still offers from allocatable when the token may not list pods', async () => {
    const p = await provider(
      routes(() => ({ status: 403, body: { kind: 'Status', reason: 'Forbidden', code: 403 } })),
    );
    const offers = await p.listOffers(workload({ gpu: { count: 8 } }));
    expect(offers.map((o) => o.offerId)).toEqual(['gpu-h100-a']);
  });

  it('submits a batch/v1 Job pinned to the node with nvidia.com/gpu limits', async () => {
    const p = await provider();
    const [offer] = await p.listOffers(workload());
    const job = await p.submit(workload(), offer as Offer);
    const req = api?.requests.at(-1);
    expect(req).toMatchObject({ method: 'POST', path: JOBS });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking a JSON request body in a test
    const body = req?.body as Record<string, any>;
    expect(body.apiVersion).toBe('batch/v1');
    expect(body.kind).toBe('Job');
    expect(body.metadata.name).toMatch(/^aurora-train-llm-[0-9a-f]{5}$/);
    expect(body.metadata.annotations).toEqual({
      'aurora.vaultmesh.dev/price-per-hour': '4.5',
      'aurora.vaultmesh.dev/region': 'us-east-1',
    });
    expect(body.spec.backoffLimit).toBe(0);
    const pod = body.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'gpu-h100-a' });
    expect(pod.containers).toEqual([
      {
        name: 'workload',
        image: 'pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime',
        command: ['python', 'train.py'],
        resources: { limits: { 'nvidia.com/gpu': '2' } },
      },
    ]);
    expect(job).toEqual({
      provider: 'k8s',
      jobId: JOB,
      state: 'pending',
      region: 'us-east-1',
      pricePerHour: 4.5,
    });
  });

  it('reads Job status and deletes with propagationPolicy=Background', async () => {
    const p = await provider();
    expect(await p.status(JOB)).toEqual({
      provider: 'k8s',
      jobId: JOB,
      state: 'running',
      detail: 'pod ready',
      region: 'us-east-1',
      pricePerHour: 4.5,
    });
    expect(await p.status('aurora-failed-00000')).toMatchObject({
      state: 'failed',
      detail: expect.stringContaining('BackoffLimitExceeded'),
    });
    expect((await rejection(p.status('aurora-missing-00000'))).code).toBe('NOT_FOUND');
    expect(await p.cancel(JOB)).toMatchObject({ state: 'cancelled' });
    const del = api?.requests.at(-1);
    expect(del).toMatchObject({ method: 'DELETE', path: `${JOBS}/${JOB}` });
    expect(del?.query.get('propagationPolicy')).toBe('Background');
    expect(
      k8sJobState({
        metadata: { name: 'x' },
        status: { conditions: [{ type: 'Complete', status: 'True' }] },
      }),
    ).toMatchObject({ state: 'succeeded' });
    expect(k8sJobState({ metadata: { name: 'x' }, status: { active: 1 } })).toMatchObject({
      state: 'pending',
    });
    expect(k8sJobState({ metadata: { name: 'x', deletionTimestamp: '2025-01-01T00:00:00Z' } })).toMatchObject(
      { state: 'cancelled' },
    );
  });

  it('maps 401, a malformed body and a timeout to errors without the token, and validates ids', async () => {
    const cases: [FakeHandler, string, string][] = [
      [
        () => ({ status: 401, body: { kind: 'Status', message: `Unauthorized ${TOKEN}`, code: 401 } }),
        'PROVIDER_FAILED',
        'HTTP 401',
      ],
      [() => ({ body: { items: [{ metadata: {} }] } }), 'PROVIDER_FAILED', 'items.0.metadata.name'],
      [() => ({ body: {}, delayMs: 1500 }), 'PROVIDER_TIMEOUT', 'timed out'],
    ];
    for (const [handler, code, text] of cases) {
      const p = await provider(handler, { timeoutMs: code === 'PROVIDER_TIMEOUT' ? 150 : 5000 });
      const err = await rejection(p.listOffers(workload()));
      expect(err.code).toBe(code);
      expect(err.message).toContain(text);
      expect(exposed(err)).not.toContain(TOKEN);
      await api?.close();
      api = undefined;
    }
    const p = await provider();
    expect((await rejection(p.status('Bad_Name'))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(p.cancel('a/../../b'))).code).toBe('INVALID_ARGUMENT');
    expect(api?.requests).toHaveLength(0);
  });

  const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
  it.skipIf(!hasOpenssl)('talks TLS to an API server whose CA comes from caFile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aurora-k8s-ca-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'ca.pem'),
        ],
        { stdio: 'ignore' },
      );
      const server = createServer(
        { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.pem')) },
        (req, res) => {
          const path = new URL(req.url ?? '/', 'https://x').pathname;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify(path === '/api/v1/nodes' ? fixture('k8s-nodes.json') : fixture('k8s-pods.json')),
          );
        },
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const p = createK8sProvider({ apiKey: TOKEN, baseUrl: url, caFile: join(dir, 'ca.pem'), ...options });
        expect((await p.listOffers(workload())).map((o) => o.offerId)).toEqual(['gpu-h100-a', 'gpu-a100-b']);
        const untrusted = createK8sProvider({ apiKey: TOKEN, baseUrl: url, ...options });
        const err = await rejection(untrusted.listOffers(workload()));
        expect(err.code).toBe('PROVIDER_FAILED');
        expect(() => createK8sProvider({ baseUrl: url, caFile: join(dir, 'missing.pem') })).toThrow(/caFile/);
      } finally {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
