// Readiness: checklists (YAML and JSON) evaluated against observed metrics and facts, fail closed on anything
// missing, and the Prometheus adapter against a fake Prometheus server on 127.0.0.1 that answers instant queries
// with the response shapes documented at https://prometheus.io/docs/prometheus/latest/querying/api/.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assessReadiness,
  createPrometheusMetrics,
  firstMetric,
  metricsFromRecord,
  readReadinessChecklist,
  readinessSources,
  type ReadinessFinding,
} from '../src/index.ts';

const CHECKLIST = `
version: 1
tenant: acme
traffic:
  expectedRps: 1000
  headroom: 1.2
  metric: load_test_sustained_rps
residency:
  requiredTags: { residency: eu, data-class: pii }
  allowedRegions: [eu-west-1, eu-central-*]
cache:
  hitRatioTarget: 0.9
  metric: cache_hit_ratio{tenant="$tenant"}
queryBudgets:
  - name: search
    p95Ms: 200
    p95Metric: search_p95_ms
    p99Ms: 500
    p99Metric: search_p99_ms
compliance:
  - name: provenance-coverage
    metric: provenance_coverage_ratio
    min: 0.95
dr:
  rpoSeconds: 900
  backupAgeMetric: backup_age_seconds
  rtoSeconds: 3600
  restoreTimeMetric: restore_drill_seconds
`;

const GOOD = {
  load_test_sustained_rps: 1500,
  'cache_hit_ratio{tenant="acme"}': 0.93,
  search_p95_ms: 120,
  search_p99_ms: 480,
  provenance_coverage_ratio: 0.97,
  backup_age_seconds: 600,
  restore_drill_seconds: 1800,
};
const FACTS = { tags: { residency: 'eu', 'data-class': 'pii' }, regions: ['eu-west-1', 'eu-central-2'] };
const T0 = Date.parse('2026-03-01T12:00:00Z');

const byItem = (fs: readonly ReadinessFinding[]) =>
  Object.fromEntries(fs.map((f) => [`${f.section}/${f.item}`, f]));

