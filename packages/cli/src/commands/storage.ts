// vm storage status|migrate|copy: where the node's ledger lives (SQLite in the data directory, or PostgreSQL) and, for
// PostgreSQL, its schema version; migrate applies pending schema migrations (a node also does so when it starts);
// copy moves a SQLite ledger into PostgreSQL and proves the copy.
import type { Command } from 'commander';
import {
  copyToPostgres,
  describeStorage,
  loadConfig,
  nodeStorageConfig,
  recordedStorage,
  resolveStorage,
  type CopyProgress,
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

  withData(
    storage
      .command('copy')
      .description(
        'copy the SQLite ledger (and tokens, control plane, federation) into PostgreSQL, verify the copy, and bind the data directory to it (stop the node first; resumable)',
      )
      .option(
        '--to <url>',
        'the PostgreSQL database (default: VM_DATABASE_URL; a password may come from PGPASSWORD)',
      )
      .option('--schema <name>', 'the schema to copy into (default: VM_DATABASE_SCHEMA, else vaultmesh)')
      .option('--no-bind', 'copy and verify only; the data directory stays on SQLite')
      .option('--json', 'machine-readable output'),
  ).action(async (o: { data?: string; to?: string; schema?: string; bind: boolean; json?: boolean }) => {
    const dir = dataDir(o);
    const url = o.to ?? process.env.VM_DATABASE_URL;
    if (!url)
      throw new CliError(EXIT.USAGE, 'give the target database with --to postgres://… or VM_DATABASE_URL');
    if (!/^postgres(ql)?:\/\/[^/]/.test(url))
      throw new CliError(EXIT.USAGE, '--to must be a postgres:// URL');
    if (recordedStorage(dir)?.driver === 'postgres')
      throw new CliError(EXIT.CONFLICT, `${dir} is already bound to PostgreSQL (storage.json)`);
    const schema = o.schema ?? process.env.VM_DATABASE_SCHEMA;
    const target = { driver: 'postgres' as const, url, ...(schema ? { schema } : {}) };
    let last = 0;
    const progress = (p: CopyProgress) => {
      const now = Date.now();
      if (now - last < 1000 && p.done !== p.total) return;
      last = now;
      process.stderr.write(`copy ${p.stage}: ${p.done}${p.total ? `/${p.total}` : ''}\n`);
    };
    const r = await copyToPostgres(dir, target, { bind: o.bind, onProgress: progress });
    if (o.json) printJson(r);
    else {
      const c = r.copied;
      print(
        `copied ${c.entries} entries${r.resumedAt ? ` (resumed at ${r.resumedAt})` : ''}, ${c.tiles} tiles, ${c.checkpoints} checkpoints, ${c.anchors} anchors, ${c.tokens} tokens, ${c.rows} other rows into ${r.target}`,
      );
      print(
        `${r.verify.ok ? 'VERIFIED' : 'FAILED'}: ${r.verify.size} entries, root ${r.verify.root} (source root ${r.sourceRoot}), ${r.verify.checkpointsChecked} checkpoints verified`,
      );
      for (const p of r.verify.problems.slice(0, 5)) print(`  ✗ ${p.message}`);
      print(
        r.bound
          ? `${dir} now uses ${r.target}; its ledger.db is no longer read (keep it as a backup or remove it)`
          : `${dir} stays on SQLite`,
      );
    }
    if (!r.verify.ok)
      throw new CliError(
        EXIT.FAILED,
        `the copy in ${r.target} does not verify; the data directory stays on SQLite`,
      );
  });
}
