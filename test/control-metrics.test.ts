// The control plane's counters on a real node: exported on /metrics (without tenant labels, /metrics is public) and
// kept across a restart (restored from the journal), so compensation-rate tripwires over vaultmesh_control_* work
// with Prometheus and without it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken } from '@vaultmesh/auth';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let cfg: string;
let node: RunningNode | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vm-control-metrics-'));
  cfg = join(dir, 'vaultmesh.json');
  writeFileSync(cfg, JSON.stringify({ port: 0, dataDir: join(dir, 'data'), logLevel: 'silent' }));
});
afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('control-plane counters', () => {
  it('are exported on /metrics without tenants, and survive a restart for tripwires', async () => {
    node = await startNode(loadConfig({ configFile: cfg }));
    const token = (await createToken(node.node.storage, { name: 'ops', role: 'operator', tenant: 'acme' }))
      .token;
    const post = async (path: string, body: unknown) =>
      (await fetch(node!.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json())) as Record<string, unknown>;
    const stored = await post('/api/plans', {
      plan: {
        v: 1,
        id: 'counted',
        goal: 'count one shell step',
        target: { environment: 'staging', tenant: 'acme' },
        phases: [
          {
            id: 'main',
            steps: [
              { id: 's', action: 'shell', params: { command: 'true' }, risk: 'medium', reversible: false },
            ],
          },
        ],
        preconditions: [],
        gates: [],
        createdBy: 'ops',
        createdAt: '2026-12-01T00:00:00.000Z',
      },
    });
    const run = await post('/api/agent/mcp/executor/run', {
      planId: 'counted',
      planHash: stored.planHash,
      wait: true,
    });
    expect(run.state).toBe('succeeded');
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toContain(
      'vaultmesh_control_steps_total{dry_run="true",action="shell",status="succeeded"} 1',
    );
    expect(metrics).not.toMatch(/vaultmesh_control_[a-z_]+\{[^}]*tenant=/);
    const q = 'sum(increase(vaultmesh_control_steps_total{tenant="acme",action="shell"}[1h]))';
    expect(await node.control.counters.query(q, new Date())).toBe(1);
    await node.stop();

    node = await startNode(loadConfig({ configFile: cfg }));
    expect(await node.control.countersReplayed).toBe(1);
    expect(await node.control.counters.query(q, new Date())).toBe(1);
    // A restarted process exports only what it counts itself (Prometheus handles counter resets).
    expect(await (await fetch(`${node.url}/metrics`)).text()).not.toContain('vaultmesh_control_steps_total{');
  });
});
