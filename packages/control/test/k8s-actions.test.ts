// k8s.apply, k8s.rollout and k8s.scale through the real @kubernetes/client-node against a local fake Kubernetes
// API server (test/helpers/fake-k8s.ts). No real cluster was reachable: these tests show the requests are the
// ones the Kubernetes API documents (paths, patch content types, fieldManager/force/dryRun queries, bearer token).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActionRegistry, type ActionRegistry } from '../src/index.ts';
import { startFakeK8s } from './helpers/fake-k8s.ts';
import { runAction } from './helpers/run-action.ts';

let k8s: Awaited<ReturnType<typeof startFakeK8s>>;
let registry: ActionRegistry;

beforeAll(async () => {
  k8s = await startFakeK8s();
  registry = createActionRegistry({
    kube: { kubeconfigPath: k8s.kubeconfigPath, context: 'fake', pollMs: 10 },
  });
});
afterAll(() => k8s.close());
beforeEach(() => {
  k8s.deployments.clear();
  k8s.requests.length = 0;
  k8s.brokenImages.clear();
  k8s.deadlineImages.clear();
});

const manifest = (image: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'api-canary', labels: { app: 'api', track: 'canary' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'api', track: 'canary' } },
    template: {
      metadata: { labels: { app: 'api', track: 'canary' } },
      spec: { containers: [{ name: 'api', image }] },
    },
  },
});

describe('k8s.apply (server-side apply)', () => {
  it('in a dry-run sends the apply patch with dryRun=All, fieldManager and force, and persists nothing', async () => {
    const r = await runAction(
      registry,
      'k8s.apply',
      { manifests: [manifest('api:v2')] },
      { dryRun: true, namespace: 'shop' },
    );
    expect(r).toMatchObject({
      ok: true,
      output: { dryRun: true, applied: [{ kind: 'Deployment', name: 'api-canary', namespace: 'shop' }] },
    });
    const patch = k8s.requests.find((q) => q.method === 'PATCH')!;
    expect(patch).toMatchObject({
      path: '/apis/apps/v1/namespaces/shop/deployments/api-canary',
      contentType: 'application/apply-patch+yaml',
      query: { dryRun: 'All', fieldManager: 'vaultmesh', force: 'true' },
    });
    expect(k8s.deployments.size).toBe(0);
  });

  it('live creates the object in the target namespace and reports its uid and generation', async () => {
    const r = await runAction(
      registry,
      'k8s.apply',
      { manifests: [manifest('api:v2')] },
      { namespace: 'shop' },
    );
    expect(r.ok).toBe(true);
    expect((r.output.applied as { uid: string; generation: number }[])[0]).toMatchObject({
      uid: expect.stringMatching(/^uid-/),
      generation: 1,
    });
    expect(k8s.deployments.get('shop/api-canary')!.spec.template.spec.containers[0]!.image).toBe('api:v2');
    expect(k8s.requests.find((q) => q.method === 'PATCH')!.query.dryRun).toBeUndefined();
  });
});

describe('k8s.rollout', () => {
  it('patches the container image (strategic merge) and waits until every replica is updated and available', async () => {
    k8s.seed('shop', 'api', 'api:v1', 3);
    const r = await runAction(
      registry,
      'k8s.rollout',
      { deployment: 'api', image: 'api:v2' },
      { namespace: 'shop' },
    );
    expect(r).toMatchObject({
      ok: true,
      output: {
        previousImage: 'api:v1',
        image: 'api:v2',
        container: 'api',
        availableReplicas: 3,
        updatedReplicas: 3,
      },
    });
    expect(r.output.polls as number).toBeGreaterThan(1);
    const patch = k8s.requests.find((q) => q.method === 'PATCH')!;
    expect(patch.contentType).toBe('application/strategic-merge-patch+json');
    expect(patch.body).toEqual({
      spec: { template: { spec: { containers: [{ name: 'api', image: 'api:v2' }] } } },
    });
  });

  it('in a dry-run asks the server with dryRun=All and changes nothing', async () => {
    k8s.seed('shop', 'api', 'api:v1', 3);
    const r = await runAction(
      registry,
      'k8s.rollout',
      { deployment: 'api', image: 'api:v2' },
      { dryRun: true, namespace: 'shop' },
    );
    expect(r).toMatchObject({ ok: true, output: { dryRun: true, previousImage: 'api:v1' } });
    expect(k8s.requests.find((q) => q.method === 'PATCH')!.query.dryRun).toBe('All');
    expect(k8s.deployments.get('shop/api')!.spec.template.spec.containers[0]!.image).toBe('api:v1');
  });

  it('fails when the new pods never become available before the step times out', async () => {
    k8s.seed('shop', 'api', 'api:v1', 2);
    k8s.brokenImages.add('api:broken');
    const r = await runAction(
      registry,
      'k8s.rollout',
      { deployment: 'api', image: 'api:broken' },
      { namespace: 'shop', timeoutMs: 300 },
    );
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/rollout of api to api:broken did not finish: timed out after 300 ms: /);
  });

  it('fails at once on ProgressDeadlineExceeded', async () => {
    k8s.seed('shop', 'api', 'api:v1', 2);
    k8s.deadlineImages.add('api:stuck');
    const r = await runAction(
      registry,
      'k8s.rollout',
      { deployment: 'api', image: 'api:stuck' },
      { namespace: 'shop' },
    );
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/progress deadline exceeded/);
  });

  it('reports the API Status message of a missing deployment', async () => {
    const r = await runAction(
      registry,
      'k8s.rollout',
      { deployment: 'ghost', image: 'x:1' },
      { namespace: 'shop' },
    );
    expect(r).toMatchObject({
      ok: false,
      error: 'rollout: Kubernetes API answered 404: deployments.apps "ghost" not found',
    });
  });
});

describe('k8s.scale and configuration', () => {
  it('k8s.scale merge-patches replicas and waits for them', async () => {
    k8s.seed('shop', 'api', 'api:v1', 2);
    const r = await runAction(
      registry,
      'k8s.scale',
      { deployment: 'api', replicas: 5 },
      { namespace: 'shop' },
    );
    expect(r).toMatchObject({ ok: true, output: { replicas: 5, availableReplicas: 5 } });
    expect(k8s.requests.find((q) => q.method === 'PATCH')).toMatchObject({
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 5 } },
    });
  });

  it('uses only the kubeconfig file and context given (the file current-context points elsewhere)', async () => {
    const wrong = createActionRegistry({ kube: { kubeconfigPath: k8s.kubeconfigPath, context: 'nope' } });
    await expect(runAction(wrong, 'k8s.scale', { deployment: 'api', replicas: 1 })).rejects.toThrow(
      /has no context "nope"/,
    );
    const none = createActionRegistry();
    await expect(runAction(none, 'k8s.apply', { manifests: [manifest('a:1')] })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: 'Kubernetes is not configured (actions option kube.kubeconfigPath)',
    });
  });
});
