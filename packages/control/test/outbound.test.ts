// Outbound guard (issue 11, hole 3): steps reach only what their tenant's allow-list names, and never link-local
// or metadata addresses, checked on the URL and again on every address a name resolves to when connecting.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActionRegistry, createOutboundGuard } from '../src/index.ts';
import { runAction } from './helpers/run-action.ts';

let srv: Server;
let port = 0;
const hits: string[] = [];

beforeAll(async () => {
  srv = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end('ok');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  port = (srv.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => srv.close(() => r())));

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
};

describe('outbound guard', () => {
  it('denies link-local and metadata destinations by default, in every spelling', async () => {
    const g = createOutboundGuard();
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:169.254.169.254]/',
      'http://2852039166/', // 169.254.169.254 as one decimal number (the URL parser normalises it)
      'http://0xa9.0xfe.0xa9.0xfe/',
      'http://[fe80::1]/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://100.100.100.200/',
    ])
      expect(await refusal(g.check(url, 'acme')), url).toMatch(/denied to every step/);
    expect(await refusal(g.check(`http://127.0.0.1:${port}/`, 'acme'))).toBeUndefined();
  });

  it('a tenant with an allow-list reaches only what it names; other tenants are not affected', async () => {
    const g = createOutboundGuard({
      allow: { acme: ['api.acme.example', '*.svc.acme.example', '10.0.0.0/8'] },
    });
    expect(await refusal(g.check('https://api.acme.example/x', 'acme'))).toBeUndefined();
    expect(await refusal(g.check('https://db.svc.acme.example/x', 'acme'))).toBeUndefined();
    expect(await refusal(g.check('http://10.1.2.3/x', 'acme'))).toBeUndefined();
    expect(await refusal(g.check(`http://127.0.0.1:${port}/`, 'acme'))).toMatch(
      /not on tenant acme's outbound/,
    );
    expect(await refusal(g.check(`http://127.0.0.1:${port}/`, 'beta'))).toBeUndefined();
    // The deny-list wins over an allow-list.
    const g2 = createOutboundGuard({ allow: { acme: ['169.254.0.0/16'] } });
    expect(await refusal(g2.check('http://169.254.169.254/', 'acme'))).toMatch(/denied to every step/);
  });

  it('closed by default: an empty "*" list refuses every tenant that names nothing itself', async () => {
    const g = createOutboundGuard({ allow: { '*': [], acme: ['127.0.0.1'] } });
    expect(await refusal(g.check(`http://127.0.0.1:${port}/`, 'acme'))).toBeUndefined();
    expect(await refusal(g.check(`http://127.0.0.1:${port}/`, 'beta'))).toMatch(
      /not on tenant beta's outbound/,
    );
  });

  it('checks every address a name resolves to when connecting (localhost resolves to a denied address)', async () => {
    const g = createOutboundGuard({ deny: ['127.0.0.0/8', '::1/128'] });
    const before = hits.length;
    const err = await refusal(g.fetchFor('acme')(`http://localhost:${port}/`));
    expect(err).toBeDefined();
    expect(hits.length).toBe(before);
    // Allowed by name, refused by address: the name alone is not enough.
    const named = createOutboundGuard({ allow: { acme: ['10.0.0.0/8'] } });
    expect(await refusal(named.fetchFor('acme')(`http://localhost:${port}/`))).toBeDefined();
    expect(hits.length).toBe(before);
    const open = createOutboundGuard();
    expect((await open.fetchFor('acme')(`http://localhost:${port}/ok`)).status).toBe(200);
    expect(hits.at(-1)).toBe('GET /ok');
  });

  it('refuses malformed rules with a message naming the entry', () => {
    expect(() => createOutboundGuard({ allow: { acme: ['10.0.0.0/99'] } })).toThrow(
      /invalid CIDR "10.0.0.0\/99"/,
    );
    expect(() => createOutboundGuard({ deny: ['http://x'] })).toThrow(/"http:\/\/x" is neither/);
  });

  it('http and probe steps go through it: a metadata URL is refused before any request, a probe stops at once', async () => {
    const registry = createActionRegistry({
      http: { outbound: createOutboundGuard({ allow: { acme: ['api.acme.example'] } }) },
    });
    const r = await runAction(registry, 'http', { url: 'http://169.254.169.254/latest/meta-data/' });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/denied to every step/);
    const before = hits.length;
    const p = await runAction(
      registry,
      'probe',
      { url: `http://127.0.0.1:${port}/health` },
      { timeoutMs: 5000 },
    );
    expect(p.ok).toBe(false);
    expect(p.error).toMatch(/outbound allow-list/);
    expect(p.output.attempts).toBe(1);
    expect(hits.length).toBe(before);
  });
});
