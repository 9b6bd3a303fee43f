// Where a node keeps its ledger: the embedded SQLite file in its data directory (the default), or a PostgreSQL
// database that several nodes of one log share. The choice comes from the configuration (`storage`, or
// VM_DATABASE_URL) and is recorded in the data directory (storage.json, without any password) when the node is
// created, so every later command on that directory opens the same database.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { TokenStore } from '@vaultmesh/auth';
import type { FederationStore } from '@vaultmesh/federation';
import { LogError, type LogStorage } from '@vaultmesh/log';
import { openPostgresStorage, redactUrl, type PostgresStorage } from '@vaultmesh/store-postgres';
import {
  createSqliteControlStore,
  createSqliteFederationStore,
  openSqliteStorage,
  type SqliteStorage,
} from '@vaultmesh/store-sqlite';
import type { ControlStore, LeaseStore } from '@vaultmesh/types';
import { createMemoryLeaseStore } from './cluster.ts';
import { createSqliteDatabaseProbe, type DatabaseProbeResult } from '@vaultmesh/control';

/** The storage of a node, as configured. */
export type StorageConfig =
  | { readonly driver: 'sqlite' }
  | {
      readonly driver: 'postgres';
      /** postgres://user[:password]@host[:port]/database; a password may also come from PGPASSWORD. */
      readonly url: string;
      readonly schema?: string;
      readonly poolSize?: number;
    };

/** A store the caller owns (close it when done). */
export interface OwnedStore<T> {
  readonly store: T;
  close(): void;
}

/** A node's storage, whichever the driver: the log and tokens, and the other stores on the same database. */
export interface NodeStorage extends LogStorage, TokenStore {
  readonly driver: 'sqlite' | 'postgres';
  /** The database file, or user@host:port/database#schema (never a password). */
  readonly where: string;
  /** The SQLite driver itself (its connection, structural checks and reader threads); undefined on PostgreSQL. */
  readonly sqlite: SqliteStorage | undefined;
  /** The PostgreSQL driver itself; undefined on SQLite. */
  readonly postgres: PostgresStorage | undefined;
  /**
   * The control plane's documents. On SQLite a connection of their own with synchronous=NORMAL (see control.ts);
   * on PostgreSQL the shared pool.
   */
  openControlStore(opts?: { journal?: boolean }): OwnedStore<ControlStore>;
  /** The control plane's documents on the storage's own connection (for one command; closed with the storage). */
  controlStore(): ControlStore;
  openFederationStore(): OwnedStore<FederationStore>;
  /**
   * The go-live database probe: SQLite runs PRAGMA quick_check, PostgreSQL answers a query (its page checksums are
   * the server's); then a write inside a transaction that is rolled back proves the write path, leaving nothing.
   */
  probe(): Promise<DatabaseProbeResult>;
  /** Leases of the cluster (PostgreSQL), or of this one process (SQLite: one node per file). */
  readonly leases: LeaseStore;
}

const storageFile = (dataDir: string) => join(dataDir, 'storage.json');
const sqlitePath = (dataDir: string) => join(dataDir, 'ledger.db');

/** The URL with its password removed (what storage.json records). */
function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.href;
}

/** The storage recorded in a data directory (undefined when none was: the SQLite default). */
export function recordedStorage(dataDir: string): StorageConfig | undefined {
  const f = storageFile(dataDir);
  if (!existsSync(f)) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(f, 'utf8'));
  } catch (err) {
    throw new LogError('STORAGE', `${f} is not valid JSON: ${(err as Error).message}`);
  }
  const d = doc as { driver?: unknown; url?: unknown; schema?: unknown; poolSize?: unknown };
  if (d.driver === 'sqlite') return { driver: 'sqlite' };
  if (d.driver === 'postgres' && typeof d.url === 'string')
    return {
      driver: 'postgres',
      url: d.url,
      ...(typeof d.schema === 'string' ? { schema: d.schema } : {}),
      ...(typeof d.poolSize === 'number' ? { poolSize: d.poolSize } : {}),
    };
  throw new LogError(
    'STORAGE',
    `${f} names no storage this node knows (driver sqlite or postgres with a url)`,
  );
}

