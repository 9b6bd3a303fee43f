// Tripwires: burn-rate math against the worked examples of the Google SRE workbook ("Alerting on SLOs", ch. 5),
// compensation-rate rules, the node's own counters, and the Prometheus HTTP API client against a fake Prometheus
// server on 127.0.0.1 that answers with the response shapes documented at
// https://prometheus.io/docs/prometheus/latest/querying/api/ (nothing real is reachable from the tests).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeReceipt } from '@vaultmesh/ledger';
import type { AnomalyWatch } from '@vaultmesh/types';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  COMPENSATIONS_COUNTER,
  STEPS_COUNTER,
  STEP_ERRORS_COUNTER,
  burnRate,
  burnRateReaches,
  createCounterSource,
  createPrometheusSource,
  createTripwireCheck,
  defaultBurnRateRules,
  evaluateTripwires,
  parsePromDuration,
  parseTripwireRules,
  SRE_WORKBOOK_ROWS,
  tripwireReceiptBody,
  type MetricSource,
  type StepFacts,
  type TripwireRuleConfig,
} from '../src/index.ts';

const step = (over: Partial<StepFacts> = {}): StepFacts => ({
  planId: 'p-1',
  planHash: 'a'.repeat(64),
  runId: 'r-1',
  phaseId: 'ph-1',
  stepId: 's-1',
  action: 'k8s.scale',
  tenant: 'acme',
  risk: 'medium',
  reversible: true,
  readOnly: false,
  aggregation: false,
  dryRun: false,
  ...over,
});

const ERR = 'sum(rate(http_requests_total{code=~"5.."}[$window])) / sum(rate(http_requests_total[$window]))';
const q = (w: string) => ERR.replaceAll('$window', w);
/** A MetricSource answering fixed values per query (the port's boundary); unknown queries reject. */
const table = (values: Record<string, number>): MetricSource => ({
  async query(promql) {
    if (!(promql in values)) throw new Error(`unexpected query ${promql}`);
    return values[promql]!;
  },
});
const T0 = new Date('2026-01-01T00:00:00Z');

