// vm up: run a node (HTTP API, dashboard, checkpoint publisher) in the foreground.
import type { Command } from 'commander';
import { loadConfig, readKeyPassphrase, startNode, stopOnSignal } from '@vaultmesh/node';
import { ensureAdminToken } from './init.ts';
import { print } from '../output.ts';

export function register(program: Command): void {
  program
    .command('up')
    .description(
      'run a VaultMesh node: HTTP API, dashboard, checkpoint sealer and anchor scheduler (creates ./data on first start)',
    )
    .option('--host <host>', 'address to listen on (env VM_HOST)')
    .option('-p, --port <port>', 'port to listen on (env VM_PORT, default 5000)', (v) => Number(v))
    .option('-d, --data <dir>', 'data directory (env VM_DATA_DIR, default ./data)')
    .option('-c, --config <file>', 'JSON config file (env VM_CONFIG)')
    .option('--origin <origin>', 'checkpoint origin for a new log')
    .option(
      '--checkpoint-interval <ms>',
      'publish a checkpoint this often when the log grew (0 = on demand only)',
      (v) => Number(v),
    )
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env VM_LOG_LEVEL)')
    .action(
      async (o: {
        host?: string;
        port?: number;
        data?: string;
        config?: string;
        origin?: string;
        checkpointInterval?: number;
        logLevel?: string;
      }) => {
        const config = loadConfig({
          env: process.env,
          configFile: o.config,
          flags: {
            host: o.host,
            port: o.port,
            dataDir: o.data,
            origin: o.origin,
            checkpointIntervalMs: o.checkpointInterval,
            logLevel: o.logLevel as never,
          },
        });
        // A sealed node key is unsealed with VM_KEY_PASSPHRASE_FILE or VM_KEY_PASSPHRASE (never a flag).
        const running = await startNode(config, { passphrase: readKeyPassphrase(process.env) });
        const tokenFile = await ensureAdminToken(config.dataDir, running.node.storage);
        print(`VaultMesh node listening on ${running.url}`);
        print(`  data:     ${config.dataDir}${running.node.created ? ' (created)' : ''}`);
        print(
          `  storage:  ${running.node.storage.driver === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ${running.node.storage.where}`,
        );
        print(`  origin:   ${running.node.origin}`);
        print(`  key:      ${running.node.key.verifierKeyText}${running.node.keySealed ? ' (sealed)' : ''}`);
        if (tokenFile) print(`  admin token written to ${tokenFile} (mode 0600)`);
        print(
          `  dashboard ${running.url}/   health ${running.url}/api/system/health   metrics ${running.url}/metrics`,
        );
        await stopOnSignal(running, print);
      },
    );
}
