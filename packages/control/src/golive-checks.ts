// Go-live prerequisites: a configurable checklist (ledger verifies, Prometheus answers, a Kubernetes context is
// configured, the database is writable, the API is healthy, the node key is unsealed), each check a verdict with its
// evidence; a missing callback or any error is a failed check (fail closed). Polls are in golive-polls.ts.
// Prerequisite checks
import { readFile as fsReadFile } from 'node:fs/promises';
import { z } from 'zod/v4';
import { parseConfigText, parseWith } from './config-text.ts';
import { ControlError } from './errors.ts';
import { DEFAULT_PROBE_TIMEOUT_MS, httpGet, joinUrl } from './http-get.ts';

/** The prerequisite checks a go-live config may name. */
export const GOLIVE_CHECK_IDS = ['ledger', 'prometheus', 'kubernetes', 'database', 'api', 'key'] as const;
export type GoliveCheckId = (typeof GOLIVE_CHECK_IDS)[number];

const HttpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL');
const TimeoutMs = z.number().int().min(1).max(300_000).optional();

/** Per-check config schemas (unknown fields refused). */
export const GoliveCheckSchemas = {
  ledger: z.strictObject({ id: z.literal('ledger'), timeoutMs: TimeoutMs }),
  prometheus: z.strictObject({ id: z.literal('prometheus'), url: HttpUrl, timeoutMs: TimeoutMs }),
  kubernetes: z.strictObject({
    id: z.literal('kubernetes'),
    /** kubeconfig file; default GoliveDeps.kubeconfigPath. */
    kubeconfig: z.string().min(1).optional(),
    /** Context to check instead of current-context. */
    context: z.string().min(1).max(253).optional(),
    /** Ask the cluster's API server for its version (default true); false only reads the file, and says so. */
    contact: z.boolean().optional(),
    timeoutMs: TimeoutMs,
  }),
  database: z.strictObject({ id: z.literal('database'), timeoutMs: TimeoutMs }),
  api: z.strictObject({ id: z.literal('api'), url: HttpUrl, timeoutMs: TimeoutMs }),
  key: z.strictObject({ id: z.literal('key'), timeoutMs: TimeoutMs }),
} as const;

/** One configured check. */
export type GoliveCheckConfig = {
  [K in GoliveCheckId]: z.infer<(typeof GoliveCheckSchemas)[K]>;
}[GoliveCheckId];

/** The checks run when no config is given: the ones a local data directory can answer by itself. */
export const DEFAULT_GOLIVE_CHECKS: readonly GoliveCheckConfig[] = [
  { id: 'ledger' },
  { id: 'database' },
  { id: 'key' },
];

/**
 * Validates a go-live config `{ checks: [{ id, ...params }] }` (or the bare array); INVALID_ARGUMENT naming every
 * unknown check id (and the known ones), duplicate id or bad parameter.
 */
export function parseGoliveConfig(value: unknown): GoliveCheckConfig[] {
  const list = Array.isArray(value) ? value : (value as { checks?: unknown } | null)?.checks;
  if (!Array.isArray(list) || list.length === 0)
    throw new ControlError(
      'INVALID_ARGUMENT',
      'go-live config must be { "checks": [ { "id": ... }, ... ] } with at least one check',
    );
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const extra = Object.keys(value).filter((k) => k !== 'checks');
    if (extra.length)
      throw new ControlError('INVALID_ARGUMENT', `go-live config: unknown field(s) ${extra.join(', ')}`);
  }
  const problems: string[] = [];
  const out: GoliveCheckConfig[] = [];
  const seen = new Set<string>();
  list.forEach((c, i) => {
    const id = (c as { id?: unknown } | null)?.id;
    if (typeof id !== 'string') return void problems.push(`/checks/${i}: missing "id"`);
    if (!(GOLIVE_CHECK_IDS as readonly string[]).includes(id))
      return void problems.push(
        `/checks/${i}: unknown check id "${id}" (known: ${GOLIVE_CHECK_IDS.join(', ')})`,
      );
    if (seen.has(id)) return void problems.push(`/checks/${i}: duplicate check id "${id}"`);
    seen.add(id);
    try {
      out.push(parseWith(GoliveCheckSchemas[id as GoliveCheckId], c, `/checks/${i}`) as GoliveCheckConfig);
    } catch (e) {
      problems.push((e as ControlError).message);
    }
  });
  if (problems.length)
    throw new ControlError('INVALID_ARGUMENT', `go-live config is invalid: ${problems.join('; ')}`, {
      problems,
    });
  return out;
}

/** Parses go-live config text (JSON or YAML) and validates it (see parseGoliveConfig). */
export function readGoliveConfig(text: string): GoliveCheckConfig[] {
  return parseGoliveConfig(parseConfigText(text, 'go-live config'));
}

