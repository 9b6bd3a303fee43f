// Shared JSON-over-HTTP helper for the provider adapters, on global fetch (no vendor client libraries).
// Guarantees: every call has a time limit (AbortSignal.timeout joined with the caller's signal) and fails with
// AuroraError PROVIDER_TIMEOUT when it runs out or the caller aborts; a non-2xx answer is PROVIDER_FAILED with the
// status and a short, bounded excerpt of the body (404 may be mapped to NOT_FOUND per call); response bodies are read
// up to a bound (4 MiB by default) and validated with zod (a wrong shape is PROVIDER_FAILED naming the field).
// The secret (API key / bearer token) is redacted from every message and never placed in `details`.
import { BodyTooLargeError, readBoundedText } from '@vaultmesh/net';
import type { z } from 'zod';
import { AuroraError } from '../errors.ts';

/** Default per-call time limit, ms. */
export const DEFAULT_TIMEOUT_MS = 15_000;
/** Default bound on a response body, bytes. */
export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** How many characters of an error body an error message quotes. */
const EXCERPT_CHARS = 200;
/** Error bodies are read up to this many bytes (only an excerpt is kept). */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** The subset of fetch the adapters use (global fetch satisfies it; tests and the k8s CA transport supply others). */
export type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpClientOptions {
  /** Provider name, used as the prefix of every error message. */
  readonly provider: string;
  /** Base URL (http or https, no credentials); request paths are appended to it. */
  readonly baseUrl: string;
  readonly timeoutMs?: number;
  readonly maxResponseBytes?: number;
  /** Header that carries the secret; `secret` is what gets redacted (the header value usually embeds it). */
  readonly auth?: { readonly header: string; readonly value: string; readonly secret: string };
  /** Extra, non-secret headers. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly fetch?: FetchFn;
}

export interface RequestOptions<T> {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** JSON-serialized as the request body. */
  readonly body?: unknown;
  /** Shape of the (parsed) response body; an empty body parses as `undefined`. */
  readonly schema: z.ZodType<T, z.ZodTypeDef, unknown>;
  readonly signal?: AbortSignal;
  /** When set, HTTP 404 becomes AuroraError NOT_FOUND with this message. */
  readonly notFound?: string;
}

/** A JSON client bound to one provider's base URL and credentials. */
export interface HttpClient {
  request<T>(method: HttpMethod, path: string, opts: RequestOptions<T>): Promise<T>;
  /** Replaces every occurrence of the secret in `text` (for adapters that build their own messages). */
  redact(text: string): string;
}

