// Reader threads that verify whole ranges themselves (scanEntries with `verify`) must report exactly what
// entry-by-entry verification reports: the same problems, counts and root, on a clean log and on every
// kind of damage, including damage in one range while the ranges around it are verified by the readers; and
// the same when the whole log is one range read in the calling thread (no reader thread started).
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNodeKey, nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { Log, verifyLog, type EntryRange, type ScanVerify, type VerifyReport } from '@vaultmesh/log';
import { openSqliteStorage } from '../src/index.ts';

const ORIGIN = 'scan.test/log';
const key = generateNodeKey(ORIGIN);
// Mid-range, range-edge and tile-edge sizes; 5000 leaves fill level-0 tiles 0..18 and part of 19.
const CHECKPOINTS = [100, 512, 1000, 2048, 2500, 4096, 4097, 5000];
const CHUNK = 512;
const tmp = mkdtempSync(join(tmpdir(), 'vm-scan-'));
const base = join(tmp, 'base.db');
let copies = 0;

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

beforeAll(async () => {
  const storage = openSqliteStorage({ path: base });
  const log = await Log.open({ storage, origin: ORIGIN, signer: key.signer, hasher: nodeHasher });
  let next = 0;
  for (const size of CHECKPOINTS) {
    const batch: Promise<unknown>[] = [];
    for (; next < size; next++) {
      batch.push(
        log.append({
          kind: next % 2 ? 'decision' : 'deploy',
          actor: `a${next % 3}`,
          tenant: ['acme', 'globex', 'initech'][next % 3]!,
          body:
            next % 2
              ? { title: `decision ${next}`, rationale: 'é'.repeat(next % 7) }
              : { service: 's', version: `1.${next}`, environment: 'prod' },
        }),
      );
    }
    await Promise.all(batch);
    await log.checkpoint();
  }
  await log.close();
  await storage.close();
});

/**
 * Verifies `path` three ways: ranges verified by reader threads (counting them), the whole log as one range read in
 * the calling thread (one chunk: no thread is started), and entry by entry.
 */
async function both(
  path: string,
): Promise<{ fast: VerifyReport; inThread: VerifyReport; slow: VerifyReport; verified: number }> {
  const storage = openSqliteStorage({ path, readonly: true });
  try {
    const opts = {
      storage,
      origin: ORIGIN,
      verifierKey: key.verifierKey,
      hasher: nodeHasher,
      ed25519Verify: nodeEd25519Verify,
      full: true,
    };
    let verified = 0;
    const scanner = (chunk: number, count: boolean) =>
      async function* scan(start: number, end: number, verify?: ScanVerify): AsyncGenerator<EntryRange> {
        for await (const r of storage.scanEntries(start, end, { chunk, threads: 2, verify })) {
          if (r.verified && count) verified++;
          yield r;
        }
      };
    const fast = await verifyLog({ ...opts, scan: scanner(CHUNK, true) });
    const inThread = await verifyLog({ ...opts, scan: scanner(8192, false) });
    const slow = await verifyLog(opts);
    return { fast, inThread, slow, verified };
  } finally {
    await storage.close();
  }
}

const comparable = (r: VerifyReport) => ({ ...r, durationMs: 0 });

function damaged(mutate: (db: Database.Database) => void): string {
  const path = join(tmp, `copy-${++copies}.db`);
  copyFileSync(base, path);
  const db = new Database(path);
  try {
    mutate(db);
  } finally {
    db.close();
  }
  return path;
}

const flipBlob = (db: Database.Database, table: string, col: string, where: string, offset: number) => {
  const row = db.prepare(`SELECT ${col} AS v FROM ${table} WHERE ${where}`).get() as { v: Buffer };
  row.v[offset % row.v.length]! ^= 0x20;
  db.prepare(`UPDATE ${table} SET ${col} = ? WHERE ${where}`).run(row.v);
};
const tileId = (level: number, index: number) => level * 2 ** 40 + index;
/** Byte offset of slot `pos` of row `row` in a stored tile. */
const slot = (row: number, pos: number) => (512 - (512 >> row) + pos) * 32;

