// vm run: execute a job file's steps in order (execFile, no shell), record plan and step receipts, and deliver an
// RFC 9421-signed callback with the outcome.
import { readBoundedText } from '@vaultmesh/net';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  createHttpSignatureKey,
  hmacKeyId,
  loadHmacKeyFile,
  nodeSha256,
  signHttpMessage,
  type HttpSignatureKey,
} from '@vaultmesh/attest';
import { canonicalBytes, toHex } from '@vaultmesh/ledger';
import { openNode } from '@vaultmesh/node';
import { dataDir, keyOptions, localActor, parseIndex, withData } from '../context.ts';
import { CliError, EXIT } from '../exit.ts';
import { print, printJson } from '../output.ts';

/** One step of a job file: a command line run without a shell. */
export interface JobStep {
  readonly name: string;
  readonly run: readonly string[];
  readonly timeoutMs: number;
}

/** A validated job file, with step defaults filled in and the hash of the file as written. */
export interface JobFile {
  readonly id: string;
  readonly goal?: string;
  readonly steps: readonly JobStep[];
  /** SHA-256 (hex) of the RFC 8785 canonical JSON of the file as written: the same file always hashes alike. */
  readonly planHash: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_STEPS = 100;
const MAX_ARGS = 256;
const MAX_ARG_CHARS = 4096;
/** Default and largest step timeout (ms). */
export const DEFAULT_STEP_TIMEOUT_MS = 60_000;
const MAX_STEP_TIMEOUT_MS = 3_600_000;
/** Output kept per stream for hashing; a step that writes more fails. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses and validates a job file (`{id, goal?, steps: [{name, run: [argv0, ...], timeoutMs?}]}`), listing every
 * problem; unknown fields are errors. Throws CliError(USAGE).
 */
export function parseJobFile(text: string, source: string): JobFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CliError(EXIT.USAGE, `${source}: not valid JSON (${(err as Error).message})`);
  }
  const problems: string[] = [];
  const unknown = (obj: Record<string, unknown>, allowed: string[], at: string) => {
    for (const k of Object.keys(obj))
      if (!allowed.includes(k)) problems.push(`${at}unknown field "${k}" (allowed: ${allowed.join(', ')})`);
  };
  if (!isObject(doc)) throw new CliError(EXIT.USAGE, `${source}: the job file must be a JSON object`);
  unknown(doc, ['id', 'goal', 'steps'], '');
  if (typeof doc.id !== 'string' || doc.id.length > 200 || !ID_RE.test(doc.id))
    problems.push(
      '"id" must be 1..200 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  if (
    doc.goal !== undefined &&
    (typeof doc.goal !== 'string' || doc.goal.length < 1 || doc.goal.length > 2000)
  )
    problems.push('"goal" must be a string of 1..2000 characters');
  const steps: JobStep[] = [];
  if (!Array.isArray(doc.steps) || doc.steps.length < 1 || doc.steps.length > MAX_STEPS) {
    problems.push(`"steps" must be an array of 1..${MAX_STEPS} steps`);
  } else {
    const names = new Set<string>();
    doc.steps.forEach((s: unknown, i: number) => {
      const at = `steps[${i}]: `;
      if (!isObject(s)) return problems.push(`${at}must be an object`);
      unknown(s, ['name', 'run', 'timeoutMs'], at);
      if (typeof s.name !== 'string' || s.name.length > 100 || !ID_RE.test(s.name))
        problems.push(`${at}"name" must be 1..100 characters of letters, digits, ".", "_" or "-"`);
      else if (names.has(s.name)) problems.push(`${at}duplicate step name "${s.name}"`);
      else names.add(s.name);
      const run = s.run;
      if (
        !Array.isArray(run) ||
        run.length < 1 ||
        run.length > MAX_ARGS ||
        !run.every((a) => typeof a === 'string' && a.length <= MAX_ARG_CHARS && !a.includes('\0')) ||
        run[0] === ''
      )
        problems.push(
          `${at}"run" must be an array of 1..${MAX_ARGS} strings (argv, no shell), the first non-empty`,
        );
      const t = s.timeoutMs;
      if (
        t !== undefined &&
        (!Number.isInteger(t) || (t as number) < 1 || (t as number) > MAX_STEP_TIMEOUT_MS)
      )
        problems.push(`${at}"timeoutMs" must be an integer of 1..${MAX_STEP_TIMEOUT_MS}`);
      steps.push({
        name: s.name as string,
        run: run as string[],
        timeoutMs: (t as number | undefined) ?? DEFAULT_STEP_TIMEOUT_MS,
      });
    });
  }
  if (problems.length > 0) throw new CliError(EXIT.USAGE, `${source}: ${problems.join('; ')}`);
  return {
    id: doc.id as string,
    ...(doc.goal !== undefined ? { goal: doc.goal as string } : {}),
    steps,
    planHash: toHex(nodeSha256(canonicalBytes(doc))),
  };
}

