// HTTP API contract, in process: buildApp + app.inject over the memory driver, a memory token store and a real
// Ed25519 node key. Every response is also scanned for token secrets (see `send`).
import { createHash } from 'node:crypto';
import { generateNodeKey, nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { createMemoryTokenStore, createToken, type Role, type TokenStore } from '@vaultmesh/auth';
import {
  canonicalBytes,
  concatBytes,
  decodeReceipt,
  fromHex,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  toHex,
  verifyConsistency,
  verifyInclusion,
  type Checkpoint,
} from '@vaultmesh/ledger';
import { Log, LogError, createMemoryStorage, type LogStorage } from '@vaultmesh/log';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, createNodeMetrics, createRateLimiter, type RateLimits } from '../src/index.ts';

const ORIGIN = 'api.test.vaultmesh/log';
const KEY = generateNodeKey(ORIGIN);
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

interface TestNode {
  readonly app: FastifyInstance;
  readonly log: Log;
  readonly storage: LogStorage;
  readonly tokens: TokenStore;
  /** Receipt time source of the log (ms); tests move it. */
  readonly clock: { t: number };
  /** Issues a token straight into the store; its secret, secret part and hash are remembered as secrets. */
  mint(
    role: Role,
    tenant: string,
    extra?: { name?: string; ttlMs?: number; now?: number },
  ): Promise<{ id: string; token: string; auth: Record<string, string> }>;
  /** app.inject that fails the test if a remembered secret appears in a response. */
  send(opts: InjectOptions): Promise<LightMyRequestResponse>;
  /** Every response body seen so far (for the leak scan). */
  readonly seen: string[];
  readonly secrets: Set<string>;
  close(): Promise<void>;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

function rememberSecret(secrets: Set<string>, token: string): void {
  secrets.add(token);
  const secret = token.slice('vm_'.length + 16 + 1);
  secrets.add(secret);
  secrets.add(sha256Hex(secret));
}

function assertNoSecret(secrets: Set<string>, res: LightMyRequestResponse, where: string): void {
  const haystack = res.body + '\n' + JSON.stringify(res.headers);
  for (const s of secrets) {
    if (haystack.includes(s)) throw new Error(`${where}: response contains a token secret`);
  }
}

async function startNode(
  opts: { bodyLimit?: number; full?: { on: boolean }; rateLimits?: Partial<RateLimits> } = {},
): Promise<TestNode> {
  const base = createMemoryStorage();
  // `full` makes every commit fail as SQLite does on a full disk (the message its writer reports).
  const storage: LogStorage = opts.full
    ? Object.assign(Object.create(base) as LogStorage, {
        commit: async (batch: Parameters<LogStorage['commit']>[0]) => {
          if (opts.full!.on)
            throw new LogError('STORAGE', 'database error: database or disk is full', {
              cause: Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }),
            });
          return base.commit(batch);
        },
      })
    : base;
  const clock = { t: T0 };
  const log = await Log.open({
    storage,
    origin: ORIGIN,
    signer: KEY.signer,
    hasher: nodeHasher,
    now: () => clock.t,
  });
  const tokens = createMemoryTokenStore();
  const metrics = createNodeMetrics({ defaultMetrics: false });
  metrics.bindLog(() => log.stats());
  const app = await buildApp({
    log,
    storage,
    tokens,
    verifierKey: KEY.verifierKey,
    verifierKeyText: KEY.verifierKeyText,
    metrics,
    status: { mode: 'dry-run', storage: 'memory', keySealed: false, version: '0.0.0-test' },
    bodyLimit: opts.bodyLimit,
    maxWaitMs: 5_000,
    ...(opts.rateLimits ? { rateLimits: opts.rateLimits } : {}),
  });
  const secrets = new Set<string>();
  const seen: string[] = [];
  let n = 0;
  return {
    app,
    log,
    storage,
    tokens,
    clock,
    secrets,
    seen,
    async mint(role, tenant, extra = {}) {
      const { record, token } = await createToken(tokens, {
        name: extra.name ?? `${role}-${tenant === '*' ? 'all' : tenant}-${n++}`,
        role,
        tenant,
        ttlMs: extra.ttlMs,
        now: extra.now,
      });
      rememberSecret(secrets, token);
      return { id: record.id, token, auth: bearer(token) };
    },
    async send(o) {
      const res = await app.inject(o);
      seen.push(res.body);
      assertNoSecret(secrets, res, `${o.method ?? 'GET'} ${String(o.url)}`);
      return res;
    },
    async close() {
      await app.close();
      await log.close();
    },
  };
}

const decision = (title: string, tenant = 'default') => ({
  kind: 'decision',
  actor: 'seed',
  tenant,
  body: { title },
});

