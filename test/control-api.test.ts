// The control plane over HTTP on a real node (SQLite, Cedar default policies): plan → dry-run → live with an
// approval → receipts; policy denial for an agent; stale plan hash; Server-Sent Events of a run; bad input.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken } from '@vaultmesh/auth';
import { createGolivePolls, setAutonomy } from '@vaultmesh/control';
import { loadConfig, openNode, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let node: RunningNode;
let admin: string;
let agent: string;
let marker: string;

async function call(method: string, path: string, token: string | undefined, body?: unknown) {
  const res = await fetch(node.url + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} }; // eslint-disable-line @typescript-eslint/no-explicit-any -- test responses are checked field by field
}

function demoPlan(id: string) {
  return {
    v: 1,
    id,
    goal: 'write a marker file and check the node is healthy',
    target: { environment: 'staging', tenant: 'acme' },
    phases: [
      {
        id: 'apply',
        gate: { approval: true },
        steps: [
          {
            id: 'health',
            action: 'probe',
            params: { url: `${node.url}/api/system/health`, intervalMs: 250 },
            risk: 'low',
            reversible: true,
            readOnly: true,
            timeoutMs: 5000,
          },
          {
            id: 'marker',
            action: 'shell',
            params: { command: 'sh', args: ['-c', `echo live >> ${marker}`] },
            risk: 'medium',
            reversible: true,
            rollback: { action: 'shell', params: { command: 'rm', args: ['-f', marker] } },
          },
        ],
      },
    ],
    preconditions: [],
    gates: [],
    createdBy: 'ops@acme',
    createdAt: '2026-11-24T00:00:00.000Z',
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-control-api-'));
  marker = join(dir, 'marker.txt');
  const cfg = join(dir, 'vaultmesh.json');
  writeFileSync(cfg, JSON.stringify({ port: 0, dataDir: join(dir, 'data'), logLevel: 'silent' }));
  node = await startNode(loadConfig({ configFile: cfg }));
  admin = (await createToken(node.node.storage, { name: 'ops', role: 'admin', tenant: 'acme' })).token;
  agent = (await createToken(node.node.storage, { name: 'bot', role: 'agent', tenant: 'acme' })).token;
}, 60_000);

