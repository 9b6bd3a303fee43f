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
      expect.objectContaining({ item: 'rpo', detail: 'no data for metric backup_age_seconds (fail closed)' }),
    ]);
    expect(nr.stderr).toBe('vm: tenant acme is NOT_READY: 1 finding(s) failed\n');
  });
});
