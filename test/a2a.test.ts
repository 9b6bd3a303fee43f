// A2A over real HTTP on loopback, on real nodes (SQLite ledger, Cedar default policies, control plane): the agent
// card and JSON-RPC endpoint driven by the official SDK client, task states for success, denial, approval holds and
// tripwire halts, bearer auth, and POST /a2a/perform asking a second VaultMesh node (the remote agent) a persisted
// query, with residency, input checks and a remote that never answers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { Role, TaskState, type Message, type Task } from '@a2a-js/sdk';
import {
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
  type Client,
} from '@a2a-js/sdk/client';
import { authenticate, bearerToken, createToken } from '@vaultmesh/auth';
import type { Principal } from '@vaultmesh/control';
import {
  A2aAgentConfigSchema,
  A2aAgentsConfigSchema,
  agentCardToJson,
  buildAgentCard,
  createA2aAgentsClient,
  createA2aJsonRpc,
  createQueryRegistry,
  createToolGateway,
  registerA2aPerformTool,
  registerBuiltinTools,
  type A2aAgentEndpoint,
  type InteropServices,
} from '@vaultmesh/interop';
import { toProblem } from '@vaultmesh/api';
import { registerA2aRoutes } from '@vaultmesh/api';
import {
  createControlPlane,
  createInterop,
  initNode,
  openNode,
  type ControlPlane,
  type OpenedNode,
} from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface TestNode {
  dir: string;
  node: OpenedNode;
  control: ControlPlane;
  app: FastifyInstance;
  url: string;
  /** Requests that reached the node's HTTP server. */
  hits: number;
  token(name: string, role: string, tenant: string): Promise<string>;
}

const TRIP_QUERY = 'sum(increase(a2a_test_errors_total{tenant="$tenant"}[$window]))';

async function startTestNode(name: string, agents: readonly A2aAgentEndpoint[] = []): Promise<TestNode> {
  const dir = mkdtempSync(join(tmpdir(), `vm-a2a-${name}-`));
  const dataDir = join(dir, 'data');
  // A burn-rate tripwire on a per-tenant test counter: silent unless the test reports errors for a tenant.
  const tripwires = join(dir, 'tripwires.json');
  writeFileSync(
    tripwires,
    JSON.stringify({
      rules: [
        {
          id: 'test-error-burn',
          kind: 'burn-rate',
          objective: 0.99,
          burnRate: 1,
          query: TRIP_QUERY,
          long: '1h',
          short: '5m',
          action: 'halt',
          noData: 'ignore',
        },
      ],
    }),
  );
  await initNode(dataDir);
  const node = await openNode(dataDir);
  const control = createControlPlane(node, { tripwiresFile: tripwires });
  const interop = createInterop(node, control, { dataDir, mode: 'dry-run' });
  const services: InteropServices = {
    ...interop.services,
    ...(agents.length ? { agents: createA2aAgentsClient(agents) } : {}),
  };
  const gateway = createToolGateway<InteropServices>({
    decider: control.policy,
    receipts: node.log,
    services,
  });
  registerBuiltinTools(gateway, createQueryRegistry());
  registerA2aPerformTool(gateway, agents);

  const app = Fastify({ logger: false });
  const t: TestNode = {
    dir,
    node,
    control,
    app,
    url: '',
    hits: 0,
    token: async (n, role, tenant) =>
      (await createToken(node.storage, { name: n, role, tenant, audience: ['a2a'] })).token,
  };
  app.setErrorHandler((err, _req, reply) => {
    const p = toProblem(err);
    if (p.status === 401) void reply.header('www-authenticate', 'Bearer realm="vaultmesh"');
    void reply.code(p.status).type('application/problem+json').send(p);
  });
  app.addHook('onRequest', async () => {
    t.hits++;
  });
  let card = buildAgentCard({ baseUrl: 'http://127.0.0.1', version: '0.1.0' });
  registerA2aRoutes(app, {
    card: () => agentCardToJson(card),
    rpc: {
      // The card names the listening port, known only after listen: build the endpoint lazily.
      handle: (req) => rpc.handle(req),
    },
    gateway,
    principal: (req) => authenticate(node.storage, bearerToken(req.headers.authorization), Date.now(), 'a2a'),
  });
  t.url = await app.listen({ port: 0, host: '127.0.0.1' });
  card = buildAgentCard({ baseUrl: t.url, version: '0.1.0', tools: gateway.list().map((x) => x.name) });
  const rpc = createA2aJsonRpc({ gateway, card });
  return t;
}

