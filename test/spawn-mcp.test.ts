// The `mcp-server` template for real: generated, its own `npm install && npm test`, built, started over Streamable
// HTTP and over stdio, and asked tools/list and tools/call by the official MCP SDK client; stopped with SIGTERM.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { generate, npmInstall, sh, startProject } from './helpers/spawn-project.ts';

const root = mkdtempSync(join(tmpdir(), 'vm-spawn-mcp-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TOKEN = 'e2e-mcp-token-0123456789';

describe('spawn mcp-server', () => {
  it('passes its own npm test and answers the official MCP client over Streamable HTTP and stdio', async () => {
    const p = generate(root, 'mcp-server', 'inventory-tools', { description: 'Inventory tools for agents.' });
    const install = await npmInstall(p.dir);
    expect(install.code, install.output).toBe(0);
    const test = await sh('npm', ['test'], { cwd: p.dir });
    expect(test.code, test.output).toBe(0);
    expect(test.output).toMatch(/Tests\s+\d+ passed/);
    const build = await sh('npm', ['run', 'build'], { cwd: p.dir });
    expect(build.code, build.output).toBe(0);

    const s = await startProject(p.dir, { MCP_TOKEN: TOKEN });
    try {
      const client = new Client({ name: 'e2e', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL('/mcp', s.url), {
          requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
        }),
      );
      expect(client.getInstructions()).toBe('Inventory tools for agents.');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['get_service_info', 'greet']);
      const r = await client.callTool({ name: 'get_service_info', arguments: {} });
      expect(r.structuredContent).toEqual({ name: 'inventory-tools', version: '0.1.0' });
      await client.close();
      const anonymous = await fetch(`${s.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(anonymous.status).toBe(401);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/mcp_tool_calls_total\{tool="get_service_info",outcome="ok"[^}]*\} 1/);
    } finally {
      expect(await s.stop()).toBe(0);
    }

    const stdio = new Client({ name: 'e2e-stdio', version: '1.0.0' });
    await stdio.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: ['dist/stdio.js'],
        cwd: p.dir,
        stderr: 'pipe',
      }),
    );
    const listed = await stdio.listTools();
    expect(listed.tools.map((t) => t.name)).toContain('greet');
    const greeted = await stdio.callTool({ name: 'greet', arguments: { name: 'stdio' } });
    expect(greeted.content).toEqual([{ type: 'text', text: 'Hello, stdio!' }]);
    await stdio.close();
  }, 600_000);
});
