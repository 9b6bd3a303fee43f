// Go/no-go: the prerequisite checklist against real local servers (a fake Prometheus and a fake health endpoint on
// 127.0.0.1 answering the documented response shapes, a fake Kubernetes API server for /version), a real SQLite file
// and a real Log verified by verifyLog; and polls over the memory ControlStore with a real Log as the ReceiptWriter.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generateNodeKey, nodeEd25519Verify, nodeHasher } from '@vaultmesh/attest';
import { decodeReceipt, type Receipt } from '@vaultmesh/ledger';
import { Log, createMemoryStorage, verifyLog, type LogStorage } from '@vaultmesh/log';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ControlError,
  GOLIVE,
  createGolivePolls,
  createMemoryControlStore,
  createSqliteDatabaseProbe,
  latestClosedPoll,
  promotionAllowed,
  readGoliveConfig,
  runGoliveChecks,
  type GoliveDeps,
  type PolicyDecider,
  type Principal,
  type ReceiptWriter,
} from '../src/index.ts';

const ORIGIN = 'test.vaultmesh/golive';
const key = generateNodeKey(ORIGIN);

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let server: Server;
let base = '';
const routes = new Map<string, Handler>();
const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const h = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (h) h(req, res);
    else json(res, 404, { error: 'not found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

// As documented at https://prometheus.io/docs/prometheus/latest/querying/api/#runtime-information.
const RUNTIMEINFO = {
  status: 'success',
  data: {
    startTime: '2019-11-02T17:23:59.301361365+01:00',
    CWD: '/',
    reloadConfigSuccess: true,
    lastConfigTime: '2019-11-02T17:23:59+01:00',
    timeSeriesCount: 873,
    corruptionCount: 0,
    goroutineCount: 48,
    GOMAXPROCS: 4,
    GOGC: '',
    GODEBUG: '',
    storageRetention: '15d',
  },
};

async function realLog(storage: LogStorage = createMemoryStorage()) {
  const log = await Log.open({ storage, origin: ORIGIN, signer: key.signer, hasher: nodeHasher });
  const all = async (): Promise<Receipt[]> => {
    const out: Receipt[] = [];
    for (let i = 0; i < log.size; i++) out.push(decodeReceipt((await log.getEntry(i)).bytes));
    return out;
  };
  return { log, storage, all };
}

const ledgerVerifier =
  (storage: LogStorage): GoliveDeps['verifyLedger'] =>
  async () => {
    const r = await verifyLog({
      storage,
      origin: ORIGIN,
      verifierKey: key.verifierKey,
      hasher: nodeHasher,
      ed25519Verify: nodeEd25519Verify,
      full: true,
    });
    return {
      ok: r.ok,
      size: r.size,
      checkpointsChecked: r.checkpointsChecked,
      problemCount: r.problemCount,
      problems: r.problems.map((p) => p.message),
    };
  };

describe('go-live config', () => {
  it('reads JSON or YAML and refuses unknown check ids, naming the known ones', () => {
    expect(
      readGoliveConfig('checks:\n  - id: ledger\n  - id: api\n    url: http://127.0.0.1:5000\n'),
    ).toEqual([{ id: 'ledger' }, { id: 'api', url: 'http://127.0.0.1:5000' }]);
    expect(readGoliveConfig('{"checks":[{"id":"key"}]}')).toEqual([{ id: 'key' }]);
    const e = (() => {
      try {
        readGoliveConfig('checks:\n  - id: ledger\n  - id: vibes\n');
      } catch (x) {
        return x as ControlError;
      }
    })()!;
    expect(e).toBeInstanceOf(ControlError);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain(
      '/checks/1: unknown check id "vibes" (known: ledger, prometheus, kubernetes, database, api, key)',
    );
  });

  it('refuses duplicate ids, unknown fields, a missing url and an empty list', () => {
    expect(() => readGoliveConfig('checks: [{id: key}, {id: key}]')).toThrow(/duplicate check id "key"/);
    expect(() => readGoliveConfig('checks: [{id: api, url: "http://x", retries: 3}]')).toThrow(/\/checks\/0/);
    expect(() => readGoliveConfig('checks: [{id: prometheus}]')).toThrow(/\/checks\/0.*url/);
    expect(() => readGoliveConfig('checks: [{id: api, url: "file:///etc/passwd"}]')).toThrow(/http or https/);
    expect(() => readGoliveConfig('checks: []')).toThrow(/at least one check/);
    expect(() => readGoliveConfig('checks: [{id: key}]\nextra: 1')).toThrow(/unknown field\(s\) extra/);
  });

  it('runGoliveChecks validates its input too', async () => {
    await expect(runGoliveChecks({ checks: [{ id: 'nope' }] }, {})).rejects.toThrow(
      /unknown check id "nope"/,
    );
  });
});

describe('prerequisite checks', () => {
  it('ledger: passes when the log verifies, fails with the problem when it does not', async () => {
    const { log, storage } = await realLog();
    for (let i = 0; i < 3; i++)
      await log.append({ kind: 'decision', actor: 't', tenant: 'a', body: { title: `d${i}` } });
    await log.checkpoint();
    const good = await runGoliveChecks([{ id: 'ledger' }], { verifyLedger: ledgerVerifier(storage) });
    expect(good.ok).toBe(true);
    expect(good.checks[0]).toMatchObject({ id: 'ledger', ok: true, evidence: { size: 3, problemCount: 0 } });
    // Tamper with a stored entry: the verifier's report fails the check and carries the evidence.
    const tampered: LogStorage = {
      ...storage,
      async getEntries(s, e) {
        return (await storage.getEntries(s, e)).map((x) =>
          x.index === 1
            ? { ...x, bytes: new TextEncoder().encode(new TextDecoder().decode(x.bytes).replace('d1', 'd9')) }
            : x,
        );
      },
    };
    const bad = await runGoliveChecks([{ id: 'ledger' }], { verifyLedger: ledgerVerifier(tampered) });
    expect(bad.ok).toBe(false);
    expect(bad.checks[0]!.ok).toBe(false);
    expect(bad.checks[0]!.detail).toMatch(/ledger verification found [1-9]\d* problem/);
    expect((bad.checks[0]!.evidence.problemCount as number) > 0).toBe(true);
    await log.close();
  });

  it('a check whose callback is not configured fails (fail closed)', async () => {
    const r = await runGoliveChecks([{ id: 'ledger' }, { id: 'database' }, { id: 'key' }], {});
    expect(r.ok).toBe(false);
    expect(r.checks.map((c) => [c.id, c.ok, c.detail])).toEqual([
      ['ledger', false, 'no ledger verifier is configured'],
      ['database', false, 'no database probe is configured'],
      ['key', false, 'no key status callback is configured'],
    ]);
  });

  it('prometheus: GET /api/v1/status/runtimeinfo must answer status success with a startTime', async () => {
    routes.set('/prom/api/v1/status/runtimeinfo', (_q, res) => json(res, 200, RUNTIMEINFO));
    const r = await runGoliveChecks([{ id: 'prometheus', url: `${base}/prom` }], {});
    expect(r.checks[0]).toMatchObject({
      id: 'prometheus',
      ok: true,
      evidence: {
        url: `${base}/prom/api/v1/status/runtimeinfo`,
        httpStatus: 200,
        startTime: RUNTIMEINFO.data.startTime,
        storageRetention: '15d',
      },
      detail: `Prometheus is up since ${RUNTIMEINFO.data.startTime}`,
    });
  });

  it('prometheus: an error envelope, a foreign JSON answer, a failed reload or no server at all fail', async () => {
    routes.set('/p503/api/v1/status/runtimeinfo', (_q, res) =>
      json(res, 503, { status: 'error', errorType: 'unavailable', error: 'TSDB not ready' }),
    );
    routes.set('/pother/api/v1/status/runtimeinfo', (_q, res) => json(res, 200, { hello: 'world' }));
    routes.set('/preload/api/v1/status/runtimeinfo', (_q, res) =>
      json(res, 200, { ...RUNTIMEINFO, data: { ...RUNTIMEINFO.data, reloadConfigSuccess: false } }),
    );
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const details = [];
    for (const url of [`${base}/p503`, `${base}/pother`, `${base}/preload`, `http://127.0.0.1:${deadPort}`]) {
      const r = await runGoliveChecks([{ id: 'prometheus', url }], {});
      expect(r.ok).toBe(false);
      details.push(r.checks[0]!.detail);
    }
    expect(details[0]).toBe('Prometheus answered HTTP 503: TSDB not ready');
    expect(details[1]).toMatch(/without \{ status: "success", data \}/);
    expect(details[2]).toMatch(/configuration reload failed/);
    expect(details[3]).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/status\/runtimeinfo failed/);
  });

  it('a check that does not answer within its time limit fails with the limit named', async () => {
    routes.set('/slow/api/v1/status/runtimeinfo', () => undefined); // never answers
    const r = await runGoliveChecks([{ id: 'prometheus', url: `${base}/slow`, timeoutMs: 100 }], {});
    expect(r.checks[0]!.ok).toBe(false);
    expect(r.checks[0]!.detail).toMatch(/no answer from http:\/\/127\.0\.0\.1:\d+ within 100 ms/);
  });

  it('api: /api/system/health must answer 200 with status ok', async () => {
    routes.set('/up/api/system/health', (_q, res) =>
      json(res, 200, {
        status: 'ok',
        checks: { storage: 'ok' },
        uptimeSeconds: 5,
        ledger: { size: 7, checkpointSize: 7, pendingAppends: 0 },
      }),
    );
    routes.set('/down/api/system/health', (_q, res) =>
      json(res, 503, { status: 'degraded', checks: { storage: 'failing' } }),
    );
    const r = await runGoliveChecks([{ id: 'api', url: `${base}/up/` }], {});
    expect(r.checks[0]).toMatchObject({
      ok: true,
      evidence: { httpStatus: 200, status: 'ok', ledgerSize: 7 },
    });
    const d = await runGoliveChecks([{ id: 'api', url: `${base}/down` }], {});
    expect(d.checks[0]).toMatchObject({
      ok: false,
      detail: 'API health answered HTTP 503 with status "degraded" (want 200 and "ok")',
    });
  });

  describe('kubernetes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vm-golive-kube-'));
    const kubeconfig = (current: string, server: string) => {
      // A plain-http fake API server needs insecure-skip-tls-verify, as client-node refuses http otherwise.
      const insecure = server.startsWith('http:') ? ['    insecure-skip-tls-verify: true'] : [];
      const p = join(dir, `${current || 'none'}-${Math.random().toString(16).slice(2)}.yaml`);
      writeFileSync(
        p,
        [
          'apiVersion: v1',
          'kind: Config',
          current ? `current-context: ${current}` : '',
          'clusters:',
          '- name: prod-cluster',
          '  cluster:',
          `    server: ${server}`,
          ...insecure,
          'contexts:',
          '- name: prod',
          '  context:',
          '    cluster: prod-cluster',
          '    user: admin',
          '    namespace: shop',
          '- name: orphan',
          '  context:',
          '    cluster: gone',
          '    user: admin',
          'users:',
          '- name: admin',
          '  user:',
          '    token: not-a-secret',
          '',
        ].join('\n'),
      );
      return p;
    };

    it('with contact: false reads the file only, and says it did not contact the cluster', async () => {
      // 192.0.2.1 is TEST-NET-1 (RFC 5737): nothing answers there, so a contact attempt would fail.
      const path = kubeconfig('prod', 'https://192.0.2.1:6443');
      const r = await runGoliveChecks([{ id: 'kubernetes', kubeconfig: path, contact: false }], {});
      expect(r.checks[0]).toMatchObject({
        ok: true,
        evidence: {
          kubeconfig: path,
          context: 'prod',
          cluster: 'prod-cluster',
          server: 'https://192.0.2.1:6443',
          namespace: 'shop',
          contacted: false,
        },
        detail:
          'context "prod" names cluster "prod-cluster" at https://192.0.2.1:6443 (not contacted: contact is false)',
      });
      // The default path comes from the entry point (GoliveDeps.kubeconfigPath), never from the environment.
      const viaDeps = await runGoliveChecks([{ id: 'kubernetes', contact: false }], { kubeconfigPath: path });
      expect(viaDeps.ok).toBe(true);
    });

    it('contacts the cluster by default: a cluster that does not answer fails the check', async () => {
      const dead = createServer();
      await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
      const port = (dead.address() as AddressInfo).port;
      await new Promise((r) => dead.close(r));
      const path = kubeconfig('prod', `http://127.0.0.1:${port}`);
      const r = await runGoliveChecks([{ id: 'kubernetes', kubeconfig: path, timeoutMs: 5000 }], {});
      expect(r.ok).toBe(false);
      expect(r.checks[0]!.detail).toMatch(
        new RegExp(`^cluster "prod-cluster" at http://127\\.0\\.0\\.1:${port} did not answer`),
      );
    });

    it('fails without a current-context, for a context naming an undefined cluster, or without a file', async () => {
      const server = 'https://192.0.2.1:6443';
      const details = [];
      for (const c of [
        { id: 'kubernetes' as const, kubeconfig: kubeconfig('', server), contact: false },
        { id: 'kubernetes' as const, kubeconfig: kubeconfig('prod', server), context: 'orphan' },
        { id: 'kubernetes' as const, kubeconfig: kubeconfig('staging', server) },
        { id: 'kubernetes' as const, kubeconfig: join(dir, 'missing.yaml') },
        { id: 'kubernetes' as const },
      ]) {
        const r = await runGoliveChecks([c], {});
        expect(r.ok).toBe(false);
        details.push(r.checks[0]!.detail);
      }
      expect(details.slice(0, 3)).toEqual([
        'kubeconfig has no current-context',
        'context "orphan" names cluster "gone", which is not defined',
        'context "staging" is not defined in the kubeconfig',
      ]);
      expect(details[3]).toMatch(/^cannot read kubeconfig: ENOENT/);
      expect(details[4]).toBe('no kubeconfig file is configured');
    });

    it('asks the API server for /version with the context credentials', async () => {
      let auth: string | undefined;
      routes.set('/version', (q, res) => {
        auth = q.headers.authorization;
        json(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.2', platform: 'linux/amd64' });
      });
      const r = await runGoliveChecks([{ id: 'kubernetes', kubeconfig: kubeconfig('prod', base) }], {});
      expect(r.checks[0]).toMatchObject({
        ok: true,
        evidence: { gitVersion: 'v1.31.2' },
        detail: 'cluster "prod-cluster" answers, version v1.31.2',
      });
      expect(auth).toBe('Bearer not-a-secret');
    });
  });

  it('database: quick_check ok and a rolled-back write on a real SQLite file; nothing is left behind', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vm-golive-db-')), 'x.db');
    const db = new Database(path);
    db.exec('CREATE TABLE t (x)');
    const r = await runGoliveChecks([{ id: 'database' }], { probeDatabase: createSqliteDatabaseProbe(db) });
    expect(r.checks[0]).toMatchObject({ ok: true, evidence: { quickCheck: 'ok', rolledBackWrite: true } });
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'vaultmesh_golive%'").all()).toEqual(
      [],
    );
    db.close();
    const ro = new Database(path, { readonly: true });
    const r2 = await runGoliveChecks([{ id: 'database' }], { probeDatabase: createSqliteDatabaseProbe(ro) });
    expect(r2.checks[0]).toMatchObject({ ok: false, evidence: { quickCheck: 'ok', rolledBackWrite: false } });
    expect(r2.checks[0]!.detail).toMatch(/^the database is not writable: .*readonly/i);
    ro.close();
  });

  it('key: passes when the key can sign, fails when it is sealed and not opened', async () => {
    const ok = await runGoliveChecks([{ id: 'key' }], {
      keyStatus: async () => ({ unsealed: true, sealed: true, keyName: ORIGIN }),
    });
    expect(ok.checks[0]).toMatchObject({
      ok: true,
      evidence: { sealed: true, keyName: ORIGIN },
      detail: 'the sealed node key is unsealed and can sign',
    });
    const no = await runGoliveChecks([{ id: 'key' }], {
      keyStatus: async () => ({ unsealed: false, sealed: true, detail: 'wrong passphrase' }),
    });
    expect(no.checks[0]).toMatchObject({ ok: false, detail: 'wrong passphrase' });
  });

  it('reports every check in config order and is ok only when all pass', async () => {
    routes.set('/all/api/system/health', (_q, res) => json(res, 200, { status: 'ok' }));
    routes.set('/all/api/v1/status/runtimeinfo', (_q, res) => json(res, 200, RUNTIMEINFO));
    const deps: GoliveDeps = {
      keyStatus: async () => ({ unsealed: true, sealed: false }),
      verifyLedger: async () => {
        throw new Error('disk on fire');
      },
    };
    const r = await runGoliveChecks(
      [
        { id: 'api', url: `${base}/all` },
        { id: 'ledger' },
        { id: 'prometheus', url: `${base}/all` },
        { id: 'key' },
      ],
      deps,
    );
    expect(r.checks.map((c) => `${c.id}:${c.ok}`)).toEqual([
      'api:true',
      'ledger:false',
      'prometheus:true',
      'key:true',
    ]);
    expect(r.checks[1]!.detail).toBe('disk on fire');
    expect(r.ok).toBe(false);
    expect(r.checkedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});

// ------------------------------------------------------------------------------------------------------------

const sre: Principal = { type: 'person', id: 'sam@acme', role: 'operator', tenant: 'acme' };
const sec: Principal = { type: 'person', id: 'sue@acme', role: 'operator', tenant: 'acme' };
const prod: Principal = { type: 'person', id: 'pat@acme', role: 'operator', tenant: 'acme' };
const MIN = 60_000;

async function pollFixture(
  o: { policy?: PolicyDecider; receipts?: (w: ReceiptWriter) => ReceiptWriter } = {},
) {
  const store = createMemoryControlStore();
  const ledger = await realLog();
  const clock = { t: Date.parse('2026-03-01T10:00:00Z') };
  const receipts = o.receipts ? o.receipts(ledger.log) : ledger.log;
  const polls = createGolivePolls({ store, receipts, policy: o.policy, now: () => clock.t });
  return { store, ledger, clock, polls };
}

describe('go/no-go polls', () => {
  it("all roles vote go within the window → 'go', recorded as decision receipts, and promotion is allowed", async () => {
    const f = await pollFixture();
    const p = await f.polls.openPoll({
      id: 'gl-1',
      roles: ['sre', 'security', 'product'],
      windowMs: 30 * MIN,
      subject: 'promote acme to live',
      tenant: 'acme',
      openedBy: 'ops@acme',
    });
    expect(p).toMatchObject({ id: 'gl-1', state: 'open', closesAt: f.clock.t + 30 * MIN, votes: {} });
    expect(await promotionAllowed(f.store)).toBe(false); // an open poll allows nothing
    f.clock.t += MIN;
    await f.polls.vote({
      pollId: 'gl-1',
      role: 'sre',
      voter: sre,
      vote: 'go',
      reason: 'SLOs green for 7 days',
    });
    await f.polls.vote({
      pollId: 'gl-1',
      role: 'security',
      voter: sec,
      vote: 'go',
      reason: 'pen test closed',
    });
    await f.polls.vote({
      pollId: 'gl-1',
      role: 'product',
      voter: prod,
      vote: 'go',
      reason: 'launch comms ready',
    });
    const closed = await f.polls.closePoll('gl-1', { closedBy: 'ops@acme' });
    expect(closed.outcome).toBe('go');
    expect(closed.reasons).toEqual(['every role voted go within the window']);
    expect(closed.poll.outcomeReceipt).toBeDefined();
    // A tenant's poll never promotes the node: only a node-wide poll (tenant NODE_POLL_TENANT) does.
    expect(await promotionAllowed(f.store)).toBe(false);
    await f.polls.openPoll({
      id: 'gl-node',
      roles: ['sre'],
      windowMs: 30 * MIN,
      subject: 'promote the node',
    });
    await f.polls.vote({ pollId: 'gl-node', role: 'sre', voter: sre, vote: 'go', reason: 'ready' });
    await f.polls.closePoll('gl-node', { closedBy: 'ops@acme' });
    expect(await promotionAllowed(f.store)).toBe(true);

    const receipts = (await f.ledger.all()).filter((r) => r.body.pollId === 'gl-1');
    expect(
      receipts.map((r) => `${r.kind}:${String(r.body.event)}:${String(r.body.role ?? r.body.outcome ?? '')}`),
    ).toEqual([
      'decision:open:',
      'decision:vote:sre',
      'decision:vote:security',
      'decision:vote:product',
      'decision:outcome:go',
    ]);
    for (const r of receipts) expect(r.body).toMatchObject({ tags: ['golive'], pollId: 'gl-1' });
    expect(receipts[1]).toMatchObject({
      actor: 'sam@acme',
      tenant: 'acme',
      body: { title: 'go/no-go poll gl-1: sre votes go', rationale: 'SLOs green for 7 days', vote: 'go' },
    });
    expect(receipts[1]!.parents).toEqual([closed.poll.openReceipt]);
    expect(receipts[4]).toMatchObject({ actor: 'ops@acme', body: { outcome: 'go', status: 'accepted' } });
    expect(receipts[4]!.parents).toHaveLength(4); // the opening and every vote
  });

  it("silence: a role that did not vote by the window's end holds the poll, with the reason recorded", async () => {
    const f = await pollFixture();
    await f.polls.openPoll({
      id: 'gl-2',
      roles: ['sre', 'security'],
      windowMs: 30 * MIN,
      subject: 'go live',
    });
    await f.polls.vote({ pollId: 'gl-2', role: 'sre', voter: sre, vote: 'go', reason: 'ready' });
    f.clock.t += 31 * MIN;
    await expect(
      f.polls.vote({ pollId: 'gl-2', role: 'security', voter: sec, vote: 'go', reason: 'late' }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/voting window of poll gl-2 closed at/),
    });
    const closed = await f.polls.closePoll('gl-2');
    expect(closed.outcome).toBe('hold');
    expect(closed.reasons).toEqual(['security: no vote within the window']);
    expect(await promotionAllowed(f.store)).toBe(false);
    const last = (await f.ledger.all()).at(-1)!;
    expect(last.body).toMatchObject({
      event: 'outcome',
      outcome: 'hold',
      status: 'rejected',
      rationale: 'security: no vote within the window',
    });
    expect(last.body.votes).toEqual([
      { role: 'sre', vote: 'go', voter: 'sam@acme', recorded: true },
      { role: 'security', vote: null },
    ]);
  });

  it('any no-go holds the poll, with the voter and reason recorded', async () => {
    const f = await pollFixture();
    await f.polls.openPoll({
      id: 'gl-3',
      roles: ['sre', 'security'],
      windowMs: 30 * MIN,
      subject: 'go live',
    });
    await f.polls.vote({ pollId: 'gl-3', role: 'sre', voter: sre, vote: 'go', reason: 'ready' });
    await f.polls.vote({
      pollId: 'gl-3',
      role: 'security',
      voter: sec,
      vote: 'no-go',
      reason: 'CVE-2026-0001 unpatched',
    });
    const closed = await f.polls.closePoll('gl-3');
    expect(closed).toMatchObject({
      outcome: 'hold',
      reasons: ['security: no-go by sue@acme: CVE-2026-0001 unpatched'],
    });
  });

  it('one vote per role; unknown roles, bad votes and missing reasons are refused; a closed poll takes no votes', async () => {
    const f = await pollFixture();
    await f.polls.openPoll({
      id: 'gl-4',
      roles: ['sre', 'security'],
      windowMs: 30 * MIN,
      subject: 'go live',
    });
    await f.polls.vote({ pollId: 'gl-4', role: 'sre', voter: sre, vote: 'go', reason: 'ready' });
    await expect(
      f.polls.vote({ pollId: 'gl-4', role: 'sre', voter: prod, vote: 'no-go', reason: 'me too' }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      message: 'role sre already voted go in poll gl-4 (by sam@acme)',
    });
    await expect(
      f.polls.vote({ pollId: 'gl-4', role: 'sre', voter: sre, vote: 'no-go', reason: 'changed my mind' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(
      f.polls.vote({ pollId: 'gl-4', role: 'legal', voter: sre, vote: 'go', reason: 'x' }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'poll gl-4 has no role "legal" (roles: sre, security)',
    });
    await expect(
      f.polls.vote({ pollId: 'gl-4', role: 'security', voter: sec, vote: 'maybe' as 'go', reason: 'x' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      f.polls.vote({ pollId: 'gl-4', role: 'security', voter: sec, vote: 'go', reason: ' ' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      f.polls.vote({ pollId: 'nope', role: 'sre', voter: sre, vote: 'go', reason: 'x' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await f.polls.closePoll('gl-4');
    await expect(
      f.polls.vote({ pollId: 'gl-4', role: 'security', voter: sec, vote: 'go', reason: 'x' }),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: 'go/no-go poll gl-4 is closed (outcome hold)' });
    await expect(f.polls.closePoll('gl-4')).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await f.store.get(GOLIVE, 'gl-4'))!.doc).toMatchObject({ state: 'closed', outcome: 'hold' });
  });

  it('opening refuses duplicate ids, bad roles and windows; a missing id is generated', async () => {
    const f = await pollFixture();
    await f.polls.openPoll({ id: 'gl-5', roles: ['sre'], windowMs: MIN, subject: 's' });
    await expect(
      f.polls.openPoll({ id: 'gl-5', roles: ['sre'], windowMs: MIN, subject: 's' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(f.polls.openPoll({ roles: [], windowMs: MIN, subject: 's' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(f.polls.openPoll({ roles: ['sre', 'sre'], windowMs: MIN, subject: 's' })).rejects.toThrow(
      'roles must be unique',
    );
    await expect(f.polls.openPoll({ roles: ['SRE!'], windowMs: MIN, subject: 's' })).rejects.toThrow(
      /invalid role/,
    );
    await expect(f.polls.openPoll({ roles: ['sre'], windowMs: 10, subject: 's' })).rejects.toThrow(
      /window must be/,
    );
    const gen = await f.polls.openPoll({ roles: ['sre'], windowMs: MIN, subject: 's' });
    expect(gen.id).toMatch(/^golive-[0-9a-f]{8}$/);
    expect((await f.polls.listPolls()).map((p) => p.id).sort()).toEqual([gen.id, 'gl-5'].sort());
  });

  it('voters are authorized with the policy action "approve"; a deny records nothing', async () => {
    const requests: Parameters<PolicyDecider['decide']>[0][] = [];
    const policy: PolicyDecider = {
      policySetHash: 'b'.repeat(64),
      async decide(req) {
        requests.push(req);
        const allow = req.principal.role === 'operator' && req.principal.tenant === req.resource.tenant;
        return {
          decision: allow ? 'allow' : 'deny',
          reasons: [allow ? 'operator' : 'no-match'],
          errors: [],
          policySetHash: 'b'.repeat(64),
        };
      },
    };
    const f = await pollFixture({ policy });
    const outsider: Principal = { type: 'agent', id: 'bot@other', role: 'agent', tenant: 'other' };
    const open = { id: 'gl-6', roles: ['sre', 'security'], windowMs: MIN, subject: 's', tenant: 'acme' };
    // Opening (and closing) a poll is decided like a vote: another tenant's principal, or none, is refused.
    await expect(f.polls.openPoll(open)).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    await expect(f.polls.openPoll({ ...open, principal: outsider })).rejects.toMatchObject({
      code: 'POLICY_DENIED',
    });
    expect(f.ledger.log.size).toBe(0);
    await f.polls.openPoll({ ...open, principal: sre });
    const before = f.ledger.log.size;
    const e = (await f.polls
      .vote({ pollId: 'gl-6', role: 'sre', voter: outsider, vote: 'go', reason: 'x' })
      .catch((x: unknown) => x)) as ControlError;
    expect(e.code).toBe('POLICY_DENIED');
    expect(e.message).toMatch(/policy denied bot@other voting as sre in go\/no-go poll gl-6: no-match/);
    expect(f.ledger.log.size).toBe(before);
    expect((await f.polls.getPoll('gl-6')).votes).toEqual({});
    await f.polls.vote({ pollId: 'gl-6', role: 'sre', voter: sre, vote: 'go', reason: 'ok' });
    expect(requests.at(-1)).toMatchObject({
      principal: sre,
      action: 'approve',
      resource: { type: 'tenant', id: 'acme', tenant: 'acme' },
      context: { purpose: 'golive', pollId: 'gl-6', pollRole: 'sre', vote: 'go' },
    });
    await expect(f.polls.closePoll('gl-6', { principal: outsider })).rejects.toMatchObject({
      code: 'POLICY_DENIED',
    });
    expect((await f.polls.getPoll('gl-6')).state).toBe('open');
  });

  it('one voter, one vote: a voter cannot speak for a second role; a role outside its token is refused', async () => {
    const f = await pollFixture();
    await f.polls.openPoll({
      id: 'gl-7',
      roles: ['sre', 'security', 'product'],
      windowMs: MIN,
      subject: 's',
    });
    await f.polls.vote({ pollId: 'gl-7', role: 'sre', voter: sre, vote: 'go', reason: 'ok' });
    await expect(
      f.polls.vote({ pollId: 'gl-7', role: 'security', voter: sre, vote: 'go', reason: 'me again' }),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/one voter, one vote/) });
    await expect(
      f.polls.vote({
        pollId: 'gl-7',
        role: 'product',
        voter: sec,
        voterRoles: ['security'],
        vote: 'go',
        reason: 'x',
      }),
    ).rejects.toMatchObject({
      code: 'POLICY_DENIED',
      message: expect.stringMatching(/does not hold the go\/no-go role product/),
    });
    expect(Object.keys((await f.polls.getPoll('gl-7')).votes)).toEqual(['sre']);
  });

  it('every vote is a compare-and-swap: concurrent votes of different roles all count, of one role exactly one', async () => {
    const f = await pollFixture();
    await f.polls.openPoll({
      id: 'gl-7',
      roles: ['sre', 'security', 'product'],
      windowMs: MIN,
      subject: 's',
    });
    await Promise.all([
      f.polls.vote({ pollId: 'gl-7', role: 'sre', voter: sre, vote: 'go', reason: 'a' }),
      f.polls.vote({ pollId: 'gl-7', role: 'security', voter: sec, vote: 'go', reason: 'b' }),
      f.polls.vote({ pollId: 'gl-7', role: 'product', voter: prod, vote: 'go', reason: 'c' }),
    ]);
    const p = await f.polls.getPoll('gl-7');
    expect(Object.keys(p.votes).sort()).toEqual(['product', 'security', 'sre']);
    for (const v of Object.values(p.votes)) expect(v.receipt).toBeDefined();

    await f.polls.openPoll({ id: 'gl-8', roles: ['sre'], windowMs: MIN, subject: 's' });
    const race = await Promise.allSettled([
      f.polls.vote({ pollId: 'gl-8', role: 'sre', voter: sre, vote: 'go', reason: 'a' }),
      f.polls.vote({ pollId: 'gl-8', role: 'sre', voter: sec, vote: 'no-go', reason: 'b' }),
    ]);
    expect(race.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = race.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: 'CONFLICT' });
    const voteReceipts = (await f.ledger.all()).filter(
      (r) => r.body.pollId === 'gl-8' && r.body.event === 'vote',
    );
    expect(voteReceipts).toHaveLength(1);
  });

  it('a vote whose receipt was not recorded does not count (the same voter may cast it again)', async () => {
    let failVotes = true;
    const f = await pollFixture({
      receipts: (w) => ({
        async append(input) {
          if (failVotes && input.body.event === 'vote') throw new Error('ledger unavailable');
          return w.append(input);
        },
      }),
    });
    await f.polls.openPoll({ id: 'gl-9', roles: ['sre'], windowMs: MIN, subject: 's' });
    await expect(
      f.polls.vote({ pollId: 'gl-9', role: 'sre', voter: sre, vote: 'go', reason: 'a' }),
    ).rejects.toThrow('ledger unavailable');
    expect((await f.polls.getPoll('gl-9')).votes.sre).toMatchObject({
      vote: 'go',
      voter: { id: 'sam@acme' },
    });
    expect((await f.polls.getPoll('gl-9')).votes.sre!.receipt).toBeUndefined();
    await expect(
      f.polls.vote({ pollId: 'gl-9', role: 'sre', voter: sec, vote: 'go', reason: 'b' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    failVotes = false;
    await f.polls.vote({ pollId: 'gl-9', role: 'sre', voter: sre, vote: 'go', reason: 'a' });
    expect((await f.polls.closePoll('gl-9')).outcome).toBe('go');

    failVotes = true;
    await f.polls.openPoll({ id: 'gl-10', roles: ['sre'], windowMs: MIN, subject: 's' });
    await f.polls
      .vote({ pollId: 'gl-10', role: 'sre', voter: sre, vote: 'go', reason: 'a' })
      .catch(() => undefined);
    f.clock.t += 1;
    const closed = await f.polls.closePoll('gl-10');
    expect(closed).toMatchObject({
      outcome: 'hold',
      reasons: ['sre: the vote by sam@acme was not recorded in the ledger'],
    });
  });

  it('promotion follows the latest closed poll, and an unrecorded go allows nothing', async () => {
    let failOutcome = false;
    const f = await pollFixture({
      receipts: (w) => ({
        async append(input) {
          if (failOutcome && input.body.event === 'outcome') throw new Error('ledger unavailable');
          return w.append(input);
        },
      }),
    });
    const goPoll = async (id: string, votes: ('go' | 'no-go')[]) => {
      await f.polls.openPoll({ id, roles: ['sre'], windowMs: MIN, subject: 's' });
      if (votes[0]) await f.polls.vote({ pollId: id, role: 'sre', voter: sre, vote: votes[0], reason: 'r' });
      f.clock.t += 1000;
      return f.polls.closePoll(id);
    };
    expect(await promotionAllowed(f.store)).toBe(false);
    await goPoll('a-go', ['go']);
    expect(await promotionAllowed(f.store)).toBe(true);
    await goPoll('b-hold', ['no-go']);
    expect(await promotionAllowed(f.store)).toBe(false);
    expect((await latestClosedPoll(f.store))!.id).toBe('b-hold');
    await goPoll('c-go', ['go']);
    expect(await promotionAllowed(f.store)).toBe(true);
    failOutcome = true;
    await expect(goPoll('d-go', ['go'])).rejects.toThrow('ledger unavailable');
    expect(await f.polls.getPoll('d-go')).toMatchObject({ state: 'closed', outcome: 'go' });
    expect(await promotionAllowed(f.store)).toBe(false); // the latest 'go' is not recorded
  });
});