/** What a ledger verification reported (e.g. a summary of verifyNode's report). */
export interface LedgerVerifySummary {
  readonly ok: boolean;
  readonly size: number;
  readonly checkpointsChecked?: number;
  readonly problemCount: number;
  /** The first few problems, one line each. */
  readonly problems?: readonly string[];
}

/** What a database probe saw: PRAGMA quick_check's answer and whether a write in a rolled-back transaction worked. */
export interface DatabaseProbeResult {
  readonly quickCheck: string;
  readonly rolledBackWrite: boolean;
  readonly error?: string;
}

/** Whether the node key can sign now. */
export interface KeyStatus {
  readonly unsealed: boolean;
  /** The key file is sealed with a passphrase (and `unsealed` says whether it was opened). */
  readonly sealed: boolean;
  readonly keyName?: string;
  readonly detail?: string;
}

/** Callbacks and adapters the composition root provides; a check whose callback is missing fails (fail closed). */
export interface GoliveDeps {
  readonly verifyLedger?: () => Promise<LedgerVerifySummary>;
  readonly probeDatabase?: () => Promise<DatabaseProbeResult>;
  readonly keyStatus?: () => Promise<KeyStatus>;
  /** kubeconfig used by a kubernetes check that names none (the entry point resolves $KUBECONFIG / ~/.kube/config). */
  readonly kubeconfigPath?: string;
  readonly readFile?: (path: string) => Promise<string>;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

/** One check's verdict: what was measured (evidence) and a one-line explanation. */
export interface GoliveCheckResult {
  readonly id: GoliveCheckId;
  readonly ok: boolean;
  readonly evidence: Readonly<Record<string, unknown>>;
  readonly detail: string;
  readonly durationMs: number;
}

/** All checks' verdicts; `ok` only when every check passed. */
export interface GoliveCheckReport {
  readonly ok: boolean;
  readonly checkedAt: string;
  readonly checks: readonly GoliveCheckResult[];
}

type Verdict = { ok: boolean; evidence: Record<string, unknown>; detail: string };

const oneLine = (s: string, max = 300) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
};

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

async function checkLedger(deps: GoliveDeps): Promise<Verdict> {
  if (!deps.verifyLedger) return { ok: false, evidence: {}, detail: 'no ledger verifier is configured' };
  const r = await deps.verifyLedger();
  const evidence = {
    size: r.size,
    problemCount: r.problemCount,
    ...(r.checkpointsChecked !== undefined ? { checkpointsChecked: r.checkpointsChecked } : {}),
    ...(r.problems?.length ? { problems: r.problems.slice(0, 10) } : {}),
  };
  if (r.ok && r.problemCount === 0)
    return { ok: true, evidence, detail: `ledger of ${r.size} entries verifies` };
  return {
    ok: false,
    evidence,
    detail: `ledger verification found ${r.problemCount} problem(s)${r.problems?.[0] ? `: ${oneLine(r.problems[0])}` : ''}`,
  };
}

async function checkPrometheus(c: { url: string; timeoutMs?: number }, deps: GoliveDeps): Promise<Verdict> {
  // Documented shape: { status: "success", data: { startTime, CWD, reloadConfigSuccess, lastConfigTime, ... } }.
  const url = joinUrl(c.url, 'api/v1/status/runtimeinfo');
  const r = await httpGet(url, { timeoutMs: c.timeoutMs, fetch: deps.fetch, now: deps.now });
  // Attacker-controlled (whatever answers at the URL): every field is checked before use.
  const body = r.json as
    { status?: unknown; data?: Record<string, unknown> | null; error?: unknown } | undefined;
  const data = body && typeof body.data === 'object' && body.data !== null ? body.data : undefined;
  const evidence: Record<string, unknown> = { url: url.href, httpStatus: r.status, latencyMs: r.ms };
  if (data) {
    for (const k of [
      'startTime',
      'reloadConfigSuccess',
      'lastConfigTime',
      'storageRetention',
      'corruptionCount',
    ])
      if (k in data) evidence[k] = data[k];
  }
  if (r.status !== 200)
    return {
      ok: false,
      evidence,
      detail: `Prometheus answered HTTP ${r.status}${body?.error ? `: ${oneLine(String(body.error))}` : ''}`,
    };
  if (body?.status !== 'success' || !data)
    return {
      ok: false,
      evidence,
      detail: 'Prometheus answered without { status: "success", data } (is this a Prometheus server?)',
    };
  if (typeof data.startTime !== 'string' || Number.isNaN(Date.parse(data.startTime)))
    return { ok: false, evidence, detail: 'runtimeinfo has no valid startTime' };
  if (data.reloadConfigSuccess === false)
    return { ok: false, evidence, detail: 'Prometheus is up but its last configuration reload failed' };
  return { ok: true, evidence, detail: `Prometheus is up since ${data.startTime}` };
}

