// @vaultmesh/store-postgres/testing: a PostgreSQL for tests. The server is VM_TEST_DATABASE_URL, or the local one
// these machines run (postgres://postgres@127.0.0.1:5432/test); each caller gets schemas of its own, dropped after.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The test server's URL. */
export const TEST_DATABASE_URL =
  process.env.VM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let probe: Promise<string | undefined> | undefined;

/** Why the test server cannot be used (undefined when it answers a query). Checked once per process. */
export function postgresUnavailable(): Promise<string | undefined> {
  probe ??= (async () => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return undefined;
    } catch (err) {
      return `PostgreSQL at ${TEST_DATABASE_URL} is not available: ${(err as Error).message}`;
    } finally {
      await c.end().catch(() => undefined);
    }
  })();
  return probe;
}

/** A fresh schema name (not created: opening the driver creates it). */
export function freshSchema(prefix = 'vmt'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Drops the given schemas and everything in them. */
export async function dropSchemas(names: readonly string[], url = TEST_DATABASE_URL): Promise<void> {
  if (names.length === 0) return;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const n of names) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(n)) throw new TypeError(`bad schema name ${n}`);
      await c.query(`DROP SCHEMA IF EXISTS ${n} CASCADE`);
    }
  } finally {
    await c.end();
  }
}