describe('the SRE workbook rows (kind: slo)', () => {
  const slo = { id: 'checkout', kind: 'slo' as const, objective: 0.999, query: ERR };
  /** Error ratios per window; every window the four rows use is answered. */
  const ratios = (r: Partial<Record<'5m' | '30m' | '1h' | '2h' | '6h' | '1d' | '3d', number>>) =>
    table(
      Object.fromEntries(
        ['5m', '30m', '1h', '2h', '6h', '1d', '3d'].map((w) => [q(w), r[w as keyof typeof r] ?? 0]),
      ),
    );
  const fired = async (r: Parameters<typeof ratios>[0]) =>
    (await evaluateTripwires({ rules: [slo], source: ratios(r), now: () => T0 }))
      .filter((e) => e.fired)
      .map((e) => `${e.id}:${e.action}`);

  it('expands to the four rows: 14.4x 1h/5m, 6x 6h/30m (pages halt), 3x 1d/2h, 1x 3d/6h (tickets pause)', () => {
    const rules = parseTripwireRules(JSON.stringify({ rules: [slo] }));
    expect(
      rules.map((r) =>
        r.kind === 'burn-rate' ? [r.id, r.burnRate, r.long.window, r.short.window, r.action] : [],
      ),
    ).toEqual([
      ['checkout-page-1h', 14.4, '1h', '5m', 'halt'],
      ['checkout-page-6h', 6, '6h', '30m', 'halt'],
      ['checkout-ticket-1d', 3, '1d', '2h', 'pause'],
      ['checkout-ticket-3d', 1, '3d', '6h', 'pause'],
    ]);
    expect(SRE_WORKBOOK_ROWS).toHaveLength(4);
    const quiet = parseTripwireRules(JSON.stringify({ rules: [{ ...slo, page: 'pause', ticket: 'pause' }] }));
    expect(quiet.every((r) => r.action === 'pause')).toBe(true);
  });

  it('each row fires only when both of its windows burn at its rate', async () => {
    // 1.44% errors over 1h and 5m: 14.4x, the fast page (and every slower row whose windows also burn).
    expect(await fired({ '1h': 0.0144, '5m': 0.0144 })).toEqual(['checkout-page-1h:halt']);
    // A short spike alone fires nothing: the long window must burn too.
    expect(await fired({ '5m': 0.5 })).toEqual([]);
    // 0.35% over 1 day and 2 hours: 3.5x, the 1-day ticket only.
    expect(await fired({ '1d': 0.0035, '2h': 0.0035 })).toEqual(['checkout-ticket-1d:pause']);
    // 0.1% over 3 days and 6 hours: exactly the budget rate (1x), the 3-day ticket.
    expect(await fired({ '3d': 0.001, '6h': 0.001 })).toEqual(['checkout-ticket-3d:pause']);
    // 0.6% over 6h and 30m: 6x, the slow page (the 3-day ticket's 3d window does not burn).
    expect(await fired({ '6h': 0.006, '30m': 0.006 })).toEqual(['checkout-page-6h:halt']);
  });

  it('the shipped examples/tripwires/slo.yaml is valid and holds the four rows', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('../../../examples/tripwires/slo.yaml', import.meta.url), 'utf8');
    expect(parseTripwireRules(text).map((r) => r.id)).toEqual([
      'checkout-page-1h',
      'checkout-page-6h',
      'checkout-ticket-1d',
      'checkout-ticket-3d',
      'too-many-rollbacks',
    ]);
  });

  it('refuses an SLO rule whose expanded ids collide with another rule', () => {
    expect(() =>
      parseTripwireRules(
        JSON.stringify({
          rules: [
            slo,
            {
              id: 'checkout-page-1h',
              kind: 'compensation-rate',
              window: '1h',
              threshold: 0.1,
              action: 'halt',
            },
          ],
        }),
      ),
    ).toThrow(/duplicate id "checkout-page-1h"/);
  });
});

