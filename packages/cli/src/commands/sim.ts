// vm sim: the Aurora simulator. Runs the placement policies (random, cheapest, fastest, rules, learned) over the same
// seeded jobs and hidden provider behaviour, prints the comparison table, and writes CSV, SVG charts and JSON.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { SimPolicyName, SimResult } from '@vaultmesh/aurora';
import { readJsonFile } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { SCENARIOS_DIR } from '@vaultmesh/aurora/scenarios';
import { print, printJson } from '../output.ts';

/** @vaultmesh/aurora, loaded on first use so that other commands do not load it. */
const lib = () => import('@vaultmesh/aurora');

interface SimOpts {
  providers?: string;
  workloads?: string;
  scenario?: string;
  seed?: string;
  policies?: string;
  maxAttempts?: string;
  horizon?: string;
  alpha?: string;
  costWeight?: string;
  out?: string;
  json?: boolean;
}

function listScenarios(): string[] {
  try {
    return readdirSync(SCENARIOS_DIR)
      .filter((f) => f.endsWith('.providers.json'))
      .map((f) => f.slice(0, -'.providers.json'.length))
      .sort();
  } catch {
    return [];
  }
}

function num(text: string | undefined, flag: string, opts: { integer?: boolean } = {}): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || (opts.integer && !Number.isInteger(v)))
    throw new CliError(
      EXIT.USAGE,
      `${flag} must be ${opts.integer ? 'an integer' : 'a number'}, got "${text}"`,
    );
  return v;
}

/** The input files: --scenario NAME, or both --providers and --workloads. */
function inputFiles(o: SimOpts): { providers: string; workloads: string; scenario?: string } {
  if (o.scenario !== undefined) {
    if (o.providers !== undefined || o.workloads !== undefined)
      throw new CliError(EXIT.USAGE, 'give either --scenario or --providers and --workloads, not both');
    const known = listScenarios();
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(o.scenario) || !known.includes(o.scenario))
      throw new CliError(
        EXIT.USAGE,
        `unknown scenario "${o.scenario}" (shipped: ${known.join(', ') || 'none'})`,
      );
    return {
      providers: join(SCENARIOS_DIR, `${o.scenario}.providers.json`),
      workloads: join(SCENARIOS_DIR, `${o.scenario}.workloads.json`),
      scenario: o.scenario,
    };
  }
  if (o.providers === undefined || o.workloads === undefined)
    throw new CliError(EXIT.USAGE, 'give --providers and --workloads (or --scenario NAME)');
  return { providers: resolve(o.providers), workloads: resolve(o.workloads) };
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const money = (v: number) => v.toFixed(2);
const secs = (ms: number) => (ms / 1000).toFixed(1);