async function stopTestNode(t: TestNode | undefined) {
  if (!t) return;
  await t.app.close();
  await t.control.close();
  await t.node.close();
  rmSync(t.dir, { recursive: true, force: true });
}

/** An SDK client for a node, its requests carrying the bearer token. */
async function sdkClient(t: TestNode, token: string): Promise<Client> {
  const authFetch: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl: authFetch })],
    }),
  );
  return factory.createFromUrl(t.url);
}

function userMessage(value: unknown, metadata?: Record<string, unknown>): Message {
  return {
    messageId: randomUUID(),
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [
      value === undefined
        ? {
            content: { $case: 'text', value: 'hello, show me the ledger' },
            metadata: undefined,
            filename: '',
            mediaType: 'text/plain',
          }
        : {
            content: { $case: 'data', value },
            metadata: undefined,
            filename: '',
            mediaType: 'application/json',
          },
    ],
    metadata,
    extensions: [],
    referenceTaskIds: [],
  };
}

async function send(client: Client, value: unknown, metadata?: Record<string, unknown>): Promise<Task> {
  const res = await client.sendMessage({
    tenant: '',
    message: userMessage(value, metadata),
    configuration: {
      acceptedOutputModes: ['application/json'],
      taskPushNotificationConfig: undefined,
      returnImmediately: false,
    },
    metadata: undefined,
  });
  expect('messageId' in res).toBe(false);
  return res as Task;
}

const statusText = (task: Task) =>
  (task.status?.message?.parts ?? [])
    .map((p) => (p.content?.$case === 'text' ? p.content.value : ''))
    .join(' ');
const artifactData = (task: Task) => {
  const part = task.artifacts[0]?.parts.find((p) => p.content?.$case === 'data');
  return part?.content?.$case === 'data'
    ? (part.content.value as {
        tool: string;
        output: Record<string, unknown>;
        provenance: Record<string, unknown>;
      })
    : undefined;
};

async function ledgerSize(t: TestNode): Promise<number> {
  await t.node.log.idle();
  return t.node.log.size;
}

function plan(id: string, tenant: string) {
  return {
    v: 1,
    id,
    goal: 'wait a moment behind an approval gate',
    target: { environment: 'staging', tenant },
    phases: [
      {
        id: 'apply',
        gate: { approval: true },
        steps: [
          { id: 'pause', action: 'wait', params: { ms: 1 }, risk: 'low', reversible: true, readOnly: true },
        ],
      },
    ],
    preconditions: [],
    gates: [],
    createdBy: 'ops@example',
    createdAt: '2026-11-24T00:00:00.000Z',
  };
}

