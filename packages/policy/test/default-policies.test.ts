// The shipped default policy set (policies/default.cedar): every role × action, tenant scope, and residency.
import type { PolicyRequest, Principal } from '@vaultmesh/types';
import { describe, expect, it } from 'vitest';
import { createPolicyEngine, readDefaultPolicies } from '../src/index.ts';

// A generous limit: these tests check outcomes, and CI's shared cores can stall any one decision.
const engine = createPolicyEngine({ policies: readDefaultPolicies(), timeoutMs: 10_000 });

type Role = Principal['role'];
const ROLES: Role[] = ['admin', 'operator', 'agent', 'auditor', 'viewer'];

/** The actions of the matrix: an action string, the resource it is asked about, and its context. */
const ACTIONS: Record<
  string,
  { action: string; resource: PolicyRequest['resource']; context?: PolicyRequest['context'] }
> = {
  plan: { action: 'plan', resource: { type: 'plan', id: 'p-1', tenant: 'acme', environment: 'prod' } },
  'execute live shell': { action: 'execute:shell', resource: { type: 'plan', id: 'p-1', tenant: 'acme' } },
  'execute dry-run': {
    action: 'execute:k8s.apply',
    resource: { type: 'plan', id: 'p-1', tenant: 'acme' },
    context: { dryRun: true },
  },
  'execute low-risk read-only probe': {
    action: 'execute:probe',
    resource: { type: 'plan', id: 'p-1', tenant: 'acme' },
    context: { risk: 'low', readOnly: true },
  },
  approve: { action: 'approve', resource: { type: 'plan', id: 'p-1', tenant: 'acme' } },
  route: {
    action: 'route',
    resource: { type: 'provider', id: 'akash', tenant: 'acme', region: 'eu-west-1' },
  },
  read: { action: 'read', resource: { type: 'ledger', id: 'main', tenant: 'acme' } },
  record: { action: 'record', resource: { type: 'ledger', id: 'main', tenant: 'acme' } },
  tool: { action: 'tool:kubectl-get', resource: { type: 'tool', id: 'kubectl-get', tenant: 'acme' } },
  cancel: { action: 'cancel', resource: { type: 'plan', id: 'p-1', tenant: 'acme' } },
  'autonomy:set': {
    action: 'autonomy:set',
    resource: { type: 'tenant', id: 'acme', tenant: 'acme' },
    context: { tier: 'T1', requireHitl: true },
  },
};

/** Expected outcome per role and action: the determining policy id, or null for Cedar's default deny. */
const MATRIX: Record<Role, Record<keyof typeof ACTIONS, string | null>> = {
  admin: {
    plan: 'admin',
    'execute live shell': 'admin',
    'execute dry-run': 'admin',
    'execute low-risk read-only probe': 'admin',
    approve: 'admin',
    route: 'admin',
    read: 'admin',
    record: 'admin',
    tool: 'admin',
    cancel: 'admin',
    'autonomy:set': 'admin',
  },
  operator: {
    plan: 'operator',
    'execute live shell': 'operator',
    'execute dry-run': 'operator',
    'execute low-risk read-only probe': 'operator',
    approve: 'operator',
    route: 'operator',
    read: null,
    record: null,
    tool: 'operator',
    cancel: 'operator',
    'autonomy:set': null,
  },
  agent: {
    plan: 'agent',
    'execute live shell': null,
    'execute dry-run': 'agent-execute-safe',
    'execute low-risk read-only probe': 'agent-execute-safe',
    approve: null,
    route: 'agent',
    read: 'agent',
    record: 'agent',
    tool: 'agent',
    cancel: null,
    'autonomy:set': null,
  },
  auditor: {
    plan: null,
    'execute live shell': null,
    'execute dry-run': null,
    'execute low-risk read-only probe': null,
    approve: null,
    route: null,
    read: 'auditor-read',
    record: null,
    tool: null,
    cancel: null,
    'autonomy:set': null,
  },
  viewer: {
    plan: null,
    'execute live shell': null,
    'execute dry-run': null,
    'execute low-risk read-only probe': null,
    approve: null,
    route: null,
    read: 'viewer-read',
    record: null,
    tool: null,
    cancel: null,
    'autonomy:set': null,
  },
};

const principal = (role: Role, tenant = 'acme'): Principal => ({
  type: role === 'agent' ? 'agent' : 'person',
  id: `${role}@${tenant}`,
  role,
  tenant,
});

function ask(role: Role, name: string, over: { tenant?: string; resourceTenant?: string } = {}) {
  const a = ACTIONS[name]!;
  return engine.decideSync({
    principal: principal(role, over.tenant),
    action: a.action,
    resource: { ...a.resource, tenant: over.resourceTenant ?? a.resource.tenant },
    context: a.context ?? {},
  });
}

