// The example plans in examples/ (issue 12), each taken the whole way on a real node over REST: stored, dry-run,
// approved (four eyes: the author cannot approve), a go/no-go poll closed with go, then run live. The canary example
// starts real processes on loopback; the Kubernetes examples run against the fake API server of the control tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createToken } from '@vaultmesh/auth';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeK8s } from '@vaultmesh/control/testing';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test responses are checked field by field
type Json = Record<string, any>;

const EXAMPLES = resolve(import.meta.dirname, '..', 'examples');
let dir: string;
let node: RunningNode;
let k8s: Awaited<ReturnType<typeof startFakeK8s>>;
const tokens: Record<string, string> = {};
const children: ChildProcess[] = [];

async function call(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(node.url + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Json };
}

/** An example plan with its ${NAME} placeholders filled (as envsubst would); a placeholder left over fails. */
function render(file: string, vars: Record<string, string | number>): Json {
  const text = readFileSync(join(EXAMPLES, file), 'utf8').replace(/\$\{([A-Z_]+)\}/g, (m, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`${file}: no value for ${m}`);
    return String(v);
  });
  return JSON.parse(text) as Json;
}

/** A TCP port free right now on 127.0.0.1. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
  } catch {
    return false;
  }
}

async function until(what: string, pred: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Stores a plan as the operator and takes it dry-run → approvals (admin) → go poll (sre) → live. */
async function throughTheGates(plan: Json, afterDryRun: (dry: Json) => void = () => undefined) {
  const stored = await call('POST', '/api/plans', tokens.author!, { plan });
  expect(stored.status, JSON.stringify(stored.body)).toBe(201);
  const planHash = stored.body.planHash as string;
  const run = (dryRun: boolean, extra: Json = {}) =>
    call('POST', '/api/agent/mcp/executor/run', tokens.author!, {
      planId: plan.id,
      planHash,
      dryRun,
      wait: true,
      ...extra,
    });
  const dry = await run(true);
  expect(dry.status, JSON.stringify(dry.body)).toBe(200);
  afterDryRun(dry.body);
  // Before approvals and a go, a live run does not start.
  const early = await run(false);
  expect(early.body.state).toBe('hold');
  await call('POST', `/api/runs/${early.body.runId}/cancel`, tokens.author!, { rollback: false });
  // Four eyes: the author may not approve their own plan; the lead may.
  const phase = (plan.phases as Json[])[0]!.id as string;
  const own = await call('POST', '/api/approvals', tokens.author!, {
    planId: plan.id,
    planHash,
    phaseId: phase,
  });
  expect(own.status).toBe(403);
  const approvals: string[] = [];
  for (const p of plan.phases as Json[]) {
    const a = await call('POST', '/api/approvals', tokens.lead!, {
      planId: plan.id,
      planHash,
      phaseId: p.id,
    });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    approvals.push(a.body.token as string);
  }
  const open = await call('POST', '/api/golive/polls', tokens.lead!, {
    windowMs: 60_000,
    subject: `go for ${String(plan.id)}`,
    roles: ['sre'],
    planId: plan.id,
    planHash,
  });
  expect(open.status, JSON.stringify(open.body)).toBe(201);
  const vote = await call('POST', `/api/golive/polls/${open.body.id}/votes`, tokens.sre!, {
    vote: 'go',
    reason: 'dry-run reviewed',
  });
  expect(vote.status, JSON.stringify(vote.body)).toBe(200);
  expect((await call('POST', `/api/golive/polls/${open.body.id}/close`, tokens.lead!, {})).body.outcome).toBe(
    'go',
  );
  const live = await run(false, { approvals });
  return { planHash, dry: dry.body, live: live.body };
}

const statuses = (r: Json) =>
  (r.steps as Json[]).filter((s) => !s.rollback).map((s) => `${s.stepId}:${s.status}`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-examples-'));
  k8s = await startFakeK8s();
  const cfg = join(dir, 'vaultmesh.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      port: 0,
      dataDir: join(dir, 'data'),
      logLevel: 'silent',
      control: {
        outbound: { allow: { acme: ['127.0.0.1'] } },
        kubeconfig: k8s.kubeconfigPath,
        kubeContext: 'fake',
      },
    }),
  );
  node = await startNode(loadConfig({ configFile: cfg }));
  const mint = async (name: string, role: 'admin' | 'operator', pollRoles?: string[]) =>
    (tokens[name] = (
      await createToken(node.node.storage, {
        name,
        role,
        tenant: 'acme',
        ...(pollRoles ? { pollRoles } : {}),
      })
    ).token);
  await mint('author', 'operator');
  await mint('lead', 'admin');
  await mint('sre', 'operator', ['sre']);
}, 60_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await node?.stop();
  k8s?.close();
  // The canary the plan started is the plan's: stop it if a failed test left it.
  for (const f of ['ok', 'broken'])
    try {
      const pid = Number(readFileSync(join(dir, f, 'canary.pid'), 'utf8'));
      if (pid > 0) process.kill(pid, 'SIGTERM');
    } catch {
      // not running
    }
  rmSync(dir, { recursive: true, force: true });
});

