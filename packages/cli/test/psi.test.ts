// `vm psi detect` and `vm psi nab`, in process through main(argv): a CSV scored row by row (the injected spike gets
// the highest score), a small corpus in NAB's layout (a detector that finds its anomalies beats the null detector),
// the real ../shared/nab when present, and every bad input refused with its exit code and nothing printed on stdout.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/main.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vm-psi-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `vm ...args` in process; returns the exit code and what it wrote. */
async function vm(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await main(['node', 'vm', ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const stamp = (t: number) =>
  new Date(Date.UTC(2026, 0, 1) + t * 300_000).toISOString().replace('T', ' ').slice(0, 19);
/** Deterministic uniform noise in [0, 1) (an LCG: no period anywhere near the season's). */
function noise(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}
/** A daily (288-point) season with a little noise, and a spike at `spike`. */
const series = (n: number, spike: number) => {
  const u = noise(spike);
  return Array.from(
    { length: n },
    (_, t) => 100 + 20 * Math.sin((2 * Math.PI * t) / 288) + u() + (t === spike ? 40 : 0),
  );
};
const csv = (values: number[]) =>
  ['timestamp,value', ...values.map((v, t) => `${stamp(t)},${v}`)].join('\n') + '\n';

describe('vm psi detect', () => {
  it('scores every row online; the spike gets the highest score', async () => {
    const file = join(tmp, 'series.csv');
    writeFileSync(file, csv(series(1500, 1200)));
    const r = await vm('psi', 'detect', '--csv', file, '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { period: number; rows: { time: string; score: number; psi: number }[] };
    expect(doc.rows).toHaveLength(1500);
    expect(doc.period).toBe(288);
    const scores = doc.rows.map((x) => x.score);
    expect(scores.indexOf(Math.max(...scores.slice(600)))).toBe(1200);
    expect(doc.rows[1200]!.time).toBe(new Date(`${stamp(1200)}Z`).toISOString());
    const text = await vm('psi', 'detect', '--csv', file);
    expect(text.out.split('\n')[0]).toBe('time,value,forecast,residual,likelihood,score,psi');
    expect(text.out.trim().split('\n')).toHaveLength(1501);
  });

  it('with --range, runs the context detector beside the model: a context column, the spike still highest', async () => {
    const file = join(tmp, 'ranged.csv');
    writeFileSync(file, csv(series(1500, 1200)));
    const r = await vm('psi', 'detect', '--csv', file, '--range', '0:200', '--json');
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out) as { range: unknown; rows: { score: number; context: number }[] };
    expect(doc.range).toEqual({ min: 0, max: 200 });
    expect(doc.rows.every((x) => x.context >= 0 && x.context <= 1)).toBe(true);
    const late = doc.rows.slice(600).map((x) => x.score);
    expect(late.indexOf(Math.max(...late)) + 600).toBe(1200);
    const text = await vm('psi', 'detect', '--csv', file, '--range', '0:200');
    expect(text.out.split('\n')[0]).toBe('time,value,forecast,residual,likelihood,score,psi,context');
  });

  it('refuses bad input with its exit code and prints nothing on stdout', async () => {
    const bad = join(tmp, 'bad.csv');
    writeFileSync(bad, 'timestamp,value\n2026-01-01 00:00:00,1\n2026-01-01 00:05:00,abc\n');
    const cases: [string[], number, RegExp][] = [
      [['--csv', join(tmp, 'missing.csv')], 3, /does not exist/],
      [['--csv', bad], 2, /line 3: value "abc" is not a finite number/],
      [['--csv', join(tmp, 'series.csv'), '--column', 'nope'], 2, /no column "nope"/],
      [['--csv', join(tmp, 'series.csv'), '--range', '5:1'], 2, /--range must be MIN:MAX/],
      [['--csv', join(tmp, 'series.csv'), '--range', '0-100'], 2, /--range must be MIN:MAX/],
    ];
    for (const [args, code, message] of cases) {
      const r = await vm('psi', 'detect', ...args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.err).toMatch(message);
      expect(r.out).toBe('');
    }
  });
});

/** A corpus in NAB's layout: three files, each with a spike inside its one window. */
function smallCorpus(): string {
  const dir = join(tmp, 'corpus');
  mkdirSync(join(dir, 'data', 'synthetic'), { recursive: true });
  mkdirSync(join(dir, 'labels'), { recursive: true });
  const windows: Record<string, [string, string][]> = {};
  const labels: Record<string, string[]> = {};
  for (const [k, spike] of [1300, 1700, 2100].entries()) {
    const path = `synthetic/s${k}.csv`;
    writeFileSync(join(dir, 'data', path), csv(series(2500, spike)));
    windows[path] = [[`${stamp(spike - 20)}.000000`, `${stamp(spike + 20)}.000000`]];
    labels[path] = [stamp(spike)];
  }
  writeFileSync(join(dir, 'labels', 'combined_windows.json'), JSON.stringify(windows));
  writeFileSync(join(dir, 'labels', 'combined_labels.json'), JSON.stringify(labels));
  return dir;
}

interface NabJson {
  labels: number;
  detectors: {
    detector: string;
    source: string;
    profiles: { profile: string; normalized: number; counts: { tp: number } }[];
  }[];
}

describe('vm psi nab', () => {
  it('scores a detector on a corpus in NAB’s layout, beside the null detector (0 by definition)', async () => {
    const dir = smallCorpus();
    const r = await vm('psi', 'nab', '--corpus', dir, '--json');
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out) as NabJson;
    expect(doc.labels).toBe(3);
    const psi = doc.detectors.find((d) => d.detector === 'psi')!;
    const nul = doc.detectors.find((d) => d.detector === 'null')!;
    expect(psi.profiles.map((p) => p.profile)).toEqual([
      'standard',
      'reward_low_FP_rate',
      'reward_low_FN_rate',
    ]);
    for (const p of nul.profiles) expect(p.normalized).toBe(0);
    // Every spike is found early in its window with no false positive: close to the perfect 100.
    for (const p of psi.profiles) {
      expect(p.normalized).toBeGreaterThan(90);
      expect(p.counts.tp).toBeGreaterThan(0);
    }
    const text = await vm('psi', 'nab', '--corpus', dir);
    expect(text.out).toMatch(/^psi\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d$/m);
  });

  it('refuses a folder that is not a NAB corpus, and an unknown detector', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    let r = await vm('psi', 'nab', '--corpus', empty);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/no data\/ folder/);
    mkdirSync(join(empty, 'data'));
    mkdirSync(join(empty, 'labels'));
    writeFileSync(join(empty, 'labels', 'combined_windows.json'), JSON.stringify({ 'x/y.csv': [] }));
    r = await vm('psi', 'nab', '--corpus', empty);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/names x\/y.csv, which is not under data\//);
    r = await vm('psi', 'nab', '--corpus', empty, '--detector', 'magic');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--detector must be one of psi, psi-blind, null, windowedGaussian, context/);
  });

  // The NAB subset beside the checkout (../shared/nab), or wherever VM_NAB_CORPUS points.
  const NAB =
    process.env['VM_NAB_CORPUS'] ?? join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'nab');
  const haveNab = existsSync(join(NAB, 'results', 'windowedGaussian'));
  if (!haveNab) console.warn(`SKIPPED: vm psi nab on ../shared/nab: no corpus at ${NAB}`);
  it.skipIf(!haveNab)(
    'on ../shared/nab: the published windowedGaussian rows score 34.6 / 22.4 / 40.7 here',
    async () => {
      const r = await vm('psi', 'nab', '--corpus', NAB, '--json');
      expect(r.code, r.err).toBe(0);
      const doc = JSON.parse(r.out) as NabJson;
      const wg = doc.detectors.find((d) => d.detector === 'windowedGaussian')!;
      expect(wg.source).toBe('published');
      expect(wg.profiles.map((p) => Number(p.normalized.toFixed(1)))).toEqual([34.6, 22.4, 40.7]);
      console.log(
        `vm psi nab on ../shared/nab: ${doc.detectors.map((d) => `${d.detector} ${d.profiles.map((p) => p.normalized.toFixed(1)).join('/')}`).join(', ')}`,
      );
    },
  );
});
