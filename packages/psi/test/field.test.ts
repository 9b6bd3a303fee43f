// The Ψ-Field: watched series, recent points, and anomaly episodes that open once and close when the likelihood
// falls back.
import { describe, expect, it } from 'vitest';
import { PsiError, PsiField } from '../src/index.ts';

/** A flat series with tiny deterministic wiggles, then a burst of large values. */
function feed(f: PsiField, name: string, from: number, to: number, burst?: [number, number]): void {
  for (let t = from; t < to; t++) {
    const inBurst = burst && t >= burst[0] && t < burst[1];
    f.observe(name, t * 1000, 10 + ((t * 37) % 7) / 70 + (inBurst ? 50 : 0));
  }
}

describe('PsiField', () => {
  it('keeps the recent points of each series, oldest first, bounded', () => {
    const f = new PsiField({ keep: 50 });
    f.watch('a');
    feed(f, 'a', 0, 120);
    const r = f.recent('a', 10)!;
    expect(r).toHaveLength(10);
    expect(r[9]!.time).toBe(119_000);
    expect(f.recent('a', 500)).toHaveLength(50);
    expect(f.recent('nope', 3)).toBeUndefined();
    expect(f.summaries()).toMatchObject([{ name: 'a', points: 120, anomalous: false }]);
  });

  it('opens one episode for a burst, reports it once, and closes it after', () => {
    const f = new PsiField({ anomalyThreshold: 0.999 });
    f.watch('errors');
    feed(f, 'errors', 0, 300);
    expect(f.anomalies()).toEqual([]);
    const first = f.observe('errors', 300_000, 60);
    expect(first.opened).toMatchObject({ series: 'errors', start: 300_000, open: true });
    expect(f.anomalies()).toMatchObject([{ series: 'errors', start: 300_000, open: true }]);
    expect(f.summaries()[0]!.anomalous).toBe(true);
    // Still anomalous: the same episode goes on, nothing new is reported.
    const second = f.observe('errors', 301_000, 60);
    expect(second.point.likelihood).toBeGreaterThanOrEqual(0.999);
    expect(second.opened).toBeUndefined();
    expect(f.anomalies()).toHaveLength(1);
    feed(f, 'errors', 302, 600);
    const [e] = f.anomalies({ series: 'errors' });
    expect(e).toMatchObject({ series: 'errors', start: 300_000, open: false });
    expect(e!.points).toBeGreaterThanOrEqual(1);
    expect(e!.peak.likelihood).toBeGreaterThanOrEqual(0.999);
    expect(f.anomalies({ since: e!.end + 1 })).toEqual([]);
  });

  it('gives Ψ per service: the geometric mean of its series, grouped by the name before the first dot', () => {
    const f = new PsiField();
    for (const n of ['aurora.rtt.a', 'aurora.rtt.b', 'http']) f.watch(n);
    f.watch('idle.series');
    feed(f, 'aurora.rtt.a', 0, 50);
    feed(f, 'aurora.rtt.b', 0, 50);
    feed(f, 'http', 0, 50);
    const psi = (n: string) => f.recent(n, 1)![0]!.metrics.psi;
    const services = f.services();
    expect(services.map((s) => [s.name, s.series])).toEqual([
      ['aurora', 2],
      ['http', 1],
    ]);
    expect(services[0]!.psi).toBeCloseTo(Math.sqrt(psi('aurora.rtt.a') * psi('aurora.rtt.b')), 12);
    expect(services[1]!.psi).toBeCloseTo(psi('http'), 12);
  });

  it('runs the context detector beside the model of a series watched with a range, and says so', () => {
    const f = new PsiField();
    f.watch('cpu', { range: { min: 0, max: 100 } });
    f.watch('cpu', { range: { min: 0, max: 1 } }); // the first range stays
    f.watch('plain');
    for (let t = 0; t < 50; t++) {
      f.observe('cpu', t * 1000, 40 + (t % 5));
      f.observe('plain', t * 1000, 40 + (t % 5));
    }
    const [cpu, plain] = f.summaries();
    expect(cpu!.range).toEqual({ min: 0, max: 100 });
    expect(typeof cpu!.last!.context).toBe('number');
    expect(plain!.range).toBeUndefined();
    expect(plain!.last!.context).toBeUndefined();
    expect(() => f.watch('bad', { range: { min: 2, max: 2 } })).toThrow(/range/);
    expect(() => f.watch('bad', { range: { min: 0, max: Number.NaN } })).toThrow(/range/);
    expect(f.names()).toEqual(['cpu', 'plain']);
  });

  it('refuses bad names, unwatched series, non-finite values and thresholds out of range', () => {
    const f = new PsiField();
    expect(() => f.watch('bad name')).toThrow(PsiError);
    expect(() => f.observe('x', 0, 1)).toThrow(/not watched/);
    f.watch('x');
    expect(() => f.observe('x', 0, Number.POSITIVE_INFINITY)).toThrow(/finite/);
    expect(() => f.observe('x', Number.NaN, 1)).toThrow(/time/);
    expect(f.recent('x', 5)).toEqual([]);
    expect(() => new PsiField({ anomalyThreshold: 0 })).toThrow(/anomalyThreshold/);
  });
});
