// What every Spawn template writes besides its code, checked with the ecosystem's own tools, for every template and
// option: the Kubernetes manifests against the Kubernetes OpenAPI schemas (kubernetes-models, and
// @kubernetes-models/keda for the ScaledObject), the alert rules with `promtool check rules` (Debian's prometheus),
// the Dockerfile with dockerfile-utils (the parser of the Docker language server), the Grafana dashboard and CI
// workflow as data, and the deploy intent through the built-in strategist. Images cannot be built on these
// machines (no Docker daemon), so the Dockerfile is checked, not built.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { planIntent } from '@vaultmesh/control';
import { render, writeFiles, type Rendered } from '@vaultmesh/spawn';
import { validate as validateDockerfile } from 'dockerfile-utils';
import { load } from 'js-yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { afterAll, describe, expect, it } from 'vitest';
import { runVm } from './helpers/vm.ts';

const VARIANTS: [string, Record<string, unknown>][] = [
  ['service', {}],
  ['service', { db: 'postgres', port: 8443, replicas: 3, namespace: 'shop' }],
  ['worker', { queue: 'nats' }],
  ['worker', { queue: 'rabbitmq', maxReplicas: 30 }],
  ['worker', { queue: 'redis' }],
  ['mcp-server', {}],
];

const tmp = mkdtempSync(join(tmpdir(), 'vm-spawn-artifacts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool)
  console.warn('SKIPPED: promtool is not installed (apt-get install prometheus): alert rules not checked');

/** Each Kubernetes kind the templates write → its schema-validating model. */
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  Deployment,
  Service,
  PodDisruptionBudget,
  NetworkPolicy,
  ScaledObject,
};

function yaml(r: Rendered, path: string): Record<string, unknown> {
  return load(r.files.get(path)!) as Record<string, unknown>;
}

describe.each(VARIANTS)('spawn %s %j', (template, params) => {
  const r = render({ template, service: `svc-${template}`, params });

  it('writes Kubernetes manifests that validate against the Kubernetes OpenAPI schemas', () => {
    const kustomization = yaml(r, 'k8s/kustomization.yaml') as { resources: string[]; namespace: string };
    expect(kustomization.resources.length).toBeGreaterThanOrEqual(4);
    const kinds: string[] = [];
    for (const file of kustomization.resources) {
      const obj = yaml(r, `k8s/${file}`) as { kind: string; metadata: { name: string; namespace: string } };
      const Model = MODELS[obj.kind];
      expect(Model, `${file}: kind ${obj.kind}`).toBeDefined();
      expect(() => new Model!(obj as never).validate(), file).not.toThrow();
      expect(obj.metadata).toMatchObject({ name: r.service, namespace: kustomization.namespace });
      kinds.push(obj.kind);
    }
    expect(kinds).toEqual(
      expect.arrayContaining(['Deployment', 'Service', 'PodDisruptionBudget', 'NetworkPolicy']),
    );
    expect(kinds.includes('ScaledObject')).toBe(template === 'worker');
    const dep = yaml(r, 'k8s/deployment.yaml') as {
      spec: { template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } };
    };
    const pod = dep.spec.template.spec;
    const c = pod.containers[0]!;
    expect(pod['securityContext']).toMatchObject({ runAsNonRoot: true });
    expect(c).toHaveProperty('readinessProbe.httpGet.path', '/readyz');
    expect(c).toHaveProperty('livenessProbe.httpGet.path', '/healthz');
    expect(c).toHaveProperty('resources.limits.memory');
    expect(c).toHaveProperty('securityContext.readOnlyRootFilesystem', true);
  });

  it('refuses a broken manifest (the validation is real)', () => {
    const dep = yaml(r, 'k8s/deployment.yaml') as { spec: Record<string, unknown> };
    dep.spec['replicas'] = 'two';
    expect(() => new Deployment(dep as never).validate()).toThrow(/replicas must be integer/);
  });

  it.skipIf(!promtool)('writes alert rules promtool accepts', () => {
    const dir = join(tmp, `${template}-${JSON.stringify(params).replace(/\W/g, '')}`);
    writeFiles(dir, new Map([['alerts.yaml', r.files.get('monitoring/alerts.yaml')!]]));
    const out = execFileSync('promtool', ['check', 'rules', join(dir, 'alerts.yaml')], { encoding: 'utf8' });
    expect(out).toMatch(/SUCCESS: [4-9] rules found/);
  });

  it('writes a multi-stage Dockerfile that runs as non-root with a HEALTHCHECK, and parses cleanly', () => {
    const text = r.files.get('Dockerfile')!;
    // LSP severities: 1 error, 2 warning (3 information, 4 hint).
    const problems = validateDockerfile(text).filter((d) => d.severity === 1 || d.severity === 2);
    expect(problems.map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    expect(text.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^HEALTHCHECK /m);
    expect(validateDockerfile('FROM node:20\nCOPY\n').length).toBeGreaterThan(0);
  });

  it('writes a Grafana dashboard and a CI workflow that are well-formed', () => {
    const dash = JSON.parse(r.files.get('monitoring/dashboard.json')!) as {
      uid: string;
      panels: { id: number; targets: { expr: string }[] }[];
    };
    expect(dash.uid).toBe(r.service);
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length);
    for (const p of dash.panels) for (const t of p.targets) expect(t.expr).toContain(`job="${r.service}"`);
    const ci = yaml(r, '.github/workflows/ci.yml') as { jobs: Record<string, { steps: { run?: string }[] }> };
    expect(ci.jobs['test']!.steps.map((s) => s.run)).toEqual(expect.arrayContaining(['npm ci', 'npm test']));
  });

  it('writes a deploy intent the strategist plans, with its manifests: the canary is its own Deployment', () => {
    const intent = JSON.parse(r.files.get('vaultmesh/deploy-intent.json')!) as Record<string, unknown>;
    const now = () => Date.parse('2026-01-01T00:00:00Z');
    const bare = planIntent(intent, { now });
    expect(bare.target).toMatchObject({ tenant: 'default', environment: 'production' });
    expect(bare.phases.flatMap((p) => p.steps.map((s) => s.action))).toContain('k8s.rollout');
    const kustomization = yaml(r, 'k8s/kustomization.yaml') as { resources: string[] };
    const manifests = kustomization.resources.map((f) => yaml(r, `k8s/${f}`));
    const plan = planIntent({ ...intent, manifests }, { now });
    expect(plan.phases.map((p) => p.id)).toEqual(['preflight', 'manifests', 'canary', 'full']);
    const applied = (plan.phases[1]!.steps[0]!.params as { manifests: { kind: string }[] }).manifests;
    expect(applied.map((m) => m.kind)).not.toContain('Deployment');
    const canary = (plan.phases[2]!.steps[0]!.params as { manifests: Record<string, unknown>[] })
      .manifests[0]!;
    expect(() => new Deployment(canary as never).validate()).not.toThrow();
    expect(canary).toHaveProperty('metadata.name', `${r.service}-canary`);
    expect(canary).toHaveProperty('spec.template.spec.containers.0.readinessProbe.httpGet.path', '/readyz');
    expect(canary).toHaveProperty('spec.template.spec.containers.0.image', `${r.params['image']}:0.1.0`);
  });
});

