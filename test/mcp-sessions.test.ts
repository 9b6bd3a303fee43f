// /mcp session limits (issue 13): one token once opened 996 sessions and locked every other tenant out. Now a token
// holds at most maxSessionsPerToken (its oldest is closed to make room), a tenant at most maxSessionsPerTenant (429
// with Retry-After), and other tenants are never crowded out.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken } from '@vaultmesh/auth';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let node: RunningNode;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-mcp-sessions-'));
  const cfg = join(dir, 'vaultmesh.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      port: 0,
      dataDir: join(dir, 'data'),
      logLevel: 'silent',
      interop: { mcpSessions: { maxSessionsPerToken: 3, maxSessionsPerTenant: 5 } },
    }),
  );
  node = await startNode(loadConfig({ configFile: cfg }));
  for (const [name, tenant] of [
    ['acme-1', 'acme'],
    ['acme-2', 'acme'],
    ['beta-1', 'beta'],
  ] as const)
    tokens[name] = (
      await createToken(node.node.storage, { name, role: 'agent', tenant, audience: ['mcp'] })
    ).token;
}, 60_000);
afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const headers = (token: string, session?: string) => ({
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}),
});

/** An MCP initialize request body. */
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'q', version: '1' } },
});

/** Opens a session (initialize); its id, or the refusal. */
async function open(
  token: string,
): Promise<{ status: number; id?: string; retryAfter?: string | null; body: string }> {
  const res = await fetch(`${node.url}/mcp`, {
    method: 'POST',
    headers: headers(token),
    body: INITIALIZE,
  });
  const body = await res.text();
  return {
    status: res.status,
    ...(res.headers.get('mcp-session-id') ? { id: res.headers.get('mcp-session-id')! } : {}),
    retryAfter: res.headers.get('retry-after'),
    body,
  };
}

/** Whether a session still answers (a ping). */
async function alive(token: string, id: string): Promise<boolean> {
  const res = await fetch(`${node.url}/mcp`, {
    method: 'POST',
    headers: headers(token, id),
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
  });
  await res.text();
  return res.status === 200;
}

describe('/mcp session limits', () => {
  it('a token holds at most its quota: its least recently used session is closed to make room', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await open(tokens['acme-1']!);
      expect(s.status, s.body).toBe(200);
      ids.push(s.id!);
    }
    const states = [];
    for (const id of ids) states.push(await alive(tokens['acme-1']!, id));
    expect(states).toEqual([false, false, true, true, true]);
  });

  it('a tenant at its quota is refused with 429 and Retry-After; other tenants are not crowded out', async () => {
    // acme-1 holds 3; acme-2 may add 2 more before the tenant is full.
    expect((await open(tokens['acme-2']!)).status).toBe(200);
    expect((await open(tokens['acme-2']!)).status).toBe(200);
    const full = await open(tokens['acme-2']!);
    expect(full.status).toBe(429);
    expect(Number(full.retryAfter)).toBeGreaterThan(0);
    expect(JSON.parse(full.body)).toMatchObject({ code: 'TOO_MANY_SESSIONS' });
    expect(JSON.parse(full.body).detail).toMatch(/tenant acme holds 5 open MCP sessions/);
    const other = await open(tokens['beta-1']!);
    expect(other.status).toBe(200);
    // A session closed by its client (DELETE) frees its place.
    const { 'content-type': _json, ...noBody } = headers(tokens['beta-1']!, other.id);
    const del = await fetch(`${node.url}/mcp`, { method: 'DELETE', headers: noBody });
    expect(del.status).toBe(200);
    expect(await alive(tokens['beta-1']!, other.id!)).toBe(false);
  });
});

