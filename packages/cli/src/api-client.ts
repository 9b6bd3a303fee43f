// A small client of a running node's REST API for commands that act through it (vm deploy, vm aurora): the base URL
// from --url or VM_URL, the bearer token from VM_TOKEN (never a flag: it would show in `ps` and shell history).
// Problem documents become CliErrors with the exit code of their status; the token never appears in an error.
import type { Command } from 'commander';
import { readBoundedText, scrubText } from '@vaultmesh/net';
import { CliError, EXIT } from './exit.ts';

/** Most bytes of one API answer the CLI reads (a bound against a broken or hostile endpoint at --url). */
export const MAX_API_RESPONSE_BYTES = 64 * 1024 * 1024;

export interface ApiOpts {
  url?: string;
}

/** Adds --url (env VM_URL, default http://127.0.0.1:5000). */
export function withApi(cmd: Command): Command {
  return cmd.option(
    '--url <url>',
    "the node's base URL (env VM_URL); the token comes from VM_TOKEN",
    process.env.VM_URL ?? 'http://127.0.0.1:5000',
  );
}

const STATUS_EXIT = (status: number): number =>
  status === 400 || status === 413 || status === 415 || status === 422
    ? EXIT.USAGE
    : status === 401 || status === 403
      ? EXIT.AUTH
      : status === 404
        ? EXIT.NOT_FOUND
        : status === 409
          ? EXIT.CONFLICT
          : EXIT.FAILED;

/** Calls the API; resolves with the JSON body and status, or throws a CliError naming the problem. */
export async function apiCall<T>(
  o: ApiOpts,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  opts: { okStatuses?: readonly number[]; timeoutMs?: number } = {},
): Promise<{ status: number; body: T }> {
  const base = o.url ?? process.env.VM_URL ?? 'http://127.0.0.1:5000';
  let url: URL;
  try {
    url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new CliError(EXIT.USAGE, `--url "${base}" is not a URL`);
  }
  if (!/^https?:$/.test(url.protocol)) throw new CliError(EXIT.USAGE, '--url must be http or https');
  const token = process.env.VM_TOKEN;
  if (!token) throw new CliError(EXIT.AUTH, 'set VM_TOKEN to an API token (vm token create)');
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000),
    });
  } catch (err) {
    const why =
      (err as Error).name === 'TimeoutError'
        ? 'timed out'
        : ((err as { cause?: Error }).cause?.message ?? (err as Error).message);
    throw new CliError(EXIT.FAILED, `cannot reach the node at ${url.origin}: ${why}`);
  }
  let text: string;
  try {
    text = scrubText(
      await readBoundedText(res, { limit: MAX_API_RESPONSE_BYTES, what: 'the node’s answer' }),
      [token],
    );
  } catch (err) {
    throw new CliError(
      EXIT.FAILED,
      scrubText(`reading the node’s answer failed: ${(err as Error).message}`, [token]),
    );
  }
  let parsed: unknown;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    throw new CliError(EXIT.FAILED, `the node answered ${res.status} with a body that is not JSON`);
  }
  if (res.ok || opts.okStatuses?.includes(res.status)) return { status: res.status, body: parsed as T };
  const p = parsed as { code?: string; detail?: string } | null;
  throw new CliError(
    STATUS_EXIT(res.status),
    `${res.status} ${p?.code ?? 'ERROR'}: ${p?.detail ?? 'request failed'}`,
  );
}
