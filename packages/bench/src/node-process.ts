// Real `vm up` processes for the benchmarks that measure a node over HTTP: a free loopback port, a node started on
// it and waited for, and a keep-alive GET.
import { spawn, type ChildProcess } from 'node:child_process';
import { request, type Agent } from 'node:http';
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no free port'))));
    });
    s.on('error', reject);
  });
}

/** A GET over a keep-alive agent, with the answer's status and body. */
export function httpGet(agent: Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A running `vm up`: its process, port and base URL. */
export interface NodeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly base: string;
}

/**
 * Starts `vm up -d dir` (the binary at vmBin) on a free port with `args` added, and waits until its health route
 * answers (30 s at most; then it is killed and this throws).
 */
export async function startNode(
  vmBin: string,
  dir: string,
  opts: { args?: readonly string[]; nodeFlags?: readonly string[] } = {},
): Promise<NodeProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...(opts.nodeFlags ?? []), vmBin, 'up', '-d', dir, '--port', String(port), ...(opts.args ?? [])],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if ((await fetch(`${base}/api/system/health`).catch(() => undefined))?.ok) return { child, port, base };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`vm up on ${dir} did not become healthy`);
}