/** Records the storage in the data directory (0600; the URL without its password). */
export function recordStorage(dataDir: string, cfg: StorageConfig): void {
  const doc =
    cfg.driver === 'sqlite'
      ? { driver: 'sqlite' }
      : {
          driver: 'postgres',
          url: withoutPassword(cfg.url),
          ...(cfg.schema ? { schema: cfg.schema } : {}),
          ...(cfg.poolSize ? { poolSize: cfg.poolSize } : {}),
        };
  writeFileSync(storageFile(dataDir), JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
}

/** Same database: driver, and for PostgreSQL host, port, database and schema (the password aside). */
function sameDatabase(a: StorageConfig, b: StorageConfig): boolean {
  if (a.driver !== b.driver) return false;
  if (a.driver === 'sqlite' || b.driver === 'sqlite') return true;
  const ua = new URL(a.url);
  const ub = new URL(b.url);
  return (
    ua.hostname === ub.hostname &&
    (ua.port || '5432') === (ub.port || '5432') &&
    ua.pathname === ub.pathname &&
    (a.schema ?? 'vaultmesh') === (b.schema ?? 'vaultmesh')
  );
}

/**
 * The storage a command on `dataDir` uses: the configured one (config `storage`, VM_DATABASE_URL), checked against
 * what the data directory recorded; else the recorded one (with the configured URL's password, if any); else SQLite.
 */
export function resolveStorage(dataDir: string, configured?: StorageConfig): StorageConfig {
  const recorded = recordedStorage(dataDir);
  if (configured && recorded && !sameDatabase(configured, recorded))
    throw new LogError(
      'CONFLICT',
      `${dataDir} is bound to ${describeStorage(recorded)}, but the configuration names ${describeStorage(configured)}; use the data directory's database, or another data directory`,
    );
  return configured ?? recorded ?? { driver: 'sqlite' };
}

/** One line naming a storage (no password). */
export function describeStorage(cfg: StorageConfig): string {
  return cfg.driver === 'sqlite'
    ? 'SQLite'
    : `PostgreSQL ${redactUrl(cfg.url)} (schema ${cfg.schema ?? 'vaultmesh'})`;
}

/** Whether the data directory holds a SQLite database. */
export function hasSqliteDatabase(dataDir: string): boolean {
  return existsSync(sqlitePath(dataDir));
}

async function probePostgres(pg: PostgresStorage): Promise<DatabaseProbeResult> {
  let c;
  try {
    c = await pg.pool.connect();
  } catch (e) {
    return { quickCheck: `cannot connect: ${(e as Error).message}`, rolledBackWrite: false };
  }
  try {
    await c.query('SELECT 1');
    try {
      await c.query('BEGIN');
      await c.query("INSERT INTO meta (key, value) VALUES ('vaultmesh_golive_write_probe', '1')");
      return { quickCheck: 'ok', rolledBackWrite: true };
    } catch (e) {
      return { quickCheck: 'ok', rolledBackWrite: false, error: (e as Error).message };
    } finally {
      await c.query('ROLLBACK').catch(() => undefined);
    }
  } finally {
    c.release();
  }
}

/** Opens a node's storage. SQLite: `writerThread` for the node, `readonly` for verification. */
export async function openNodeStorage(
  dataDir: string,
  cfg: StorageConfig,
  opts: { writerThread?: boolean; readonly?: boolean } = {},
): Promise<NodeStorage> {
  if (cfg.driver === 'postgres') {
    const pg = await openPostgresStorage({
      url: cfg.url,
      ...(cfg.schema ? { schema: cfg.schema } : {}),
      ...(cfg.poolSize ? { poolSize: cfg.poolSize } : {}),
      ...(opts.readonly ? { migrate: false } : {}),
    });
    return {
      ...pg,
      driver: 'postgres',
      where: `${pg.where}#${pg.schema}`,
      sqlite: undefined,
      postgres: pg,
      close: () => pg.close(),
      openControlStore: () => ({ store: pg.controlStore(), close: () => undefined }),
      controlStore: () => pg.controlStore(),
      probe: () => probePostgres(pg),
      leases: pg.leases(),
      openFederationStore: () => ({ store: pg.federationStore(), close: () => undefined }),
    };
  }
  const path = sqlitePath(dataDir);
  const s = openSqliteStorage({
    path,
    ...(opts.readonly ? { readonly: true } : {}),
    ...(opts.writerThread ? { writerThread: true } : {}),
  });
  const connection = (synchronous: 'FULL' | 'NORMAL') => {
    const db = new Database(path, { fileMustExist: true });
    db.pragma('busy_timeout = 10000');
    db.pragma(`synchronous = ${synchronous}`);
    return db;
  };
  return {
    ...s,
    driver: 'sqlite',
    where: path,
    sqlite: s,
    postgres: undefined,
    close: () => s.close(),
    openControlStore(o = {}) {
      const db = connection(o.journal ? 'NORMAL' : 'FULL');
      return { store: createSqliteControlStore(db), close: () => db.close() };
    },
    controlStore: () => createSqliteControlStore(s.db),
    probe: createSqliteDatabaseProbe(s.db),
    leases: createMemoryLeaseStore(),
    openFederationStore() {
      const db = connection('FULL');
      return { store: createSqliteFederationStore(db), close: () => db.close() };
    },
  };
}

/** The storage VM_DATABASE_URL (and VM_DATABASE_SCHEMA) name, if set. */
export function storageFromEnv(env: NodeJS.ProcessEnv): StorageConfig | undefined {
  const url = env.VM_DATABASE_URL;
  if (!url) return undefined;
  return { driver: 'postgres', url, ...(env.VM_DATABASE_SCHEMA ? { schema: env.VM_DATABASE_SCHEMA } : {}) };
}