async function post(t: TestNode, path: string, token: string | undefined, body: unknown) {
  const res = await fetch(t.url + path, {
    method: 'POST',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      'content-type': 'application/json',
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: (text ? JSON.parse(text) : {}) as Record<string, any>, // eslint-disable-line @typescript-eslint/no-explicit-any -- checked field by field
  };
}

let remote: TestNode;
let local: TestNode;
let silent: Server;
const silentSockets = new Set<Socket>();
let evil: FastifyInstance;
let evilRpcHits = 0;
let echo: FastifyInstance;
const ECHO_TOKEN = 'vm_secret_the_echo_agent_repeats';
let localAgent: string;
let remoteAgentToken: string;

beforeAll(async () => {
  // A remote that accepts connections and never answers a byte.
  silent = createServer((s) => {
    silentSockets.add(s);
    s.on('close', () => silentSockets.delete(s));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as { port: number }).port;

  // An agent whose card sends clients (and their bearer tokens) to another origin.
  evil = Fastify({ logger: false });
  evil.get('/.well-known/agent-card.json', async () =>
    agentCardToJson(buildAgentCard({ baseUrl: `http://127.0.0.1:${silentPort}`, version: '6.6.6' })),
  );
  evil.post('/a2a/jsonrpc', async () => {
    evilRpcHits++;
    return {};
  });
  const evilUrl = await evil.listen({ port: 0, host: '127.0.0.1' });

  // An agent that answers every call with an error echoing the bearer token it was sent.
  echo = Fastify({ logger: false });
  let echoUrl = '';
  echo.get('/.well-known/agent-card.json', async () =>
    agentCardToJson(buildAgentCard({ baseUrl: echoUrl, version: '1.0.0' })),
  );
  echo.post('/a2a/jsonrpc', async (req) => ({
    jsonrpc: '2.0',
    id: (req.body as { id?: unknown }).id ?? null,
    error: { code: -32001, message: `token ${String(req.headers.authorization)} is not welcome here` },
  }));
  echoUrl = await echo.listen({ port: 0, host: '127.0.0.1' });

  remote = await startTestNode('remote');
  remoteAgentToken = await remote.token('peer-caller', 'agent', 'acme');
  local = await startTestNode('local', [
    { name: 'peer', url: remote.url, token: remoteAgentToken, timeoutMs: 10_000 },
    { name: 'far', url: remote.url, region: 'us-east-1', token: remoteAgentToken, timeoutMs: 10_000 },
    { name: 'silent', url: `http://127.0.0.1:${silentPort}`, timeoutMs: 300 },
    { name: 'evil', url: evilUrl, token: 'vm_secret_for_evil', timeoutMs: 2_000 },
    { name: 'echo', url: echoUrl, token: ECHO_TOKEN, timeoutMs: 5_000 },
  ]);
  localAgent = await local.token('bot', 'agent', 'acme');
}, 60_000);

afterAll(async () => {
  for (const s of silentSockets) s.destroy();
  await new Promise((resolve) => silent?.close(resolve));
  await evil?.close();
  await echo?.close();
  await stopTestNode(local);
  await stopTestNode(remote);
});

describe('A2A agent card and JSON-RPC endpoint', () => {
  it('serves a public agent card that the SDK resolves: JSON-RPC interface, bearer scheme, a skill per query family and one for governed tools', async () => {
    const card = await new DefaultAgentCardResolver().resolve(local.url);
    expect(card.name).toBe('VaultMesh');
    expect(card.supportedInterfaces[0]).toMatchObject({
      url: `${local.url}/a2a/jsonrpc`,
      protocolBinding: 'JSONRPC',
      protocolVersion: '1.0',
    });
    expect(card.capabilities?.streaming).toBe(false);
    expect(card.securitySchemes.bearer?.scheme).toMatchObject({
      $case: 'httpAuthSecurityScheme',
      value: { scheme: 'Bearer' },
    });
    expect(Object.keys(card.securityRequirements[0]!.schemes)).toEqual(['bearer']);
    expect(card.defaultInputModes).toEqual(['application/json', 'text/plain']);
    const skills = card.skills.map((s) => s.id);
    expect(skills).toEqual(
      expect.arrayContaining(['query.receipts', 'query.runs', 'query.plans', 'query.ledger', 'tool.call']),
    );
    const client = await sdkClient(local, localAgent);
    expect(client.protocolVersion).toBe('1.0');
  });

  it('answers a pqid message with a completed task whose artifact carries the provenance of a `tool` receipt', async () => {
    const client = await sdkClient(local, localAgent);
    const task = await send(
      client,
      { pqid: 'receipts.recent', params: { limit: 3 } },
      { purpose: 'incident-review' },
    );
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const data = artifactData(task)!;
    expect(data.tool).toBe('run_query');
    expect(data.output.pqid).toBe('receipts.recent');
    const prov = data.provenance as {
      receiptIndex: number;
      leafHash: string;
      resultSha256: string;
      time: string;
    };
    expect(Number.isNaN(Date.parse(prov.time))).toBe(false);
    const receipt = await local.node.log.getEntry(prov.receiptIndex);
    const { decodeReceipt, toHex } = await import('@vaultmesh/ledger');
    expect(toHex(receipt.leafHash)).toBe(prov.leafHash);
    const r = decodeReceipt(receipt.bytes);
    expect(r.kind).toBe('tool');
    expect(r.actor).toMatch(/^token:acme\/bot#[0-9a-f]{16}$/);
    expect(r.body).toMatchObject({
      tool: 'run_query',
      via: 'a2a',
      purpose: 'incident-review',
      outcome: 'ok',
      resultSha256: prov.resultSha256,
    });
    // The same token reads its task back; another token does not see it.
    expect((await client.getTask({ tenant: '', id: task.id })).status?.state).toBe(
      TaskState.TASK_STATE_COMPLETED,
    );
    const other = await sdkClient(local, await local.token('other-bot', 'agent', 'acme'));
    await expect(other.getTask({ tenant: '', id: task.id })).rejects.toThrow(/not found/i);
  });

  it('rejects a tool call that policy denies (a viewer recording a decision), with the deciding reasons', async () => {
    const viewer = await sdkClient(local, await local.token('watcher', 'viewer', 'acme'));
    const task = await send(viewer, { tool: 'record_decision', arguments: { title: 'ship it' } });
    expect(task.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
    expect(statusText(task)).toMatch(/^DENIED: policy denied tool:record_decision for token:acme\/watcher#/);
    expect(task.artifacts).toEqual([]);
  });

  it('rejects text-only messages, unknown pqids and malformed metadata without recording anything', async () => {
    const client = await sdkClient(local, localAgent);
    const before = await ledgerSize(local);
    const text = await send(client, undefined);
    expect(text.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
    expect(statusText(text)).toContain('{"pqid"');
    expect(statusText(text)).toContain('{"tool"');
    const unknown = await send(client, { pqid: 'no.such.query' });
    expect(unknown.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
    expect(statusText(unknown)).toMatch(/^INVALID_INPUT: .*not a persisted query/);
    const badMeta = await send(client, { pqid: 'ledger.status' }, { residency: 'EU!' });
    expect(badMeta.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
    expect(await ledgerSize(local)).toBe(before);
  });

  it('asks for input when a live run is held for an approval, and fails a run halted by a tripwire', async () => {
    const ops: Principal = { type: 'person', id: 'token:ops', role: 'admin', tenant: '*' };
    const gated = await local.control.executor.storePlan(plan('gated', 'acme'), { ...ops, tenant: 'acme' });
    const operator = await sdkClient(local, await local.token('op', 'operator', 'acme'));
    const ref = { planId: 'gated', planHash: gated.planHash };
    const dry = await send(operator, { tool: 'dry_run_plan', arguments: ref });
    expect(dry.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const live = await send(operator, { tool: 'execute_plan', arguments: ref });
    expect(live.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(statusText(live)).toContain('approval-required');
    expect(artifactData(live)?.output).toMatchObject({
      state: 'hold',
      hold: { reason: 'approval-required' },
    });
    // The message says what works: resume_run with the approval (execute_plan again would be refused).
    const runId = (artifactData(live)?.output as { runId: string }).runId;
    expect(statusText(live)).toContain(`{"tool": "resume_run", "arguments": {"runId": "${runId}"`);
    // Canceling the waiting task cancels the held run too: nothing stays held behind it.
    const canceled = await operator.cancelTask({ id: live.id, tenant: '' } as never);
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect((await local.control.executor.getRun(runId))?.run.state).toBe('cancelled');

    // Errors reported for tenant "trip" burn its error budget: the tripwire halts the run before its first step.
    const tripped = await local.control.executor.storePlan(plan('tripped', 'trip'), {
      ...ops,
      tenant: 'trip',
    });
    local.control.counters.add('a2a_test_errors_total', 1, { tenant: 'trip' });
    const tripOperator = await sdkClient(local, await local.token('trip-op', 'operator', 'trip'));
    const halted = await send(tripOperator, {
      tool: 'dry_run_plan',
      arguments: { planId: 'tripped', planHash: tripped.planHash },
    });
    expect(halted.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(statusText(halted)).toMatch(/tripwire-halt.*test-error-burn/);
  });

  it('refuses missing or invalid tokens with 401 and WWW-Authenticate: Bearer; protocol errors stay JSON-RPC', async () => {
    const rpc = { jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'x' } };
    const none = await post(local, '/a2a/jsonrpc', undefined, rpc);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(none.headers.get('content-type')).toContain('application/problem+json');
    const bad = await post(local, '/a2a/jsonrpc', 'vm_0000000000000000_nope', rpc);
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer /);
    // A token issued for the REST API only is not valid here.
    const apiOnly = (
      await createToken(local.node.storage, {
        name: 'rest',
        role: 'admin',
        tenant: 'acme',
        audience: ['api'],
      })
    ).token;
    expect((await post(local, '/a2a/jsonrpc', apiOnly, rpc)).status).toBe(401);

    const parse = await post(local, '/a2a/jsonrpc', localAgent, '{"jsonrpc":');
    expect(parse.status).toBe(200);
    expect(parse.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    const v = { 'a2a-version': '1.0' };
    const call = async (body: unknown, headers: Record<string, string> = v) => {
      const res = await fetch(`${local.url}/a2a/jsonrpc`, {
        method: 'POST',
        headers: { authorization: `Bearer ${localAgent}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { error?: { code: number } } };
    };
    expect((await call({ ...rpc, method: 'NoSuchMethod' })).body.error?.code).toBe(-32601);
    expect((await call(rpc)).body.error?.code).toBe(-32001); // task not found
    // Without A2A-Version the request is v0.3, which this node does not serve.
    expect((await call(rpc, {})).body.error?.code).toBe(-32009);
    // A patch number is ignored (spec 3.6.1), and the version may come as a query parameter (spec 3.6).
    expect((await call(rpc, { 'a2a-version': '1.0.7' })).body.error?.code).toBe(-32001);
    const viaQuery = await fetch(`${local.url}/a2a/jsonrpc?A2A-Version=1.0`, {
      method: 'POST',
      headers: { authorization: `Bearer ${localAgent}`, 'content-type': 'application/json' },
      body: JSON.stringify(rpc),
    });
    expect(((await viaQuery.json()) as { error?: { code: number } }).error?.code).toBe(-32001);
    // JSON-RPC 2.0: a request without "jsonrpc", or a batch, is an Invalid Request (-32600).
    const { jsonrpc: _j, ...noVersion } = rpc;
    expect((await call(noVersion)).body).toMatchObject({ id: 1, error: { code: -32600 } });
    expect((await call([rpc, rpc])).body).toMatchObject({ id: null, error: { code: -32600 } });
    expect(
      (
        await call({
          ...rpc,
          method: 'SendStreamingMessage',
          params: { message: userMessage({ pqid: 'ledger.status' }) },
        })
      ).body.error?.code,
    ).toBe(-32004);
  });
});

describe('POST /a2a/perform', () => {
  const perform = { tenantId: 'acme', purpose: 'incident-review', pqid: 'ledger.status', agent: 'peer' };

  it('asks the named remote VaultMesh agent a persisted query and returns its result with provenance, recording a `tool` receipt on the caller node', async () => {
    const remoteBefore = await ledgerSize(remote);
    const r = await post(local, '/a2a/perform', localAgent, perform);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ state: 'completed', agent: 'peer', pqid: 'ledger.status' });
    expect(r.body.taskId).toMatch(/^[0-9a-f-]{36}$/);
    // The remote's own provenance travels inside the result: its run_query receipt on its ledger.
    expect(r.body.result).toMatchObject({ tool: 'run_query', output: { pqid: 'ledger.status' } });
    const remoteReceipt = await remote.node.log.getEntry(r.body.result.provenance.receiptIndex);
    const { decodeReceipt, toHex } = await import('@vaultmesh/ledger');
    expect(decodeReceipt(remoteReceipt.bytes)).toMatchObject({
      kind: 'tool',
      actor: expect.stringMatching(/^token:[a-z0-9*]+\/peer-caller#/),
      body: { tool: 'run_query', via: 'a2a', purpose: 'incident-review', outcome: 'ok' },
    });
    expect(await ledgerSize(remote)).toBeGreaterThan(remoteBefore);

    const { digestOf } = await import('@vaultmesh/interop');
    const prov = r.body.provenance;
    expect(prov.hash).toBe(digestOf(r.body.result));
    expect(Number.isNaN(Date.parse(prov.time))).toBe(false);
    const entry = await local.node.log.getEntry(prov.receiptIndex);
    expect(toHex(entry.leafHash)).toBe(prov.leafHash);
    expect(decodeReceipt(entry.bytes)).toMatchObject({
      kind: 'tool',
      actor: expect.stringMatching(/^token:acme\/bot#[0-9a-f]{16}$/),
      tenant: 'acme',
      body: {
        tool: 'a2a_perform',
        via: 'a2a',
        purpose: 'incident-review',
        outcome: 'ok',
        resultSha256: prov.outputSha256,
      },
    });
  });

  it('passes the remote task state through: a pqid the remote does not know comes back rejected, with its reason', async () => {
    const r = await post(local, '/a2a/perform', localAgent, { ...perform, pqid: 'no.such.query' });
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('rejected');
    expect(r.body.result.message).toMatch(/^INVALID_INPUT: .*not a persisted query/);
    expect(r.body.result.details).toEqual({ code: 'INVALID_INPUT' });
  });

  it('refuses an agent card that points the client at another origin (502), never sending it the token', async () => {
    const silentHits = silentSockets.size;
    const r = await post(local, '/a2a/perform', localAgent, { ...perform, agent: 'evil' });
    expect(r.status).toBe(502);
    expect(r.body).toMatchObject({ code: 'UPSTREAM_FAILED' });
    expect(r.body.detail).toContain('names no JSON-RPC interface on');
    expect(evilRpcHits).toBe(0);
    expect(silentSockets.size).toBe(silentHits);
  });

  it('refuses an unknown agent or a pqid that is not one with 400, recording nothing and contacting no one', async () => {
    const before = await ledgerSize(local);
    const hits = remote.hits;
    const unknown = await post(local, '/a2a/perform', localAgent, { ...perform, agent: 'nobody' });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
    expect(unknown.body).toMatchObject({ code: 'INVALID_INPUT' });
    expect(unknown.body.detail).toContain('not a configured A2A agent');
    const notPqid = await post(local, '/a2a/perform', localAgent, {
      ...perform,
      pqid: 'SELECT * FROM receipts',
    });
    expect(notPqid.status).toBe(400);
    expect(notPqid.body.detail).toContain('persisted query id');
    expect(await ledgerSize(local)).toBe(before);
    expect(remote.hits).toBe(hits);
  });

  it('refuses a residency violation (agent in us-east-1, caller requires eu) with 403 and never contacts the agent', async () => {
    const hits = remote.hits;
    const r = await post(local, '/a2a/perform', localAgent, { ...perform, agent: 'far', residency: 'eu' });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('DENIED');
    expect(r.body.reasons).toContain('residency-eu');
    expect(remote.hits).toBe(hits);
    // The same agent is fine without the residency requirement.
    expect((await post(local, '/a2a/perform', localAgent, { ...perform, agent: 'far' })).status).toBe(200);
  });

  it('a remote agent that echoes our bearer token gets it nowhere: not in the answer, not in the receipt', async () => {
    const before = await ledgerSize(local);
    const r = await post(local, '/a2a/perform', localAgent, { ...perform, agent: 'echo' });
    expect(r.status).toBe(502);
    expect(JSON.stringify(r.body)).not.toContain(ECHO_TOKEN);
    expect(r.body.detail).toMatch(/\[redacted\]/);
    const { decodeReceipt } = await import('@vaultmesh/ledger');
    const after = await ledgerSize(local);
    const texts: string[] = [];
    for (let i = before; i < after; i++)
      texts.push(JSON.stringify(decodeReceipt((await local.node.log.getEntry(i)).bytes)));
    expect(texts.some((t) => t.includes('"a2a_perform"'))).toBe(true);
    expect(texts.join('\n')).not.toContain(ECHO_TOKEN);
  });

  it('answers 504 within the configured timeout when the remote agent never answers', async () => {
    const r = await post(local, '/a2a/perform', localAgent, { ...perform, agent: 'silent' });
    expect(r.status).toBe(504);
    expect(r.body).toMatchObject({ code: 'TIMEOUT' });
    expect(r.body.detail).toContain('agent silent did not answer within 300 ms');
  });

  it('refuses malformed bodies and missing tokens', async () => {
    const cases: unknown[] = [
      '{"tenantId":',
      [perform],
      { ...perform, extra: 1 },
      { ...perform, purpose: undefined },
      { ...perform, purpose: '' },
      { ...perform, residency: 'Europe!' },
      { ...perform, task: [1, 2] },
      { ...perform, pqid: 42 },
    ];
    for (const body of cases) {
      const r = await post(local, '/a2a/perform', localAgent, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
    }
    const anon = await post(local, '/a2a/perform', undefined, perform);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });
});

describe('A2A agent config', () => {
  it('defaults the timeout to 30 s and refuses unknown keys, bad names, non-http URLs and duplicate names', () => {
    expect(A2aAgentConfigSchema.parse({ name: 'peer', url: 'https://peer.example' })).toEqual({
      name: 'peer',
      url: 'https://peer.example',
      timeoutMs: 30_000,
    });
    const ok = { name: 'peer-eu', url: 'http://10.0.0.2:8080', region: 'eu-west-1', apiKeyEnv: 'PEER_TOKEN' };
    expect(A2aAgentConfigSchema.safeParse(ok).success).toBe(true);
    for (const bad of [
      { ...ok, token: 'inline' },
      { ...ok, name: 'Peer' },
      { ...ok, url: 'ftp://peer.example' },
      { ...ok, url: 'not a url' },
      { ...ok, apiKeyEnv: 'PEER-TOKEN' },
      { ...ok, timeoutMs: 0 },
    ])
      expect(A2aAgentConfigSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    expect(A2aAgentsConfigSchema.safeParse([ok, ok]).success).toBe(false);
  });
});
