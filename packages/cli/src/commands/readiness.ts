// vm readiness: evaluate a tenant's readiness checklist (JSON or YAML) against observed metrics — a Prometheus
// server's instant queries and/or an observations file — and write the report; exit 1 when NOT_READY.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ReadinessReport } from '@vaultmesh/control';
import { openNode } from '@vaultmesh/node';
import { dataDir, keyOptions, localActor } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson, printTable } from '../output.ts';

/** @vaultmesh/control, loaded on first use so that other commands do not load the control plane. */
const lib = () => import('@vaultmesh/control');

export function register(program: Command): void {
  const readiness = program
    .command('readiness')
    .description(
      "readiness: a tenant's checklist (traffic, residency, cache, query budgets, compliance, DR) against observed metrics",
    );
  registerAssess(readiness);
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(EXIT.NOT_FOUND, `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

const show = (v: number | string | null) => (v === null ? '-' : String(v));

function printReport(r: ReadinessReport): void {
  printTable(
    r.findings.map((f) => [
      f.section,
      f.item,
      f.ok ? 'ok' : 'FAIL',
      f.expected,
      show(f.observed),
      f.source ?? '-',
    ]),
    ['SECTION', 'ITEM', 'RESULT', 'EXPECTED', 'OBSERVED', 'SOURCE'],
  );
  const failed = r.findings.filter((f) => !f.ok);
  for (const f of failed) print(`  ${f.section}/${f.item}: ${f.detail}`);
  print();
  print(
    `${r.tenant}: ${r.status}${failed.length ? ` (${failed.length} of ${r.findings.length} findings failed)` : ''}`,
  );
}

function registerAssess(readiness: Command): void {
  readiness
    .command('assess')
    .description(
      'evaluate a readiness checklist for a tenant; a missing metric is NOT_READY; exit 1 when NOT_READY',
    )
    .requiredOption('-t, --tenant <tenant>', 'the tenant ("$tenant" in metric names is replaced by it)')
    .requiredOption('-c, --checklist <file>', 'readiness checklist, JSON or YAML')
    .option('--prometheus <url>', 'Prometheus base URL: metric names are sent as instant PromQL queries')
    .option(
      '--observed <file>',
      'observed values, JSON or YAML: { metrics: { name: number }, tags: {...}, regions: [...] }',
    )
    .option('-o, --out <file>', 'also write the report (JSON) to this file')
    .option('--record', 'record the report as an audit receipt in the node ledger at --data')
    .option(
      '-d, --data <dir>',
      'data directory for --record (env VM_DATA_DIR)',
      process.env.VM_DATA_DIR ?? './data',
    )
    .option('--json', 'machine-readable output')
    .action(
      async (o: {
        tenant: string;
        checklist: string;
        prometheus?: string;
        observed?: string;
        out?: string;
        record?: boolean;
        data?: string;
        json?: boolean;
      }) => {
        const m = await lib();
        const checklistText = readText(o.checklist, 'checklist');
        const checklist = m.readReadinessChecklist(checklistText);
        const observed = o.observed
          ? m.readReadinessObservations(readText(o.observed, 'observations file'))
          : {};
        // Prometheus measures; the observations file only fills what it has no data on, and says so.
        const report = await m.assessReadiness({
          tenant: o.tenant,
          checklist,
          ...m.readinessSources(observed, o.prometheus, o.observed),
        });
        if (o.out) writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n');
        let receipt: number | undefined;
        if (o.record) {
          const node = await openNode(dataDir(o), keyOptions());
          try {
            const checklistSha256 = createHash('sha256').update(checklistText).digest('hex');
            receipt = (
              await node.log.append({
                kind: 'audit',
                actor: localActor(),
                tenant: report.tenant,
                body: m.readinessReceiptBody(report, { checklistSha256, via: 'cli' }),
              })
            ).index;
          } finally {
            await node.close();
          }
        }
        if (o.json) printJson(receipt === undefined ? report : { ...report, receipt });
        else {
          printReport(report);
          if (receipt !== undefined) print(`recorded as receipt ${receipt}`);
        }
        if (report.status !== 'READY')
          throw new CliError(
            EXIT.FAILED,
            `tenant ${report.tenant} is NOT_READY: ${report.findings.filter((f) => !f.ok).length} finding(s) failed`,
          );
      },
    );
}
