// k8s.apply, k8s.rollout and k8s.scale through the real @kubernetes/client-node against a local fake Kubernetes
// API server (test/helpers/fake-k8s.ts). No real cluster was reachable: these tests show the requests are the
// ones the Kubernetes API documents (paths, patch content types, fieldManager/force/dryRun queries, bearer token).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActionRegistry, type ActionRegistry } from '../src/index.ts';
import { startFakeK8s } from '../src/testing/index.ts';
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
  k8s.objects.clear();
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
      output: {
        dryRun: true,
        changes: [{ kind: 'Deployment', name: 'api-canary', namespace: 'shop', action: 'create' }],
      },
      summary: 'Deployment shop/api-canary: create',
    });
    expect(r.unverifiable).toBeUndefined();
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

describe('k8s.apply dry-run: the whole apply set, and what live would change', () => {
  const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const service = (namespace?: string) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'api', ...(namespace ? { namespace } : {}) },
    spec: { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080 }] },
  });

  it("compares the server's dry-run answer with the live object, field by field, and changes nothing", async () => {
    k8s.seed('shop', 'api-canary', 'api:v1', 2);
    const before = JSON.stringify(k8s.deployments.get('shop/api-canary')!.spec);
    const r = await runAction(
      registry,
      'k8s.apply',
      { manifests: [manifest('api:v2')] },
      { dryRun: true, namespace: 'shop' },
    );
    expect(r.ok).toBe(true);
    const [change] = r.output.changes as {
      action: string;
      changes: { path: string; op: string; from?: unknown; to?: unknown }[];
    }[];
    expect(change!.action).toBe('update');
    expect(change!.changes).toContainEqual({
      path: '/spec/template/spec/containers/0/image',
      op: 'replace',
      from: 'api:v1',
      to: 'api:v2',
    });
    // Server-owned fields (status, resourceVersion, generation, managedFields) are never reported as changes.
    expect(
      change!.changes.some((c) =>
        /^\/(status|metadata\/(resourceVersion|generation|managedFields))/.test(c.path),
      ),
    ).toBe(false);
    expect(r.summary).toMatch(/^Deployment shop\/api-canary: update \(\d+ fields?\)$/);
    // (The fake's controller advances status on each GET; the spec is what an apply would change.)
    expect(JSON.stringify(k8s.deployments.get('shop/api-canary')!.spec)).toBe(before);
    // A GET of the live object, then the dry-run apply; nothing else touches it.
    const onPath = k8s.requests.filter(
      (q) => q.path === '/apis/apps/v1/namespaces/shop/deployments/api-canary',
    );
    expect(onPath.map((q) => `${q.method}${q.query.dryRun ? ` dryRun=${q.query.dryRun}` : ''}`)).toEqual([
      'GET',
      'PATCH dryRun=All',
    ]);
  });

  it('reports "unchanged" when live already matches', async () => {
    await runAction(
      registry,
      'k8s.apply',
      { manifests: [manifest('api:v2'), service()] },
      { namespace: 'shop' },
    );
    const r = await runAction(
      registry,
      'k8s.apply',
      { manifests: [manifest('api:v2'), service()] },
      { dryRun: true, namespace: 'shop' },
    );
    expect((r.output.changes as { action: string }[]).map((c) => c.action)).toEqual([
      'unchanged',
      'unchanged',
    ]);
    expect(r.summary).toBe('Deployment shop/api-canary: unchanged, Service shop/api: unchanged');
  });

  it('objects in a namespace the plan creates are "not checkable in a dry-run", never passed silently', async () => {
    const r = await runAction(
      registry,
      'k8s.apply',
      { manifests: [ns('payments'), manifest('api:v2'), service()] },
      { dryRun: true, namespace: 'payments' },
    );
    expect(r.ok).toBe(true);
    expect(
      (r.output.changes as { kind: string; action: string }[]).map((c) => `${c.kind}:${c.action}`),
    ).toEqual(['Namespace:create']);
    expect((r.output.notCheckable as { kind: string }[]).map((c) => c.kind)).toEqual([
      'Deployment',
      'Service',
    ]);
    expect(r.unverifiable).toMatch(
      /Deployment payments\/api-canary, Service payments\/api \(namespace payments is created by this plan/,
    );
    expect(k8s.objects.size + k8s.deployments.size).toBe(0);
    // Live, the namespace comes first and the rest lands in it.
    const live = await runAction(
      registry,
      'k8s.apply',
      { manifests: [ns('payments'), manifest('api:v2'), service()] },
      { namespace: 'payments' },
    );
    expect(live.ok).toBe(true);
    expect(k8s.deployments.has('payments/api-canary')).toBe(true);
    expect(k8s.objects.has('services/payments/api')).toBe(true);
  });

  it('a missing namespace the plan does not create fails the dry-run, naming every manifest it refuses', async () => {
    const r = await runAction(
      registry,
      'k8s.apply',
      { manifests: [manifest('api:v2'), service()] },
      { dryRun: true, namespace: 'nowhere' },
    );
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(
      /apply Deployment\/api-canary: .*namespaces "nowhere" not found; apply Service\/api: .*namespaces "nowhere" not found/,
    );
  });

  it("never shows a Secret's values, old or new", async () => {
    const secret = (v: string) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db' },
      data: { password: v },
    });
    await runAction(
      registry,
      'k8s.apply',
      { manifests: [secret('b2xkLXNlY3JldA==')] },
      { namespace: 'shop' },
    );
    const r = await runAction(
      registry,
      'k8s.apply',
      { manifests: [secret('bmV3LXNlY3JldA==')] },
      { dryRun: true, namespace: 'shop' },
    );
    const text = JSON.stringify(r);
    expect(text).not.toContain('b2xkLXNlY3JldA==');
    expect(text).not.toContain('bmV3LXNlY3JldA==');
    expect((r.output.changes as { changes: unknown[] }[])[0]!.changes).toEqual([
      { path: '/data/password', op: 'replace', from: '(redacted)', to: '(redacted)' },
    ]);
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
