// vm readiness: evaluate a tenant's readiness checklist (JSON or YAML) against observed metrics — a Prometheus
// server's instant queries and/or an observations file — and write the report; exit 1 when NOT_READY.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ReadinessReport } from '@vaultmesh/control';
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
    r.findings.map((f) => [f.section, f.item, f.ok ? 'ok' : 'FAIL', f.expected, show(f.observed)]),
    ['SECTION', 'ITEM', 'RESULT', 'EXPECTED', 'OBSERVED'],
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
    .option('--json', 'machine-readable output')
    .action(
      async (o: {
        tenant: string;
        checklist: string;
        prometheus?: string;
        observed?: string;
        out?: string;
        json?: boolean;
      }) => {
        const m = await lib();
        const checklist = m.readReadinessChecklist(readText(o.checklist, 'checklist'));
        const observed = o.observed
          ? m.readReadinessObservations(readText(o.observed, 'observations file'))
          : {};
        // Measurements in the observations file win; Prometheus answers the rest.
        const report = await m.assessReadiness({
          tenant: o.tenant,
          checklist,
          ...m.readinessSources(observed, o.prometheus),
        });
        if (o.out) writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n');
        if (o.json) printJson(report);
        else printReport(report);
        if (report.status !== 'READY')
          throw new CliError(
            EXIT.FAILED,
            `tenant ${report.tenant} is NOT_READY: ${report.findings.filter((f) => !f.ok).length} finding(s) failed`,
          );
      },
    );
}
