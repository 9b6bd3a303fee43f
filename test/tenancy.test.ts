// Guard (issue 11): tenancy is total. Every REST route (from the app's own route table), every tool of the gateway
// (what MCP tools, MCP resources and A2A skills call) and every persisted query is called by every role of a foreign
// tenant, aimed at tenant acme's plan, run, poll, approval, token, job and receipts. Nothing of acme may show in an
// answer, and acme's state must be exactly what it was. A new route, tool or query without a case here fails the
// first test, so the next one cannot be forgotten.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createToken } from '@vaultmesh/auth';
import { setAutonomy, type Principal } from '@vaultmesh/control';
import type { Caller } from '@vaultmesh/interop';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { render } from '@vaultmesh/spawn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test bodies are checked field by field
type Json = Record<string, any>;

/** Text that only acme's own data carries (never sent by the attacker): it must never reach another tenant. */
const MARKERS = ['victim-marker-7f3a', 'token:acme/'];
const ROLES = ['admin', 'operator', 'agent', 'auditor', 'viewer'] as const;
const JOB_COMMAND = [process.execPath, '-e', 'setTimeout(() => {}, 50)'];

let dir: string;
let node: RunningNode;
const acme: Record<string, string> = {};
const beta: Record<string, string> = {};
const victim = {
  planId: 'victim-plan',
  planHash: '',
  runId: '',
  pollId: '',
  tokenId: '',
  jobId: '',
  receipt: 0,
};

async function call(method: string, path: string, token: string | undefined, body?: unknown) {
  const res = await fetch(node.url + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      accept: 'application/json, text/event-stream',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, text: await res.text() };
}

const victimPlan = (over: Json = {}): Json => ({
  v: 1,
  id: 'victim-plan',
  goal: 'victim-marker-7f3a: a change of tenant acme',
  target: { environment: 'prod', tenant: 'acme' },
  phases: [
    {
      id: 'main',
      gate: { approval: true },
      steps: [{ id: 'w', action: 'wait', params: { ms: 1 }, risk: 'low', reversible: true }],
    },
  ],
  preconditions: [],
  gates: [],
  createdBy: 'ops@acme',
  createdAt: '2026-12-01T00:00:00.000Z',
  ...over,
});

/**
 * What the attacker sends to each route: aimed at acme's objects wherever the route takes an id or a tenant.
 * `null`: the route is public by design (named why); it is still called and must still leak nothing.
 */
