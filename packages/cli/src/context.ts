// Shared option handling for commands.
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { LogError } from '@vaultmesh/log';
import {
  dataPaths,
  openNodeStorage,
  readKeyPassphrase,
  resolveStorage,
  storageFromEnv,
  type NodeStorage,
} from '@vaultmesh/node';
import { CliError, EXIT } from './exit.ts';

/** Adds the --data option every local command takes. */
export function withData(cmd: Command): Command {
  return cmd.option(
    '-d, --data <dir>',
    'data directory (env VM_DATA_DIR)',
    process.env.VM_DATA_DIR ?? './data',
  );
}

/** The actor of receipts recorded by local commands: `cli:<OS user>`. */
export function localActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli:unknown';
  }
}

/**
 * openNode options from the environment: the sealed key's passphrase (VM_KEY_PASSPHRASE_FILE or
 * VM_KEY_PASSPHRASE; `file` from --passphrase-file wins). Never take a passphrase as a plain argument.
 */
export function keyOptions(file?: string): { passphrase?: string } {
  return { passphrase: readKeyPassphrase(process.env, file) };
}

export function dataDir(opts: { data?: string }): string {
  return resolve(opts.data ?? process.env.VM_DATA_DIR ?? './data');
}

/** Parses a non-negative integer argument or fails with a usage error. */
export function parseIndex(text: string, what = 'index'): number {
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new CliError(EXIT.USAGE, `${what} must be a non-negative integer, got "${text}"`);
  }
  return Number(text);
}

/** Parses durations like 30s, 15m, 12h, 7d into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new CliError(EXIT.USAGE, `invalid duration "${text}" (use e.g. 30s, 15m, 12h, 7d)`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return n * unit;
}

/** Opens the data directory's database for one command (read-only unless asked), then closes it. */
export async function withStorage<T>(
  dir: string,
  fn: (s: NodeStorage) => Promise<T>,
  opts: { readonly?: boolean } = {},
): Promise<T> {
  const p = dataPaths(dir);
  const cfg = resolveStorage(dir, storageFromEnv(process.env));
  if (!existsSync(cfg.driver === 'sqlite' ? p.db : p.key))
    throw new LogError('NOT_INITIALIZED', `${dir} holds no VaultMesh log; run "vm init" first`);
  const s = await openNodeStorage(dir, cfg, { readonly: opts.readonly ?? false });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** Reads and parses a JSON file: NOT_FOUND (exit 3) when it cannot be read, USAGE (exit 2) when it is not JSON. */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(EXIT.NOT_FOUND, `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new CliError(EXIT.USAGE, `${what} ${path} is not JSON: ${(e as Error).message}`);
  }
}