describe('burn-rate math (SRE workbook ch. 5)', () => {
  it('burn rate is the error ratio over the error budget: 1.44% errors against 99.9% is 14.4x', () => {
    expect(burnRate(0.0144, 0.999)).toBeCloseTo(14.4, 9);
    expect(burnRateReaches(burnRate(0.0144, 0.999), 14.4)).toBe(true); // despite 14.399999999999986
    expect(burnRateReaches(burnRate(0.0143, 0.999), 14.4)).toBe(false);
  });

  it("the default rules are the workbook's table: 2% of a 30-day budget in 1h, 5% in 6h", () => {
    const [fast, slow] = defaultBurnRateRules(0.999, ERR);
    const budgetSpent = (rate: number, window: string) =>
      (rate * parsePromDuration(window)) / parsePromDuration('30d');
    expect(fast).toMatchObject({
      burnRate: 14.4,
      long: { window: '1h', query: q('1h') },
      short: { window: '5m' },
    });
    expect(budgetSpent(fast!.kind === 'burn-rate' ? fast!.burnRate : 0, '1h')).toBeCloseTo(0.02, 12);
    expect(slow).toMatchObject({
      burnRate: 6,
      long: { window: '6h' },
      short: { window: '30m' },
      action: 'pause',
    });
    expect(budgetSpent(slow!.kind === 'burn-rate' ? slow!.burnRate : 0, '6h')).toBeCloseTo(0.05, 12);
  });

  it('SLO 99.9% with 1.44% errors over both 1h and 5m: the fast burn fires halt', async () => {
    const check = createTripwireCheck({
      rules: defaultBurnRateRules(0.999, ERR),
      source: table({ [q('1h')]: 0.0144, [q('5m')]: 0.0144, [q('6h')]: 0.001, [q('30m')]: 0.0144 }),
      now: () => T0,
    });
    const fired = await check.check(step());
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ id: 'slo-fast-burn', action: 'halt' });
    expect(fired[0]!.evidence).toMatchObject({
      objective: 0.999,
      burnRateThreshold: 14.4,
      'errorRatio:1h': 0.0144,
    });
    expect(fired[0]!.evidence['burnRate:5m']).toBeCloseTo(14.4, 9);
    expect(fired[0]!.reason).toContain('both windows reach 14.4x');
  });

  it('only one window high does not fire: a spike that is over (5m low) or one just starting (1h low)', async () => {
    const rules = defaultBurnRateRules(0.999, ERR).slice(0, 1);
    const over = createTripwireCheck({ rules, source: table({ [q('1h')]: 0.02, [q('5m')]: 0.0001 }) });
    const starting = createTripwireCheck({ rules, source: table({ [q('1h')]: 0.001, [q('5m')]: 0.5 }) });
    expect(await over.check(step())).toEqual([]);
    expect(await starting.check(step())).toEqual([]);
  });

  it('SLO 99.9% with 0.6% errors over 6h and 30m: the slow burn (6x) fires pause, the fast one does not', async () => {
    const check = createTripwireCheck({
      rules: defaultBurnRateRules(0.999, ERR),
      source: table({ [q('1h')]: 0.006, [q('5m')]: 0.006, [q('6h')]: 0.006, [q('30m')]: 0.006 }),
    });
    expect(await check.check(step())).toMatchObject([{ id: 'slo-slow-burn', action: 'pause' }]);
  });

  it('evaluateTripwires reports every rule, fired or not, with what it measured', async () => {
    const out = await evaluateTripwires({
      rules: defaultBurnRateRules(0.999, ERR),
      source: table({ [q('1h')]: 0.0144, [q('5m')]: 0.0144, [q('6h')]: 0.001, [q('30m')]: 0.0144 }),
    });
    expect(out.map((r) => [r.id, r.fired])).toEqual([
      ['slo-fast-burn', true],
      ['slo-slow-burn', false],
    ]);
    expect(out[1]!.evidence['burnRate:6h']).toBeCloseTo(1, 9);
  });
});

describe('compensation-rate rules over the node’s own counters', () => {
  const rule: TripwireRuleConfig = {
    id: 'too-many-rollbacks',
    kind: 'compensation-rate',
    window: '30m',
    threshold: 0.2,
    minSteps: 5,
    action: 'pause',
  };

  it('fires when compensations / steps in the window is above the threshold', async () => {
    let t = T0.getTime();
    const source = createCounterSource({ now: () => t });
    for (let i = 0; i < 10; i++) source.add(STEPS_COUNTER);
    source.add(COMPENSATIONS_COUNTER, 3);
    const check = createTripwireCheck({ rules: [rule], source, now: () => new Date(t) });
    const fired = await check.check(step());
    expect(fired).toEqual([
      {
        id: 'too-many-rollbacks',
        action: 'pause',
        reason: '3 compensation(s) in 10 step(s) over 30m: 30% > 20%',
        evidence: { window: '30m', compensations: 3, steps: 10, compensationRate: 0.3, threshold: 0.2 },
      },
    ]);
    t += 31 * 60_000; // everything slid out of the window
    expect(await check.check(step())).toEqual([]);
  });

  it('does not fire at exactly the threshold, nor with fewer steps than minSteps', async () => {
    const source = createCounterSource();
    for (let i = 0; i < 10; i++) source.add(STEPS_COUNTER);
    source.add(COMPENSATIONS_COUNTER, 2);
    expect(await createTripwireCheck({ rules: [rule], source }).check(step())).toEqual([]);
    const few = createCounterSource();
    few.add(STEPS_COUNTER, 2);
    few.add(COMPENSATIONS_COUNTER, 2);
    const [r] = await evaluateTripwires({ rules: [rule], source: few });
    expect(r).toMatchObject({ fired: false });
    expect(r!.reason).toContain('fewer than the 5 needed');
  });

  it('a burn-rate rule over the own counters fires on the step error ratio', async () => {
    const source = createCounterSource();
    source.add(STEPS_COUNTER, 100, { tenant: 'acme' });
    source.add(STEP_ERRORS_COUNTER, 20, { tenant: 'acme' });
    source.add(STEPS_COUNTER, 100, { tenant: 'other' });
    const own = `sum(increase(${STEP_ERRORS_COUNTER}{tenant="$tenant"}[$window])) / sum(increase(${STEPS_COUNTER}{tenant="$tenant"}[$window]))`;
    const check = createTripwireCheck({ rules: defaultBurnRateRules(0.99, own), source });
    expect((await check.check(step())).map((f) => f.id)).toEqual(['slo-fast-burn', 'slo-slow-burn']);
    expect(await check.check(step({ tenant: 'other' }))).toEqual([]); // 0 errors in 100 steps
    expect(await check.check(step({ tenant: 'nobody' }))).toMatchObject([
      { id: 'slo-fast-burn', action: 'halt', reason: expect.stringContaining('no data') },
      { id: 'slo-slow-burn', action: 'halt' },
    ]);
  });
});

