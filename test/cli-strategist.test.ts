// `vm mcp strategist --goal` reaches the model-backed strategist from the CLI: a local fake of an OpenAI-compatible
// Chat Completions API (no real model is reachable from here) answers with a plan; the CLI stores it under the target
// given on the command line. Without control.openai the goal is refused, saying the strategist is off.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVm } from './helpers/vm.ts';

const KEY = 'sk-cli-test-never-printed';
let dir: string;
let server: Server;
let url = '';
const seen: { auth?: string; body: { messages: { role: string; content: string }[] } }[] = [];

const proposal = {
  v: 1,
  id: 'restart-api',
  goal: 'restart the api pods one by one',
  target: { environment: 'staging', namespace: 'shop', tenant: 'acme' },
  phases: [
    {
      id: 'main',
      steps: [
        { id: 'pause', action: 'wait', params: { ms: 1 }, risk: 'low', reversible: true, readOnly: true },
      ],
    },
  ],
  preconditions: [],
  gates: [],
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-cli-strategist-'));
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ auth: req.headers.authorization, body: JSON.parse(body) as (typeof seen)[number]['body'] });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1_750_000_000,
          model: 'test-model',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: JSON.stringify(proposal) },
              finish_reason: 'stop',
            },
          ],
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  writeFileSync(
    join(dir, 'with-model.json'),
    JSON.stringify({
      control: { openai: { baseUrl: url, model: 'test-model', apiKeyEnv: 'VM_TEST_MODEL_KEY' } },
    }),
  );
  writeFileSync(join(dir, 'plain.json'), JSON.stringify({}));
  expect((await runVm(['init', '-d', join(dir, 'data')])).code).toBe(0);
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const strategist = (cfg: string, ...args: string[]) =>
  runVm(['mcp', 'strategist', '-d', join(dir, 'data'), '-c', join(dir, cfg), ...args], {
    env: { VM_TEST_MODEL_KEY: KEY },
    timeoutMs: 60_000,
  });

describe('vm mcp strategist --goal', () => {
  it('asks the model-backed strategist and stores its plan under the given target', async () => {
    const r = await strategist(
      'with-model.json',
      '--goal',
      'restart the api pods one by one',
      '--tenant',
      'acme',
      '--environment',
      'staging',
      '--namespace',
      'shop',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const stored = JSON.parse(r.stdout) as { planHash: string; plan: { id: string; target: unknown } };
    expect(stored.plan).toMatchObject({
      id: 'restart-api',
      target: { tenant: 'acme', environment: 'staging', namespace: 'shop' },
    });
    expect(stored.planHash).toMatch(/^[0-9a-f]{64}$/);
    expect(seen.at(-1)!.auth).toBe(`Bearer ${KEY}`);
    expect(JSON.stringify(seen.at(-1)!.body.messages)).toContain('restart the api pods one by one');
    expect(r.stdout + r.stderr).not.toContain(KEY);
  });

  it('is refused without control.openai, and usage errors exit 2', async () => {
    const off = await strategist(
      'plain.json',
      '--goal',
      'anything',
      '--tenant',
      'acme',
      '--environment',
      'staging',
    );
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(
      /free-text goals need an OpenAI-compatible strategist, which is off by default/,
    );
    const noTarget = await strategist('with-model.json', '--goal', 'anything');
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toMatch(/--goal needs --tenant and --environment/);
    const both = await strategist('with-model.json', '--goal', 'x', '--plan', 'p.json');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --intent, --plan or --goal/);
  });
});
