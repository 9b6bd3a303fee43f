// The service's tools. Each has an input schema (checked by the SDK before the handler runs), annotations that
// tell clients what it does (read-only, destructive), and returns text plus, where it has a shape, structured
// content. A tool failure is a result with isError, which the model can read, not a protocol error.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Metrics } from './metrics.js';
import { PACKAGE } from './package-info.js';

export const SERVICE = { name: PACKAGE.name, version: PACKAGE.version };

/** Runs a tool handler, counting its outcome and turning a thrown error into an isError result. */
function counted<A>(
  metrics: Metrics | undefined,
  tool: string,
  run: (args: A) => Promise<CallToolResult>,
): (args: A) => Promise<CallToolResult> {
  return async (args) => {
    try {
      const result = await run(args);
      metrics?.toolCalls.inc({ tool, outcome: result.isError ? 'error' : 'ok' });
      return result;
    } catch (err) {
      metrics?.toolCalls.inc({ tool, outcome: 'error' });
      return { isError: true, content: [{ type: 'text', text: (err as Error).message }] };
    }
  };
}

export function registerTools(server: McpServer, metrics?: Metrics): void {
  server.registerTool(
    'get_service_info',
    {
      title: 'Service info',
      description: 'The name and version of this service.',
      inputSchema: {},
      outputSchema: { name: z.string(), version: z.string() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    counted(metrics, 'get_service_info', async () => ({
      content: [{ type: 'text', text: JSON.stringify(SERVICE) }],
      structuredContent: { ...SERVICE },
    })),
  );

  server.registerTool(
    'greet',
    {
      title: 'Greet',
      description: 'Greets someone by name.',
      inputSchema: { name: z.string().min(1).max(100).describe('who to greet') },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    counted(metrics, 'greet', async ({ name }: { name: string }) => ({
      content: [{ type: 'text', text: `Hello, ${name}!` }],
    })),
  );
}