function expectProblem(res: LightMyRequestResponse, status: number, detail: RegExp): void {
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const p = res.json() as { status: number; detail: string; title: string; type: string; code: string };
  expect(p.status).toBe(status);
  expect(p.detail).toMatch(detail);
  expect(p.type).toMatch(/^https:\/\//);
  expect(p.title.length).toBeGreaterThan(0);
}

/** Opens a signed note with the node's key and returns the checkpoint it signs. */
function signedCheckpoint(note: string): Checkpoint {
  return parseCheckpoint(openNote(note, [KEY.verifierKey], nodeEd25519Verify).text);
}

async function seed(node: TestNode, count: number, make = (i: number) => decision(`decision ${i}`)) {
  const rs = await Promise.all(Array.from({ length: count }, (_, i) => node.log.append(make(i))));
  return rs.map((r) => fromHex(r.leafHash));
}

// ------------------------------------------------------------------------------------------------------------

describe('system endpoints', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode();
    await seed(node, 3);
  });
  afterAll(() => node.close());

  it('GET /api/system/health reports ok and the committed ledger size', async () => {
    const res = await node.send({ method: 'GET', url: '/api/system/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'ok',
      checks: { storage: 'ok' },
      ledger: { size: 3, checkpointSize: 0 },
    });
  });

  it('GET /api/system/health answers 503 "degraded" when the ledger storage stops answering', async () => {
    const broken = await startNode();
    await broken.storage.close();
    const res = await broken.send({ method: 'GET', url: '/api/system/health' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'degraded', checks: { storage: 'failing' } });
    await broken.app.close();
  });

  it('GET /api/backend/status reports mode, storage, origin and the node verifier key', async () => {
    const res = await node.send({ method: 'GET', url: '/api/backend/status' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { mode: string; origin: string; verifierKey: string; storage: string };
    expect(body).toMatchObject({ mode: 'dry-run', storage: 'memory', origin: ORIGIN, ledger: { size: 3 } });
    expect(parseVerifierKey(body.verifierKey).publicKey).toEqual(KEY.verifierKey.publicKey);
  });

  it('GET /metrics serves Prometheus text with the ledger entry gauge', async () => {
    const res = await node.send({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/^# TYPE vaultmesh_ledger_entries gauge$/m);
    expect(res.body).toMatch(/^vaultmesh_ledger_entries 3$/m);
  });

  it('answers unknown routes with a problem+json 404', async () => {
    expectProblem(await node.send({ method: 'GET', url: '/api/nope' }), 404, /no route GET \/api\/nope/);
  });
});

// ------------------------------------------------------------------------------------------------------------

describe('POST /api/ledger/receipts: authentication and authorization', () => {
  let node: TestNode;
  const post = (headers: Record<string, string>, payload: unknown, url = '/api/ledger/receipts') =>
    node.send({ method: 'POST', url, headers, payload: payload as Record<string, unknown> });
  const good = { kind: 'decision', body: { title: 'Use PostgreSQL' } };

  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(() => node.close());

  it('rejects a request without a token, or with a malformed, unknown, revoked or expired one, with 401', async () => {
    const real = await node.mint('admin', '*');
    const revoked = await node.mint('admin', '*');
    expect(await node.tokens.revokeToken(revoked.id, Date.now())).toBe(true);
    const expired = await node.mint('admin', '*', { ttlMs: 1000, now: Date.now() - 60_000 });
    const wrongSecret = `vm_${real.id}_${'A'.repeat(43)}`;
    const cases: [string, Record<string, string>, RegExp][] = [
      ['no header', {}, /missing bearer token/],
      ['not bearer', { authorization: `Basic ${real.token}` }, /missing bearer token/],
      ['malformed', bearer('not-a-token'), /malformed bearer token/],
      ['truncated', bearer(real.token.slice(0, -1)), /malformed bearer token/],
      ['wrong secret', bearer(wrongSecret), /invalid token/],
      ['unknown id', bearer(`vm_${'0'.repeat(16)}_${'A'.repeat(43)}`), /invalid token/],
      ['revoked', revoked.auth, /revoked/],
      ['expired', expired.auth, /expired/],
    ];
    for (const [name, headers, detail] of cases) {
      const res = await post(headers, good);
      expectProblem(res, 401, detail);
      expect(res.headers['www-authenticate'], name).toMatch(/^Bearer realm=/);
    }
    expect(await node.storage.size()).toBe(0);
  });

  it('forbids roles without receipts:write (viewer, auditor) with 403', async () => {
    for (const role of ['viewer', 'auditor'] as const) {
      const t = await node.mint(role, '*');
      expectProblem(await post(t.auth, good), 403, new RegExp(`role ${role} may not receipts:write`));
    }
    expect(await node.storage.size()).toBe(0);
  });

  it('forbids an agent scoped to tenant "a" from writing tenant "b", and defaults its writes to "a"', async () => {
    const agentA = await node.mint('agent', 'a');
    expectProblem(await post(agentA.auth, { ...good, tenant: 'b' }), 403, /scoped to tenant a, not b/);
    expect(await node.storage.size()).toBe(0);
    const res = await post(agentA.auth, good);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ receipt: { tenant: 'a' } });
  });

  it('appends with 201 and returns the index, the RFC 6962 leaf hash and the sequenced receipt', async () => {
    const t = await node.mint('operator', '*', { name: 'ops-bot' });
    const before = await node.storage.size();
    const res = await post(t.auth, { ...good, tenant: 'acme' });
    expect(res.statusCode).toBe(201);
    const body = res.json() as { index: number; leafHash: string; receipt: Record<string, unknown> };
    expect(body.index).toBe(before);
    expect(body.receipt).toMatchObject({
      v: 1,
      kind: 'decision',
      actor: expect.stringMatching(/^token:[a-z0-9*]+\/ops-bot#[0-9a-f]{16}$/),
      tenant: 'acme',
      body: { title: 'Use PostgreSQL' },
    });
    expect(body.leafHash).toBe(toHex(nodeHasher.hashLeaf(canonicalBytes(body.receipt))));
    const stored = await node.storage.getEntry(body.index);
    expect(toHex(stored!.leafHash)).toBe(body.leafHash);
    expect(await node.storage.size()).toBe(before + 1);
  });

  it('with ?wait=checkpoint returns a signed checkpoint and an inclusion proof that verifies against it', async () => {
    const t = await node.mint('agent', '*');
    await seed(node, 5);
    const res = await post(t.auth, good, '/api/ledger/receipts?wait=checkpoint');
    expect(res.statusCode).toBe(201);
    const body = res.json() as {
      index: number;
      leafHash: string;
      checkpoint: { origin: string; size: number; root: string; note: string };
      proof: { index: number; size: number; leafHash: string; proof: string[] };
    };
    // Trust comes from the node's published verifier key, not from anything in this response.
    const status = (await node.send({ method: 'GET', url: '/api/backend/status' })).json() as {
      verifierKey: string;
    };
    const vk = parseVerifierKey(status.verifierKey);
    const cp = parseCheckpoint(openNote(body.checkpoint.note, [vk], nodeEd25519Verify).text);
    expect(cp.origin).toBe(ORIGIN);
    expect(cp.size).toBeGreaterThan(body.index);
    expect(body.checkpoint).toMatchObject({ origin: ORIGIN, size: cp.size, root: toHex(cp.root) });
    expect(body.proof).toMatchObject({ index: body.index, size: cp.size, leafHash: body.leafHash });
    const proof = body.proof.proof.map(fromHex);
    expect(proof.length).toBeGreaterThan(0);
    expect(verifyInclusion(nodeHasher, body.index, cp.size, fromHex(body.leafHash), proof, cp.root)).toBe(
      true,
    );
    // The same proof must not verify a different leaf.
    const other = nodeHasher.hashLeaf(new TextEncoder().encode('forged'));
    expect(verifyInclusion(nodeHasher, body.index, cp.size, other, proof, cp.root)).toBe(false);
  });

  it('rejects an unknown ?wait value with 400 before appending', async () => {
    const t = await node.mint('agent', '*');
    const before = await node.storage.size();
    expectProblem(
      await post(t.auth, good, '/api/ledger/receipts?wait=forever'),
      400,
      /wait must be "checkpoint"/,
    );
    await node.log.idle();
    expect(await node.storage.size()).toBe(before);
  });
});

// ------------------------------------------------------------------------------------------------------------

describe('POST /api/ledger/receipts: bad input gets a 4xx problem and writes nothing', () => {
  const BODY_LIMIT = 8 * 1024;
  let node: TestNode;
  let auth: Record<string, string>;
  beforeAll(async () => {
    node = await startNode({ bodyLimit: BODY_LIMIT });
    auth = (await node.mint('admin', '*')).auth;
    await seed(node, 1);
  });
  afterAll(() => node.close());

  const json = 'application/json';
  const cases: { name: string; type: string; payload: string; status: number; detail: RegExp }[] = [
    {
      name: 'malformed JSON',
      type: json,
      payload: '{"kind": "decision",',
      status: 400,
      detail: /not valid JSON/,
    },
    { name: 'an empty body', type: json, payload: '', status: 400, detail: /cannot be empty/ },
    {
      name: 'a JSON array',
      type: json,
      payload: '[{"kind":"decision"}]',
      status: 400,
      detail: /JSON object/,
    },
    { name: 'JSON null', type: json, payload: 'null', status: 400, detail: /JSON object/ },
    {
      name: 'an unknown kind',
      type: json,
      payload: JSON.stringify({ kind: 'gossip', body: { title: 'x' } }),
      status: 400,
      detail: /\/kind: must be one of decision, deploy/,
    },
    {
      name: 'a non-string kind',
      type: json,
      payload: JSON.stringify({ kind: 7, body: { title: 'x' } }),
      status: 400,
      detail: /kind is required/,
    },
    {
      name: 'a body missing a required field',
      type: json,
      payload: JSON.stringify({ kind: 'deploy', body: { service: 'api', version: '1.2.3' } }),
      status: 400,
      detail: /\/body: must have required property 'environment'/,
    },
    {
      name: 'a body field of the wrong type',
      type: json,
      payload: JSON.stringify({ kind: 'decision', body: { title: 42 } }),
      status: 400,
      detail: /\/body\/title: must be string/,
    },
    {
      name: 'a body that is not an object',
      type: json,
      payload: JSON.stringify({ kind: 'decision', body: 'Use PostgreSQL' }),
      status: 400,
      detail: /body must be a JSON object/,
    },
    {
      name: 'an unknown top-level field',
      type: json,
      payload: JSON.stringify({ kind: 'decision', body: { title: 'x' }, actor: 'someone-else' }),
      status: 400,
      detail: /unknown field "actor"/,
    },
    {
      name: 'a body over the body limit',
      type: json,
      payload: JSON.stringify({ kind: 'decision', body: { title: 'x', rationale: 'y'.repeat(BODY_LIMIT) } }),
      status: 413,
      detail: /too large/i,
    },
    {
      name: 'a text/plain body',
      type: 'text/plain',
      payload: JSON.stringify({ kind: 'decision', body: { title: 'x' } }),
      status: 415,
      detail: /unsupported media type/i,
    },
    {
      name: 'a form-encoded body',
      type: 'application/x-www-form-urlencoded',
      payload: 'kind=decision&title=x',
      status: 415,
      detail: /unsupported media type/i,
    },
    {
      name: 'an invalid tenant string',
      type: json,
      payload: JSON.stringify({ kind: 'decision', body: { title: 'x' }, tenant: 'Not A Tenant!' }),
      status: 400,
      detail: /\/tenant: must match pattern/,
    },
    {
      name: 'parents that are not an array',
      type: json,
      payload: JSON.stringify({ kind: 'decision', body: { title: 'x' }, parents: 0 }),
      status: 400,
      detail: /parents must be an array/,
    },
    {
      name: 'a parent pointing past the end of the log',
      type: json,
      payload: JSON.stringify({ kind: 'decision', body: { title: 'x' }, parents: [1] }),
      status: 400,
      detail: /parent 1 does not exist \(log size 1\)/,
    },
    {
      name: 'a negative parent',
      type: json,
      payload: JSON.stringify({ kind: 'decision', body: { title: 'x' }, parents: [-1] }),
      status: 400,
      detail: /parent -1 does not exist/,
    },
    {
      name: 'a parent reference with the wrong leaf hash',
      type: json,
      payload: JSON.stringify({
        kind: 'decision',
        body: { title: 'x' },
        parents: [{ index: 0, leafHash: '0'.repeat(64) }],
      }),
      status: 400,
      detail: /parent 0 leaf hash does not match/,
    },
  ];

  it.each(cases)('rejects $name with $status', async ({ type, payload, status, detail }) => {
    const before = await node.storage.size();
    const res = await node.send({
      method: 'POST',
      url: '/api/ledger/receipts',
      headers: { ...auth, 'content-type': type },
      payload,
    });
    expectProblem(res, status, detail);
    await node.log.idle();
    expect(await node.storage.size()).toBe(before);
    expect(node.log.stats()).toMatchObject({ size: before, pending: 0 });
  });

  it('rejects a receipt whose canonical form exceeds 65535 bytes even under the body limit', async () => {
    const big = await startNode({ bodyLimit: 256 * 1024 });
    try {
      const t = await big.mint('admin', '*');
      const res = await big.send({
        method: 'POST',
        url: '/api/ledger/receipts',
        headers: t.auth,
        payload: { kind: 'decision', body: { title: 'x', notes: 'z'.repeat(70_000) } },
      });
      expectProblem(res, 400, /the limit is 65535/);
      await big.log.idle();
      expect(await big.storage.size()).toBe(0);
    } finally {
      await big.close();
    }
  });

  it('still accepts a valid receipt afterwards (the rejections above are not a broken endpoint)', async () => {
    const res = await node.send({
      method: 'POST',
      url: '/api/ledger/receipts',
      headers: auth,
      payload: { kind: 'decision', body: { title: 'x' }, parents: [0] },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ index: 1, receipt: { parents: [{ index: 0 }] } });
  });
});

// ------------------------------------------------------------------------------------------------------------

describe('GET /api/ledger/receipts: tenant scope, paging and filters', () => {
  const N = 30;
  const tenantOf = (i: number) => ['a', 'b', 'default'][i % 3]!;
  const kindOf = (i: number) => (i % 5 === 0 ? 'deploy' : 'decision');
  let node: TestNode;
  let admin: Record<string, string>;
  let viewerA: Record<string, string>;

  type Item = { index: number; leafHash: string; receipt: { tenant: string; kind: string; time: string } };
  type Page = { items: Item[]; next: { after?: number; before?: number } | null };

  beforeAll(async () => {
    node = await startNode();
    // One receipt per second from T0, so time filters have exact answers.
    for (let i = 0; i < N; i++) {
      node.clock.t = T0 + i * 1000;
      await node.log.append(
        kindOf(i) === 'deploy'
          ? {
              kind: 'deploy',
              actor: 'seed',
              tenant: tenantOf(i),
              body: { service: `svc-${i}`, version: '1.0.0', environment: 'prod' },
            }
          : decision(i === 7 ? 'Use PostgreSQL' : `decision ${i}`, tenantOf(i)),
      );
    }
    admin = (await node.mint('admin', '*')).auth;
    viewerA = (await node.mint('viewer', 'a')).auth;
  });
  afterAll(() => node.close());

  const list = (query: string, headers: Record<string, string> = admin) =>
    node.send({ method: 'GET', url: `/api/ledger/receipts${query}`, headers });
  const indexes = (p: Page) => p.items.map((x) => x.index);
  const all = Array.from({ length: N }, (_, i) => i);

  it('requires a token (401 with WWW-Authenticate)', async () => {
    for (const url of ['/api/ledger/receipts', '/api/ledger/receipts/0']) {
      const res = await node.send({ method: 'GET', url });
      expectProblem(res, 401, /missing bearer token/);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    }
  });

  it('shows a token scoped to tenant "a" only tenant-a receipts', async () => {
    const page = (await list('?limit=1000', viewerA)).json() as Page;
    expect(indexes(page)).toEqual(all.filter((i) => tenantOf(i) === 'a'));
    expect(page.items.every((x) => x.receipt.tenant === 'a')).toBe(true);
    const explicit = (await list('?tenant=a&limit=1000', viewerA)).json() as Page;
    expect(indexes(explicit)).toEqual(indexes(page));
  });

  it('forbids a tenant-"a" token from asking for tenant "b" (403)', async () => {
    expectProblem(await list('?tenant=b', viewerA), 403, /scoped to tenant a, not b/);
  });

  it('forbids a tenant-"a" token from reading a tenant-"b" receipt by index (403) but serves its own', async () => {
    expectProblem(
      await node.send({ method: 'GET', url: '/api/ledger/receipts/1', headers: viewerA }),
      403,
      /scoped to tenant a; this resource is outside it/,
    );
    const own = await node.send({ method: 'GET', url: '/api/ledger/receipts/3', headers: viewerA });
    expect(own.statusCode).toBe(200);
    const item = own.json() as Item;
    expect(item).toMatchObject({ index: 3, receipt: { tenant: 'a' } });
    const stored = await node.storage.getEntry(3);
    expect(item.leafHash).toBe(toHex(stored!.leafHash));
  });

  it('lets an all-tenant token read every tenant and filter by one', async () => {
    expect(indexes((await list('?limit=1000')).json() as Page)).toEqual(all);
    expect(indexes((await list('?tenant=b&limit=1000')).json() as Page)).toEqual(
      all.filter((i) => tenantOf(i) === 'b'),
    );
  });

  it('walks every item exactly once with limit and the next.after cursor', async () => {
    const seen: number[] = [];
    let query = '?limit=4';
    let pages = 0;
    for (;;) {
      const page = (await list(query)).json() as Page;
      pages++;
      expect(page.items.length).toBeLessThanOrEqual(4);
      seen.push(...indexes(page));
      if (!page.next) break;
      expect(page.next.after).toBe(page.items.at(-1)!.index);
      query = `?limit=4&after=${page.next.after}`;
      expect(pages).toBeLessThan(20);
    }
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(N / 4) + (N % 4 === 0 ? 1 : 0));
  });

  it('walks newest first with order=desc and the next.before cursor, within the token scope', async () => {
    const seen: number[] = [];
    let query = '?order=desc&limit=3';
    for (let pages = 0; pages < 20; pages++) {
      const page = (await list(query, viewerA)).json() as Page;
      seen.push(...indexes(page));
      if (!page.next) break;
      query = `?order=desc&limit=3&before=${page.next.before}`;
    }
    expect(seen).toEqual(all.filter((i) => tenantOf(i) === 'a').reverse());
  });

  it('filters by kind, by time window (RFC 3339 or Unix ms) and by text', async () => {
    const deploys = (await list('?kind=deploy&limit=1000')).json() as Page;
    expect(indexes(deploys)).toEqual(all.filter((i) => kindOf(i) === 'deploy'));
    expect(deploys.items.every((x) => x.receipt.kind === 'deploy')).toBe(true);

    const from = new Date(T0 + 10_000).toISOString();
    const to = new Date(T0 + 14_000).toISOString();
    expect(indexes((await list(`?from=${from}&to=${to}`)).json() as Page)).toEqual([10, 11, 12, 13, 14]);
    expect(indexes((await list(`?from=${T0 + 28_000}`)).json() as Page)).toEqual([28, 29]);
    expect(indexes((await list(`?to=${T0 + 1_000}`)).json() as Page)).toEqual([0, 1]);

    const found = (await list('?q=PostgreSQL')).json() as Page;
    expect(indexes(found)).toEqual([7]);
    expect(indexes((await list('?q=PostgreSQL', viewerA)).json() as Page)).toEqual([]);
    expect(indexes((await list('?kind=deploy&tenant=a&limit=1000')).json() as Page)).toEqual(
      all.filter((i) => kindOf(i) === 'deploy' && tenantOf(i) === 'a'),
    );
  });

  it.each([
    ['limit=0', /limit must be between 1 and 1000/],
    ['limit=1001', /limit must be between 1 and 1000/],
    ['limit=abc', /limit must be an integer/],
    ['limit=1.5', /limit must be an integer/],
    ['order=sideways', /order must be asc or desc/],
    ['frobnicate=1', /unknown query parameter frobnicate/],
    ['from=yesterday', /from must be an RFC 3339 time/],
    ['after=-2', /after must be between -1/],
  ])('rejects the query %s with 400', async (query, detail) => {
    expectProblem(await list(`?${query}`), 400, detail);
  });

  it('rejects a non-numeric index with 400 and a missing one with 404', async () => {
    expectProblem(
      await node.send({ method: 'GET', url: '/api/ledger/receipts/abc', headers: admin }),
      400,
      /index must be an integer/,
    );
    expectProblem(
      await node.send({ method: 'GET', url: `/api/ledger/receipts/${N}`, headers: admin }),
      404,
      new RegExp(`no entry ${N}`),
    );
  });
});

