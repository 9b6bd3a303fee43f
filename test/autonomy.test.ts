// End to end: `vm autonomy` and `vm tripwire check` as the real binary, on a node made by `vm init`. Tests run in
// order and build on each other (init → set → status → simulate → approve → enact → replay and tamper refusals).
// `vm tripwire check` talks to a fake Prometheus on 127.0.0.1 answering the documented /api/v1/query shapes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVm, runVmJson } from './helpers/vm.ts';

const SCENARIO = `# T2 for acme: reads and reversible writes run alone
tenant: acme
tier: T2
ops:
  - { action: http.get, readOnly: true, reversible: true, risk: low, outcome: success }
  - { action: k8s.scale, readOnly: false, reversible: true, risk: medium, outcome: success }
  - { action: k8s.scale, readOnly: false, reversible: true, risk: medium, outcome: failure, compensates: true }
  - { action: db.migrate, readOnly: false, reversible: false, risk: high, outcome: success }
  - { action: stats.sum, readOnly: false, reversible: false, aggregation: true, risk: low, outcome: success }
expect:
  successRate: { min: 0.8 }
  compensationRate: { max: 0.2 }
`;

interface Receipt {
  kind: string;
  tenant: string;
  body: Record<string, unknown>;
}

describe('vm autonomy end to end', () => {
  let work: string;
  let data: string;
  let scenario: string;
  let result: string;
  let token: string;
  let digest: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vm-autonomy-'));
    data = join(work, 'data');
    scenario = join(work, 'scenario.yaml');
    result = join(work, 'result.json');
    writeFileSync(scenario, SCENARIO);
    const init = await runVm(['init', '-d', data]);
    expect(init.code, init.stderr).toBe(0);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('shows a tenant without settings as T0 (manual)', async () => {
    const s = await runVmJson<{ tier: string; source: string }>([
      'autonomy',
      'status',
      '-d',
      data,
      '--tenant',
      'acme',
    ]);
    expect(s).toMatchObject({ tier: 'T0', source: 'default' });
  });

  it('sets a tier with a decision receipt tagged autonomy', async () => {
    const set = await runVmJson<{ tier: string; requireHitl: boolean; receipt: { index: number } }>([
      'autonomy',
      'set',
      '-d',
      data,
      '--tenant',
      'globex',
      '--tier',
      'T3',
      '--require-hitl',
      '--rationale',
      'aggregations only, with a human on writes',
    ]);
    expect(set).toMatchObject({ tier: 'T3', requireHitl: true });
    const shown = await runVmJson<{ receipt: Receipt }>([
      'memory',
      'show',
      String(set.receipt.index),
      '-d',
      data,
    ]);
    expect(shown.receipt).toMatchObject({
      kind: 'decision',
      tenant: 'globex',
      body: {
        tags: ['autonomy'],
        tenant: 'globex',
        tier: 'T3',
        requireHitl: true,
        rationale: 'aggregations only, with a human on writes',
      },
    });
    const status = await runVm(['autonomy', 'status', '-d', data]);
    expect(status.stdout).toMatch(/globex\s+T3\s+yes/);
  });

  it('refuses an unknown tier as bad usage (exit 2)', async () => {
    const r = await runVm(['autonomy', 'set', '-d', data, '--tenant', 'acme', '--tier', 'T9']);
    expect(r.code).toBe(2);
  });

  it('simulates a scenario file and writes the result', async () => {
    const r = await runVm(['autonomy', 'simulate', scenario, '--out', result]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('3 automatic, 2 need approval');
    expect(r.stdout).toContain('PASSED');
    const sim = JSON.parse(readFileSync(result, 'utf8')) as { digest: string; passed: boolean };
    expect(sim.passed).toBe(true);
    digest = sim.digest;
    expect(r.stdout).toContain(digest);
  });

  it('exits 1 when the expectations fail', async () => {
    const strict = join(work, 'strict.yaml');
    writeFileSync(strict, SCENARIO.replace('min: 0.8', 'min: 0.95'));
    const r = await runVm(['autonomy', 'simulate', strict, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ passed: false });
    expect(r.stderr).toContain('did not meet its expectations');
  });

  it('approves the simulation with a single-use token, printed once', async () => {
    const r = await runVm(['autonomy', 'approve', '-d', data, '--from-sim', result]);
    expect(r.code, r.stderr).toBe(0);
    token = /token \(shown once, single use\): (vmae_\S+)/.exec(r.stdout)![1]!;
    expect(r.stdout).toContain(digest);
  });

  it('refuses to enact a result edited after the approval', async () => {
    const edited = join(work, 'edited.json');
    const sim = JSON.parse(readFileSync(result, 'utf8')) as { scenario: { tier: string } };
    sim.scenario.tier = 'T3';
    writeFileSync(edited, JSON.stringify(sim));
    const r = await runVm(['autonomy', 'enact', '-d', data, '--approval-token', token, '--from-sim', edited]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('does not match its digest');
  });

  it('enacts the approved tier once and records it', async () => {
    const out = await runVmJson<{
      tier: string;
      previousTier: string;
      simDigest: string;
      receipt: { index: number };
    }>(['autonomy', 'enact', '-d', data, '--approval-token', token, '--from-sim', result]);
    expect(out).toMatchObject({ tier: 'T2', previousTier: 'T0', simDigest: digest });
    const shown = await runVmJson<{ receipt: Receipt }>([
      'memory',
      'show',
      String(out.receipt.index),
      '-d',
      data,
    ]);
    expect(shown.receipt.body).toMatchObject({ tags: ['autonomy'], tier: 'T2', simDigest: digest });
    const again = await runVm([
      'autonomy',
      'enact',
      '-d',
      data,
      '--approval-token',
      token,
      '--from-sim',
      result,
    ]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('already used');
    const s = await runVmJson<{ tier: string; source: string }>([
      'autonomy',
      'status',
      '-d',
      data,
      '-t',
      'acme',
    ]);
    expect(s).toMatchObject({ tier: 'T2', source: 'stored' });
  });

  it('leaves a log that verifies', async () => {
    const r = await runVm(['audit', 'verify', '-d', data]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});

describe('vm tripwire check end to end', () => {
  let work: string;
  let rules: string;
  let server: Server;
  let prom: string;
  let errorRatio = '0.0144';

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vm-tripwire-'));
    rules = join(work, 'rules.yaml');
    writeFileSync(
      rules,
      `rules:
  - id: slo-fast-burn
    kind: burn-rate
    objective: 0.999
    burnRate: 14.4
    query: 'sum(rate(http_requests_total{code=~"5..",tenant="$tenant"}[$window])) / sum(rate(http_requests_total{tenant="$tenant"}[$window]))'
    long: 1h
    short: 5m
    action: halt
`,
    );
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: 'success',
          data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, errorRatio] }] },
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    prom = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(work, { recursive: true, force: true });
  });

  it('validates a rules file without a server', async () => {
    const r = await runVm(['tripwire', 'check', '--rules', rules]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 valid rule(s)');
  });

  it('exits 1 when the fast burn fires, 0 when it does not', async () => {
    const fired = await runVm([
      'tripwire',
      'check',
      '--rules',
      rules,
      '--prometheus',
      prom,
      '-t',
      'acme',
      '--json',
    ]);
    expect(fired.code).toBe(1);
    expect(JSON.parse(fired.stdout)).toMatchObject({
      fired: 1,
      results: [{ id: 'slo-fast-burn', fired: true }],
    });
    errorRatio = '0.001';
    const calm = await runVm(['tripwire', 'check', '--rules', rules, '--prometheus', prom, '-t', 'acme']);
    expect(calm.code, calm.stderr).toBe(0);
    expect(calm.stdout).toMatch(/slo-fast-burn\s+ok/);
  });

  it('fails closed when Prometheus is unreachable', async () => {
    const r = await runVm([
      'tripwire',
      'check',
      '--rules',
      rules,
      '--prometheus',
      'http://127.0.0.1:1',
      '-t',
      'acme',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FIRED halt');
  });
});
