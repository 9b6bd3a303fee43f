// Inclusion proofs over HTTP from a large log on PostgreSQL: a node serving `size` entries built through the normal
// append path; each proof's latency beside a bare health route of the same server, same run.
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
import { httpProofResult, measureHttpProofs, startServer } from './large.ts';
import { createProgress } from './progress.ts';
import type { BenchResult } from './result.ts';

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
    let measured: { lat: number[]; base: number[] };
    try {
      measured = await measureHttpProofs(server.port, cp.size, 'HTTP proofs on PostgreSQL');
    } finally {
      server.child.kill('SIGTERM');
    }
    return [httpProofResult(`inclusion proof p99 over HTTP on PostgreSQL (${size} entries, ms)`, measured)];
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await dropSchemas([schema]);
  }
}
