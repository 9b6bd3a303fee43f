// `vm mcp serve --stdio`, the way a desktop agent runs it: the real vm binary as a child process driven by the SDK's
// stdio client, on its own data directory and as a bridge to a running node's /mcp.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createToken } from '@vaultmesh/auth';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLEAN_ENV, ROOT, VM_BIN, runVm, runVmJson } from './helpers/vm.ts';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vm-mcp-stdio-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function stdioClient(args: string[], token: string): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [VM_BIN, 'mcp', 'serve', '--stdio', ...args],
    env: { ...(CLEAN_ENV as Record<string, string>), VM_TOKEN: token },
    cwd: ROOT,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'desktop-agent', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

describe('vm mcp serve --stdio', () => {
  it('serves the tools of a local data directory as the VM_TOKEN caller; everything lands on the ledger', async () => {
    const data = join(dir, 'local');
    expect((await runVm(['init', '-d', data])).code).toBe(0);
    const t = await runVmJson<{ token: string }>([
      'token',
      'create',
      '--role',
      'agent',
      '--tenant',
      'acme',
      '--name',
      'desktop',
      '--audience',
      'mcp',
      '-d',
      data,
    ]);
    const c = await stdioClient(['-d', data], t.token);
    const { tools } = await c.listTools();
    expect(tools.length).toBeGreaterThanOrEqual(14);
    const r = (await c.callTool({
      name: 'record_decision',
      arguments: { title: 'Use PostgreSQL', rationale: 'transactional integrity' },
    })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    const index = (r.structuredContent as { index: number }).index;
    await c.close();
    const shown = await runVmJson<{ receipt: { kind: string; actor: string; tenant: string } }>([
      'memory',
      'show',
      String(index),
      '-d',
      data,
    ]);
    expect(shown.receipt).toMatchObject({
      kind: 'decision',
      actor: expect.stringMatching(/^token:acme\/desktop#/),
      tenant: 'acme',
    });
    const tools2 = await runVmJson<{ items: { receipt: { body: { tool: string; via: string } } }[] }>([
      'memory',
      'list',
      '--kind',
      'tool',
      '-d',
      data,
    ]);
    expect(tools2.items.map((i) => i.receipt.body)).toEqual(
      expect.arrayContaining([expect.objectContaining({ tool: 'record_decision', via: 'mcp' })]),
    );
    expect((await runVm(['audit', 'verify', '--full', '-d', data])).code).toBe(0);
  }, 60_000);

  it('refuses to start without --stdio (exit 2) or without VM_TOKEN (exit 4), and refuses an api-only token', async () => {
    const data = join(dir, 'refuse');
    expect((await runVm(['init', '-d', data])).code).toBe(0);
    const noStdio = await runVm(['mcp', 'serve', '-d', data]);
    expect(noStdio.code).toBe(2);
    expect(noStdio.stderr).toMatch(/--stdio/);
    const noToken = await runVm(['mcp', 'serve', '--stdio', '-d', data]);
    expect(noToken.code).toBe(4);
    expect(noToken.stderr).toMatch(/VM_TOKEN/);
    const t = await runVmJson<{ token: string }>([
      'token',
      'create',
      '--role',
      'agent',
      '--tenant',
      'acme',
      '--audience',
      'api',
      '-d',
      data,
    ]);
    const wrong = await runVm(['mcp', 'serve', '--stdio', '-d', data], { env: { VM_TOKEN: t.token } });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/audience \(mcp\)/);
    expect(wrong.stderr).not.toContain(t.token);
  }, 60_000);

  it('bridges stdio to a running node’s /mcp with --url', async () => {
    const cfg = join(dir, 'bridge.json');
    writeFileSync(cfg, JSON.stringify({ port: 0, dataDir: join(dir, 'bridge'), logLevel: 'silent' }));
    const node: RunningNode = await startNode(loadConfig({ configFile: cfg }));
    try {
      const { token } = await createToken(node.node.storage, {
        name: 'bridged',
        role: 'agent',
        tenant: 'acme',
      });
      const c = await stdioClient(['--url', node.url], token);
      const r = (await c.callTool({
        name: 'record_decision',
        arguments: { title: 'over the bridge' },
      })) as CallToolResult;
      expect(r.isError).toBeFalsy();
      const e = await node.node.log.getEntry((r.structuredContent as { index: number }).index);
      expect(e.kind).toBe('decision');
      const ok = (await c.callTool({ name: 'readiness', arguments: {} })) as CallToolResult;
      expect(ok.isError).toBeFalsy();
      await c.close();
    } finally {
      await node.stop();
    }
  }, 60_000);
});
