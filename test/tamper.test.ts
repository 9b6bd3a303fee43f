// Tamper test: a ~600-entry log (three level-0 tiles, one level-1 tile, several checkpoints) is changed
// in exactly one place per case, on a fresh copy, and `verifyNode(dir, { full: true })` must notice.
//  a) row tampering: one byte (or an integer by +1) in every ledger column, for a sample of rows, and
//     bytes inside tiles.data at random offsets, including unused (zero) slots of partial tiles;
//  b) file tampering: one byte flipped at random offsets of the closed database file; a flip that
//     verification accepts must not have changed any ledger row (logical dump identical).
// Seeded: TAMPER_SEED=<n> reproduces a run (the seed is printed); TAMPER_FLIPS widens part b (a count, never a time budget).
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HASH_SIZE, TILE_HEIGHT, TILE_WIDTH } from '@vaultmesh/ledger';
import { TILE_SLOTS, rowOffset, type VerifyProblem, type VerifyReport } from '@vaultmesh/log';
import { dataPaths, openNode, verifyNode } from '@vaultmesh/node';

const ENTRIES = 600;
const CHECKPOINT_SIZES = [50, 256, 300, 512, 600];
const ROW_SAMPLE = 6;
const TILE_DATA_USED = 40;
const TILE_DATA_UNUSED = 24;
// A fixed number of flips, whatever the machine's speed (a busy machine must not turn a count into a failure).
const FILE_FLIPS = Number(process.env.TAMPER_FLIPS ?? 80);
const INDEX_FLIPS = Number(process.env.TAMPER_INDEX_FLIPS ?? 40);

const seed = Number(process.env.TAMPER_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** mulberry32: small, seedable, good enough to pick offsets. */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(seed);
const randInt = (n: number): number => Math.floor(rand() * n);
const sample = <T>(xs: readonly T[], n: number): T[] => {
  const pool = [...xs];
  const out: T[] = [];
  while (out.length < n && pool.length > 0) out.push(pool.splice(randInt(pool.length), 1)[0]!);
  return out;
};
/** A copy of `b` with one byte XORed by a random non-zero value. */
function flipOne(b: Buffer, offset = randInt(b.length)): { out: Buffer; offset: number } {
  const out = Buffer.from(b);
  out[offset] = out[offset]! ^ (1 + randInt(255));
  return { out, offset };
}

const tmp = mkdtempSync(join(tmpdir(), 'vm-tamper-'));
const base = join(tmp, 'base');
let caseNo = 0;

/** A fresh copy of the base data directory (database file and key). */
function copyNode(): string {
  const dir = join(tmp, `case-${++caseNo}`);
  const from = dataPaths(base);
  const to = dataPaths(dir);
  mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 });
  copyFileSync(from.db, to.db);
  copyFileSync(from.key, to.key);
  chmodSync(to.key, 0o600);
  copyFileSync(from.pub, to.pub);
  return dir;
}

