// @vaultmesh/interop: the governed tool gateway, the built-in tools, persisted queries, and the MCP and A2A faces of
// them (one export line each).
// Importing this loads the MCP and A2A SDKs; a node imports './core' and loads them on first use.
export * from './core.ts';
export * from './mcp-server.ts';
export * from './a2a.ts';
export * from './mcp-client.ts';
