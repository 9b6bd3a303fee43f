// MCP tools/call over Streamable HTTP against a bare Fastify JSON round trip, and a governed read.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile, type BenchResult } from './result.ts';

/**
 * MCP tool call round trip over Streamable HTTP (the official SDK client against the node's /mcp) for a read-only
 * tool, vs a bare Fastify route doing the same work: the same gateway call (schema, Cedar decision recorded as a
 * `policy` receipt, the read, the durable `tool` receipt) answered as plain JSON. Both run on loopback with
 * keep-alive, interleaved in rounds so drift hits both alike; the ratio is MCP's protocol cost. A second line shows
 * what the governance itself costs: the bare route vs the same route reading the receipt without gateway.
 */
export async function benchMcp(calls = 1_000, rounds = 5): Promise<BenchResult[]> {
  const { loadConfig, startNode } = await import('@vaultmesh/node');
  const { createToken } = await import('@vaultmesh/auth');
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StreamableHTTPClientTransport } =
    await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const Fastify = (await import('fastify')).default;
  const dir = mkdtempSync(join(tmpdir(), 'vm-bench-mcp-'));
  const cfg = join(dir, 'vaultmesh.json');
  writeFileSync(cfg, JSON.stringify({ port: 0, dataDir: join(dir, 'data'), logLevel: 'silent' }));
  const node = await startNode(loadConfig({ configFile: cfg }));
  const bare = Fastify({ logger: false });
  try {
    const { token } = await createToken(node.node.storage, { name: 'bench', role: 'agent', tenant: 'bench' });
    const rec = await node.node.log.append({
      kind: 'decision',
      actor: 'bench',
      tenant: 'bench',
      body: { title: 'bench' },
    });
    const caller = {
      principal: { type: 'agent' as const, id: 'token:bench', role: 'agent' as const, tenant: 'bench' },
      via: 'rest' as const,
    };
    bare.post('/bare/get_receipt', async (req) => {
      const r = await node.interop.gateway.call('get_receipt', req.body, caller);
      return r.output;
    });
    bare.post('/raw/get_receipt', async (req) => {
      return node.interop.services.ledger.get((req.body as { index: number }).index);
    });
    await bare.listen({ host: '127.0.0.1', port: 0 });
    const bareUrl = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}`;
    const client = new Client({ name: 'bench', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${node.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    const args = { index: rec.index };
    const body = JSON.stringify(args);
    const viaMcp = async () => {
      const r = await client.callTool({ name: 'get_receipt', arguments: args });
      if (r.isError) throw new Error(`MCP call failed: ${JSON.stringify(r.content)}`);
    };
    const viaRoute = (path: string) => async () => {
      const res = await fetch(bareUrl + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      if (res.status !== 200) throw new Error(`bare route answered ${res.status}`);
      await res.arrayBuffer();
    };
    const time = async (fn: () => Promise<void>, n: number, out: number[]) => {
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await fn();
        out.push(performance.now() - t);
      }
    };
    const mcp: number[] = [];
    const route: number[] = [];
    const raw: number[] = [];
    // Warm-up: JIT, connections, the session.
    await time(viaMcp, 50, []);
    await time(viaRoute('/bare/get_receipt'), 50, []);
    await time(viaRoute('/raw/get_receipt'), 50, []);
    const per = Math.ceil(calls / rounds);
    for (let r = 0; r < rounds; r++) {
      await time(viaMcp, per, mcp);
      await time(viaRoute('/bare/get_receipt'), per, route);
      await time(viaRoute('/raw/get_receipt'), per, raw);
    }
    await client.close();
    const m50 = percentile(mcp, 50);
    const b50 = percentile(route, 50);
    const r50 = percentile(raw, 50);
    return [
      {
        name: `MCP tools/call round trip, read-only tool, p50 (ms; p95 ${percentile(mcp, 95).toFixed(2)})`,
        value: m50,
        unit: 'ms',
        baselineName: `bare Fastify route, same gateway call, p50; p95 ${percentile(route, 95).toFixed(2)}`,
        baseline: b50,
        ratio: m50 / b50,
        target: '≤ 3x',
        pass: m50 / b50 <= 3,
      },
      {
        name: 'governed read (policy + tool receipt) over HTTP, p50 (ms)',
        value: b50,
        unit: 'ms',
        baselineName: 'the same route reading the receipt without the gateway, p50',
        baseline: r50,
        ratio: b50 / r50,
        target: '(info)',
        pass: true,
      },
    ];
  } finally {
    await bare.close();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
