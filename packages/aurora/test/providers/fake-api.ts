// A fake provider API for adapter tests: node:http on 127.0.0.1 (port 0) that records every request and answers
// from a handler. Fixtures live in ../fixtures (their sources are listed in ../fixtures/README.md).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
  /** The parsed JSON body, or undefined. */
  readonly body: unknown;
}

export interface FakeReply {
  readonly status?: number;
  /** JSON-serialized unless `raw` is given. */
  readonly body?: unknown;
  readonly raw?: string;
  readonly delayMs?: number;
  readonly headers?: Record<string, string>;
}

export type FakeHandler = (req: RecordedRequest) => FakeReply | Promise<FakeReply>;

export interface FakeApi {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
}

export async function startFakeApi(handler: FakeHandler): Promise<FakeApi> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        let body: unknown;
        try {
          body = raw.length > 0 ? JSON.parse(raw) : undefined;
        } catch {
          body = undefined;
        }
        const rec: RecordedRequest = {
          method: req.method ?? '',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          raw,
          body,
        };
        requests.push(rec);
        const reply = await handler(rec);
        if (reply.delayMs !== undefined) await new Promise((r) => setTimeout(r, reply.delayMs));
        if (res.destroyed) return;
        const text = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
        res.end(text);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The rejection of a promise that must reject (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; details?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string; details?: unknown };
  }
  throw new Error('expected the promise to reject');
}

/** Everything an error exposes (message, details, stack, cause), for "the key never appears" checks. */
export function exposed(err: unknown): string {
  const e = err as { message?: string; details?: unknown; stack?: string; cause?: unknown };
  return JSON.stringify({ m: e.message, d: e.details, s: e.stack, c: String(e.cause ?? '') });
}
