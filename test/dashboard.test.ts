// The dashboard in a real browser: playwright-core drives Debian's Chromium (apt-get install chromium)
// against a node started with `vm up`. Without /usr/bin/chromium the tests are reported as skipped.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { freePort } from './helpers/net.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// VM_TEST_CHROMIUM only exists to exercise the skip path; the supported browser is Debian's.
const CHROMIUM = process.env.VM_TEST_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SCREENSHOT = '/tmp/dashboard.png';
const VM = join(process.cwd(), 'packages/cli/bin/vm.js');
const run = promisify(execFile);

if (!HAVE_CHROMIUM) {
  console.warn(
    [
      '',
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      `!! SKIPPING test/dashboard.test.ts: no browser at ${CHROMIUM}.`,
      "!! The dashboard browser tests did NOT run. Install Debian's Chromium to run them:",
      '!!     apt-get update && apt-get install -y chromium',
      '!! (a system package; do not run "npx playwright install").',
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      '',
    ].join('\n'),
  );
}

async function vm(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [VM, ...args], { timeout: 20_000 });
  return stdout;
}

async function waitForHealth(url: string, server: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`vm up exited with ${server.exitCode}:\n${output()}`);
    try {
      const res = await fetch(`${url}/api/system/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`node did not become healthy in 20 s:\n${output()}`);
}

// 1 decision recorded with `vm memory record`, then 13 receipts of several kinds imported: 14 in all.
const IMPORTED = [
  { kind: 'decision', body: { title: 'Adopt tlog-tiles', status: 'accepted' } },
  { kind: 'deploy', tenant: 'acme', body: { service: 'api', version: '1.4.2', environment: 'prod' } },
  { kind: 'audit', body: { subject: 'ledger', result: 'pass', checks: ['tiles', 'roots'] } },
  {
    kind: 'policy',
    tenant: 'acme',
    body: { action: 'deploy', principal: 'agent:ci', resource: 'svc/api', decision: 'allow' },
  },
  { kind: 'deploy', body: { service: 'web', version: '2.0.0', environment: 'staging' } },
  { kind: 'spawn', body: { service: 'worker', template: 'worker', version: '1.1.0' } },
  { kind: 'federation', body: { peer: 'vm.example.org', operation: 'pull' } },
  { kind: 'deploy', tenant: 'acme', body: { service: 'billing', version: '0.9.1', environment: 'prod' } },
  { kind: 'audit', body: { subject: 'tokens', result: 'fail', checks: [] } },
  { kind: 'evidence', body: { subject: 'sbom', digests: { 'sbom.json': 'ab'.repeat(32) } } },
  { kind: 'route', body: { jobId: 'job-7', provider: 'gpu-pool', reason: 'cheapest with capacity' } },
  { kind: 'deploy', body: { service: 'web', version: '2.0.1', environment: 'prod', status: 'done' } },
  { kind: 'federation', body: { peer: 'vm.backup.internal', operation: 'push' } },
];
const TOTAL = 1 + IMPORTED.length;

describe('dashboard (Chromium via playwright-core)', () => {
  let dir = '';
  let server: ChildProcess | undefined;
  let serverOutput = '';
  let browser: Browser | undefined;
  let page: Page;
  let url = '';
  let token = '';

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) return;
    dir = await mkdtemp(join(tmpdir(), 'vm-dashboard-'));
    const data = join(dir, 'data');
    await vm(['init', '-d', data, '--json']);
    token = (
      JSON.parse(await vm(['token', 'create', '--role', 'admin', '--json', '-d', data])) as { token: string }
    ).token;
    await vm([
      'memory',
      'record',
      'Use PostgreSQL',
      '-r',
      'transactional integrity',
      '--tag',
      'db',
      '-d',
      data,
    ]);
    const jsonl = join(dir, 'import.jsonl');
    await writeFile(jsonl, IMPORTED.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await vm(['memory', 'import', jsonl, '-d', data]);
    await vm(['checkpoint', '-d', data]);

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // --checkpoint-interval 0: the test publishes checkpoints itself, so nothing changes under it.
    // One compute provider, this machine, so the GPU jobs card has something to show.
    const cfg = join(dir, 'node.json');
    await writeFile(
      cfg,
      JSON.stringify({
        // One Ψ-Field series, so its card has something to show; no psi receipts, so the ledger counts hold.
        psi: {
          intervalMs: 200,
          receipts: false,
          commitments: false,
          series: [
            { name: 'http-requests', metric: 'vaultmesh_http_request_duration_seconds_count' },
            // A known range: the context detector runs beside the model, and the card says so.
            {
              name: 'http-requests.ranged',
              metric: 'vaultmesh_http_request_duration_seconds_count',
              range: { min: 0, max: 1000 },
            },
          ],
        },
        aurora: {
          providers: [
            {
              type: 'local',
              gpuModel: 'cpu',
              gpuCount: 1,
              commands: [
                [process.execPath, '-e', 'setTimeout(() => {}, 200)'],
                [process.execPath, '-e', '0'],
              ],
            },
          ],
        },
      }),
    );
    const upArgs = [
      'up',
      '-c',
      cfg,
      '-d',
      data,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--log-level',
      'warn',
    ];
    server = spawn(process.execPath, [VM, ...upArgs, '--checkpoint-interval', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout?.on('data', (b: Buffer) => (serverOutput += b.toString()));
    server.stderr?.on('data', (b: Buffer) => (serverOutput += b.toString()));
    const [b] = await Promise.all([
      chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      }),
      waitForHealth(url, server, () => serverOutput),
    ]);
    browser = b;
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    // Five CLI processes, a node and Chromium start here: on a loaded machine that alone has taken over 40 s.
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(!HAVE_CHROMIUM)('serves only same-origin assets and asks for a token', async () => {
    const external: string[] = [];
    const failed: string[] = [];
    const pageErrors: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(url)) external.push(r.url());
    });
    page.on('response', (r) => {
      // The token-scoped panels (receipts, GPU jobs) answer 401 until a valid token is saved: expected.
      if (
        r.status() >= 400 &&
        !r.url().includes('/api/ledger/receipts') &&
        !r.url().includes('/api/aurora/') &&
        !r.url().includes('/api/psi/')
      )
        failed.push(`${r.status()} ${r.url()}`);
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(url + '/');
    await expect(page.title()).resolves.toContain('VaultMesh');
    // Header: origin, mode, size and the checkpoint taken before start.
    await page.locator('#health[data-state="ok"]').waitFor();
    await expect(page.locator('#size').textContent()).resolves.toBe(String(TOTAL));
    await expect(page.locator('#cp-size').textContent()).resolves.toBe(`size ${TOTAL}`);
    await expect(page.locator('#cp-root').textContent()).resolves.toMatch(/^[0-9a-f]{12}…$/);
    await expect(page.locator('#cp-age').textContent()).resolves.toMatch(/ago|just now/);
    await expect(page.locator('#origin').textContent()).resolves.toMatch(/^vaultmesh\.local\//);
    await expect(page.locator('#mode').textContent()).resolves.toMatch(/^(dry-run|live)$/);

    // No token yet: a clear 401 message instead of an empty table.
    await page.locator('#receipts-msg:has-text("401")').waitFor();
    expect(await page.locator('#receipts-msg').textContent()).toContain('needs an API token');

    // A wrong token is rejected with its own message.
    await page.fill('#token', 'vm_0000000000000000_nope');
    await page.click('button:has-text("Save token")');
    await page.locator('#receipts-msg:has-text("rejected the API token")').waitFor();
    await page.locator('#jobs-msg:has-text("rejected the API token")').waitFor();

    expect(external).toEqual([]);
    expect(failed).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it.skipIf(!HAVE_CHROMIUM)('lists, filters, searches and pages receipts with a token', async () => {
    await page.fill('#token', token);
    await page.click('button:has-text("Save token")');
    await expect(page.evaluate(() => localStorage.getItem('vaultmesh.apiToken'))).resolves.toBe(token);
    const rows = page.locator('#receipts-body tr');
    await expect.poll(() => rows.count()).toBe(TOTAL);
    await expect(page.locator('#receipts-msg').isHidden()).resolves.toBe(true);
    // Newest first, with the summary column filled per kind.
    await expect(rows.first().getAttribute('data-index')).resolves.toBe(String(TOTAL - 1));
    await expect(page.locator('#receipts-body tr[data-index="0"] td.summary').textContent()).resolves.toBe(
      'Use PostgreSQL',
    );
    await expect(page.locator('#receipts-body tr[data-index="2"] td.summary').textContent()).resolves.toBe(
      'api 1.4.2 → prod',
    );
    await expect(page.locator('#receipts-body tr[data-index="2"]').textContent()).resolves.toContain('acme');

    // Kind filter.
    await page.selectOption('#kind', 'deploy');
    await expect.poll(() => rows.count()).toBe(4);
    expect(await page.locator('#receipts-body .kind').allTextContents()).toEqual(Array(4).fill('deploy'));
    await page.selectOption('#kind', '');
    await expect.poll(() => rows.count()).toBe(TOTAL);

    // Text search (debounced as you type).
    await page.fill('#search', 'PostgreSQL');
    await expect.poll(() => rows.count()).toBe(1);
    await expect(rows.first().getAttribute('data-index')).resolves.toBe('0');
    await page.fill('#search', 'no such text anywhere');
    await page.locator('#receipts-msg:has-text("No receipts match")').waitFor();
    await page.fill('#search', '');
    await expect.poll(() => rows.count()).toBe(TOTAL);

    // Paging: 10 per page, then the remaining 4, then back.
    await page.selectOption('#page-size', '10');
    await expect.poll(() => rows.count()).toBe(10);
    await page.click('#next');
    await expect.poll(() => rows.count()).toBe(TOTAL - 10);
    await expect(rows.first().getAttribute('data-index')).resolves.toBe(String(TOTAL - 11));
    await expect(page.locator('#page-info').textContent()).resolves.toContain('Page 2');
    await page.click('#prev');
    await expect.poll(() => rows.first().getAttribute('data-index')).toBe(String(TOTAL - 1));
    await page.selectOption('#page-size', '25');
    await expect.poll(() => rows.count()).toBe(TOTAL);
  });

  it.skipIf(!HAVE_CHROMIUM)('verifies a receipt inclusion proof in the browser', async () => {
    const proofRequests: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/ledger/proof/inclusion')) proofRequests.push(r.url());
    });
    await page.click('#receipts-body tr[data-index="5"] td.summary');
    await expect(page.locator('#detail-title').textContent()).resolves.toBe('Receipt #5');
    const json = JSON.parse((await page.locator('#detail-json').textContent()) ?? '') as { kind: string };
    expect(json.kind).toBe('deploy');
    await page.click('#verify');
    const verdict = page.locator('#verify-result[data-state="ok"]');
    await verdict.waitFor();
    expect(await verdict.textContent()).toContain('✓ verified');
    expect(await page.locator('#verify-steps li[data-ok="false"]').count()).toBe(0);
    expect(await page.locator('#verify-steps li[data-ok="true"]').count()).toBeGreaterThanOrEqual(3);
    expect(proofRequests).toEqual([`${url}/api/ledger/proof/inclusion?index=5&size=${TOTAL}`]);

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it.skipIf(!HAVE_CHROMIUM)('rejects tampered receipts and proofs (verify.js in the page)', async () => {
    // A string, not a function: vitest rewrites import() in test sources, and this import runs in the page.
    const script = `(async (token) => {
      const v = await import('/ui/verify.js');
      const get = async (p, auth = false) =>
        (await fetch(p, auth ? { headers: { authorization: 'Bearer ' + token } } : {})).json();
      const cp = await get('/api/ledger/checkpoint');
      const item = await get('/api/ledger/receipts/5', true);
      const proof = await get('/api/ledger/proof/inclusion?index=5&size=' + cp.size);
      const check = (it, pr) => v.verifyReceiptInclusion(it, cp, pr, cp.verifierKey);
      const good = await check(item, proof);
      const tampered = structuredClone(item);
      tampered.receipt.body.version = '6.6.6';
      const flipped = structuredClone(proof);
      flipped.proof[0] = (flipped.proof[0][0] === '0' ? '1' : '0') + flipped.proof[0].slice(1);
      const badSig = { ...cp, note: cp.note.replace(/ (\\S+)\\n$/, (m, b) => ' ' + b.slice(0, 10) + (b[10] === 'A' ? 'B' : 'A') + b.slice(11) + '\\n') };
      const abc = new TextEncoder().encode('abc');
      const long = new Uint8Array(1000).map((_, i) => i % 251);
      return {
        good: good.ok,
        goodSteps: good.steps.map((s) => s.ok),
        badReceipt: (await check(tampered, proof)).ok,
        badProof: (await check(item, flipped)).ok,
        shortProof: (await check(item, { ...proof, proof: proof.proof.slice(1) })).ok,
        wrongIndex: (await check({ ...item, index: 4 }, proof)).ok,
        badSignature: (await v.verifyReceiptInclusion(item, badSig, proof, cp.verifierKey)).steps.map((s) => s.ok),
        subtleHex: v.toHex(await v.sha256(abc)),
        jsHex: v.toHex(v.sha256Fallback(abc)),
        longSame: v.toHex(await v.sha256(long)) === v.toHex(v.sha256Fallback(long)),
        canonical: v.canonicalize({ b: [1, 2.5, 'x'], a: { d: null, c: true } }),
      };
    })(${JSON.stringify(token)})`;
    const r = (await page.evaluate(script)) as Record<string, unknown>;
    expect(r.good).toBe(true);
    // Leaf hash, root, note body and the Ed25519 signature (Chromium has Ed25519 in WebCrypto).
    expect(r.goodSteps).toEqual([true, true, true, true]);
    expect(r.badReceipt).toBe(false);
    expect(r.badProof).toBe(false);
    expect(r.shortProof).toBe(false);
    expect(r.wrongIndex).toBe(false);
    // A signature that no longer verifies fails only the signature step.
    expect(r.badSignature).toEqual([true, true, true, false]);
    expect(r.subtleHex).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(r.jsHex).toBe(r.subtleHex);
    expect(r.longSame).toBe(true);
    expect(r.canonical).toBe('{"a":{"c":true,"d":null},"b":[1,2.5,"x"]}');
  });

  it.skipIf(!HAVE_CHROMIUM)(
    'says when a receipt is newer than the checkpoint, then verifies it',
    async () => {
      const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const post = await fetch(`${url}/api/ledger/receipts`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ kind: 'decision', body: { title: 'Late decision' } }),
      });
      expect(post.status).toBe(201);
      await page.click('#refresh');
      const newest = page.locator(`#receipts-body tr[data-index="${TOTAL}"]`);
      await newest.locator('button').click();
      await expect(page.locator('#detail-title').textContent()).resolves.toBe(`Receipt #${TOTAL}`);
      // Only the header's own 5 s auto-refresh can bring the new size in.
      await expect
        .poll(() => page.locator('#size-sub').textContent(), { timeout: 8_000 })
        .toBe('1 not yet checkpointed');
      await page.click('#verify');
      await page.locator('#verify-result[data-state="warn"]').waitFor();
      expect(await page.locator('#verify-result').textContent()).toContain(
        'newer than the latest checkpoint',
      );

      const cp = await fetch(`${url}/api/ledger/checkpoint`, { method: 'POST', headers: auth, body: '{}' });
      expect(cp.status).toBe(200);
      await page.click('#verify');
      await page.locator('#verify-result[data-state="ok"]').waitFor();
      expect(await page.locator('#verify-result').textContent()).toContain(`checkpoint size ${TOTAL + 1}`);
    },
  );

  it.skipIf(!HAVE_CHROMIUM)('shows GPU jobs placed by the Aurora router and the providers', async () => {
    await expect(page.locator('#providers-line').textContent()).resolves.toBe('Providers: local (local)');
    await page.locator('#jobs-msg:has-text("No GPU jobs yet")').waitFor();
    const res = await fetch(`${url}/api/aurora/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        workload: {
          id: 'render-<frames>',
          tenant: 'acme',
          gpu: { count: 1 },
          command: [process.execPath, '-e', 'setTimeout(() => {}, 200)'],
        },
      }),
    });
    // An invalid workload id is refused, and nothing shows up.
    expect(res.status).toBe(400);
    const ok = await fetch(`${url}/api/aurora/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        workload: { id: 'render', tenant: 'acme', gpu: { count: 1 }, command: [process.execPath, '-e', '0'] },
      }),
    });
    expect(ok.status).toBe(201);
    const job = (await ok.json()) as { id: string };
    await page.click('#jobs-refresh');
    const row = page.locator(`#jobs-body tr[data-job="${job.id}"]`);
    await row.waitFor();
    await expect(row.locator('td').nth(2).textContent()).resolves.toBe('render');
    await expect(row.locator('td').nth(4).textContent()).resolves.toBe('local/local');
    await expect(row.locator('td').nth(6).textContent()).resolves.toBe('local ✓');
    await expect(page.locator('#jobs-body tr').count()).resolves.toBe(1);
    await expect(page.locator('#jobs-msg').isHidden()).resolves.toBe(true);
    await page.screenshot({ path: '/tmp/dashboard-jobs.png', fullPage: true });
  });

  it.skipIf(!HAVE_CHROMIUM)(
    'shows the Ψ-Field: each watched series with its forecast, likelihood and Ψ',
    async () => {
      await page.click('#psi-refresh');
      const row = page.locator('#psi-body tr[data-series="http-requests"]');
      await row.waitFor();
      // http-requests and its ranged twin, and aurora.rtt.local once the router has listed its provider (the jobs test).
      await expect(page.locator('#psi-line').textContent()).resolves.toMatch(
        /^[23] series, sampled every 0\.2 s/,
      );
      await expect(row.locator('td').first().textContent()).resolves.toBe('http-requests');
      const ranged = page.locator('#psi-body tr[data-series="http-requests.ranged"] td').first();
      await expect(ranged.textContent()).resolves.toBe('http-requests.ranged 0–1000');
      // Points accumulate: the node samples its own request rate every 200 ms.
      for (const end = Date.now() + 20_000; ;) {
        await page.click('#psi-refresh');
        const points = Number(await row.locator('td').nth(1).textContent());
        if (points >= 3) break;
        if (Date.now() > end) throw new Error('the series never got 3 points');
        await page.waitForTimeout(200);
      }
      await expect(row.locator('td').nth(5).textContent()).resolves.toMatch(/^[01]\.\d{4}$/);
      await expect(row.locator('td').nth(7).textContent()).resolves.toMatch(/^(as forecast|anomaly)$/);
      await expect(page.locator('#psi-msg').isHidden()).resolves.toBe(true);
    },
  );
});
