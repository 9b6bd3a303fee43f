// Ψ-Field against a real Prometheus (Debian's `prometheus` and `promtool`; skipped, loudly, where they are missing):
// a day of a seasonal series with one spike is backfilled with `promtool tsdb create-blocks-from openmetrics`, a
// Prometheus is started on 127.0.0.1 over those blocks, and `vm psi detect --prometheus` reads it with the real
// query_range API: every point comes back, the period is found, and the spike gets the highest score. A bad query
// is the server's own error, exit 1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/net.ts';
import { runVm } from './helpers/vm.ts';

const have = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const missing = ['prometheus', 'promtool'].filter((b) => !have(b));
if (missing.length)
  console.warn(`SKIPPED: Ψ-Field against a real Prometheus: ${missing.join(' and ')} not installed`);

const POINTS = 1440;
const PERIOD = 60;
const SPIKE = 1200;
// The series ends three hours ago on a whole minute: backfilled blocks stay clear of the head block.
const END_S = Math.floor(Date.now() / 60_000) * 60 - 3 * 3600;
const START_S = END_S - (POINTS - 1) * 60;

let dir: string;
let prom: ChildProcess | undefined;
let url = '';

const vm = (...args: string[]) => runVm(args);

beforeAll(async () => {
  if (missing.length) return;
  dir = mkdtempSync(join(tmpdir(), 'vm-psi-prom-'));
  let x = 7;
  const noise = () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.02;
  const lines = ['# HELP vm_test_latency_seconds A test latency.', '# TYPE vm_test_latency_seconds gauge'];
  for (let i = 0; i < POINTS; i++) {
    const v = 0.2 + 0.05 * Math.sin((2 * Math.PI * i) / PERIOD) + noise() + (i === SPIKE ? 0.4 : 0);
    lines.push(`vm_test_latency_seconds ${v.toFixed(6)} ${START_S + i * 60}`);
  }
  lines.push('# EOF');
  writeFileSync(join(dir, 'series.om'), lines.join('\n') + '\n');
  const made = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', 'series.om', 'tsdb'], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (made.status !== 0) throw new Error(`promtool failed: ${made.stderr}`);
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\nscrape_configs: []\n');
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  let log = '';
  prom = spawn(
    'prometheus',
    [
      '--config.file=prometheus.yml',
      '--storage.tsdb.path=tsdb',
      '--storage.tsdb.retention.time=30d',
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  prom.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  for (const end = Date.now() + 60_000; ;) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (prom.exitCode !== null || Date.now() > end) throw new Error(`prometheus did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 90_000);

afterAll(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(missing.length > 0)('vm psi detect --prometheus against a real Prometheus', () => {
  it('reads the backfilled day through query_range, finds its period, and scores the spike highest', async () => {
    const end = new Date(END_S * 1000).toISOString();
    const r = await vm(
      'psi',
      'detect',
      '--prometheus',
      url,
      '--query',
      'vm_test_latency_seconds',
      '--end',
      end,
      '--since',
      `${(POINTS - 1) * 60}s`,
      '--step',
      '60s',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      period: number;
      rows: { time: string; value: number; score: number }[];
    };
    expect(doc.rows).toHaveLength(POINTS);
    expect(doc.rows[0]!.time).toBe(new Date(START_S * 1000).toISOString());
    expect(doc.period).toBe(PERIOD);
    const scores = doc.rows.map((x) => x.score);
    const top = scores.indexOf(Math.max(...scores.slice(600)));
    expect(doc.rows[top]!.time).toBe(new Date((START_S + SPIKE * 60) * 1000).toISOString());
  });

  it('a query Prometheus refuses is its own error, exit 1; too many points is refused before asking, exit 2', async () => {
    const bad = await vm(
      'psi',
      'detect',
      '--prometheus',
      url,
      '--query',
      'sum(',
      '--since',
      '1h',
      '--step',
      '60s',
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Prometheus: HTTP 400: bad_data/);
    expect(bad.stdout).toBe('');
    const many = await vm(
      'psi',
      'detect',
      '--prometheus',
      url,
      '--query',
      'up',
      '--since',
      '30d',
      '--step',
      '60s',
    );
    expect(many.code).toBe(2);
    expect(many.stderr).toMatch(/at most 11000/);
  });
});
