import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { recordDeploy, SERVICE_NAME } from '../src/vaultmesh.js';

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A local HTTP server answering like a VaultMesh node's receipts endpoint. */
async function node(
  answer: (req: IncomingMessage, body: string) => { status: number; body: unknown },
): Promise<string> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const a = answer(req, body);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

describe('recordDeploy', () => {
  it('posts a deploy receipt with the bearer token', async () => {
    let seen: { auth?: string; path?: string; body?: unknown } = {};
    const url = await node((req, body) => {
      seen = { auth: req.headers.authorization, path: req.url, body: JSON.parse(body) };
      return { status: 201, body: { index: 7, leafHash: 'ab'.repeat(32) } };
    });
    const r = await recordDeploy(
      { version: '1.2.3', environment: 'staging' },
      { url, token: 'vm_secret' },
    );
    expect(r).toEqual({ index: 7, leafHash: 'ab'.repeat(32) });
    expect(seen.auth).toBe('Bearer vm_secret');
    expect(seen.path).toBe('/api/ledger/receipts');
    expect(seen.body).toEqual({
      kind: 'deploy',
      body: { service: SERVICE_NAME, version: '1.2.3', environment: 'staging', status: 'deployed' },
    });
  });

  it('never repeats the token, even when the node echoes it', async () => {
    const url = await node((req) => ({
      status: 403,
      body: { title: 'Forbidden', detail: `token ${req.headers.authorization} may not write` },
    }));
    const err: unknown = await recordDeploy(
      { version: '1', environment: 'prod' },
      { url, token: 'vm_topsecret' },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('HTTP 403');
    expect((err as Error).message).not.toContain('vm_topsecret');
  });

  it('says what is missing', async () => {
    await expect(
      recordDeploy({ version: '1', environment: 'x' }, { url: '', token: '' }),
    ).rejects.toThrow(/VM_URL/);
  });
});
