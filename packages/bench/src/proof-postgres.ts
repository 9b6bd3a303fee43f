// Inclusion proofs over HTTP from a large log on PostgreSQL: a node serving `size` entries built through the normal
// append path; each proof's latency beside a bare health route of the same server, same run.
import { Agent } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNode, openNode } from '@vaultmesh/node';
import {
  dropSchemas,
  freshSchema,
  postgresUnavailable,
  TEST_DATABASE_URL,
} from '@vaultmesh/store-postgres/testing';
import { appendMany } from './append.ts';
import { httpGet, startServer } from './large.ts';
import { createProgress } from './progress.ts';
import { percentile, type BenchResult } from './result.ts';

export async function benchProofPostgres(size: number, vmBin: string): Promise<BenchResult[]> {
  const why = await postgresUnavailable();
  if (why) {
    process.stderr.write(`SKIPPED: inclusion proofs over HTTP on PostgreSQL: ${why}\n`);
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), 'vm-bench-pgproof-'));
  const schema = freshSchema('vmbench');
  try {
    await initNode(dir, {
      origin: 'bench.vaultmesh/pg-large',
      storage: { driver: 'postgres', url: TEST_DATABASE_URL, schema },
    });
    const node = await openNode(dir);
    const bar = createProgress(`build ${size}-entry log on PostgreSQL`);
    await appendMany(node.log, size, (d) => bar.update(d, size));
    bar.done();
    const cp = await node.log.checkpoint();
    await node.close();
    const server = await startServer(dir, vmBin);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const lat: number[] = [];
    const base: number[] = [];
    const n = 5_000;
    const hbar = createProgress('HTTP proofs on PostgreSQL');
    try {
      for (let i = 0; i < n; i++) {
        const idx = Math.floor(Math.random() * cp.size);
        const t0 = performance.now();
        const r = await httpGet(
          agent,
          server.port,
          `/api/ledger/proof/inclusion?index=${idx}&size=${cp.size}`,
        );
        lat.push(performance.now() - t0);
        if (r.status !== 200) throw new Error(`proof request failed: ${r.status} ${r.body}`);
        const t1 = performance.now();
        await httpGet(agent, server.port, '/api/system/health');
        base.push(performance.now() - t1);
        if (i % 500 === 0) hbar.update(i, n);
      }
    } finally {
      hbar.done();
      agent.destroy();
      server.child.kill('SIGTERM');
    }
    const p99 = percentile(lat, 99);
    const b99 = percentile(base, 99);
    return [
      {
        name: `inclusion proof p99 over HTTP on PostgreSQL (${size} entries, ms)`,
        value: p99,
        unit: 'ms',
        baselineName: 'p99 of GET /api/system/health on the same server',
        baseline: b99,
        ratio: p99 / b99,
        target: '< 5 ms',
        pass: p99 < 5,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await dropSchemas([schema]);
  }
}
