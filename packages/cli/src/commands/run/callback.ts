// The callback `vm run` sends when a run ends: a JSON outcome POSTed with an RFC 9421 signature, retried on
// transient failures with a fresh signature (and nonce) per attempt.
import { readBoundedText } from '@vaultmesh/net';
import { signHttpMessage, type HttpSignatureKey } from '@vaultmesh/attest';
import { CliError, EXIT } from '../../exit.ts';

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

export function callbackUrl(text: string): string {
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