/** A raw initialize with chosen Host and Origin headers (fetch will not send a foreign Host). */
function initializeAs(host: string, origin?: string): Promise<number> {
  const u = new URL(node.url);
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'r', version: '1' } },
  });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: '/mcp',
        method: 'POST',
        headers: {
          ...headers(tokens['beta-1']!),
          host,
          ...(origin ? { origin } : {}),
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('/mcp DNS-rebinding protection', () => {
  it('refuses a Host the node does not answer to, even with a matching Origin', async () => {
    expect(await initializeAs('rebind.evil.example', 'http://rebind.evil.example')).toBe(403);
    expect(await initializeAs('rebind.evil.example')).toBe(403);
  });

  it('serves the loopback names, with an Origin on another loopback name or port', async () => {
    const port = new URL(node.url).port;
    expect(await initializeAs(`127.0.0.1:${port}`, `http://localhost:${port}`)).toBe(200);
    expect(await initializeAs(`localhost:${port}`, 'http://127.0.0.1:3000')).toBe(200);
    expect(await initializeAs(`127.0.0.1:${port}`, 'https://evil.example')).toBe(403);
  });
});

describe('/mcp and /a2a share the per-token limits', () => {
  it('a token past its write rate gets 429 with Retry-After on /mcp and /a2a too', async () => {
    const d = mkdtempSync(join(tmpdir(), 'vm-mcp-limits-'));
    const cfg = join(d, 'vaultmesh.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        port: 0,
        dataDir: join(d, 'data'),
        logLevel: 'silent',
        rateLimits: { writesPerSecond: 0.01, writeBurst: 2 },
      }),
    );
    const n = await startNode(loadConfig({ configFile: cfg }));
    try {
      const t = (await createToken(n.node.storage, { name: 'fast', role: 'agent', tenant: 'acme' })).token;
      const h = {
        authorization: `Bearer ${t}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      };
      const init = INITIALIZE;
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${n.url}/mcp`, { method: 'POST', headers: h, body: init });
        await r.text();
        statuses.push(r.status);
        if (r.status === 429) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      expect(statuses).toEqual([200, 200, 429]);
      const a2a = await fetch(`${n.url}/a2a/jsonrpc`, {
        method: 'POST',
        headers: { ...h, 'a2a-version': '1.0' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'x' } }),
      });
      expect(a2a.status).toBe(429);
    } finally {
      await n.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('tool calls denied over /mcp and /a2a count against the token deny budget, as REST 403s do', async () => {
    const d = mkdtempSync(join(tmpdir(), 'vm-mcp-denies-'));
    const cfg = join(d, 'vaultmesh.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        port: 0,
        dataDir: join(d, 'data'),
        logLevel: 'silent',
        rateLimits: { deniesPerMinute: 2 },
      }),
    );
    const n = await startNode(loadConfig({ configFile: cfg }));
    try {
      const viewer = async (name: string) =>
        (await createToken(n.node.storage, { name, role: 'viewer', tenant: 'acme' })).token;
      const h = headers;
      // MCP: two denied tool calls in one session, then even a ping is refused.
      const t1 = await viewer('reader-mcp');
      const init = await fetch(`${n.url}/mcp`, {
        method: 'POST',
        headers: h(t1),
        body: INITIALIZE,
      });
      await init.text();
      const sid = init.headers.get('mcp-session-id')!;
      const call = async (id: number) => {
        const r = await fetch(`${n.url}/mcp`, {
          method: 'POST',
          headers: h(t1, sid),
          body: JSON.stringify({
            jsonrpc: '2.0',
            id,
            method: 'tools/call',
            params: { name: 'record_decision', arguments: { title: 'not mine to write' } },
          }),
        });
        return { status: r.status, body: await r.text() };
      };
      for (const id of [2, 3]) {
        const r = await call(id);
        expect(r.status).toBe(200);
        expect(r.body).toMatch(/DENIED/);
      }
      const stopped = await call(4);
      expect(stopped.status).toBe(429);
      expect(stopped.body).toMatch(/2 requests denied in the last minute/);
      // A2A: the same budget for another token.
      const t2 = await viewer('reader-a2a');
      const send = async () => {
        const r = await fetch(`${n.url}/a2a/jsonrpc`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${t2}`,
            'content-type': 'application/json',
            'a2a-version': '1.0',
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'SendMessage',
            params: {
              message: {
                messageId: randomUUID(),
                role: 'ROLE_USER',
                parts: [{ data: { tool: 'record_decision', arguments: { title: 'nope' } } }],
              },
            },
          }),
        });
        return { status: r.status, body: await r.text() };
      };
      for (let i = 0; i < 2; i++) {
        const r = await send();
        expect(r.status).toBe(200);
        expect(r.body).toMatch(/DENIED|rejected/i);
      }
      expect((await send()).status).toBe(429);
      // Metrics name the reason.
      const m = await (await fetch(`${n.url}/metrics`)).text();
      expect(m).toMatch(/vaultmesh_rate_limited_total\{reason="denies"\} 2/);
    } finally {
      await n.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
