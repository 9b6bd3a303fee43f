// Durable appends on PostgreSQL: the ledger's group-committed appends (validated, canonicalized, hashed, tiled,
// committed under the head-row compare-and-swap) against raw `pg` multi-row inserts of the same rows into the same
// table, in transactions of the same size, same server, same run. Each side gets a fresh schema, dropped after.
import { generateNodeKey, nodeHasher } from '@vaultmesh/attest';
import { canonicalBytes } from '@vaultmesh/ledger';
import { Log } from '@vaultmesh/log';
import { openPostgresStorage } from '@vaultmesh/store-postgres';
import {
  dropSchemas,
  freshSchema,
  postgresUnavailable,
  TEST_DATABASE_URL,
} from '@vaultmesh/store-postgres/testing';
import { createHash } from 'node:crypto';
import { appendMany, receiptInput } from './append.ts';
import { createProgress } from './progress.ts';
import type { BenchResult } from './result.ts';

/** Rows per raw transaction: the log's largest group commit (its maxBatch default). */
const RAW_BATCH = 2048;

export async function benchAppendPostgres(n: number): Promise<BenchResult[]> {
  const why = await postgresUnavailable();
  if (why) {
    process.stderr.write(`SKIPPED: durable append on PostgreSQL: ${why}\n`);
    return [];
  }
  const ours = freshSchema('vmbench');
  const raw = freshSchema('vmbench');
  try {
    const key = generateNodeKey('bench.vaultmesh/append-pg');
    const storage = await openPostgresStorage({ url: TEST_DATABASE_URL, schema: ours });
    const log = await Log.open({
      storage,
      origin: 'bench.vaultmesh/append-pg',
      signer: key.signer,
      hasher: nodeHasher,
    });
    const bar = createProgress('append (ledger on PostgreSQL)');
    await appendMany(log, 2_000);
    const rate = await appendMany(log, n, (d) => bar.update(d, n));
    bar.done();
    await log.close();
    await storage.close();

    // Baseline: the same rows, inserted with one unnest statement per transaction of RAW_BATCH rows.
    const base = await openPostgresStorage({ url: TEST_DATABASE_URL, schema: raw });
    const rows = Array.from({ length: n }, (_, i) => {
      const receipt = { v: 1, ...receiptInput(i), time: new Date().toISOString() };
      const bytes = Buffer.from(canonicalBytes(receipt));
      return {
        idx: i,
        hash: createHash('sha256').update(bytes).digest(),
        kind: receipt.kind,
        tenant: receipt.tenant,
        time: Date.now(),
        bytes,
      };
    });
    const rbar = createProgress('append (raw pg inserts)');
    const t0 = performance.now();
    for (let k = 0; k < n; k += RAW_BATCH) {
      const part = rows.slice(k, k + RAW_BATCH);
      const c = await base.pool.connect();
      try {
        await c.query('BEGIN');
        await c.query(
          `INSERT INTO entries (idx, leaf_hash, kind, tenant, time_ms, bytes)
           SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::text[], $5::bigint[], $6::bytea[])`,
          [
            part.map((r) => r.idx),
            part.map((r) => r.hash),
            part.map((r) => r.kind),
            part.map((r) => r.tenant),
            part.map((r) => r.time),
            part.map((r) => r.bytes),
          ],
        );
        await c.query('COMMIT');
      } finally {
        c.release();
      }
      rbar.update(Math.min(n, k + RAW_BATCH), n);
    }
    const rawRate = n / ((performance.now() - t0) / 1000);
    rbar.done();
    await base.close();
    return [
      {
        name: 'durable append on PostgreSQL (receipts/s)',
        value: rate,
        unit: '/s',
        baselineName: `raw pg multi-row inserts of the same rows (${RAW_BATCH} per transaction)`,
        baseline: rawRate,
        ratio: rate / rawRate,
        target: '>= 0.5x raw',
        pass: rate / rawRate >= 0.5,
      },
    ];
  } finally {
    await dropSchemas([ours, raw]);
  }
}
