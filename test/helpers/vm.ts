// Runs `vm` for the end-to-end tests. Most commands run in process through the CLI's main(argv), with the
// environment, working directory and stdout/stderr of the call swapped in for its duration (one call at a time per
// test file), so a test does not pay a process start per command. Commands that serve until stopped or are about the
// process itself (up, serve, listen, anchor run, demo, bench) and calls with spawn: true run the real binary.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const VM_BIN = join(ROOT, 'packages', 'cli', 'bin', 'vm.js');

/** The environment without VM_* variables, so nothing outside the test steers the CLI. */
export const CLEAN_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('VM_')),
);

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunVmOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
  cwd?: string;
  /** Run the real binary in a child process (for what only a process shows: signals, exit on its own ...). */
  spawn?: boolean;
}

/** Commands that keep running until stopped, or whose test is about the process: always the real binary. */
const SPAWNED = [/^up$/, /^(mcp) serve$/, /^callback listen$/, /^anchor run$/, /^demo$/, /^bench$/];

function needsProcess(args: readonly string[]): boolean {
  const words = args.filter((a) => !a.startsWith('-'));
  const one = words[0] ?? '';
  const two = `${one} ${words[1] ?? ''}`;
  return SPAWNED.some((re) => re.test(one) || re.test(two));
}

/** Runs `vm <args>` to completion (never rejects on a non-zero exit). */
export function runVm(args: string[], opts: RunVmOptions = {}): Promise<RunResult> {
  return opts.spawn || needsProcess(args) ? runSpawned(args, opts) : runInProcess(args, opts);
}

function runSpawned(args: string[], opts: RunVmOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VM_BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...CLEAN_ENV, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let queue: Promise<unknown> = Promise.resolve();

/** One in-process call at a time: the environment, cwd and output streams are process-wide. */
function runInProcess(args: string[], opts: RunVmOptions): Promise<RunResult> {
  const run = queue.then(() => callMain(args, opts));
  queue = run.catch(() => undefined);
  return run;
}

async function callMain(args: string[], opts: RunVmOptions): Promise<RunResult> {
  const { main } = await import('@vaultmesh/cli');
  const saved = { env: process.env, cwd: process.cwd(), exitCode: process.exitCode };
  const out = { stdout: '', stderr: '' };
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  const capture =
    (key: 'stdout' | 'stderr') =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      out[key] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    };
  process.env = { ...CLEAN_ENV, ...opts.env };
  process.chdir(opts.cwd ?? ROOT);
  process.stdout.write = capture('stdout') as typeof process.stdout.write;
  process.stderr.write = capture('stderr') as typeof process.stderr.write;
  try {
    const code = await main(['node', 'vm', ...args]);
    return { code, ...out };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
    process.env = saved.env;
    process.chdir(saved.cwd);
    process.exitCode = saved.exitCode;
  }
}

/** Runs `vm <args> --json` and parses stdout, failing with the CLI's stderr when it did not exit 0. */
export async function runVmJson<T>(args: string[], opts: RunVmOptions = {}): Promise<T> {
  const r = await runVm([...args, '--json'], opts);
  if (r.code !== 0) throw new Error(`vm ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
