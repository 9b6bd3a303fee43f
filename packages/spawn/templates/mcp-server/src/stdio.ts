#!/usr/bin/env node
// stdio entry: an MCP client starts this as a subprocess and speaks JSON-RPC on stdin/stdout. Logs go to stderr
// only, since stdout carries the protocol.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createMcpServer } from './server.js';

const server = createMcpServer();
server.connect(new StdioServerTransport()).catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', msg: (err as Error).message }));
  process.exit(1);
});
