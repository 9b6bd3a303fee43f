// A real HTTP(S) server on 127.0.0.1 for tests of actions, probes and fakes (Kubernetes, Prometheus).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/** A real HTTP (or, given a key and certificate, HTTPS) server on 127.0.0.1 with a handler a test can swap. */
export async function localServer(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
  tls?: { key: string; cert: string },
): Promise<{
  url: string;
  server: Server;
  hits: { method: string; url: string }[];
  set(h: typeof handler): void;
  close(): Promise<void>;
}> {
  let h = handler;
  const hits: { method: string; url: string }[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      hits.push({ method: req.method ?? '', url: req.url ?? '' });
      h(req, res, body);
    });
  };
  const server: Server = tls ? createTlsServer(tls, listener) : createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    server,
    hits,
    set: (x) => (h = x),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
