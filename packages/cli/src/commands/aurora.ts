// vm aurora train|models|slo-report|treaties|providers: the Aurora router's learning and treaty reports, through a
// running node's REST API (VM_TOKEN). train replays stored outcomes into a versioned model the router activates;
// slo-report measures a treaty's KPIs and writes canary_slo_report.json with its DSSE signature.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { apiCall, withApi, type ApiOpts } from '../api-client.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson, printTable } from '../output.ts';

interface Opts extends ApiOpts {
  json?: boolean;
}

interface Kpi {
  name: string;
  target: number;
  comparator: string;
  value: number | null;
  samples: number;
  compliant: boolean;
}

const WINDOW = /^\d{1,6}(m|h|d)$/;

export function register(program: Command): void {
  const aurora = program
    .command('aurora')
    .description("the Aurora router's model and treaties (through a running node; token from VM_TOKEN)");

  withApi(
    aurora
      .command('train')
      .description(
        'build a versioned model from the stored placement outcomes, record it and make it the active one',
      )
      .option('--alpha <n>', 'exploration of the model (LinUCB α, 0..10)')
      .option('--window <duration>', 'learn only from outcomes this recent, e.g. 30d')
      .option('--out <file>', 'also write the model artifact here')
      .option('--json', 'machine-readable output'),
  ).action(async (o: Opts & { alpha?: string; window?: string; out?: string }) => {
    const alpha = o.alpha === undefined ? undefined : Number(o.alpha);
    if (alpha !== undefined && !(alpha >= 0 && alpha <= 10))
      throw new CliError(EXIT.USAGE, '--alpha must be a number 0..10');
    if (o.window !== undefined && !WINDOW.test(o.window))
      throw new CliError(EXIT.USAGE, '--window must be e.g. 30m, 72h or 30d');
    const { body } = await apiCall<{
      hash: string;
      outcomes: number;
      throughSeq: number;
      receipt: { index: number };
      path: string;
      model: unknown;
    }>(o, 'POST', 'api/aurora/models/train', {
      ...(alpha !== undefined ? { alpha } : {}),
      ...(o.window ? { window: o.window } : {}),
    });
    if (o.out) writeFileSync(resolve(o.out), JSON.stringify(body.model, null, 2) + '\n');
    if (o.json) return printJson(body);
    print(
      `model ${body.hash}: learned from ${body.outcomes} outcomes (through #${body.throughSeq}); active now`,
    );
    print(
      `decision receipt #${body.receipt.index}; artifact ${body.path}${o.out ? `, copy in ${o.out}` : ''}`,
    );
  });

  withApi(
    aurora
      .command('models')
      .description('the trained models and the active one')
      .option('--json', 'machine-readable output'),
  ).action(async (o: Opts) => {
    const { body } = await apiCall<{
      active: string | null;
      onlineUpdates: number;
      models: { hash: string; createdAt: string; outcomes: number; receiptIndex: number }[];
    }>(o, 'GET', 'api/aurora/models');
    if (o.json) return printJson(body);
    print(
      `active: ${body.active ?? 'none (learning online from every stored outcome)'}; online updates: ${body.onlineUpdates}`,
    );
    if (body.models.length)
      printTable(
        body.models.map((m) => [m.hash.slice(0, 16), m.createdAt, String(m.outcomes), `#${m.receiptIndex}`]),
        ['model', 'trained', 'outcomes', 'receipt'],
      );
  });

  withApi(
    aurora
      .command('slo-report')
      .description(
        "measure a treaty's KPIs over a window; writes canary_slo_report.json (+ .dsse.json), signed and recorded",
      )
      .requiredOption('--treaty <id>', 'the treaty (see vm aurora treaties)')
      .option('--window <duration>', 'how far back, e.g. 72h', '72h')
      .option('--out <dir>', 'where to write the report', '.')
      .option('--json', 'machine-readable output'),
  ).action(async (o: Opts & { treaty: string; window: string; out: string }) => {
    if (!WINDOW.test(o.window)) throw new CliError(EXIT.USAGE, '--window must be e.g. 30m, 72h or 7d');
    const { body } = await apiCall<{
      report: { kpis: Kpi[]; complianceRate: number; compliant: boolean; treaty: string; provider: string };
      envelope: unknown;
      receipt: { index: number };
    }>(o, 'POST', 'api/aurora/slo-report', { treaty: o.treaty, window: o.window });
    const dir = resolve(o.out);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'canary_slo_report.json');
    writeFileSync(file, JSON.stringify(body.report, null, 2) + '\n');
    writeFileSync(join(dir, 'canary_slo_report.dsse.json'), JSON.stringify(body.envelope, null, 2) + '\n');
    const r = body.report;
    if (o.json) printJson({ ...body, file });
    else {
      printTable(
        r.kpis.map((k) => [
          k.name,
          `${k.comparator} ${k.target}`,
          k.value === null ? 'no data' : String(k.value),
          String(k.samples),
          k.compliant ? 'yes' : 'NO',
        ]),
        ['kpi', 'target', 'value', 'samples', 'met'],
      );
      print(
        `treaty ${r.treaty} (${r.provider}): ${(r.complianceRate * 100).toFixed(0)}% of KPIs met; audit receipt #${body.receipt.index}; wrote ${file}`,
      );
    }
    if (!r.compliant) throw new CliError(EXIT.FAILED, `treaty ${r.treaty} is not met`);
  });

  withApi(
    aurora
      .command('treaties')
      .description('the treaties the node routes under')
      .option('--json', 'machine-readable output'),
  ).action(async (o: Opts) => {
    const { body } = await apiCall<{
      treaties: {
        id: string;
        provider: string;
        priceCapPerHour?: number;
        allowedRegions?: string[];
        slo: Record<string, number>;
      }[];
    }>(o, 'GET', 'api/aurora/treaties');
    if (o.json) return printJson(body);
    if (!body.treaties.length) return print('no treaties (aurora.treatiesFile)');
    printTable(
      body.treaties.map((t) => [
        t.id,
        t.provider,
        t.priceCapPerHour === undefined ? '-' : `$${t.priceCapPerHour}/h`,
        t.allowedRegions?.join(',') ?? 'any',
        Object.entries(t.slo)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
      ]),
      ['treaty', 'provider', 'price cap', 'regions', 'slo'],
    );
  });

  withApi(
    aurora
      .command('providers')
      .description('configured providers and their standing')
      .option('--json', 'machine-readable output'),
  ).action(async (o: Opts) => {
    const { body } = await apiCall<{
      providers: {
        name: string;
        type: string;
        treaty: string | null;
        standing: { treatyCompliance: number; observedReliability?: number } | null;
      }[];
    }>(o, 'GET', 'api/aurora/providers');
    if (o.json) return printJson(body);
    if (!body.providers.length) return print('no providers (aurora.providers in the node config)');
    printTable(
      body.providers.map((p) => [
        p.name,
        p.type,
        p.treaty ?? '-',
        p.standing ? p.standing.treatyCompliance.toFixed(2) : '-',
        p.standing?.observedReliability?.toFixed(3) ?? '-',
      ]),
      ['provider', 'type', 'treaty', 'compliance', 'observed reliability'],
    );
  });
}
