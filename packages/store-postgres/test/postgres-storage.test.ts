// The PostgreSQL driver against the real server: the same contract suites as SQLite (LogStorage, the Log over it,
// ControlStore), each storage in a schema of its own, plus what only this driver has (migrations, clear errors).
import { afterAll, describe, expect, it } from 'vitest';
import { generateNodeKey, nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { controlStoreContract } from '@vaultmesh/control/testing';
import { federationStoreContract } from '@vaultmesh/federation/testing';
import type { LogStorage } from '@vaultmesh/log';
import { logContract, storageContract } from '@vaultmesh/log/testing';
import { migratePostgres, openPostgresStorage, SCHEMA_VERSION, type PostgresStorage } from '../src/index.ts';
import { dropSchemas, freshSchema, postgresUnavailable, TEST_DATABASE_URL } from '../src/testing/index.ts';

const unavailable = await postgresUnavailable();
const schemas: string[] = [];
const open = async (schema = freshSchema()) => {
  schemas.push(schema);
  return openPostgresStorage({ url: TEST_DATABASE_URL, schema, poolSize: 4 });
};
const schemaOf = new WeakMap<LogStorage, string>();
afterAll(() => dropSchemas(schemas));

if (unavailable) {
  console.warn(`SKIPPED: the PostgreSQL driver tests: ${unavailable}`);
  it.skip(`PostgreSQL driver (${unavailable})`, () => undefined);
} else {
  const crypto = { newKey: generateNodeKey, hasher: nodeHasher, ed25519Verify: nodeEd25519Verify };
  storageContract('postgres', {
    async create() {
      const s = await open();
      schemaOf.set(s, s.schema);
      return s;
    },
    async reopen(s) {
      const schema = schemaOf.get(s)!;
      await s.close();
      const again = await openPostgresStorage({ url: TEST_DATABASE_URL, schema, poolSize: 4 });
      schemaOf.set(again, schema);
      return again;
    },
  });
  logContract('postgres', () => open(), crypto);
  controlStoreContract('postgres', async () => (await open()).controlStore());
  federationStoreContract('postgres', async () => (await open()).federationStore());

  describe('PostgreSQL driver: schema and errors', () => {
    it('migrates a new schema once, and a second open (or node) finds it current', async () => {
      const schema = freshSchema();
      const a = await open(schema);
      expect(a.migration).toMatchObject({ schema, from: 0, to: SCHEMA_VERSION });
      const b = await openPostgresStorage({ url: TEST_DATABASE_URL, schema, migrate: false });
      expect(b.migration).toBeUndefined();
      expect(await migratePostgres({ url: TEST_DATABASE_URL, schema })).toEqual({
        schema,
        from: SCHEMA_VERSION,
        to: SCHEMA_VERSION,
        applied: [],
      });
      await Promise.all([a.close(), b.close()]);
    });

    it('migrates once when several nodes start at the same moment', async () => {
      const schema = freshSchema();
      schemas.push(schema);
      const opened = await Promise.all(
        [1, 2, 3].map(() => openPostgresStorage({ url: TEST_DATABASE_URL, schema, poolSize: 2 })),
      );
      expect(opened.filter((s) => s.migration !== undefined)).toHaveLength(1);
      await Promise.all(opened.map((s) => s.close()));
    });

    it('refuses a missing or newer schema with a message that says what to do', async () => {
      const schema = freshSchema();
      schemas.push(schema);
      await expect(
        openPostgresStorage({ url: TEST_DATABASE_URL, schema, migrate: false }),
      ).rejects.toMatchObject({
        code: 'NOT_INITIALIZED',
        message: expect.stringContaining('vm storage migrate'),
      });
      const s = await open(schema);
      await s.pool.query(
        `INSERT INTO ${schema}.schema_migrations (version, name) VALUES ($1, 'from the future')`,
        [SCHEMA_VERSION + 1],
      );
      await s.close();
      await expect(openPostgresStorage({ url: TEST_DATABASE_URL, schema })).rejects.toMatchObject({
        code: 'STORAGE',
        message: expect.stringContaining(`newer than this VaultMesh knows (${SCHEMA_VERSION})`),
      });
    });

    it('a refused connection is UNAVAILABLE, names the server and never shows the password', async () => {
      const url = 'postgres://vm:s3cret-pw@127.0.0.1:1/test';
      const err = (await openPostgresStorage({ url, connectTimeoutMs: 2000 }).catch(
        (e: unknown) => e,
      )) as Error & {
        code: string;
      };
      expect(err.code).toBe('UNAVAILABLE');
      expect(err.message).toContain('vm@127.0.0.1:1/test');
      expect(err.message).not.toContain('s3cret-pw');
    });

    it('leases: one holder at a time, renewals keep the token, a lapsed lease goes to the next with a larger one', async () => {
      const s = await open();
      const leases = s.leases();
      const a = await leases.acquire('leader', 'node-a', 60_000);
      expect(a).toMatchObject({ name: 'leader', holder: 'node-a', token: 1 });
      expect(await leases.acquire('leader', 'node-b', 60_000)).toBeUndefined();
      const renewed = await leases.acquire('leader', 'node-a', 60_000);
      expect(renewed).toMatchObject({ holder: 'node-a', token: 1 });
      expect(renewed!.expiresAt).toBeGreaterThanOrEqual(a!.expiresAt);
      expect(await leases.current('leader')).toMatchObject({ holder: 'node-a', token: 1 });
      // Released (or lapsed): the next holder gets a larger token, and the old holder's token no longer releases it.
      expect(await leases.release('leader', 'node-a', 1)).toBe(true);
      expect(await leases.current('leader')).toBeUndefined();
      const b = await leases.acquire('leader', 'node-b', 60_000);
      expect(b).toMatchObject({ holder: 'node-b', token: 2 });
      expect(await leases.release('leader', 'node-a', 1)).toBe(false);
      // A short lease lapses by the database's clock.
      const c = await leases.acquire('short', 'node-c', 50);
      expect(c?.token).toBe(1);
      await new Promise((r) => setTimeout(r, 120));
      expect(await leases.acquire('short', 'node-d', 60_000)).toMatchObject({ holder: 'node-d', token: 2 });
      // Many contenders at once: exactly one wins.
      const wins = await Promise.all(
        Array.from({ length: 8 }, (_, i) => leases.acquire('race', `node-${i}`, 60_000)),
      );
      expect(wins.filter((w) => w !== undefined)).toHaveLength(1);
      await s.close();
    });

    it('a stopped pool mid-use fails queries with a LogError, not a crash', async () => {
      const s: PostgresStorage = await open();
      await s.pool.query('SELECT 1');
      await s.close();
      await expect(s.size()).rejects.toMatchObject({ name: 'LogError' });
    });
  });
}