interface KubeconfigFacts {
  context: string;
  cluster: string;
  server: string;
  namespace?: string;
}

/** Finds the context, its cluster and the cluster's server in a parsed kubeconfig; a string says what is missing. */
function kubeconfigFacts(cfg: unknown, wanted: string | undefined): KubeconfigFacts | string {
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) return 'kubeconfig is not a mapping';
  const c = cfg as Record<string, unknown>;
  const name = wanted ?? c['current-context'];
  if (typeof name !== 'string' || name === '') return 'kubeconfig has no current-context';
  const named = (list: unknown, n: string) =>
    Array.isArray(list)
      ? (list.find((x) => (x as { name?: unknown } | null)?.name === n) as
          Record<string, unknown> | undefined)
      : undefined;
  const ctx = named(c.contexts, name);
  if (!ctx) return `context "${name}" is not defined in the kubeconfig`;
  const cluster = (ctx.context as { cluster?: unknown } | undefined)?.cluster;
  if (typeof cluster !== 'string' || cluster === '') return `context "${name}" names no cluster`;
  const cl = named(c.clusters, cluster);
  if (!cl) return `context "${name}" names cluster "${cluster}", which is not defined`;
  const server = (cl.cluster as { server?: unknown } | undefined)?.server;
  if (typeof server !== 'string' || !/^https?:\/\/\S+$/.test(server))
    return `cluster "${cluster}" has no http(s) server URL`;
  const namespace = (ctx.context as { namespace?: unknown }).namespace;
  return { context: name, cluster, server, ...(typeof namespace === 'string' ? { namespace } : {}) };
}

async function checkKubernetes(
  c: { kubeconfig?: string; context?: string; contact?: boolean; timeoutMs?: number },
  deps: GoliveDeps,
): Promise<Verdict> {
  const path = c.kubeconfig ?? deps.kubeconfigPath;
  if (!path) return { ok: false, evidence: {}, detail: 'no kubeconfig file is configured' };
  const evidence: Record<string, unknown> = { kubeconfig: path };
  let text: string;
  try {
    text = await (deps.readFile ?? ((p: string) => fsReadFile(p, 'utf8')))(path);
  } catch (e) {
    return { ok: false, evidence, detail: `cannot read kubeconfig: ${oneLine((e as Error).message)}` };
  }
  // Attacker-controlled only as far as the operator's own file is; parsed with the JSON schema (no custom tags).
  const facts = kubeconfigFacts(parseConfigText(text, `kubeconfig ${path}`), c.context);
  if (typeof facts === 'string') return { ok: false, evidence, detail: facts };
  Object.assign(evidence, facts);
  if (c.contact === false)
    return {
      ok: true,
      evidence: { ...evidence, contacted: false },
      detail: `context "${facts.context}" names cluster "${facts.cluster}" at ${facts.server} (not contacted: contact is false)`,
    };
  // By default the cluster must answer: its /version through client-node, with the context's credentials.
  try {
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromString(text);
    kc.setCurrentContext(facts.context);
    const version = await withTimeout(
      kc.makeApiClient(k8s.VersionApi).getCode(),
      c.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
      `GET ${facts.server}/version`,
    );
    evidence.gitVersion = version.gitVersion;
    return {
      ok: true,
      evidence,
      detail: `cluster "${facts.cluster}" answers, version ${version.gitVersion}`,
    };
  } catch (e) {
    return {
      ok: false,
      evidence,
      detail: `cluster "${facts.cluster}" at ${facts.server} did not answer: ${oneLine((e as Error).message)}`,
    };
  }
}

async function checkDatabase(deps: GoliveDeps): Promise<Verdict> {
  if (!deps.probeDatabase) return { ok: false, evidence: {}, detail: 'no database probe is configured' };
  const r = await deps.probeDatabase();
  const evidence = {
    quickCheck: r.quickCheck,
    rolledBackWrite: r.rolledBackWrite,
    ...(r.error ? { error: r.error } : {}),
  };
  if (r.quickCheck !== 'ok')
    return { ok: false, evidence, detail: `PRAGMA quick_check reports damage: ${oneLine(r.quickCheck)}` };
  if (!r.rolledBackWrite)
    return {
      ok: false,
      evidence,
      detail: `the database is not writable${r.error ? `: ${oneLine(r.error)}` : ''}`,
    };
  return { ok: true, evidence, detail: 'quick_check ok; a write in a rolled-back transaction succeeded' };
}

