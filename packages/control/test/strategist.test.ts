// The built-in strategist: deterministic plans for intents, every one valid against the plan schema and the
// built-in actions registry.
import { canonicalize } from '@vaultmesh/ledger';
import { describe, expect, it } from 'vitest';
import {
  ControlError,
  checkPlanActions,
  createActionRegistry,
  createBuiltinStrategist,
  createStrategist,
  planIntent,
  type Strategist,
} from '../src/index.ts';

const clock = () => Date.parse('2025-06-01T12:00:00.000Z');
const common = { tenant: 'acme', environment: 'production', namespace: 'shop' };
const deploy = {
  kind: 'deploy',
  ...common,
  service: 'api',
  image: 'registry.example/shop/api',
  version: 'v2.0.0',
  currentVersion: 'v1.9.3',
  canaryPercent: 25,
  replicas: 8,
  healthUrl: 'https://api.shop.example/healthz',
};
const intents = {
  deploy,
  rollback: {
    kind: 'rollback',
    ...common,
    service: 'api',
    image: 'registry.example/shop/api',
    toVersion: 'v1.9.3',
    fromVersion: 'v2.0.0',
  },
  scale: { kind: 'scale', ...common, service: 'api', replicas: 12, currentReplicas: 8 },
  'rotate-key': { kind: 'rotate-key', ...common, keyName: 'node-key', dataDir: '/var/lib/vaultmesh' },
  'route-gpu-job': {
    kind: 'route-gpu-job',
    ...common,
    jobId: 'train-42',
    image: 'ghcr.io/acme/train:1',
    gpu: { model: 'H100', count: 8 },
  },
};

