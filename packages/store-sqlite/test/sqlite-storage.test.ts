import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogStorage } from '@vaultmesh/log';
import { openSqliteStorage } from '../src/index.ts';
import { generateNodeKey, nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { logContract, storageContract } from '@vaultmesh/log/testing';

const crypto = { newKey: generateNodeKey, hasher: nodeHasher, ed25519Verify: nodeEd25519Verify };

const paths = new WeakMap<LogStorage, string>();
storageContract('sqlite', {
  async create() {
    const path = join(mkdtempSync(join(tmpdir(), 'vm-sqlite-')), 'ledger.db');
    const s = openSqliteStorage({ path });
    paths.set(s, path);
    return s;
  },
  async reopen(s) {
    const path = paths.get(s)!;
    await s.close();
    return openSqliteStorage({ path });
  },
});

logContract(
  'sqlite',
  async () => openSqliteStorage({ path: join(mkdtempSync(join(tmpdir(), 'vm-sqlite-')), 'ledger.db') }),
  crypto,
);

storageContract('sqlite (writer thread)', {
  async create() {
    const path = join(mkdtempSync(join(tmpdir(), 'vm-sqlite-')), 'ledger.db');
    const s = openSqliteStorage({ path, writerThread: true });
    paths.set(s, path);
    return s;
  },
  async reopen(s) {
    const path = paths.get(s)!;
    await s.close();
    return openSqliteStorage({ path, writerThread: true });
  },
});

logContract(
  'sqlite (writer thread)',
  async () =>
    openSqliteStorage({
      path: join(mkdtempSync(join(tmpdir(), 'vm-sqlite-')), 'ledger.db'),
      writerThread: true,
    }),
  crypto,
);
