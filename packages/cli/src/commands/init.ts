// vm init: create a data directory, database and node key; refuse to overwrite an existing log.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createToken, type TokenStore } from '@vaultmesh/auth';
import { dataPaths, initNode } from '@vaultmesh/node';
import { openSqliteStorage } from '@vaultmesh/store-sqlite';
import { dataDir, withData } from '../context.ts';
import { print, printJson } from '../output.ts';

/** Creates the first admin token (file in the keys folder, 0600) when no token exists yet. */
export async function ensureAdminToken(dir: string, tokens: TokenStore): Promise<string | undefined> {
  const file = join(dir, 'keys', 'admin.token');
  if (existsSync(file) || (await tokens.listTokens()).length > 0) return undefined;
  const { token } = await createToken(tokens, { name: 'admin', role: 'admin', tenant: '*' });
  writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  return file;
}

export function register(program: Command): void {
  withData(
    program
      .command('init')
      .description(
        'create a new node: data directory, SQLite ledger (WAL), Ed25519 key (0600) and an admin token',
      )
      .option('--origin <origin>', 'checkpoint origin (default vaultmesh.local/<random id>)')
      .option('--json', 'machine-readable output'),
  ).action(async (o: { data?: string; origin?: string; json?: boolean }) => {
    const dir = dataDir(o);
    const res = await initNode(dir, { origin: o.origin });
    const storage = openSqliteStorage({ path: dataPaths(dir).db });
    let tokenFile: string | undefined;
    try {
      tokenFile = await ensureAdminToken(dir, storage);
    } finally {
      await storage.close();
    }
    if (o.json) return printJson({ dataDir: dir, ...res, adminTokenFile: tokenFile ?? null });
    print(`Initialized VaultMesh node in ${dir}`);
    print(`  origin:       ${res.origin}`);
    print(`  verifier key: ${res.verifierKey}`);
    if (tokenFile) print(`  admin token:  ${tokenFile} (mode 0600)`);
  });
}
