// vm psi detect|nab: Ψ-Field on the command line. `detect` scores every row of a CSV series online (each point
// against forecasts made before it); `nab` runs a detector through the Numenta Anomaly Benchmark's protocol on a
// corpus in NAB's layout and scores it, beside the null detector and any published results the corpus holds, with
// the same scorer.
import { readFileSync, existsSync } from 'node:fs';
import type { Command } from 'commander';
import { decodeReceipt } from '@vaultmesh/ledger';
import {
  PsiError,
  SeriesModel,
  forecastSkill,
  parseCsvSeries,
  type CommittedBatch,
  type ForecastsBody,
} from '@vaultmesh/psi';
import {
  NAB_DETECTORS,
  nullBaseline,
  publishedDetectors,
  readNabCorpus,
  readPublishedScores,
  runDetector,
  scoreDetector,
  sweepCorpus,
  type NabDetector,
  type ProfileResult,
} from '@vaultmesh/psi/nab';
import { apiCall, withApi, type ApiOpts } from '../api-client.ts';
import { dataDir, parseDuration, withData, withStorage } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson } from '../output.ts';

interface DetectOpts {
  csv?: string;
  column?: string;
  prometheus?: string;
  query?: string;
  since: string;
  end?: string;
  step: string;
  range?: string;
  json?: boolean;
}

/** The series to score: a CSV file's column, or a Prometheus range query. */
interface Series {
  times: ArrayLike<number>;
  values: ArrayLike<number>;
  column: string;
}

/** A positive duration of a flag ("90s", "15m", "6h", "7d") in ms, through the CLI's parseDuration; else a usage error. */
function duration(flag: string, v: string): number {
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch {
    ms = 0;
  }
  if (ms <= 0)
    throw new CliError(EXIT.USAGE, `${flag} must be a duration such as 30s, 15m, 6h or 7d, got "${v}"`);
  return ms;
}

function csvSeries(file: string, column: string | undefined): Series {
  if (!existsSync(file)) throw new PsiError('NOT_FOUND', `${file} does not exist`, { file });
  const csv = parseCsvSeries(readFileSync(file, 'utf8'), file);
  const name = column ?? csv.columns[0]!;
  const k = csv.columns.indexOf(name);
  if (k < 0)
    throw new CliError(EXIT.USAGE, `${file} has no column "${name}" (columns: ${csv.columns.join(', ')})`);
  return { times: csv.times, values: csv.values[k]!, column: name };
}

async function prometheusSeries(o: DetectOpts): Promise<Series> {
  if (!o.query)
    throw new CliError(EXIT.USAGE, '--prometheus needs --query (a PromQL expression of one series)');
  const end = o.end === undefined ? new Date() : new Date(o.end);
  if (Number.isNaN(end.getTime()))
    throw new CliError(EXIT.USAGE, `--end must be an RFC 3339 time, got "${o.end}"`);
  const start = new Date(end.getTime() - duration('--since', o.since));
  const step = duration('--step', o.step) / 1000;
  const { createPrometheusSource } = await import('@vaultmesh/control');
  const samples = await createPrometheusSource({ url: o.prometheus!, timeoutMs: 30_000 }).queryRange(
    o.query,
    start,
    end,
    step,
  );
  const finite = samples.filter((s) => Number.isFinite(s.value));
  return { times: finite.map((s) => s.time), values: finite.map((s) => s.value), column: o.query };
}

interface NabOpts {
  corpus: string;
  detector: string;
  json?: boolean;
  files?: boolean;
}

const fmt = (x: number, digits = 6): string => (Number.isInteger(x) ? String(x) : x.toFixed(digits));

