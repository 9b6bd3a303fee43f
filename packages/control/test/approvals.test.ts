// Approvals: single-use tokens bound to a plan hash and a phase or step, issued by whom policy allows to approve,
// stored hashed, consumed with compare-and-swap, recorded as `decision` receipts.
import { describe, expect, it } from 'vitest';
import {
  APPROVALS,
  consumeApproval,
  createApprovals,
  findApproval,
  type ApprovalRecord,
} from '../src/index.ts';
import { approver, operator } from './helpers/harness.ts';
import { executorFixture, traceDir, tracePlan } from './helpers/executor-fixture.ts';

/** Only admins approve; everything else is allowed. */
const adminsApprove = (r: { action: string; principal: { role: string } }) =>
  r.action !== 'approve' || r.principal.role === 'admin';

async function heldForApproval() {
  const f = await executorFixture({ rule: adminsApprove });
  const { trace, read } = traceDir();
  const plan = tracePlan(trace, { main: [{ id: 's1' }, { id: 's2', risk: 'high' }, { id: 's3' }] });
  const stored = await f.executor.storePlan(plan, operator);
  const dry = await f.executor.run({
    plan: plan.id,
    planHash: stored.planHash,
    dryRun: true,
    principal: operator,
  });
  expect(dry.state).toBe('succeeded'); // a dry-run notes the need for approval and goes on
  const drys2 = (await f.ledger.all()).find((r) => r.body.stepId === 's2' && r.body.dryRun === true)!;
  expect(drys2.body.approvalRequired).toBe(true);
  const live = await f.executor.run({
    plan: plan.id,
    planHash: stored.planHash,
    dryRun: false,
    principal: operator,
  });
  return { f, plan, stored, live, read };
}

