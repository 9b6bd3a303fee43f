// End to end: the real `vm` binary validates Cedar policy sets, checks requests and runs policy test files,
// with the exit codes docs/cli.md promises (0 valid/allow/all pass, 1 invalid/deny/a case failed, 2 usage).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runVm } from './helpers/vm.ts';

const DEFAULT_TESTS = join(ROOT, 'packages', 'policy', 'policies', 'default.tests.json');

describe('vm policy', () => {
  let work: string;
  let badPolicies: string;
  let goodPolicies: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'vm-policy-'));
    badPolicies = join(work, 'bad.cedar');
    writeFileSync(
      badPolicies,
      [
        '@id("ok") permit (principal, action, resource) when { principal.role == "admin" };',
        '@id("typo") permit (principal, action, resource) when { principal.rol == "admin" };',
        '@id("alien") permit (principal is VaultMesh::Robot, action, resource);',
        '',
      ].join('\n'),
    );
    goodPolicies = join(work, 'viewers.cedar');
    writeFileSync(
      goodPolicies,
      '@id("viewers-read-all") permit (principal, action == VaultMesh::Action::"read", resource) when { principal.role == "viewer" };\n',
    );
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('validate: the shipped default set is valid (exit 0) and names its hash', async () => {
    const r = await runVm(['policy', 'validate']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^valid: .*default\.cedar: 14 policies, policy set hash [0-9a-f]{64}$/m);
  });

  it('validate: an invalid set exits 1 and lists every error with its policy id and line', async () => {
    const r = await runVm(['policy', 'validate', '--policies', badPolicies]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/bad\.cedar:2:\d+: policy "typo": .*attribute `rol`/);
    expect(r.stdout).toMatch(
      /bad\.cedar:3:\d+: policy "alien": .*unrecognized entity type `VaultMesh::Robot`/,
    );
    expect(r.stdout).not.toMatch(/policy "ok"/);
    const json = await runVm(['policy', 'validate', '--policies', badPolicies, '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { ok: boolean; errors: { policyId: string }[] };
    expect(report.ok).toBe(false);
    expect(new Set(report.errors.map((e) => e.policyId))).toEqual(new Set(['typo', 'alien']));
  });

  it('check: an agent may not run a live shell step (exit 1), but may dry-run it (exit 0)', async () => {
    const base = ['policy', 'check', '--principal', 'agent:bot@acme:agent', '--action', 'execute:shell'];
    const deny = await runVm([...base, '--resource', 'plan:p1', '--tenant', 'acme']);
    expect(deny.code).toBe(1);
    expect(deny.stdout).toMatch(/^deny \(no policy applies: default deny\)$/m);
    const allow = await runVm([
      ...base,
      '--resource',
      'plan:p1',
      '--tenant',
      'acme',
      '--context',
      '{"dryRun":true}',
      '--json',
    ]);
    expect(allow.code).toBe(0);
    expect(JSON.parse(allow.stdout)).toMatchObject({
      decision: 'allow',
      reasons: ['agent-execute-safe'],
      errors: [],
      policySetHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('check: residency denies with the forbid policy as the reason; --policies selects another set', async () => {
    const r = await runVm([
      'policy',
      'check',
      '--principal',
      'person:alice:admin',
      '--action',
      'route',
      '--resource',
      'provider:vast',
      '--tenant',
      'acme',
      '--region',
      'us-east-1',
      '--context',
      '{"residency":"eu"}',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^deny \(residency-eu\)$/m);
    const other = await runVm([
      'policy',
      'check',
      '--principal',
      'person:val:viewer',
      '--principal-tenant',
      '*',
      '--action',
      'read',
      '--resource',
      'ledger:main',
      '--tenant',
      'globex',
      '--policies',
      goodPolicies,
    ]);
    expect(other.code).toBe(0);
    expect(other.stdout).toMatch(/^allow \(viewers-read-all\)$/m);
  });

  it('check: a malformed request is a deny with its error; bad flags are usage errors (exit 2)', async () => {
    const r = await runVm([
      'policy',
      'check',
      '--principal',
      'robot:r2:admin',
      '--action',
      'plan',
      '--resource',
      'plan:p1',
      '--tenant',
      'acme',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^deny \(error:request\)$/m);
    expect(r.stdout).toMatch(/error: malformed request: principal\.type/);
    const usage = await runVm([
      'policy',
      'check',
      '--principal',
      'alice',
      '--action',
      'plan',
      '--resource',
      'plan:p1',
      '--tenant',
      'acme',
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--principal must be type:id:role/);
    const badContext = await runVm([
      'policy',
      'check',
      '--principal',
      'person:alice:admin',
      '--action',
      'plan',
      '--resource',
      'plan:p1',
      '--tenant',
      'acme',
      '--context',
      '{nope',
    ]);
    expect(badContext.code).toBe(2);
  });

  it('test: the shipped default test file passes (exit 0)', async () => {
    const r = await runVm(['policy', 'test', DEFAULT_TESTS]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: \d+ passed, 0 failed$/m);
  });

  it('test: a failing case exits 1 and is reported with why; an invalid policy file exits 1', async () => {
    const file = join(work, 'mixed.tests.json');
    const request = {
      principal: { type: 'person', id: 'v', role: 'viewer', tenant: 'acme' },
      action: 'read',
      resource: { type: 'ledger', id: 'main', tenant: 'acme' },
    };
    writeFileSync(
      file,
      JSON.stringify({
        cases: [
          { name: 'viewer reads', request, expect: 'allow', reasons: ['viewer-read'] },
          {
            name: 'viewer approves',
            request: { ...request, action: 'approve', resource: { type: 'plan', id: 'p', tenant: 'acme' } },
            expect: 'allow',
          },
        ],
      }),
    );
    const r = await runVm(['policy', 'test', file, DEFAULT_TESTS, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      files: { failed: number; results: { name: string; pass: boolean; message?: string }[] }[];
    };
    expect(report.ok).toBe(false);
    expect(report.files.map((f) => f.failed)).toEqual([1, 0]);
    expect(report.files[0]!.results[1]).toMatchObject({
      name: 'viewer approves',
      pass: false,
      message: 'expected allow, got deny',
    });
    const invalid = await runVm(['policy', 'test', file, '--policies', badPolicies]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/policy set refused: \d+ errors/);
    const missing = await runVm(['policy', 'test', join(work, 'nope.json')]);
    expect(missing.code).toBe(3);
  });
});
