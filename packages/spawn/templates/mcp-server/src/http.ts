// Streamable HTTP (MCP 2025-06-18) in stateless mode: every POST /mcp gets a fresh server and transport, so any
// replica can answer any request. A bearer token (MCP_TOKEN) is required when set, and a request whose Origin is
// not allowed is refused (DNS rebinding). Also /healthz, /readyz and /metrics.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { timingSafeEqual } from 'node:crypto';
import type { Config } from './config.js';
import type { Metrics } from './metrics.js';
import { createMcpServer } from './server.js';

export interface HttpState {
  ready: boolean;
}

const MAX_BODY = 1024 * 1024;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function rpcError(res: ServerResponse, status: number, message: string): void {
  json(res, status, { jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error('request body over 1 MiB');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function handleMcp(
  req: IncomingMessage,
  res: ServerResponse,
  metrics: Metrics,
): Promise<void> {
  if (req.method !== 'POST') {
    // Stateless: no server-initiated streams and no sessions to end.
    res.writeHead(405, { allow: 'POST' });
    rpcError(res, 405, 'method not allowed: this server is stateless (POST only)');
    return;
  }
  let body: unknown;
  try {
    body = await readJson(req);
  } catch (err) {
    rpcError(res, 400, `bad request: ${(err as Error).message}`);
    return;
  }
  const server = createMcpServer(metrics);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

export function createHttpServer(config: Config, metrics: Metrics, state: HttpState): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = ['/mcp', '/healthz', '/readyz', '/metrics'].includes(path) ? path : 'unmatched';
    const end = metrics.duration.startTimer({ method: req.method ?? 'GET', route });
    res.on('finish', () => {
      end();
      metrics.requests.inc({ method: req.method ?? 'GET', route, status: String(res.statusCode) });
    });
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz')
      return json(res, state.ready ? 200 : 503, { status: state.ready ? 'ready' : 'not ready' });
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (path !== '/mcp') return json(res, 404, { error: 'not found' });
    const origin = req.headers.origin;
    if (origin !== undefined && !config.allowedOrigins.includes(origin))
      return rpcError(res, 403, `origin ${origin} is not allowed`);
    if (config.token !== undefined && !tokenMatches(req.headers.authorization, config.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      return rpcError(res, 401, 'a bearer token is required');
    }
    handleMcp(req, res, metrics).catch(() => {
      if (!res.headersSent) rpcError(res, 500, 'internal error');
    });
  });
}