/** What running one step produced. */
export interface StepOutcome {
  readonly status: 'succeeded' | 'failed' | 'timeout' | 'error' | 'skipped';
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdoutSha256: string | null;
  readonly stderrSha256: string | null;
  readonly stdoutBytes: number | null;
  readonly stderrBytes: number | null;
  /** Why it did not run or finish (spawn error, timeout), for the operator; not recorded. */
  readonly error?: string;
}

const SKIPPED: StepOutcome = {
  status: 'skipped',
  exitCode: null,
  signal: null,
  stdoutSha256: null,
  stderrSha256: null,
  stdoutBytes: null,
  stderrBytes: null,
};

/** Runs one step with execFile (no shell, stdin closed) and hashes its output. Never rejects. */
export function runStep(step: JobStep): Promise<StepOutcome> {
  return new Promise((resolve) => {
    const child = execFile(
      step.run[0]!,
      step.run.slice(1),
      {
        encoding: 'buffer',
        timeout: step.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: MAX_OUTPUT_BYTES,
        windowsHide: true,
        shell: false,
      },
      (err, stdout, stderr) => {
        const digests = {
          stdoutSha256: toHex(nodeSha256(stdout)),
          stderrSha256: toHex(nodeSha256(stderr)),
          stdoutBytes: stdout.length,
          stderrBytes: stderr.length,
        };
        if (!err) return resolve({ status: 'succeeded', exitCode: 0, signal: null, ...digests });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: unknown };
        if (typeof e.code === 'number')
          return resolve({ status: 'failed', exitCode: e.code, signal: null, ...digests });
        if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
          return resolve({
            status: 'error',
            exitCode: null,
            signal: null,
            ...digests,
            error: 'output too large',
          });
        if (e.killed && e.signal === 'SIGKILL')
          return resolve({
            status: 'timeout',
            exitCode: null,
            signal: 'SIGKILL',
            ...digests,
            error: `timed out after ${step.timeoutMs} ms`,
          });
        if (e.signal) return resolve({ status: 'failed', exitCode: null, signal: e.signal, ...digests });
        // The command could not be started (ENOENT, EACCES, ...).
        resolve({ ...SKIPPED, status: 'error', error: `${step.run[0]}: ${e.code ?? e.message}` });
      },
    );
    child.stdin?.end();
  });
}

/** The body of a step receipt: identical for identical runs except the envelope's time. */
function stepBody(job: JobFile, hash: string, index: number, step: JobStep, o: StepOutcome) {
  const action = step.run.join(' ');
  return {
    planId: job.id,
    planHash: hash,
    stepId: step.name,
    step: index + 1,
    action: action.length > 200 ? action.slice(0, 197) + '...' : action,
    status: o.status,
    exitCode: o.exitCode,
    signal: o.signal,
    stdoutSha256: o.stdoutSha256,
    stderrSha256: o.stderrSha256,
    stdoutBytes: o.stdoutBytes,
    stderrBytes: o.stderrBytes,
  };
}

/** A delivered (or failed) callback. */
export interface CallbackResult {
  readonly url: string;
  readonly status: number | null;
  readonly attempts: number;
  readonly keyid: string;
  readonly alg: string;
  readonly error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * POSTs the JSON body to `url`, signed per RFC 9421 (@method, @target-uri, content-digest, content-type; created,
 * expires = created + 5 min, a fresh nonce per attempt). Retries network errors, 408, 425, 429 and 5xx with
 * exponential backoff; other answers are final.
 */
export async function deliverCallback(
  url: string,
  body: string,
  signer: { key: HttpSignatureKey; keyid: string },
  opts: { retries: number; retryDelayMs: number; timeoutMs?: number; onAttempt?: (line: string) => void },
): Promise<CallbackResult> {
  let last = '';
  let status: number | null = null;
  let attempt = 0;
  for (;;) {
    attempt++;
    const headers = { 'content-type': 'application/json' };
    const signed = signHttpMessage(
      { method: 'POST', url, headers, body },
      {
        key: signer.key,
        keyid: signer.keyid,
        components: ['@method', '@target-uri', 'content-digest', 'content-type'],
        expiresIn: 300,
        nonce: true,
      },
    );
    let retryable = true;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...headers, ...signed.headers },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
      status = res.status;
      // Only the first bytes of the receiver's answer are read (they go into a message).
      const detail = await readBoundedText(res, { limit: 300, onLimit: 'truncate' }).catch(() => '');
      if (res.ok) return { url, status, attempts: attempt, keyid: signer.keyid, alg: signer.key.alg };
      last = `HTTP ${res.status}${detail ? `: ${detail}` : ''}`;
      retryable = res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500;
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      last = cause?.code ?? cause?.message ?? (err as Error).message;
      status = null;
    }
    opts.onAttempt?.(`callback attempt ${attempt} to ${url} failed: ${last}`);
    if (!retryable || attempt > opts.retries)
      return { url, status, attempts: attempt, keyid: signer.keyid, alg: signer.key.alg, error: last };
    await sleep(Math.min(opts.retryDelayMs * 2 ** (attempt - 1), 30_000));
  }
}

function callbackUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new CliError(EXIT.USAGE, `--callback "${text}" is not an absolute URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new CliError(EXIT.USAGE, `--callback must be an http or https URL, got ${u.protocol}`);
  if (u.username || u.password) throw new CliError(EXIT.USAGE, '--callback must not carry credentials');
  return u.href;
}

interface RunOpts {
  data?: string;
  callback?: string;
  hmacKeyFile?: string;
  tenant: string;
  retries: string;
  retryDelay: string;
  json?: boolean;
}

export function register(program: Command): void {
  withData(
    program
      .command('run <plan>')
      .description(
        "run a job file's steps in order (no shell), record plan and step receipts, and POST an RFC 9421-signed callback",
      )
      .option('--callback <url>', 'POST the outcome here, signed per RFC 9421')
      .option(
        '--hmac-key-file <file>',
        'sign with this shared secret (keyid hmac:<file name>) instead of the node key',
      )
      .option('-t, --tenant <tenant>', 'tenant of the receipts', 'default')
      .option('--retries <n>', 'callback retries after the first attempt', '3')
      .option('--retry-delay <ms>', 'first retry delay, doubled each time', '500')
      .option('--json', 'machine-readable output'),
  ).action(async (file: string, o: RunOpts) => {
    // Everything that can be checked is checked before anything runs or is recorded.
    if (!existsSync(file)) throw new CliError(EXIT.NOT_FOUND, `job file ${file} does not exist`);
    const job = parseJobFile(readFileSync(file, 'utf8'), file);
    const hash = job.planHash;
    const url = o.callback !== undefined ? callbackUrl(o.callback) : undefined;
    const retries = parseIndex(o.retries, '--retries');
    if (retries > 10) throw new CliError(EXIT.USAGE, '--retries must be at most 10');
    const retryDelayMs = parseIndex(o.retryDelay, '--retry-delay');
    const hmac = o.hmacKeyFile !== undefined ? loadHmacKeyFile(o.hmacKeyFile) : undefined;
    const log = (line: string) => (o.json ? process.stderr.write(line + '\n') : print(line));

    const node = await openNode(dataDir(o), keyOptions());
    const signer = hmac
      ? { key: hmac, keyid: hmacKeyId(o.hmacKeyFile!) }
      : { key: createHttpSignatureKey('ed25519', node.key.privateKey), keyid: node.key.name };
    const receipts: { index: number; leafHash: string; kind: 'plan' | 'step'; stepId?: string }[] = [];
    const steps: {
      stepId: string;
      status: StepOutcome['status'];
      exitCode: number | null;
      error?: string;
    }[] = [];
    let status: 'succeeded' | 'failed' = 'succeeded';
    try {
      const actor = localActor();
      const goal = job.goal ?? `run ${job.id}`;
      const plan = await node.log.append({
        kind: 'plan',
        actor,
        tenant: o.tenant,
        body: { planId: job.id, planHash: hash, goal, steps: job.steps.length },
      });
      receipts.push({ index: plan.index, leafHash: plan.leafHash, kind: 'plan' });
      log(`plan ${job.id} (${job.steps.length} steps, planHash ${hash}) recorded as #${plan.index}`);
      for (const [i, step] of job.steps.entries()) {
        const outcome = status === 'succeeded' ? await runStep(step) : SKIPPED;
        if (outcome.status !== 'succeeded' && outcome.status !== 'skipped') status = 'failed';
        const r = await node.log.append({
          kind: 'step',
          actor,
          tenant: o.tenant,
          body: stepBody(job, hash, i, step, outcome),
          parents: [plan.index],
        });
        receipts.push({ index: r.index, leafHash: r.leafHash, kind: 'step', stepId: step.name });
        steps.push({
          stepId: step.name,
          status: outcome.status,
          exitCode: outcome.exitCode,
          ...(outcome.error ? { error: outcome.error } : {}),
        });
        const exit =
          outcome.exitCode !== null
            ? ` (exit ${outcome.exitCode})`
            : outcome.error
              ? ` (${outcome.error})`
              : '';
        log(
          `  step ${i + 1}/${job.steps.length} ${step.name}: ${outcome.status}${exit}, receipt #${r.index}`,
        );
      }
    } finally {
      await node.close();
    }
    log(`plan ${job.id} ${status}`);

    let callback: CallbackResult | undefined;
    if (url !== undefined) {
      const body = JSON.stringify({
        planId: job.id,
        planHash: hash,
        status,
        origin: node.origin,
        steps,
        receipts,
      });
      callback = await deliverCallback(url, body, signer, {
        retries,
        retryDelayMs,
        onAttempt: (l) => process.stderr.write(l + '\n'),
      });
      if (!callback.error)
        log(
          `callback POST ${url} -> ${callback.status} (attempt ${callback.attempts}, keyid ${signer.keyid})`,
        );
    }
    if (o.json)
      printJson({ planId: job.id, planHash: hash, status, steps, receipts, callback: callback ?? null });
    if (callback?.error)
      throw new CliError(
        EXIT.FAILED,
        `callback to ${url} failed after ${callback.attempts} attempt(s): ${callback.error} (the receipts stay recorded)`,
      );
    if (status === 'failed') throw new CliError(EXIT.FAILED, `plan ${job.id} failed`);
  });
}