const REST: Record<string, { path: () => string; body?: () => unknown } | { public: string }> = {
  'GET /api/system/health': { public: 'liveness: no tenant data' },
  'GET /api/backend/status': { public: 'node status: no tenant data' },
  'GET /metrics': { public: 'Prometheus exposition: no tenant labels' },
  'GET /api/ledger/checkpoint': { public: 'signed checkpoint: hashes only' },
  'POST /api/ledger/checkpoint': { path: () => '/api/ledger/checkpoint', body: () => ({}) },
  'GET /checkpoint': { public: 'C2SP checkpoint: hashes only' },
  'GET /tile/*': { path: () => '/tile/entries/000' },
  'GET /api/ledger/proof/inclusion': { path: () => `/api/ledger/proof/inclusion?index=${victim.receipt}` },
  'GET /api/ledger/proof/consistency': { path: () => '/api/ledger/proof/consistency?from=1' },
  'GET /api/anchor/status': { public: 'anchoring status: no tenant data' },
  'GET /api/ledger/anchors': { path: () => '/api/ledger/anchors' },
  'GET /api/ledger/evidence/:index': { path: () => `/api/ledger/evidence/${victim.receipt}` },
  'GET /api/ledger/receipts': { path: () => '/api/ledger/receipts?tenant=acme' },
  'GET /api/ledger/receipts/:index': { path: () => `/api/ledger/receipts/${victim.receipt}` },
  'POST /api/ledger/receipts': {
    path: () => '/api/ledger/receipts',
    body: () => ({ kind: 'decision', tenant: 'acme', body: { title: 'forged' } }),
  },
  'GET /api/spawn/templates': { public: 'the template catalog: no tenant data' },
  'POST /api/spawn': {
    path: () => '/api/spawn',
    body: () => ({
      template: 'service',
      service: 'acme-svc',
      tenant: 'acme',
      params: { tenant: 'acme' },
      treeSha256: render({ template: 'service', service: 'acme-svc', params: { tenant: 'acme' } }).treeSha256,
    }),
  },
  'GET /api/psi/series': { path: () => '/api/psi/series' },
  'GET /api/psi/anomalies': { path: () => '/api/psi/anomalies' },
  'GET /api/tokens': { path: () => '/api/tokens' },
  'POST /api/tokens': {
    path: () => '/api/tokens',
    body: () => ({ name: 'acme-operator', role: 'admin', tenant: 'acme' }),
  },
  'DELETE /api/tokens/:id': { path: () => `/api/tokens/${victim.tokenId}` },
  'GET /api/agent/mcp/status': { path: () => '/api/agent/mcp/status' },
  'GET /api/schemas': { public: 'the published plan format' },
  'GET /api/schemas/:name': { path: () => '/api/schemas/plan.schema.json' },
  'POST /api/agent/mcp/strategist/plan': {
    path: () => '/api/agent/mcp/strategist/plan',
    body: () => ({
      intent: { kind: 'scale', tenant: 'acme', environment: 'prod', service: 'api', replicas: 0 },
    }),
  },
  'POST /api/plans': {
    path: () => '/api/plans',
    body: () => ({ plan: victimPlan({ goal: 'hijacked' }), replaces: victim.planHash }),
  },
  'GET /api/plans/:id': { path: () => `/api/plans/${victim.planId}` },
  'POST /api/agent/mcp/executor/run': {
    path: () => '/api/agent/mcp/executor/run',
    body: () => ({ planId: victim.planId, planHash: victim.planHash, dryRun: false, wait: true }),
  },
  'GET /api/runs': { path: () => '/api/runs' },
  'GET /api/runs/:id': { path: () => `/api/runs/${victim.runId}` },
  'GET /api/runs/:id/events': { path: () => `/api/runs/${victim.runId}/events` },
  'POST /api/runs/:id/resume': { path: () => `/api/runs/${victim.runId}/resume`, body: () => ({}) },
  'POST /api/runs/:id/cancel': { path: () => `/api/runs/${victim.runId}/cancel`, body: () => ({}) },
  'POST /api/approvals': {
    path: () => '/api/approvals',
    body: () => ({ planId: victim.planId, planHash: victim.planHash, phaseId: 'main' }),
  },
  'GET /api/approvals/requests': { path: () => '/api/approvals/requests' },
  'GET /api/approvals': { path: () => '/api/approvals' },
  'POST /api/golive/polls': {
    path: () => '/api/golive/polls',
    body: () => ({ roles: ['sre'], windowMs: 60_000, subject: 'forged', tenant: 'acme' }),
  },
  'GET /api/golive/polls': { path: () => '/api/golive/polls' },
  'GET /api/golive/polls/:id': { path: () => `/api/golive/polls/${victim.pollId}` },
  'POST /api/golive/polls/:id/votes': {
    path: () => `/api/golive/polls/${victim.pollId}/votes`,
    body: () => ({ role: 'sre', vote: 'no-go', reason: 'forged' }),
  },
  'POST /api/golive/polls/:id/close': {
    path: () => `/api/golive/polls/${victim.pollId}/close`,
    body: () => ({}),
  },
  'POST /api/agent/mcp/auditor/verify': {
    path: () => '/api/agent/mcp/auditor/verify',
    body: () => ({ planId: victim.planId, checks: ['receipts'] }),
  },
  'GET /.well-known/oauth-protected-resource': { public: 'OAuth resource metadata' },
  'POST /mcp': {
    path: () => '/mcp',
    body: () => ({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  },
  'GET /mcp': { path: () => '/mcp' },
  'DELETE /mcp': { path: () => '/mcp' },
  'POST /federation/cosignatures': {
    path: () => '/federation/cosignatures',
    body: () => ({ note: 'not a note', line: 'not a line' }),
  },
  'POST /federation/merge': { path: () => '/federation/merge', body: () => ({ entries: [] }) },
  'GET /api/federation/status': { path: () => '/api/federation/status' },
  'POST /agent/route': {
    path: () => '/agent/route',
    body: () => ({ workload: { id: 'route-me', tenant: 'acme', gpu: { count: 1 }, command: JOB_COMMAND } }),
  },
  'POST /api/aurora/jobs': {
    path: () => '/api/aurora/jobs',
    body: () => ({ workload: { id: 'place-me', tenant: 'acme', gpu: { count: 1 }, command: JOB_COMMAND } }),
  },
  'GET /api/aurora/jobs': { path: () => '/api/aurora/jobs?tenant=acme' },
  'GET /api/aurora/jobs/:id': { path: () => `/api/aurora/jobs/${victim.jobId}` },
  'POST /api/aurora/jobs/:id/cancel': {
    path: () => `/api/aurora/jobs/${victim.jobId}/cancel`,
    body: () => ({}),
  },
  'GET /api/aurora/providers': { path: () => '/api/aurora/providers' },
  'GET /api/aurora/treaties': { path: () => '/api/aurora/treaties' },
  'GET /api/aurora/models': { path: () => '/api/aurora/models' },
  'POST /api/aurora/models/train': { path: () => '/api/aurora/models/train', body: () => ({}) },
  'POST /api/aurora/slo-report': {
    path: () => '/api/aurora/slo-report',
    body: () => ({ treaty: 'acme-lab' }),
  },
  'GET /.well-known/agent-card.json': { public: 'A2A agent card' },
  'POST /a2a/perform': {
    path: () => '/a2a/perform',
    body: () => ({ agent: 'nobody', pqid: 'runs.recent', tenant: 'acme' }),
  },
  'GET /': { public: 'the dashboard page' },
  'GET /ui/*': { public: 'the dashboard’s static files' },
  'POST /a2a/jsonrpc': {
    path: () => '/a2a/jsonrpc',
    body: () => ({
      jsonrpc: '2.0',
      id: 1,
      method: 'message/send',
      params: {
        message: {
          kind: 'message',
          messageId: 'm1',
          role: 'user',
          parts: [
            {
              kind: 'data',
              data: { tool: 'get_plan', arguments: { planId: victim.planId, tenant: 'acme' } },
            },
          ],
        },
      },
    }),
  },
};

/** Arguments of each tool aimed at acme (the tenant argument is added, and left out, by the test). */
const TOOLS: Record<string, () => Json> = {
  record_decision: () => ({ title: 'forged decision' }),
  search_receipts: () => ({ text: 'victim-marker-7f3a' }),
  get_receipt: () => ({ index: victim.receipt }),
  prove_receipt: () => ({ index: victim.receipt }),
  verify_ledger: () => ({}),
  create_plan: () => ({
    intent: { kind: 'scale', tenant: 'acme', environment: 'prod', service: 'api', replicas: 0 },
  }),
  dry_run_plan: () => ({ planId: victim.planId, planHash: victim.planHash }),
  execute_plan: () => ({ planId: victim.planId, planHash: victim.planHash }),
  resume_run: () => ({ runId: victim.runId }),
  cancel_run: () => ({ runId: victim.runId }),
  audit_plan: () => ({ planId: victim.planId, checks: ['receipts'] }),
  request_approval: () => ({
    planId: victim.planId,
    planHash: victim.planHash,
    phaseId: 'main',
    reason: 'x',
  }),
  golive_status: () => ({}),
  readiness: () => ({}),
  get_checkpoint: () => ({}),
  get_plan: () => ({ planId: victim.planId }),
  get_policies: () => ({}),
  list_queries: () => ({}),
  run_query: () => ({ pqid: 'ledger.status' }),
};

/** MCP resources (by URI or template) and the URI an attacker reads, aimed at acme. */
const RESOURCES: Record<string, () => string> = {
  'vaultmesh://checkpoint': () => 'vaultmesh://checkpoint',
  'vaultmesh://policies/active': () => 'vaultmesh://policies/active',
  'vaultmesh://receipts/{index}': () => `vaultmesh://receipts/${victim.receipt}`,
  'vaultmesh://plans/{planId}': () => `vaultmesh://plans/${victim.planId}`,
};

/** acme's state: everything a foreign caller must not change (policy receipts of its denials aside). */
async function acmeState(): Promise<string> {
  const entries = await node.node.storage.listEntries({ tenants: ['acme'], limit: 100_000, order: 'asc' });
  const receipts = entries.filter((e) => e.kind !== 'policy').map((e) => `${e.index}:${e.kind}`);
  const run = (await node.control.executor.getRun(victim.runId))!;
  const { updatedAt: _u, ...runDoc } = run.run;
  const plan = await node.control.executor.getPlan(victim.planId);
  const polls = (await node.control.golive.listPolls()).filter((p) => p.tenant === 'acme');
  const approvals = (await node.control.listApprovals()).filter((a) => a.tenant === 'acme');
  const tokens = (await node.node.storage.listTokens()).filter((t) => t.tenant === 'acme');
  const jobs = (await node.aurora.api.listJobs({ tenant: 'acme' })) as { id: string }[];
  return JSON.stringify({
    receipts,
    run: runDoc,
    journal: run.journal.map((j) => `${j.stepId}:${j.state}:${j.status ?? ''}`),
    plan: [plan.planHash, plan.storedBy],
    polls,
    approvals,
    tokens,
    jobs: jobs.map((j) => j.id).sort(),
  });
}

const leaks = (text: string) => MARKERS.filter((m) => text.includes(m));
/** Everything the attacker has sent so far: an answer may echo what it was told, never reveal more. */
let sent = '';
/** acme's ids in an answer that the attacker never sent (this request included). */
const idLeaks = (request: string, text: string) => {
  sent += request;
  return [victim.runId, victim.pollId, victim.jobId, victim.planHash].filter(
    (id) => id !== '' && !sent.includes(id) && text.includes(id),
  );
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-tenancy-'));
  const cfg = join(dir, 'vaultmesh.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      port: 0,
      dataDir: join(dir, 'data'),
      logLevel: 'silent',
      // The Ψ-Field watches a node-wide series: only tokens of every tenant read it.
      psi: { intervalMs: 200, series: [{ name: 'steps', metric: 'vaultmesh_control_steps_total' }] },
      aurora: {
        providers: [
          { type: 'local', gpuModel: 'cpu', gpuCount: 8, maxConcurrent: 8, commands: [JOB_COMMAND] },
        ],
      },
    }),
  );
  node = await startNode(loadConfig({ configFile: cfg }));
  for (const role of ROLES) {
    acme[role] = (
      await createToken(node.node.storage, { name: `acme-${role}`, role, tenant: 'acme', pollRoles: ['sre'] })
    ).token;
    beta[role] = (
      await createToken(node.node.storage, { name: `beta-${role}`, role, tenant: 'beta', pollRoles: ['sre'] })
    ).token;
  }
  victim.tokenId = (await node.node.storage.listTokens()).find((t) => t.name === 'acme-viewer')!.id;
  await setAutonomy({
    store: node.control.store,
    receipts: node.node.log,
    actor: 'test',
    tenant: 'acme',
    tier: 'T0',
  });
  // acme's state: a decision, a plan (stored by its operator), a held live run, an approval, polls, a GPU job.
  const d = await call('POST', '/api/ledger/receipts', acme.operator, {
    kind: 'decision',
    body: { title: 'victim-marker-7f3a decision' },
  });
  victim.receipt = (JSON.parse(d.text) as Json).index;
  const stored = JSON.parse(
    (await call('POST', '/api/plans', acme.operator, { plan: victimPlan() })).text,
  ) as Json;
  victim.planHash = stored.planHash;
  const run = async (dryRun: boolean) =>
    JSON.parse(
      (
        await call('POST', '/api/agent/mcp/executor/run', acme.operator, {
          planId: victim.planId,
          planHash: victim.planHash,
          dryRun,
          wait: true,
        })
      ).text,
    ) as Json;
  expect((await run(true)).state).toBe('succeeded');
  const held = await run(false);
  expect(held.hold.reason).toBe('approval-required');
  victim.runId = held.runId;
  const approval = await call('POST', '/api/approvals', acme.admin, {
    planId: victim.planId,
    planHash: victim.planHash,
    phaseId: 'main',
    reason: 'victim-marker-7f3a approval',
  });
  expect(approval.status).toBe(201);
  const poll = JSON.parse(
    (
      await call('POST', '/api/golive/polls', acme.admin, {
        roles: ['sre', 'security'],
        windowMs: 3_600_000,
        subject: 'victim-marker-7f3a go-live',
      })
    ).text,
  ) as Json;
  victim.pollId = poll.id;
  const job = JSON.parse(
    (
      await call('POST', '/api/aurora/jobs', acme.operator, {
        workload: { id: 'victim-job', tenant: 'acme', gpu: { count: 1 }, command: JOB_COMMAND },
      })
    ).text,
  ) as Json;
  victim.jobId = job.id;
  expect(victim.jobId).toBeTruthy();
}, 120_000);

