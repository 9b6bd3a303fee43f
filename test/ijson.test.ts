// Receipt inputs are I-JSON (RFC 7493) on every path: a duplicate key ({"title":"x","title":"y"} used to store "y")
// or a lone surrogate is refused and nothing is written, over REST, A2A and `vm memory import`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken } from '@vaultmesh/auth';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVm } from './helpers/vm.ts';

let dir: string;
let node: RunningNode;
let token = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-ijson-'));
  writeFileSync(
    join(dir, 'c.json'),
    JSON.stringify({ port: 0, dataDir: join(dir, 'data'), logLevel: 'silent' }),
  );
  node = await startNode(loadConfig({ configFile: join(dir, 'c.json') }));
  token = (await createToken(node.node.storage, { name: 'ops', role: 'admin', tenant: 'acme' })).token;
}, 60_000);
afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const raw = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(node.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body,
  });

describe('I-JSON receipt input', () => {
  it('REST refuses a duplicate key and a lone surrogate with 400, writing nothing', async () => {
    await node.node.log.idle();
    const before = node.node.log.size;
    for (const body of [
      '{"kind":"decision","tenant":"acme","body":{"title":"x","title":"y"}}',
      '{"kind":"decision","tenant":"acme","body":{"title":"\\ud800"}}',
    ]) {
      const r = await raw('/api/ledger/receipts', body);
      expect(r.status).toBe(400);
      const p = (await r.json()) as { code: string; detail: string };
      expect(p.code).toBe('INVALID_REQUEST');
      expect(p.detail).toMatch(/duplicate key "title"|lone surrogate/);
    }
    await node.node.log.idle();
    expect(node.node.log.size).toBe(before);
    const ok = await raw('/api/ledger/receipts', '{"kind":"decision","tenant":"acme","body":{"title":"x"}}');
    expect(ok.status).toBe(201);
  });

  it('A2A answers a duplicate key with -32600', async () => {
    const r = await raw(
      '/a2a/jsonrpc',
      '{"jsonrpc":"2.0","id":1,"id":2,"method":"GetTask","params":{"id":"x"}}',
      { 'a2a-version': '1.0' },
    );
    expect(await r.json()).toMatchObject({ id: null, error: { code: -32600 } });
  });

  it('vm memory import refuses a line with a duplicate key (exit 2), importing nothing', async () => {
    const data = join(dir, 'import');
    expect((await runVm(['init', '-d', data])).code).toBe(0);
    const file = join(dir, 'in.jsonl');
    writeFileSync(
      file,
      '{"kind":"decision","actor":"a","tenant":"acme","body":{"title":"ok"}}\n' +
        '{"kind":"decision","actor":"a","tenant":"acme","body":{"title":"x","title":"y"}}\n',
    );
    const r = await runVm(['memory', 'import', file, '-d', data]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/in\.jsonl:2: duplicate key "title"/);
    const list = await runVm(['memory', 'list', '-d', data, '--json']);
    expect((JSON.parse(list.stdout) as { items: unknown[] }).items).toHaveLength(0);
  });
});
