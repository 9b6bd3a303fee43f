// Runs the real `vm` binary in a child process (shared by the end-to-end tests).
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

/** Runs `vm <args>` to completion (never rejects on a non-zero exit). */
export function runVm(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
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

/** Runs `vm <args> --json` and parses stdout, failing with the CLI's stderr when it did not exit 0. */
export async function runVmJson<T>(args: string[], opts: { env?: Record<string, string> } = {}): Promise<T> {
  const r = await runVm([...args, '--json'], opts);
  if (r.code !== 0) throw new Error(`vm ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
