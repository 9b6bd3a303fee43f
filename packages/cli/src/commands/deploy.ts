// vm deploy route|submit|status|cancel: GPU workloads through a running node's Aurora router (REST API, VM_TOKEN).
// route scores offers and places nothing; submit places with failover; both leave `route` receipts on the ledger.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseConfigText } from '@vaultmesh/control/config-text';
import { apiCall, withApi, type ApiOpts } from '../api-client.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson, printTable } from '../output.ts';

interface Opts extends ApiOpts {
  json?: boolean;
  residency?: string;
  purpose?: string;
  top?: string;
}

interface Candidate {
  provider: string;
  offerId: string;
  region: string;
  gpuModel: string;
  gpuCount: number;
  pricePerHour: number;
  score: number;
  rule: number;
  learned?: number;
}

interface Decision {
  candidates: Candidate[];
  offers: { seen: number; eligible: number; allowed: number };
  denied: { location: string; reasons: string[] }[];
  providerErrors: { provider: string; error: string }[];
  reason: string;
  receipt: { index: number };
  timings: { totalMs: number };
}

interface Job {
  id: string;
  state: string;
  tenant: string;
  provider?: string;
  region?: string;
  providerJobId?: string;
  pricePerHour?: number;
  detail?: string;
  createdAt: string;
  workload: { id: string; gpu: { count: number; model?: string } };
  attempts: { provider: string; region: string; ok: boolean; error?: string; receipt: { index: number } }[];
}