describe('counter source: the PromQL subset it evaluates', () => {
  it('computes increase, rate, sum, label matchers and arithmetic over a sliding window', async () => {
    let t = T0.getTime();
    const s = createCounterSource({ now: () => t });
    s.add('jobs_total', 4, { kind: 'a' });
    t += 60_000;
    s.add('jobs_total', 6, { kind: 'b' });
    const at = new Date(t);
    expect(await s.query('increase(jobs_total[5m])', at)).toBe(10);
    expect(await s.query('sum(increase(jobs_total{kind="a"}[5m]))', at)).toBe(4);
    expect(await s.query('increase(jobs_total{kind="b", }[30s])', at)).toBe(6);
    expect(await s.query('increase(jobs_total[30s])', at)).toBe(6);
    expect(await s.query('rate(jobs_total[5m])', at)).toBeCloseTo(10 / 300, 12);
    expect(await s.query('(increase(jobs_total{kind="a"}[5m]) + 1) / 2 * 3 - 1', at)).toBe(6.5);
    expect(await s.query('increase(nothing_total[5m]) / increase(nothing_total[5m])', at)).toBeNaN();
  });

  it('refuses what it does not support, and a tripwire on it fails closed', async () => {
    const s = createCounterSource();
    await expect(s.query('histogram_quantile(0.9, x)', T0)).rejects.toThrowError(/unsupported/);
    await expect(s.query('increase(x[5m]) > 1', T0)).rejects.toThrowError(/trailing input/);
    expect(() => s.add('x', -1)).toThrowError(/only grows/);
    const check = createTripwireCheck({
      rules: [
        {
          id: 'bad',
          kind: 'compensation-rate',
          window: '5m',
          threshold: 0.1,
          stepsQuery: 'topk(1, x)',
          action: 'pause',
        },
      ],
      source: s,
    });
    expect(await check.check(step())).toMatchObject([{ id: 'bad', action: 'halt' }]);
  });
});

