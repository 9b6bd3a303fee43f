// The published plan format (issue 12): the node serves JSON Schemas of plans, strategist intents and action params,
// generated from the validators themselves; docs/schemas/ holds the same files (a change to a validator that is not
// reflected there fails here: regenerate with VM_WRITE_SCHEMAS=1 npx vitest run test/schemas.test.ts, then npx prettier --write docs/schemas).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createToken } from '@vaultmesh/auth';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/vm.ts';

const DOCS = join(ROOT, 'docs', 'schemas');
let dir: string;
let node: RunningNode;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-schemas-'));
  writeFileSync(
    join(dir, 'c.json'),
    JSON.stringify({ port: 0, dataDir: join(dir, 'data'), logLevel: 'silent' }),
  );
  node = await startNode(loadConfig({ configFile: join(dir, 'c.json') }));
});
afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const get = async (path: string) => {
  const res = await fetch(node.url + path);
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: (await res.json()) as Record<string, unknown>,
  };
};
const ajv = () => new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

describe('the published plan format', () => {
  it('is served without a token and equals docs/schemas/', async () => {
    const list = await get('/api/schemas');
    expect(list.body.items).toEqual(['plan.schema.json', 'intent.schema.json', 'actions.schema.json']);
    for (const name of list.body.items as string[]) {
      const s = await get(`/api/schemas/${name}`);
      expect(s.status).toBe(200);
      expect(s.type).toMatch(/^application\/schema\+json/);
      const file = join(DOCS, name);
      if (process.env.VM_WRITE_SCHEMAS === '1') {
        mkdirSync(DOCS, { recursive: true });
        writeFileSync(file, JSON.stringify(s.body, null, 2) + '\n');
      }
      expect(JSON.parse(readFileSync(file, 'utf8')), `${name} drifted: regenerate docs/schemas`).toEqual(
        s.body,
      );
    }
    expect((await get('/api/schemas/nope.json')).status).toBe(404);
  });

  it('validates what the node accepts and refuses what it refuses (a standard JSON Schema validator)', async () => {
    const validate = ajv().compile((await get('/api/schemas/plan.schema.json')).body);
    const plan = {
      v: 1,
      id: 'p-1',
      goal: 'restart',
      target: { environment: 'staging', tenant: 'acme' },
      phases: [
        {
          id: 'main',
          steps: [{ id: 's', action: 'wait', params: { ms: 1 }, risk: 'low', reversible: true }],
        },
      ],
      preconditions: [],
      gates: [],
      createdBy: 'ops',
      createdAt: '2026-12-01T00:00:00.000Z',
    };
    expect(validate(plan), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...plan, extra: 1 })).toBe(false);
    expect(validate({ ...plan, phases: [] })).toBe(false);
    const intents = ajv().compile((await get('/api/schemas/intent.schema.json')).body);
    expect(intents({ kind: 'scale', tenant: 'acme', environment: 'prod', service: 'api', replicas: 3 })).toBe(
      true,
    );
    expect(intents({ kind: 'teleport', tenant: 'acme' })).toBe(false);
    const actions = (await get('/api/schemas/actions.schema.json')).body as {
      properties: Record<string, object>;
    };
    const shell = ajv().compile(actions.properties.shell!);
    expect(shell({ command: 'true' })).toBe(true);
    expect(shell({ command: 'true', sudo: true })).toBe(false);
  });
});

