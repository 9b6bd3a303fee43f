// A2A as `vm up` serves it: two real nodes (startNode) where node A's config names node B as a remote agent whose
// bearer token comes from an environment variable. The agent card names A's real URL; /a2a/perform asks B.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken } from '@vaultmesh/auth';
import { ConfigError, loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let a: RunningNode;
let b: RunningNode;
let peerToken: string;

function configFile(name: string, extra: Record<string, unknown> = {}): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ port: 0, dataDir: join(dir, name), logLevel: 'silent', ...extra }));
  return file;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-a2a-node-'));
  b = await startNode(loadConfig({ configFile: configFile('b') }));
  peerToken = (
    await createToken(b.node.storage, { name: 'node-a', role: 'agent', tenant: 'acme', audience: ['a2a'] })
  ).token;
  const cfgA = configFile('a', {
    interop: {
      agents: [{ name: 'peer', url: b.url, apiKeyEnv: 'PEER_TOKEN', region: 'eu-west-1', timeoutMs: 5000 }],
    },
  });
  a = await startNode(loadConfig({ configFile: cfgA, env: { PEER_TOKEN: peerToken } }));
}, 60_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('A2A on a running node', () => {
  it('serves an agent card naming the node’s own JSON-RPC endpoint and its skills', async () => {
    const res = await fetch(`${a.url}/.well-known/agent-card.json`);
    expect(res.status).toBe(200);
    const card = (await res.json()) as { supportedInterfaces: { url: string }[]; skills: unknown[] };
    expect(card.supportedInterfaces[0]!.url).toBe(`${a.url}/a2a/jsonrpc`);
    expect(card.skills.length).toBeGreaterThan(0);
  });

  it('POST /a2a/perform asks the configured remote node a persisted query, with provenance on both ledgers', async () => {
    const token = (await createToken(a.node.storage, { name: 'ops-bot', role: 'agent', tenant: 'acme' }))
      .token;
    const res = await fetch(`${a.url}/a2a/perform`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        tenantId: 'acme',
        purpose: 'incident-review',
        residency: 'eu',
        pqid: 'ledger.status',
        agent: 'peer',
      }),
    });
    const body = (await res.json()) as {
      state: string;
      provenance: { receiptIndex: number; hash: string };
      result: { provenance: { receiptIndex: number } };
    };
    expect(res.status).toBe(200);
    expect(body.state).toBe('completed');
    const local = await a.node.log.getEntry(body.provenance.receiptIndex);
    expect(local.kind).toBe('tool');
    const remote = await b.node.log.getEntry(body.result.provenance.receiptIndex);
    expect(remote.kind).toBe('tool');
    expect(Buffer.from(remote.bytes).toString()).toMatch(/"actor":"token:[a-z0-9*]+\/node-a#[0-9a-f]{16}"/);
  });

  it('refuses an MCP-only token at /a2a/jsonrpc and /a2a/perform (audience a2a)', async () => {
    const token = (
      await createToken(a.node.storage, { name: 'mcp-bot', role: 'agent', tenant: 'acme', audience: ['mcp'] })
    ).token;
    for (const path of ['/a2a/jsonrpc', '/a2a/perform']) {
      const res = await fetch(a.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status, path).toBe(401);
    }
  });

  it('refuses a configuration whose agent token variable is empty, naming it', () => {
    const cfg = configFile('c', {
      interop: { agents: [{ name: 'peer', url: b.url, apiKeyEnv: 'MISSING_TOKEN' }] },
    });
    expect(() => loadConfig({ configFile: cfg, env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ configFile: cfg, env: {} })).toThrow(/MISSING_TOKEN/);
    expect(() =>
      loadConfig({ configFile: configFile('d', { interop: { agents: [{ name: 'Bad Name', url: 'x' }] } }) }),
    ).toThrow(/interop\.agents\.0\.name/);
  });
});
