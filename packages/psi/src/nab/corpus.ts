// Reading a corpus in NAB's layout: data/<category>/<file>.csv (timestamp,value), labels/combined_windows.json
// (per file, its anomaly windows as [start, end] timestamps), labels/combined_labels.json (the labelled anomalies,
// optional: NAB's perfect score counts them) and config/profiles.json (the scoring profiles; NAB's three when
// absent), and a detector's results in NAB's results layout (results/<detector>/<category>/<detector>_<file>.csv
// with an anomaly_score column).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsvSeries, parseTimestamp } from '../csv.ts';
import { PsiError } from '../errors.ts';
import { NAB_PROFILES, type CostMatrix, type ThresholdScore, type Window } from './scorer.ts';

/** One data file of a corpus. */
export interface NabFile {
  /** Its path under data/, as the labels name it (e.g. `realKnownCause/nyc_taxi.csv`). */
  readonly path: string;
  readonly times: Float64Array;
  readonly values: Float64Array;
  readonly windows: readonly Window[];
}

/** A corpus: its labelled files, the scoring profiles and the number of labelled anomalies. */
export interface NabCorpus {
  readonly dir: string;
  readonly files: readonly NabFile[];
  readonly profiles: Readonly<Record<string, CostMatrix>>;
  /** Labelled anomalies (combined_labels.json), or the number of windows where that file is absent. */
  readonly labelCount: number;
}

function readJson(file: string): unknown {
  if (!existsSync(file)) throw new PsiError('NOT_FOUND', `${file} does not exist`, { file });
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PsiError('CORPUS_INVALID', `${file} is not JSON: ${(err as Error).message}`, { file }, err);
  }
}

function time(text: unknown, file: string, what: string): number {
  const t = typeof text === 'string' ? parseTimestamp(text) : undefined;
  if (t === undefined)
    throw new PsiError('CORPUS_INVALID', `${file}: ${what} ${JSON.stringify(text)} is not a timestamp`, {
      file,
    });
  return t;
}

function readWindows(file: string): Map<string, Window[]> {
  const json = readJson(file);
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new PsiError('CORPUS_INVALID', `${file} must map each data file to its windows`, { file });
  const out = new Map<string, Window[]>();
  for (const [path, list] of Object.entries(json)) {
    if (!Array.isArray(list))
      throw new PsiError('CORPUS_INVALID', `${file}: the windows of ${path} must be a list`, { file });
    out.set(
      path,
      list.map((w: unknown) => {
        if (!Array.isArray(w) || w.length !== 2)
          throw new PsiError('CORPUS_INVALID', `${file}: a window of ${path} must be [start, end]`, { file });
        const start = time(w[0], file, `a window start of ${path}`);
        const end = time(w[1], file, `a window end of ${path}`);
        if (end < start)
          throw new PsiError('CORPUS_INVALID', `${file}: a window of ${path} ends before it starts`, {
            file,
          });
        return [start, end] as const;
      }),
    );
  }
  return out;
}

function readProfiles(file: string): Record<string, CostMatrix> {
  if (!existsSync(file)) return { ...NAB_PROFILES };
  const json = readJson(file) as Record<string, { CostMatrix?: Record<string, unknown> }>;
  const out: Record<string, CostMatrix> = {};
  for (const [name, p] of Object.entries(json ?? {})) {
    const m = p?.CostMatrix;
    const w = (k: string): number => {
      const v = m?.[k];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
        throw new PsiError('CORPUS_INVALID', `${file}: profile ${name} needs a CostMatrix.${k} ≥ 0`, {
          file,
        });
      return v;
    };
    out[name] = { tpWeight: w('tpWeight'), fpWeight: w('fpWeight'), fnWeight: w('fnWeight') };
  }
  if (Object.keys(out).length === 0)
    throw new PsiError('CORPUS_INVALID', `${file} defines no profile`, { file });
  return out;
}

/** Every `*.csv` under `dir`, as paths relative to it with `/` separators, sorted. */
function csvFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(join(dir, rel)).isDirectory()) out.push(...csvFiles(dir, rel));
    else if (name.endsWith('.csv')) out.push(rel);
  }
  return out;
}