/** The comparison table: text left-aligned, numbers right-aligned. */
export function comparisonTable(result: SimResult): string[] {
  const header = [
    'POLICY',
    'JOBS',
    'PLACED',
    'DROPPED',
    'FILL',
    'AVG-LAT(s)',
    'P95-LAT(s)',
    'COST',
    'COST/JOB',
    'ATTEMPTS',
    'FAILURES',
  ];
  const rows = result.policies.map((p) => [
    p.policy,
    String(p.jobs),
    String(p.placed),
    String(p.dropped),
    pct(p.fillRate),
    secs(p.avgLatencyMs),
    secs(p.p95LatencyMs),
    money(p.totalCost),
    money(p.costPerPlacedJob),
    String(p.attempts),
    String(p.failures),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(header), ...rows.map(fmt)];
}

/** What the run says: the winner and learned vs the best fixed policy. */
export function verdict(result: SimResult): string[] {
  const lines = [`winner: ${result.winner} (highest fill rate; ties: lower cost per placed job)`];
  const c = result.comparison;
  if (c) {
    const learned = result.policies.find((p) => p.policy === 'learned')!;
    const best = result.policies.find((p) => p.policy === c.bestFixed)!;
    lines.push(
      `learned ${c.learnedBeatsBestFixed ? 'beats' : 'does not beat'} the best fixed policy (${c.bestFixed}): ` +
        `fill ${pct(learned.fillRate)} vs ${pct(best.fillRate)}, ` +
        `cost per placed job ${money(learned.costPerPlacedJob)} vs ${money(best.costPerPlacedJob)}`,
    );
  }
  return lines;
}

export function register(program: Command): void {
  program
    .command('sim')
    .description(
      'simulate GPU placement policies (random, cheapest, fastest, rules, learned) on a market with hidden provider behaviour',
    )
    .option('--providers <file>', 'providers file (JSON; see docs/aurora-sim.md)')
    .option('--workloads <file>', 'workloads file (JSON; see docs/aurora-sim.md)')
    .option('--scenario <name>', 'run a shipped scenario from scenarios/aurora/ (e.g. baseline, flaky-cheap)')
    .option('--seed <n>', 'PRNG seed (same seed, same result)', '1')
    .option('--policies <list>', 'comma-separated policies (default: all)')
    .option('--max-attempts <n>', 'placement attempts per job, the first and its failovers (default 3)')
    .option('--horizon <hours>', "arrival window in hours (default: the workloads file's horizonHours)")
    .option('--alpha <a>', 'LinUCB exploration of the learned policy (default 0.25)')
    .option('--cost-weight <w>', "the learned reward's price penalty, 0..1 (default 0.3)")
    .option(
      '--out <dir>',
      'write summary.csv, timeseries.csv, summary.svg, fill-rate.svg and result.json here',
    )
    .option('--json', 'print the result as JSON (without the time series)')
    .addHelpText(
      'after',
      `
Examples:
  vm sim --scenario baseline --out ./sim-out
  vm sim --providers providers.json --workloads workloads.json --seed 7 --policies rules,learned --json

Exit codes: 0 ran (whatever the winner), 2 bad usage or invalid input files, 3 a file cannot be read.`,
    )
    .action(async (o: SimOpts) => {
      const {
        AuroraError,
        SIM_POLICIES,
        parseSimProviders,
        parseSimWorkloads,
        runSimulation,
        simFillRateSvg,
        simSummarySvg,
        summaryCsv,
        timeseriesCsv,
      } = await lib();
      const files = inputFiles(o);
      let policies: SimPolicyName[] | undefined;
      if (o.policies !== undefined) {
        const list = o.policies.split(',').map((p) => p.trim());
        const bad = list.filter((p) => !(SIM_POLICIES as readonly string[]).includes(p));
        if (bad.length > 0 || list.length === 0)
          throw new CliError(
            EXIT.USAGE,
            `--policies: unknown ${bad.map((b) => `"${b}"`).join(', ') || 'policy'} (choose from ${SIM_POLICIES.join(', ')})`,
          );
        policies = list as SimPolicyName[];
      }
      let result: SimResult;
      try {
        const providers = parseSimProviders(readJsonFile(files.providers, 'providers file'), files.providers);
        const workloads = parseSimWorkloads(readJsonFile(files.workloads, 'workloads file'), files.workloads);
        const horizonHours = num(o.horizon, '--horizon');
        const maxAttempts = num(o.maxAttempts, '--max-attempts', { integer: true });
        const alpha = num(o.alpha, '--alpha');
        const costWeight = num(o.costWeight, '--cost-weight');
        result = runSimulation(providers, workloads, {
          seed: num(o.seed, '--seed', { integer: true })!,
          ...(policies ? { policies } : {}),
          ...(horizonHours !== undefined ? { horizonHours } : {}),
          ...(maxAttempts !== undefined ? { maxAttempts } : {}),
          ...(alpha !== undefined ? { alpha } : {}),
          ...(costWeight !== undefined ? { costWeight } : {}),
        });
      } catch (err) {
        // Every AuroraError here is about the input (files or options): a usage error.
        if (err instanceof AuroraError) throw new CliError(EXIT.USAGE, err.message);
        throw err;
      }
      const written: string[] = [];
      if (o.out !== undefined) {
        const dir = resolve(o.out);
        mkdirSync(dir, { recursive: true });
        const files2: [string, string][] = [
          ['summary.csv', summaryCsv(result)],
          ['timeseries.csv', timeseriesCsv(result)],
          ['summary.svg', simSummarySvg(result)],
          ['fill-rate.svg', simFillRateSvg(result)],
          [
            'result.json',
            JSON.stringify({ ...(files.scenario ? { scenario: files.scenario } : {}), ...result }, null, 2) +
              '\n',
          ],
        ];
        for (const [name, body] of files2) {
          writeFileSync(join(dir, name), body);
          written.push(join(dir, name));
        }
      }
      if (o.json) {
        const { series: _series, ...rest } = result;
        return printJson({
          ...(files.scenario ? { scenario: files.scenario } : {}),
          ...rest,
          files: written,
        });
      }
      print(
        `${files.scenario ? `scenario ${files.scenario}: ` : ''}${result.jobs} jobs over ${result.horizonHours} h, seed ${result.seed}, up to ${result.maxAttempts} attempts per job`,
      );
      print();
      for (const line of comparisonTable(result)) print(line);
      print();
      for (const line of verdict(result)) print(line);
      if (written.length > 0) print(`wrote ${written.length} files to ${resolve(o.out!)}`);
    });
}
