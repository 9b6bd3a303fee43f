// Ψ-Field end to end: a real node samples its own /metrics (the count of HTTP answers with a 4xx or 5xx status, as a
// rate) every 100 ms. A live run of short waits is under a `psi` tripwire on that series; in the middle of the run a
// client sends a burst of failing requests. The Ψ-Field finds the burst, records a `psi` receipt, and the tripwire
// halts the run before its next step, with the rule and its evidence on the step receipt. The series and the episode
// are served at /api/psi/*, only to tokens of every tenant, and exported as vaultmesh_psi_* metrics. The baseline
// before the burst is quiet: nothing else answers with an error until the run has stopped.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken } from '@vaultmesh/auth';
import { decodeReceipt } from '@vaultmesh/ledger';
import { loadConfig, startNode, type RunningNode } from '@vaultmesh/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi } from './helpers/http.ts';
import { runVm } from './helpers/vm.ts';
import { until } from './helpers/wait.ts';

const JOB_COMMAND = [process.execPath, '-e', 'setTimeout(() => {}, 50)'];
let dir: string;
let node: RunningNode;
let storer: string;
let approver: string;
let tenantOnly: string;

const call = (method: string, path: string, token: string, body?: unknown) =>
  callApi(node.url, method, path, token, body);

interface SeriesView {
  name: string;
  points: number;
  anomalous: boolean;
  last?: { likelihood: number; value: number };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vm-psi-e2e-'));
  writeFileSync(
    join(dir, 'tripwires.json'),
    JSON.stringify({
      rules: [
        {
          id: 'http-errors-anomaly',
          kind: 'psi',
          series: 'http-errors',
          threshold: 0.99,
          points: 1,
          action: 'halt',
          noData: 'ignore',
        },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'vaultmesh.json'),
    JSON.stringify({
      port: 0,
      dataDir: join(dir, 'data'),
      logLevel: 'silent',
      control: { tripwiresFile: 'tripwires.json' },
      aurora: {
        providers: [
          { type: 'local', gpuModel: 'cpu', gpuCount: 8, maxConcurrent: 8, commands: [JOB_COMMAND] },
        ],
      },
      psi: {
        intervalMs: 100,
        commitments: { horizon: 5, batch: 5 },
        series: [
          {
            name: 'http-errors',
            metric: 'vaultmesh_http_request_duration_seconds_count',
            match: { status: '4..|5..' },
          },
          { name: 'steps', metric: 'vaultmesh_control_steps_total' },
          { name: 'steps.ranged', metric: 'vaultmesh_control_steps_total', range: { min: 0, max: 500 } },
        ],
      },
    }),
  );
  node = await startNode(loadConfig({ configFile: join(dir, 'vaultmesh.json') }));
  storer = (await createToken(node.node.storage, { name: 'storer', role: 'admin', tenant: '*' })).token;
  approver = (await createToken(node.node.storage, { name: 'approver', role: 'admin', tenant: '*' })).token;
  tenantOnly = (await createToken(node.node.storage, { name: 'acme', role: 'admin', tenant: 'acme' })).token;
}, 60_000);

afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const series = async (): Promise<SeriesView[]> =>
  (await call('GET', '/api/psi/series', storer)).body.series as SeriesView[];

describe('Ψ-Field in a node', () => {
  it('refuses a node whose psi tripwire reads a series the field does not watch', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      join(dir, 'bad-tripwires.json'),
      JSON.stringify({ rules: [{ id: 'x', kind: 'psi', series: 'nope', threshold: 0.9, action: 'halt' }] }),
    );
    writeFileSync(
      bad,
      JSON.stringify({
        port: 0,
        dataDir: join(dir, 'bad-data'),
        logLevel: 'silent',
        control: { tripwiresFile: 'bad-tripwires.json' },
      }),
    );
    await expect(startNode(loadConfig({ configFile: bad }))).rejects.toThrow(
      /series "nope", which the Ψ-Field does not watch/,
    );
    const noMetric = join(dir, 'no-metric.json');
    writeFileSync(
      noMetric,
      JSON.stringify({
        port: 0,
        dataDir: join(dir, 'bad-data-2'),
        logLevel: 'silent',
        psi: { series: [{ name: 'x', metric: 'vaultmesh_no_such_thing_total' }] },
      }),
    );
    await expect(startNode(loadConfig({ configFile: noMetric }))).rejects.toThrow(
      /no metric vaultmesh_no_such_thing_total/,
    );
    for (const range of [{ min: 5, max: 5 }, { min: 0 }, { min: 0, max: 1, step: 1 }]) {
      const badRange = join(dir, 'bad-range.json');
      writeFileSync(
        badRange,
        JSON.stringify({
          port: 0,
          dataDir: join(dir, 'bad-data-3'),
          logLevel: 'silent',
          psi: { series: [{ name: 'x', metric: 'vaultmesh_control_steps_total', range }] },
        }),
      );
      expect(() => loadConfig({ configFile: badRange })).toThrow(/range/);
    }
  });

