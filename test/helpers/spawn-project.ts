// Generated Spawn projects in the end-to-end tests: render one into a temporary folder, run its own npm scripts,
// start it as a real process on a free loopback port and wait until it says it is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { manifestOf, render, spawnedTree, stageTree, type Rendered } from '@vaultmesh/spawn';
import { freePort } from './net.ts';
import { CLEAN_ENV } from './vm.ts';
import { until } from './wait.ts';

export interface Project {
  readonly dir: string;
  readonly rendered: Rendered;
}

/** Writes a template's tree (with its manifest) into `root/<service>`. */
export function generate(
  root: string,
  template: string,
  service: string,
  params: Record<string, unknown> = {},
): Project {
  const rendered = render({ template, service, params });
  const dir = join(root, service);
  stageTree(dir, spawnedTree(rendered, manifestOf(rendered, 'default'))).commit();
  return { dir, rendered };
}

export interface Ran {
  readonly code: number | null;
  /** stdout and stderr together (the last 20 000 characters). */
  readonly output: string;
}

/** Runs a command to completion (never rejects on a non-zero exit). */
export function sh(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const env = { ...CLEAN_ENV, NO_COLOR: '1', FORCE_COLOR: '0', ...opts.env };
    const child = spawn(cmd, args, { cwd: opts.cwd, env });
    let output = '';
    const add = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
    child.stdout.on('data', add);
    child.stderr.on('data', add);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** `npm install` from the local cache where it can (the registry otherwise). */
export const npmInstall = (dir: string): Promise<Ran> =>
  sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, timeoutMs: 600_000 });

export interface Started {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM, then the exit code (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts `node <entry>` in a project on a free loopback port and waits until GET `waitFor` answers 200. */
export async function startProject(
  dir: string,
  env: Record<string, string> = {},
  waitFor = '/readyz',
  entry = 'dist/main.js',
): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, [entry], {
    cwd: dir,
    env: { ...CLEAN_ENV, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-50_000)));
  child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-50_000)));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await until(
    `${dir} to be ready`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${entry} exited ${child.exitCode}: ${output}`);
      const r = await fetch(`${url}${waitFor}`).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    },
    { timeoutMs: 60_000, everyMs: 100 },
  );
  return {
    url,
    child,
    output: () => output,
    async stop(graceMs = 30_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(2_000, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, '127.0.0.1', () => done(true));
  });
}
