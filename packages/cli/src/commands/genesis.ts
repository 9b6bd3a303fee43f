// vm genesis seal: the first checkpoint of a new log, signed, timestamped and exported as an evidence bundle.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { toHex } from '@vaultmesh/ledger';
import { createAnchorScheduler, exportEvidence, loadTsaTrust, logKeyTexts, openNode } from '@vaultmesh/node';
import { dataDir, keyOptions, withData } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson } from '../output.ts';
import { anchorConfigFrom, withTsaFlags, type TsaFlags } from './anchor.ts';

export function register(program: Command): void {
  const genesis = program.command('genesis').description('seal the first checkpoint of a new log');
  withTsaFlags(
    withData(
      genesis
        .command('seal')
        .description(
          'record the genesis receipt, publish and sign the first checkpoint, timestamp it with every TSA, and export it as a bundle',
        )
        .option('-o, --out <file>', 'where to write the bundle (default <data>/genesis.bundle.json)')
        .option('--no-timestamp', 'seal without an RFC 3161 timestamp (the bundle says so)')
        .option('--json', 'machine-readable output'),
    ),
  ).action(async (o: TsaFlags & { data?: string; out?: string; timestamp: boolean; json?: boolean }) => {
    const cfg = anchorConfigFrom(o);
    if (o.timestamp && cfg.tsas.length === 0)
      throw new CliError(
        EXIT.USAGE,
        'no TSA configured: give --tsa-url and --tsa-ca, a config file with anchor.tsas, or --no-timestamp',
      );
    const trust = loadTsaTrust(cfg.tsas);
    const dir = dataDir(o);
    const node = await openNode(dir, keyOptions());
    try {
      if (await node.storage.getCheckpoint())
        throw new CliError(
          EXIT.CONFLICT,
          'this log already has a checkpoint; genesis can be sealed only once',
        );
      if (node.log.size > 0)
        throw new CliError(
          EXIT.CONFLICT,
          `this log already holds ${node.log.size} receipts; genesis must come first`,
        );
      const g = await node.log.append({
        kind: 'decision',
        actor: 'vaultmesh/genesis',
        tenant: 'system',
        body: {
          title: `Genesis of ${node.origin}`,
          rationale: 'The first receipt and checkpoint of this log, signed by the node key and timestamped.',
          status: 'accepted',
          tags: ['genesis'],
          origin: node.origin,
          verifierKey: node.key.verifierKeyText,
        },
      });
      const sched = createAnchorScheduler(node.log, node.storage, o.timestamp ? cfg : { ...cfg, tsas: [] }, {
        trust,
      });
      const r = await sched.runOnce();
      const failed = r.results.filter((x) => x.error !== undefined);
      if (failed.length > 0 && failed.length === r.results.length)
        throw new CliError(
          EXIT.FAILED,
          `the genesis checkpoint (size ${r.checkpoint.size}) is signed but no TSA timestamped it: ${failed.map((f) => `${f.authority}: ${f.error}`).join('; ')}; run "vm anchor run --once" to retry`,
        );
      const bundle = await exportEvidence(node.log, node.storage, g.index, {
        logKeys: await logKeyTexts(node.storage, node.key.verifierKeyText),
        trust,
      });
      const out = o.out ?? join(dir, 'genesis.bundle.json');
      writeFileSync(out, JSON.stringify(bundle, null, 2) + '\n');
      const result = {
        origin: node.origin,
        receipt: g.index,
        size: r.checkpoint.size,
        root: toHex(r.checkpoint.root),
        timestamps: bundle.timestamps.map((t) => ({ authority: t.authority, anchoredAt: t.anchoredAt })),
        failed: failed,
        bundle: out,
      };
      if (o.json) printJson(result);
      else {
        print(`genesis sealed: ${node.origin} size ${result.size} root ${result.root}`);
        for (const t of result.timestamps) print(`  timestamped by ${t.authority} at ${t.anchoredAt}`);
        for (const f of failed) print(`  ! ${f.authority} failed: ${f.error}`);
        print(`  bundle written to ${out} (check it with: vm verify ${out})`);
      }
    } finally {
      await node.close();
    }
  });
}
