// vm verify: check an evidence bundle fully offline (no node, no network).
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadVerifierKey, verifyEvidenceBundle, type BundleReport } from '@vaultmesh/attest';
import { splitPem } from '@vaultmesh/node';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson } from '../output.ts';

const collect = (v: string, acc: string[]) => [...acc, v];

/** Prints a bundle report as lines of ✓ / ✗ checks. */
export function printBundleReport(r: BundleReport): void {
  print(`${r.ok ? 'OK' : 'FAILED'}: receipt ${r.index} in checkpoint of size ${r.size}`);
  for (const c of r.checks) print(`  ${c.ok ? '✓' : '✗'} ${c.check}: ${c.detail}`);
  for (const w of r.warnings) print(`  ! ${w}`);
}

export function register(program: Command): void {
  program
    .command('verify <bundle>')
    .description(
      'verify an evidence bundle offline: receipt, leaf hash, checkpoint signature, inclusion proof, RFC 3161 timestamps',
    )
    .option(
      '--trust-key <file>',
      'pin the log key: a C2SP verifier key file such as data/keys/node.key.pub (repeatable)',
      collect,
      [],
    )
    .option('--tsa-ca <file>', 'pin the TSA trust anchors: a PEM file (repeatable)', collect, [])
    .option('--allow-untimestamped', 'accept a bundle without an RFC 3161 timestamp (reported as a warning)')
    .option('--json', 'machine-readable report')
    .action(
      (
        file: string,
        o: { trustKey: string[]; tsaCa: string[]; allowUntimestamped?: boolean; json?: boolean },
      ) => {
        if (!existsSync(file)) throw new CliError(EXIT.NOT_FOUND, `bundle file ${file} does not exist`);
        let value: unknown;
        try {
          value = JSON.parse(readFileSync(file, 'utf8'));
        } catch (err) {
          throw new CliError(EXIT.USAGE, `bundle file ${file} is not JSON: ${(err as Error).message}`);
        }
        const tsa = o.tsaCa.flatMap((f) => {
          if (!existsSync(f)) throw new CliError(EXIT.NOT_FOUND, `TSA trust anchor file ${f} does not exist`);
          const pems = splitPem(readFileSync(f, 'utf8'));
          if (pems.length === 0) throw new CliError(EXIT.USAGE, `${f} holds no PEM certificate`);
          return pems;
        });
        const report = verifyEvidenceBundle(value, {
          logKeys: o.trustKey.length > 0 ? o.trustKey.map((f) => loadVerifierKey(f).text) : undefined,
          tsaTrustAnchors: tsa.length > 0 ? tsa : undefined,
          requireTimestamp: !o.allowUntimestamped,
        });
        if (o.json) printJson(report);
        else printBundleReport(report);
        if (!report.ok) {
          const failed = report.checks.filter((c) => !c.ok).map((c) => c.check);
          throw new CliError(EXIT.FAILED, `bundle verification failed: ${failed.join(', ')}`);
        }
      },
    );
}
