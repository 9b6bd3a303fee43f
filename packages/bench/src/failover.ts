// Leader failover on PostgreSQL: two `vm up` nodes of one log; the leader is killed with SIGKILL and the time until
// the survivor reports itself leader is measured, ten times (the killed node is started again between tries).
// The baseline is the configured lease TTL, which bounds the takeover from below.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dropSchemas,
  freshSchema,
  postgresUnavailable,
  TEST_DATABASE_URL,
} from '@vaultmesh/store-postgres/testing';
import { startNode, type NodeProcess } from './node-process.ts';
import { createProgress } from './progress.ts';
import { percentile, type BenchResult } from './result.ts';

const TRIES = 10;
const TTL_MS = 3000;

const leads = async (n: NodeProcess) => {
  const r = await fetch(`${n.base}/api/backend/status`).catch(() => undefined);
  return r?.ok ? (((await r.json()) as { cluster?: { leader: boolean } }).cluster?.leader ?? false) : false;
};

export async function benchFailover(vmBin: string): Promise<BenchResult[]> {
  const why = await postgresUnavailable();
  if (why) {
    process.stderr.write(`SKIPPED: leader failover on PostgreSQL: ${why}\n`);
    return [];
  }
  const work = mkdtempSync(join(tmpdir(), 'vm-bench-failover-'));
  const schema = freshSchema('vmbench');
  const nodes: (NodeProcess | undefined)[] = [];
  try {
    const dirs = [join(work, 'a'), join(work, 'b')];
    const config = join(work, 'node.json');
    writeFileSync(config, JSON.stringify({ logLevel: 'silent', cluster: { leaseTtlMs: TTL_MS } }));
    const init = spawnSync(
      process.execPath,
      [vmBin, 'init', '-d', dirs[0]!, '--origin', 'bench.vaultmesh/failover'],
      {
        env: { ...process.env, VM_DATABASE_URL: TEST_DATABASE_URL, VM_DATABASE_SCHEMA: schema },
        encoding: 'utf8',
      },
    );
    if (init.status !== 0) throw new Error(`vm init failed: ${init.stderr}`);
    mkdirSync(join(dirs[1]!, 'keys'), { recursive: true, mode: 0o700 });
    for (const f of ['keys/node.key', 'keys/node.key.pub', 'storage.json'])
      copyFileSync(join(dirs[0]!, f), join(dirs[1]!, f));
    nodes[0] = await startNode(vmBin, dirs[0]!, { args: ['-c', config] });
    nodes[1] = await startNode(vmBin, dirs[1]!, { args: ['-c', config] });
    const bar = createProgress('leader failover (kill -9)');
    const times: number[] = [];
    for (let t = 0; t < TRIES; t++) {
      const leader = (await leads(nodes[0]!)) ? 0 : (await leads(nodes[1]!)) ? 1 : -1;
      if (leader < 0) {
        await new Promise((r) => setTimeout(r, 200));
        t--;
        continue;
      }
      const other = 1 - leader;
      const killed = Date.now();
      nodes[leader]!.child.kill('SIGKILL');
      await new Promise((r) => nodes[leader]!.child.once('exit', r));
      while (!(await leads(nodes[other]!))) {
        if (Date.now() - killed > 60_000) throw new Error('no takeover within 60 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      times.push(Date.now() - killed);
      nodes[leader] = await startNode(vmBin, dirs[leader]!, { args: ['-c', config] });
      bar.update(t + 1, TRIES);
    }
    bar.done();
    const p50 = percentile(times, 50);
    const max = Math.max(...times);
    return [
      {
        name: `leader failover after kill -9, p50 (ms; max ${max}, ${TRIES} tries, 2 nodes)`,
        value: p50,
        unit: 'ms',
        baselineName: 'the leader lease TTL',
        baseline: TTL_MS,
        ratio: p50 / TTL_MS,
        target: 'max < 5000 ms',
        pass: max < 5000,
      },
    ];
  } finally {
    for (const n of nodes) if (n && n.child.exitCode === null) n.child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    await dropSchemas([schema]);
  }
}
