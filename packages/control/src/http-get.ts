// One bounded HTTP GET for probes (go/no-go checks, auditor health probes, readiness): a time limit that covers
// the body, a size cap, no redirects, and the body parsed as JSON when it is JSON. Never throws for an HTTP status;
// rejects only when no answer came (network, timeout, oversize), with a one-line message.
import { BodyTooLargeError, readBoundedText, requestSecrets, scrubText } from '@vaultmesh/net';

/** Default time limit of one probe, body included. */
export const DEFAULT_PROBE_TIMEOUT_MS = 5_000;
/** Probe answers larger than this are refused (health and status documents are small). */
export const MAX_PROBE_RESPONSE_BYTES = 1024 * 1024;

/** What a probe GET saw. `json` is undefined when the body is not JSON. */
export interface HttpGetResult {
  readonly status: number;
  readonly json: unknown;
  readonly text: string;
  readonly ms: number;
}

/** Options of httpGet. */
export interface HttpGetOptions {
  readonly timeoutMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Injected fetch (default: the global one). */
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

/** Checks `text` is an absolute http(s) URL and returns it parsed; throws a plain Error otherwise. */
export function httpUrl(text: string): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error(`invalid URL "${text}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new Error(`URL must be http or https, got ${u.protocol}`);
  return u;
}

/** Joins a base URL (keeping its path prefix) and a relative path. */
export function joinUrl(base: string, path: string): URL {
  const b = httpUrl(base);
  if (!b.pathname.endsWith('/')) b.pathname += '/';
  return new URL(path.replace(/^\/+/, ''), b);
}

/** GETs `url` within the time limit; resolves with any HTTP status, rejects when no complete answer came. */
export async function httpGet(url: URL | string, opts: HttpGetOptions = {}): Promise<HttpGetResult> {
  const u = typeof url === 'string' ? httpUrl(url) : url;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const now = opts.now ?? Date.now;
  const started = now();
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await (opts.fetch ?? fetch)(u, {
      headers: { accept: 'application/json', ...opts.headers },
      signal,
      redirect: 'error',
    });
    // A credential we sent never comes back in an echo (probe results reach receipts and run views).
    const text = scrubText(await readCapped(res, MAX_PROBE_RESPONSE_BYTES), requestSecrets(opts.headers, u));
    let json: unknown;
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, ms: now() - started };
  } catch (e) {
    if (signal.aborted) throw new Error(`no answer from ${u.origin} within ${timeoutMs} ms`);
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new Error(
      `GET ${u.origin}${u.pathname} failed: ${(e as Error).message}${cause ? ` (${cause})` : ''}`,
    );
  }
}

async function readCapped(res: Response, max: number): Promise<string> {
  try {
    return await readBoundedText(res, { limit: max });
  } catch (e) {
    if (e instanceof BodyTooLargeError) throw new Error(`response larger than ${max} bytes`);
    throw e;
  }
}