describe('vm mcp strategist --intent … --manifests k8s/ on a spawned tree', () => {
  it('stores a plan whose first phase applies the manifests and whose canary is the generated Deployment', async () => {
    const dir = join(tmp, 'cli');
    const r = render({ template: 'service', service: 'cli-svc' });
    writeFiles(join(dir, 'tree'), r.files);
    expect((await runVm(['init', '-d', join(dir, 'data')])).code).toBe(0);
    const tree = join(dir, 'tree');
    const strategist = (manifests: string, ...more: string[]) =>
      runVm([
        'mcp',
        'strategist',
        '-d',
        join(dir, 'data'),
        '--intent',
        join(tree, 'vaultmesh/deploy-intent.json'),
        '--manifests',
        manifests,
        ...more,
      ]);
    const out = await strategist(join(tree, 'k8s'), '--json');
    expect(out.code, out.stderr).toBe(0);
    const stored = JSON.parse(out.stdout) as {
      plan: { phases: { id: string; steps: { action: string }[] }[] };
    };
    expect(stored.plan.phases.map((p) => p.id)).toEqual(['preflight', 'manifests', 'canary', 'full']);
    const bad = await strategist(join(tree, 'README.md'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/apiVersion, kind and metadata\.name|neither valid JSON nor YAML/);
  });
});