/** Reads a corpus in NAB's layout; only the files the windows name are scored (NAB's rule). */
export function readNabCorpus(dir: string): NabCorpus {
  const dataDir = join(dir, 'data');
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory())
    throw new PsiError('NOT_FOUND', `${dir} has no data/ folder (NAB's layout: data/, labels/, config/)`, {
      file: dataDir,
    });
  const windowsFile = join(dir, 'labels', 'combined_windows.json');
  const windows = readWindows(windowsFile);
  const present = new Set(csvFiles(dataDir));
  const files: NabFile[] = [];
  for (const [path, ws] of [...windows].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (!present.has(path))
      throw new PsiError('CORPUS_INVALID', `${windowsFile} names ${path}, which is not under data/`, {
        file: windowsFile,
      });
    const file = join(dataDir, path);
    const csv = parseCsvSeries(readFileSync(file, 'utf8'), file);
    const valueColumn = csv.columns.indexOf('value');
    if (valueColumn < 0) throw new PsiError('CORPUS_INVALID', `${file} has no "value" column`, { file });
    files.push({ path, times: csv.times, values: csv.values[valueColumn]!, windows: ws });
  }
  if (files.length === 0)
    throw new PsiError('CORPUS_INVALID', `${windowsFile} names no data file`, { file: windowsFile });
  const labelsFile = join(dir, 'labels', 'combined_labels.json');
  let labelCount = files.reduce((n, f) => n + f.windows.length, 0);
  if (existsSync(labelsFile)) {
    const labels = readJson(labelsFile) as Record<string, unknown>;
    labelCount = files.reduce(
      (n, f) => n + (Array.isArray(labels[f.path]) ? (labels[f.path] as unknown[]).length : 0),
      0,
    );
  }
  return { dir, files, profiles: readProfiles(join(dir, 'config', 'profiles.json')), labelCount };
}

/** The detectors whose results a corpus holds (folders under results/). */
export function publishedDetectors(dir: string): string[] {
  const results = join(dir, 'results');
  if (!existsSync(results)) return [];
  return readdirSync(results)
    .filter((d) => statSync(join(results, d)).isDirectory())
    .sort();
}

/**
 * A detector's published anomaly scores for every file of the corpus, from results/<detector>/; a missing file or
 * a row count that differs from the data is an error.
 */
export function readPublishedScores(corpus: NabCorpus, detector: string): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const f of corpus.files) {
    const slash = f.path.lastIndexOf('/');
    const file = join(
      corpus.dir,
      'results',
      detector,
      f.path.slice(0, slash + 1) + `${detector}_${f.path.slice(slash + 1)}`,
    );
    if (!existsSync(file)) throw new PsiError('NOT_FOUND', `${file} does not exist`, { file });
    const csv = parseCsvSeries(readFileSync(file, 'utf8'), file);
    const k = csv.columns.indexOf('anomaly_score');
    if (k < 0) throw new PsiError('CORPUS_INVALID', `${file} has no anomaly_score column`, { file });
    if (csv.times.length !== f.times.length)
      throw new PsiError(
        'CORPUS_INVALID',
        `${file} has ${csv.times.length} rows, the data ${f.times.length}`,
        { file },
      );
    out.set(f.path, csv.values[k]!);
  }
  return out;
}

/** A published per-file score row (results/<detector>/<detector>_<profile>_scores.csv): a threshold score, with its
 * file and row count. */
export interface PublishedFileScore extends ThresholdScore {
  readonly file: string;
  readonly total: number;
}

/** A detector's published per-file scores for one profile, or undefined when the corpus holds none. */
export function readPublishedFileScores(
  dir: string,
  detector: string,
  profile: string,
): PublishedFileScore[] | undefined {
  const file = join(dir, 'results', detector, `${detector}_${profile}_scores.csv`);
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter(Boolean);
  const header = lines[0]!.split(',');
  const col = (name: string): number => {
    const k = header.indexOf(name);
    if (k < 0) throw new PsiError('CORPUS_INVALID', `${file} has no ${name} column`, { file });
    return k;
  };
  const [f, th, sc, tp, tn, fp, fn, total] = [
    'File',
    'Threshold',
    'Score',
    'TP',
    'TN',
    'FP',
    'FN',
    'Total_Count',
  ].map(col);
  return lines
    .slice(1)
    .map((l) => l.split(','))
    .filter((c) => c[f!] && c[f!]!.endsWith('.csv'))
    .map((c) => ({
      file: c[f!]!,
      threshold: Number(c[th!]),
      score: Number(c[sc!]),
      tp: Number(c[tp!]),
      tn: Number(c[tn!]),
      fp: Number(c[fp!]),
      fn: Number(c[fn!]),
      total: Number(c[total!]),
    }));
}
