// The published plan format (issue 12): the node serves JSON Schemas of plans, strategist intents and action params,
// generated from the validators themselves; docs/schemas/ holds the same files (a change to a validator that is not
// reflected there fails here: regenerate with VM_WRITE_SCHEMAS=1 npx vitest run test/schemas.test.ts, then npx prettier --write docs/schemas).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/server';
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