/** Follows a "#/..." pointer into a schema. */
function at(schema: unknown, pointer: string): unknown {
  let cur = schema;
  for (const part of pointer.replace(/^#\/?/, '').split('/').filter(Boolean))
    cur = (cur as Record<string, unknown>)[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  return cur;
}

describe('validation errors point into the published schemas', () => {
  let token = '';
  beforeAll(async () => {
    token = (await createToken(node.node.storage, { name: 'ops', role: 'operator', tenant: 'acme' })).token;
  });
  const post = async (path: string, body: unknown) => {
    const res = await fetch(node.url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const plan = (steps: unknown[]) => ({
    v: 1,
    id: 'bad-plan',
    goal: 'restart',
    target: { environment: 'staging', tenant: 'acme' },
    phases: [{ id: 'main', steps }],
    preconditions: [],
    gates: [],
    createdBy: 'ops',
    createdAt: '2026-12-01T00:00:00.000Z',
  });

  it('a plan that breaks the plan schema: each problem has a pointer into the plan and into plan.schema.json', async () => {
    const r = await post('/api/plans', {
      plan: plan([{ id: 's', action: 'wait', params: { ms: 1 }, risk: 'extreme', reversible: true }]),
    });
    expect(r.status).toBe(400);
    const errors = r.body.errors as { pointer: string; detail: string; schema: string }[];
    expect(errors).toEqual([
      {
        pointer: '/phases/0/steps/0/risk',
        detail: expect.stringMatching(/low|medium|high|critical/),
        schema:
          '/api/schemas/plan.schema.json#/properties/phases/items/properties/steps/items/properties/risk',
      },
    ]);
    // The pointer names the rule that was broken: the risk enum.
    const schema = (await get('/api/schemas/plan.schema.json')).body;
    expect(at(schema, errors[0]!.schema.split('#')[1]!)).toMatchObject({
      enum: ['low', 'medium', 'high', 'critical'],
    });
  });

  it("a step's params that break its action's schema point into actions.schema.json under the action", async () => {
    const r = await post('/api/plans', {
      plan: plan([{ id: 's', action: 'wait', params: { ms: -5 }, risk: 'low', reversible: true }]),
    });
    expect(r.status).toBe(400);
    const errors = r.body.errors as { pointer: string; schema: string }[];
    expect(errors).toEqual([
      expect.objectContaining({
        pointer: '/phases/0/steps/0/params/ms',
        schema: '/api/schemas/actions.schema.json#/properties/wait/properties/ms',
      }),
    ]);
    const actions = (await get('/api/schemas/actions.schema.json')).body;
    expect(at(actions, '/properties/wait/properties/ms')).toMatchObject({ type: 'integer', minimum: 0 });
  });

  it('MCP create_plan publishes the real intent schema, and a bad intent is refused naming the schema', async () => {
    const client = new Client({ name: 'schema-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${node.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    try {
      const tools = await client.listTools();
      const create = tools.tools.find((t) => t.name === 'create_plan')!;
      const intent = (create.inputSchema.properties as Record<string, Record<string, unknown>>).intent!;
      const union = (intent.oneOf ?? intent.anyOf) as { properties: { kind: { const: string } } }[];
      expect(union.map((b) => b.properties.kind.const).sort()).toEqual(
        ['deploy', 'rollback', 'rotate-key', 'route-gpu-job', 'scale'].sort(),
      );
      // A typo in a known field is refused (not dropped), and the message says where.
      const r = (await client.callTool({
        name: 'create_plan',
        arguments: {
          intent: { kind: 'scale', tenant: 'acme', environment: 'staging', service: 'api', replicas: -1 },
        },
      })) as CallToolResult;
      expect(r.isError).toBe(true);
      const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
      expect(text).toMatch(/replicas/);
      // Over REST the same intent is refused with the problem located in intent.schema.json.
      const rest = await post('/api/agent/mcp/strategist/plan', {
        intent: { kind: 'scale', tenant: 'acme', environment: 'staging', service: 'api', replicas: -1 },
      });
      expect(rest.status).toBe(400);
      expect(rest.body.errors).toEqual([
        expect.objectContaining({
          pointer: '/replicas',
          schema: expect.stringMatching(
            /^\/api\/schemas\/intent\.schema\.json#\/(oneOf|anyOf)\/\d\/properties\/replicas$/,
          ),
        }),
      ]);
    } finally {
      await client.close();
    }
  });
});
