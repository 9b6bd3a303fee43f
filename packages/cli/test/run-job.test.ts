// The job file of `vm run` and the plan it becomes: validated like any plan, governed as irreversible writes.
import { parsePlan, type RunResult } from '@vaultmesh/control';
import { describe, expect, it } from 'vitest';
import { CliError } from '../src/exit.ts';
import { jobPlan, parseJobFile } from '../src/commands/run/job.ts';
import { jobReport, jobStatus } from '../src/commands/run/outcome.ts';

const text = JSON.stringify({
  id: 'deploy-42',
  steps: [
    { name: 'build', run: ['make', 'all'], timeoutMs: 5000 },
    { name: 'test', run: ['make', 'test'] },
  ],
});

describe('vm run job files', () => {
  it('becomes a plan with one phase run of irreversible shell steps that the plan schema accepts', () => {
    const job = parseJobFile(text, 'job.json');
    const plan = jobPlan(job, { tenant: 'ops', createdBy: 'cli:alice', now: new Date(0) });
    expect(parsePlan(plan)).toEqual(plan);
    expect(plan).toMatchObject({
      id: 'deploy-42',
      goal: 'run deploy-42',
      target: { environment: 'local', tenant: 'ops' },
    });
    expect(plan.phases).toHaveLength(1);
    expect(plan.phases[0]!.steps).toEqual([
      {
        id: 'build',
        action: 'shell',
        params: { command: 'make', args: ['all'] },
        risk: 'high',
        reversible: false,
        timeoutMs: 5000,
      },
      {
        id: 'test',
        action: 'shell',
        params: { command: 'make', args: ['test'] },
        risk: 'high',
        reversible: false,
        timeoutMs: 60000,
      },
    ]);
  });

  it('lists every problem of a bad job file in one usage error', () => {
    const bad = JSON.stringify({
      id: '-x',
      steps: [
        { name: 'a', run: [] },
        { name: 'a', run: ['x'], timeoutMs: 0 },
      ],
      extra: 1,
    });
    let err: unknown;
    try {
      parseJobFile(bad, 'bad.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    const msg = (err as CliError).message;
    for (const part of [
      'unknown field "extra"',
      '"id" must be',
      'steps[0]: "run" must be',
      'steps[1]: duplicate step name "a"',
      'steps[1]: "timeoutMs"',
    ])
      expect(msg).toContain(part);
  });

  it('reports held, failed and not-run steps from a run result and its journal', () => {
    const job = parseJobFile(text, 'job.json');
    const base = { runId: 'r1', planId: 'deploy-42', planHash: 'h', dryRun: false } as const;
    const failed: RunResult = {
      ...base,
      state: 'hold',
      hold: {
        reason: 'step-failed',
        message: 'step build failed',
        stepId: 'build',
        resumable: false,
        rolledBack: true,
      },
      steps: [
        {
          phaseId: 'run',
          stepId: 'build',
          action: 'shell',
          status: 'failed',
          receipt: { index: 7, leafHash: 'aa' },
          error: 'exit 2',
        },
      ],
    };
    const journal = [
      {
        runId: 'r1',
        phaseId: 'run',
        stepId: 'build',
        kind: 'step' as const,
        action: 'shell',
        state: 'done' as const,
        status: 'failed' as const,
        attempt: 1,
        startedAt: '',
        exitCode: 2,
      },
    ];
    const report = jobReport(job, failed, {
      origin: 'o',
      tenant: 'ops',
      planReceipt: { index: 1, leafHash: 'pp' },
      journal,
    });
    expect(report.status).toBe('failed');
    expect(report.steps).toEqual([
      {
        stepId: 'build',
        status: 'failed',
        exitCode: 2,
        receipt: { index: 7, leafHash: 'aa' },
        error: 'exit 2',
      },
      { stepId: 'test', status: 'not-run', exitCode: null },
    ]);
    expect(report.receipts).toEqual([
      { index: 1, leafHash: 'pp', kind: 'plan' },
      { index: 7, leafHash: 'aa', kind: 'step', stepId: 'build' },
    ]);
    const held = {
      ...failed,
      hold: { ...failed.hold!, reason: 'approval-required' as const, resumable: true },
    };
    expect(jobStatus(held)).toBe('held');
    expect(jobStatus({ ...failed, state: 'cancelled' })).toBe('cancelled');
    expect(jobStatus({ ...failed, state: 'succeeded' })).toBe('succeeded');
  });
});
