// vm checkpoint: publish a signed checkpoint now.
import type { Command } from 'commander';
import { checkpointJson } from '@vaultmesh/log';
import { openNode } from '@vaultmesh/node';
import { dataDir, keyOptions, withData } from '../context.ts';
import { print, printJson } from '../output.ts';

export function register(program: Command): void {
  withData(
    program
      .command('checkpoint')
      .description('publish a signed checkpoint (C2SP signed note) of the current log')
      .option('--json', 'machine-readable output'),
  ).action(async (o: { data?: string; json?: boolean }) => {
    const node = await openNode(dataDir(o), keyOptions());
    try {
      const cp = await node.log.checkpoint();
      if (o.json) return printJson(checkpointJson(cp, node.origin));
      process.stdout.write(cp.note);
    } finally {
      await node.close();
    }
    if (!o.json) print();
  });
}
