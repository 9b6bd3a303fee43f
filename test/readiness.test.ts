// End to end: the real `vm` binary assesses a readiness checklist against a fake Prometheus on 127.0.0.1 (instant
// queries answered with the documented response shapes) and an observations file: READY exits 0 and writes the
// report, a missing metric is NOT_READY and exits 1.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVm } from './helpers/vm.ts';

const VALUES: Record<string, string> = {
  'sum(rate(http_requests_total{tenant="acme"}[5m]))': '1300',
  'vaultmesh_provenance_coverage_ratio{tenant="acme"}': '0.98',
};

describe('vm readiness assess', () => {
  let work: string;
  let prometheus: Server;
  let url = '';
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vm-readiness-'));
    prometheus = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const v = VALUES[u.searchParams.get('query') ?? ''];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: 'success',
          data: { resultType: 'vector', result: v ? [{ metric: {}, value: [Date.now() / 1000, v] }] : [] },
        }),
      );
    });
    await new Promise<void>((r) => prometheus.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
    writeFileSync(
      join(work, 'checklist.yaml'),
      [
        'tenant: acme',
        'traffic:',
        '  expectedRps: 1000',
        '  headroom: 1.2',
        '  metric: sum(rate(http_requests_total{tenant="$tenant"}[5m]))',
        'residency:',
        '  allowedRegions: [eu-west-1]',
        'compliance:',
        '  - name: provenance-coverage',
        '    metric: vaultmesh_provenance_coverage_ratio{tenant="$tenant"}',
        '    min: 0.95',
        'dr:',
        '  rpoSeconds: 900',
        '  backupAgeMetric: backup_age_seconds',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(work, 'observed.json'),
      JSON.stringify({ metrics: { backup_age_seconds: 300 }, regions: ['eu-west-1'] }),
    );
  });
  afterAll(async () => {
    await new Promise((r) => prometheus.close(r));
    rmSync(work, { recursive: true, force: true });
  });

  it('READY (exit 0) when Prometheus and the observations meet every target; --out writes the report', async () => {
    const out = join(work, 'report.json');
    const r = await runVm([
      'readiness',
      'assess',
      '--tenant',
      'acme',
      '--checklist',
      join(work, 'checklist.yaml'),
      '--prometheus',
      url,
      '--observed',
      join(work, 'observed.json'),
      '--out',
      out,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^acme: READY$/m);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      status: string;
      findings: { section: string; item: string; ok: boolean; observed: unknown }[];
    };
    expect(report.status).toBe('READY');
    expect(report.findings.map((f) => `${f.section}/${f.item}=${String(f.observed)}`)).toEqual([
      'traffic/sustained-rps=1300',
      'residency/regions=eu-west-1',
      'compliance/provenance-coverage=0.98',
      'dr/rpo=300',
    ]);
  });

  it('NOT_READY (exit 1) when a metric has no data: missing is never ready', async () => {
    writeFileSync(join(work, 'observed.json'), JSON.stringify({ regions: ['eu-west-1'] }));
    const nr = await runVm([
      'readiness',
      'assess',
      '--tenant',
      'acme',
      '--checklist',
      join(work, 'checklist.yaml'),
      '--prometheus',
      url,
      '--observed',
      join(work, 'observed.json'),
      '--json',
    ]);
    expect(nr.code).toBe(1);
    const report = JSON.parse(nr.stdout) as {
      status: string;
      findings: { item: string; ok: boolean; detail: string }[];
    };
    expect(report.status).toBe('NOT_READY');
    expect(report.findings.filter((f) => !f.ok)).toEqual([
      expect.objectContaining({
        item: 'rpo',
        detail: `no data for metric backup_age_seconds (prometheus ${url}: backup_age_seconds; not in file ${join(work, 'observed.json')}) (fail closed)`,
      }),
    ]);
    expect(nr.stderr).toBe('vm: tenant acme is NOT_READY: 1 finding(s) failed\n');
  });

  it('--record writes the report as an audit receipt; a file value never beats a measurement', async () => {
    const data = join(work, 'data');
    expect((await runVm(['init', '-d', data])).code).toBe(0);
    // The file claims a traffic figure Prometheus measured otherwise: the measurement is used, the file named.
    writeFileSync(
      join(work, 'observed.json'),
      JSON.stringify({
        metrics: { backup_age_seconds: 300, 'sum(rate(http_requests_total{tenant="acme"}[5m]))': 5000 },
        regions: ['eu-west-1'],
      }),
    );
    const r = await runVm([
      'readiness',
      'assess',
      '--tenant',
      'acme',
      '--checklist',
      join(work, 'checklist.yaml'),
      '--prometheus',
      url,
      '--observed',
      join(work, 'observed.json'),
      '--record',
      '-d',
      data,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      receipt: number;
      findings: { item: string; observed: unknown; source?: string; detail: string }[];
    };
    const traffic = report.findings.find((f) => f.item === 'sustained-rps')!;
    expect(traffic.observed).toBe(1300);
    expect(traffic.source).toBe(`prometheus ${url}: sum(rate(http_requests_total{tenant="acme"}[5m]))`);
    expect(traffic.detail).toMatch(/observed\.json says 5000; the measurement is used/);
    expect(report.findings.find((f) => f.item === 'rpo')!.source).toBe(`file ${join(work, 'observed.json')}`);
    const shown = await runVm(['memory', 'show', String(report.receipt), '-d', data, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const rec = (JSON.parse(shown.stdout) as { receipt: { kind: string; body: Record<string, unknown> } })
      .receipt;
    expect(rec.kind).toBe('audit');
    expect(rec.body).toMatchObject({
      subject: 'readiness:acme',
      result: 'pass',
      status: 'READY',
      via: 'cli',
    });
    expect(rec.body.checklistSha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
