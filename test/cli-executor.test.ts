// `vm mcp executor` end to end on a local data directory: dry-run, a live run held for an approval, resume with
// progress printed and --plan-hash honoured, and cancel (the recovery the HTTP API offered and the CLI did not).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVm } from './helpers/vm.ts';

let dir: string;
let data: string;
let cfg: string;
let planHash = '';

const vm = (...args: string[]) => runVm([...args, '-d', data, '-c', cfg], { timeoutMs: 60_000 });
const plan = (id: string) => ({
  v: 1,
  id,
  goal: 'touch a file behind an approval',
  target: { environment: 'staging', tenant: 'lab' },
  phases: [
    {
      id: 'main',
      gate: { approval: true },
      steps: [
        {
          id: 'touch',
          action: 'shell',
          params: { command: 'touch', args: [join(dir, `${id}.touched`)] },
          risk: 'medium',
          reversible: true,
          rollback: { action: 'shell', params: { command: 'rm', args: ['-f', join(dir, `${id}.touched`)] } },
        },
      ],
    },
  ],
  preconditions: [],
  gates: [],
  createdBy: 'ops',
  createdAt: '2026-12-01T00:00:00.000Z',
});

async function held(id: string): Promise<string> {
  const file = join(dir, `${id}.json`);
  writeFileSync(file, JSON.stringify(plan(id)));
  const stored = JSON.parse((await vm('mcp', 'strategist', '--plan', file, '--json')).stdout) as {
    planHash: string;
  };
  planHash = stored.planHash;
  // Live before a dry-run of this hash conflicts with the recorded state: exit 5, as docs/cli.md says.
  const early = await vm('mcp', 'executor', id, '--plan-hash', planHash, '--live');
  expect(early.code).toBe(5);
  expect(early.stderr).toMatch(/need a successful dry-run/);
  expect((await vm('mcp', 'executor', id, '--plan-hash', planHash)).code).toBe(0);
  const live = await vm('mcp', 'executor', id, '--plan-hash', planHash, '--live', '--json');
  expect(live.code).toBe(1);
  const run = JSON.parse(live.stdout) as { runId: string; hold: { reason: string } };
  expect(run.hold.reason).toBe('approval-required');
  expect(live.stderr).toMatch(/approval-required/);
  return run.runId;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-cli-executor-'));
  data = join(dir, 'data');
  cfg = join(dir, 'node.json');
  // One operator alone on this machine: four eyes is off for the lab tenant.
  writeFileSync(cfg, JSON.stringify({ control: { fourEyes: { tenants: { lab: false } } } }));
  expect((await runVm(['init', '-d', data])).code).toBe(0);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vm mcp executor: resume and cancel', () => {
  it('resumes a held run with an approval, printing its progress; a stale --plan-hash is refused', async () => {
    const runId = await held('resumable');
    const approval = await vm('approve', 'resumable', '--plan-hash', planHash, '--phase', 'main', '--json');
    expect(approval.code).toBe(0);
    const token = (JSON.parse(approval.stdout) as { token: string }).token;
    const stale = await vm('mcp', 'executor', 'resumable', '--plan-hash', 'f'.repeat(64), '--resume', runId);
    expect(stale.code).toBe(5);
    expect(stale.stderr).toMatch(/not the --plan-hash given/);
    const wrongPlan = await vm('mcp', 'executor', 'other', '--plan-hash', planHash, '--resume', runId);
    expect(wrongPlan.code).toBe(2);
    const r = await vm(
      'mcp',
      'executor',
      'resumable',
      '--plan-hash',
      planHash,
      '--resume',
      runId,
      '--approval',
      token,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/▶ run .* \(LIVE\).*\(resumed\)/);
    expect(r.stdout).toMatch(/✓ main\/touch succeeded/);
    expect(r.stdout).toMatch(/■ run .* succeeded/);
  });

  it('cancels a held run (rolling back), and usage errors are clear', async () => {
    const runId = await held('cancelled');
    const both = await vm(
      'mcp',
      'executor',
      'cancelled',
      '--plan-hash',
      planHash,
      '--resume',
      runId,
      '--cancel',
      runId,
    );
    expect(both.code).toBe(2);
    const rerun = await vm('mcp', 'executor', 'cancelled', '--plan-hash', planHash, '--rerun-started');
    expect(rerun.code).toBe(2);
    const c = await vm(
      'mcp',
      'executor',
      'cancelled',
      '--plan-hash',
      planHash,
      '--cancel',
      runId,
      '--reason',
      'not today',
    );
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/cancelled/);
    const again = await vm('mcp', 'executor', 'cancelled', '--plan-hash', planHash, '--resume', runId);
    expect(again.code).toBe(5);
    const missing = await vm('mcp', 'executor', 'cancelled', '--plan-hash', planHash, '--cancel', 'run-nope');
    expect(missing.code).toBe(3);
  });
});

describe('vm mcp executor output', () => {
  it('shows a step held for an approval as waiting, a rolled-back step as a success, an unverifiable one as such', async () => {
    const { eventLine } = await import('@vaultmesh/cli');
    const base = {
      type: 'step-finished' as const,
      runId: 'r',
      planId: 'p',
      dryRun: false,
      phaseId: 'main',
      stepId: 's',
      action: 'shell',
      rollback: false,
      at: '2026-12-01T00:00:00.000Z',
    };
    expect(eventLine({ ...base, status: 'denied', reason: 'approval-required' })).toBe(
      '  ⏸ main/s waits for an approval',
    );
    expect(eventLine({ ...base, status: 'denied', reason: 'policy-denied' })).toBe('  ✗ main/s denied');
    expect(eventLine({ ...base, status: 'rolled-back', rollback: true })).toBe(
      '  ✓ main/s rolled-back (rollback)',
    );
    expect(eventLine({ ...base, status: 'unverifiable' })).toBe('  ? main/s unverifiable');
  });
});
