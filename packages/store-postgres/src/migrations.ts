// Versioned schema migrations, applied in order in one transaction under an advisory lock, so several nodes
// starting at once migrate once; `schema_migrations` records what was applied. A database newer than this code, or
// (with migrate: false) older, is refused with a message that says what to do.
import type pg from 'pg';
import { LogError } from '@vaultmesh/log';

/** One migration: its version (1, 2, ...), a name, and the SQL it runs. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The migrations, oldest first. Ids and names use COLLATE "C" (byte order, as SQLite compares), so listing by id
 * or prefix orders alike on every driver. Integers that count entries or milliseconds are BIGINT.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger, tokens, control plane and federation',
    sql: `
CREATE TABLE entries (
  idx BIGINT PRIMARY KEY,
  leaf_hash BYTEA NOT NULL,
  kind TEXT COLLATE "C" NOT NULL,
  tenant TEXT COLLATE "C" NOT NULL,
  time_ms BIGINT NOT NULL,
  bytes BYTEA NOT NULL
);
CREATE INDEX entries_kind ON entries (kind, idx);
CREATE INDEX entries_tenant ON entries (tenant, idx);
-- The log's head: its size and last leaf hash, the row every commit locks (compare-and-swap on the size).
CREATE TABLE log_head (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  size BIGINT NOT NULL,
  tail BYTEA
);
INSERT INTO log_head (id, size, tail) VALUES (1, 0, NULL);
CREATE TABLE tiles (
  level INTEGER NOT NULL,
  idx BIGINT NOT NULL,
  width INTEGER NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE TABLE checkpoints (
  size BIGINT PRIMARY KEY,
  root BYTEA NOT NULL,
  note TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE anchors (
  size BIGINT NOT NULL,
  authority TEXT COLLATE "C" NOT NULL,
  type TEXT NOT NULL,
  proof BYTEA NOT NULL,
  anchored_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (size, authority)
);
CREATE TABLE meta (
  key TEXT COLLATE "C" PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE tokens (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  tenant TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  revoked_at BIGINT,
  audience TEXT,
  poll_roles TEXT
);
CREATE TABLE control_docs (
  collection TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  version INTEGER NOT NULL,
  doc TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (collection, id)
);
CREATE TABLE fed_peers (name TEXT COLLATE "C" PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE fed_witness (peer TEXT COLLATE "C" PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE fed_mirror_state (peer TEXT COLLATE "C" PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE fed_mirror_entries (
  peer TEXT COLLATE "C" NOT NULL,
  idx BIGINT NOT NULL,
  leaf_hash TEXT NOT NULL,
  bytes BYTEA NOT NULL,
  PRIMARY KEY (peer, idx)
);
CREATE TABLE fed_cosignatures (
  size BIGINT NOT NULL,
  witness TEXT COLLATE "C" NOT NULL,
  line TEXT NOT NULL,
  timestamp BIGINT NOT NULL,
  PRIMARY KEY (size, witness)
);
`,
  },
  {
    version: 2,
    name: 'leases',
    sql: `
-- Named leases with fencing tokens (one leader per cluster); expiry by the database's clock.
CREATE TABLE leases (
  name TEXT COLLATE "C" PRIMARY KEY,
  holder TEXT NOT NULL,
  token BIGINT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);
`,
  },
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** What a migration run did. */
export interface MigrationReport {
  readonly schema: string;
  readonly from: number;
  readonly to: number;
  readonly applied: readonly { readonly version: number; readonly name: string }[];
}

// One advisory lock key for every VaultMesh migration in a database (pg_advisory_xact_lock takes a bigint).
const MIGRATION_LOCK = 0x766d6d69; // "vmmi"

async function currentVersion(c: pg.PoolClient, schema: string): Promise<number> {
  const t = await c.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [
    `${schema}.schema_migrations`,
  ]);
  if (!t.rows[0]?.present) return 0;
  const r = await c.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${schema}.schema_migrations`);
  return Number(r.rows[0]?.v ?? 0);
}

function newerThanCode(schema: string, found: number): LogError {
  return new LogError(
    'STORAGE',
    `the database schema ${schema} is at version ${found}, newer than this VaultMesh knows (${SCHEMA_VERSION}): upgrade VaultMesh on this node`,
  );
}

/** Applies every pending migration (all in one transaction, under the migration lock). */
export async function migrate(pool: pg.Pool, schema: string): Promise<MigrationReport> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await c.query(`CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`);
    const from = await currentVersion(c, schema);
    if (from > SCHEMA_VERSION) throw newerThanCode(schema, from);
    const applied: { version: number; name: string }[] = [];
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      await c.query(`SET LOCAL search_path TO ${schema}`);
      await c.query(m.sql);
      await c.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
      applied.push({ version: m.version, name: m.name });
    }
    await c.query('COMMIT');
    return { schema, from, to: SCHEMA_VERSION, applied };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** Refuses a schema that is not exactly this code's version (used with migrate: false, and by read-only tools). */
export async function assertSchemaVersion(pool: pg.Pool, schema: string): Promise<void> {
  const c = await pool.connect();
  try {
    const found = await currentVersion(c, schema);
    if (found === SCHEMA_VERSION) return;
    if (found > SCHEMA_VERSION) throw newerThanCode(schema, found);
    throw new LogError(
      found === 0 ? 'NOT_INITIALIZED' : 'STORAGE',
      found === 0
        ? `the database has no VaultMesh schema ${schema}: run "vm storage migrate" (or start a node, which migrates)`
        : `the database schema ${schema} is at version ${found}, this VaultMesh needs ${SCHEMA_VERSION}: run "vm storage migrate"`,
    );
  } finally {
    c.release();
  }
}
