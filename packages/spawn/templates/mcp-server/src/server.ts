// The MCP server: its identity, instructions for the model, and its tools.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Metrics } from './metrics.js';
import { PACKAGE } from './package-info.js';
import { SERVICE, registerTools } from './tools.js';

export function createMcpServer(metrics?: Metrics): McpServer {
  const server = new McpServer(
    { name: SERVICE.name, version: SERVICE.version },
    { instructions: PACKAGE.description },
  );
  registerTools(server, metrics);
  return server;
}