  it('halts a live run when an error burst makes the watched series anomalous, with receipts', async () => {
    // A quiet baseline first: the model learns that errors are rare.
    await until('a baseline of 25 points', async () => {
      const s = (await series()).find((x) => x.name === 'http-errors');
      return s && s.points >= 25 ? s : undefined;
    });
    const waits = Array.from({ length: 30 }, (_, i) => ({
      id: `w${i + 1}`,
      action: 'wait',
      params: { ms: 300 },
      risk: 'low',
      reversible: true,
      readOnly: true,
    }));
    const plan = {
      v: 1,
      id: 'psi-run',
      goal: 'wait through an error burst',
      target: { environment: 'lab', tenant: 'default' },
      phases: [{ id: 'main', steps: waits }],
      preconditions: [],
      gates: [],
      createdBy: 'psi-test',
      createdAt: new Date().toISOString(),
    };
    const stored = await call('POST', '/api/plans', storer, { plan });
    expect(stored.status, JSON.stringify(stored.body)).toBeLessThan(300);
    const planHash = stored.body.planHash as string;
    const ref = { planId: 'psi-run', planHash };
    const dry = await call('POST', '/api/agent/mcp/executor/run', storer, {
      ...ref,
      dryRun: true,
      wait: true,
    });
    expect(dry.body.state).toBe('succeeded');
    const approval = await call('POST', '/api/approvals', approver, { ...ref, phaseId: 'main' });
    expect(approval.status, JSON.stringify(approval.body)).toBeLessThan(300);
    const live = await call('POST', '/api/agent/mcp/executor/run', storer, {
      ...ref,
      dryRun: false,
      approvals: [approval.body.token],
    });
    const runId = live.body.runId as string;
    expect(runId).toBeTruthy();
    await until('the run’s second step', async () => {
      const r = await call('GET', `/api/runs/${runId}`, storer);
      const journal = (r.body.journal ?? []) as { kind: string; status?: string }[];
      return journal.filter((j) => j.kind === 'step' && j.status === 'succeeded').length >= 2 ? r : undefined;
    });
    // The burst: failing requests (unknown routes, bad tokens) until the run stops.
    let burst = 0;
    let final: Record<string, unknown> | undefined;
    while (!final) {
      await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${node.url}/api/ledger/entries/not-a-number`, {
            headers: { authorization: 'Bearer nope' },
          }).then((r) => r.arrayBuffer()),
        ),
      );
      burst += 20;
      const r = await call('GET', `/api/runs/${runId}`, storer);
      if ((r.body.run as { state: string }).state !== 'running') final = r.body;
      if (burst > 20_000)
        throw new Error(`the run never stopped; the field: ${JSON.stringify(await series())}`);
    }
    const journal = (final.journal ?? []) as { kind: string; status?: string }[];
    expect(journal.filter((j) => j.kind === 'step' && j.status === 'succeeded').length).toBeLessThan(30);
    expect((final.run as { state: string }).state).not.toBe('succeeded');
    // The step receipt of the halt names the psi rule and its evidence.
    const entries = await node.node.storage.getEntries(0, await node.node.storage.size());
    const receipts = entries.map((e) => decodeReceipt(e.bytes));
    const halt = receipts.find(
      (r) =>
        r.kind === 'step' &&
        ((r.body['tripwires'] ?? []) as { id?: string }[]).some((t) => t.id === 'http-errors-anomaly'),
    );
    expect(halt, JSON.stringify(final)).toBeDefined();
    expect(halt!.body).toMatchObject({ runId, status: 'halted' });
    expect((halt!.body['tripwires'] as unknown[])[0]).toMatchObject({
      id: 'http-errors-anomaly',
      action: 'halt',
      evidence: { series: 'http-errors', threshold: 0.99 },
    });
    expect((final.run as { hold?: { reason: string } }).hold?.reason).toBe('tripwire-halt');
    // The anomaly episode is a psi receipt, listed at /api/psi/anomalies, and counted in /metrics.
    const psi = receipts.filter(
      (r) => r.kind === 'psi' && r.body['series'] === 'http-errors' && r.body['record'] === 'anomaly',
    );
    expect(psi.length).toBeGreaterThanOrEqual(1);
    expect(psi[0]!.body).toMatchObject({ record: 'anomaly', series: 'http-errors', threshold: 0.9999 });
    expect(psi[0]!.tenant).toBe('system');
    const anomalies = (await call('GET', '/api/psi/anomalies?series=http-errors', storer)).body.anomalies as {
      series: string;
      peak: { likelihood: number };
    }[];
    expect(anomalies.length).toBeGreaterThanOrEqual(1);
    expect(anomalies[0]!.peak.likelihood).toBeGreaterThanOrEqual(0.9999);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/vaultmesh_psi_anomalies_total\{series="http-errors"\} [1-9]/);
    expect(metrics).toMatch(/vaultmesh_psi_points_total\{series="http-errors"\} \d+/);
    expect(metrics).toMatch(/vaultmesh_psi_anomaly_likelihood\{series="http-errors"\} [0-9.e-]+/);
    expect(metrics).toMatch(/vaultmesh_psi_service_psi\{service="http-errors"\} [0-9.e-]+/);
    const field = (await call('GET', '/api/psi/series', storer)).body as { services: { name: string }[] };
    expect(field.services.map((s) => s.name)).toEqual(expect.arrayContaining(['http-errors', 'steps']));
  });
  it('serves the watched series only to tokens of every tenant (after the run: these answers are errors too)', async () => {
    const r = await call('GET', '/api/psi/series', tenantOnly);
    expect(r.status).toBe(403);
    const ok = await call('GET', '/api/psi/series', storer);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ intervalMs: 100, anomalyThreshold: 0.9999 });
    expect((ok.body.series as SeriesView[]).map((s) => s.name)).toEqual(
      expect.arrayContaining(['http-errors', 'steps', 'steps.ranged']),
    );
    // The series with a known range runs the context detector beside the model, and says so.
    const all = ok.body.series as (SeriesView & { range?: unknown; last?: { context?: number } })[];
    const ranged = all.find((s) => s.name === 'steps.ranged')!;
    expect(ranged.range).toEqual({ min: 0, max: 500 });
    expect(typeof ranged.last?.context).toBe('number');
    const plain = all.find((s) => s.name === 'steps')!;
    expect(plain.range).toBeUndefined();
    expect(plain.last?.context).toBeUndefined();
    const bad = await call('GET', '/api/psi/anomalies?series=has%20space', storer);
    expect(bad.status).toBe(400);
  });

  it('commits forecasts before their outcomes, and vm psi skill proves the skill from the ledger', async () => {
    // At least 4 batches of 5 points of the steps series after the run: forecasts with recorded outcomes.
    await until('committed forecasts', async () => {
      const n = (await node.node.storage.listEntries({ kind: 'psi', limit: 1000 })).length;
      return n >= 6 ? n : undefined;
    });
    const skill = await runVm(['psi', 'skill', '--series', 'steps', '-d', join(dir, 'data'), '--json']);
    const missing = await runVm(['psi', 'skill', '--series', 'nope', '-d', join(dir, 'data')]);
    expect(skill.code, skill.stderr).toBe(0);
    const r = JSON.parse(skill.stdout) as {
      pairs: number;
      unordered: number;
      batches: number;
      coverage95: number;
    };
    expect(r.batches).toBeGreaterThanOrEqual(2);
    expect(r.pairs).toBeGreaterThan(0);
    expect(r.unordered).toBe(0);
    expect(r.coverage95).toBeGreaterThanOrEqual(0);
    expect(r.coverage95).toBeLessThanOrEqual(1);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no committed forecasts of series "nope"');
  });

  it('watches each Aurora provider’s API round trips, and the router scores with their forecast', async () => {
    const workload = { id: 'psi-w', tenant: 'default', gpu: { count: 1 }, command: JOB_COMMAND };
    for (let k = 0; k < 3; k++) {
      const r = await call('POST', '/agent/route', storer, { workload: { ...workload, id: `psi-w${k}` } });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const rtt = (await series()).find((s) => s.name === 'aurora.rtt.local');
    expect(rtt?.points).toBeGreaterThanOrEqual(3);
    const standing = node.aurora.router.standings().get('local');
    expect(standing?.forecast?.rttMs).toBeGreaterThanOrEqual(0);
    expect(standing?.forecast?.anomalyLikelihood).toBeGreaterThanOrEqual(0);
    expect(standing?.forecast?.anomalyLikelihood).toBeLessThanOrEqual(1);
  });

  it('vm psi watch shows the field through the API; a token of one tenant is refused', async () => {
    const run = (token: string, ...args: string[]) =>
      runVm(['psi', 'watch', '--url', node.url, ...args], { env: { VM_TOKEN: token } });
    const json = await run(storer, '--count', '2', '--interval', '100ms', '--json');
    expect(json.code, json.stderr).toBe(0);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { series: SeriesView[] });
    expect(lines).toHaveLength(2);
    expect(lines[1]!.series.map((s) => s.name)).toEqual(expect.arrayContaining(['http-errors', 'steps']));
    const table = await run(storer, '--count', '1');
    expect(table.stdout).toMatch(/SERIES\s+POINTS\s+PERIOD\s+VALUE\s+FORECAST\s+NEXT\s+LIKELIHOOD\s+Ψ/);
    expect(table.stdout).toMatch(/^\s+http-errors\s+\d+/m);
    const refused = await run(tenantOnly, '--count', '1');
    expect(refused.code).toBe(4);
    expect(refused.stdout).toBe('');
    expect((await run(storer, '--count', '0')).code).toBe(2);
  });
});