async function detect(o: DetectOpts): Promise<void> {
  if ((o.csv === undefined) === (o.prometheus === undefined))
    throw new CliError(EXIT.USAGE, 'give exactly one of --csv FILE and --prometheus URL');
  const { times, values, column } =
    o.csv !== undefined ? csvSeries(o.csv, o.column) : await prometheusSeries(o);
  const range = o.range === undefined ? undefined : parseRange(o.range);
  const model = new SeriesModel(undefined, range);
  const rows = Array.from(values, (value, i) => {
    const s = model.update(value);
    return {
      time: new Date(times[i]!).toISOString(),
      value,
      forecast: s.forecast,
      residual: s.residual,
      likelihood: s.likelihood,
      score: s.score,
      psi: s.metrics.psi,
      ...(s.context === undefined ? {} : { context: s.context }),
    };
  });
  if (o.json) return printJson({ column, period: model.period, ...(range ? { range } : {}), rows });
  print(`time,value,forecast,residual,likelihood,score,psi${range ? ',context' : ''}`);
  for (const r of rows)
    print(
      [
        r.time,
        r.value,
        fmt(r.forecast),
        fmt(r.residual, 4),
        fmt(r.likelihood),
        fmt(r.score),
        fmt(r.psi, 4),
        ...(r.context === undefined ? [] : [fmt(r.context, 4)]),
      ].join(','),
    );
}

/** `--range MIN:MAX`: the known bounds of the series' values. */
function parseRange(v: string): { min: number; max: number } {
  const m = /^(-?[0-9.eE+-]+):(-?[0-9.eE+-]+)$/.exec(v.trim());
  const min = m ? Number(m[1]) : NaN;
  const max = m ? Number(m[2]) : NaN;
  if (!Number.isFinite(min) || !Number.isFinite(max) || !(min < max))
    throw new CliError(EXIT.USAGE, `--range must be MIN:MAX with finite numbers, MIN < MAX, got "${v}"`);
  return { min, max };
}

/** One scored detector: its name, where the scores came from, and each profile's result. */
interface Scored {
  detector: string;
  source: 'run' | 'published';
  profiles: ProfileResult[];
}

function nab(o: NabOpts): void {
  if (!NAB_DETECTORS.includes(o.detector as NabDetector))
    throw new CliError(
      EXIT.USAGE,
      `--detector must be one of ${NAB_DETECTORS.join(', ')}, got "${o.detector}"`,
    );
  const corpus = readNabCorpus(o.corpus);
  const rows = corpus.files.reduce((n, f) => n + f.values.length, 0);
  process.stderr.write(
    `${corpus.files.length} files, ${rows} rows, ${corpus.labelCount} labelled anomalies\n`,
  );
  const nullRaw = nullBaseline(corpus);
  const started = performance.now();
  const tty = process.stderr.isTTY === true;
  const scores = runDetector(corpus, o.detector as NabDetector, undefined, (_path, done, total) => {
    if (tty) process.stderr.write(`\r${o.detector}: ${done}/${total} files`);
  });
  const ms = performance.now() - started;
  if (tty) process.stderr.write('\n');
  const scored: Scored[] = [
    {
      detector: o.detector,
      source: 'run',
      profiles: scoreDetector(corpus, sweepCorpus(corpus, scores), nullRaw),
    },
  ];
  if (o.detector !== 'null')
    scored.push({
      detector: 'null',
      source: 'run',
      profiles: scoreDetector(corpus, sweepCorpus(corpus, runDetector(corpus, 'null')), nullRaw),
    });
  for (const d of publishedDetectors(corpus.dir))
    scored.push({
      detector: d,
      source: 'published',
      profiles: scoreDetector(corpus, sweepCorpus(corpus, readPublishedScores(corpus, d)), nullRaw),
    });
  const microsPerPoint = (ms * 1000) / rows;
  if (o.json) {
    return printJson({
      corpus: corpus.dir,
      files: corpus.files.length,
      rows,
      labels: corpus.labelCount,
      microsPerPoint,
      detectors: scored.map((s) => ({
        ...s,
        profiles: s.profiles.map((p) => (o.files ? p : { ...p, files: undefined })),
      })),
    });
  }
  const names = Object.keys(corpus.profiles);
  print(`NAB scores (normalized: null detector 0, perfect 100), ${corpus.files.length} files, ${rows} rows`);
  print(['detector'.padEnd(38), ...names.map((n) => n.padStart(20))].join(''));
  for (const s of scored) {
    const label = `${s.detector}${s.source === 'published' ? ' (published scores)' : ''}`;
    print([label.padEnd(38), ...s.profiles.map((p) => p.normalized!.toFixed(1).padStart(20))].join(''));
  }
  print(
    `thresholds (${o.detector}): ${scored[0]!.profiles.map((p) => `${p.profile} ${fmt(p.threshold)}`).join(', ')}`,
  );
  print(`${o.detector}: ${microsPerPoint.toFixed(2)} µs per point`);
}

