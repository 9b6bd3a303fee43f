// vm init: create a data directory, database and node key; refuse to overwrite an existing log.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createToken, type TokenStore } from '@vaultmesh/auth';
import { initNode, loadConfig, nodeStorageConfig } from '@vaultmesh/node';
import { dataDir, withData, withStorage } from '../context.ts';
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
        'create a new node: data directory, Ed25519 key (0600), its ledger (SQLite in the directory, or the PostgreSQL database of storage / VM_DATABASE_URL) and an admin token',
      )
      .option('--origin <origin>', 'checkpoint origin (default vaultmesh.local/<random id>)')
      .option('-c, --config <file>', 'node config (its "storage" section; env VM_CONFIG)')
      .option('--json', 'machine-readable output'),
  ).action(async (o: { data?: string; origin?: string; config?: string; json?: boolean }) => {
    const dir = dataDir(o);
    const storage = nodeStorageConfig(loadConfig({ env: process.env, configFile: o.config }));
    const res = await initNode(dir, { origin: o.origin, ...(storage ? { storage } : {}) });
    const tokenFile = await withStorage(dir, (s) => ensureAdminToken(dir, s));
    if (o.json) return printJson({ dataDir: dir, ...res, adminTokenFile: tokenFile ?? null });
    print(`Initialized VaultMesh node in ${dir}`);
    print(`  origin:       ${res.origin}`);
    print(`  verifier key: ${res.verifierKey}`);
    if (tokenFile) print(`  admin token:  ${tokenFile} (mode 0600)`);
  });
}