function withDb<T>(dir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(dataPaths(dir).db, { fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

interface TileInfo {
  id: number;
  level: number;
  index: number;
  width: number;
}
let tiles: TileInfo[] = [];
let checkpointSizes: number[] = [];
let originalDump: LedgerDump;

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

beforeAll(async () => {
  const node = await openNode(base, { create: true, origin: 'tamper.test/log' });
  const kinds = ['decision', 'deploy', 'policy'] as const;
  const tenants = ['acme', 'globex', 'initech'];
  let next = 0;
  for (const target of CHECKPOINT_SIZES) {
    const batch: Promise<unknown>[] = [];
    for (; next < target; next++) {
      const n = next;
      const kind = kinds[n % kinds.length]!;
      const body =
        kind === 'decision'
          ? { title: `decision ${n}`, rationale: 'r'.repeat(n % 40), status: 'accepted' }
          : kind === 'deploy'
            ? { service: `svc-${n % 7}`, version: `1.${n}.0`, environment: 'prod' }
            : { action: 'deploy', principal: `agent-${n % 5}`, resource: `svc-${n % 7}`, decision: 'allow' };
      batch.push(
        node.log.append({ kind, actor: `actor-${n % 4}`, tenant: tenants[n % tenants.length]!, body }),
      );
    }
    await Promise.all(batch);
    await node.log.checkpoint();
  }
  // Not ledger data: a token row, so the file holds a tokens table with content.
  await node.storage.insertToken({
    id: 'tok_tamper',
    name: 'tamper test',
    role: 'auditor',
    tenant: '*',
    secretHash: 'ab'.repeat(32),
    createdAt: Date.now(),
    expiresAt: null,
    revokedAt: null,
  });
  await node.close();
  withDb(base, (db) => {
    db.pragma('wal_checkpoint(TRUNCATE)');
    tiles = db
      .prepare<[], { id: number; width: number }>('SELECT id, width FROM tiles ORDER BY id')
      .all()
      .map((t) => ({ id: t.id, width: t.width, level: Math.floor(t.id / 2 ** 40), index: t.id % 2 ** 40 }));
    checkpointSizes = db
      .prepare<[], { size: number }>('SELECT size FROM checkpoints ORDER BY size')
      .all()
      .map((r) => r.size);
  });
  const wal = `${dataPaths(base).db}-wal`;
  expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true);
  originalDump = dumpLedger(dataPaths(base).db);
  console.log(
    `tamper test seed ${seed} (TAMPER_SEED=${seed} reproduces): ${ENTRIES} entries, tiles ` +
      `${tiles.map((t) => `${t.level}/${t.index}w${t.width}`).join(' ')}, checkpoints ${checkpointSizes.join(' ')}, ` +
      `${statSync(dataPaths(base).db).size} bytes`,
  );
});

/** One row-tampering case: a mutation of a fresh copy and what the report must name. */
interface RowCase {
  readonly name: string;
  readonly mutate: (db: Database.Database) => void;
  readonly expect: (p: VerifyProblem) => boolean;
}

const has =
  (want: Partial<Record<keyof VerifyProblem, unknown>>) =>
  (p: VerifyProblem): boolean =>
    Object.entries(want).every(([k, v]) => p[k as keyof VerifyProblem] === v);

/** A filter-column problem that names what the signed bytes say (expected) beside what the column holds (found). */
const column =
  (index: number, field: string) =>
  (p: VerifyProblem): boolean =>
    p.where === 'entry' &&
    p.index === index &&
    p.field === field &&
    typeof p.expected === 'string' &&
    p.expected !== '' &&
    p.expected !== p.found;

/**
 * Changes one byte of a TEXT value (stored back as TEXT, even when the result is not valid UTF-8); with
 * `to`, a random byte of the middle of the value becomes that character.
 */
function tamperText(
  db: Database.Database,
  table: string,
  col: string,
  key: string,
  keyValue: unknown,
  to?: string,
): void {
  const row = db.prepare(`SELECT CAST(${col} AS BLOB) AS v FROM ${table} WHERE ${key} = ?`).get(keyValue) as {
    v: Buffer;
  };
  let out: Buffer;
  if (to === undefined) out = flipOne(row.v).out;
  else {
    out = Buffer.from(row.v);
    out[1 + randInt(out.length - 2)] = to.charCodeAt(0);
  }
  const r = db.prepare(`UPDATE ${table} SET ${col} = CAST(? AS TEXT) WHERE ${key} = ?`).run(out, keyValue);
  expect(r.changes).toBe(1);
}

function tamperBlob(db: Database.Database, table: string, col: string, key: string, keyValue: unknown): void {
  const row = db.prepare(`SELECT ${col} AS v FROM ${table} WHERE ${key} = ?`).get(keyValue) as { v: Buffer };
  const { out } = flipOne(row.v);
  const r = db.prepare(`UPDATE ${table} SET ${col} = ? WHERE ${key} = ?`).run(out, keyValue);
  expect(r.changes).toBe(1);
}

/** A primary key + 1, or (when that key is taken) with one bit of its third byte flipped. */
function freeKey(db: Database.Database, table: string, key: string, value: number): number {
  const taken = db.prepare(`SELECT 1 FROM ${table} WHERE ${key} = ?`);
  if (!taken.get(value + 1)) return value + 1;
  const bit = 2 ** 16;
  const v = Math.floor(value / bit) % 2 === 0 ? value + bit : value - bit;
  expect(taken.get(v)).toBeUndefined();
  return v;
}

/** The node a stored-tile slot holds (as verify names it: absolute level and index). */
function slotNode(t: TileInfo, slot: number): { level: number; index: number; used: boolean } {
  let row = 0;
  while (row + 1 < TILE_HEIGHT && slot >= rowOffset(row + 1)) row++;
  const pos = slot - rowOffset(row);
  return {
    level: t.level * TILE_HEIGHT + row,
    index: t.index * (TILE_WIDTH >> row) + pos,
    used: pos < Math.floor(t.width / 2 ** row),
  };
}

function rowCases(): RowCase[] {
  const cases: RowCase[] = [];
  const indexes = sample(
    Array.from({ length: ENTRIES }, (_, i) => i),
    ROW_SAMPLE,
  );
  // Always include the first and last entries (edges of the first tile and of the partial tile).
  for (const i of new Set([0, ENTRIES - 1, ...indexes])) {
    const entry = { where: 'entry', index: i };
    cases.push(
      {
        name: `entries.leaf_hash idx ${i}`,
        mutate: (db) => tamperBlob(db, 'entries', 'leaf_hash', 'idx', i),
        expect: has({ ...entry, field: 'leaf_hash' }),
      },
      {
        name: `entries.bytes idx ${i}`,
        mutate: (db) => tamperBlob(db, 'entries', 'bytes', 'idx', i),
        expect: has(entry),
      },
      {
        name: `entries.kind idx ${i}`,
        mutate: (db) => tamperText(db, 'entries', 'kind', 'idx', i),
        expect: column(i, 'kind'),
      },
      {
        name: `entries.tenant idx ${i}`,
        mutate: (db) => tamperText(db, 'entries', 'tenant', 'idx', i),
        expect: column(i, 'tenant'),
      },
      {
        name: `entries.time idx ${i}`,
        mutate: (db) => void db.prepare('UPDATE entries SET time = time + 1 WHERE idx = ?').run(i),
        expect: column(i, 'time'),
      },
      {
        name: `entries.idx idx ${i}`,
        mutate: (db) =>
          void db
            .prepare('UPDATE entries SET idx = ? WHERE idx = ?')
            .run(freeKey(db, 'entries', 'idx', i), i),
        // The entry is gone from its place: "entry i is missing".
        expect: has(entry),
      },
    );
  }
  // One byte of the 8-byte integer changed high up: the log now claims ~2^48 entries. Verification must
  // still finish promptly (it skips the empty range in one step) and name the entry that went missing.
  for (const i of [ENTRIES - 1, indexes[0]!]) {
    cases.push({
      name: `entries.idx idx ${i} (+2^48, byte 6 of 8)`,
      mutate: (db) => void db.prepare('UPDATE entries SET idx = ? WHERE idx = ?').run(i + 2 ** 48, i),
      expect: has({ where: 'entry', index: i }),
    });
  }
  for (const t of tiles) {
    const tileProblem = { where: 'tile', level: t.level * TILE_HEIGHT, index: t.index };
    for (const delta of [1, -1]) {
      cases.push({
        name: `tiles.width ${delta > 0 ? '+1' : '-1'} tile ${t.level}/${t.index} (width ${t.width})`,
        mutate: (db) => void db.prepare('UPDATE tiles SET width = width + ? WHERE id = ?').run(delta, t.id),
        expect: has({ ...tileProblem, field: 'width' }),
      });
    }
    cases.push({
      name: `tiles.id tile ${t.level}/${t.index}`,
      mutate: (db) =>
        void db.prepare('UPDATE tiles SET id = ? WHERE id = ?').run(freeKey(db, 'tiles', 'id', t.id), t.id),
      // The tile's first node is reported missing from the tile's original place.
      expect: (p) => p.where === 'tile' && p.message.includes(`tile ${t.level}/${t.index} lacks node`),
    });
  }
  // tiles.data: bytes in used slots (a stored node) and in unused slots (must stay zero).
  const slotsOf = (used: boolean) =>
    tiles.flatMap((t) =>
      Array.from({ length: TILE_SLOTS }, (_, slot) => ({ t, slot })).filter(
        (x) => slotNode(x.t, x.slot).used === used,
      ),
    );
  const unused = slotsOf(false);
  expect(unused.length).toBeGreaterThan(0);
  for (const [used, picks] of [
    [true, sample(slotsOf(true), TILE_DATA_USED)],
    [false, sample(unused, TILE_DATA_UNUSED)],
  ] as const) {
    for (const { t, slot } of picks) {
      const offset = slot * HASH_SIZE + randInt(HASH_SIZE);
      const node = slotNode(t, slot);
      cases.push({
        name: `tiles.data tile ${t.level}/${t.index} offset ${offset} (${used ? 'node' : 'unused slot'} ${node.level}/${node.index})`,
        mutate: (db) => {
          const row = db
            .prepare<[number], { data: Buffer }>('SELECT data FROM tiles WHERE id = ?')
            .get(t.id)!;
          db.prepare('UPDATE tiles SET data = ? WHERE id = ?').run(flipOne(row.data, offset).out, t.id);
        },
        expect: has({
          where: 'tile',
          level: node.level,
          index: node.index,
          field: used ? 'hash' : 'unused slot',
        }),
      });
    }
  }
  for (const size of checkpointSizes) {
    cases.push(
      {
        name: `checkpoints.note size ${size}`,
        mutate: (db) => tamperText(db, 'checkpoints', 'note', 'size', size),
        expect: has({ where: 'checkpoint', index: size, field: 'note' }),
      },
      {
        name: `checkpoints.root size ${size}`,
        mutate: (db) => tamperBlob(db, 'checkpoints', 'root', 'size', size),
        expect: has({ where: 'checkpoint', index: size, field: 'root' }),
      },
      {
        name: `checkpoints.size ${size} (+1)`,
        mutate: (db) =>
          void db
            .prepare('UPDATE checkpoints SET size = ? WHERE size = ?')
            .run(freeKey(db, 'checkpoints', 'size', size), size),
        expect: (p) => p.where === 'checkpoint' && p.field === 'size' && p.expected === String(size),
      },
    );
  }
  // The origin names the checkpoint key; a space or "+" makes it an invalid key name (must be reported,
  // not thrown). The rest are random one-byte changes.
  for (const [k, forced] of [' ', '+', undefined, undefined, undefined].entries()) {
    cases.push(
      {
        name: `meta origin #${k + 1}${forced ? ` (byte -> ${JSON.stringify(forced)})` : ''}`,
        mutate: (db) => tamperText(db, 'meta', 'value', 'key', 'origin', forced),
        // Checkpoints are signed by a key named after the origin: they no longer verify, nor does the key.
        expect: (p) =>
          (p.where === 'log' && (p.field === 'origin' || p.field === 'verifier_key')) ||
          (p.where === 'checkpoint' && (p.field === 'note' || p.field === 'origin')),
      },
      {
        name: `meta verifier_key #${k + 1}`,
        mutate: (db) => tamperText(db, 'meta', 'value', 'key', 'verifier_key'),
        expect: has({ where: 'log', field: 'verifier_key' }),
      },
    );
  }
  return cases;
}

/** Every row and column of the ledger tables, ordered, with SQLite storage types. */
interface LedgerDump {
  /** Ledger data: entries, tiles, checkpoints (size, root, note), meta (origin, verifier_key, ...). */
  ledger: string;
  /** What the kind and tenant indexes say (filtered listings are answered from them). */
  indexes: string;
  /** Unsigned bookkeeping no verifier can check: checkpoints.created_at and meta created_at. */
  unsigned: string;
}

function dumpLedger(path: string): LedgerDump {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.defaultSafeIntegers(true);
    const enc = (v: unknown): string =>
      Buffer.isBuffer(v)
        ? `blob:${v.toString('hex')}`
        : `${typeof v}:${typeof v === 'string' ? JSON.stringify(v) : String(v)}`;
    const rows = (sql: string): string =>
      (db.prepare(sql).raw(true).all() as unknown[][]).map((r) => r.map(enc).join('|')).join('\n');
    // ORDER BY rowid reads the table b-trees themselves, never an index.
    const ledger = [
      rows('SELECT idx, leaf_hash, kind, tenant, time, bytes FROM entries ORDER BY rowid'),
      rows('SELECT id, width, data FROM tiles ORDER BY rowid'),
      rows('SELECT size, root, note FROM checkpoints ORDER BY rowid'),
      rows("SELECT key, value FROM meta WHERE key <> 'created_at' ORDER BY rowid"),
    ].join('\n--\n');
    // Covering-index scans: these read only the index b-trees.
    const indexes = [
      rows('SELECT kind, idx FROM entries INDEXED BY entries_kind ORDER BY kind, idx'),
      rows('SELECT tenant, idx FROM entries INDEXED BY entries_tenant ORDER BY tenant, idx'),
    ].join('\n--\n');
    const unsigned = [
      rows('SELECT size, created_at FROM checkpoints ORDER BY rowid'),
      rows("SELECT key, value FROM meta WHERE key = 'created_at' ORDER BY rowid"),
    ].join('\n--\n');
    return { ledger, indexes, unsigned };
  } finally {
    db.close();
  }
}

/** Outcomes of single-byte flips of the database file. */
class FlipStats {
  flips = 0;
  reported = 0;
  harmless = 0;
  unsignedOnly = 0;
  readonly threw = new Map<string, number>();
  readonly missed: string[] = [];

  /** Flips one byte at `offset` of a copy of the file, verifies, and classifies the outcome. */
  async flip(original: Buffer, offset: number): Promise<void> {
    this.flips++;
    const dir = copyNode();
    const path = dataPaths(dir).db;
    writeFileSync(path, flipOne(original, offset).out);
    const where = `offset ${offset} (page ${Math.floor(offset / PAGE_SIZE) + 1})`;
    try {
      let report: VerifyReport;
      try {
        report = await verifyNode(dir, { full: true });
      } catch (err) {
        // A damaged file can make SQLite (or a driver reading a mistyped value) throw: detected, recorded.
        const msg = (err as Error).message.replace(/\d+/g, 'N').slice(0, 80);
        this.threw.set(msg, (this.threw.get(msg) ?? 0) + 1);
        return;
      }
      if (!report.ok) {
        this.reported++;
        return;
      }
      let dump: LedgerDump;
      try {
        dump = dumpLedger(path);
      } catch (err) {
        this.missed.push(
          `${where}: verification passed but reading the ledger fails: ${(err as Error).message}`,
        );
        return;
      }
      if (dump.ledger !== originalDump.ledger)
        this.missed.push(`${where}: verification passed but ledger rows changed`);
      else if (dump.indexes !== originalDump.indexes)
        this.missed.push(`${where}: verification passed but the kind/tenant index changed`);
      else if (dump.unsigned !== originalDump.unsigned) this.unsignedOnly++;
      else this.harmless++;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  summary(what: string, bytes: number, ms: number): string {
    const threw = [...this.threw.values()].reduce((a, b) => a + b, 0);
    return (
      `${what}: ${this.flips} flips of a ${bytes}-byte file in ${ms} ms: ` +
      `${this.reported + threw} detected (${this.reported} by the report, ${threw} by an error), ` +
      `${this.harmless} harmless (no ledger data changed), ${this.unsignedOnly} changed only unsigned created_at, ` +
      `${this.missed.length} missed` +
      (this.threw.size
        ? `\n  errors: ${[...this.threw].map(([m, n]) => `${n}× ${m}`).join('\n          ')}`
        : '')
    );
  }
}

const PAGE_SIZE = 4096;

describe('tamper detection (verifyNode --full)', () => {
  it('the untouched copy verifies', async () => {
    const report = await verifyNode(copyNode(), { full: true });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.size).toBe(ENTRIES);
    expect(report.tilesChecked).toBe(tiles.length);
    expect(report.checkpointsChecked).toBe(CHECKPOINT_SIZES.length);
    // The log spans more than two level-0 tiles, with a partial one at the end.
    expect(tiles.filter((t) => t.level === 0).length).toBeGreaterThan(2);
    expect(tiles.some((t) => t.width < TILE_WIDTH)).toBe(true);
  });

  it('a) detects a one-byte (or +1) change in every ledger column and names the place', async () => {
    const cases = rowCases();
    const failures: string[] = [];
    const counts = new Map<string, number>();
    for (const c of cases) {
      const dir = copyNode();
      withDb(dir, c.mutate);
      let report: VerifyReport;
      try {
        report = await verifyNode(dir, { full: true });
      } catch (err) {
        failures.push(`${c.name}: verifyNode threw ${(err as Error).message}`);
        continue;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const column = c.name.split(' ')[0]!;
      counts.set(column, (counts.get(column) ?? 0) + 1);
      if (report.ok) failures.push(`${c.name}: NOT DETECTED (ok: true)`);
      else if (!report.problems.some(c.expect))
        failures.push(
          `${c.name}: detected, but no problem names the place; got ${JSON.stringify(report.problems.slice(0, 3))}`,
        );
    }
    console.log(
      `row tampering: ${cases.length} cases, ${cases.length - failures.length} detected at the right place ` +
        `(${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')})`,
    );
    expect(failures).toEqual([]);
  });

  it('b) a byte flipped anywhere in the database file is detected or changes no ledger data', async () => {
    const original = readFileSync(dataPaths(base).db);
    const started = Date.now();
    const stats = new FlipStats();
    while (stats.flips < FILE_FLIPS) await stats.flip(original, randInt(original.length));
    console.log(stats.summary('file tampering', original.length, Date.now() - started));
    expect(stats.missed).toEqual([]);
    expect(stats.flips).toBe(FILE_FLIPS);
  });

  it('b) a byte flipped inside the kind/tenant index pages is detected or changes nothing', async () => {
    const original = readFileSync(dataPaths(base).db);
    // dbstat lists the pages of each b-tree; index pages carry (kind|tenant, idx) pairs, not ledger rows,
    // but filtered listings (including tenant-scoped ones) are answered from them.
    const db = new Database(dataPaths(base).db, { readonly: true, fileMustExist: true });
    let pages: number[];
    try {
      expect(db.pragma('page_size', { simple: true })).toBe(PAGE_SIZE);
      pages = db
        .prepare<[], { pageno: number }>(
          "SELECT pageno FROM dbstat WHERE name IN ('entries_kind', 'entries_tenant') ORDER BY pageno",
        )
        .all()
        .map((r) => r.pageno);
    } finally {
      db.close();
    }
    expect(pages.length).toBeGreaterThan(0);
    const started = Date.now();
    const stats = new FlipStats();
    for (let k = 0; k < INDEX_FLIPS; k++) {
      const page = pages[randInt(pages.length)]!;
      await stats.flip(original, (page - 1) * PAGE_SIZE + randInt(PAGE_SIZE));
    }
    console.log(
      stats.summary(`index-page tampering (${pages.length} pages)`, original.length, Date.now() - started),
    );
    expect(stats.missed).toEqual([]);
  });
});