describe('approvals', () => {
  it('a step the autonomy gate holds waits for an approval; the token is shown once, stored hashed, recorded in the ledger', async () => {
    const { f, plan, stored, live, read } = await heldForApproval();
    expect(live.hold).toMatchObject({ reason: 'approval-required', stepId: 's2', resumable: true });
    expect(read()).toEqual(['s1']);
    const issued = await f.approvals.issue({
      planId: plan.id,
      planHash: stored.planHash,
      scope: { stepId: 's2' },
      principal: approver,
      reason: 'reviewed diff',
    });
    expect(issued.token).toMatch(/^vmap_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    const doc = await f.store.get<ApprovalRecord>(APPROVALS, issued.id);
    expect(JSON.stringify(doc)).not.toContain(issued.token.split('.')[1]);
    expect(doc!.doc.secretHash).toMatch(/^[0-9a-f]{64}$/);
    const receipt = (await f.ledger.all())[issued.receipt.index]!;
    expect(receipt).toMatchObject({
      kind: 'decision',
      actor: 'lead@acme',
      body: {
        title: 'approval',
        tags: ['approval'],
        planId: plan.id,
        planHash: stored.planHash,
        scope: { stepId: 's2' },
        approver: { id: 'lead@acme', role: 'admin' },
        approvalId: issued.id,
      },
      parents: [stored.receipt],
    });
    const resumed = await f.executor.resume(live.runId, { principal: operator, approvals: [issued.token] });
    expect(resumed.state).toBe('succeeded');
    expect(read()).toEqual(['s1', 's2', 's3']);
    const s2 = (await f.ledger.all()).find(
      (r) => r.body.stepId === 's2' && r.body.status === 'succeeded' && r.body.dryRun === false,
    )!;
    expect(s2.body.approvalId).toBe(issued.id);
    expect((await f.approvals.list(plan.id))[0]).toMatchObject({
      id: issued.id,
      used: { runId: live.runId },
    });
  });

  it('is single-use: the same token does not approve a second run', async () => {
    const { f, plan, stored, live } = await heldForApproval();
    const { token } = await f.approvals.issue({
      planId: plan.id,
      planHash: stored.planHash,
      scope: { stepId: 's2' },
      principal: approver,
    });
    expect((await f.executor.resume(live.runId, { principal: operator, approvals: [token] })).state).toBe(
      'succeeded',
    );
    const again = await f.executor.run({
      plan: plan.id,
      planHash: stored.planHash,
      dryRun: false,
      principal: operator,
      approvals: [token],
    });
    expect(again.hold).toMatchObject({ reason: 'approval-required' });
    expect(again.hold!.message).toMatch(/already used by run /);
  });

  it('is bound to the plan hash: after a re-plan the old token approves nothing', async () => {
    const { f, plan, stored, live } = await heldForApproval();
    const { token } = await f.approvals.issue({
      planId: plan.id,
      planHash: stored.planHash,
      scope: { stepId: 's2' },
      principal: approver,
    });
    await f.executor.cancel(live.runId, { principal: approver });
    const replanned = await f.executor.storePlan({ ...plan, goal: 'a re-plan' }, operator, {
      replaces: stored.planHash,
    });
    await f.executor.run({ plan: plan.id, planHash: replanned.planHash, dryRun: true, principal: operator });
    const run = await f.executor.run({
      plan: plan.id,
      planHash: replanned.planHash,
      dryRun: false,
      principal: operator,
      approvals: [token],
    });
    expect(run.hold!.message).toMatch(/bound to another plan hash/);
    // Nor can one be issued for the old hash any more.
    await expect(
      f.approvals.issue({
        planId: plan.id,
        planHash: stored.planHash,
        scope: { stepId: 's2' },
        principal: approver,
      }),
    ).rejects.toMatchObject({ code: 'PLAN_STALE' });
  });

  it('is issued only to whom policy allows "approve", with the plan author in the context (four eyes)', async () => {
    const { f, plan, stored } = await heldForApproval();
    await expect(
      f.approvals.issue({
        planId: plan.id,
        planHash: stored.planHash,
        scope: { stepId: 's2' },
        principal: operator,
      }),
    ).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    const req = f.policy.state.requests.at(-1)!;
    expect(req).toMatchObject({
      action: 'approve',
      context: { planCreatedBy: 'ops@acme', stepId: 's2', risk: 'high', planHash: stored.planHash },
    });
    await expect(
      f.approvals.issue({
        planId: plan.id,
        planHash: stored.planHash,
        scope: { stepId: 'nope' },
        principal: approver,
      }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a phase-scoped token approves all steps of that phase once, and opens a phase gate', async () => {
    const f = await executorFixture({ rule: adminsApprove });
    const { trace, read } = traceDir();
    const plan = tracePlan(trace, {
      canary: [{ id: 'c1' }],
      full: [
        { id: 'f1', risk: 'high' },
        { id: 'f2', risk: 'critical' },
      ],
    });
    plan.phases[1]!.gate = { approval: true };
    const stored = await f.executor.storePlan(plan, operator);
    await f.executor.run({ plan: plan.id, planHash: stored.planHash, dryRun: true, principal: operator });
    const live = await f.executor.run({
      plan: plan.id,
      planHash: stored.planHash,
      dryRun: false,
      principal: operator,
    });
    expect(live.hold).toMatchObject({ reason: 'approval-required', phaseId: 'full' });
    expect(live.hold!.stepId).toBeUndefined(); // held at the phase gate, before any step of it
    // A step-scoped token does not open a phase gate.
    const stepToken = await f.approvals.issue({
      planId: plan.id,
      planHash: stored.planHash,
      scope: { stepId: 'f1' },
      principal: approver,
    });
    const still = await f.executor.resume(live.runId, { principal: operator, approvals: [stepToken.token] });
    expect(still.hold!.message).toMatch(/bound to another step/);
    const phaseToken = await f.approvals.issue({
      planId: plan.id,
      planHash: stored.planHash,
      scope: { phaseId: 'full' },
      principal: approver,
    });
    const done = await f.executor.resume(live.runId, { principal: operator, approvals: [phaseToken.token] });
    expect(done.state).toBe('succeeded');
    expect(read()).toEqual(['c1', 'f1', 'f2']);
    const used = await f.approvals.list(plan.id);
    expect(used.find((a) => a.id === phaseToken.id)!.used).toBeDefined();
    expect(used.find((a) => a.id === stepToken.id)!.used).toBeUndefined();
  });

  it('refuses wrong secrets and expired tokens, and a concurrent second consume loses the compare-and-swap', async () => {
    let t = Date.parse('2025-01-01T00:00:00Z');
    const f = await executorFixture();
    const { trace } = traceDir();
    const plan = tracePlan(trace, { main: [{ id: 's1' }] });
    const stored = await f.executor.storePlan(plan, operator);
    const approvals = createApprovals({
      store: f.store,
      receipts: f.ledger.receipts,
      policy: f.policy,
      now: () => t,
      ttlMs: 60_000,
    });
    const { token, id } = await approvals.issue({
      planId: plan.id,
      planHash: stored.planHash,
      scope: { stepId: 's1' },
      principal: approver,
    });
    const need = { planHash: stored.planHash, phaseId: 'main', stepId: 's1' };
    const forged = token.slice(0, -4) + 'AAAA';
    expect((await findApproval(f.store, [forged, 'garbage'], need, t)).rejected).toEqual([
      `approval ${id}: unknown`,
      'a presented token is malformed',
    ]);
    expect((await findApproval(f.store, [token], need, t + 60_000)).rejected).toEqual([
      `approval ${id}: expired`,
    ]);
    const found = (await findApproval(f.store, [token], need, t)).found!;
    t += 1;
    await consumeApproval(f.store, found, 'run-a', t);
    await expect(consumeApproval(f.store, found, 'run-b', t)).rejects.toMatchObject({
      code: 'APPROVAL_INVALID',
    });
    expect((await findApproval(f.store, [token], need, t)).rejected).toEqual([
      `approval ${id}: already used by run run-a`,
    ]);
  });
});