interface SkillOpts {
  data?: string;
  series: string;
  window: string;
  json?: boolean;
}

/** The committed forecast batches of a series within the window, read from the ledger (index order). */
async function committedBatches(o: SkillOpts): Promise<CommittedBatch[]> {
  const fromTime = Date.now() - duration('--window', o.window);
  return withStorage(
    dataDir(o),
    async (s) => {
      const out: CommittedBatch[] = [];
      let after = -1;
      for (;;) {
        const page = await s.listEntries({
          kind: 'psi',
          tenants: ['system'],
          fromTime,
          after,
          order: 'asc',
          limit: 500,
        });
        for (const e of page) {
          const body = decodeReceipt(e.bytes).body as Partial<ForecastsBody>;
          if (body.record === 'forecasts' && body.series === o.series)
            out.push({ index: e.index, body: body as ForecastsBody });
        }
        if (page.length < 500) return out;
        after = page[page.length - 1]!.index;
      }
    },
    { readonly: true },
  );
}

async function skill(o: SkillOpts): Promise<void> {
  const batches = await committedBatches(o);
  if (batches.length === 0)
    throw new CliError(
      EXIT.NOT_FOUND,
      `no committed forecasts of series "${o.series}" in the last ${o.window} (is it in psi.series, with psi.commitments on?)`,
    );
  const r = forecastSkill(o.series, batches);
  if (o.json) return printJson({ window: o.window, batches: batches.length, ...r });
  print(
    `series ${r.series}: ${batches.length} commitment receipt(s) (ledger ${r.receipts.join('..')}), ${r.pairs} forecast/outcome pair(s)`,
  );
  if (r.pairs === 0) {
    print('  no forecast has its outcome recorded yet (each needs `horizon` more points)');
    return;
  }
  print(
    `  MAE ${fmt(r.mae)} vs naive ${fmt(r.naiveMae)}: skill ${r.skill.toFixed(3)} (1 perfect, 0 no better than naive)`,
  );
  print(`  outcomes inside mean ± 2 std: ${(100 * r.coverage95).toFixed(1)}%`);
  print(
    `  every pair's forecast receipt precedes its outcome's${r.unordered ? `; ${r.unordered} pair(s) that do not were left out` : ''}`,
  );
}

interface WatchOpts extends ApiOpts {
  interval: string;
  count?: string;
  json?: boolean;
}

/** A watched series as GET /api/psi/series answers it. */
interface SeriesView {
  name: string;
  points: number;
  period: number;
  anomalous: boolean;
  last?: { time: number; value: number; forecast: number; likelihood: number; metrics: { psi: number } };
  next?: { mean: number; std: number };
}

const num = (x: number | undefined, digits = 3): string =>
  x === undefined || !Number.isFinite(x) ? '-' : Math.abs(x) >= 1000 ? x.toFixed(0) : x.toPrecision(digits);