describe('full verification with ranges verified by reader threads', () => {
  it('reports the same as entry-by-entry verification on a clean log, with most ranges verified by readers', async () => {
    const { fast, inThread, slow, verified } = await both(base);
    expect(slow.ok).toBe(true);
    expect(slow.problems).toEqual([]);
    expect(comparable(fast)).toEqual(comparable(slow));
    expect(comparable(inThread)).toEqual(comparable(slow));
    expect(fast.nodesChecked).toBeGreaterThan(2 * 5000 - 20);
    expect(verified).toBe(Math.ceil(5000 / CHUNK));
  });

  const cases: [string, (db: Database.Database) => void][] = [
    ['entry bytes in the middle of a range', (db) => flipBlob(db, 'entries', 'bytes', 'idx = 1234', 40)],
    ['the last entry', (db) => flipBlob(db, 'entries', 'bytes', 'idx = 4999', 3)],
    ['a leaf_hash column', (db) => flipBlob(db, 'entries', 'leaf_hash', 'idx = 3000', 5)],
    [
      'a leaf_hash of the wrong length',
      (db) => void db.prepare("UPDATE entries SET leaf_hash = x'00' WHERE idx = 700").run(),
    ],
    ['a kind column', (db) => void db.prepare("UPDATE entries SET kind = 'policy' WHERE idx = 2049").run()],
    [
      'a tenant with a separator in it',
      (db) => void db.prepare("UPDATE entries SET tenant = 'acme' || char(30) || 'x' WHERE idx = 10").run(),
    ],
    ['a time column', (db) => void db.prepare('UPDATE entries SET time = time + 1 WHERE idx = 4097').run()],
    [
      'a time stored as text',
      (db) => void db.prepare("UPDATE entries SET time = time || 'x' WHERE idx = 600").run(),
    ],
    [
      'bytes stored as text',
      (db) => void db.prepare('UPDATE entries SET bytes = CAST(bytes AS TEXT) WHERE idx = 1600').run(),
    ],
    ['a missing entry', (db) => void db.prepare('DELETE FROM entries WHERE idx = 1500').run()],
    [
      'an entry moved to a negative index',
      (db) => void db.prepare('UPDATE entries SET idx = -5 WHERE idx = 2600').run(),
    ],
    ['a level-0 tile node', (db) => flipBlob(db, 'tiles', 'data', `id = ${tileId(0, 7)}`, slot(3, 5) + 1)],
    [
      'a tile root (level 8, in the level-1 tile)',
      (db) => flipBlob(db, 'tiles', 'data', `id = ${tileId(1, 0)}`, slot(0, 9)),
    ],
    ['a level-10 node', (db) => flipBlob(db, 'tiles', 'data', `id = ${tileId(1, 0)}`, slot(2, 1) + 31)],
    ['a level-12 node', (db) => flipBlob(db, 'tiles', 'data', `id = ${tileId(1, 0)}`, slot(4, 0))],
    ['an unused tile slot', (db) => flipBlob(db, 'tiles', 'data', `id = ${tileId(0, 19)}`, slot(0, 200))],
    [
      'a tile width',
      (db) => void db.prepare(`UPDATE tiles SET width = 255 WHERE id = ${tileId(0, 3)}`).run(),
    ],
    ['a missing tile', (db) => void db.prepare(`DELETE FROM tiles WHERE id = ${tileId(0, 12)}`).run()],
    [
      'a tile of the wrong length',
      (db) =>
        void db.prepare(`UPDATE tiles SET data = substr(data, 1, 100) WHERE id = ${tileId(0, 2)}`).run(),
    ],
    ['a checkpoint root', (db) => flipBlob(db, 'checkpoints', 'root', 'size = 2500', 0)],
  ];
  for (const [name, mutate] of cases) {
    it(`reports the same problems for ${name}`, async () => {
      const { fast, inThread, slow, verified } = await both(damaged(mutate));
      expect(slow.ok).toBe(false);
      expect(comparable(fast)).toEqual(comparable(slow));
      expect(comparable(inThread)).toEqual(comparable(slow));
      // The undamaged ranges were still verified by the readers.
      expect(verified).toBeGreaterThan(0);
    });
  }
});