// ------------------------------------------------------------------------------------------------------------

describe('proof endpoints and checkpoints', () => {
  const N = 300;
  let node: TestNode;
  let leaves: Uint8Array[];
  let operator: Record<string, string>;
  let cpSmall: Checkpoint;
  let cpLatest: Checkpoint;

  const get = (url: string) => node.send({ method: 'GET', url });

  beforeAll(async () => {
    node = await startNode();
    operator = (await node.mint('operator', '*')).auth;
    leaves = await seed(node, 100);
  });
  afterAll(() => node.close());

  it('answers 404 while no checkpoint exists', async () => {
    expectProblem(await get('/api/ledger/checkpoint'), 404, /no checkpoint/);
    expectProblem(await get('/checkpoint'), 404, /no checkpoint/);
    expectProblem(await get('/api/ledger/proof/inclusion?index=0'), 404, /no checkpoint/);
  });

  it('publishes checkpoints only for principals with checkpoint:publish', async () => {
    const post = (headers: Record<string, string>) =>
      node.send({ method: 'POST', url: '/api/ledger/checkpoint', headers });
    expectProblem(await post({}), 401, /missing bearer token/);
    expectProblem(await post((await node.mint('agent', '*')).auth), 403, /may not checkpoint:publish/);
    const res = await post(operator);
    expect(res.statusCode).toBe(200);
    const body = res.json() as { size: number; root: string; note: string; origin: string };
    cpSmall = signedCheckpoint(body.note);
    expect(cpSmall.size).toBe(100);
    expect(body).toMatchObject({ origin: ORIGIN, size: 100, root: toHex(cpSmall.root) });

    leaves.push(...(await seed(node, N - 100, (i) => decision(`later ${i}`))));
    const latest = (await post(operator)).json() as { note: string };
    cpLatest = signedCheckpoint(latest.note);
    expect(cpLatest.size).toBe(N);
  });

  it('GET /api/ledger/checkpoint returns the latest signed note and the verifier key', async () => {
    const res = await get('/api/ledger/checkpoint');
    expect(res.statusCode).toBe(200);
    const body = res.json() as { size: number; note: string; verifierKey: string };
    expect(body.size).toBe(N);
    expect(body.verifierKey).toBe(KEY.verifierKeyText);
    expect(toHex(signedCheckpoint(body.note).root)).toBe(toHex(cpLatest.root));
  });

  it('serves an inclusion proof for every index of a 300-entry log that verifies against the latest checkpoint', async () => {
    for (let i = 0; i < N; i++) {
      const res = await get(`/api/ledger/proof/inclusion?index=${i}`);
      expect(res.statusCode).toBe(200);
      const p = res.json() as { index: number; size: number; leafHash: string; proof: string[] };
      expect(p.size).toBe(N);
      expect(p.leafHash).toBe(toHex(leaves[i]!));
      const ok = verifyInclusion(nodeHasher, i, N, leaves[i]!, p.proof.map(fromHex), cpLatest.root);
      if (!ok) expect.fail(`inclusion proof of index ${i} does not verify`);
    }
  });

  it('serves inclusion proofs against an earlier tree size on request', async () => {
    const p = (await get('/api/ledger/proof/inclusion?index=42&size=100')).json() as { proof: string[] };
    expect(verifyInclusion(nodeHasher, 42, 100, leaves[42]!, p.proof.map(fromHex), cpSmall.root)).toBe(true);
    expect(verifyInclusion(nodeHasher, 42, 100, leaves[42]!, p.proof.map(fromHex), cpLatest.root)).toBe(
      false,
    );
  });

  it('serves a consistency proof between two signed checkpoints that verifies', async () => {
    const res = await get(`/api/ledger/proof/consistency?from=${cpSmall.size}&to=${cpLatest.size}`);
    expect(res.statusCode).toBe(200);
    const body = res.json() as { from: number; to: number; proof: string[] };
    expect(body).toMatchObject({ from: 100, to: N });
    const proof = body.proof.map(fromHex);
    expect(verifyConsistency(nodeHasher, 100, N, proof, cpSmall.root, cpLatest.root)).toBe(true);
    const tampered = proof.map((h, i) => (i === 0 ? nodeHasher.hashLeaf(h) : h));
    expect(verifyConsistency(nodeHasher, 100, N, tampered, cpSmall.root, cpLatest.root)).toBe(false);
    const same = (await get(`/api/ledger/proof/consistency?from=${N}&to=${N}`)).json() as { proof: string[] };
    expect(same.proof).toEqual([]);
  });

  it.each([
    ['/api/ledger/proof/inclusion', /index is required/],
    ['/api/ledger/proof/inclusion?index=', /index is required/],
    ['/api/ledger/proof/inclusion?index=-1', /index must be between 0/],
    ['/api/ledger/proof/inclusion?index=abc', /index must be an integer/],
    ['/api/ledger/proof/inclusion?index=0&size=0', /size must be between 1/],
    ['/api/ledger/proof/inclusion?index=300', /index 300 is not below tree size 300/],
    ['/api/ledger/proof/inclusion?index=0&size=301', /tree size 301 exceeds the log size 300/],
    ['/api/ledger/proof/inclusion?index=100&size=100', /index 100 is not below tree size 100/],
    ['/api/ledger/proof/consistency', /from and to are required/],
    ['/api/ledger/proof/consistency?from=1', /from and to are required/],
    ['/api/ledger/proof/consistency?from=x&to=2', /from must be an integer/],
    ['/api/ledger/proof/consistency?from=3&to=2', /first size must be between 0 and 2/],
    ['/api/ledger/proof/consistency?from=1&to=301', /second size 301 exceeds the log size 300/],
  ])('rejects %s with 400', async (url, detail) => {
    expectProblem(await get(url), 400, detail);
  });
});

