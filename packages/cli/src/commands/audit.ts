// vm audit verify: recompute and check the stored ledger against the node key file.
import type { Command } from 'commander';
import { loadConfig, loadTsaTrust, verifyNode } from '@vaultmesh/node';
import { dataDir, withData } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { createProgress, print, printJson } from '../output.ts';

export function register(program: Command): void {
  const audit = program.command('audit').description('verify the ledger');
  withData(
    audit
      .command('verify')
      .description(
        'check checkpoint signatures, consistency and the stored tree; --full recomputes every leaf and node and checks every column, tile and index',
      )
      .option(
        '--full',
        'recompute every leaf hash and tree node from the stored bytes; check every column, tile slot and index',
      )
      .option(
        '--schemas',
        'with --full: also parse every receipt and check its schema and canonical form (slower)',
      )
      .option(
        '-c, --config <file>',
        'node config whose anchor.tsas pin the TSA trust anchors (env VM_CONFIG)',
      )
      .option(
        '--trusted-key <file>',
        'verifier key file to trust instead of keys/node.key.pub (keep one outside the data directory; any key of the rotation chain)',
      )
      .option('--json', 'machine-readable report'),
  ).action(
    async (o: {
      data?: string;
      full?: boolean;
      schemas?: boolean;
      json?: boolean;
      config?: string;
      trustedKey?: string;
    }) => {
      const tsaTrust = loadTsaTrust(loadConfig({ env: process.env, configFile: o.config }).anchor.tsas);
      const bar = createProgress(o.full ? 'verify --full' : 'verify', { quiet: o.json });
      const report = await verifyNode(dataDir(o), {
        full: o.full,
        schemas: o.schemas,
        onProgress: (d, t) => bar.update(d, t),
        tsaTrust,
        trustedKeyFile: o.trustedKey,
      });
      bar.done();
      if (o.json) printJson(report);
      else {
        print(`${report.ok ? 'OK' : 'FAILED'}: ${report.size} entries, root ${report.root}`);
        print(
          `  checked ${report.entriesChecked} entries, ${report.nodesChecked} nodes, ${report.tilesChecked} tiles, ${report.checkpointsChecked} checkpoints, ${report.anchorsChecked} anchors in ${report.durationMs} ms${report.full ? ' (full)' : ''}`,
        );
        if (report.anchorsUnpinned.length > 0)
          print(
            `  ! RFC 3161 tokens of ${report.anchorsUnpinned.join(', ')} were checked by hash only: configure their trust anchors (--config) to check signatures`,
          );
        for (const p of report.problems) {
          const where = [
            p.where,
            p.level !== undefined ? `level ${p.level}` : '',
            p.index !== undefined ? `index ${p.index}` : '',
            p.field ? `field ${p.field}` : '',
          ]
            .filter(Boolean)
            .join(' ');
          print(`  ✗ ${where}: ${p.message}`);
          if (p.expected !== undefined || p.found !== undefined)
            print(`      expected ${p.expected ?? '?'}\n      found    ${p.found ?? '?'}`);
        }
        if (report.problemCount > report.problems.length)
          print(`  ... and ${report.problemCount - report.problems.length} more problems`);
      }
      if (!report.ok)
        throw new CliError(EXIT.FAILED, `ledger verification failed with ${report.problemCount} problem(s)`);
    },
  );
}
