// End to end: the real `vm` binary runs the go-live checklist against a real node started in this process (its
// API, ledger, database and key) and a fake Prometheus on 127.0.0.1, then drives go/no-go polls on a data
// directory: silence holds (exit 1), all go allows promotion (exit 0), with the votes and outcomes in the ledger.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/net.ts';
import { runVm, runVmJson } from './helpers/vm.ts';

interface CheckReport {
  ok: boolean;
  checks: { id: string; ok: boolean; detail: string; evidence: Record<string, unknown> }[];
}

describe('vm golive check', () => {
  let work: string;
  let node: RunningNode;
  let prometheus: Server;
  let promUrl = '';
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vm-golive-'));
    node = await startNode(
      loadConfig({ flags: { dataDir: join(work, 'data'), port: 0, logLevel: 'silent' } }),
    );
    await node.node.log.append({ kind: 'decision', actor: 'test', tenant: 'acme', body: { title: 'ready' } });
    await node.node.log.idle();
    await node.node.log.checkpoint();
    // Answers as documented at https://prometheus.io/docs/prometheus/latest/querying/api/#runtime-information.
    prometheus = createServer((req, res) => {
      if (req.url !== '/api/v1/status/runtimeinfo') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: 'success',
          data: {
            startTime: '2026-01-01T00:00:00.000Z',
            CWD: '/prometheus',
            reloadConfigSuccess: true,
            storageRetention: '15d',
          },
        }),
      );
    });
    await new Promise<void>((r) => prometheus.listen(0, '127.0.0.1', r));
    promUrl = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await node?.stop();
    await new Promise((r) => prometheus.close(r));
    rmSync(work, { recursive: true, force: true });
  });

  it('passes every check against a running node and a reachable Prometheus (exit 0)', async () => {
    const config = join(work, 'golive.yaml');
    writeFileSync(
      config,
      [
        'checks:',
        '  - id: ledger',
        '  - id: database',
        '  - id: key',
        `  - id: api`,
        `    url: ${node.url}`,
        '  - id: prometheus',
        `    url: ${promUrl}`,
        '',
      ].join('\n'),
    );
    const report = await runVmJson<CheckReport>([
      'golive',
      'check',
      '-d',
      join(work, 'data'),
      '--config',
      config,
    ]);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => `${c.id}:${c.ok}`)).toEqual([
      'ledger:true',
      'database:true',
      'key:true',
      'api:true',
      'prometheus:true',
    ]);
    expect(report.checks[0]!.evidence).toMatchObject({ size: 1, problemCount: 0 });
    expect(report.checks[3]!.evidence).toMatchObject({ httpStatus: 200, status: 'ok' });
    expect(report.checks[4]!.evidence).toMatchObject({ startTime: '2026-01-01T00:00:00.000Z' });
  });

  it('exits 1 naming the failed checks when the API is down, and 2 for an unknown check id', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const config = join(work, 'down.json');
    writeFileSync(config, JSON.stringify({ checks: [{ id: 'ledger' }, { id: 'api', url: dead }] }));
    const r = await runVm(['golive', 'check', '-d', join(work, 'data'), '--config', config]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ledger\s+PASS/m);
    expect(r.stdout).toMatch(
      /^api\s+FAIL\s+\d+ ms\s+GET http:\/\/127\.0\.0\.1:\d+\/api\/system\/health failed/m,
    );
    expect(r.stderr).toBe('vm: go-live check failed: api\n');

    writeFileSync(config, JSON.stringify({ checks: [{ id: 'ledger' }, { id: 'vibes' }] }));
    const u = await runVm(['golive', 'check', '-d', join(work, 'data'), '--config', config]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(
      /unknown check id "vibes" \(known: ledger, prometheus, kubernetes, database, api, key\)/,
    );
  });

  it('the default checks fail on a directory that holds no log', async () => {
    const r = await runVm(['golive', 'check', '-d', join(work, 'empty'), '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(report.checks.map((c) => `${c.id}:${c.ok}`)).toEqual([
      'ledger:false',
      'database:false',
      'key:false',
    ]);
    expect(report.checks[1]!.detail).toMatch(/holds no VaultMesh log/);
  });
});