describe('examples/canary-local: a canary of a local service', () => {
  let stablePort = 0;
  beforeAll(async () => {
    stablePort = await freePort();
    const stable = spawn(
      process.execPath,
      [join(EXAMPLES, 'canary-local', 'service.mjs'), '--port', String(stablePort), '--version', 'v1'],
      { stdio: 'ignore' },
    );
    children.push(stable);
    await until('the stable service', () => healthy(stablePort));
  });

  const canaryPlan = async (state: string, version: string, id: string) => {
    const stateDir = join(dir, state);
    rmSync(stateDir, { recursive: true, force: true });
    mkdirSync(stateDir);
    const port = await freePort();
    const plan = render('canary-local/plan.json', {
      TENANT: 'acme',
      SERVICE: join(EXAMPLES, 'canary-local', 'service.mjs'),
      STABLE_PORT: stablePort,
      CANARY_PORT: port,
      CANARY_VERSION: version,
      STATE_DIR: stateDir,
    });
    return { plan: { ...plan, id }, port, stateDir };
  };

  it('dry-run (the canary checks unverifiable) → approvals → go → live: the canary serves', async () => {
    const { plan, port, stateDir } = await canaryPlan('ok', 'v2', 'canary-local');
    const { dry, live } = await throughTheGates(plan, () => {
      // The dry-run started nothing.
      expect(existsSync(join(stateDir, 'canary.pid'))).toBe(false);
    });
    expect(dry.state).toBe('succeeded');
    // A dry shell step only checks that its command exists; the probes after it cannot pass yet and say why.
    expect(statuses(dry)).toEqual([
      'start-canary:succeeded',
      'canary-healthy:unverifiable',
      'bake:succeeded',
      'switch-traffic:succeeded',
      'serving-healthy:unverifiable',
    ]);
    expect(live.state, JSON.stringify(live.hold)).toBe('succeeded');
    expect(statuses(live)).toEqual([
      'start-canary:succeeded',
      'canary-healthy:succeeded',
      'bake:succeeded',
      'switch-traffic:succeeded',
      'serving-healthy:succeeded',
    ]);
    expect(await healthy(port)).toBe(true);
    expect(readFileSync(join(stateDir, 'active-port'), 'utf8').trim()).toBe(String(port));
    process.kill(Number(readFileSync(join(stateDir, 'canary.pid'), 'utf8')), 'SIGTERM');
  }, 120_000);

  it('a broken canary fails its health check live: the canary is stopped again and traffic never moves', async () => {
    const { plan, port, stateDir } = await canaryPlan('broken', 'broken', 'canary-local-broken');
    const { live } = await throughTheGates(plan);
    expect(live.state).toBe('hold');
    expect(live.hold).toMatchObject({ reason: 'step-failed', stepId: 'canary-healthy', rolledBack: true });
    const rollbacks = (live.steps as Json[]).filter((s) => s.rollback).map((s) => `${s.stepId}:${s.status}`);
    expect(rollbacks).toEqual(['start-canary:rolled-back']);
    await until('the canary to stop', async () => !existsSync(join(stateDir, 'canary.pid')));
    await until('the canary port to close', async () => {
      try {
        await fetch(`http://127.0.0.1:${port}/healthz`);
        return false;
      } catch {
        return true;
      }
    });
    expect(existsSync(join(stateDir, 'active-port'))).toBe(false);
  }, 120_000);
});

describe('examples/kubernetes: first deploy, then an update (against the fake API server)', () => {
  const vars = { TENANT: 'acme', IMAGE: 'registry.example/payments-api', FROM_VERSION: 'v1' };

  it('first deploy: the namespace is created, the workload in it is unverifiable in the dry-run, then lands live', async () => {
    const plan = render('kubernetes/first-deploy.json', { ...vars, VERSION: 'v1' });
    const { dry, live } = await throughTheGates(plan, () => {
      // The dry-run persisted nothing.
      expect(k8s.deployments.size + k8s.objects.size).toBe(0);
    });
    expect(dry.state).toBe('succeeded');
    expect(statuses(dry)).toEqual(['namespace:succeeded', 'workload:unverifiable', 'available:unverifiable']);
    expect(live.state, JSON.stringify(live.hold)).toBe('succeeded');
    const d = k8s.deployments.get('payments/payments-api');
    expect(d?.spec.template.spec.containers[0]?.image).toBe('registry.example/payments-api:v1');
    expect(k8s.objects.has('services/payments/payments-api')).toBe(true);
    expect(k8s.objects.has('namespaces//payments')).toBe(true);
  }, 120_000);

  it('update: the dry-run checks the rollout on the live Deployment, then it rolls out live', async () => {
    const plan = render('kubernetes/update.json', { ...vars, VERSION: 'v2' });
    const { dry, live } = await throughTheGates(plan);
    expect(statuses(dry)).toEqual(['image:succeeded']);
    expect(live.state, JSON.stringify(live.hold)).toBe('succeeded');
    const d = k8s.deployments.get('payments/payments-api');
    expect(d?.spec.template.spec.containers[0]?.image).toBe('registry.example/payments-api:v2');
  }, 120_000);

  it('a broken release is rolled back to the version it replaced', async () => {
    k8s.brokenImages.add('registry.example/payments-api:v3');
    const plan = render('kubernetes/update.json', { ...vars, FROM_VERSION: 'v2', VERSION: 'v3' });
    // A short step budget, so the broken rollout gives up quickly.
    (plan.phases[0].steps[0] as Json).timeoutMs = 3000;
    const { live } = await throughTheGates({ ...plan, id: 'payments-update-v3' });
    expect(live.state).toBe('hold');
    expect(live.hold).toMatchObject({ reason: 'step-failed', rolledBack: true });
    const d = k8s.deployments.get('payments/payments-api');
    expect(d?.spec.template.spec.containers[0]?.image).toBe('registry.example/payments-api:v2');
  }, 120_000);
});
