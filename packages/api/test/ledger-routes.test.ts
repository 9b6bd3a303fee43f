// The ledger routes (ledger-routes.ts): writing receipts (who may, and bad input that changes nothing), reading
// them in scope, proofs, checkpoints and tlog-tiles.
// ------------------------------------------------------------------------------------------------------------
// ------------------------------------------------------------------------------------------------------------
// ------------------------------------------------------------------------------------------------------------
// ------------------------------------------------------------------------------------------------------------
// ------------------------------------------------------------------------------------------------------------
import { nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KEY,
  ORIGIN,
  T0,
  bearer,
  decision,
  expectProblem,
  seed,
  signedCheckpoint,
  startNode,
  type TestNode,
} from './helpers.ts';

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
