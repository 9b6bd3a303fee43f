// @vaultmesh/interop/core: everything of the package that does not load the MCP or A2A SDKs (the gateway, the
// built-in tools, persisted queries, config schemas), plus lazy ports over the SDK-backed clients. A node imports
// this at start and loads the SDKs on the first MCP/A2A use only: together they cost ~50 MB of resident memory,
// which a node that never speaks MCP or A2A should not pay (bench `memory`).
import {
  a2aAgentList,
  checkA2aAgents,
  checkMcpServers,
  mcpServerList,
  type A2aAgentEndpoint,
  type McpServerEndpoint,
} from './config.ts';
import type { A2aAgentsPort, ExternalMcpPort } from './services.ts';

export { A2A_TASK_STATES, InteropError, type InteropErrorCode } from './errors.ts';
export {
  callTenant,
  createToolGateway,
  describeIssues,
  digestOf,
  toInteropError,
  TOOL_NAME,
  type Caller,
  type ReceiptRef,
  type ToolAnnotations,
  type ToolAuthorization,
  type ToolCallResult,
  type ToolContext,
  type ToolGateway,
  type ToolGatewayOptions,
  type ToolSpec,
} from './gateway.ts';
export {
  type A2aAgentsPort,
  type ApprovalRequest,
  type CheckpointView,
  type ControlPort,
  type ExternalMcpPort,
  type InteropServices,
  type LedgerPort,
  type ReceiptView,
} from './services.ts';
export {
  BUILTIN_QUERIES,
  createQueryRegistry,
  PQID,
  type PersistedQuery,
  type QueryRegistry,
  type QueryScope,
} from './queries.ts';
export { builtinTools, readScope, registerBuiltinTools, type Principal } from './tools/index.ts';
export { createLogLedgerPort, receiptView, type LogLedgerPortOptions } from './ledger-port.ts';
export {
  A2aAgentConfigSchema,
  a2aAgentList,
  A2aAgentsConfigSchema,
  checkA2aAgents,
  checkMcpServers,
  McpServerConfigSchema,
  mcpServerList,
  McpServersConfigSchema,
  PURPOSE_PATTERN,
  RESIDENCY_PATTERN,
  type A2aAgentConfig,
  type A2aAgentEndpoint,
  type McpServerConfig,
  type McpServerEndpoint,
} from './config.ts';
export { a2aPerformTool, registerA2aPerformTool } from './a2a-tool.ts';
export { externalMcpTools } from './external-tools.ts';

/** The ExternalMcpPort of createMcpClientPool, loading the MCP SDK on the first call that needs a connection. */
export function createLazyMcpClientPool(servers: readonly McpServerEndpoint[]): ExternalMcpPort {
  checkMcpServers(servers);
  let pool: Promise<ExternalMcpPort> | undefined;
  const get = () => (pool ??= import('./mcp-client.ts').then((m) => m.createMcpClientPool(servers)));
  const list = mcpServerList(servers);
  return {
    servers: () => list,
    listTools: async (server, opts) => (await get()).listTools(server, opts),
    callTool: async (server, tool, args, opts) => (await get()).callTool(server, tool, args, opts),
    close: async () => {
      if (pool) await (await pool).close();
    },
  };
}

/** The A2aAgentsPort of createA2aAgentsClient, loading the A2A SDK on the first send. */
export function createLazyA2aAgentsClient(agents: readonly A2aAgentEndpoint[]): A2aAgentsPort {
  checkA2aAgents(agents);
  let client: Promise<A2aAgentsPort> | undefined;
  const get = () => (client ??= import('./a2a.ts').then((m) => m.createA2aAgentsClient(agents)));
  const list = a2aAgentList(agents);
  return {
    agents: () => list,
    send: async (agent, message, opts) => (await get()).send(agent, message, opts),
  };
}
