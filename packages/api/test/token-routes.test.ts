// The token routes (token-routes.ts): listing, creating and revoking tokens in scope, and secrets that never leak.
// ------------------------------------------------------------------------------------------------------------
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertNoSecret,
  bearer,
  expectProblem,
  rememberSecret,
  seed,
  sha256Hex,
  startNode,
  type TestNode,
} from './helpers.ts';

describe('token API', () => {
  let node: TestNode;
  let admin: { id: string; token: string; auth: Record<string, string> };
  type View = {
    id: string;
    name: string;
    role: string;
    tenant: string;
    revokedAt: number | null;
    token?: string;
    secretHash?: string;
  };

  beforeAll(async () => {
    node = await startNode();
    admin = await node.mint('admin', '*');
  });
  afterAll(() => node.close());

  const createVia = async (auth: Record<string, string>, payload: Record<string, unknown>) =>
    node.send({ method: 'POST', url: '/api/tokens', headers: auth, payload });

  it('refuses unknown fields and bad ttlSeconds when creating a token, and honours a valid ttlSeconds', async () => {
    const extra = await createVia(admin.auth, { name: 'x', role: 'agent', tenant: 'a', scope: 'all' });
    expect(extra.statusCode).toBe(400);
    expect((extra.json() as { detail: string }).detail).toMatch(/unknown field "scope"/);
    for (const ttlSeconds of [0, -5, 1.5, '60']) {
      const bad = await createVia(admin.auth, { name: 'x', role: 'agent', tenant: 'a', ttlSeconds });
      expect(bad.statusCode).toBe(400);
    }
    const ok = await createVia(admin.auth, {
      name: 'short-lived',
      role: 'agent',
      tenant: 'a',
      ttlSeconds: 60,
    });
    expect(ok.statusCode).toBe(201);
    const body = ok.json() as View & { createdAt: number; expiresAt: number };
    rememberSecret(node.secrets, body.token!);
    expect(body.expiresAt - body.createdAt).toBe(60_000);
  });

  it('lets an admin create a token: 201 with the one-time secret, which then authenticates', async () => {
    const res = await createVia(admin.auth, { name: 'deploy-bot', role: 'agent', tenant: 'a' });
    expect(res.statusCode).toBe(201);
    const body = res.json() as View;
    expect(body).toMatchObject({ name: 'deploy-bot', role: 'agent', tenant: 'a', revokedAt: null });
    expect(body.token).toMatch(new RegExp(`^vm_${body.id}_[A-Za-z0-9_-]{43}$`));
    expect(body).not.toHaveProperty('secretHash');
    rememberSecret(node.secrets, body.token!);
    const write = await node.send({
      method: 'POST',
      url: '/api/ledger/receipts',
      headers: bearer(body.token!),
      payload: { kind: 'decision', body: { title: 'from a fresh token' } },
    });
    expect(write.statusCode).toBe(201);
    expect(write.json()).toMatchObject({
      receipt: { tenant: 'a', actor: expect.stringMatching(/^token:[a-z0-9*]+\/deploy-bot#/) },
    });
  });

  it.each([
    [{ name: 'x', role: 'root', tenant: 'a' }, /unknown role "root"/],
    [{ name: 'x', role: 'agent', tenant: 'A B' }, /invalid tenant/],
    [{ name: '', role: 'agent', tenant: 'a' }, /1\.\.100 printable characters/],
    [{ name: 'x', role: 'agent' }, /name, role and tenant are required/],
  ])('rejects an invalid token request %j with 400', async (payload, detail) => {
    const before = (await node.tokens.listTokens()).length;
    expectProblem(await createVia(admin.auth, payload), 400, detail);
    expect((await node.tokens.listTokens()).length).toBe(before);
  });

  it('lists tokens without their secrets or secret hashes', async () => {
    const extra = await node.mint('viewer', 'b', { name: 'listed' });
    const res = await node.send({ method: 'GET', url: '/api/tokens', headers: admin.auth });
    expect(res.statusCode).toBe(200);
    const items = (res.json() as { items: View[] }).items;
    expect(items.map((t) => t.id)).toEqual(expect.arrayContaining([admin.id, extra.id]));
    expect(items.find((t) => t.id === extra.id)).toMatchObject({
      name: 'listed',
      role: 'viewer',
      tenant: 'b',
    });
    for (const t of items) {
      expect(t).not.toHaveProperty('secretHash');
      expect(t).not.toHaveProperty('token');
    }
    for (const rec of await node.tokens.listTokens()) expect(res.body).not.toContain(rec.secretHash);
    expect(res.body).not.toContain(extra.token);
  });

  it('revokes a token: it stops authenticating at once, and a second revoke is 404', async () => {
    const victim = await node.mint('agent', '*');
    const probe = () =>
      node.send({ method: 'GET', url: '/api/ledger/receipts?limit=1', headers: victim.auth });
    expect((await probe()).statusCode).toBe(200);
    const res = await node.send({ method: 'DELETE', url: `/api/tokens/${victim.id}`, headers: admin.auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: victim.id, revoked: true });
    expectProblem(await probe(), 401, /revoked/);
    expectProblem(
      await node.send({ method: 'DELETE', url: `/api/tokens/${victim.id}`, headers: admin.auth }),
      404,
      /no active token/,
    );
    const items = (
      (await node.send({ method: 'GET', url: '/api/tokens', headers: admin.auth })).json() as {
        items: View[];
      }
    ).items;
    expect(items.find((t) => t.id === victim.id)!.revokedAt).toEqual(expect.any(Number));
  });

  it('forbids every token operation to non-admin roles (403) and to anonymous callers (401)', async () => {
    const target = await node.mint('viewer', '*');
    for (const role of ['operator', 'agent', 'auditor', 'viewer'] as const) {
      const t = await node.mint(role, '*');
      expectProblem(
        await node.send({ method: 'GET', url: '/api/tokens', headers: t.auth }),
        403,
        /tokens:manage/,
      );
      expectProblem(
        await createVia(t.auth, { name: 'sneaky', role: 'admin', tenant: '*' }),
        403,
        /tokens:manage/,
      );
      expectProblem(
        await node.send({ method: 'DELETE', url: `/api/tokens/${target.id}`, headers: t.auth }),
        403,
        /tokens:manage/,
      );
    }
    expectProblem(await node.send({ method: 'GET', url: '/api/tokens' }), 401, /missing bearer token/);
    expect((await node.tokens.getToken(target.id))!.revokedAt).toBeNull();
    expect((await node.tokens.listTokens()).some((t) => t.name === 'sneaky')).toBe(false);
  });

  it('confines a tenant-scoped admin to its own tenant when creating, listing and revoking', async () => {
    const adminA = await node.mint('admin', 'a');
    const otherB = await node.mint('agent', 'b');
    expectProblem(await createVia(adminA.auth, { name: 'x', role: 'agent', tenant: 'b' }), 403, /not b/);
    expectProblem(await createVia(adminA.auth, { name: 'x', role: 'admin', tenant: '*' }), 403, /not \*/);
    const ok = await createVia(adminA.auth, { name: 'a-bot', role: 'agent', tenant: 'a' });
    expect(ok.statusCode).toBe(201);
    rememberSecret(node.secrets, (ok.json() as View).token!);

    const items = (
      (await node.send({ method: 'GET', url: '/api/tokens', headers: adminA.auth })).json() as {
        items: View[];
      }
    ).items;
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((t) => t.tenant === 'a')).toBe(true);

    for (const id of [otherB.id, admin.id]) {
      const res = await node.send({ method: 'DELETE', url: `/api/tokens/${id}`, headers: adminA.auth });
      expect([403, 404]).toContain(res.statusCode);
      expect((await node.tokens.getToken(id))!.revokedAt).toBeNull();
    }
  });
});

// ------------------------------------------------------------------------------------------------------------

describe('secrets', () => {
  it('never appear in any response body, header or error, whatever the request', async () => {
    const node = await startNode({ bodyLimit: 4096 });
    try {
      const admin = await node.mint('admin', '*');
      const agentA = await node.mint('agent', 'a');
      const revoked = await node.mint('viewer', '*');
      await node.tokens.revokeToken(revoked.id, Date.now());
      const expired = await node.mint('agent', '*', { ttlMs: 1, now: Date.now() - 1000 });
      await seed(node, 3);
      await node.log.checkpoint();
      const variants = [admin, agentA, revoked, expired].flatMap((t) => [
        t.auth,
        bearer(t.token + 'x'),
        bearer(t.token.slice(0, -2)),
        { authorization: t.token },
        { authorization: `Bearer ${t.token} ${t.token}` },
      ]);
      const requests: InjectOptions[] = [
        { method: 'GET', url: '/api/ledger/receipts' },
        { method: 'GET', url: '/api/ledger/receipts?tenant=b' },
        { method: 'GET', url: '/api/ledger/receipts/0' },
        { method: 'GET', url: '/api/ledger/receipts/99' },
        { method: 'POST', url: '/api/ledger/receipts', payload: { kind: 'decision', body: { title: 'x' } } },
        { method: 'POST', url: '/api/ledger/receipts', payload: { kind: 'nope', body: {} } },
        { method: 'POST', url: '/api/ledger/receipts', payload: { kind: 'decision', body: {}, tenant: 'b' } },
        {
          method: 'POST',
          url: '/api/ledger/receipts',
          payload: { kind: 'x', body: { t: 'y'.repeat(5000) } },
        },
        { method: 'POST', url: '/api/ledger/checkpoint' },
        { method: 'GET', url: '/tile/entries/000.p/3' },
        { method: 'GET', url: '/api/tokens' },
        { method: 'POST', url: '/api/tokens', payload: { name: 'x', role: 'nope', tenant: 'a' } },
        { method: 'DELETE', url: `/api/tokens/${agentA.id}x` },
        { method: 'GET', url: '/api/backend/status' },
        { method: 'GET', url: '/metrics' },
        { method: 'GET', url: '/nope' },
      ];
      let checked = 0;
      for (const headers of variants) {
        for (const r of requests) {
          await node.send({ ...r, headers: { ...headers, ...(r.headers ?? {}) } });
          checked++;
        }
      }
      expect(checked).toBe(variants.length * requests.length);
      // `send` throws on a leak; re-check the collected bodies here so the assertion is explicit.
      const all = node.seen.join('\n');
      for (const s of node.secrets) expect(all.includes(s)).toBe(false);
      expect(node.secrets.size).toBe(4 * 3);
    } finally {
      await node.close();
    }
  });

  it('the leak scanner flags a secret, its secret part or its hash in a body or a header', () => {
    const secrets = new Set<string>();
    const token = `vm_${'ab'.repeat(8)}_${'Q'.repeat(43)}`;
    rememberSecret(secrets, token);
    const fake = (body: string, headers: Record<string, string> = {}) =>
      ({ body, headers }) as unknown as LightMyRequestResponse;
    expect(() => assertNoSecret(secrets, fake('{"ok":true}'), 'clean')).not.toThrow();
    expect(() => assertNoSecret(secrets, fake(`{"t":"${token}"}`), 'token')).toThrow(/token secret/);
    expect(() => assertNoSecret(secrets, fake('Q'.repeat(43)), 'secret part')).toThrow(/token secret/);
    const hash = sha256Hex('Q'.repeat(43));
    expect(() => assertNoSecret(secrets, fake('', { etag: hash }), 'hash in header')).toThrow(/token secret/);
  });
});
