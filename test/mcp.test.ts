// The MCP server of a real node (SQLite ledger, Cedar default policies), driven by the official SDK Client over
// Streamable HTTP on loopback and in process: tools with schemas and annotations, policy on every call, receipts,
// resources, prompts, bearer auth with audiences, and sessions bound to their token.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { createToken } from '@vaultmesh/auth';
import {
  canonicalize,
  fromHex,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  verifyInclusion,
} from '@vaultmesh/ledger';
import { createVaultMeshMcpServer } from '@vaultmesh/interop';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let node: RunningNode;
const tokens: Record<string, string> = {};

async function connect(token: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'vm-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${node.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}`, ...headers } },
  });
  await client.connect(transport);
  return client;
}
const text = (r: CallToolResult) => (r.content[0] as { text: string }).text;
const size = () => node.node.log.stats().size;
async function receipts(kind: string) {
  return node.node.storage.listEntries({ kind, limit: 1000, order: 'asc' });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-mcp-'));
  const cfg = join(dir, 'vaultmesh.json');
  writeFileSync(cfg, JSON.stringify({ port: 0, dataDir: join(dir, 'data'), logLevel: 'silent' }));
  node = await startNode(loadConfig({ configFile: cfg }));
  const mk = async (name: string, role: string, tenant: string, audience?: string[]) =>
    (tokens[name] = (await createToken(node.node.storage, { name, role, tenant, audience })).token);
  await mk('bot', 'agent', 'acme');
  await mk('viewer', 'viewer', 'acme');
  await mk('other', 'agent', 'globex');
  await mk('mcp-only', 'agent', 'acme', ['mcp']);
  await mk('api-only', 'agent', 'acme', ['api']);
}, 60_000);

afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('MCP over Streamable HTTP', () => {
  it('lists every tool with input and output schemas and read-only / destructive annotations', async () => {
    const c = await connect(tokens.bot!);
    const { tools } = await c.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of [
      'record_decision',
      'search_receipts',
      'get_receipt',
      'prove_receipt',
      'verify_ledger',
      'create_plan',
      'dry_run_plan',
      'execute_plan',
      'audit_plan',
      'request_approval',
      'golive_status',
      'readiness',
      'list_queries',
      'run_query',
    ])
      expect(byName.has(name), name).toBe(true);
    expect(byName.get('search_receipts')!.annotations).toMatchObject({
      readOnlyHint: true,
      destructiveHint: false,
    });
    expect(byName.get('execute_plan')!.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
    });
    expect(byName.get('record_decision')!.inputSchema.required).toContain('title');
    expect(byName.get('prove_receipt')!.outputSchema?.properties).toHaveProperty('checkpoint');
    await c.close();
  });

  it('records a decision: a decision receipt and a tool receipt naming it as parent, by the token’s identity', async () => {
    const c = await connect(tokens.bot!);
    const r = (await c.callTool({
      name: 'record_decision',
      arguments: { title: 'Use PostgreSQL', rationale: 'transactional integrity' },
    })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    const out = r.structuredContent as { index: number; leafHash: string };
    const decision = await node.node.log.getEntry(out.index);
    expect(decision.kind).toBe('decision');
    const tool = (await receipts('tool')).at(-1)!;
    const body = JSON.parse(Buffer.from(tool.bytes).toString('utf8')) as {
      actor: string;
      tenant: string;
      body: Record<string, unknown>;
      parents: { index: number }[];
    };
    expect(body.actor).toMatch(/^token:acme\/bot#[0-9a-f]{16}$/);
    expect(body.tenant).toBe('acme');
    expect(body.body).toMatchObject({ tool: 'record_decision', via: 'mcp', outcome: 'ok' });
    expect(body.body.argsSha256).toMatch(/^[0-9a-f]{64}$/);
    // Arguments are named by digest only: the rationale text is not in the tool receipt.
    expect(JSON.stringify(body)).not.toContain('transactional integrity');
    expect(body.parents.map((p) => p.index)).toEqual([out.index]);
    expect((r._meta as Record<string, { index: number }>)['vaultmesh/receipt']!.index).toBe(tool.index);
    await c.close();
  });

  it('proves a receipt with an inclusion proof and signed checkpoint that verify offline', async () => {
    const c = await connect(tokens.bot!);
    const rec = (await c.callTool({
      name: 'record_decision',
      arguments: { title: 'prove me' },
    })) as CallToolResult;
    const index = (rec.structuredContent as { index: number }).index;
    const r = (await c.callTool({ name: 'prove_receipt', arguments: { index } })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    const p = r.structuredContent as {
      receipt: { receipt: unknown; leafHash: string };
      proof: { index: number; size: number; leafHash: string; proof: string[] };
      checkpoint: { note: string; verifierKey: string; size: number };
    };
    const key = parseVerifierKey(p.checkpoint.verifierKey);
    const note = openNote(p.checkpoint.note, [key], nodeEd25519Verify);
    const cp = parseCheckpoint(note.text);
    expect(cp.size).toBe(p.proof.size);
    const leaf = nodeHasher.hashLeaf(new TextEncoder().encode(canonicalize(p.receipt.receipt)));
    expect(Buffer.from(leaf).toString('hex')).toBe(p.proof.leafHash);
    expect(verifyInclusion(nodeHasher, index, cp.size, leaf, p.proof.proof.map(fromHex), cp.root)).toBe(true);
    await c.close();
  });

  it('searches only the caller’s tenant, and another tenant’s receipt reads as absent', async () => {
    const other = await connect(tokens.other!);
    const rec = (await other.callTool({
      name: 'record_decision',
      arguments: { title: 'globex secret plan' },
    })) as CallToolResult;
    const globexIndex = (rec.structuredContent as { index: number }).index;
    const c = await connect(tokens.bot!);
    const found = (await c.callTool({
      name: 'search_receipts',
      arguments: { kind: 'decision', limit: 100 },
    })) as CallToolResult;
    const items = (found.structuredContent as { items: { receipt: { tenant: string } }[] }).items;
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((i) => i.receipt.tenant === 'acme')).toBe(true);
    const r = (await c.callTool({
      name: 'get_receipt',
      arguments: { index: globexIndex },
    })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^NOT_FOUND: no receipt at index/);
    await Promise.all([c.close(), other.close()]);
  });

  it('a denied call is a tool error with the reason, and writes nothing but its policy receipt', async () => {
    const c = await connect(tokens.viewer!);
    const before = size();
    const decisions = (await receipts('decision')).length;
    const tools = (await receipts('tool')).length;
    const r = (await c.callTool({
      name: 'record_decision',
      arguments: { title: 'not allowed' },
    })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(
      /^DENIED: policy denied tool:record_decision for token:acme\/viewer#[0-9a-f]{16} in tenant acme/,
    );
    await node.node.log.idle();
    expect((await receipts('decision')).length).toBe(decisions);
    expect((await receipts('tool')).length).toBe(tools);
    const policy = (await receipts('policy')).filter((e) => e.index >= before);
    expect(policy.length).toBe(1);
    expect(Buffer.from(policy[0]!.bytes).toString()).toContain('"decision":"deny"');
    // The same viewer may call read-only tools.
    const ok = (await c.callTool({ name: 'readiness', arguments: {} })) as CallToolResult;
    expect(ok.isError).toBeFalsy();
    await c.close();
  });

  it('answers with the specs’ JSON-RPC codes: a missing resource is -32002, a call without a name -32602', async () => {
    const c = await connect(tokens.bot!);
    for (const uri of ['vaultmesh://receipts/99999999', 'vaultmesh://no-such-thing'])
      await expect(c.readResource({ uri })).rejects.toMatchObject({ code: -32002 });
    await expect(
      c.request({ method: 'tools/call', params: { arguments: {} } } as never, CallToolResultSchema),
    ).rejects.toMatchObject({ code: -32602 });
    await c.close();
  });

  it('refuses malformed arguments and unknown persisted queries with a clear error and writes nothing', async () => {
    const c = await connect(tokens.bot!);
    await node.node.log.idle();
    const before = size();
    const bad = (await c.callTool({ name: 'get_receipt', arguments: { index: -1 } })) as CallToolResult;
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/index/);
    // An unknown key is refused, as the published schema (additionalProperties: false) says, not silently dropped.
    const typo = (await c.callTool({
      name: 'get_receipt',
      arguments: { index: 0, indx: 1 },
    })) as CallToolResult;
    expect(typo.isError).toBe(true);
    expect(text(typo)).toMatch(/indx|unrecognized/i);
    const listed = (await c.listTools()).tools.find((t) => t.name === 'get_receipt')!;
    expect(listed.inputSchema).toMatchObject({ additionalProperties: false });
    const q = (await c.callTool({
      name: 'run_query',
      arguments: { pqid: 'select * from receipts' },
    })) as CallToolResult;
    expect(q.isError).toBe(true);
    expect(text(q)).toMatch(/not a persisted query/);
    await node.node.log.idle();
    expect(size()).toBe(before);
    const ok = (await c.callTool({
      name: 'run_query',
      arguments: { pqid: 'receipts.recent', params: { kind: 'decision', limit: 2 } },
    })) as CallToolResult;
    expect(ok.isError).toBeFalsy();
    expect((ok.structuredContent as { result: { items: unknown[] } }).result.items).toHaveLength(2);
    await c.close();
  });

  it('verifies the ledger with progress notifications', async () => {
    const c = await connect(tokens.bot!);
    const progress: number[] = [];
    const r = (await c.callTool({ name: 'verify_ledger', arguments: {} }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ ok: true, problems: [] });
    await c.close();
  });

  it('serves receipts, the checkpoint, plans and policies as resources, and two prompts', async () => {
    const c = await connect(tokens.bot!);
    const { resources } = await c.listResources();
    expect(resources.map((r) => r.uri)).toContain('vaultmesh://checkpoint');
    const { resourceTemplates } = await c.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(
      expect.arrayContaining(['vaultmesh://receipts/{index}', 'vaultmesh://plans/{planId}']),
    );
    const first = resources.find((r) => r.uri.startsWith('vaultmesh://receipts/'))!;
    const read = await c.readResource({ uri: first.uri });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toHaveProperty('proof');
    const pol = await c.readResource({ uri: 'vaultmesh://policies/active' });
    expect((read.contents[0] as { mimeType: string }).mimeType).toBe('application/json');
    expect((pol.contents[0] as { text: string }).text).toContain('permit');
    const { prompts } = await c.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual(['investigate_incident', 'plan_deployment']);
    const pr = await c.getPrompt({
      name: 'plan_deployment',
      arguments: { service: 'api', version: '1.2.3', environment: 'staging' },
    });
    expect((pr.messages[0]!.content as { text: string }).text).toContain('create_plan');
    await c.close();
  });
});

