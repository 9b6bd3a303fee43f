// The executor with real parts: the memory ControlStore, a real Log as the ReceiptWriter, real shell commands
// tracing into a file, a real local HTTP server for preconditions, and in-test policy/autonomy/tripwire ports.
import { describe, expect, it } from 'vitest';
import { createCounterSource, type ControlError, type Plan, type RunResult } from '../src/index.ts';
import { approver, localServer, operator } from './helpers/harness.ts';
import { executorFixture, traceDir, tracePlan } from './helpers/executor-fixture.ts';

const phaseIds = (r: RunResult) =>
  r.steps.map((s) => `${s.stepId}:${s.status}${s.rollback ? ':rollback' : ''}`);

async function dryThenLive(
  f: Awaited<ReturnType<typeof executorFixture>>,
  plan: Plan,
  extra: { approvals?: string[]; phaseId?: string } = {},
) {
  const stored = await f.executor.storePlan(plan, operator);
  const dry = await f.executor.run({
    plan: plan.id,
    planHash: stored.planHash,
    dryRun: true,
    principal: operator,
    ...extra,
  });
  expect(dry.state).toBe('succeeded');
  return {
    stored,
    live: await f.executor.run({
      plan: plan.id,
      planHash: stored.planHash,
      dryRun: false,
      principal: operator,
      ...extra,
    }),
  };
}

describe('storing plans', () => {
  it('validates the plan, asks policy "plan", records a plan receipt and stores it with its hash', async () => {
    const f = await executorFixture();
    const { trace } = traceDir();
    const stored = await f.executor.storePlan(tracePlan(trace, { main: [{ id: 's1' }] }), operator);
    expect(stored.planHash).toMatch(/^[0-9a-f]{64}$/);
    expect(f.policy.state.requests.at(-1)).toMatchObject({
      action: 'plan',
      resource: { type: 'plan', id: 'plan-trace', tenant: 'acme' },
    });
    const [receipt] = await f.ledger.all();
    expect(receipt).toMatchObject({
      kind: 'plan',
      actor: 'ops@acme',
      tenant: 'acme',
      body: { planId: 'plan-trace', planHash: stored.planHash, goal: 'trace some steps' },
    });
    expect(stored.receipt.index).toBe(0);
  });

  it('refuses a plan policy denies, unknown actions and bad params, before recording anything', async () => {
    const f = await executorFixture({ rule: (r) => r.action !== 'plan' });
    const { trace } = traceDir();
    await expect(
      f.executor.storePlan(tracePlan(trace, { main: [{ id: 's1' }] }), operator),
    ).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    const g = await executorFixture();
    const bad = tracePlan(trace, { main: [{ id: 's1' }] });
    bad.phases[0]!.steps.push({ id: 's2', action: 'teleport', params: {}, risk: 'low', reversible: false });
    bad.phases[0]!.steps.push({
      id: 's3',
      action: 'wait',
      params: { ms: -1 },
      risk: 'low',
      reversible: false,
    });
    const e = (await g.executor.storePlan(bad, operator).catch((x: unknown) => x)) as ControlError;
    expect(e.code).toBe('PLAN_INVALID');
    expect(e.details!.problems).toEqual([
      '/phases/0/steps/1: unknown action "teleport"',
      expect.stringMatching(/^\/phases\/0\/steps\/2\/params\/ms: /),
    ]);
    expect(f.ledger.log.size + g.ledger.log.size).toBe(0);
  });
});

