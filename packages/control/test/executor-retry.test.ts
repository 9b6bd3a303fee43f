// Durable execution (issue 12): idempotent steps retry with backoff; a wait interrupted by a crash resumes with what
// is left of it, not from the start.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createActionRegistry, type Plan } from '../src/index.ts';
import { operator } from './helpers/harness.ts';
import { executorFixture, traceDir } from './helpers/executor-fixture.ts';

/** A step that fails until it has been tried `succeedOn` times (counting in a file). */
const flaky = (dir: string, succeedOn: number, over: Record<string, unknown> = {}) => {
  const count = join(dir, 'count');
  return {
    id: 'flaky',
    action: 'shell',
    params: {
      command: 'sh',
      args: [
        '-c',
        `n=$(cat '${count}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '${count}'; [ $n -ge ${succeedOn} ]`,
      ],
      idempotent: true,
    },
    risk: 'medium' as const,
    reversible: false,
    ...over,
  };
};
const planOf = (steps: unknown[]): Plan =>
  ({
    v: 1,
    id: 'retry-plan',
    goal: 'retry a flaky step',
    target: { environment: 'staging', tenant: 'acme' },
    phases: [{ id: 'main', steps }],
    preconditions: [],
    gates: [],
    createdBy: 'ops@acme',
    createdAt: '2026-12-01T00:00:00.000Z',
  }) as Plan;

describe('retries and durable timers', () => {
  it('an idempotent step is tried again with backoff until it succeeds; the receipt counts the tries', async () => {
    const { dir } = traceDir();
    const f = await executorFixture();
    const plan = planOf([flaky(dir, 3, { retry: { attempts: 3, backoffMs: 100 } })]);
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    expect((await f.executor.run({ ...base, dryRun: true })).state).toBe('succeeded');
    const live = await f.executor.run({ ...base, dryRun: false });
    expect(live.state).toBe('succeeded');
    expect(readFileSync(join(dir, 'count'), 'utf8').trim()).toBe('3');
    const receipt = (await f.ledger.all()).find((r) => r.body.stepId === 'flaky' && r.body.dryRun === false);
    expect(receipt?.body).toMatchObject({ status: 'succeeded', tries: 3 });
  });

  it('gives up after the last attempt (and fails the step), and without retry tries once', async () => {
    const { dir } = traceDir();
    const f = await executorFixture();
    const plan = planOf([flaky(dir, 5, { retry: { attempts: 2, backoffMs: 100 } })]);
    const stored = await f.executor.storePlan(plan, operator);
    const base = { plan: plan.id, planHash: stored.planHash, principal: operator };
    await f.executor.run({ ...base, dryRun: true });
    const live = await f.executor.run({ ...base, dryRun: false });
    expect(live.state).toBe('hold');
    expect(readFileSync(join(dir, 'count'), 'utf8').trim()).toBe('2');
  });

  it('refuses a retry on a step that is not idempotent (it could apply twice)', async () => {
    const { dir } = traceDir();
    const f = await executorFixture();
    const step = flaky(dir, 1, { retry: { attempts: 3, backoffMs: 100 } });
    const plan = planOf([{ ...step, params: { ...step.params, idempotent: false } }]);
    await expect(f.executor.storePlan(plan, operator)).rejects.toMatchObject({
      code: 'PLAN_INVALID',
      message: expect.stringMatching(/retry: a shell step with these params is not idempotent/),
    });
  });

  it('a wait interrupted by a crash resumes with what is left of it', async () => {
    const wait = createActionRegistry().get('wait')!;
    const now = Date.now();
    const ctx = (firstStartedAt?: number) => ({
      dryRun: false,
      timeoutMs: 120_000,
      signal: new AbortController().signal,
      step: {} as never,
      target: { environment: 'staging', tenant: 'acme' },
      principal: operator,
      receipts: {} as never,
      now: () => now,
      ...(firstStartedAt !== undefined ? { firstStartedAt } : {}),
    });
    // Started 90 s of a 60 s bake ago: nothing is left to wait.
    const done = await wait.run({ ms: 60_000 }, ctx(now - 90_000));
    expect(done).toMatchObject({ ok: true, output: { waitedMs: 60_000, resumedWithMs: 0 } });
    const part = wait.run({ ms: 60_000 }, ctx(now - 59_990));
    expect(await part).toMatchObject({ ok: true, output: { resumedWithMs: 10 } });
  });
});