// ------------------------------------------------------------------------------------------------------------

describe('tlog-tiles', () => {
  let node: TestNode;
  let leaves: Uint8Array[];
  const get = (url: string, headers: Record<string, string> = {}) =>
    node.send({ method: 'GET', url, headers });

  beforeAll(async () => {
    node = await startNode();
    leaves = await seed(node, 5, (i) => decision(`tile ${i}`, i % 2 ? 'a' : 'b'));
    await node.log.checkpoint();
  });
  afterAll(() => node.close());

  it('GET /checkpoint is the signed note text, uncached', async () => {
    const res = await get('/checkpoint');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.body).toBe((await node.log.latestCheckpoint())!.note);
    expect(signedCheckpoint(res.body)).toMatchObject({ origin: ORIGIN, size: 5 });
  });

  it('serves a partial level-0 tile whose w*32 bytes are the leaf hashes', async () => {
    for (const w of [1, 3, 5]) {
      const res = await get(`/tile/0/000.p/${w}`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.rawPayload.length).toBe(w * 32);
      expect(toHex(res.rawPayload)).toBe(toHex(concatBytes(...leaves.slice(0, w))));
    }
    expectProblem(await get('/tile/0/000.p/6'), 404, /tile not available/);
    expectProblem(await get('/tile/0/000'), 404, /tile not available/);
  });

  it.each([
    '/tile/0/0',
    '/tile/0/0000',
    '/tile/0/1',
    '/tile/-1/000',
    '/tile/01/000',
    '/tile/abc/000',
    '/tile/0/000.p/0',
    '/tile/0/000.p/256',
    '/tile/0/000.p/007',
    '/tile/0/000.p/abc',
    '/tile/0/000.p',
    '/tile/0/x000/001',
    '/tile/0/x001',
    '/tile/entries',
    '/tile/0/000/extra.p/1',
  ])('rejects the invalid tile path %s with 400', async (url) => {
    expectProblem(await get(url), 400, /invalid tile path/);
  });

  it('guards entry bundles: 401 without a token, 403 for a tenant-scoped token, 200 for an all-tenant token', async () => {
    const url = '/tile/entries/000.p/5';
    const anon = await get(url);
    expectProblem(anon, 401, /missing bearer token/);
    expect(anon.headers['www-authenticate']).toMatch(/^Bearer/);
    expectProblem(await get(url, (await node.mint('admin', 'a')).auth), 403, /every tenant/);
    expectProblem(await get(url, (await node.mint('agent', 'b')).auth), 403, /every tenant/);

    const res = await get(url, (await node.mint('admin', '*')).auth);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    // Bundle: for each entry a uint16 big-endian length and then the receipt's canonical bytes.
    const buf = res.rawPayload;
    const got: Uint8Array[] = [];
    let off = 0;
    while (off < buf.length) {
      expect(off + 2).toBeLessThanOrEqual(buf.length);
      const len = buf.readUInt16BE(off);
      got.push(new Uint8Array(buf.subarray(off + 2, off + 2 + len)));
      off += 2 + len;
    }
    expect(off).toBe(buf.length);
    expect(got.length).toBe(5);
    got.forEach((bytes, i) => {
      expect(decodeReceipt(bytes)).toMatchObject({ kind: 'decision', body: { title: `tile ${i}` } });
      expect(toHex(nodeHasher.hashLeaf(bytes))).toBe(toHex(leaves[i]!));
    });
    expectProblem(
      await get('/tile/entries/000.p/6', (await node.mint('viewer', '*')).auth),
      404,
      /not available/,
    );
  });

  it('serves a full tile with immutable caching once 256 entries exist, and the next level above it', async () => {
    leaves.push(...(await seed(node, 300 - 5, (i) => decision(`more ${i}`))));
    const full = await get('/tile/0/000');
    expect(full.statusCode).toBe(200);
    expect(full.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(full.rawPayload.length).toBe(256 * 32);
    expect(toHex(full.rawPayload)).toBe(toHex(concatBytes(...leaves.slice(0, 256))));

    const rest = await get('/tile/0/001.p/44');
    expect(rest.headers['cache-control']).toBe('no-cache');
    expect(toHex(rest.rawPayload)).toBe(toHex(concatBytes(...leaves.slice(256, 300))));
    expectProblem(await get('/tile/0/001.p/45'), 404, /tile not available/);

    // Level 1 holds the roots of complete level-0 tiles: its first hash is MTH of leaves 0..255.
    const up = await get('/tile/1/000.p/1');
    expect(up.statusCode).toBe(200);
    expect(toHex(up.rawPayload)).toBe(toHex(await node.log.rootAt(256)));

    // An entry bundle needs a token: no shared cache may keep it for anyone else.
    const bundle = await get('/tile/entries/000', (await node.mint('viewer', '*')).auth);
    expect(bundle.statusCode).toBe(200);
    expect(bundle.headers['cache-control']).toBe('private, max-age=31536000, immutable');
    expect(bundle.headers.vary).toMatch(/Authorization/);
    // Any answer to an authenticated request is private too.
    const listed = await get('/api/ledger/receipts?limit=1', (await node.mint('viewer', '*')).auth);
    expect(listed.headers['cache-control']).toBe('private, no-store');
  });
});