describe('assessReadiness', () => {
  it('READY when every section meets its target, with one finding per item', async () => {
    const r = await assessReadiness({
      tenant: 'acme',
      checklist: CHECKLIST,
      metrics: metricsFromRecord(GOOD),
      facts: FACTS,
      now: () => T0,
    });
    expect(r.status).toBe('READY');
    expect(r.tenant).toBe('acme');
    expect(r.assessedAt).toBe('2026-03-01T12:00:00.000Z');
    expect(r.findings.map((f) => `${f.section}/${f.item}:${f.ok}`)).toEqual([
      'traffic/sustained-rps:true',
      'residency/tag:residency:true',
      'residency/tag:data-class:true',
      'residency/regions:true',
      'cache/hit-ratio:true',
      'queryBudgets/search:p95:true',
      'queryBudgets/search:p99:true',
      'compliance/provenance-coverage:true',
      'dr/rpo:true',
      'dr/rto:true',
    ]);
    const f = byItem(r.findings);
    expect(f['traffic/sustained-rps']).toEqual({
      section: 'traffic',
      item: 'sustained-rps',
      ok: true,
      expected: '>= 1200 rps (expected 1000 × headroom 1.2)',
      observed: 1500,
      detail: 'observed 1500 rps meets the target >= 1200 rps (expected 1000 × headroom 1.2)',
    });
    expect(f['dr/rpo']).toMatchObject({ expected: '<= 900 s (backup age)', observed: 600 });
    expect(f['residency/regions']).toMatchObject({
      expected: 'within eu-west-1, eu-central-*',
      observed: 'eu-west-1, eu-central-2',
    });
  });

  it('NOT_READY when a target is missed: too little capacity, a blown p99 budget, low coverage, a stale backup', async () => {
    const metrics = metricsFromRecord({
      ...GOOD,
      load_test_sustained_rps: 1100,
      search_p99_ms: 750,
      provenance_coverage_ratio: 0.9,
      backup_age_seconds: 7200,
    });
    const r = await assessReadiness({ tenant: 'acme', checklist: CHECKLIST, metrics, facts: FACTS });
    expect(r.status).toBe('NOT_READY');
    expect(r.findings.filter((x) => !x.ok).map((x) => `${x.section}/${x.item}: ${x.detail}`)).toEqual([
      'traffic/sustained-rps: observed 1100 rps misses the target >= 1200 rps (expected 1000 × headroom 1.2)',
      'queryBudgets/search:p99: observed 750 ms misses the target <= 500 ms',
      'compliance/provenance-coverage: observed 0.9 misses the target >= 0.95',
      'dr/rpo: observed 7200 s misses the target <= 900 s (backup age)',
    ]);
  });

  it('a missing metric, a NaN and a metric source that throws are NOT_READY findings (fail closed)', async () => {
    const { search_p95_ms: _p95, backup_age_seconds: _age, restore_drill_seconds: _rto, ...rest } = GOOD;
    const metrics = firstMetric(metricsFromRecord({ ...rest, cache_hit_ratio: 1 }), (name) => {
      if (name === 'restore_drill_seconds') throw new Error('drill log unreadable');
      return name === 'backup_age_seconds' ? NaN : undefined;
    });
    const r = await assessReadiness({
      tenant: 'acme',
      checklist: CHECKLIST,
      metrics: metricsFromRecord({}),
      facts: FACTS,
    });
    expect(r.status).toBe('NOT_READY');
    expect(r.findings.every((x) => !x.ok || x.section === 'residency')).toBe(true);
    const r2 = await assessReadiness({ tenant: 'acme', checklist: CHECKLIST, metrics, facts: FACTS });
    const f = byItem(r2.findings);
    expect(f['queryBudgets/search:p95']).toMatchObject({
      ok: false,
      observed: null,
      detail: 'no data for metric search_p95_ms (fail closed)',
    });
    expect(f['dr/rpo']).toMatchObject({
      ok: false,
      detail: 'no data for metric backup_age_seconds (fail closed)',
    });
    expect(f['dr/rto']).toMatchObject({
      ok: false,
      detail: 'metric restore_drill_seconds could not be read: drill log unreadable (fail closed)',
    });
    // "$tenant" was substituted: the plain cache_hit_ratio value does not stand in for the tenant's series.
    expect(f['cache/hit-ratio']).toMatchObject({ ok: true, observed: 0.93 });
  });

  it('residency: a missing or wrong tag, a region outside the allowed ones, or no facts at all fail', async () => {
    const metrics = metricsFromRecord(GOOD);
    const r = await assessReadiness({
      tenant: 'acme',
      checklist: CHECKLIST,
      metrics,
      facts: { tags: { residency: 'us' }, regions: ['eu-west-1', 'us-east-1'] },
    });
    const f = byItem(r.findings);
    expect(f['residency/tag:residency']).toMatchObject({
      ok: false,
      observed: 'us',
      detail: 'tag residency is "us", not "eu"',
    });
    expect(f['residency/tag:data-class']).toMatchObject({
      ok: false,
      observed: null,
      detail: 'tag data-class is missing',
    });
    expect(f['residency/regions']).toMatchObject({ ok: false, detail: 'not allowed: us-east-1' });
    const none = await assessReadiness({ tenant: 'acme', checklist: CHECKLIST, metrics });
    expect(none.status).toBe('NOT_READY');
    expect(none.findings.filter((x) => x.section === 'residency').map((x) => x.detail)).toEqual([
      'no observed tags were provided (fail closed)',
      'no observed tags were provided (fail closed)',
      'no observed regions were provided (fail closed)',
    ]);
  });

  it('reads JSON too, and refuses unknown sections, half-given budgets, empty checklists and other tenants', async () => {
    const json = JSON.stringify({
      cache: { hitRatioTarget: 0.5, metric: 'hits' },
      compliance: [{ name: 'errors', metric: 'err', max: 0.01, min: 0 }],
    });
    const r = await assessReadiness({
      tenant: 'beta',
      checklist: json,
      metrics: metricsFromRecord({ hits: 0.6, err: 0.001 }),
    });
    expect(r.status).toBe('READY');
    expect(r.findings.map((x) => x.item)).toEqual(['hit-ratio', 'errors:min', 'errors:max']);
    expect(() => readReadinessChecklist('cache: {hitRatioTarget: 0.5, metric: m}\nvibes: {}\n')).toThrow(
      /readiness checklist is invalid: .*vibes/,
    );
    expect(() => readReadinessChecklist('queryBudgets: [{name: q, p95Ms: 10}]')).toThrow(
      /p95Ms and p95Metric go together/,
    );
    expect(() => readReadinessChecklist('version: 1\n')).toThrow(/at least one section/);
    expect(() => readReadinessChecklist('cache: {hitRatioTarget: 1.5, metric: m}')).toThrow(
      /\/cache\/hitRatioTarget/,
    );
    await expect(
      assessReadiness({ tenant: 'beta', checklist: CHECKLIST, metrics: metricsFromRecord(GOOD) }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'the checklist is for tenant "acme", not "beta"',
    });
    await expect(
      assessReadiness({ tenant: 'Bad Tenant', checklist: json, metrics: metricsFromRecord({}) }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('createPrometheusMetrics (fake Prometheus on 127.0.0.1)', () => {
  let server: Server;
  let url = '';
  const queries: { query: string; time: string | null; authorization?: string | undefined }[] = [];
  // Documented instant-query answers keyed by PromQL.
  const answers: Record<string, [number, unknown]> = {
    load_test_sustained_rps: [
      200,
      {
        status: 'success',
        data: {
          resultType: 'vector',
          result: [{ metric: { job: 'loadtest' }, value: [1772366400, '1500'] }],
        },
      },
    ],
    'cache_hit_ratio{tenant="acme"}': [
      200,
      {
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: { tenant: 'acme' }, value: [1772366400, '0.93'] }] },
      },
    ],
    'histogram_quantile(0.95, sum by (le) (rate(search_duration_seconds_bucket[5m]))) * 1000': [
      200,
      { status: 'success', data: { resultType: 'scalar', result: [1772366400, '120'] } },
    ],
    search_p99_ms: [200, { status: 'success', data: { resultType: 'vector', result: [] } }],
    provenance_coverage_ratio: [
      400,
      { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:9: parse error' },
    ],
    backup_age_seconds: [
      200,
      {
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: {}, value: [1772366400, '600'] }] },
      },
    ],
    restore_drill_seconds: [
      200,
      {
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: {}, value: [1772366400, '1800'] }] },
      },
    ],
  };
  beforeAll(async () => {
    server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname !== '/api/v1/query') {
        res.writeHead(404).end();
        return;
      }
      const query = u.searchParams.get('query') ?? '';
      queries.push({ query, time: u.searchParams.get('time'), authorization: req.headers.authorization });
      const [status, body] = answers[query] ?? [
        200,
        { status: 'success', data: { resultType: 'vector', result: [] } },
      ];
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => new Promise((r) => server.close(r)));

  it('evaluates the checklist through instant queries: values, named queries, empty results and errors', async () => {
    const metrics = createPrometheusMetrics({
      url,
      at: () => new Date(T0),
      queries: {
        search_p95_ms:
          'histogram_quantile(0.95, sum by (le) (rate(search_duration_seconds_bucket[5m]))) * 1000',
      },
    });
    const r = await assessReadiness({ tenant: 'acme', checklist: CHECKLIST, metrics, facts: FACTS });
    const f = byItem(r.findings);
    expect(f['traffic/sustained-rps']).toMatchObject({ ok: true, observed: 1500 });
    expect(f['cache/hit-ratio']).toMatchObject({ ok: true, observed: 0.93 });
    // Each value says where it came from: the query that measured it.
    expect(f['queryBudgets/search:p95']).toMatchObject({
      ok: true,
      observed: 120,
      source: `prometheus ${url}: histogram_quantile(0.95, sum by (le) (rate(search_duration_seconds_bucket[5m]))) * 1000`,
    });
    expect(f['queryBudgets/search:p99']).toMatchObject({
      ok: false,
      observed: null,
      detail: `no data for metric search_p99_ms (prometheus ${url}: search_p99_ms) (fail closed)`,
    });
    expect(f['compliance/provenance-coverage']).toMatchObject({ ok: false, observed: null });
    expect(f['compliance/provenance-coverage']!.detail).toMatch(
      /could not be read: Prometheus: HTTP 400: bad_data: invalid parameter "query"/,
    );
    expect(f['dr/rto']).toMatchObject({ ok: true, observed: 1800 });
    expect(r.status).toBe('NOT_READY');
    expect(queries.find((q) => q.query === 'load_test_sustained_rps')!.time).toBe(String(T0 / 1000) + '.000');
  });

  it('a file never silently beats a measurement: Prometheus wins, the file fills gaps, each value names its source', async () => {
    const { metrics, facts } = readinessSources(
      { metrics: { load_test_sustained_rps: 99_999, search_p99_ms: 150 }, regions: ['eu-west-1'] },
      `http://user:s3cr3t@${url.slice('http://'.length)}`,
      'observed.yaml',
    );
    const r = await assessReadiness({
      tenant: 'acme',
      checklist: CHECKLIST,
      metrics,
      facts: { ...FACTS, ...facts },
    });
    const f = byItem(r.findings);
    // Measured 1500 by Prometheus; the file's 99999 is named, not used.
    expect(f['traffic/sustained-rps']).toMatchObject({ observed: 1500 });
    expect(f['traffic/sustained-rps']!.source).toMatch(
      /^prometheus http:\/\/127\.0\.0\.1:\d+: load_test_sustained_rps$/,
    );
    expect(f['traffic/sustained-rps']!.detail).toMatch(
      /file observed\.yaml says 99999; the measurement is used/,
    );
    // No data in Prometheus: the file's value, labelled as such.
    expect(f['queryBudgets/search:p99']).toMatchObject({ observed: 150, source: 'file observed.yaml' });
    expect(f['residency/regions']).toMatchObject({ source: 'file observed.yaml' });
    // The Prometheus URL's credentials go as a Basic header, and are never shown.
    expect(JSON.stringify(r)).not.toContain('s3cr3t');
    expect(queries.at(-1)!.authorization).toBe(`Basic ${Buffer.from('user:s3cr3t').toString('base64')}`);
  });

  it('an unreachable Prometheus makes every metric item NOT_READY', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const metrics = createPrometheusMetrics({ url: `http://127.0.0.1:${port}`, timeoutMs: 1000 });
    const r = await assessReadiness({ tenant: 'acme', checklist: CHECKLIST, metrics, facts: FACTS });
    expect(r.status).toBe('NOT_READY');
    const metricFindings = r.findings.filter((x) => x.section !== 'residency');
    expect(metricFindings).toHaveLength(7);
    for (const x of metricFindings)
      expect(x.detail).toMatch(/could not be read: Prometheus: request to http:\/\/127\.0\.0\.1:\d+ failed/);
  });
});
