import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { controlStoreContract } from '@vaultmesh/control/testing';
import { createSqliteControlStore, openSqliteStorage } from '../src/index.ts';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'vm-control-')), 'ledger.db');

controlStoreContract('sqlite', async () => createSqliteControlStore(openSqliteStorage({ path: fresh() }).db));

it('keeps documents across a reopen and serializes compare-and-swap between two connections', async () => {
  const path = fresh();
  const a = createSqliteControlStore(openSqliteStorage({ path }).db);
  const b = createSqliteControlStore(new Database(path));
  await a.put('runs', 'r1', { state: 'pending' }, { expectedVersion: 0 });
  await expect(b.put('runs', 'r1', { state: 'stolen' }, { expectedVersion: 0 })).rejects.toMatchObject({
    code: 'CONFLICT',
  });
  await b.put('runs', 'r1', { state: 'running' }, { expectedVersion: 1 });
  const c = createSqliteControlStore(new Database(path));
  expect(await c.get('runs', 'r1')).toMatchObject({ version: 2, doc: { state: 'running' } });
});