// ------------------------------------------------------------------------------------------------------------

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

describe('request logs and slow clients', () => {
  it('never logs a secret a client put in a query string', async () => {
    const { redactUrl } = await import('../src/app.ts');
    expect(redactUrl('/api/x?token=vm_abc&limit=5&api_key=k1&signature=s')).toBe(
      '/api/x?token=%5Bredacted%5D&limit=5&api_key=%5Bredacted%5D&signature=%5Bredacted%5D',
    );
    expect(redactUrl('/api/x?limit=5')).toBe('/api/x?limit=5');
    expect(redactUrl('/health')).toBe('/health');
  });

  it('sets request and header time limits, so a slow client cannot hold a socket for Node’s 300 s', async () => {
    const { HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } = await import('../src/app.ts');
    const n = await startNode();
    expect(n.app.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
    expect(n.app.server.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
    expect(REQUEST_TIMEOUT_MS).toBeLessThan(300_000);
    await n.app.close();
  });
});

describe('a full disk', () => {
  it('answers 507 with a clear message, stores nothing, and writes work again once there is space', async () => {
    const full = { on: true };
    const n = await startNode({ full });
    const { auth } = await n.mint('operator', 'acme');
    const post = () =>
      n.app.inject({
        method: 'POST',
        url: '/api/ledger/receipts',
        headers: { ...auth, 'content-type': 'application/json' },
        payload: { kind: 'decision', tenant: 'acme', body: { title: 'while full' } },
      });
    const r = await post();
    expect(r.statusCode).toBe(507);
    expect(r.json()).toMatchObject({ code: 'INSUFFICIENT_STORAGE', title: 'Insufficient Storage' });
    expect(r.json().detail).toMatch(/disk is full/);
    full.on = false;
    const ok = await post();
    expect(ok.statusCode).toBe(201);
    await n.app.close();
  });
});

describe('per-token limits', () => {
  it('the limiter: a write bucket that refills, and a deny budget over a sliding minute', () => {
    const l = createRateLimiter({ writesPerSecond: 2, writeBurst: 2, deniesPerMinute: 3 });
    const t = 1_000_000;
    expect(l.admit('a', true, t)).toBeUndefined();
    expect(l.admit('a', true, t)).toBeUndefined();
    expect(l.admit('a', true, t)).toMatchObject({ reason: 'writes', retryAfterS: 1 });
    expect(l.admit('b', true, t)).toBeUndefined(); // another token has its own bucket
    expect(l.admit('a', false, t)).toBeUndefined(); // reads are not writes
    expect(l.admit('a', true, t + 500)).toBeUndefined(); // refilled by one
    for (let i = 0; i < 3; i++) l.denied('c', t + i);
    expect(l.admit('c', false, t + 10)).toMatchObject({ reason: 'denies', retryAfterS: 60 });
    expect(l.admit('c', false, t + 60_001)).toBeUndefined(); // the first deny left the minute
    expect(l.refused).toEqual({ writes: 1, denies: 1 });
  });

  it('over HTTP: 429 with Retry-After, counted on /metrics; a token that keeps being denied is stopped', async () => {
    const n = await startNode({ rateLimits: { writesPerSecond: 0.01, writeBurst: 2, deniesPerMinute: 2 } });
    const { auth } = await n.mint('operator', 'acme');
    const post = (headers: Record<string, string>) =>
      n.app.inject({
        method: 'POST',
        url: '/api/ledger/receipts',
        headers: { ...headers, 'content-type': 'application/json' },
        payload: { kind: 'decision', tenant: 'acme', body: { title: 'x' } },
      });
    expect((await post(auth)).statusCode).toBe(201);
    expect((await post(auth)).statusCode).toBe(201);
    const limited = await post(auth);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED', title: 'Too Many Requests' });
    // A viewer may not write: two denies, then even its reads wait until the minute has passed.
    const viewer = (await n.mint('viewer', 'acme')).auth;
    expect((await post(viewer)).statusCode).toBe(403);
    expect((await post(viewer)).statusCode).toBe(403);
    const stopped = await n.app.inject({
      method: 'GET',
      url: '/api/ledger/receipts?limit=1',
      headers: viewer,
    });
    expect(stopped.statusCode).toBe(429);
    expect(stopped.json().detail).toMatch(/2 requests denied in the last minute/);
    const metrics = await n.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/vaultmesh_rate_limited_total\{reason="writes"\} 1/);
    expect(metrics.body).toMatch(/vaultmesh_rate_limited_total\{reason="denies"\} 1/);
    await n.app.close();
  });
});