/** One table of the node's field: a row per series. */
function watchTable(series: readonly SeriesView[]): string[] {
  const rows = series.map((s) => [
    s.name,
    String(s.points),
    s.period ? String(s.period) : '-',
    num(s.last?.value),
    num(s.last?.forecast),
    num(s.next?.mean),
    s.last ? s.last.likelihood.toFixed(4) : '-',
    num(s.last?.metrics.psi),
    s.anomalous ? 'ANOMALY' : '',
  ]);
  const head = ['SERIES', 'POINTS', 'PERIOD', 'VALUE', 'FORECAST', 'NEXT', 'LIKELIHOOD', 'Ψ', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

async function watch(o: WatchOpts): Promise<void> {
  const every = duration('--interval', o.interval);
  const count = o.count === undefined ? Infinity : Number(o.count);
  if (count !== Infinity && !(Number.isInteger(count) && count >= 1))
    throw new CliError(EXIT.USAGE, `--count must be a whole number of at least 1, got "${o.count}"`);
  for (let k = 0; k < count; k++) {
    if (k > 0) await new Promise((r) => setTimeout(r, every));
    const { body } = await apiCall<{ intervalMs: number; series: SeriesView[] }>(o, 'GET', '/api/psi/series');
    if (o.json) print(JSON.stringify({ at: new Date().toISOString(), ...body }));
    else {
      print(`${new Date().toISOString()}  ${body.series.length} series, sampled every ${body.intervalMs} ms`);
      for (const line of watchTable(body.series)) print(`  ${line}`);
    }
  }
}

export function register(program: Command): void {
  const psi = program.command('psi').description('Ψ-Field: forecasts and anomaly scores of time series');

  psi
    .command('detect')
    .description(
      'score every point of a series online (a CSV file, or a Prometheus range query): forecast, residual, anomaly likelihood, Ψ',
    )
    .option('--csv <file>', 'a CSV with a header: a timestamp column, then value columns')
    .option('--column <name>', 'with --csv: the value column to score (default: the first)')
    .option('--prometheus <url>', 'a Prometheus server: score the range query --query')
    .option('--query <promql>', 'with --prometheus: a PromQL expression of one series')
    .option('--since <duration>', 'with --prometheus: how far back (30s, 15m, 6h, 7d)', '6h')
    .option('--end <time>', 'with --prometheus: the end of the range (RFC 3339; default now)')
    .option('--step <duration>', 'with --prometheus: the resolution', '60s')
    .option(
      '--range <min:max>',
      'the known bounds of its values (e.g. 0:100): the context detector runs beside the model',
    )
    .option('--json', 'machine-readable output')
    .action((o: DetectOpts) => detect(o));

  withApi(
    psi
      .command('watch')
      .description("a node's Ψ-Field, refreshed: each series' value, forecast, anomaly likelihood and Ψ"),
  )
    .option('--interval <duration>', 'time between refreshes', '5s')
    .option('--count <n>', 'refreshes before exiting (default: until interrupted)')
    .option('--json', 'one JSON line per refresh')
    .action((o: WatchOpts) => watch(o));

  withData(
    psi
      .command('skill')
      .description(
        'forecast skill of a series, proven from the ledger: committed forecasts against the outcomes recorded after them',
      ),
  )
    .requiredOption('--series <name>', 'a series of the node’s psi.series')
    .option('--window <duration>', 'how far back, by receipt time (30m, 24h, 7d)', '24h')
    .option('--json', 'machine-readable output')
    .action((o: SkillOpts) => skill(o));

  psi
    .command('nab')
    .description("run a detector through the NAB protocol on a corpus in NAB's layout and score it")
    .requiredOption(
      '--corpus <dir>',
      "a folder in NAB's layout: data/, labels/combined_windows.json, config/",
    )
    .option('--detector <name>', `the detector to run: ${NAB_DETECTORS.join(', ')}`, 'psi')
    .option('--files', 'with --json: each file’s score too')
    .option('--json', 'machine-readable output')
    .action((o: NabOpts) => nab(o));
}