const cells = ROLES.flatMap((role) =>
  Object.keys(ACTIONS).map((name) => [role, name, MATRIX[role][name]!] as [Role, string, string | null]),
);

describe('default policy set: role × action in the principal’s own tenant', () => {
  it.each(cells)('%s / %s → %s', (role, name, policy) => {
    const d = ask(role, name);
    expect(d.errors).toEqual([]);
    expect(d.decision).toBe(policy ? 'allow' : 'deny');
    expect(d.reasons).toEqual(policy ? [policy] : []);
  });
});

describe('default policy set: tenant scope', () => {
  it.each(cells)('%s / %s is denied in another tenant', (role, name) => {
    expect(ask(role, name, { resourceTenant: 'globex' })).toMatchObject({ decision: 'deny', reasons: [] });
  });

  it.each(cells)(
    'a "*" %s / %s: only admins (anything) and auditors or viewers (read) cross tenants',
    (role, name) => {
      const crosses = role === 'admin' || ((role === 'auditor' || role === 'viewer') && name === 'read');
      const d = ask(role, name, { tenant: '*', resourceTenant: 'globex' });
      expect(d.decision).toBe(crosses ? 'allow' : 'deny');
    },
  );
});

describe('default policy set: agents execute only dry runs and low-risk read-only steps', () => {
  const agentExec = (stepAction: string, context: PolicyRequest['context']) =>
    engine.decideSync({
      principal: principal('agent'),
      action: `execute:${stepAction}`,
      resource: { type: 'plan', id: 'p-1', tenant: 'acme' },
      context,
    }).decision;

  it.each(['probe', 'wait', 'http'])('allows a live low-risk read-only %s step', (kind) => {
    expect(agentExec(kind, { risk: 'low', readOnly: true })).toBe('allow');
  });
  it.each(['shell', 'ledger.record', 'k8s.apply', 'k8s.rollout', 'route.submit'])(
    'denies a live %s step even when it claims to be low-risk and read-only, and allows its dry run',
    (kind) => {
      expect(agentExec(kind, { risk: 'low', readOnly: true })).toBe('deny');
      expect(agentExec(kind, { dryRun: true })).toBe('allow');
    },
  );
  it('denies a live probe that is not low-risk, not read-only, or does not say', () => {
    expect(agentExec('probe', { risk: 'medium', readOnly: true })).toBe('deny');
    expect(agentExec('probe', { risk: 'low', readOnly: false })).toBe('deny');
    expect(agentExec('probe', { risk: 'low' })).toBe('deny');
    expect(agentExec('probe', {})).toBe('deny');
  });
});

describe('default policy set: residency', () => {
  const route = (region: string, residency?: string) =>
    engine.decideSync({
      principal: principal('admin'),
      action: 'route',
      resource: { type: 'provider', id: 'prov', tenant: 'acme', region },
      context: residency === undefined ? {} : { residency },
    });

  it.each([
    ['eu', 'eu-west-1', 'allow'],
    ['eu', 'eu-central-1', 'allow'],
    ['eu', 'us-east-1', 'deny'],
    ['eu', 'europe-1', 'deny'],
    ['us', 'us-east-1', 'allow'],
    ['us', 'eu-west-1', 'deny'],
    ['ap', 'ap-south-1', 'allow'],
    ['ca', 'us-east-1', 'deny'],
  ])('residency %s and region %s → %s', (residency, region, expected) => {
    const d = route(region, residency);
    expect(d.decision).toBe(expected);
    if (expected === 'deny') expect(d.reasons).toEqual([`residency-${residency}`]);
  });

  it('denies an unknown residency whatever the region, and beats an admin allow', () => {
    expect(route('eu-west-1', 'mars')).toMatchObject({ decision: 'deny', reasons: ['residency-unknown'] });
  });

  it('puts no constraint without a residency, or on a resource without a region', () => {
    expect(route('us-east-1').decision).toBe('allow');
    const ledger = engine.decideSync({
      principal: principal('auditor'),
      action: 'read',
      resource: { type: 'ledger', id: 'main', tenant: 'acme' },
      context: { residency: 'eu' },
    });
    expect(ledger).toMatchObject({ decision: 'allow', reasons: ['auditor-read'] });
  });

  it('denies routing to a provider with no region (a provider must declare one)', () => {
    const d = engine.decideSync({
      principal: principal('admin'),
      action: 'route',
      resource: { type: 'provider', id: 'prov', tenant: 'acme' },
      context: {},
    });
    expect(d).toMatchObject({ decision: 'deny', reasons: ['error:request'] });
  });
});
