// A large log (default 1M entries): inclusion proofs in process and over HTTP against a running node, full
// verification (`vm audit verify --full`) against hashing alone, and the node's memory.
import { nodeHasher } from '@vaultmesh/attest';
import { verifyInclusion } from '@vaultmesh/ledger';
import { openNode, verifyNode } from '@vaultmesh/node';
import { openSqliteStorage } from '@vaultmesh/store-sqlite';
import { hash as oneShotHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProgress } from './progress.ts';
import { appendMany } from './append.ts';
import { httpGet, startNode, type NodeProcess } from './node-process.ts';
import { percentile, type BenchResult } from './result.ts';

/** Starts `vm up` over dir as `npm start` starts a node (package.json): with a 2 MiB young generation
 * (docs/operations.md), silent, publishing checkpoints only on demand. */
export function startServer(dir: string, vmBin: string): Promise<NodeProcess> {
  return startNode(vmBin, dir, {
    nodeFlags: ['--max-semi-space-size=2'],
    args: ['--log-level', 'silent', '--checkpoint-interval', '0'],
  });
}

/**
 * `n` inclusion proofs of random entries over HTTP (keep-alive), each followed by the same server's health route:
 * the latencies of both, in ms.
 */
export async function measureHttpProofs(
  port: number,
  size: number,
  label: string,
  n = 5_000,
): Promise<{ lat: number[]; base: number[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const lat: number[] = [];
  const base: number[] = [];
  const bar = createProgress(label);
  try {
    for (let i = 0; i < n; i++) {
      const idx = Math.floor(Math.random() * size);
      const t0 = performance.now();
      const r = await httpGet(agent, port, `/api/ledger/proof/inclusion?index=${idx}&size=${size}`);
      lat.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`proof request failed: ${r.status} ${r.body}`);
      const t1 = performance.now();
      await httpGet(agent, port, '/api/system/health');
      base.push(performance.now() - t1);
      if (i % 500 === 0) bar.update(i, n);
    }
    bar.update(n, n);
  } finally {
    bar.done();
    agent.destroy();
  }
  return { lat, base };
}

/** The benchmark line of measured HTTP proofs: their p99 against the health route's p99 (target under 5 ms). */
export function httpProofResult(name: string, m: { lat: number[]; base: number[] }): BenchResult {
  const p99 = percentile(m.lat, 99);
  const b99 = percentile(m.base, 99);
  return {
    name,
    value: p99,
    unit: 'ms',
    baselineName: 'p99 of GET /api/system/health on the same server',
    baseline: b99,
    ratio: p99 / b99,
    target: '< 5 ms',
    pass: p99 < 5,
  };
}

function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

