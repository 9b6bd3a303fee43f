// End to end: the real `vm sim` binary runs a shipped scenario and writes its CSV, SVG and JSON files; bad input
// exits 2 (usage) with a message naming the problem.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCENARIOS_DIR } from '@vaultmesh/aurora/scenarios';
import { runVm } from './helpers/vm.ts';

describe('vm sim', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'vm-sim-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('runs the baseline scenario, writes the files and says whether learned beats the best fixed policy', async () => {
    const out = join(work, 'out');
    const r = await runVm(['sim', '--scenario', 'baseline', '--out', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as {
      scenario: string;
      jobs: number;
      policies: { policy: string; placed: number; dropped: number; jobs: number }[];
      comparison: { bestFixed: string; learnedBeatsBestFixed: boolean };
      files: string[];
    };
    expect(json.scenario).toBe('baseline');
    expect(json.policies.map((p) => p.policy)).toEqual(['random', 'cheapest', 'fastest', 'rules', 'learned']);
    for (const p of json.policies) expect(p.placed + p.dropped).toBe(json.jobs);
    expect(json.comparison.learnedBeatsBestFixed).toBe(true);
    for (const f of ['summary.csv', 'timeseries.csv', 'summary.svg', 'fill-rate.svg', 'result.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
      expect(json.files).toContain(join(out, f));
    }
    const csv = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\r\n');
    expect(csv[0]).toMatch(/^policy,jobs,placed,dropped,/);
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual([
      'random',
      'cheapest',
      'fastest',
      'rules',
      'learned',
    ]);
    const ts = readFileSync(join(out, 'timeseries.csv'), 'utf8').trim().split('\r\n');
    expect(ts.length).toBe(1 + 5 * 101);
    const svg = readFileSync(join(out, 'summary.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as {
      series: { hours: number[] };
    };
    expect(result.series.hours.length).toBe(101);

    // The human output: an aligned table and the verdict.
    const text = await runVm(['sim', '--scenario', 'flaky-cheap', '--policies', 'rules,learned']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^POLICY +JOBS +PLACED +DROPPED +FILL +AVG-LAT\(s\)/m);
    expect(text.stdout).toMatch(/^rules +\d+ +\d+ +\d+ +\d+\.\d\d% /m);
    // Against rules alone learned fills more but costs more per job: the verdict says so.
    expect(text.stdout).toMatch(
      /^learned does not beat the best fixed policy \(rules\): fill 99\.\d\d% vs 9\d\.\d\d%/m,
    );
  });

  it('a bad providers file exits 2 naming the field; so does a file that is not JSON', async () => {
    const bad = join(work, 'bad.providers.json');
    const providers = JSON.parse(readFileSync(join(SCENARIOS_DIR, 'baseline.providers.json'), 'utf8')) as {
      providers: { offers: { capacity: number }[] }[];
    };
    providers.providers[1]!.offers[2]!.capacity = -4;
    writeFileSync(bad, JSON.stringify(providers));
    const workloads = join(SCENARIOS_DIR, 'baseline.workloads.json');
    const r = await runVm(['sim', '--providers', bad, '--workloads', workloads]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /providers\[1\]\.offers\[2\]\.capacity: Number must be greater than or equal to 1/,
    );

    writeFileSync(join(work, 'notjson.json'), '{ nope');
    const nj = await runVm(['sim', '--providers', join(work, 'notjson.json'), '--workloads', workloads]);
    expect(nj.code).toBe(2);
    expect(nj.stderr).toMatch(/is not JSON/);
  });

  it('a missing file exits 3; an unknown scenario or policy exits 2; --help shows an example', async () => {
    const workloads = join(SCENARIOS_DIR, 'baseline.workloads.json');
    const missing = await runVm(['sim', '--providers', join(work, 'absent.json'), '--workloads', workloads]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/cannot read providers file/);

    const unknown = await runVm(['sim', '--scenario', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown scenario "nope" \(shipped: baseline, flaky-cheap\)/);

    const policy = await runVm(['sim', '--scenario', 'baseline', '--policies', 'rules,psychic']);
    expect(policy.code).toBe(2);
    expect(policy.stderr).toMatch(/--policies: unknown "psychic"/);

    const help = await runVm(['sim', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/vm sim --scenario baseline --out/);
  });
});