describe('plans through MCP', () => {
  it('dry-runs, holds for approval, requests it, runs live with the token, and audits: all on the ledger', async () => {
    const admin = (await createToken(node.node.storage, { name: 'ops', role: 'admin', tenant: 'acme' }))
      .token;
    const rest = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(node.url + path, {
        method,
        headers: {
          authorization: `Bearer ${admin}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any -- checked field by field
    };
    const plan = {
      v: 1,
      id: 'mcp-plan',
      goal: 'wait a moment, with a human in the loop',
      target: { environment: 'staging', tenant: 'acme' },
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
      createdBy: 'ops@acme',
      createdAt: '2026-11-24T00:00:00.000Z',
    };
    // Four eyes: another holder of the tenant stores the plan, so the admin may approve it.
    const author = (
      await createToken(node.node.storage, { name: 'author', role: 'operator', tenant: 'acme' })
    ).token;
    const storedRes = await fetch(`${node.url}/api/plans`, {
      method: 'POST',
      headers: { authorization: `Bearer ${author}`, 'content-type': 'application/json' },
      body: JSON.stringify({ plan }),
    });
    expect(storedRes.status).toBe(201);
    const planHash = ((await storedRes.json()) as { planHash: string }).planHash;
    const c = await connect(tokens.bot!);
    const call = async (name: string, args: Record<string, unknown>) => {
      const r = (await c.callTool({ name, arguments: args })) as CallToolResult;
      if (r.isError) throw new Error(text(r));
      return r.structuredContent as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- checked field by field
    };
    const got = await call('get_plan', { planId: 'mcp-plan' });
    expect(got.planHash).toBe(planHash);
    const dry = await call('dry_run_plan', { planId: 'mcp-plan', planHash });
    expect(dry.state).toBe('succeeded');
    const held = await call('execute_plan', { planId: 'mcp-plan', planHash });
    expect(held.state).toBe('hold');
    expect(held.hold.reason).toBe('approval-required');
    const req = await call('request_approval', {
      planId: 'mcp-plan',
      planHash,
      phaseId: 'apply',
      reason: 'wait step in staging',
    });
    expect(req.approveWith).toBe(`vm approve mcp-plan --plan-hash ${planHash} --phase apply`);
    const pending = await rest('GET', '/api/approvals/requests?planId=mcp-plan');
    expect(pending.body.items).toEqual([
      expect.objectContaining({
        id: req.requestId,
        requestedBy: expect.stringMatching(/^token:acme\/bot#/),
        scope: { phaseId: 'apply' },
      }),
    ]);
    const q = await call('run_query', { pqid: 'approvals.pending' });
    expect(q.result.items.map((i: { id: string }) => i.id)).toContain(req.requestId);
    const self = await rest('POST', '/api/approvals', { planId: 'mcp-plan', planHash, phaseId: 'apply' });
    const approval = self.body.token as string;
    expect(self.status).toBe(201);
    const again = (await c.callTool({
      name: 'execute_plan',
      arguments: { planId: 'mcp-plan', planHash, approvals: [approval] },
    })) as CallToolResult;
    expect(again.isError).toBe(true);
    expect(text(again)).toMatch(/held by run .*: resume or cancel it first/);
    const live = await call('resume_run', { runId: held.runId, approvals: [approval] });
    expect(live.state).toBe('succeeded');
    expect(live.steps[0].receiptIndex).toEqual(expect.any(Number));
    const q2 = await call('run_query', { pqid: 'approvals.pending' });
    expect(q2.result.items.map((i: { id: string }) => i.id)).not.toContain(req.requestId);
    const audit = await call('audit_plan', { planId: 'mcp-plan', checks: ['receipts', 'compliance'] });
    expect(audit.result).toBe('pass');
    const runs = await call('run_query', { pqid: 'runs.recent', params: { state: 'succeeded' } });
    expect(runs.result.items[0]).toMatchObject({ planId: 'mcp-plan', dryRun: false });
    await c.close();
  });
});

describe('MCP authorization', () => {
  it('answers 401 with a WWW-Authenticate header naming the protected-resource metadata', async () => {
    const res = await fetch(`${node.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
    });
    expect(res.status).toBe(401);
    const www = res.headers.get('www-authenticate')!;
    expect(www).toMatch(
      /^Bearer resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource"/,
    );
    const meta = (await (await fetch(`${node.url}/.well-known/oauth-protected-resource`)).json()) as {
      resource: string;
    };
    expect(meta.resource).toBe(`${node.url}/mcp`);
    await expect(connect('vm_0000000000000000_' + 'A'.repeat(43))).rejects.toThrow();
  });

  it('checks audiences: an mcp-only token works on /mcp but not on the REST API, an api-only token the reverse', async () => {
    const c = await connect(tokens['mcp-only']!);
    const r = (await c.callTool({ name: 'readiness', arguments: {} })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    await c.close();
    const rest = await fetch(`${node.url}/api/ledger/receipts`, {
      headers: { authorization: `Bearer ${tokens['mcp-only']}` },
    });
    expect(rest.status).toBe(401);
    expect(((await rest.json()) as { detail: string }).detail).toMatch(/audience \(api\)/);
    await expect(connect(tokens['api-only']!)).rejects.toThrow(/401/);
    const ok = await fetch(`${node.url}/api/ledger/receipts`, {
      headers: { authorization: `Bearer ${tokens['api-only']}` },
    });
    expect(ok.status).toBe(200);
  });

  it('binds a session to its token: another token presenting the session id gets 403, an unknown id 404', async () => {
    const c = await connect(tokens.bot!);
    const sid = (c.transport as StreamableHTTPClientTransport).sessionId!;
    const post = (token: string, session: string) =>
      fetch(`${node.url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'mcp-session-id': session,
          'mcp-protocol-version': '2025-06-18',
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} }),
      });
    expect((await post(tokens.other!, sid)).status).toBe(403);
    expect((await post(tokens.bot!, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    await c.close();
  });

  it('takes purpose and residency from the session headers into every policy decision', async () => {
    const c = await connect(tokens.bot!, {
      'vaultmesh-purpose': 'incident-42',
      'vaultmesh-residency': 'mars',
    });
    const r = (await c.callTool({ name: 'readiness', arguments: {} })) as CallToolResult;
    // The default policy set refuses a residency it cannot check (fail closed).
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/residency-unknown/);
    await c.close();
    const bad = await fetch(`${node.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokens.bot}`,
        'vaultmesh-residency': 'EU; drop',
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    });
    expect(bad.status).toBe(400);
  });
});

describe('MCP in process', () => {
  it('serves the same gateway over an in-memory transport', async () => {
    const server = createVaultMeshMcpServer({
      gateway: node.interop.gateway,
      caller: {
        principal: { type: 'agent', id: 'agent:inproc', role: 'agent', tenant: 'acme' },
        via: 'mcp',
      },
      version: 'test',
    });
    const [a, b] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: 'inproc', version: '1' });
    await Promise.all([server.connect(a), client.connect(b)]);
    const r = (await client.callTool({ name: 'golive_status', arguments: {} })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ mode: 'dry-run', promotionAllowed: false });
    await client.close();
  });
});