describe('vm golive poll', () => {
  let work: string;
  let data: string;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vm-golive-poll-'));
    data = join(work, 'data');
    const init = await runVm(['init', '-d', data]);
    expect(init.code).toBe(0);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const vm = (...args: string[]) => runVm(['golive', 'poll', ...args, '-d', data]);

  it(
    'silence → hold: a role that never votes holds the poll (close exits 1) and promotion is not allowed',
    { timeout: 120_000 },
    async () => {
      const open = await vm('open', '--roles', 'sre,security', '--window', '30m', '--id', 'gl-silent');
      expect(open.code).toBe(0);
      expect(open.stdout).toMatch(
        /^poll gl-silent open: sre, security must vote go by \S+ \(receipt \d+\)$/m,
      );
      const v = await vm(
        'vote',
        '--poll',
        'gl-silent',
        '--role',
        'sre',
        '--vote',
        'go',
        '--reason',
        'SLOs green',
        '--voter',
        'sam',
      );
      expect(v.code).toBe(0);
      expect(v.stdout).toMatch(/^sre votes go in poll gl-silent \(receipt \d+\)$/m);
      const again = await vm(
        'vote',
        '--poll',
        'gl-silent',
        '--role',
        'sre',
        '--vote',
        'no-go',
        '--reason',
        'second thoughts',
        '--voter',
        'sue',
      );
      expect(again.code).toBe(5);
      expect(again.stderr).toBe('vm: role sre already voted go in poll gl-silent (by sam)\n');
      const close = await vm('close', '--poll', 'gl-silent');
      expect(close.code).toBe(1);
      expect(close.stdout).toMatch(
        /^poll gl-silent: hold \(receipt \d+\)\n {2}security: no vote within the window$/m,
      );
      const status = JSON.parse((await vm('status', '--json')).stdout) as {
        promotionAllowed: boolean;
        latestClosed: string;
      };
      expect(status).toMatchObject({ promotionAllowed: false, latestClosed: 'gl-silent' });
    },
  );

  // Each `vm` run starts tsx (seconds on a busy machine), so the longer scenarios get more time.
  it(
    'all go → go: close exits 0, promotion is allowed, and every vote and the outcome are receipts',
    { timeout: 180_000 },
    async () => {
      await vm(
        'open',
        '--roles',
        'sre,security,product',
        '--window',
        '1h',
        '--id',
        'gl-go',
        '--subject',
        'acme goes live',
      );
      for (const [role, voter] of [
        ['sre', 'sam'],
        ['security', 'sue'],
        ['product', 'pat'],
      ] as const) {
        const r = await vm(
          'vote',
          '--poll',
          'gl-go',
          '--role',
          role,
          '--vote',
          'go',
          '--reason',
          `${role} ready`,
          '--voter',
          voter,
        );
        expect(r.code).toBe(0);
      }
      const close = await runVmJson<{ outcome: string; reasons: string[] }>([
        'golive',
        'poll',
        'close',
        '--poll',
        'gl-go',
        '-d',
        data,
      ]);
      expect(close).toMatchObject({ outcome: 'go', reasons: ['every role voted go within the window'] });
      const status = await runVmJson<{ promotionAllowed: boolean; polls: { id: string; outcome: string }[] }>(
        ['golive', 'poll', 'status', '-d', data],
      );
      expect(status.promotionAllowed).toBe(true);
      expect(status.polls.map((p) => `${p.id}:${p.outcome}`)).toEqual(['gl-go:go', 'gl-silent:hold']);
      const human = await vm('status', '--poll', 'gl-go');
      expect(human.stdout).toMatch(/^product\s+go\s+pat\s+receipt \d+\s+product ready$/m);

      const list = await runVmJson<{
        items: { receipt: { kind: string; actor: string; body: Record<string, unknown> } }[];
      }>(['memory', 'list', '-d', data, '--tenant', 'system', '--kind', 'decision']);
      const golive = list.items.map((i) => i.receipt).filter((r) => r.body.pollId === 'gl-go');
      // The opening and the outcome are recorded by the local OS user (cli:<user>), each vote by its voter.
      expect(
        golive.map((r) => `${String(r.body.event)}:${String(r.body.role ?? r.body.outcome ?? '')}`),
      ).toEqual(['open:', 'vote:sre', 'vote:security', 'vote:product', 'outcome:go']);
      expect(golive.map((r) => r.actor)).toEqual([
        expect.stringMatching(/^cli:/),
        'sam',
        'sue',
        'pat',
        expect.stringMatching(/^cli:/),
      ]);
      for (const r of golive) expect(r.body.tags).toEqual(['golive']);
    },
  );

  it('a vote after the window closes is refused (exit 5) and an unknown poll is not found (exit 3)', async () => {
    await vm('open', '--roles', 'sre', '--window', '1s', '--id', 'gl-late');
    await new Promise((r) => setTimeout(r, 1_100));
    const late = await vm('vote', '--poll', 'gl-late', '--role', 'sre', '--vote', 'go', '--reason', 'late');
    expect(late.code).toBe(5);
    expect(late.stderr).toMatch(/the voting window of poll gl-late closed at/);
    const missing = await vm('close', '--poll', 'gl-nope');
    expect(missing.code).toBe(3);
    const badWindow = await vm('open', '--roles', 'sre', '--window', 'soon');
    expect(badWindow.code).toBe(2);
  });
});