export async function benchLarge(size: number, only: Set<string>, vmBin: string): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'vm-bench-large-'));
  try {
    // Build a `size`-entry log through the normal append path.
    const node = await openNode(dir, { create: true, origin: 'bench.vaultmesh/large' });
    const bar = createProgress(`build ${size}-entry log`);
    await appendMany(node.log, size, (d) => bar.update(d, size));
    bar.done();
    const cp = await node.log.checkpoint();

    if (only.has('proof')) {
      // In-process inclusion proof latency vs a raw point read of one row from the same database.
      const samples = 20_000;
      const lat: number[] = [];
      const base: number[] = [];
      const pointRead = node.storage.sqlite!.db.prepare('SELECT leaf_hash FROM entries WHERE idx = ?');
      for (let i = 0; i < samples; i++) {
        const idx = Math.floor(Math.random() * cp.size);
        const t0 = performance.now();
        const p = await node.log.inclusionProof(idx, cp.size);
        lat.push(performance.now() - t0);
        if (i < 100 && !verifyInclusion(nodeHasher, idx, cp.size, p.leafHash, p.proof, cp.root))
          throw new Error('proof did not verify');
        const t1 = performance.now();
        pointRead.get(idx);
        base.push(performance.now() - t1);
      }
      const p99 = percentile(lat, 99);
      const b99 = percentile(base, 99);
      out.push({
        name: `inclusion proof p99 in-process (${size} entries, ms)`,
        value: p99,
        unit: 'ms',
        baselineName: 'p99 of a raw SQLite point read',
        baseline: b99,
        ratio: p99 / b99,
        target: '< 1 ms',
        pass: p99 < 1,
      });
    }
    await node.close();

    if (only.has('verify')) {
      // verify --full vs node:crypto SHA-256 of the same leaf bytes and tree nodes, data already in memory.
      const storage = openSqliteStorage({ path: join(dir, 'ledger.db'), readonly: true });
      const leaves: Buffer[] = [];
      for (let s = 0; s < size; s += 50_000)
        for (const e of await storage.getEntries(s, s + 50_000)) leaves.push(Buffer.from(e.bytes));
      await storage.close();
      // The fastest node:crypto path (one-shot hash), inputs already prefixed: the floor for this work.
      const inputs = leaves.map((b) => Buffer.concat([Buffer.from([0]), b]));
      leaves.length = 0;
      const hb = createProgress('baseline: sha256 of leaves and nodes');
      const nodeInput = Buffer.alloc(65);
      nodeInput[0] = 1;
      const t0 = performance.now();
      // The same latin1-digest path the verifier uses (the fastest node:crypto route for 32-byte digests).
      const digest = (b: Buffer) => Buffer.from(oneShotHash('sha256', b, 'binary'), 'latin1');
      let level: Buffer[] = inputs.map(digest);
      hb.update(1, 2);
      while (level.length > 1) {
        const next: Buffer[] = [];
        for (let i = 0; i + 1 < level.length; i += 2) {
          level[i]!.copy(nodeInput, 1);
          level[i + 1]!.copy(nodeInput, 33);
          next.push(digest(nodeInput));
        }
        if (level.length % 2 === 1) next.push(level[level.length - 1]!);
        level = next;
      }
      const hashMs = performance.now() - t0;
      hb.update(2, 2);
      hb.done();
      inputs.length = 0;
      const vb = createProgress('vm audit verify --full');
      const t1 = performance.now();
      const report = await verifyNode(dir, { full: true, onProgress: (d, t) => vb.update(d, t) });
      const verifyMs = performance.now() - t1;
      vb.done();
      if (!report.ok) throw new Error(`verify failed: ${JSON.stringify(report.problems.slice(0, 3))}`);
      out.push({
        name: `audit verify --full (${size} entries, s)`,
        value: verifyMs / 1000,
        unit: 's',
        baselineName: 'node:crypto SHA-256 of the same bytes and nodes',
        baseline: hashMs / 1000,
        ratio: verifyMs / hashMs,
        target: '<= 2x baseline',
        pass: verifyMs / hashMs <= 2,
      });
    }

    if (only.has('proof') || only.has('memory')) {
      // A real server process on the large log: HTTP proof latency vs a bare health route; RSS vs an empty node.
      const emptyDir = mkdtempSync(join(tmpdir(), 'vm-bench-empty-'));
      const empty = await startServer(emptyDir, vmBin);
      const server = await startServer(dir, vmBin);
      const proofs = await measureHttpProofs(server.port, cp.size, 'HTTP proofs');
      const serverMem = rssMb(server.child.pid!);
      const emptyMem = rssMb(empty.child.pid!);
      server.child.kill('SIGTERM');
      empty.child.kill('SIGTERM');
      rmSync(emptyDir, { recursive: true, force: true });
      if (only.has('proof'))
        out.push(httpProofResult(`inclusion proof p99 over HTTP (${size} entries, ms)`, proofs));
      if (only.has('memory')) {
        out.push({
          name: `server peak RSS serving ${size} entries (MB)`,
          value: serverMem.peak,
          unit: 'MB',
          baselineName: 'peak RSS of the same server on an empty log',
          baseline: emptyMem.peak,
          ratio: serverMem.peak / emptyMem.peak,
          target: '< 300 MB',
          pass: serverMem.peak < 300,
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
