// One way to read a body from the network: streamed, with a per-call byte limit that aborts as soon as it is passed
// (a declared Content-Length over it is refused before a byte is read), so a hostile or broken remote party (a peer,
// a TSA, a compute provider, an agent, a model API) cannot make this process buffer more than it asked for.
// Web standards only (Response, ReadableStream): no I/O of its own.

/** A body longer than the caller's limit; nothing beyond the limit was read. */
export class BodyTooLargeError extends Error {
  readonly code = 'BODY_TOO_LARGE';
  constructor(
    readonly what: string,
    readonly limit: number,
    /** The declared Content-Length, when that is how it was known. */
    readonly declared?: number,
  ) {
    super(
      `${what} is larger than the ${limit} bytes allowed${declared !== undefined ? ` (Content-Length ${declared})` : ''}`,
    );
    this.name = 'BodyTooLargeError';
  }
}

export interface ReadLimit {
  /** Most bytes to read. */
  readonly limit: number;
  /** What the body is, for the error ("peer checkpoint", "TSA response"). */
  readonly what?: string;
  /** 'error' (default): over the limit throws BodyTooLargeError. 'truncate': keep the first `limit` bytes. */
  readonly onLimit?: 'error' | 'truncate';
}

/** The bytes read, and whether the body was cut at the limit (onLimit 'truncate'). */
export interface BoundedBytes {
  readonly bytes: Uint8Array;
  /** Bytes seen (at most limit + one chunk: reading stops at the first chunk past the limit). */
  readonly seen: number;
  readonly truncated: boolean;
}

const declaredLength = (res: Response): number | undefined => {
  const v = res.headers.get('content-length');
  if (v === null || !/^[0-9]+$/.test(v.trim())) return undefined;
  return Number(v);
};

/** Reads a response body up to `o.limit` bytes, cancelling the stream as soon as the limit is passed. */
export async function readBounded(res: Response, o: ReadLimit): Promise<BoundedBytes> {
  const what = o.what ?? 'response body';
  const truncate = o.onLimit === 'truncate';
  const declared = declaredLength(res);
  if (!truncate && declared !== undefined && declared > o.limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new BodyTooLargeError(what, o.limit, declared);
  }
  if (!res.body) return { bytes: new Uint8Array(0), seen: 0, truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let seen = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value.byteLength;
      if (kept + value.byteLength > o.limit) {
        if (!truncate) throw new BodyTooLargeError(what, o.limit);
        chunks.push(value.subarray(0, o.limit - kept));
        kept = o.limit;
        truncated = true;
        break;
      }
      chunks.push(value);
      kept += value.byteLength;
    }
  } finally {
    // Stop the transfer at once: nothing more of it is wanted (a no-op once the stream is done).
    await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(kept);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.byteLength;
  }
  return { bytes, seen, truncated };
}

/** A bounded body as UTF-8 text. */
export async function readBoundedText(res: Response, o: ReadLimit): Promise<string> {
  return new TextDecoder().decode((await readBounded(res, o)).bytes);
}

/** A bounded body parsed as JSON; SyntaxError (naming `what`) when it is not JSON. */
export async function readBoundedJson(res: Response, o: ReadLimit): Promise<unknown> {
  const text = await readBoundedText(res, o);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SyntaxError(`${o.what ?? 'response body'} is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

/** What replaces a credential found in something received. */
export const REDACTED = '[redacted]';

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** `bytes` with every occurrence of each secret replaced by REDACTED (secrets shorter than 4 bytes are ignored). */
export function scrubBytes(bytes: Uint8Array, secrets: readonly string[]): Uint8Array {
  let out = bytes;
  const mark = new TextEncoder().encode(REDACTED);
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    const needle = new TextEncoder().encode(secret);
    let at = indexOf(out, needle, 0);
    if (at < 0) continue;
    const parts: Uint8Array[] = [];
    let from = 0;
    while (at >= 0) {
      parts.push(out.subarray(from, at), mark);
      from = at + needle.length;
      at = indexOf(out, needle, from);
    }
    parts.push(out.subarray(from));
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      joined.set(p, off);
      off += p.length;
    }
    out = joined;
  }
  return out;
}

/** `text` with every occurrence of each secret replaced by REDACTED. */
export function scrubText(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join(REDACTED);
  return out;
}

/** Options of boundedFetch. */
export interface BoundedFetchOptions {
  /** Most bytes of one response body. */
  readonly limit: number;
  readonly what?: string;
  /** Credentials this client sends: scrubbed from every body it receives, even one split across chunks. */
  readonly secrets?: readonly (string | undefined)[];
}

/**
 * A fetch whose every response body is limited to `limit` bytes, for clients that read bodies themselves (the A2A
 * and MCP SDKs): a body over it errors its stream (BodyTooLargeError) as soon as the limit is passed, and the
 * transfer is cancelled. A declared Content-Length over it is refused before the body is read. Every credential in
 * `secrets` is replaced by REDACTED in what the client reads, so an echo of it goes no further.
 */
export function boundedFetch(base: typeof fetch, o: BoundedFetchOptions): typeof fetch {
  const what = o.what ?? 'response body';
  const secrets = (o.secrets ?? []).filter((x): x is string => typeof x === 'string' && x.length >= 4);
  const encoded = secrets.map((x) => new TextEncoder().encode(x));
  // Bytes held back so that a secret split across two chunks is still found.
  const keep = Math.max(0, ...encoded.map((x) => x.length - 1));
  return async (input, init) => {
    const res = await base(input, init);
    if (!res.body) return res;
    const declared = declaredLength(res);
    if (declared !== undefined && declared > o.limit) {
      await res.body.cancel().catch(() => undefined);
      throw new BodyTooLargeError(what, o.limit, declared);
    }
    let seen = 0;
    let pending = new Uint8Array(0);
    const source = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          const { done, value } = await source.read();
          if (done) {
            if (pending.length) controller.enqueue(scrubBytes(pending, secrets));
            return controller.close();
          }
          seen += value.byteLength;
          if (seen > o.limit) {
            await source.cancel().catch(() => undefined);
            return controller.error(new BodyTooLargeError(what, o.limit));
          }
          if (secrets.length === 0) return controller.enqueue(value);
          const joined = new Uint8Array(pending.length + value.length);
          joined.set(pending);
          joined.set(value, pending.length);
          const clean = scrubBytes(joined, secrets);
          const cut = Math.max(0, clean.length - keep);
          pending = clean.slice(cut);
          if (cut > 0) return controller.enqueue(clean.subarray(0, cut));
        }
      },
      cancel: (reason) => source.cancel(reason),
    });
    const headers = new Headers(res.headers);
    if (secrets.length) headers.delete('content-length'); // a scrubbed body may have another length
    return new Response(body, { status: res.status, statusText: res.statusText, headers });
  };
}
