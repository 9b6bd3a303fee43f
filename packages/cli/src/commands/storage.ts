// vm storage status|migrate: where the node's ledger lives (SQLite in the data directory, or PostgreSQL) and, for
// PostgreSQL, its schema version; migrate applies pending schema migrations (a node also does so when it starts).
import type { Command } from 'commander';
import {
  describeStorage,
  loadConfig,
  nodeStorageConfig,
  resolveStorage,
  type StorageConfig,
} from '@vaultmesh/node';
import { migratePostgres, SCHEMA_VERSION } from '@vaultmesh/store-postgres';
import { dataDir, withData, withStorage } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson } from '../output.ts';

interface Opts {
  data?: string;
  config?: string;
  json?: boolean;
}

/** The storage of the data directory, as the configuration and the directory name it. */
function storageOf(o: Opts): StorageConfig {
  const configured = nodeStorageConfig(loadConfig({ env: process.env, configFile: o.config }));
  return resolveStorage(dataDir(o), configured);
}

const withCfg = (c: Command) =>
  withData(c)
    .option('-c, --config <file>', 'node config (its "storage" section; env VM_CONFIG, VM_DATABASE_URL)')
    .option('--json', 'machine-readable output');

export function register(program: Command): void {
  const storage = program
    .command('storage')
    .description('the node storage: where the ledger lives (SQLite or PostgreSQL), and schema migrations');

  withCfg(storage.command('status').description('the driver, the database and the ledger size')).action(
    async (o: Opts) => {
      const cfg = storageOf(o);
      const info = await withStorage(
        dataDir(o),
        async (s) => ({
          driver: s.driver,
          where: s.where,
          schemaVersion: s.driver === 'postgres' ? SCHEMA_VERSION : null,
          size: await s.size(),
          origin: (await s.getMeta('origin')) ?? null,
          checkpoint: (await s.getCheckpoint())?.size ?? null,
        }),
        { readonly: true },
      );
      if (o.json) return printJson(info);
      print(`${describeStorage(cfg)}: ${info.where}`);
      print(`  origin:     ${info.origin ?? '(none)'}`);
      print(`  entries:    ${info.size}; latest checkpoint ${info.checkpoint ?? 'none'}`);
      if (info.schemaVersion !== null) print(`  schema:     version ${info.schemaVersion} (current)`);
    },
  );

  withCfg(
    storage
      .command('migrate')
      .description('apply pending schema migrations to the PostgreSQL database (nothing to do on SQLite)'),
  ).action(async (o: Opts) => {
    const cfg = storageOf(o);
    if (cfg.driver !== 'postgres')
      throw new CliError(
        EXIT.USAGE,
        'the node uses SQLite, whose tables are created when it opens: give a PostgreSQL database (storage.url or VM_DATABASE_URL)',
      );
    const r = await migratePostgres({ url: cfg.url, ...(cfg.schema ? { schema: cfg.schema } : {}) });
    if (o.json) return printJson(r);
    if (r.applied.length === 0) print(`schema ${r.schema} is at version ${r.to}: nothing to do`);
    else {
      print(`schema ${r.schema}: version ${r.from} → ${r.to}`);
      for (const m of r.applied) print(`  applied ${m.version}: ${m.name}`);
    }
  });
}
