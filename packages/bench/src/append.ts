// Durable appends: the ledger's group-committed appends against raw SQLite inserts of the same rows, same run.
import { generateNodeKey, nodeHasher } from '@vaultmesh/attest';
import { canonicalBytes } from '@vaultmesh/ledger';
import { Log } from '@vaultmesh/log';
import { openSqliteStorage } from '@vaultmesh/store-sqlite';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProgress } from './progress.ts';
import type { BenchResult } from './result.ts';

export function receiptInput(i: number) {
  return {
    kind: 'decision',
    actor: 'bench',
    tenant: i % 3 === 0 ? 'alpha' : 'beta',
    body: {
      title: `Decision ${i}`,
      rationale: 'benchmark receipt with a realistic rationale length, tags and status',
      status: 'accepted',
      tags: ['bench', `t${i % 10}`],
    },
  };
}

/** Appends n receipts through the log, keeping `window` appends in flight, and returns receipts/s. */
export async function appendMany(
  log: Log,
  n: number,
  onProgress?: (d: number) => void,
  window = 16_384,
): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (next < n && next - done < window) {
        const i = next++;
        log.append(receiptInput(i)).then(() => {
          done++;
          if (done % 10_000 === 0) onProgress?.(done);
          if (done === n) resolve();
          else pump();
        }, reject);
      }
    };
    pump();
  });
  return n / ((performance.now() - t0) / 1000);
}

export async function benchAppend(n: number): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vm-bench-append-'));
  try {
    const key = generateNodeKey('bench.vaultmesh/append');
    // Ours: validated, canonicalized, hashed, tiled and group-committed with synchronous=FULL.
    const storage = openSqliteStorage({ path: join(dir, 'ours.db'), writerThread: true });
    const log = await Log.open({
      storage,
      origin: 'bench.vaultmesh/append',
      signer: key.signer,
      hasher: nodeHasher,
    });
    const bar = createProgress('append (ledger)');
    await appendMany(log, 5_000); // warm-up (JIT, page cache)
    const ours = await appendMany(log, n, (d) => bar.update(d, n));
    bar.done();
    await log.close();
    await storage.close();

    // Baseline: raw better-sqlite3 inserts of the same rows (same schema, same pragmas, same batch size).
    const raw = openSqliteStorage({ path: join(dir, 'raw.db') });
    const rows = Array.from({ length: n }, (_, i) => {
      const receipt = { v: 1, ...receiptInput(i), time: new Date().toISOString() };
      const bytes = Buffer.from(canonicalBytes(receipt));
      return [
        i + 5_000,
        createHash('sha256').update(bytes).digest(),
        receipt.kind,
        receipt.tenant,
        Date.now(),
        bytes,
      ] as const;
    });
    const insert = raw.db.prepare(
      'INSERT INTO entries (idx, leaf_hash, kind, tenant, time, bytes) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const tx = raw.db.transaction((batch: (typeof rows)[number][]) => {
      for (const r of batch) insert.run(...r);
    });
    const rbar = createProgress('append (raw sqlite)');
    const t0 = performance.now();
    for (let k = 0; k < n; k += 8192) {
      tx.immediate(rows.slice(k, k + 8192));
      rbar.update(Math.min(n, k + 8192), n);
    }
    const rawRate = n / ((performance.now() - t0) / 1000);
    rbar.done();
    await raw.close();
    return [
      {
        name: 'durable append (receipts/s)',
        value: ours,
        unit: '/s',
        baselineName: 'raw better-sqlite3 inserts of the same rows',
        baseline: rawRate,
        ratio: ours / rawRate,
        target: '>= 0.5x raw and >= 50,000/s',
        pass: ours / rawRate >= 0.5 && ours >= 50_000,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