async function checkApi(c: { url: string; timeoutMs?: number }, deps: GoliveDeps): Promise<Verdict> {
  const url = joinUrl(c.url, 'api/system/health');
  const r = await httpGet(url, { timeoutMs: c.timeoutMs, fetch: deps.fetch, now: deps.now });
  const body = r.json as { status?: unknown; ledger?: { size?: unknown } } | undefined;
  const evidence: Record<string, unknown> = {
    url: url.href,
    httpStatus: r.status,
    latencyMs: r.ms,
    ...(typeof body?.status === 'string' ? { status: body.status } : {}),
    ...(typeof body?.ledger?.size === 'number' ? { ledgerSize: body.ledger.size } : {}),
  };
  if (r.status === 200 && body?.status === 'ok')
    return { ok: true, evidence, detail: 'API reports status ok' };
  return {
    ok: false,
    evidence,
    detail: `API health answered HTTP ${r.status} with status ${JSON.stringify(body?.status ?? null)} (want 200 and "ok")`,
  };
}

async function checkKey(deps: GoliveDeps): Promise<Verdict> {
  if (!deps.keyStatus) return { ok: false, evidence: {}, detail: 'no key status callback is configured' };
  const k = await deps.keyStatus();
  const evidence = { unsealed: k.unsealed, sealed: k.sealed, ...(k.keyName ? { keyName: k.keyName } : {}) };
  if (!k.unsealed)
    return {
      ok: false,
      evidence,
      detail: k.detail ? oneLine(k.detail) : 'the node key is sealed and could not be opened',
    };
  return {
    ok: true,
    evidence,
    detail: k.sealed ? 'the sealed node key is unsealed and can sign' : 'the node key (not sealed) can sign',
  };
}

async function runOne(c: GoliveCheckConfig, deps: GoliveDeps): Promise<Verdict> {
  switch (c.id) {
    case 'ledger':
      return checkLedger(deps);
    case 'prometheus':
      return checkPrometheus(c, deps);
    case 'kubernetes':
      return checkKubernetes(c, deps);
    case 'database':
      return checkDatabase(deps);
    case 'api':
      return checkApi(c, deps);
    case 'key':
      return checkKey(deps);
  }
}

/**
 * Runs the configured checks concurrently (each within its time limit) and reports each one's verdict in config
 * order. Never throws for a failing check: an error or a missing callback is that check's failure. The config is
 * validated first (INVALID_ARGUMENT for an unknown check id).
 */
export async function runGoliveChecks(
  checks: readonly GoliveCheckConfig[] | { checks: readonly unknown[] },
  deps: GoliveDeps,
): Promise<GoliveCheckReport> {
  const list = parseGoliveConfig(checks);
  const now = deps.now ?? Date.now;
  const started = now();
  const results = await Promise.all(
    list.map(async (c): Promise<GoliveCheckResult> => {
      const t0 = now();
      const limit =
        (c.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS) +
        (c.id === 'ledger' || c.id === 'database' ? 55_000 : 1_000);
      let v: Verdict;
      try {
        v = await withTimeout(runOne(c, deps), limit, `check ${c.id}`);
      } catch (e) {
        v = { ok: false, evidence: {}, detail: oneLine((e as Error).message ?? String(e)) };
      }
      return { id: c.id, ok: v.ok, evidence: v.evidence, detail: v.detail, durationMs: now() - t0 };
    }),
  );
  return { ok: results.every((r) => r.ok), checkedAt: new Date(started).toISOString(), checks: results };
}

/** The part of a better-sqlite3 Database the database probe uses. */
export interface SqliteProbeTarget {
  pragma(source: string, options: { simple: true }): unknown;
  exec(source: string): unknown;
}

/**
 * A database probe over an SQLite connection: PRAGMA quick_check, then a write (a table created and a row inserted)
 * inside BEGIN IMMEDIATE ... ROLLBACK, so it proves the write lock and the journal work and leaves nothing behind.
 */
export function createSqliteDatabaseProbe(db: SqliteProbeTarget): () => Promise<DatabaseProbeResult> {
  return async () => {
    const quickCheck = String(db.pragma('quick_check', { simple: true }));
    try {
      db.exec('BEGIN IMMEDIATE');
      try {
        db.exec(
          'CREATE TABLE vaultmesh_golive_write_probe (x INTEGER); INSERT INTO vaultmesh_golive_write_probe VALUES (1)',
        );
      } finally {
        db.exec('ROLLBACK');
      }
      return { quickCheck, rolledBackWrite: true };
    } catch (e) {
      return { quickCheck, rolledBackWrite: false, error: oneLine((e as Error).message) };
    }
  };
}
