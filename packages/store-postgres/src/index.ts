// @vaultmesh/store-postgres: the PostgreSQL storage driver (node-postgres). One schema holds a node's ledger, tokens,
// control-plane documents and federation state; versioned migrations create and upgrade it.
import type pg from 'pg';
import type { TokenStore } from '@vaultmesh/auth';
import type { FederationStore } from '@vaultmesh/federation';
import { LogError, type LogStorage } from '@vaultmesh/log';
import type { ControlStore, LeaseStore } from '@vaultmesh/types';
import {
  createPool,
  describeUrl,
  isUnavailable,
  pgMessage,
  schemaName,
  type PostgresOptions,
} from './connect.ts';
import { createControlStore } from './control-store.ts';
import { createFederationStore } from './federation-store.ts';
import { createLeaseStore } from './leases.ts';
import { createLogStorage } from './log-storage.ts';
import { assertSchemaVersion, migrate, type MigrationReport } from './migrations.ts';

export { describeUrl, redactUrl, type PostgresOptions } from './connect.ts';
export { MIGRATIONS, SCHEMA_VERSION, type Migration, type MigrationReport } from './migrations.ts';

/** The PostgreSQL driver: LogStorage + TokenStore, and the node's other stores on the same pool. */
export interface PostgresStorage extends LogStorage, TokenStore {
  readonly driver: 'postgres';
  readonly pool: pg.Pool;
  readonly schema: string;
  /** user@host:port/database (no password), for messages. */
  readonly where: string;
  /** What opening migrated (nothing when the schema was current, or with migrate: false). */
  readonly migration: MigrationReport | undefined;
  controlStore(now?: () => number): ControlStore;
  federationStore(): FederationStore;
  leases(): LeaseStore;
}

/** The error for a database that cannot be opened: UNAVAILABLE when it cannot be reached, with the server named. */
function openError(err: unknown, o: PostgresOptions): LogError {
  if (err instanceof LogError) return err;
  const where = describeUrl(o.url);
  return new LogError(
    isUnavailable(err) ? 'UNAVAILABLE' : 'STORAGE',
    `cannot open the PostgreSQL database ${where}: ${pgMessage(err, o.url)}`,
    { cause: err },
  );
}

/**
 * Connects, migrates the schema (unless migrate: false, which refuses an out-of-date one) and returns the driver.
 * A refused connection is LogError UNAVAILABLE; a schema of another version is LogError STORAGE or NOT_INITIALIZED.
 */
export async function openPostgresStorage(o: PostgresOptions): Promise<PostgresStorage> {
  const schema = schemaName(o);
  const pool = createPool(o);
  let migration: MigrationReport | undefined;
  try {
    if (o.migrate === false) await assertSchemaVersion(pool, schema);
    else {
      const r = await migrate(pool, schema);
      migration = r.applied.length > 0 ? r : undefined;
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw openError(err, o);
  }
  const log = createLogStorage(pool, o.url);
  let closed = false;
  return {
    ...log,
    driver: 'postgres',
    pool,
    schema,
    where: describeUrl(o.url),
    migration,
    controlStore: (now) => createControlStore(pool, o.url, now),
    federationStore: () => createFederationStore(pool, o.url),
    leases: () => createLeaseStore(pool, o.url),
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** Runs pending migrations of the schema and reports them (`vm storage migrate`). */
export async function migratePostgres(o: PostgresOptions): Promise<MigrationReport> {
  const pool = createPool(o);
  try {
    return await migrate(pool, schemaName(o));
  } catch (err) {
    throw openError(err, o);
  } finally {
    await pool.end().catch(() => undefined);
  }
}
