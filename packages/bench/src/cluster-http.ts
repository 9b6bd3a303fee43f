// Appends over HTTP on PostgreSQL: one node against three nodes of the same log (the same load spread round robin),
// same server, same run. On this 2-core machine the nodes and the database share the cores, so the figure says what
// adding nodes does to throughput here, not on a cluster of machines.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dropSchemas,
  freshSchema,
  postgresUnavailable,
  TEST_DATABASE_URL,
} from '@vaultmesh/store-postgres/testing';
import { startNode } from './node-process.ts';
import { createProgress } from './progress.ts';
import type { BenchResult } from './result.ts';

const N = 6000;
const CONCURRENCY = 48;

/** Posts n receipts with `concurrency` in flight, round robin over the bases; returns receipts/s. */
async function blast(bases: string[], token: string, n: number, label: string): Promise<number> {
  const bar = createProgress(label);
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await fetch(`${bases[i % bases.length]}/api/ledger/receipts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          kind: 'deploy',
          tenant: 'default',
          body: { service: 'api', version: `1.${label.length}.${i}`, environment: 'bench' },
        }),
      });
      if (r.status !== 201) throw new Error(`append answered ${r.status}: ${await r.text()}`);
      await r.arrayBuffer();
      if (++done % 1000 === 0) bar.update(done, n);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  bar.done();
  return n / ((performance.now() - t0) / 1000);
}

export async function benchClusterHttp(vmBin: string): Promise<BenchResult[]> {
  const why = await postgresUnavailable();
  if (why) {
    process.stderr.write(`SKIPPED: appends over HTTP on three nodes: ${why}\n`);
    return [];
  }
  const work = mkdtempSync(join(tmpdir(), 'vm-bench-cluster-'));
  const schema = freshSchema('vmbench');
  const children: ChildProcess[] = [];
  try {
    const dirs = ['a', 'b', 'c'].map((d) => join(work, d));
    const config = join(work, 'node.json');
    // Generous write limits: the benchmark measures the nodes, not the per-token rate limit.
    writeFileSync(
      config,
      JSON.stringify({ logLevel: 'silent', rateLimits: { writesPerSecond: 100_000, writeBurst: 1_000_000 } }),
    );
    const init = spawnSync(
      process.execPath,
      [vmBin, 'init', '-d', dirs[0]!, '--origin', 'bench.vaultmesh/cluster'],
      {
        env: { ...process.env, VM_DATABASE_URL: TEST_DATABASE_URL, VM_DATABASE_SCHEMA: schema },
        encoding: 'utf8',
      },
    );
    if (init.status !== 0) throw new Error(`vm init failed: ${init.stderr}`);
    const token = readFileSync(join(dirs[0]!, 'keys', 'admin.token'), 'utf8').trim();
    for (const d of dirs.slice(1)) {
      mkdirSync(join(d, 'keys'), { recursive: true, mode: 0o700 });
      for (const f of ['keys/node.key', 'keys/node.key.pub', 'storage.json'])
        copyFileSync(join(dirs[0]!, f), join(d, f));
    }
    const first = await startNode(vmBin, dirs[0]!, { args: ['-c', config] });
    children.push(first.child);
    await blast([first.base], token, 1000, 'warm-up');
    const one = await blast([first.base], token, N, 'appends over HTTP, 1 node');
    const bases = [first.base];
    for (const d of dirs.slice(1)) {
      const n = await startNode(vmBin, d, { args: ['-c', config] });
      children.push(n.child);
      bases.push(n.base);
    }
    const three = await blast(bases, token, N, 'appends over HTTP, 3 nodes');
    return [
      {
        name: `appends over HTTP on PostgreSQL, 3 nodes (receipts/s, ${CONCURRENCY} in flight, round robin)`,
        value: three,
        unit: '/s',
        baselineName: 'the same load on 1 node',
        baseline: one,
        ratio: three / one,
        target: '(report)',
        pass: true,
      },
    ];
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    await dropSchemas([schema]);
  }
}