describe('running a plan', () => {
  it('dry-runs (changing nothing), then runs live, writing chained step receipts, journal entries and events', async () => {
    const f = await executorFixture();
    const { trace, read } = traceDir();
    const plan = tracePlan(trace, { main: [{ id: 's1' }, { id: 's2' }], second: [{ id: 's3' }] });
    const stored = await f.executor.storePlan(plan, operator);
    const dry = await f.executor.run({ plan, planHash: stored.planHash, dryRun: true, principal: operator });
    expect(dry.state).toBe('succeeded');
    expect(read()).toEqual([]); // shell in a dry-run only checks the command exists
    const live = await f.executor.run({
      plan: plan.id,
      planHash: stored.planHash,
      dryRun: false,
      principal: operator,
      runId: 'live-1',
    });
    expect(live).toMatchObject({ runId: 'live-1', state: 'succeeded', dryRun: false });
    expect(phaseIds(live)).toEqual(['s1:succeeded', 's2:succeeded', 's3:succeeded']);
    expect(read()).toEqual(['s1', 's2', 's3']);

    const receipts = await f.ledger.all();
    const steps = receipts.filter((r) => r.kind === 'step' && r.body.runId === 'live-1');
    expect(steps.map((r) => r.body.stepId)).toEqual(['s1', 's2', 's3']);
    expect(steps[0]!.body).toMatchObject({
      planId: 'plan-trace',
      action: 'shell',
      status: 'succeeded',
      phaseId: 'main',
      dryRun: false,
      planHash: stored.planHash,
      exitCode: 0,
      policy: { decision: 'allow' },
    });
    expect(steps[0]!.body.outputDigest).toMatch(/^[0-9a-f]{64}$/);
    // Parents: the plan receipt, then the previous step's receipt.
    const planRef = { index: stored.receipt.index, leafHash: stored.receipt.leafHash };
    expect(steps[0]!.parents![0]).toEqual(planRef);
    expect(steps[1]!.parents).toEqual([planRef, live.steps[0]!.receipt]);
    expect(steps[2]!.parents).toEqual([planRef, live.steps[1]!.receipt]);

    const got = await f.executor.getRun('live-1');
    expect(got!.run).toMatchObject({ state: 'succeeded', phases: ['main', 'second'], startedBy: 'ops@acme' });
    expect(got!.journal.map((j) => `${j.phaseId}/${j.stepId}:${j.state}:${j.status}`)).toEqual([
      'main/s1:done:succeeded',
      'main/s2:done:succeeded',
      'second/s3:done:succeeded',
    ]);
    const evts = f.events
      .filter((e) => e.runId === 'live-1')
      .map((e) => e.type + ('stepId' in e ? `:${e.stepId}` : ''));
    expect(evts).toEqual([
      'run-started',
      'step-started:s1',
      'step-finished:s1',
      'step-started:s2',
      'step-finished:s2',
      'step-started:s3',
      'step-finished:s3',
      'run-finished',
    ]);
    expect(f.policy.state.requests.filter((r) => r.action === 'execute').at(-1)).toMatchObject({
      context: { stepAction: 'shell', dryRun: false, stepId: 's3' },
    });
  });

  it('refuses a live run before a successful dry-run of the same phase under the same plan hash', async () => {
    const f = await executorFixture();
    const { trace, read } = traceDir();
    const plan = tracePlan(trace, { a: [{ id: 's1' }], b: [{ id: 's2' }] });
    const stored = await f.executor.storePlan(plan, operator);
    const live = { plan: plan.id, planHash: stored.planHash, dryRun: false, principal: operator };
    await expect(f.executor.run(live)).rejects.toMatchObject({
      code: 'DRY_RUN_REQUIRED',
      details: { missing: ['a', 'b'] },
    });
    await f.executor.run({ ...live, dryRun: true, phaseId: 'a' });
    await expect(f.executor.run({ ...live, phaseId: 'b' })).rejects.toMatchObject({
      code: 'DRY_RUN_REQUIRED',
    });
    expect((await f.executor.run({ ...live, phaseId: 'a' })).state).toBe('succeeded');
    // A re-plan gets a new hash: the old dry-run does not count for it.
    const replanned = await f.executor.storePlan({ ...plan, goal: 'trace, again' }, operator, {
      replaces: stored.planHash,
    });
    await expect(
      f.executor.run({ ...live, planHash: replanned.planHash, phaseId: 'a' }),
    ).rejects.toMatchObject({ code: 'DRY_RUN_REQUIRED' });
    expect(read()).toEqual(['s1']);
  });

  it('refuses a stale plan: after a re-plan, after a policy change, or when the plan given is not the stored one', async () => {
    const f = await executorFixture();
    const { trace } = traceDir();
    const plan = tracePlan(trace, { main: [{ id: 's1' }] });
    const first = await f.executor.storePlan(plan, operator);
    await f.executor.storePlan({ ...plan, goal: 'changed' }, operator, { replaces: first.planHash });
    await expect(
      f.executor.run({ plan: plan.id, planHash: first.planHash, dryRun: true, principal: operator }),
    ).rejects.toMatchObject({ code: 'PLAN_STALE', message: expect.stringContaining('re-planned') });

    const g = await executorFixture();
    const stored = await g.executor.storePlan(plan, operator);
    g.policy.state.hash = 'c'.repeat(64);
    await expect(
      g.executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator }),
    ).rejects.toMatchObject({ code: 'PLAN_STALE', message: expect.stringContaining('policy set changed') });
    const again = await g.executor.storePlan(plan, operator);
    expect(again.planHash).not.toBe(stored.planHash);
    await expect(
      g.executor.run({
        plan: { ...plan, goal: 'other' },
        planHash: again.planHash,
        dryRun: true,
        principal: operator,
      }),
    ).rejects.toMatchObject({ code: 'PLAN_STALE' });
    expect(
      (await g.executor.run({ plan, planHash: again.planHash, dryRun: true, principal: operator })).state,
    ).toBe('succeeded');
  });

  it('policy deny: the step is recorded "denied", nothing runs, and the run holds (resumable once policy allows)', async () => {
    let allowShell = false;
    const f = await executorFixture({
      rule: (r) => r.action !== 'execute' || r.context.dryRun === true || allowShell,
    });
    const { trace, read } = traceDir();
    const plan = tracePlan(trace, { main: [{ id: 's1' }, { id: 's2' }] });
    const { live } = await dryThenLive(f, plan);
    expect(live.state).toBe('hold');
    expect(live.hold).toMatchObject({
      reason: 'policy-denied',
      stepId: 's1',
      resumable: true,
      rolledBack: false,
    });
    expect(phaseIds(live)).toEqual(['s1:denied']);
    expect(read()).toEqual([]);
    const denied = (await f.ledger.all()).at(-1)!;
    expect(denied).toMatchObject({
      kind: 'step',
      body: { stepId: 's1', status: 'denied', reason: 'policy-denied', policy: { decision: 'deny' } },
    });
    allowShell = true;
    const resumed = await f.executor.resume(live.runId, { principal: operator });
    expect(resumed.state).toBe('succeeded');
    expect(read()).toEqual(['s1', 's2']);
  });

  it('a failed step holds the run and rolls back the completed reversible steps in reverse order, recording each', async () => {
    const counters = createCounterSource();
    const f = await executorFixture({ extra: { counters } });
    const { trace, read } = traceDir();
    const plan = tracePlan(trace, {
      one: [{ id: 's1' }, { id: 's2', reversible: false, rollback: false }],
      two: [{ id: 's3' }, { id: 's4', exit: 7, rollback: false }],
    });
    const { live } = await dryThenLive(f, plan);
    expect(read()).toEqual(['s1', 's2', 's3', 's4', 'undo-s3', 'undo-s1']);
    expect(live.state).toBe('hold');
    expect(live.hold).toMatchObject({
      reason: 'step-failed',
      stepId: 's4',
      resumable: false,
      rolledBack: true,
      notRolledBack: ['s2'],
    });
    expect(live.hold!.message).toContain('exit code 7');
    expect(phaseIds(live)).toEqual([
      's1:succeeded',
      's2:succeeded',
      's3:succeeded',
      's4:failed',
      's3:rolled-back:rollback',
      's1:rolled-back:rollback',
    ]);
    const rb = (await f.ledger.all()).filter((r) => r.body.rollbackOf);
    expect(rb.map((r) => [r.body.rollbackOf, r.body.status])).toEqual([
      ['s3', 'rolled-back'],
      ['s1', 'rolled-back'],
    ]);
    // Each compensation names the receipt of the step it undid among its parents.
    expect(rb[0]!.parents).toContainEqual(live.steps[2]!.receipt);
    await expect(f.executor.resume(live.runId, { principal: operator })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    // Counted for the compensation-rate tripwire. Dry-run steps count too (a dry shell step checks its command):
    // 4 dry + 4 live steps, 1 failure, 2 compensations.
    const q = (m: string) => counters.query(`sum(increase(${m}[1h]))`, new Date());
    expect(await q('vaultmesh_control_steps_total')).toBe(8);
    expect(await q('vaultmesh_control_step_errors_total')).toBe(1);
    expect(await q('vaultmesh_control_compensations_total')).toBe(2);
    // The plan is free again for a new run.
    const stored = await f.executor.getPlan(plan.id);
    expect(
      (await f.executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator }))
        .state,
    ).toBe('succeeded');
  });

  it('a halt tripwire stops before the step, records it "halted" with its evidence, and rolls back', async () => {
    const f = await executorFixture();
    const { trace, read } = traceDir();
    const plan = tracePlan(trace, { main: [{ id: 's1' }, { id: 's2' }, { id: 's3' }] });
    const stored = await f.executor.storePlan(plan, operator);
    await f.executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator });
    f.tripwires.arm('s2', {
      id: 'error-budget',
      action: 'halt',
      reason: 'burn rate 14.4x over 1h',
      evidence: { burn1h: 14.4, burn5m: Number.NaN },
    });
    const live = await f.executor.run({
      plan: plan.id,
      planHash: stored.planHash,
      dryRun: false,
      principal: operator,
    });
    expect(read()).toEqual(['s1', 'undo-s1']);
    expect(live.hold).toMatchObject({
      reason: 'tripwire-halt',
      stepId: 's2',
      resumable: false,
      rolledBack: true,
      tripwires: [{ id: 'error-budget' }],
    });
    const halted = (await f.ledger.all()).find((r) => r.body.status === 'halted')!;
    expect(halted.body).toMatchObject({
      stepId: 's2',
      reason: 'tripwire-halt',
      tripwires: [{ id: 'error-budget', action: 'halt', evidence: { burn1h: 14.4, burn5m: 'NaN' } }],
    });
  });

  it('a pause tripwire holds the run without rolling back; resume continues once it no longer fires', async () => {
    const f = await executorFixture();
    const { trace, read } = traceDir();
    const plan = tracePlan(trace, { main: [{ id: 's1' }, { id: 's2' }] });
    const stored = await f.executor.storePlan(plan, operator);
    await f.executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator });
    f.tripwires.arm('s2', {
      id: 'anomaly',
      action: 'pause',
      reason: 'latency anomaly score 0.97',
      evidence: { score: 0.97 },
    });
    const live = await f.executor.run({
      plan: plan.id,
      planHash: stored.planHash,
      dryRun: false,
      principal: operator,
    });
    expect(live.hold).toMatchObject({ reason: 'tripwire-pause', resumable: true, rolledBack: false });
    expect(read()).toEqual(['s1']);
    // While held, the plan is taken: no second run may start.
    await expect(
      f.executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    f.tripwires.clear();
    const resumed = await f.executor.resume(live.runId, { principal: operator });
    expect(resumed.state).toBe('succeeded');
    expect(phaseIds(resumed)).toEqual(['s1:succeeded', 's2:succeeded']);
    expect(resumed.steps[0]!.fromJournal).toBe(true);
    expect(read()).toEqual(['s1', 's2']);
  });

  it('checks preconditions on every run (http, probe, ledger) and refuses to start when one fails', async () => {
    const srv = await localServer((req, res) => res.writeHead(req.url === '/ok' ? 200 : 500).end());
    try {
      const f = await executorFixture();
      const { trace, read } = traceDir();
      const plan = tracePlan(
        trace,
        { main: [{ id: 's1' }] },
        {
          preconditions: [
            { id: 'api-up', kind: 'http', params: { url: `${srv.url}/ok` } },
            {
              id: 'healthy',
              kind: 'probe',
              params: { url: `${srv.url}/ok`, intervalMs: 250, timeoutMs: 300 },
            },
            {
              id: 'change-approved',
              kind: 'ledger',
              params: { kind: 'decision', body: { title: 'CAB approved', ticket: 'CHG-1' } },
            },
          ],
        },
      );
      const stored = await f.executor.storePlan(plan, operator);
      const e = (await f.executor
        .run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator })
        .catch((x: unknown) => x)) as ControlError;
      expect(e.code).toBe('PRECONDITION_FAILED');
      expect(e.details!.failed).toEqual([
        {
          id: 'change-approved',
          kind: 'ledger',
          reason: 'no decision receipt with {"title":"CAB approved","ticket":"CHG-1"}',
        },
      ]);
      await f.ledger.receipts.append({
        kind: 'decision',
        actor: 'cab',
        tenant: 'acme',
        body: { title: 'CAB approved', ticket: 'CHG-1' },
      });
      expect(
        (
          await f.executor.run({
            plan: plan.id,
            planHash: stored.planHash,
            dryRun: true,
            principal: operator,
          })
        ).state,
      ).toBe('succeeded');
      srv.set((_req, res) => res.writeHead(503).end());
      const e2 = (await f.executor
        .run({ plan: plan.id, planHash: stored.planHash, dryRun: false, principal: operator })
        .catch((x: unknown) => x)) as ControlError;
      expect(e2.code).toBe('PRECONDITION_FAILED');
      expect((e2.details!.failed as { id: string }[]).map((x) => x.id)).toEqual(['api-up', 'healthy']);
      expect(read()).toEqual([]);
    } finally {
      await srv.close();
    }
  });

  it('golive/readiness gates ask the GateCheck before a live phase, and fail closed without one', async () => {
    const { trace, read } = traceDir();
    const plan = tracePlan(
      trace,
      { main: [{ id: 's1' }] },
      { gates: [{ id: 'go', kind: 'golive', phaseId: 'main' }] },
    );
    const f = await executorFixture();
    const { live } = await dryThenLive(f, plan);
    expect(live.hold).toMatchObject({
      reason: 'gate-failed',
      resumable: true,
      message: expect.stringContaining('no gate check is configured'),
    });
    let pass = false;
    const g = await executorFixture({
      extra: { gates: { check: async () => ({ pass, reason: pass ? 'go' : 'no-go: 2 checks failing' }) } },
    });
    const held = await dryThenLive(g, plan);
    expect(held.live.hold!.message).toContain('no-go: 2 checks failing');
    pass = true;
    expect((await g.executor.resume(held.live.runId, { principal: operator })).state).toBe('succeeded');
    expect(read()).toEqual(['s1']);
  });

  it('cancel ends a held run, optionally rolling back what it completed, and records the decision', async () => {
    const f = await executorFixture();
    const { trace, read } = traceDir();
    const plan = tracePlan(trace, { main: [{ id: 's1' }, { id: 's2', risk: 'high' }] });
    const { live } = await dryThenLive(f, plan);
    expect(live.hold!.reason).toBe('approval-required');
    const c = await f.executor.cancel(live.runId, {
      principal: approver,
      rollback: true,
      reason: 'not today',
    });
    expect(c.state).toBe('cancelled');
    expect(read()).toEqual(['s1', 'undo-s1']);
    expect((await f.ledger.all()).at(-1)).toMatchObject({
      kind: 'decision',
      body: { title: 'run cancelled', runId: live.runId, rolledBack: true, rationale: 'not today' },
    });
    await expect(f.executor.resume(live.runId, { principal: operator })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect((await f.executor.listRuns(plan.id)).map((r) => r.state).sort()).toEqual([
      'cancelled',
      'succeeded',
    ]);
  });
});
