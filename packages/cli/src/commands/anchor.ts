// vm anchor: run the sealer + anchor scheduler (RFC 3161 timestamps of checkpoints) and show where it stands.
import type { Command } from 'commander';
import { toHex } from '@vaultmesh/ledger';
import { type AnchorEvent } from '@vaultmesh/log';
import {
  AnchorConfigSchema,
  ConfigError,
  createAnchorScheduler,
  loadConfig,
  loadTsaTrust,
  openNode,
  type AnchorConfig,
} from '@vaultmesh/node';
import { dataDir, keyOptions, withData, withStorage } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson, printTable } from '../output.ts';

/** Flags that configure TSAs without a config file (added to those of --config / VM_CONFIG). */
export interface TsaFlags {
  config?: string;
  tsaUrl?: string;
  tsaCa?: string;
  tsaName?: string;
  tsaPolicy?: string;
}

/** Adds --config and the single-TSA flags. */
export function withTsaFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'JSON config file with an "anchor" section (env VM_CONFIG)')
    .option('--tsa-url <url>', 'an RFC 3161 TSA to use in addition to the configured ones')
    .option('--tsa-ca <file>', 'PEM trust anchor(s) for --tsa-url')
    .option('--tsa-name <name>', 'authority name for --tsa-url', 'tsa')
    .option('--tsa-policy <oid>', 'TSA policy OID to require for --tsa-url');
}

/** The anchor configuration: config file / env, plus a TSA given by flags. */
export function anchorConfigFrom(o: TsaFlags): AnchorConfig {
  const base = loadConfig({ env: process.env, configFile: o.config }).anchor;
  if (!o.tsaUrl && !o.tsaCa) return base;
  if (!o.tsaUrl || !o.tsaCa) throw new CliError(EXIT.USAGE, '--tsa-url and --tsa-ca go together');
  const parsed = AnchorConfigSchema.safeParse({
    ...base,
    tsas: [
      ...base.tsas,
      {
        name: o.tsaName ?? 'tsa',
        url: o.tsaUrl,
        caFile: o.tsaCa,
        ...(o.tsaPolicy ? { policy: o.tsaPolicy } : {}),
      },
    ],
  });
  if (!parsed.success)
    throw new ConfigError(
      'invalid TSA flags: ' + parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    );
  return parsed.data;
}

function eventLine(e: AnchorEvent): string {
  switch (e.type) {
    case 'sealed':
      return `sealed checkpoint of size ${e.size}`;
    case 'anchored':
      return `anchored size ${e.size} at ${e.authority} (receipt ${e.receiptIndex}, ${e.ms} ms)`;
    case 'failed':
      return `FAILED at ${e.authority} for size ${e.size}: ${e.error} (attempt ${e.attempt}, retry in ${e.retryInMs} ms)`;
    case 'skipped':
      return `skipped size ${e.size} at ${e.authority}: ${e.reason}`;
  }
}

export function register(program: Command): void {
  const anchor = program
    .command('anchor')
    .description('seal checkpoints and timestamp them with RFC 3161 authorities');

  withTsaFlags(
    withData(
      anchor
        .command('run')
        .description(
          'run the sealer + anchor scheduler in the foreground (the same one `vm up` runs); --once seals and anchors now',
        )
        .option(
          '--once',
          'seal now, anchor the newest checkpoint with every TSA, then exit (1 if any failed)',
        )
        .option('--json', 'one JSON object per event (with --once: one result object)'),
    ),
  ).action(async (o: TsaFlags & { data?: string; once?: boolean; json?: boolean }) => {
    const cfg = anchorConfigFrom(o);
    if (cfg.tsas.length === 0 && o.once)
      throw new CliError(
        EXIT.USAGE,
        'no TSA configured: give --tsa-url and --tsa-ca, or a config file with anchor.tsas',
      );
    const trust = loadTsaTrust(cfg.tsas);
    const node = await openNode(dataDir(o), keyOptions());
    try {
      const sched = createAnchorScheduler(node.log, node.storage, cfg, {
        trust,
        // With --once --json, stdout carries only the result object.
        onEvent: (e) => (o.json ? (o.once ? undefined : printJson(e)) : print(eventLine(e))),
      });
      if (o.once) {
        const r = await sched.runOnce();
        const failed = r.results.filter((x) => x.error !== undefined);
        if (o.json)
          printJson({ size: r.checkpoint.size, root: toHex(r.checkpoint.root), results: r.results });
        if (failed.length > 0)
          throw new CliError(
            EXIT.FAILED,
            `anchoring failed at ${failed.map((f) => `${f.authority} (${f.error})`).join(', ')}`,
          );
        return;
      }
      print(`anchor scheduler running for ${node.origin} with ${cfg.tsas.length} TSA(s); Ctrl-C stops it`);
      sched.start();
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await sched.stop();
    } finally {
      await node.close();
    }
  });

  withData(
    anchor
      .command('status')
      .description('per authority: largest anchored checkpoint, when, and how far the log is ahead of it')
      .option('--json', 'machine-readable output'),
  ).action(async (o: { data?: string; json?: boolean }) => {
    await withStorage(
      dataDir(o),
      async (s) => {
        const size = await s.size();
        const latest = await s.getCheckpoint();
        const anchors = await s.listAnchors();
        const by = new Map<
          string,
          { authority: string; type: string; size: number; anchoredAt: number; count: number }
        >();
        for (const a of anchors) {
          const cur = by.get(a.authority);
          if (!cur || a.size > cur.size)
            by.set(a.authority, {
              authority: a.authority,
              type: a.type,
              size: a.size,
              anchoredAt: a.anchoredAt,
              count: (cur?.count ?? 0) + 1,
            });
          else cur.count++;
        }
        const rows = [...by.values()].map((a) => ({
          authority: a.authority,
          type: a.type,
          anchoredSize: a.size,
          anchoredAt: new Date(a.anchoredAt).toISOString(),
          anchors: a.count,
          lagEntries: size - a.size,
        }));
        if (o.json) return printJson({ size, checkpointSize: latest?.size ?? 0, authorities: rows });
        print(`log size ${size}, latest checkpoint ${latest?.size ?? 'none'}`);
        if (rows.length === 0) return print('no anchors yet');
        printTable(
          rows.map((r) => [
            r.authority,
            r.type,
            String(r.anchoredSize),
            r.anchoredAt,
            String(r.anchors),
            String(r.lagEntries),
          ]),
          ['AUTHORITY', 'TYPE', 'ANCHORED SIZE', 'ANCHORED AT', 'ANCHORS', 'LAG (ENTRIES)'],
        );
      },
      { readonly: true },
    );
  });
}
