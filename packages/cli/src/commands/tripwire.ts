// vm tripwire: check a tripwire rules file (burn-rate and compensation-rate rules) against a Prometheus server,
// or only validate it when no server is given. Exits 1 when a tripwire fires (an unreachable server fires halt).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDuration } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson, printTable } from '../output.ts';

/** @vaultmesh/control, loaded on first use so that other commands do not load the control plane. */
const lib = () => import('@vaultmesh/control');

export function register(program: Command): void {
  const tripwire = program
    .command('tripwire')
    .description('tripwires: SLO burn-rate, compensation-rate and psi rules that halt or pause runs');
  tripwire
    .command('check')
    .description(
      'evaluate a rules file (JSON or YAML) now against Prometheus; without --prometheus only validate it. Exits 1 when a tripwire fires',
    )
    .requiredOption('--rules <file>', 'the rules file: { rules: [...] }')
    .option('--prometheus <url>', 'Prometheus base URL (instant queries on /api/v1/query)')
    .option('-t, --tenant <tenant>', 'the tenant that fills $tenant in queries')
    .option('--timeout <duration>', 'time limit of each query', '5s')
    .option('--json', 'machine-readable output')
    .action(
      async (o: { rules: string; prometheus?: string; tenant?: string; timeout: string; json?: boolean }) => {
        let text: string;
        try {
          text = readFileSync(o.rules, 'utf8');
        } catch (e) {
          throw new CliError(EXIT.NOT_FOUND, `cannot read rules ${o.rules}: ${(e as Error).message}`);
        }
        const timeoutMs = parseDuration(o.timeout);
        const { createPrometheusSource, evaluateTripwires, parseTripwireRules } = await lib();
        const rules = parseTripwireRules(text);
        if (!o.prometheus) {
          if (o.json) return printJson({ valid: true, rules });
          print(`${o.rules}: ${rules.length} valid rule(s)`);
          for (const r of rules)
            print(
              r.kind === 'burn-rate'
                ? `  ${r.id}: burn-rate ${r.burnRate}x of ${r.objective} over ${r.long.window} and ${r.short.window} → ${r.action}`
                : r.kind === 'psi'
                  ? `  ${r.id}: psi likelihood ≥ ${r.threshold} for ${r.points} point(s) of ${r.series} → ${r.action}`
                  : `  ${r.id}: compensation-rate > ${r.threshold} over ${r.window} → ${r.action}`,
            );
          return;
        }
        const source = createPrometheusSource({ url: o.prometheus, timeoutMs });
        const results = await evaluateTripwires({
          rules,
          source,
          timeoutMs: timeoutMs + 1000,
          ...(o.tenant ? { tenant: o.tenant } : {}),
        });
        const fired = results.filter((r) => r.fired);
        if (o.json) printJson({ fired: fired.length, results });
        else
          printTable(
            results.map((r) => [r.id, r.fired ? `FIRED ${r.action}` : 'ok', r.reason]),
            ['RULE', 'STATE', 'REASON'],
          );
        if (fired.length) throw new CliError(EXIT.FAILED, `${fired.length} tripwire(s) fired`);
      },
    );
}