/** Validates a base URL: http(s), no embedded credentials; INVALID_ARGUMENT otherwise (the URL is not echoed). */
export function parseBaseUrl(provider: string, baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new AuroraError('INVALID_ARGUMENT', `${provider}: baseUrl is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AuroraError('INVALID_ARGUMENT', `${provider}: baseUrl must be http or https`);
  if (url.username !== '' || url.password !== '')
    throw new AuroraError('INVALID_ARGUMENT', `${provider}: baseUrl must not carry credentials`);
  return url;
}

/** Formats the first zod issues as `path: message` (no values, so nothing attacker-controlled or secret is quoted). */
export function formatIssues(issues: readonly z.ZodIssue[]): string {
  return issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Creates the JSON client; INVALID_ARGUMENT for a bad base URL or a secret that cannot go into a header. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const { provider } = options;
  const base = parseBaseUrl(provider, options.baseUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const doFetch: FetchFn = options.fetch ?? ((url, init) => fetch(url, init));
  const secret = options.auth?.secret ?? '';
  if (options.auth !== undefined && /[\r\n\0]/.test(options.auth.value))
    throw new AuroraError(
      'INVALID_ARGUMENT',
      `${provider}: the API key contains characters not allowed in a header`,
    );

  const redact = (text: string): string => (secret.length > 0 ? text.split(secret).join('[redacted]') : text);
  const fail = (code: 'PROVIDER_FAILED' | 'PROVIDER_TIMEOUT' | 'NOT_FOUND', msg: string, details?: unknown) =>
    new AuroraError(code, redact(`${provider}: ${msg}`), details);

  async function request<T>(method: HttpMethod, path: string, opts: RequestOptions<T>): Promise<T> {
    const url = new URL(base.href);
    url.pathname = basePath + path;
    url.search = '';
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const what = `${method} ${url.pathname}`;

    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.auth !== undefined) headers[options.auth.header] = options.auth.value;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }

    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal !== undefined ? AbortSignal.any([timeout, opts.signal]) : timeout;
    const classifyAbort = (err: unknown): AuroraError => {
      if (opts.signal?.aborted === true)
        return fail('PROVIDER_TIMEOUT', `${what} aborted by the caller`, { reason: 'aborted' });
      if (timeout.aborted)
        return fail('PROVIDER_TIMEOUT', `${what} timed out after ${timeoutMs} ms`, {
          reason: 'timeout',
          timeoutMs,
        });
      const msg = err instanceof Error ? err.message : String(err);
      return fail('PROVIDER_FAILED', `${what} failed: ${excerpt(msg)}`);
    };

    if (opts.signal?.aborted === true) throw classifyAbort(undefined);
    let res: Response;
    let text: string;
    try {
      res = await doFetch(url.href, { method, headers, body, signal, redirect: 'error' });
      // Strict for answers (over the limit fails); an error body is only quoted, so it is cut.
      // Scrubbed of our secret before anything reads it: an echo never reaches an offer, a job or a receipt.
      text = redact(
        await readBoundedText(
          res,
          res.ok
            ? { limit: maxBytes, what: `${what}'s answer` }
            : { limit: MAX_ERROR_BODY_BYTES, onLimit: 'truncate' },
        ),
      );
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        throw fail('PROVIDER_FAILED', `${what} returned a body larger than ${maxBytes} bytes`, {
          limit: maxBytes,
        });
      throw classifyAbort(err);
    }

    if (!res.ok) {
      const details = { status: res.status, method, path: url.pathname };
      const quote = text.length > 0 ? `: ${excerpt(text)}` : '';
      if (res.status === 404 && opts.notFound !== undefined) throw fail('NOT_FOUND', opts.notFound, details);
      throw fail('PROVIDER_FAILED', `${what} failed with HTTP ${res.status}${quote}`, details);
    }

    let value: unknown;
    if (text.trim() === '') value = undefined;
    else {
      try {
        value = JSON.parse(text);
      } catch {
        throw fail('PROVIDER_FAILED', `${what} returned a body that is not JSON`, { status: res.status });
      }
    }
    const parsed = opts.schema.safeParse(value);
    if (!parsed.success)
      throw fail(
        'PROVIDER_FAILED',
        `${what} returned an unexpected body: ${formatIssues(parsed.error.issues)}`,
        {
          status: res.status,
        },
      );
    return parsed.data;
  }

  return { request, redact };
}

/** A short, single-line excerpt of untrusted text (control characters removed). */
function excerpt(text: string): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters from attacker-controlled text is the point
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

/**
 * The setup every hosted adapter shares: its options parsed by its schema (INVALID_ARGUMENT naming each problem,
 * never the key), a non-empty API key, and the HTTP client that sends the key as `header` (Bearer for
 * "authorization").
 */
export function hostedSetup<
  S extends z.ZodType<{ name: string; baseUrl: string; timeoutMs: number }, z.ZodTypeDef, unknown>,
>(
  kind: string,
  schema: S,
  options: { apiKey: string } & Record<string, unknown>,
  header: 'authorization' | 'x-api-key',
  deps: { fetch?: FetchFn },
): { opts: z.output<S>; name: string; http: HttpClient } {
  const { apiKey, ...rest } = options;
  const parsed = schema.safeParse(rest);
  if (!parsed.success)
    throw new AuroraError(
      'INVALID_ARGUMENT',
      `${kind}: invalid options: ${formatIssues(parsed.error.issues)}`,
    );
  const opts = parsed.data as z.output<S>;
  const name = opts.name;
  if (typeof apiKey !== 'string' || apiKey.length === 0)
    throw new AuroraError('INVALID_ARGUMENT', `${name}: no API key configured`);
  const http = createHttpClient({
    provider: name,
    baseUrl: opts.baseUrl,
    timeoutMs: opts.timeoutMs,
    auth: { header, value: header === 'authorization' ? `Bearer ${apiKey}` : apiKey, secret: apiKey },
    fetch: deps.fetch,
  });
  return { opts, name, http };
}