describe('built-in strategist', () => {
  it("plans a deploy with the service's own manifests: the others applied first, the canary from its Deployment", () => {
    const own = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api', namespace: 'shop', labels: { 'app.kubernetes.io/name': 'api' }, uid: 'x' },
      spec: {
        replicas: 8,
        selector: { matchLabels: { 'app.kubernetes.io/name': 'api' } },
        template: {
          metadata: { labels: { 'app.kubernetes.io/name': 'api' } },
          spec: {
            securityContext: { runAsNonRoot: true },
            containers: [
              {
                name: 'api',
                image: 'registry.example/shop/api:v1.9.3',
                readinessProbe: { httpGet: { path: '/readyz' } },
              },
              { name: 'sidecar', image: 'envoy:1' },
            ],
          },
        },
      },
      status: { replicas: 8 },
    };
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'shop' } };
    const pdb = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'api' } };
    const p = planIntent({ ...deploy, manifests: [own, service, pdb] }, { now: clock });
    expect(p.phases.map((ph) => ph.id)).toEqual(['preflight', 'manifests', 'canary', 'full']);
    const apply = p.phases[1]!.steps[0]!;
    expect(apply).toMatchObject({
      action: 'k8s.apply',
      reversible: false,
      params: { manifests: [service, pdb] },
    });
    interface Canary {
      metadata: Record<string, unknown>;
      status?: unknown;
      spec: {
        replicas: number;
        selector: { matchLabels: Record<string, string> };
        template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
      };
    }
    const canary = (p.phases[2]!.steps[0]!.params as { manifests: Canary[] }).manifests[0]!;
    expect(canary.metadata).toEqual({
      name: 'api-canary',
      namespace: 'shop',
      labels: { 'app.kubernetes.io/name': 'api', track: 'canary' },
    });
    expect(canary.status).toBeUndefined();
    expect(canary.spec.replicas).toBe(2);
    expect(canary.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'api', track: 'canary' });
    expect(canary.spec.template.metadata.labels.track).toBe('canary');
    expect(canary.spec.template.spec.securityContext).toEqual({ runAsNonRoot: true });
    expect(canary.spec.template.spec.containers).toEqual([
      {
        name: 'api',
        image: 'registry.example/shop/api:v2.0.0',
        readinessProbe: { httpGet: { path: '/readyz' } },
      },
      { name: 'sidecar', image: 'envoy:1' },
    ]);
    expect(own.metadata.name).toBe('api'); // the intent's objects are not changed
    expect(checkPlanActions(p, createActionRegistry())).toEqual([]);
    expect(() => planIntent({ ...deploy, manifests: [{ kind: 'Service' }] }, { now: clock })).toThrow(
      ControlError,
    );
  });

  it('gives a byte-identical plan for the same intent and clock, and ids derived from the intent', () => {
    const a = planIntent(deploy, { now: clock });
    const b = planIntent(JSON.parse(JSON.stringify(deploy)), { now: clock });
    expect(canonicalize(a)).toBe(canonicalize(b));
    expect(a.id).toMatch(/^deploy-api-[0-9a-f]{12}$/);
    expect(a.createdAt).toBe('2025-06-01T12:00:00.000Z');
    expect(planIntent({ ...deploy, version: 'v2.0.1' }, { now: clock }).id).not.toBe(a.id);
  });

  it('plans a deploy as preflight probe, canary (apply, rollout, probe) and an approved full rollout, each undoable', () => {
    const p = planIntent(deploy, { now: clock });
    expect(p.phases.map((x) => x.id)).toEqual(['preflight', 'canary', 'full']);
    expect(p.phases[1]!.steps.map((s) => s.action)).toEqual(['k8s.apply', 'k8s.rollout', 'probe']);
    const manifest = (p.phases[1]!.steps[0]!.params as { manifests: { spec: { replicas: number } }[] })
      .manifests[0]!;
    expect(manifest.spec.replicas).toBe(2); // 25% of 8
    expect(p.phases[2]!.gate).toEqual({ approval: true }); // production
    const rollout = p.phases[2]!.steps[0]!;
    expect(rollout.rollback).toEqual({
      action: 'k8s.rollout',
      params: { deployment: 'api', container: 'api', image: 'registry.example/shop/api:v1.9.3' },
    });
    for (const s of p.phases.flatMap((x) => x.steps))
      expect(s.readOnly === true || s.rollback !== undefined).toBe(true);
    expect(planIntent({ ...deploy, environment: 'staging' }, { now: clock }).phases[2]!.gate).toBeUndefined();
  });

  it('plans every intent kind into a plan whose actions and params the registry accepts', () => {
    const registry = createActionRegistry();
    for (const [kind, intent] of Object.entries(intents)) {
      const p = planIntent(intent, { now: clock });
      expect(p.id.startsWith(kind)).toBe(true);
      expect(checkPlanActions(p, registry)).toEqual([]);
    }
    const rk = planIntent(intents['rotate-key'], { now: clock });
    expect(rk.phases[0]!.gate).toEqual({ approval: true });
    expect(rk.phases[0]!.steps[1]).toMatchObject({ action: 'shell', risk: 'critical', reversible: false });
    const route = planIntent(intents['route-gpu-job'], { now: clock });
    expect(route.phases[0]!.steps[0]).toMatchObject({
      action: 'route.submit',
      params: { jobId: 'train-42', gpu: { count: 8 } },
    });
  });

  it('refuses invalid intents naming the problems, and free-text goals', async () => {
    expect(() => planIntent({ ...deploy, canaryPercent: 0, extra: 1 })).toThrow(
      /intent is invalid: .*canaryPercent.*Unrecognized key: "extra"/,
    );
    const s = createBuiltinStrategist({ now: clock });
    await expect(
      s.plan({ goal: 'make it faster', target: { environment: 'x', tenant: 'acme' } }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('createStrategist sends intents to the built-in planner and free-text goals to the AI one, off by default', async () => {
    const off = createStrategist({ now: clock });
    expect((await off.plan({ intent: intents.scale })).phases[0]!.id).toBe('scale');
    const goal = { goal: 'scale api', target: { environment: 'production', tenant: 'acme' } };
    await expect(off.plan(goal)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const ai: Strategist = { name: 'ai', plan: async () => planIntent(intents.scale, { now: clock }) };
    const on = createStrategist({ now: clock, ai });
    expect((await on.plan(goal)).id).toMatch(/^scale-api-/);
    await expect(off.plan(goal)).rejects.toBeInstanceOf(ControlError);
  });
});