describe('rules files', () => {
  it('reads YAML and JSON alike, resolving $window templates and per-window queries', () => {
    const yaml = `rules:
  - id: fast
    kind: burn-rate
    objective: 0.999
    burnRate: 14.4
    query: '${ERR}'
    long: 1h
    short: { window: 5m, query: 'custom[5m]' }
    action: halt
  - { id: rollbacks, kind: compensation-rate, window: 30m, threshold: 0.25, action: pause, noData: ignore }
`;
    const rules = parseTripwireRules(yaml);
    expect(rules[0]).toMatchObject({
      long: { window: '1h', query: q('1h') },
      short: { query: 'custom[5m]' },
      noData: 'halt',
    });
    expect(rules[1]).toMatchObject({
      stepsQuery: `sum(increase(${STEPS_COUNTER}[30m]))`,
      compensationsQuery: `sum(increase(${COMPENSATIONS_COUNTER}[30m]))`,
      minSteps: 1,
      noData: 'ignore',
    });
    expect(parseTripwireRules(JSON.stringify({ rules: JSON.parse(JSON.stringify(rules)) }))).toEqual(rules);
  });

  it('refuses unknown fields, duplicate ids, a short window not shorter than the long one and a missing query', () => {
    const text = JSON.stringify({
      rules: [
        {
          id: 'a',
          kind: 'burn-rate',
          objective: 0.999,
          burnRate: 14.4,
          long: '5m',
          short: '1h',
          action: 'halt',
        },
        { id: 'a', kind: 'compensation-rate', window: '1x', threshold: 0.1, action: 'stop', color: 'red' },
      ],
    });
    let problems: string[] = [];
    try {
      parseTripwireRules(text);
    } catch (e) {
      problems = (e as { details: { problems: string[] } }).details.problems;
    }
    const all = problems.join('\n');
    expect(all).toContain('/rules/0/long: needs its own query');
    expect(all).toContain('/rules/0/short: the short window must be shorter');
    expect(all).toContain('/rules/1/window');
    expect(all).toContain('/rules/1/action');
    expect(all).toMatch(/color/);
    expect(() =>
      createTripwireCheck({ rules: [{ id: 'x' } as TripwireRuleConfig], source: table({}) }),
    ).toThrowError(/tripwire rules is invalid/);
  });

  it('parses Prometheus durations', () => {
    expect(parsePromDuration('5m')).toBe(300_000);
    expect(parsePromDuration('1h30m')).toBe(5_400_000);
    expect(parsePromDuration('3d')).toBe(259_200_000);
    expect(() => parsePromDuration('5 minutes')).toThrowError(/invalid duration/);
    expect(() => parsePromDuration('0s')).toThrowError(/positive/);
  });
});

describe('createTripwireCheck fails closed and never throws', () => {
  const rules = defaultBurnRateRules(0.999, ERR).slice(0, 1);

  it('a source that rejects fires halt with the reason', async () => {
    const fired = await createTripwireCheck({
      rules,
      source: { query: () => Promise.reject(new Error('connection reset')) },
    }).check(step());
    expect(fired).toMatchObject([{ id: 'slo-fast-burn', action: 'halt' }]);
    expect(fired[0]!.reason).toContain('connection reset');
  });

  it('a source that never answers fires halt after the timeout', async () => {
    const fired = await createTripwireCheck({
      rules,
      source: { query: () => new Promise<number>(() => undefined) },
      timeoutMs: 50,
    }).check(step());
    expect(fired[0]!.reason).toContain('timed out after 50 ms');
  });

  it('a source that returns garbage or a negative ratio fires halt', async () => {
    const garbage = { query: async () => 'lots' as unknown as number };
    expect(await createTripwireCheck({ rules, source: garbage }).check(step())).toMatchObject([
      { action: 'halt' },
    ]);
    const negative = { query: async () => -0.5 };
    expect(await createTripwireCheck({ rules, source: negative }).check(step())).toMatchObject([
      { action: 'halt' },
    ]);
  });

  it('no data fires the noData action (halt by default; pause or ignore when configured)', async () => {
    const nan = { query: async () => NaN };
    const [r] = rules;
    expect(await createTripwireCheck({ rules: [r!], source: nan }).check(step())).toMatchObject([
      { action: 'halt' },
    ]);
    expect(
      await createTripwireCheck({ rules: [{ ...r!, noData: 'pause' }], source: nan }).check(step()),
    ).toMatchObject([{ action: 'pause' }]);
    expect(
      await createTripwireCheck({ rules: [{ ...r!, noData: 'ignore' }], source: nan }).check(step()),
    ).toEqual([]);
  });

  it('$tenant is filled from the step, and a step without a valid tenant fires halt', async () => {
    const seen: string[] = [];
    const source = { query: async (p: string) => (seen.push(p), 0) };
    const tenantRules = defaultBurnRateRules(0.999, 'errors{tenant="$tenant"}[$window]').slice(0, 1);
    expect(await createTripwireCheck({ rules: tenantRules, source }).check(step())).toEqual([]);
    expect(seen).toEqual(['errors{tenant="acme"}[1h]', 'errors{tenant="acme"}[5m]']);
    const fired = await createTripwireCheck({ rules: tenantRules, source }).check(
      step({ tenant: 'x"} or vector(1)' }),
    );
    expect(fired).toMatchObject([{ action: 'halt' }]);
  });
});