/** Reads a workload file (JSON or YAML; "-" is stdin). */
export function readWorkload(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(
      EXIT.NOT_FOUND,
      `cannot read workload file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  // Too large or neither JSON nor YAML: ControlError INVALID_ARGUMENT, a usage error (exit 2).
  return parseConfigText(text, `workload file ${file}`);
}

function callerFields(o: Opts): Record<string, string> {
  return { ...(o.residency ? { residency: o.residency } : {}), ...(o.purpose ? { purpose: o.purpose } : {}) };
}

const money = (v: number | undefined) => (v === undefined ? '-' : `$${v.toFixed(2)}/h`);

function printJob(j: Job): void {
  print(
    `job ${j.id}: ${j.state}${j.provider ? ` on ${j.provider}/${j.region} (${j.providerJobId}, ${money(j.pricePerHour)})` : ''}`,
  );
  if (j.detail) print(`  ${j.detail}`);
  for (const [i, a] of j.attempts.entries())
    print(
      `  attempt ${i + 1}: ${a.provider}/${a.region} ${a.ok ? 'ok' : `failed: ${a.error ?? ''}`} (route receipt #${a.receipt.index})`,
    );
}

export function register(program: Command): void {
  const deploy = program
    .command('deploy')
    .description(
      'place GPU workloads across compute providers with the Aurora router (through a running node)',
    )
    .addHelpText(
      'after',
      `
A workload file (JSON or YAML):
  { "id": "train-llm", "tenant": "acme", "gpu": { "model": "H100", "count": 4 }, "memoryGiB": 40,
    "maxPricePerHour": 40, "regions": ["eu-west-1"], "priority": "high", "hours": 6,
    "image": "ghcr.io/acme/train:1.2", "command": ["python", "train.py"] }

Examples:
  VM_TOKEN=... vm deploy route workload.json --residency eu
  VM_TOKEN=... vm deploy submit workload.json
  VM_TOKEN=... vm deploy status job-...
`,
    );

  withApi(
    deploy
      .command('route <workload>')
      .description(
        'score the offers for a workload and show the best candidates; places nothing (POST /agent/route)',
      )
      .option('--residency <family>', 'data residency the placement must respect, e.g. eu')
      .option('--purpose <text>', 'why (policy context)')
      .option('--top <n>', 'candidates to show (1..100)', '5')
      .option('--json', 'machine-readable output'),
  ).action(async (file: string, o: Opts) => {
    const top = Number(o.top);
    if (!Number.isInteger(top) || top < 1 || top > 100)
      throw new CliError(EXIT.USAGE, '--top must be 1..100');
    const { body: d } = await apiCall<Decision>(o, 'POST', 'agent/route', {
      workload: readWorkload(file),
      top,
      ...callerFields(o),
    });
    if (o.json) return printJson(d);
    print(d.reason);
    print(
      `offers: ${d.offers.seen} seen, ${d.offers.eligible} eligible, ${d.offers.allowed} allowed by policy; ${d.timings.totalMs} ms; route receipt #${d.receipt.index}`,
    );
    if (d.candidates.length)
      printTable(
        d.candidates.map((c, i) => [
          String(i + 1),
          c.provider,
          c.region,
          c.offerId,
          `${c.gpuCount}× ${c.gpuModel}`,
          money(c.pricePerHour),
          c.score.toFixed(3),
          c.rule.toFixed(3),
          c.learned === undefined ? '-' : c.learned.toFixed(3),
        ]),
        ['#', 'provider', 'region', 'offer', 'gpus', 'price', 'score', 'rules', 'learned'],
      );
    for (const x of d.denied) print(`denied by policy: ${x.location} (${x.reasons.join(', ')})`);
    for (const x of d.providerErrors) print(`provider ${x.provider} did not answer: ${x.error}`);
    if (d.candidates.length === 0) throw new CliError(EXIT.FAILED, 'no offer can take this workload');
  });

  withApi(
    deploy
      .command('submit <workload>')
      .description(
        'place a workload: the best allowed offer, failing over to the next on failure (POST /api/aurora/jobs)',
      )
      .option('--residency <family>', 'data residency the placement must respect, e.g. eu')
      .option('--purpose <text>', 'why (policy context)')
      .option('--json', 'machine-readable output'),
  ).action(async (file: string, o: Opts) => {
    const { body: job } = await apiCall<Job>(
      o,
      'POST',
      'api/aurora/jobs',
      { workload: readWorkload(file), ...callerFields(o) },
      { okStatuses: [422] },
    );
    if (o.json) printJson(job);
    else printJob(job);
    if (job.state === 'unplaced') throw new CliError(EXIT.FAILED, `job ${job.id} could not be placed`);
  });

  withApi(
    deploy
      .command('status [job]')
      .description("a job's state (refreshed from its provider), or the latest jobs")
      .option('--limit <n>', 'jobs to list', '20')
      .option('--json', 'machine-readable output'),
  ).action(async (id: string | undefined, o: Opts & { limit: string }) => {
    if (id !== undefined) {
      const { body: job } = await apiCall<Job>(o, 'GET', `api/aurora/jobs/${encodeURIComponent(id)}`);
      return o.json ? printJson(job) : printJob(job);
    }
    const limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new CliError(EXIT.USAGE, '--limit must be 1..1000');
    const { body } = await apiCall<{ jobs: Job[] }>(o, 'GET', `api/aurora/jobs?limit=${limit}`);
    if (o.json) return printJson(body);
    if (body.jobs.length === 0) return print('no jobs');
    printTable(
      body.jobs.map((j) => [
        j.id,
        j.tenant,
        j.workload.id,
        j.state,
        j.provider ? `${j.provider}/${j.region}` : '-',
        money(j.pricePerHour),
        j.createdAt,
      ]),
      ['job', 'tenant', 'workload', 'state', 'where', 'price', 'created'],
    );
  });

  withApi(
    deploy
      .command('cancel <job>')
      .description('cancel a placed job at its provider (a route receipt records it)')
      .option('--json', 'machine-readable output'),
  ).action(async (id: string, o: Opts) => {
    const { body: job } = await apiCall<Job>(o, 'POST', `api/aurora/jobs/${encodeURIComponent(id)}/cancel`);
    if (o.json) printJson(job);
    else printJob(job);
  });
}