afterAll(async () => {
  await node?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('control plane over HTTP', () => {
  let planHash: string;

  it('refuses unauthenticated calls and malformed bodies, changing nothing', async () => {
    expect((await call('GET', '/api/agent/mcp/status', undefined)).status).toBe(401);
    expect((await call('POST', '/api/plans', admin, '{"plan":')).status).toBe(400);
    const bad = await call('POST', '/api/plans', admin, { plan: { v: 1, id: 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('PLAN_INVALID');
    expect((await call('POST', '/api/plans', admin, { plan: demoPlan('p'), extra: 1 })).status).toBe(400);
    expect((await call('GET', '/api/runs', admin)).body.items).toEqual([]);
  });

  it('stores a plan with its hash and a plan receipt', async () => {
    const r = await call('POST', '/api/plans', admin, { plan: demoPlan('marker-plan') });
    expect(r.status).toBe(201);
    planHash = r.body.planHash;
    expect(planHash).toMatch(/^[0-9a-f]{64}$/);
    const status = await call('GET', '/api/agent/mcp/status', admin);
    expect(status.body.policySetHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a live run before a dry-run, and a stale plan hash', async () => {
    const live = await call('POST', '/api/agent/mcp/executor/run', admin, {
      planId: 'marker-plan',
      planHash,
      dryRun: false,
      wait: true,
    });
    expect(live.status).toBe(409);
    expect(live.body.code).toBe('DRY_RUN_REQUIRED');
    const stale = await call('POST', '/api/agent/mcp/executor/run', admin, {
      planId: 'marker-plan',
      planHash: '0'.repeat(64),
      wait: true,
    });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('PLAN_STALE');
  });

  it('dry-runs without executing the shell step, streaming events over SSE', async () => {
    const r = await call('POST', '/api/agent/mcp/executor/run', admin, { planId: 'marker-plan', planHash });
    expect(r.status).toBe(202);
    const res = await fetch(node.url + r.body.events, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const events = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(events[0]).toBe('run-started');
    expect(events.at(-1)).toBe('run-finished');
    expect(events).toContain('step-finished');
    const run = await call('GET', `/api/runs/${r.body.runId}`, admin);
    expect(run.body.run.state).toBe('succeeded');
    expect(run.body.run.dryRun).toBe(true);
    expect(await import('node:fs').then((fs) => fs.existsSync(marker))).toBe(false);
  });

  it('runs live only with an approval bound to the plan hash, once, recording step receipts', async () => {
    const noApproval = await call('POST', '/api/agent/mcp/executor/run', admin, {
      planId: 'marker-plan',
      planHash,
      dryRun: false,
      wait: true,
    });
    expect(noApproval.body.state).toBe('hold');
    // Four eyes: the admin stored the plan, so it may not approve it; another operator of the tenant may.
    const own = await call('POST', '/api/approvals', admin, {
      planId: 'marker-plan',
      planHash,
      phaseId: 'apply',
      reason: 'my own plan',
    });
    expect(own.status).toBe(403);
    expect(own.body.detail).toMatch(/four-eyes/);
    const lead = (await createToken(node.node.storage, { name: 'lead', role: 'operator', tenant: 'acme' }))
      .token;
    const approval = await call('POST', '/api/approvals', lead, {
      planId: 'marker-plan',
      planHash,
      phaseId: 'apply',
      reason: 'reviewed',
    });
    expect(approval.status).toBe(201);
    expect(noApproval.body.hold.reason).toBe('approval-required');
    const wrong = await call('POST', `/api/runs/${noApproval.body.runId}/resume`, admin, {
      approvals: ['vm_apr_bogus'],
    });
    expect(wrong.status === 403 || wrong.body.state === 'hold').toBe(true);
    const live = await call('POST', `/api/runs/${noApproval.body.runId}/resume`, admin, {
      approvals: [approval.body.token],
    });
    expect(live.body.state).toBe('succeeded');
    expect((await import('node:fs')).readFileSync(marker, 'utf8')).toBe('live\n');
    const again = await call('POST', '/api/agent/mcp/executor/run', admin, {
      planId: 'marker-plan',
      planHash,
      dryRun: false,
      approvals: [approval.body.token],
      wait: true,
    });
    expect(again.body.state === 'hold' || again.status === 403).toBe(true);
    expect((await import('node:fs')).readFileSync(marker, 'utf8')).toBe('live\n');
    const steps = await node.node.storage.listEntries({ kind: 'step', limit: 100 });
    expect(steps.length).toBeGreaterThanOrEqual(4);
    const policies = await node.node.storage.listEntries({ kind: 'policy', limit: 1000 });
    expect(policies.length).toBeGreaterThan(0);
  });

  it('audits the plan: every executed step has a receipt proven against a signed checkpoint; records an audit receipt', async () => {
    const bad = await call('POST', '/api/agent/mcp/auditor/verify', admin, {
      planId: 'marker-plan',
      checks: ['x'],
    });
    expect(bad.status).toBe(400);
    const r = await call('POST', '/api/agent/mcp/auditor/verify', admin, {
      planId: 'marker-plan',
      checks: ['receipts', 'health', 'compliance'],
    });
    expect(r.status).toBe(200);
    if (r.body.result !== 'pass') console.log(JSON.stringify(r.body, null, 1));
    expect(r.body.result).toBe('pass');
    const audits = await node.node.storage.listEntries({ kind: 'audit', limit: 10 });
    expect(audits.length).toBe(1);
    expect(JSON.parse(new TextDecoder().decode(audits[0]!.bytes)).body).toMatchObject({
      subject: 'plan:marker-plan',
      result: 'pass',
    });
    expect((await call('POST', '/api/agent/mcp/auditor/verify', agent, { planId: 'nope' })).status).toBe(404);
  });

  it('runs a go/no-go poll over the API: a silent role makes the outcome a hold, recorded', async () => {
    // Bound to one plan hash: its hold stops that hash from running live, and nothing else.
    const open = await call('POST', '/api/golive/polls', admin, {
      roles: ['sre', 'security'],
      windowMs: 60_000,
      subject: 'promote the marker plan to live',
      planId: 'marker-plan',
      planHash,
    });
    expect(open.status).toBe(201);
    const id = open.body.id as string;
    // A voter's role comes from its token: the admin holds no go/no-go role; sre's token does.
    const noRole = await call('POST', `/api/golive/polls/${id}/votes`, admin, {
      role: 'sre',
      vote: 'go',
      reason: 'green',
    });
    expect(noRole.status).toBe(403);
    const sre = (
      await createToken(node.node.storage, {
        name: 'sam',
        role: 'operator',
        tenant: 'acme',
        pollRoles: ['sre'],
      })
    ).token;
    const vote = await call('POST', `/api/golive/polls/${id}/votes`, sre, { vote: 'go', reason: 'green' });
    expect(vote.status).toBe(200);
    expect(vote.body.votes.sre.voter.id).toMatch(/^token:acme\/sam#/);
    expect(
      (
        await call('POST', `/api/golive/polls/${id}/votes`, sre, {
          role: 'sre',
          vote: 'maybe',
          reason: 'x',
        })
      ).status,
    ).toBe(400);
    const closed = await call('POST', `/api/golive/polls/${id}/close`, admin, {});
    expect(closed.body.outcome).toBe('hold');
    expect(JSON.stringify(closed.body.reasons)).toContain('security');
    const receipts = await node.node.storage.listEntries({ kind: 'decision', text: 'golive', limit: 10 });
    expect(receipts.length).toBeGreaterThanOrEqual(3);
  });

  it('denies an agent a live medium-risk shell step by policy, recording the deny', async () => {
    await setAutonomy({
      store: node.control.store,
      receipts: node.node.log,
      actor: 'test',
      tenant: 'acme',
      tier: 'T1',
    });
    const plan = demoPlan('agent-plan');
    delete (plan.phases[0] as { gate?: unknown }).gate;
    const r = await call('POST', '/api/plans', agent, { plan });
    expect(r.status).toBe(201);
    const dry = await call('POST', '/api/agent/mcp/executor/run', agent, {
      planId: 'agent-plan',
      planHash: r.body.planHash,
      wait: true,
    });
    expect(dry.body.state).toBe('succeeded');
    const live = await call('POST', '/api/agent/mcp/executor/run', agent, {
      planId: 'agent-plan',
      planHash: r.body.planHash,
      dryRun: false,
      wait: true,
    });
    expect(live.body.state).toBe('hold');
    expect(live.body.hold.reason).toMatch(/polic|denied/);
    await node.control.policy.flush();
    const denies = (await node.node.storage.listEntries({ kind: 'policy', text: '"deny"', limit: 100 })).map(
      (e) => JSON.parse(new TextDecoder().decode(e.bytes)).body,
    );
    expect(denies.some((b) => b.principal === 'Agent:token:bot' || String(b.principal).includes('bot'))).toBe(
      true,
    );
  });
});

describe('promotion to live mode', () => {
  it('refuses to start a node in live mode without a recorded go, and starts once every role voted go', async () => {
    const d = mkdtempSync(join(tmpdir(), 'vm-promote-'));
    try {
      const cfg = join(d, 'vaultmesh.json');
      writeFileSync(
        cfg,
        JSON.stringify({ port: 0, dataDir: join(d, 'data'), logLevel: 'silent', mode: 'live' }),
      );
      await expect(startNode(loadConfig({ configFile: cfg }))).rejects.toThrow(/recorded go/);
      const opened = await openNode(join(d, 'data'));
      const polls = createGolivePolls({
        store: opened.storage.controlStore(),
        receipts: opened.log,
      });
      const poll = await polls.openPoll({ roles: ['sre', 'security'], windowMs: 60_000, subject: 'go live' });
      const voter = (id: string) => ({ type: 'person' as const, id, role: 'admin' as const, tenant: '*' });
      await polls.vote({
        pollId: poll.id,
        role: 'sre',
        voter: voter('sam'),
        vote: 'go',
        reason: 'dashboards green',
      });
      await polls.vote({
        pollId: poll.id,
        role: 'security',
        voter: voter('sue'),
        vote: 'go',
        reason: 'review done',
      });
      expect((await polls.closePoll(poll.id)).outcome).toBe('go');
      await opened.close();
      const live = await startNode(loadConfig({ configFile: cfg }));
      const status = (await (await fetch(`${live.url}/api/backend/status`)).json()) as { mode: string };
      expect(status.mode).toBe('live');
      await live.stop();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
