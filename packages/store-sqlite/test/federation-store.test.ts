import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { federationStoreContract } from '@vaultmesh/federation/testing';
import { createSqliteFederationStore, openSqliteStorage } from '../src/index.ts';

federationStoreContract('sqlite', async () =>
  createSqliteFederationStore(
    openSqliteStorage({ path: join(mkdtempSync(join(tmpdir(), 'vm-fed-')), 'ledger.db') }).db,
  ),
);
