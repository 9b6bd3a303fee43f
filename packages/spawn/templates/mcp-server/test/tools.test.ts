import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/metrics.js';
import { createMcpServer } from '../src/server.js';

const NAME = '{{name}}';

async function connected(): Promise<{ client: Client; metrics: ReturnType<typeof createMetrics> }> {
  const metrics = createMetrics();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createMcpServer(metrics).connect(serverSide);
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(clientSide);
  return { client, metrics };
}

describe('{{name}} tools', () => {
  it('lists its tools with schemas and annotations', async () => {
    const { client } = await connected();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['get_service_info', 'greet']);
    const greet = tools.find((t) => t.name === 'greet');
    expect(greet?.inputSchema.required).toEqual(['name']);
    expect(greet?.annotations?.readOnlyHint).toBe(true);
  });

  it('calls a tool and counts the call', async () => {
    const { client, metrics } = await connected();
    const r = await client.callTool({ name: 'greet', arguments: { name: 'Ada' } });
    expect(r.content).toEqual([{ type: 'text', text: 'Hello, Ada!' }]);
    const info = await client.callTool({ name: 'get_service_info', arguments: {} });
    expect(info.structuredContent).toMatchObject({ name: NAME });
    expect(await metrics.registry.metrics()).toMatch(
      /mcp_tool_calls_total\{tool="greet",outcome="ok"[^}]*\} 1/,
    );
  });

  it('refuses bad arguments', async () => {
    const { client } = await connected();
    const r = await client
      .callTool({ name: 'greet', arguments: { name: '' } })
      .catch((err: unknown) => ({ isError: true, content: [{ type: 'text', text: String(err) }] }));
    expect(r.isError).toBe(true);
  });
});
