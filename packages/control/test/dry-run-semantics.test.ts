// Dry-runs that realistic plans can pass (issue 12): a read that checks what an earlier write of the same plan
// would create cannot pass in a dry-run (no write is applied), so it is recorded `unverifiable` with the reason,
// never silently passed, and the dry-run goes on; the live run checks it for real. A failing read with no earlier
// write still fails the dry-run.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActionRegistry, planIntent, type Plan } from '../src/index.ts';
import { startFakeK8s } from '../src/testing/index.ts';
import { localServer, operator } from './helpers/harness.ts';
import { executorFixture } from './helpers/executor-fixture.ts';

let dir: string;
let canaryFile: string;
let srv: Awaited<ReturnType<typeof localServer>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-dry-'));
  canaryFile = join(dir, 'canary-started');
  // The "canary" is healthy once the deploy step has created its file.
  srv = await localServer((_req, res) => {
    res.writeHead(existsSync(canaryFile) ? 200 : 503).end();
  });
});
afterAll(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

const canaryPlan = (withDeploy: boolean): Plan => ({
  v: 1,
  id: withDeploy ? 'canary' : 'probe-only',
  goal: 'start a canary, then check it',
  target: { environment: 'staging', tenant: 'acme' },
  phases: [
    {
      id: 'canary',
      steps: [
        ...(withDeploy
          ? [
              {
                id: 'start-canary',
                action: 'shell',
                params: { command: 'touch', args: [canaryFile] },
                risk: 'medium' as const,
                reversible: true,
                rollback: { action: 'shell', params: { command: 'rm', args: ['-f', canaryFile] } },
              },
            ]
          : []),
        {
          id: 'canary-healthy',
          action: 'probe',
          params: { url: `${srv.url}/health`, intervalMs: 250 },
          risk: 'low' as const,
          reversible: true,
          timeoutMs: 600,
        },
      ],
    },
  ],
  preconditions: [],
  gates: [],
  createdBy: 'ops@acme',
  createdAt: '2026-12-01T00:00:00.000Z',
});

describe('dry-run semantics', () => {
  it('a probe of what an earlier write creates is unverifiable in the dry-run, with the reason; live checks it', async () => {
    const f = await executorFixture();
    const plan = canaryPlan(true);
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    const dry = await f.executor.run({ ...base, dryRun: true });
    expect(dry.state).toBe('succeeded');
    expect(dry.steps.map((s) => `${s.stepId}:${s.status}`)).toEqual([
      'start-canary:succeeded',
      'canary-healthy:unverifiable',
    ]);
    expect(existsSync(canaryFile)).toBe(false);
    const receipt = (await f.ledger.all()).find((r) => r.body.stepId === 'canary-healthy' && r.body.dryRun);
    expect(receipt?.body).toMatchObject({ status: 'unverifiable' });
    expect(String(receipt?.body.reason)).toMatch(/not checkable in a dry-run: .*\(start-canary\)/);
    expect(String(receipt?.body.error)).toMatch(/HTTP 503/);
    const live = await f.executor.run({ ...base, dryRun: false });
    expect(live.state).toBe('succeeded');
    expect(live.steps.map((s) => `${s.stepId}:${s.status}`)).toEqual([
      'start-canary:succeeded',
      'canary-healthy:succeeded',
    ]);
    rmSync(canaryFile, { force: true });
  });

  it('a failing read with no earlier write still fails the dry-run (nothing is excused)', async () => {
    const f = await executorFixture();
    const plan = canaryPlan(false);
    const stored = await f.executor.storePlan(plan, operator);
    const dry = await f.executor.run({
      plan: plan.id,
      planHash: stored.planHash,
      principal: operator,
      dryRun: true,
    });
    expect(dry.state).toBe('hold');
    expect(dry.steps.map((s) => `${s.stepId}:${s.status}`)).toEqual(['canary-healthy:failed']);
  });

  it('in a live run a failing read after a write fails, as always', async () => {
    const f = await executorFixture();
    const plan = canaryPlan(true);
    plan.phases[0]!.steps[0]!.params = { command: 'true' }; // "deploys" nothing
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    expect((await f.executor.run({ ...base, dryRun: true })).state).toBe('succeeded');
    const live = await f.executor.run({ ...base, dryRun: false });
    expect(live.state).toBe('hold');
    expect(live.hold?.reason).toBe('step-failed');
  });
});

describe('dry-run semantics: a Kubernetes plan that creates what it then rolls out', () => {
  let k8s: Awaited<ReturnType<typeof startFakeK8s>>;
  let health: Awaited<ReturnType<typeof localServer>>;
  beforeAll(async () => {
    k8s = await startFakeK8s();
    // The canary answers healthy once its Deployment exists in the (fake) cluster.
    health = await localServer((_req, res) => {
      res.writeHead([...k8s.deployments.keys()].some((k) => k.includes('api-canary')) ? 200 : 503).end();
    });
  });
  afterAll(async () => {
    await health.close();
    k8s.close();
  });

  it("the strategist's canary phase passes its dry-run (rollout and probe unverifiable, with reasons), then runs live", async () => {
    const f = await executorFixture({
      actions: createActionRegistry({
        kube: { kubeconfigPath: k8s.kubeconfigPath, context: 'fake', pollMs: 10 },
      }),
    });
    const plan = planIntent({
      kind: 'deploy',
      tenant: 'acme',
      environment: 'staging',
      namespace: 'shop',
      service: 'api',
      image: 'registry.example/shop/api',
      version: 'v2.0.0',
      currentVersion: 'v1.9.3',
      canaryPercent: 25,
      replicas: 4,
      healthUrl: `${health.url}/healthz`,
    });
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator, phaseId: 'canary' };
    const dry = await f.executor.run({ ...base, dryRun: true });
    expect(dry.state).toBe('succeeded');
    expect(dry.steps.map((s) => `${s.stepId}:${s.status}`)).toEqual([
      'canary-apply:succeeded',
      'canary-rollout:unverifiable',
      'canary-probe:unverifiable',
    ]);
    expect(k8s.deployments.size).toBe(0);
    const receipts = (await f.ledger.all()).filter((r) => r.body.status === 'unverifiable');
    expect(String(receipts[0]?.body.reason)).toMatch(/Deployment api-canary is created by step canary-apply/);
    const live = await f.executor.run({ ...base, dryRun: false });
    expect(live.state).toBe('succeeded');
    expect(live.steps.map((s) => `${s.stepId}:${s.status}`)).toEqual([
      'canary-apply:succeeded',
      'canary-rollout:succeeded',
      'canary-probe:succeeded',
    ]);
  }, 60_000);

  it('a namespace created by an earlier step: the later apply into it is unverifiable in the dry-run, then lands live', async () => {
    const f = await executorFixture({
      actions: createActionRegistry({
        kube: { kubeconfigPath: k8s.kubeconfigPath, context: 'fake', pollMs: 10 },
      }),
    });
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'ledger-api', namespace: 'ledger' },
      spec: { replicas: 1, template: { spec: { containers: [{ name: 'api', image: 'ledger:1' }] } } },
    };
    const plan: Plan = {
      v: 1,
      id: 'first-namespace',
      goal: 'first deploy into a new namespace',
      target: { environment: 'staging', tenant: 'acme', namespace: 'ledger' },
      phases: [
        {
          id: 'main',
          steps: [
            {
              id: 'namespace',
              action: 'k8s.apply',
              params: { manifests: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ledger' } }] },
              risk: 'medium',
              reversible: false,
            },
            {
              id: 'workload',
              action: 'k8s.apply',
              params: { manifests: [deployment] },
              risk: 'medium',
              reversible: false,
            },
          ],
        },
      ],
      preconditions: [],
      gates: [],
      createdBy: 'ops@acme',
      createdAt: '2026-12-01T00:00:00.000Z',
    };
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    const dry = await f.executor.run({ ...base, dryRun: true });
    expect(dry.state).toBe('succeeded');
    expect(dry.steps.map((s) => `${s.stepId}:${s.status}`)).toEqual([
      'namespace:succeeded',
      'workload:unverifiable',
    ]);
    const receipt = (await f.ledger.all()).find((r) => r.body.stepId === 'workload');
    expect(String(receipt?.body.reason)).toMatch(
      /Deployment ledger\/ledger-api \(namespace ledger is created by this plan/,
    );
    const finished = f.events.find((e) => e.type === 'step-finished' && e.stepId === 'namespace');
    expect(finished).toMatchObject({ summary: 'Namespace ledger: create' });
    const live = await f.executor.run({ ...base, dryRun: false });
    expect(live.state).toBe('succeeded');
    expect(k8s.deployments.has('ledger/ledger-api')).toBe(true);
  });
});
