// @vaultmesh/interop: the governed tool gateway, the built-in tools, persisted queries, and the MCP and A2A faces of
// them (one export line each).
export * from './errors.ts';
export * from './gateway.ts';
export * from './services.ts';
export * from './queries.ts';
export * from './tools.ts';
export * from './mcp-server.ts';
export * from './ledger-port.ts';
export * from './a2a.ts';
export * from './mcp-client.ts';