afterAll(async () => {
  await node?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('tenancy is total (issue 11 guard)', () => {
  it('every REST route, tool and persisted query has a case here', () => {
    const routes = node.app.routeTable.map((r) => `${r.method} ${r.url}`);
    expect(
      routes.filter((r) => !(r in REST)),
      'add a tenancy case for these routes',
    ).toEqual([]);
    const tools = node.interop.gateway.list().map((t) => t.name);
    expect(
      tools.filter((t) => !(t in TOOLS)),
      'add a tenancy case for these tools',
    ).toEqual([]);
    expect(node.interop.queries.list().length).toBeGreaterThan(0);
  });

  it('no role of another tenant reads, writes, starts or holds anything of acme over REST', async () => {
    const before = await acmeState();
    for (const role of ROLES)
      for (const r of node.app.routeTable) {
        const key = `${r.method} ${r.url}`;
        const c = REST[key]!;
        const path = 'public' in c ? r.url.replace('/*', '/') : c.path();
        const body = 'public' in c ? undefined : c.body?.();
        const res = await call(r.method, path, beta[role], body);
        const where = `beta ${role}: ${key} → ${res.status}`;
        expect(res.status, where).toBeLessThan(500);
        expect(leaks(res.text), `${where}: ${res.text.slice(0, 300)}`).toEqual([]);
        expect(
          idLeaks(path + JSON.stringify(body ?? ''), res.text),
          `${where}: ${res.text.slice(0, 300)}`,
        ).toEqual([]);
      }
    expect(await acmeState()).toBe(before);
  }, 300_000);

  it('no role of another tenant reads or changes anything of acme through a tool (MCP, A2A) or a query', async () => {
    const before = await acmeState();
    const queries = node.interop.queries.list().map((q) => q.id);
    for (const role of ROLES) {
      const caller: Caller = {
        principal: {
          type: role === 'agent' ? 'agent' : 'person',
          id: `token:beta/beta-${role}#0000000000000000`,
          role,
          tenant: 'beta',
        } as Principal,
        via: 'mcp',
      };
      const calls: [string, Json][] = [];
      for (const t of node.interop.gateway.list()) calls.push([t.name, TOOLS[t.name]!()]);
      for (const pqid of queries) calls.push(['run_query', { pqid }]);
      for (const [name, args] of calls)
        for (const tenant of [undefined, 'acme']) {
          const a = tenant ? { ...args, tenant } : args;
          let text: string;
          try {
            text = JSON.stringify((await node.interop.gateway.call(name, a, caller)).output);
          } catch (e) {
            text = (e as Error).message;
          }
          expect(leaks(text), `beta ${role}: ${name} ${JSON.stringify(a)}: ${text.slice(0, 300)}`).toEqual(
            [],
          );
          expect(idLeaks(JSON.stringify(a), text), `beta ${role}: ${name}: ${text.slice(0, 300)}`).toEqual(
            [],
          );
        }
    }
    expect(await acmeState()).toBe(before);
  }, 300_000);

  it('every MCP resource and A2A skill is covered: resources read by another tenant show nothing of acme', async () => {
    const before = await acmeState();
    for (const role of ROLES) {
      const client = new Client({ name: 'tenancy-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${node.url}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${beta[role]}` } },
        }),
      );
      try {
        const fixed = (await client.listResources()).resources.map((r) => r.uri);
        const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
        expect(templates.length).toBeGreaterThanOrEqual(2);
        const listed = [...fixed.filter((u) => !/^vaultmesh:\/\/(receipts|plans)\//.test(u)), ...templates];
        expect(
          listed.filter((u) => !(u in RESOURCES)),
          'add a tenancy case for these resources',
        ).toEqual([]);
        expect(leaks(JSON.stringify(fixed)), `beta ${role} resources/list`).toEqual([]);
        for (const uri of Object.values(RESOURCES).map((f) => f())) {
          let text: string;
          try {
            text = JSON.stringify(await client.readResource({ uri }));
          } catch (e) {
            text = (e as Error).message;
          }
          expect(leaks(text), `beta ${role} reads ${uri}: ${text.slice(0, 300)}`).toEqual([]);
        }
      } finally {
        await client.close();
      }
    }
    // A2A skills: each is the gateway's tool call or a family of persisted queries, all covered above.
    const card = JSON.parse((await call('GET', '/.well-known/agent-card.json', undefined)).text) as Json;
    const families = new Set(node.interop.queries.list().map((q) => `query.${q.id.split('.')[0]}`));
    const skills = (card.skills as { id: string }[]).map((k) => k.id);
    expect(
      skills.filter((id) => id !== 'tool.call' && !families.has(id)),
      'add a tenancy case',
    ).toEqual([]);
    expect(await acmeState()).toBe(before);
  }, 300_000);

  it('acme itself still sees and drives its own objects (the cases above aim at real targets)', async () => {
    const plan = await call('GET', `/api/plans/${victim.planId}`, acme.viewer);
    expect(plan.status).toBe(200);
    expect(leaks(plan.text)).toContain('victim-marker-7f3a');
    expect((await call('GET', `/api/runs/${victim.runId}`, acme.viewer)).status).toBe(200);
    expect((await call('GET', `/api/golive/polls/${victim.pollId}`, acme.viewer)).status).toBe(200);
    expect((await call('GET', `/api/aurora/jobs/${victim.jobId}`, acme.viewer)).status).toBe(200);
    expect((await call('GET', `/api/ledger/receipts/${victim.receipt}`, acme.viewer)).status).toBe(200);
  });
});