describe('tripwireReceiptBody', () => {
  it('is a valid step receipt body naming the step and the tripwire, with non-finite evidence as text', () => {
    const body = tripwireReceiptBody(
      {
        id: 'slo-fast-burn',
        action: 'halt',
        reason: 'burning',
        evidence: { 'burnRate:1h': Infinity, ratio: NaN, w: '1h' },
      },
      step(),
    );
    expect(body).toEqual({
      planId: 'p-1',
      planHash: 'a'.repeat(64),
      runId: 'r-1',
      phaseId: 'ph-1',
      stepId: 's-1',
      action: 'k8s.scale',
      status: 'halted',
      dryRun: false,
      tripwire: {
        id: 'slo-fast-burn',
        action: 'halt',
        reason: 'burning',
        evidence: { 'burnRate:1h': '+Inf', ratio: 'NaN', w: '1h' },
      },
    });
    const receipt = { v: 1, kind: 'step', actor: 'executor', tenant: 'acme', time: T0.toISOString(), body };
    expect(() => encodeReceipt(receipt)).not.toThrow();
    expect(tripwireReceiptBody({ id: 'x', action: 'pause', reason: 'r', evidence: {} }, step()).status).toBe(
      'paused',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The Prometheus HTTP API client against a fake Prometheus on 127.0.0.1.

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

describe('Prometheus source against a fake Prometheus HTTP server', () => {
  let server: Server;
  let base: string;
  let handler: Handler;
  const requests: URL[] = [];
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  // Recorded shapes of /api/v1/query answers (Prometheus 2.x/3.x).
  const vector = (...values: string[]) => ({
    status: 'success',
    data: {
      resultType: 'vector',
      result: values.map((v, i) => ({ metric: { job: `api-${i}` }, value: [1767225600.0, v] })),
    },
  });

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      requests.push(url);
      handler(req, res, url);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  beforeEach(() => {
    requests.length = 0;
    handler = (_req, res) => json(res, 200, vector('0'));
  });

  it('sends an instant query (GET /api/v1/query with query and time) and reads a one-sample vector', async () => {
    handler = (_req, res) => json(res, 200, vector('0.0144'));
    const src = createPrometheusSource({ url: `${base}/prom`, headers: { authorization: 'Bearer t' } });
    expect(await src.query(q('1h'), T0)).toBe(0.0144);
    expect(requests[0]!.pathname).toBe('/prom/api/v1/query');
    expect(requests[0]!.searchParams.get('query')).toBe(q('1h'));
    expect(requests[0]!.searchParams.get('time')).toBe('1767225600.000');
  });

  it('reads scalar results, NaN and ±Inf samples, and an empty vector as no data', async () => {
    const src = createPrometheusSource({ url: base });
    handler = (_req, res) =>
      json(res, 200, { status: 'success', data: { resultType: 'scalar', result: [1767225600, '0.5'] } });
    expect(await src.query('scalar(x)', T0)).toBe(0.5);
    handler = (_req, res) => json(res, 200, vector('NaN'));
    expect(await src.query('x', T0)).toBeNaN();
    handler = (_req, res) => json(res, 200, vector('+Inf'));
    expect(await src.query('x', T0)).toBe(Infinity);
    handler = (_req, res) => json(res, 200, vector());
    expect(await src.query('x', T0)).toBeNaN();
  });

  it('fast burn fires through the real client when Prometheus reports 1.44% over 1h and 5m', async () => {
    handler = (_req, res, url) =>
      json(res, 200, vector(url.searchParams.get('query')!.includes('[1h]') ? '0.0144' : '0.02'));
    const check = createTripwireCheck({
      rules: defaultBurnRateRules(0.999, ERR).slice(0, 1),
      source: createPrometheusSource({ url: base }),
    });
    expect(await check.check(step())).toMatchObject([{ id: 'slo-fast-burn', action: 'halt' }]);
  });

  const firesHalt = async (h: Handler, contains: string, timeoutMs?: number) => {
    handler = h;
    const check = createTripwireCheck({
      rules: defaultBurnRateRules(0.999, ERR).slice(0, 1),
      source: createPrometheusSource({ url: base, ...(timeoutMs ? { timeoutMs } : {}) }),
    });
    const fired = await check.check(step());
    expect(fired).toHaveLength(1);
    expect(fired[0]!.action).toBe('halt');
    expect(fired[0]!.reason).toContain(contains);
  };

  it('HTTP 500 fails closed', () =>
    firesHalt((_req, res) => json(res, 500, 'internal error'), 'HTTP 500 with a body that is not JSON'));

  it("a Prometheus error envelope (400 bad_data) fails closed with Prometheus's message", () =>
    firesHalt(
      (_req, res) =>
        json(res, 400, {
          status: 'error',
          errorType: 'bad_data',
          error: 'invalid parameter "query": 1:1: parse error',
        }),
      'HTTP 400: bad_data: invalid parameter',
    ));

  it('an error body that echoes our credentials (header, URL user info) is scrubbed before it reaches a reason', async () => {
    handler = (req, res) =>
      json(res, 401, {
        status: 'error',
        errorType: 'unauthorized',
        error: `rejected ${req.headers.authorization} and ${req.headers['x-scope-orgid-token']} and ${Buffer.from(
          (req.headers.authorization ?? '').replace(/^Basic /, ''),
          'base64',
        ).toString()}`,
      });
    const src = createPrometheusSource({
      url: base.replace('http://', 'http://ops:pr0m-pass@'),
      headers: { 'x-scope-orgid-token': 'tenant-s3cret' },
    });
    const err = await src.query('x', T0).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/HTTP 401: unauthorized: rejected \[redacted\]/);
    expect(err?.message).not.toMatch(/pr0m-pass|tenant-s3cret|b3BzOnByMG0tcGFzcw/);
  });

  it('malformed JSON fails closed', () =>
    firesHalt((_req, res) => json(res, 200, '{"status":"success","data":'), 'not JSON'));

  it('a timeout fails closed', () =>
    firesHalt(() => undefined /* never answers */, 'no answer within 100 ms', 100));

  it('several series fail closed (the query must aggregate to one)', () =>
    firesHalt((_req, res) => json(res, 200, vector('0.1', '0.2')), 'returned 2 series'));

  it('a matrix result or a malformed sample fails closed', async () => {
    await firesHalt(
      (_req, res) => json(res, 200, { status: 'success', data: { resultType: 'matrix', result: [] } }),
      'got matrix',
    );
    await firesHalt((_req, res) => json(res, 200, vector('zero')), 'malformed sample value');
  });

  it('an unreachable server fails closed', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const fired = await createTripwireCheck({
      rules: defaultBurnRateRules(0.999, ERR).slice(0, 1),
      source: createPrometheusSource({ url: `http://127.0.0.1:${port}` }),
    }).check(step());
    expect(fired).toMatchObject([{ action: 'halt' }]);
    expect(fired[0]!.reason).toContain('request to');
  });

  it('refuses a URL that is not http or https', () => {
    expect(() => createPrometheusSource({ url: 'file:///etc/passwd' })).toThrowError(/http or https/);
  });
});

describe('psi rules over the Ψ-Field (an AnomalyWatch)', () => {
  const none: MetricSource = {
    async query() {
      throw new Error('a psi rule never queries the metric source');
    },
  };
  /** A watch holding fixed likelihoods per series, one point a second up to T0 (the port's boundary). */
  const watch = (series: Record<string, number[]>): AnomalyWatch => ({
    recent(name, n) {
      const ls = series[name];
      return ls
        ?.map((likelihood, i) => ({
          time: T0.getTime() - (ls.length - 1 - i) * 1000,
          value: 10 * i,
          likelihood,
        }))
        .slice(-n);
    },
  });
  const now = () => T0;
  const rule = (over: Partial<TripwireRuleConfig> = {}) =>
    ({
      id: 'errors-anomaly',
      kind: 'psi',
      series: 'http-errors',
      threshold: 0.99,
      points: 2,
      action: 'halt',
      ...over,
    }) as TripwireRuleConfig;

  it('fires on `points` consecutive likelihoods at or over the threshold within the window, with the evidence', async () => {
    const check = createTripwireCheck({
      rules: [rule()],
      source: none,
      now,
      anomalies: watch({ 'http-errors': [0.2, 0.995, 0.9999, 0.3, 0.1] }),
    });
    const fired = await check.check(step());
    expect(fired).toMatchObject([{ id: 'errors-anomaly', action: 'halt' }]);
    expect(fired[0]!.reason).toContain(
      '2 consecutive point(s) at or over an anomaly likelihood of 0.99 in the last 1m',
    );
    expect(fired[0]!.evidence).toMatchObject({
      series: 'http-errors',
      threshold: 0.99,
      points: 2,
      window: '1m',
      longestRun: 2,
      maxLikelihood: 0.9999,
    });
  });

  it('does not fire on points that are not consecutive, or that fell out of the window', async () => {
    const apart = await evaluateTripwires({
      rules: [rule()],
      source: none,
      now,
      anomalies: watch({ 'http-errors': [0.9999, 0.5, 0.9999] }),
    });
    expect(apart).toMatchObject([{ id: 'errors-anomaly', fired: false, result: 'pass' }]);
    const old = await evaluateTripwires({
      rules: [rule({ window: '5s' })],
      source: none,
      now,
      anomalies: watch({ 'http-errors': [0.9999, 0.9999, ...Array<number>(10).fill(0.1)] }),
    });
    expect(old).toMatchObject([{ fired: false, result: 'pass' }]);
  });

  it('no points in the window is no data (the rule’s noData decides); an unwatched series or no field fails closed', async () => {
    const few = await evaluateTripwires({
      rules: [rule({ noData: 'ignore' })],
      source: none,
      now,
      anomalies: watch({ 'http-errors': [0.9999] }),
    });
    expect(few).toMatchObject([{ fired: false, result: 'inconclusive' }]);
    const strict = await evaluateTripwires({
      rules: [rule()],
      source: none,
      now,
      anomalies: watch({ 'http-errors': [] }),
    });
    expect(strict).toMatchObject([{ fired: true, result: 'inconclusive', action: 'halt' }]);
    const unwatched = await evaluateTripwires({
      rules: [rule({ series: 'other' })],
      source: none,
      now,
      anomalies: watch({}),
    });
    expect(unwatched[0]).toMatchObject({ fired: true, action: 'halt' });
    expect(unwatched[0]!.reason).toContain('not watched');
    const noField = await evaluateTripwires({ rules: [rule()], source: none, now });
    expect(noField[0]).toMatchObject({ fired: true, action: 'halt' });
  });

  it('validates psi rules: threshold in (0, 1], points 1..1000, a series name, a window', () => {
    for (const bad of [
      { threshold: 0 },
      { threshold: 1.5 },
      { points: 0 },
      { series: 'has space' },
      { window: 'soon' },
    ])
      expect(() =>
        parseTripwireRules(JSON.stringify({ rules: [rule(bad as Partial<TripwireRuleConfig>)] })),
      ).toThrow(/tripwire rules/);
    expect(parseTripwireRules(JSON.stringify({ rules: [rule({ points: undefined })] }))).toMatchObject([
      { kind: 'psi', points: 3, window: '1m', noData: 'halt' },
    ]);
  });
});
