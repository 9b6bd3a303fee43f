// The built-in actions with real parts: real commands (true, false, sh -c ...), a real local HTTP server and
// a real Log for ledger.record.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActionRegistry, resolveCommand, DEFAULT_PATH } from '../src/index.ts';
import { localServer, openLedger } from './helpers/harness.ts';
import { runAction } from './helpers/run-action.ts';

const registry = createActionRegistry();
const tmp = mkdtempSync(join(tmpdir(), 'vm-actions-'));

describe('shell', () => {
  it('runs a command without a shell and reports its exit code and output', async () => {
    expect(await runAction(registry, 'shell', { command: 'true' })).toMatchObject({ ok: true, exitCode: 0 });
    const r = await runAction(registry, 'shell', { command: 'echo', args: ['$(id)', '; id'] });
    expect(r.ok).toBe(true);
    expect(r.output.stdout).toBe('$(id) ; id\n'); // arguments are not interpreted by any shell
  });

  it('fails on an unexpected exit code, succeeds on an expected one, and keeps stderr apart', async () => {
    expect(await runAction(registry, 'shell', { command: 'false' })).toMatchObject({
      ok: false,
      exitCode: 1,
      error: 'exit code 1 (expected 0)',
    });
    const r = await runAction(registry, 'shell', {
      command: 'sh',
      args: ['-c', 'echo out; echo err >&2; exit 3'],
      expectExit: [3],
    });
    expect(r).toMatchObject({ ok: true, exitCode: 3, output: { stdout: 'out\n', stderr: 'err\n' } });
  });

  it('bounds the captured output and says how much there was', async () => {
    const small = createActionRegistry({ shell: { maxOutputBytes: 1000 } });
    const r = await runAction(small, 'shell', {
      command: 'sh',
      args: ['-c', 'head -c 200000 /dev/zero | tr "\\0" a'],
    });
    expect(r.ok).toBe(true);
    expect((r.output.stdout as string).length).toBe(1000);
    expect(r.output).toMatchObject({ stdoutBytes: 200_000, truncated: true });
  });

  it('kills a command that outlives the step timeout', async () => {
    const started = Date.now();
    const r = await runAction(registry, 'shell', { command: 'sleep', args: ['60'] }, { timeoutMs: 200 });
    expect(r).toMatchObject({ ok: false, error: 'timed out after 200 ms', output: { timedOut: true } });
    // Returned before the command could have finished: it was killed, not waited for.
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('gives commands only the configured environment, not the process environment', async () => {
    const r = await runAction(registry, 'shell', { command: 'sh', args: ['-c', 'echo "[$HOME][$PATH]"'] });
    expect(r.output.stdout).toBe(`[][${DEFAULT_PATH}]\n`);
  });

  it('in a dry-run, checks the command exists and reports what would run, without running it', async () => {
    const file = join(tmp, 'dry-run-touched');
    const r = await runAction(registry, 'shell', { command: 'touch', args: [file] }, { dryRun: true });
    expect(r).toMatchObject({ ok: true, output: { wouldRun: ['touch', file] } });
    expect(r.output.resolved).toMatch(/\/touch$/);
    expect(existsSync(file)).toBe(false);
    const missing = await runAction(registry, 'shell', { command: 'no-such-command-xyz' }, { dryRun: true });
    expect(missing).toMatchObject({
      ok: false,
      error: 'command "no-such-command-xyz" not found or not executable',
    });
    expect(await resolveCommand('sh', DEFAULT_PATH)).toMatch(/\/sh$/);
  });

  it('refuses commands outside allowCommands when it is set', async () => {
    const strict = createActionRegistry({ shell: { allowCommands: ['true'] } });
    expect((await runAction(strict, 'shell', { command: 'true' })).ok).toBe(true);
    expect(await runAction(strict, 'shell', { command: 'false' })).toMatchObject({
      ok: false,
      error: 'command "false" is not allowed here',
    });
  });

  it('declares itself idempotent only when the step says so', () => {
    const shell = registry.get('shell')!;
    expect(
      typeof shell.idempotent === 'function' && shell.idempotent({ command: 'x', idempotent: true }),
    ).toBe(true);
    expect(typeof shell.idempotent === 'function' && shell.idempotent({ command: 'x' })).toBe(false);
  });
});

describe('http, probe and wait against a local server', () => {
  let srv: Awaited<ReturnType<typeof localServer>>;
  let healthyAfter = 0;
  beforeAll(async () => {
    srv = await localServer((req, res) => {
      if (req.url === '/health') {
        if (healthyAfter-- > 0) {
          res.writeHead(503).end('starting');
          return;
        }
        res.writeHead(200).end('{"status":"ok"}');
        return;
      }
      if (req.url?.startsWith('/teapot')) return void res.writeHead(418).end('short and stout');
      if (req.url === '/echo')
        return void res
          .writeHead(401)
          .end(`bad credentials: ${req.headers.authorization} / ${req.headers['x-api-key']}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method }));
    });
  });
  afterAll(() => srv.close());

  it('http: sends the request and checks the status; header values never appear in the output', async () => {
    const r = await runAction(registry, 'http', {
      url: `${srv.url}/x`,
      method: 'POST',
      body: { a: 1 },
      headers: { authorization: 'Bearer s3cret' },
    });
    // The body stays out of the output (journal, run views) unless the step asks for it.
    expect(r).toMatchObject({ ok: true, output: { status: 200, bodyBytes: 17 } });
    expect(r.output.body).toBeUndefined();
    expect(r.output.bodySha256).toMatch(/^[0-9a-f]{64}$/);
    const kept = await runAction(registry, 'http', {
      url: `${srv.url}/x`,
      method: 'POST',
      captureBody: true,
    });
    expect(kept.output.body).toBe('{"method":"POST"}');
    expect(JSON.stringify(r)).not.toContain('s3cret');
    expect(await runAction(registry, 'http', { url: `${srv.url}/teapot` })).toMatchObject({
      ok: false,
      error: `HTTP 418 from GET ${srv.url}/teapot`,
    });
    expect((await runAction(registry, 'http', { url: `${srv.url}/teapot`, expectStatus: [418] })).ok).toBe(
      true,
    );
    const withQuery = await runAction(registry, 'http', { url: `${srv.url}/teapot?token=s3cret` });
    expect(withQuery.error).toBe(`HTTP 418 from GET ${srv.url}/teapot?…`);
    expect(JSON.stringify(withQuery)).not.toContain('s3cret');
  });

  it('http: a server that echoes the credentials we sent gets none of them into the captured body', async () => {
    const r = await runAction(registry, 'http', {
      url: `${srv.url}/echo`,
      headers: { authorization: 'Bearer s3cret-token', 'x-api-key': 'k3y-value' },
      captureBody: true,
    });
    expect(r.ok).toBe(false);
    expect(r.output.body).toBe('bad credentials: [redacted] / [redacted]');
    expect(JSON.stringify(r)).not.toMatch(/s3cret-token|k3y-value/);
  });

  it('http in a dry-run: GET is sent, a POST only reported', async () => {
    const before = srv.hits.length;
    const post = await runAction(
      registry,
      'http',
      { url: `${srv.url}/x`, method: 'POST', body: 'x' },
      { dryRun: true },
    );
    expect(post).toMatchObject({ ok: true, output: { wouldSend: { method: 'POST', bodyBytes: 1 } } });
    expect(srv.hits.length).toBe(before);
    expect((await runAction(registry, 'http', { url: `${srv.url}/x` }, { dryRun: true })).output.status).toBe(
      200,
    );
    expect(srv.hits.length).toBe(before + 1);
  });

  it('probe: polls until healthy', async () => {
    healthyAfter = 2;
    const r = await runAction(registry, 'probe', {
      url: `${srv.url}/health`,
      intervalMs: 250,
      bodyIncludes: 'ok',
    });
    expect(r).toMatchObject({ ok: true, output: { attempts: 3, status: 200 } });
  });

  it('probe: fails when the step time runs out, saying what it saw last', async () => {
    healthyAfter = 1_000_000;
    const r = await runAction(
      registry,
      'probe',
      { url: `${srv.url}/health`, intervalMs: 250 },
      { timeoutMs: 200 },
    );
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/not healthy after 200 ms \(\d+ attempts; last: HTTP 503\)/);
    healthyAfter = 0;
  });

  it('wait: waits live; a dry-run does not wait (nothing it changed needs to settle)', async () => {
    const t = Date.now();
    expect(await runAction(registry, 'wait', { ms: 50 }, { dryRun: false })).toMatchObject({ ok: true });
    expect(Date.now() - t).toBeGreaterThanOrEqual(45);
    expect(await runAction(registry, 'wait', { ms: 3_600_000 }, { dryRun: true })).toMatchObject({
      ok: true,
      output: { wouldWaitMs: 3_600_000 },
    });
  });
});

describe('ledger.record and route.submit', () => {
  it('ledger.record appends a receipt to the real log; a dry-run validates it and appends nothing', async () => {
    const { log, receipts, all } = await openLedger();
    const body = { title: 'maintenance window opened' };
    const dry = await runAction(
      registry,
      'ledger.record',
      { kind: 'decision', body },
      { dryRun: true, receipts },
    );
    expect(dry).toMatchObject({ ok: true, output: { wouldRecord: { kind: 'decision', tenant: 'acme' } } });
    expect(log.size).toBe(0);
    const live = await runAction(registry, 'ledger.record', { kind: 'decision', body }, { receipts });
    expect(live).toMatchObject({ ok: true, output: { index: 0, kind: 'decision' } });
    expect((await all())[0]).toMatchObject({
      kind: 'decision',
      actor: 'ops@acme',
      body: { ...body, planId: 'plan-1', stepId: 's1' },
    });
    await expect(
      runAction(registry, 'ledger.record', { kind: 'decision', body: {} }, { dryRun: true, receipts }),
    ).rejects.toThrow(/body: must have required property 'title'/);
    expect(() => registry.get('ledger.record')!.params.parse({ kind: 'step', body: {} })).toThrow();
  });

  it('route.submit without a router fails clearly; with one, a dry run scores and a live run places', async () => {
    const job = { jobId: 'train', image: 'img', gpu: { count: 2 } };
    await expect(runAction(registry, 'route.submit', job)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('Aurora router is not configured'),
    });
    expect(() => registry.get('route.submit')!.params.parse({ jobId: 'j' })).toThrow();
    const seen: { op: string; workload: unknown; principal: string }[] = [];
    let placeState = 'running';
    const routed = createActionRegistry({
      route: () => ({
        async recommend(workload, caller) {
          seen.push({ op: 'recommend', workload, principal: caller.principal.id });
          return {
            candidates: [{ provider: 'vast', region: 'eu-west-1', offerId: 'o1', pricePerHour: 2 }],
            reason: 'best',
            receipt: { index: 7 },
          };
        },
        async place(workload, caller) {
          seen.push({ op: 'place', workload, principal: caller.principal.id });
          return {
            id: 'job-1',
            state: placeState,
            provider: 'vast',
            region: 'eu-west-1',
            providerJobId: 'v-9',
            attempts: [{ provider: 'vast', ok: placeState !== 'unplaced' }],
            detail: 'every attempt failed',
          };
        },
      }),
    });
    const dry = await runAction(routed, 'route.submit', job, { dryRun: true });
    expect(dry).toMatchObject({ ok: true, output: { wouldPlace: { provider: 'vast' }, routeReceipt: 7 } });
    const live = await runAction(routed, 'route.submit', job);
    expect(live).toMatchObject({
      ok: true,
      output: { job: 'job-1', provider: 'vast', providerJobId: 'v-9' },
    });
    // The job is the plan's tenant's workload, asked as the step's principal.
    expect(seen).toEqual([
      {
        op: 'recommend',
        workload: { id: 'train', tenant: 'acme', image: 'img', gpu: { count: 2 } },
        principal: 'ops@acme',
      },
      {
        op: 'place',
        workload: { id: 'train', tenant: 'acme', image: 'img', gpu: { count: 2 } },
        principal: 'ops@acme',
      },
    ]);
    placeState = 'unplaced';
    expect(await runAction(routed, 'route.submit', job)).toMatchObject({
      ok: false,
      error: 'every attempt failed',
    });
  });
});
