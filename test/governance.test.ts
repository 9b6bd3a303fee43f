// Issue 11, red-team holes: each block reproduces one hole found against a real node (SQLite, the shipped Cedar
// policies) and proves it closed. Tenants: acme (the victim) and beta (the attacker).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createToken } from '@vaultmesh/auth';
import { setAutonomy } from '@vaultmesh/control';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let node: RunningNode;
let target: Server;
let targetUrl = '';
const targetSeen: string[] = [];
const tokens: Record<string, string> = {};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test responses are checked field by field
type Json = Record<string, any>;

async function call(method: string, path: string, token: string | undefined, body?: unknown) {
  const res = await fetch(node.url + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Json };
}

/** Calls one MCP tool with a token; the result as JSON (structured content), or the error text. */
async function tool(
  token: string,
  name: string,
  args: Json,
): Promise<{ isError: boolean; json: Json; text: string }> {
  const client = new Client({ name: 'vm-governance-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${node.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  try {
    const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
    const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
    return { isError: r.isError === true, json: (r.structuredContent ?? {}) as Json, text };
  } finally {
    await client.close();
  }
}

/** Sets tenant acme's autonomy tier. */
const acmeTier = (tier: 'T0' | 'T1' | 'T2' | 'T3') =>
  setAutonomy({ store: node.control.store, receipts: node.node.log, actor: 'test', tenant: 'acme', tier });

/** A plan of one phase whose steps are given; tenant acme unless said. */
function plan(id: string, steps: Json[], over: Json = {}): Json {
  return {
    v: 1,
    id,
    goal: `governance test ${id}`,
    target: { environment: 'staging', tenant: 'acme' },
    phases: [{ id: 'main', steps }],
    preconditions: [],
    gates: [],
    createdBy: 'someone',
    createdAt: '2026-12-01T00:00:00.000Z',
    ...over,
  };
}

async function store(token: string, p: Json) {
  return call('POST', '/api/plans', token, { plan: p });
}

async function run(token: string, planId: string, planHash: string, dryRun: boolean, extra: Json = {}) {
  return call('POST', '/api/agent/mcp/executor/run', token, {
    planId,
    planHash,
    dryRun,
    wait: true,
    ...extra,
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-governance-'));
  target = createServer((req, res) => {
    targetSeen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('target says hello');
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  const cfg = join(dir, 'vaultmesh.json');
  writeFileSync(
    join(dir, 'checklist.yaml'),
    'tenant: acme\ndr:\n  rpoSeconds: 900\n  backupAgeMetric: backup_age_seconds\n',
  );
  writeFileSync(join(dir, 'observed.json'), JSON.stringify({ metrics: { backup_age_seconds: 300 } }));
  writeFileSync(
    cfg,
    JSON.stringify({
      port: 0,
      dataDir: join(dir, 'data'),
      logLevel: 'silent',
      // acme's steps may reach only the loopback test server; beta has no list (open, minus metadata).
      control: {
        outbound: { allow: { acme: ['127.0.0.1'] } },
        fourEyes: { tenants: { lab: false } },
        readiness: { checklists: { acme: 'checklist.yaml' }, observedFile: 'observed.json' },
      },
    }),
  );
  node = await startNode(loadConfig({ configFile: cfg }));
  const mint = async (
    name: string,
    role: 'admin' | 'operator' | 'agent' | 'viewer' | 'auditor',
    tenant: string,
  ) => (tokens[name] = (await createToken(node.node.storage, { name, role, tenant })).token);
  await mint('acme-admin', 'admin', 'acme');
  await mint('acme-operator', 'operator', 'acme');
  await mint('acme-agent', 'agent', 'acme');
  await mint('beta-viewer', 'viewer', 'beta');
  await mint('beta-agent', 'agent', 'beta');
}, 60_000);

async function mintExtra(
  name: string,
  role: 'admin' | 'operator' | 'agent' | 'viewer' | 'auditor',
  tenant: string,
) {
  tokens[name] ??= (await createToken(node.node.storage, { name, role, tenant })).token;
}

afterAll(async () => {
  await node?.stop();
  await new Promise<void>((r) => (target ? target.close(() => r()) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('hole 2: declared facts never loosen governance', () => {
  it('a shell rm -rf labelled readOnly and low risk is a write: under T1 it waits for an approval', async () => {
    await acmeTier('T1');
    const victim = join(dir, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'data'), 'precious');
    const p = plan('rm-labelled-read', [
      {
        id: 'wipe',
        action: 'shell',
        params: { command: 'rm', args: ['-rf', victim] },
        risk: 'low',
        reversible: false,
        readOnly: true,
      },
    ]);
    const stored = await store(tokens['acme-admin']!, p);
    expect(stored.status).toBe(201);
    expect((await run(tokens['acme-admin']!, p.id, stored.body.planHash, true)).body.state).toBe('succeeded');
    const live = await run(tokens['acme-admin']!, p.id, stored.body.planHash, false);
    expect(live.body.state).toBe('hold');
    expect(live.body.hold.reason).toBe('approval-required');
    expect(existsSync(join(victim, 'data'))).toBe(true);
    // The step receipts carry the derived risk, not the declared one.
    const receipts = await call(
      'GET',
      `/api/ledger/receipts?kind=step&tenant=acme&limit=50`,
      tokens['acme-admin'],
    );
    const dry = (receipts.body.items as Json[])
      .map((i) => i.receipt as Json)
      .find((r) => r.body.stepId === 'wipe' && r.body.dryRun === true);
    expect(dry?.body.risk).toBe('medium');
  });

  it('an http POST labelled readOnly is a write: the default policy denies it live to an agent', async () => {
    await acmeTier('T2');
    const p = plan('post-labelled-read', [
      {
        id: 'post',
        action: 'http',
        params: { url: `${targetUrl}/write`, method: 'POST', body: { x: 1 } },
        risk: 'low',
        reversible: false,
        readOnly: true,
      },
    ]);
    const stored = await store(tokens['acme-agent']!, p);
    expect(stored.status).toBe(201);
    expect((await run(tokens['acme-agent']!, p.id, stored.body.planHash, true)).body.state).toBe('succeeded');
    const live = await run(tokens['acme-agent']!, p.id, stored.body.planHash, false);
    expect(live.body.state).toBe('hold');
    expect(live.body.hold.reason).toBe('policy-denied');
    expect(targetSeen.filter((s) => s.startsWith('POST'))).toEqual([]);
  });

  it('refuses a write declared reversible without a rollback', async () => {
    const r = await store(
      tokens['acme-admin']!,
      plan('reversible-without-rollback', [
        { id: 'touch', action: 'shell', params: { command: 'true' }, risk: 'medium', reversible: true },
      ]),
    );
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('PLAN_INVALID');
    expect(r.body.detail ?? r.body.message).toMatch(/reversible only with a rollback/);
  });

  it('refuses destructive commands outright, whoever wrote the plan, also hidden in sh -c and rollbacks', async () => {
    const rmRoot = (id: string, over: Json = {}) =>
      plan(id, [
        {
          id: 'oops',
          action: 'shell',
          params: { command: 'sh', args: ['-c', 'cd /tmp && rm -rf /'] },
          risk: 'high',
          reversible: false,
          ...over,
        },
      ]);
    for (const who of ['acme-admin', 'acme-operator', 'acme-agent']) {
      const r = await store(tokens[who]!, rmRoot(`rm-root-${who}`));
      expect(r.status, who).toBe(400);
      expect(JSON.stringify(r.body)).toMatch(/destructive command refused \(rule rm-root/);
    }
    const inRollback = await store(
      tokens['acme-admin']!,
      plan('mkfs-in-rollback', [
        {
          id: 'fine',
          action: 'shell',
          params: { command: 'true' },
          risk: 'medium',
          reversible: true,
          rollback: { action: 'shell', params: { command: '/sbin/mkfs.ext4', args: ['/dev/sda1'] } },
        },
      ]),
    );
    expect(inRollback.status).toBe(400);
    expect(JSON.stringify(inRollback.body)).toMatch(/rule mkfs/);
    expect((await call('GET', '/api/plans/rm-root-acme-admin', tokens['acme-admin'])).status).toBe(404);
  });
});

describe('hole 3: no server-side request forgery from steps', () => {
  it('a dry-run GET of a metadata address is refused before any request; bodies stay out of run views', async () => {
    const p = plan('ssrf-metadata', [
      {
        id: 'meta',
        action: 'http',
        params: { url: 'http://169.254.169.254/latest/meta-data/iam/' },
        risk: 'low',
        reversible: true,
        readOnly: true,
      },
    ]);
    const stored = await store(tokens['acme-agent']!, p);
    const dry = await run(tokens['acme-agent']!, p.id, stored.body.planHash, true);
    expect(dry.body.state).toBe('hold');
    const view = await call('GET', `/api/runs/${dry.body.runId}`, tokens['acme-agent']);
    expect(JSON.stringify(view.body)).toMatch(/denied to every step/);

    const q = plan('read-target', [
      { id: 'get', action: 'http', params: { url: `${targetUrl}/status` }, risk: 'low', reversible: true },
    ]);
    const s2 = await store(tokens['acme-agent']!, q);
    const ok = await run(tokens['acme-agent']!, q.id, s2.body.planHash, true);
    expect(ok.body.state).toBe('succeeded');
    const v2 = await call('GET', `/api/runs/${ok.body.runId}`, tokens['acme-agent']);
    expect(v2.status).toBe(200);
    expect(JSON.stringify(v2.body)).not.toContain('target says hello');
  });

  it('a tenant with an outbound allow-list reaches nothing else', async () => {
    const other = targetUrl.replace('127.0.0.1', '127.0.0.2');
    const p = plan('ssrf-off-list', [
      { id: 'get', action: 'http', params: { url: `${other}/x` }, risk: 'low', reversible: true },
    ]);
    const stored = await store(tokens['acme-agent']!, p);
    const dry = await run(tokens['acme-agent']!, p.id, stored.body.planHash, true);
    expect(dry.body.state).toBe('hold');
    const view = await call('GET', `/api/runs/${dry.body.runId}`, tokens['acme-agent']);
    expect(JSON.stringify(view.body)).toMatch(/not on tenant acme's outbound allow-list/);
  });

  it('policy decides before any effect: a viewer cannot start a plan, so its precondition never fires', async () => {
    await mintExtra('acme-viewer', 'viewer', 'acme');
    const p = plan(
      'precondition-fires',
      [{ id: 'w', action: 'wait', params: { ms: 1 }, risk: 'low', reversible: true }],
      {
        preconditions: [{ id: 'ping', kind: 'http', params: { url: `${targetUrl}/precondition` } }],
      },
    );
    const stored = await store(tokens['acme-agent']!, p);
    const before = targetSeen.length;
    const size = await node.node.storage.size();
    // Same tenant, no right to execute: policy refuses (403). Another tenant: the plan is not there (404).
    expect((await run(tokens['acme-viewer']!, p.id, stored.body.planHash, true)).status).toBe(403);
    for (const who of ['beta-viewer', 'beta-agent'])
      expect((await run(tokens[who]!, p.id, stored.body.planHash, true)).status, who).toBe(404);
    expect(targetSeen.length).toBe(before);
    // Only policy receipts (the denials) were written: no step receipt, and the plan is not held.
    const after = await call(
      'GET',
      `/api/ledger/receipts?kind=step&tenant=acme&limit=1000`,
      tokens['acme-admin'],
    );
    expect((after.body.items as Json[]).filter((i) => i.receipt.body.planId === p.id)).toEqual([]);
    expect(await node.node.storage.size()).toBeGreaterThanOrEqual(size);
    const ok = await run(tokens['acme-agent']!, p.id, stored.body.planHash, true);
    expect(ok.body.state).toBe('succeeded');
    expect(targetSeen.length).toBe(before + 1);
  });

  it('a probe cannot be turned into a flood: intervals under 250 ms are refused', async () => {
    const r = await store(
      tokens['acme-agent']!,
      plan('probe-flood', [
        {
          id: 'p',
          action: 'probe',
          params: { url: `${targetUrl}/h`, intervalMs: 10 },
          risk: 'low',
          reversible: true,
        },
      ]),
    );
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/intervalMs/);
  });
});

describe('hole 4: governance receipts cannot be forged', () => {
  it('the public write path refuses every kind the node writes itself, for every role; a decision is fine', async () => {
    await mintExtra('root', 'admin', '*');
    const size = await node.node.storage.size();
    const forged: Json[] = [
      { kind: 'key', body: { operation: 'rotate', keyName: 'x' } },
      {
        kind: 'step',
        tenant: 'acme',
        body: { planId: 'rm-labelled-read', stepId: 'wipe', action: 'shell', status: 'failed' },
      },
      { kind: 'policy', body: { decision: 'allow' } },
      { kind: 'audit', body: { result: 'pass' } },
      { kind: 'federation', body: { peer: 'x' } },
      { kind: 'plan', body: { planId: 'p', planHash: 'a'.repeat(64), goal: 'g' } },
      { kind: 'route', body: { jobId: 'j' } },
      { kind: 'anchor', body: {} },
      { kind: 'tool', body: {} },
    ];
    for (const who of ['acme-agent', 'beta-agent', 'acme-admin', 'root'])
      for (const f of forged) {
        const r = await call(
          'POST',
          '/api/ledger/receipts',
          tokens[who],
          who === 'beta-agent' ? { ...f, tenant: 'beta' } : f,
        );
        expect(r.status, `${who} ${f.kind}`).toBe(403);
        expect(r.body.detail).toMatch(/written only by the node itself/);
      }
    expect(await node.node.storage.size()).toBe(size);
    const ok = await call('POST', '/api/ledger/receipts', tokens['acme-agent'], {
      kind: 'decision',
      body: { title: 'fine' },
    });
    expect(ok.status).toBe(201);
  });

  it('a plan step cannot record a node kind either', async () => {
    const r = await store(
      tokens['acme-agent']!,
      plan('record-key', [
        {
          id: 'k',
          action: 'ledger.record',
          params: { kind: 'key', body: { operation: 'rotate' } },
          risk: 'low',
          reversible: false,
        },
      ]),
    );
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/params\/kind/);
  });

  it('audit verify still passes after all of the above', async () => {
    const v = await call('POST', '/api/agent/mcp/auditor/verify', tokens['acme-admin'], {
      planId: 'rm-labelled-read',
      checks: ['receipts', 'compliance'],
    });
    expect(v.status).toBe(200);
    expect(v.body.result).toBe('pass');
  });
});

describe('hole 5: no run crosses a tenant', () => {
  let heldRun = '';
  let planHash = '';
  const held = () =>
    plan(
      'held-plan',
      [
        {
          id: 'touch',
          action: 'shell',
          params: { command: 'true' },
          risk: 'medium',
          reversible: false,
        },
      ],
      { preconditions: [{ id: 'ping', kind: 'http', params: { url: `${targetUrl}/held-precondition` } }] },
    );

  beforeAll(async () => {
    await acmeTier('T0');
    const stored = await store(tokens['acme-operator']!, held());
    planHash = stored.body.planHash;
    expect((await run(tokens['acme-operator']!, 'held-plan', planHash, true)).body.state).toBe('succeeded');
    const live = await run(tokens['acme-operator']!, 'held-plan', planHash, false);
    expect(live.body.hold.reason).toBe('approval-required');
    heldRun = live.body.runId;
  });

  it('over REST, another tenant cannot start, resume or cancel a plan or run: 404, and nothing fires', async () => {
    const seen = targetSeen.length;
    const size = await node.node.storage.size();
    for (const who of ['beta-viewer', 'beta-agent']) {
      expect((await run(tokens[who]!, 'held-plan', planHash, true)).status, who).toBe(404);
      expect((await call('POST', `/api/runs/${heldRun}/resume`, tokens[who], {})).status, who).toBe(404);
      expect((await call('POST', `/api/runs/${heldRun}/cancel`, tokens[who], {})).status, who).toBe(404);
      expect((await call('GET', `/api/plans/held-plan`, tokens[who])).status, who).toBe(404);
    }
    expect(targetSeen.length).toBe(seen);
    expect(await node.node.storage.size()).toBe(size);
    const view = await call('GET', `/api/runs/${heldRun}`, tokens['acme-operator']);
    expect(view.body.run).toMatchObject({
      state: 'hold',
      principal: { id: expect.stringContaining('acme-operator') },
    });
  });

  it('over MCP, another tenant’s agent cannot dry-run the plan or take over the held run', async () => {
    const seen = targetSeen.length;
    for (const [name, args] of [
      ['dry_run_plan', { planId: 'held-plan', planHash }],
      ['execute_plan', { planId: 'held-plan', planHash }],
      ['resume_run', { runId: heldRun }],
      ['cancel_run', { runId: heldRun }],
      ['audit_plan', { planId: 'held-plan', checks: ['receipts'] }],
      ['request_approval', { planId: 'held-plan', planHash, phaseId: 'main', reason: 'please' }],
    ] as const) {
      const r = await tool(tokens['beta-agent']!, name, args);
      expect(r.isError, name).toBe(true);
      expect(r.text, name).toMatch(/no (plan|run)/);
      // Naming the victim's tenant does not help: policy refuses the tool there.
      const named = await tool(tokens['beta-agent']!, name, { ...args, tenant: 'acme' });
      expect(named.isError, `${name} tenant acme`).toBe(true);
    }
    expect(targetSeen.length).toBe(seen);
    const view = await call('GET', `/api/runs/${heldRun}`, tokens['acme-operator']);
    expect(view.body.run).toMatchObject({
      state: 'hold',
      principal: { id: expect.stringContaining('acme-operator') },
    });
  });

  it('the executor itself refuses a principal outside the plan’s tenant (defence below the edges)', async () => {
    const outsider = {
      type: 'agent' as const,
      id: 'token:beta-agent',
      role: 'agent' as const,
      tenant: 'beta',
    };
    await expect(
      node.control.executor.run({ plan: 'held-plan', planHash, dryRun: true, principal: outsider }),
    ).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    await expect(node.control.executor.resume(heldRun, { principal: outsider })).rejects.toMatchObject({
      code: 'POLICY_DENIED',
    });
  });
});

describe('hole 9: four eyes, from the authenticated identity', () => {
  const gated = (id: string, tenant = 'acme') =>
    plan(id, [{ id: 'w', action: 'wait', params: { ms: 1 }, risk: 'low', reversible: true }], {
      target: { environment: 'staging', tenant },
      // The body's author claim is someone else: it must not matter.
      createdBy: 'someone-else@acme',
    });

  it('whoever stored a plan cannot approve it, whatever the plan body claims; another operator can', async () => {
    await mintExtra('acme-lead', 'operator', 'acme');
    const stored = await store(tokens['acme-operator']!, gated('four-eyes'));
    expect(stored.status).toBe(201);
    expect(stored.body.storedBy).toMatch(/^token:acme\/acme-operator#[0-9a-f]{16}$/);
    const ask = { planId: 'four-eyes', planHash: stored.body.planHash, phaseId: 'main', reason: 'ok' };
    const own = await call('POST', '/api/approvals', tokens['acme-operator'], ask);
    expect(own.status).toBe(403);
    expect(own.body.detail).toMatch(/four-eyes/);
    expect((await call('POST', '/api/approvals', tokens['acme-lead'], ask)).status).toBe(201);
  });

  it('a tenant can turn four eyes off (control.fourEyes.tenants)', async () => {
    await mintExtra('lab-operator', 'operator', 'lab');
    const stored = await store(tokens['lab-operator']!, gated('lab-plan', 'lab'));
    const r = await call('POST', '/api/approvals', tokens['lab-operator'], {
      planId: 'lab-plan',
      planHash: stored.body.planHash,
      phaseId: 'main',
    });
    expect(r.status).toBe(201);
  });
});

describe('hole 10: no impersonation through token names', () => {
  it('actors name the tenant and the token id; a name is unique among a tenant’s live tokens', async () => {
    await mintExtra('beta-admin', 'admin', 'beta');
    // beta's admin mints a token named like acme's operator: allowed in beta, but it acts as beta's.
    const minted = await call('POST', '/api/tokens', tokens['beta-admin'], {
      name: 'acme-operator',
      role: 'operator',
      tenant: 'beta',
    });
    expect(minted.status).toBe(201);
    const dup = await call('POST', '/api/tokens', tokens['beta-admin'], {
      name: 'acme-operator',
      role: 'viewer',
      tenant: 'beta',
    });
    expect(dup.status).toBe(400);
    expect(dup.body.detail).toMatch(/already has a live token named "acme-operator"/);
    const r = await call('POST', '/api/ledger/receipts', minted.body.token, {
      kind: 'decision',
      body: { title: 'hi' },
    });
    expect(r.status).toBe(201);
    expect(r.body.receipt.actor).toMatch(/^token:beta\/acme-operator#[0-9a-f]{16}$/);
    expect(r.body.receipt.actor).toBe(`token:beta/acme-operator#${minted.body.id ?? minted.body.record?.id}`);
    const own = await call('POST', '/api/ledger/receipts', tokens['acme-operator'], {
      kind: 'decision',
      body: { title: 'hi' },
    });
    expect(own.body.receipt.actor).toMatch(/^token:acme\/acme-operator#[0-9a-f]{16}$/);
    expect(own.body.receipt.actor).not.toBe(r.body.receipt.actor);
  });
});

describe('hole 11: creating a plan is not updating one', () => {
  it('a plan id from an agent or a model never replaces a stored plan; an update names the hash it replaces', async () => {
    const original = plan('ops-owned', [
      { id: 'w', action: 'wait', params: { ms: 1 }, risk: 'low', reversible: true },
    ]);
    const stored = await store(tokens['acme-operator']!, original);
    expect(stored.status).toBe(201);
    const hijack = {
      ...original,
      goal: 'the agent’s version',
      phases: [
        {
          id: 'main',
          steps: [{ id: 'x', action: 'wait', params: { ms: 2 }, risk: 'low', reversible: true }],
        },
      ],
    };
    const created = await store(tokens['acme-agent']!, hijack);
    expect(created.status).toBe(409);
    expect(created.body.detail).toMatch(/creating is not updating/);
    // Another tenant's agent claiming the id for its own tenant: refused too.
    const foreign = await store(tokens['beta-agent']!, {
      ...hijack,
      target: { environment: 'staging', tenant: 'beta' },
    });
    expect(foreign.status).toBe(409);
    // An explicit update by an agent of a plan it did not store: policy refuses it.
    const update = await call('POST', '/api/plans', tokens['acme-agent'], {
      plan: hijack,
      replaces: stored.body.planHash,
    });
    expect(update.status).toBe(403);
    expect((await call('GET', '/api/plans/ops-owned', tokens['acme-operator'])).body.planHash).toBe(
      stored.body.planHash,
    );
    // The operator who stored it may update it, naming the hash it reviewed; a stale hash is refused.
    const stale = await call('POST', '/api/plans', tokens['acme-operator'], {
      plan: hijack,
      replaces: '0'.repeat(64),
    });
    expect(stale.status).toBe(409);
    const ok = await call('POST', '/api/plans', tokens['acme-operator'], {
      plan: hijack,
      replaces: stored.body.planHash,
    });
    expect(ok.status).toBe(201);
    // Storing the same plan again is a no-op (idempotent create).
    const again = await store(tokens['acme-operator']!, hijack);
    expect(again.status).toBe(201);
    expect(again.body.planHash).toBe(ok.body.planHash);
  });

  it('over MCP, planning the same intent twice returns the stored plan (create is idempotent, never a replace)', async () => {
    const r = await tool(tokens['acme-agent']!, 'create_plan', {
      intent: {
        kind: 'scale',
        tenant: 'acme',
        environment: 'staging',
        service: 'api',
        replicas: 3,
        currentReplicas: 2,
      },
    });
    expect(r.isError, r.text).toBe(false);
    // The same intent again is the same plan (returned, not replaced).
    const again = await tool(tokens['acme-agent']!, 'create_plan', {
      intent: {
        kind: 'scale',
        tenant: 'acme',
        environment: 'staging',
        service: 'api',
        replicas: 3,
        currentReplicas: 2,
      },
    });
    expect(again.isError, again.text).toBe(false);
    expect(again.json.planHash).toBe(r.json.planHash);
  });
});

/** Opens a poll as `opener`, has each voter vote, closes it; returns the closed poll. */
async function poll(opener: string, body: Json, votes: [string, 'go' | 'no-go'][]): Promise<Json> {
  const open = await call('POST', '/api/golive/polls', tokens[opener], {
    windowMs: 60_000,
    subject: 'test',
    ...body,
  });
  expect(open.status, JSON.stringify(open.body)).toBe(201);
  for (const [voter, vote] of votes) {
    const v = await call('POST', `/api/golive/polls/${open.body.id}/votes`, tokens[voter], {
      vote,
      reason: 'checked',
    });
    expect(v.status, JSON.stringify(v.body)).toBe(200);
  }
  const closed = await call('POST', `/api/golive/polls/${open.body.id}/close`, tokens[opener], {});
  expect(closed.status).toBe(200);
  return closed.body;
}

describe('hole 6: go/no-go is enforced where runs start', () => {
  beforeAll(async () => {
    await acmeTier('T2');
    const mint = async (name: string, pollRoles: string[]) => {
      tokens[name] ??= (
        await createToken(node.node.storage, { name, role: 'operator', tenant: 'acme', pollRoles })
      ).token;
    };
    await mint('acme-sre', ['sre']);
    await mint('acme-sec', ['security']);
  });
  const waitPlan = (id: string, over: Json = {}) =>
    plan(id, [{ id: 'w', action: 'wait', params: { ms: 1 }, risk: 'low', reversible: true }], over);

  it('a recorded no-go on a plan hash refuses its live start and resume on every edge; a later go lets it run', async () => {
    const stored = await store(tokens['acme-operator']!, waitPlan('no-go-plan'));
    const h = stored.body.planHash;
    expect((await run(tokens['acme-operator']!, 'no-go-plan', h, true)).body.state).toBe('succeeded');
    const closed = await poll(
      'acme-admin',
      { roles: ['sre', 'security'], planId: 'no-go-plan', planHash: h },
      [
        ['acme-sre', 'go'],
        ['acme-sec', 'no-go'],
      ],
    );
    expect(closed.outcome).toBe('hold');
    const rest = await run(tokens['acme-operator']!, 'no-go-plan', h, false);
    expect(rest.status).toBe(409);
    expect(rest.body.code).toBe('NO_GO');
    const mcp = await tool(tokens['acme-agent']!, 'execute_plan', { planId: 'no-go-plan', planHash: h });
    expect(mcp.isError).toBe(true);
    expect(mcp.text).toMatch(/refused: go\/no-go poll .* closed with hold/);
    // A dry-run is still fine.
    expect((await run(tokens['acme-operator']!, 'no-go-plan', h, true)).body.state).toBe('succeeded');
    const go = await poll('acme-admin', { roles: ['sre', 'security'], planId: 'no-go-plan', planHash: h }, [
      ['acme-sre', 'go'],
      ['acme-sec', 'go'],
    ]);
    expect(go.outcome).toBe('go');
    expect((await run(tokens['acme-operator']!, 'no-go-plan', h, false)).body.state).toBe('succeeded');
  });

  it('a held live run does not resume after a no-go is recorded for its plan hash', async () => {
    const p = waitPlan('resume-no-go', {
      phases: [
        {
          id: 'main',
          gate: { approval: true },
          steps: [{ id: 'w', action: 'wait', params: { ms: 1 }, risk: 'low', reversible: true }],
        },
      ],
    });
    const stored = await store(tokens['acme-operator']!, p);
    const h = stored.body.planHash;
    await run(tokens['acme-operator']!, p.id, h, true);
    const held = await run(tokens['acme-operator']!, p.id, h, false);
    expect(held.body.hold.reason).toBe('approval-required');
    await poll('acme-admin', { roles: ['sre'], planId: p.id, planHash: h }, [['acme-sre', 'no-go']]);
    const approval = await call('POST', '/api/approvals', tokens['acme-lead'], {
      planId: p.id,
      planHash: h,
      phaseId: 'main',
    });
    expect(approval.status).toBe(201);
    const resumed = await call('POST', `/api/runs/${held.body.runId}/resume`, tokens['acme-operator'], {
      approvals: [approval.body.token],
    });
    expect(resumed.status).toBe(409);
    expect(resumed.body.code).toBe('NO_GO');
  });

  it('a golive gate passes only on a go bound to the exact plan hash; a readiness gate on the tenant’s checklist', async () => {
    const gated = waitPlan('gated-plan', {
      gates: [
        { id: 'go', kind: 'golive', phaseId: 'main' },
        { id: 'ready', kind: 'readiness', phaseId: 'main' },
      ],
    });
    const stored = await store(tokens['acme-operator']!, gated);
    const h = stored.body.planHash;
    await run(tokens['acme-operator']!, 'gated-plan', h, true);
    const noPoll = await run(tokens['acme-operator']!, 'gated-plan', h, false);
    expect(noPoll.body.hold).toMatchObject({ reason: 'gate-failed' });
    expect(noPoll.body.hold.message).toMatch(/no go\/no-go poll on plan gated-plan hash/);
    await call('POST', `/api/runs/${noPoll.body.runId}/cancel`, tokens['acme-operator'], { rollback: false });
    await poll('acme-admin', { roles: ['sre'], planId: 'gated-plan', planHash: h }, [['acme-sre', 'go']]);
    // The tenant is NOT_READY (backups too old): the readiness gate holds the run, naming the finding.
    writeFileSync(join(dir, 'observed.json'), JSON.stringify({ metrics: { backup_age_seconds: 5000 } }));
    const notReady = await run(tokens['acme-operator']!, 'gated-plan', h, false);
    expect(notReady.body.hold).toMatchObject({ reason: 'gate-failed' });
    expect(notReady.body.hold.message).toMatch(/ready.*NOT_READY/);
    await call('POST', `/api/runs/${notReady.body.runId}/cancel`, tokens['acme-operator'], {
      rollback: false,
    });
    writeFileSync(join(dir, 'observed.json'), JSON.stringify({ metrics: { backup_age_seconds: 300 } }));
    expect((await run(tokens['acme-operator']!, 'gated-plan', h, false)).body.state).toBe('succeeded');
    // Another tenant has no checklist: its readiness gate fails closed, saying so.
    await mintExtra('lab-admin', 'admin', 'lab');
    const lab = await store(tokens['lab-operator']!, {
      ...gated,
      id: 'lab-gated',
      target: { environment: 'staging', tenant: 'lab' },
      gates: [{ id: 'ready', kind: 'readiness', phaseId: 'main' }],
    });
    await run(tokens['lab-operator']!, 'lab-gated', lab.body.planHash, true);
    const labLive = await run(tokens['lab-operator']!, 'lab-gated', lab.body.planHash, false);
    expect(labLive.body.hold.message).toMatch(/no readiness checklist is configured for tenant lab/);
  });
});

describe('holes 7 and 8: go/no-go polls are the tenant’s own, and cannot be forged', () => {
  it('another tenant sees none of a tenant’s approvals or polls, over REST and MCP', async () => {
    const approvals = await call('GET', '/api/approvals', tokens['beta-viewer']);
    expect(approvals.status).toBe(200);
    expect(approvals.body.items).toEqual([]);
    expect((await call('GET', '/api/approvals', tokens['acme-admin'])).body.items.length).toBeGreaterThan(0);
    const polls = await call('GET', '/api/golive/polls', tokens['beta-viewer']);
    expect(polls.body.items).toEqual([]);
    const acmePolls = (await call('GET', '/api/golive/polls', tokens['acme-admin'])).body.items as Json[];
    expect(acmePolls.length).toBeGreaterThan(0);
    expect((await call('GET', `/api/golive/polls/${acmePolls[0]!.id}`, tokens['beta-viewer'])).status).toBe(
      404,
    );
    const status = await tool(tokens['beta-agent']!, 'golive_status', {});
    expect(status.isError).toBe(false);
    expect(status.json.polls).toEqual([]);
    const seen =
      JSON.stringify(await call('GET', '/api/approvals', tokens['beta-viewer'])) +
      JSON.stringify(status.json);
    for (const leak of ['no-go-plan', 'acme']) expect(seen).not.toContain(leak);
  });

  it('another tenant can neither open, vote in nor close a tenant’s poll; a viewer opens nothing', async () => {
    const size = await node.node.storage.size();
    const forOther = await call('POST', '/api/golive/polls', tokens['beta-viewer'], {
      roles: ['sre'],
      windowMs: 60_000,
      subject: 'x',
      tenant: 'acme',
    });
    expect(forOther.status).toBe(403);
    const open = await call('POST', '/api/golive/polls', tokens['acme-admin'], {
      roles: ['sre', 'security'],
      windowMs: 60_000,
      subject: 'acme live',
    });
    expect(open.status).toBe(201);
    expect(open.body.tenant).toBe('acme');
    const id = open.body.id as string;
    for (const who of ['beta-viewer', 'beta-agent']) {
      expect((await call('POST', `/api/golive/polls/${id}/close`, tokens[who], {})).status, who).toBe(404);
      expect(
        (
          await call('POST', `/api/golive/polls/${id}/votes`, tokens[who], {
            role: 'sre',
            vote: 'go',
            reason: 'x',
          })
        ).status,
        who,
      ).toBe(404);
    }
    // A viewer of the tenant cannot close it either (policy: approve).
    expect((await call('POST', `/api/golive/polls/${id}/close`, tokens['acme-viewer'], {})).status).toBe(403);
    expect((await call('GET', `/api/golive/polls/${id}`, tokens['acme-admin'])).body.state).toBe('open');
    expect(await node.node.storage.size()).toBeGreaterThan(size); // the opening, and policy receipts of the denials
  });

  it('a voter’s role comes from its token, and one voter has one vote', async () => {
    await mintExtra('acme-all-roles', 'operator', 'acme');
    const open = await call('POST', '/api/golive/polls', tokens['acme-admin'], {
      roles: ['sre', 'security', 'product'],
      windowMs: 60_000,
      subject: 'one voter one vote',
    });
    const id = open.body.id as string;
    // A token without a poll role cannot vote, whatever role it names.
    const forged = await call('POST', `/api/golive/polls/${id}/votes`, tokens['acme-operator'], {
      role: 'sre',
      vote: 'go',
      reason: 'x',
    });
    expect(forged.status).toBe(403);
    // The sre cannot vote as security.
    const asOther = await call('POST', `/api/golive/polls/${id}/votes`, tokens['acme-sre'], {
      role: 'security',
      vote: 'go',
      reason: 'x',
    });
    expect(asOther.status).toBe(403);
    expect(
      (await call('POST', `/api/golive/polls/${id}/votes`, tokens['acme-sre'], { vote: 'go', reason: 'ok' }))
        .status,
    ).toBe(200);
    const twice = await call('POST', `/api/golive/polls/${id}/votes`, tokens['acme-sre'], {
      vote: 'go',
      reason: 'again',
    });
    expect(twice.status).toBe(409);
    const p = await call('GET', `/api/golive/polls/${id}`, tokens['acme-admin']);
    expect(Object.keys(p.body.votes)).toEqual(['sre']);
  });

  it('no tenant’s poll decides for the node: promotion reads only node-wide polls', async () => {
    const { promotionAllowed } = await import('@vaultmesh/control');
    expect(await promotionAllowed(node.control.store)).toBe(false);
    await poll('acme-admin', { roles: ['sre'] }, [['acme-sre', 'go']]);
    expect(await promotionAllowed(node.control.store)).toBe(false);
  });
});

describe('policy timeouts measure the evaluation and are configurable', () => {
  it('control.policyTimeoutMs is accepted and used; a bad value is refused naming it', async () => {
    const cfgDir = mkdtempSync(join(tmpdir(), 'vm-policy-timeout-'));
    try {
      const write = (control: Json) =>
        writeFileSync(
          join(cfgDir, 'c.json'),
          JSON.stringify({ port: 0, dataDir: join(cfgDir, 'data'), logLevel: 'silent', control }),
        );
      write({ policyTimeoutMs: 0 });
      expect(() => loadConfig({ configFile: join(cfgDir, 'c.json') })).toThrow(/control\.policyTimeoutMs/);
      write({ policyTimeoutMs: 'fast' });
      expect(() => loadConfig({ configFile: join(cfgDir, 'c.json') })).toThrow(/control\.policyTimeoutMs/);
      write({ policyTimeoutMs: 2500 });
      const n = await startNode(loadConfig({ configFile: join(cfgDir, 'c.json') }));
      try {
        expect(n.control.engine.timeoutMs).toBe(2500);
      } finally {
        await n.stop();
      }
    } finally {
      rmSync(cfgDir, { recursive: true, force: true });
    }
  });

  it('a decision on a CPU-starved process is not a deny (the node decides on a machine kept busy)', async () => {
    // Two busy child processes keep both cores loaded while the node decides 200 requests.
    const { spawn } = await import('node:child_process');
    const burners = [0, 1].map(() => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
    try {
      const principal = {
        type: 'person' as const,
        id: 'token:acme/x#1',
        role: 'admin' as const,
        tenant: 'acme',
      };
      let denied = 0;
      for (let i = 0; i < 200; i++) {
        const d = await node.control.engine.decide({
          principal,
          action: 'read',
          resource: { type: 'ledger', id: 'l', tenant: 'acme' },
          context: {},
        });
        if (d.decision !== 'allow') denied++;
      }
      expect(denied).toBe(0);
    } finally {
      for (const b of burners) b.kill('SIGKILL');
    }
  });
});
