// The HTTP PeerClient against a hostile peer on 127.0.0.1: a 1 GiB chunked checkpoint or entry bundle is cut at its
// limit (the peer sees the connection dropped after a few MiB, not 1 GiB sent), an HTML page where a proof belongs
// is a failure of the peer, not evidence, and an over-long Content-Length is refused before the body is read.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederationError, PEER_LIMITS, createHttpPeerClient } from '../src/index.ts';

let server: Server;
let url = '';
const sent = { bytes: 0, closed: false };

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/checkpoint' || path.startsWith('/tile/entries/')) {
      sent.bytes = 0;
      sent.closed = false;
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(256 * 1024, 0x41);
      const pump = () => {
        while (sent.bytes < 1024 ** 3) {
          sent.bytes += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => (sent.closed = true));
      return pump();
    }
    if (path.startsWith('/api/ledger/proof/consistency')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<html><body>502 Bad Gateway</body></html>');
    }
    res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) });
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const settle = async () => {
  for (let i = 0; i < 100 && !sent.closed; i++) await new Promise((r) => setTimeout(r, 20));
};

describe('HTTP peer client: bounded reads', () => {
  it('cuts an endless checkpoint at its limit and drops the connection', async () => {
    const client = createHttpPeerClient({ url, timeoutMs: 30_000 });
    const err = (await client.checkpoint().catch((e: unknown) => e)) as FederationError;
    expect(err.code).toBe('PEER_UNREACHABLE');
    expect(err.message).toMatch(
      new RegExp(`/checkpoint: the checkpoint is larger than the ${PEER_LIMITS.checkpoint} bytes`),
    );
    await settle();
    expect(sent.closed).toBe(true);
    expect(sent.bytes).toBeLessThan(64 * 1024 * 1024);
  });

  it('cuts an endless entry bundle at its limit', async () => {
    const client = createHttpPeerClient({ url, token: 'peer-token', timeoutMs: 30_000 });
    const err = (await client.entryBundle(0, 256).catch((e: unknown) => e)) as FederationError;
    expect(err.code).toBe('PEER_UNREACHABLE');
    expect(err.message).toMatch(/entry bundle 0 is larger than/);
    expect(err.message).not.toContain('peer-token');
    await settle();
    expect(sent.bytes).toBeLessThan(PEER_LIMITS.entryBundle + 64 * 1024 * 1024);
  });

  it('an HTML page for a proof, or a too-long merge answer, is a failure of the peer', async () => {
    const client = createHttpPeerClient({ url });
    const proof = (await client.consistencyProof(1, 2).catch((e: unknown) => e)) as FederationError;
    expect(proof).toBeInstanceOf(FederationError);
    expect(proof.code).toBe('PEER_UNREACHABLE');
    expect(proof.message).toMatch(/the answer is not JSON/);
    const merge = (await client.requestMerge({}).catch((e: unknown) => e)) as FederationError;
    expect(merge.code).toBe('PEER_UNREACHABLE');
    expect(merge.message).toMatch(/Content-Length 52428800/);
  });
});
