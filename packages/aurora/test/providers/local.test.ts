import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderJob } from '../../src/provider.ts';
import { createLocalProvider, type LocalProvider } from '../../src/providers/local.ts';
import { WorkloadSchema, type Offer } from '../../src/workload.ts';
import { rejection } from './fake-api.ts';

const node = process.execPath;
const workload = (command: string[], over: Record<string, unknown> = {}) =>
  WorkloadSchema.parse({ id: 'local-job', tenant: 'acme', gpu: { count: 1 }, command, ...over });
// Every command these tests run, approved by the operator (the provider runs nothing else).
const HELLO = [node, '-e', 'console.log("hello from " + process.argv[1])', 'aurora'];
const FAIL = [node, '-e', 'console.error("bad input"); process.exit(3)'];
const SLEEP = [node, '-e', 'setTimeout(() => {}, 60000)'];
const STUBBORN = [
  node,
  '-e',
  'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)',
];
const BIG = [node, '-e', 'process.stdout.write("a".repeat(200000) + "END")'];
const ENV = [node, '-e', 'console.log(JSON.stringify(process.env))', '$HOME;', '`id`'];
const commands = [HELLO, FAIL, SLEEP, STUBBORN, BIG, ENV, ['true'], ['/nonexistent/aurora-binary']];
const LOCAL_OFFER: Offer = {
  provider: 'local',
  offerId: 'local',
  gpuModel: 'cpu',
  gpuCount: 1,
  memoryGiB: 0,
  pricePerHour: 0,
  region: 'local',
};

let p: LocalProvider | undefined;
afterEach(async () => {
  await p?.shutdown();
  p = undefined;
});

async function settled(provider: LocalProvider, jobId: string): Promise<ProviderJob> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const job = await provider.status(jobId);
    if (job.state !== 'running' || Date.now() > deadline) return job;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('local provider', () => {
  it('runs only operator-approved commands: any other gets no offer and its submit is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vm-local-'));
    const marker = join(dir, 'f');
    const hostile = workload(['/bin/sh', '-c', `id > ${marker}`]);
    p = createLocalProvider();
    expect(await p.listOffers(hostile)).toEqual([]);
    expect(await p.listOffers(workload(['true']))).toEqual([]);
    const err = await rejection(p.submit(hostile, LOCAL_OFFER));
    expect(err.code).toBe('POLICY_DENIED');
    // Approval is of the exact argv: a prefix or an extra argument is another command.
    p = createLocalProvider({ commands: [['/bin/sh', '-c', 'true']] });
    expect(await p.listOffers(workload(['/bin/sh', '-c', 'true']))).toHaveLength(1);
    expect(await p.listOffers(workload(['/bin/sh', '-c', 'true', 'x']))).toEqual([]);
    expect((await rejection(p.submit(hostile, LOCAL_OFFER))).code).toBe('POLICY_DENIED');
    await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(marker)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('offers this machine once, filtered by the workload', async () => {
    p = createLocalProvider({ commands });
    expect(await p.listOffers(workload(['true']))).toEqual([LOCAL_OFFER]);
    expect(await p.listOffers(workload(['true'], { gpu: { model: 'H100', count: 1 } }))).toEqual([]);
    expect(await p.listOffers(workload(['true'], { gpu: { count: 2 } }))).toEqual([]);
    const gpu = createLocalProvider({ commands, gpuModel: 'RTX 4090', gpuCount: 2, memoryGiB: 24 });
    expect(
      await gpu.listOffers(workload(['true'], { gpu: { model: 'RTX 4090', count: 2 }, memoryGiB: 24 })),
    ).toHaveLength(1);
  });

  it('runs a command to success and keeps its output', async () => {
    p = createLocalProvider({ commands });
    const job = await p.submit(workload(HELLO), LOCAL_OFFER);
    expect(job).toMatchObject({ provider: 'local', state: 'running', region: 'local', pricePerHour: 0 });
    expect(job.jobId).toMatch(/^local-[0-9a-f]{16}$/);
    expect(await settled(p, job.jobId)).toMatchObject({ state: 'succeeded', detail: 'exit code 0' });
    expect(p.output(job.jobId).stdout).toBe('hello from aurora\n');
  });

  it('reports a failing command with its exit code and stderr', async () => {
    p = createLocalProvider({ commands });
    const job = await p.submit(workload(FAIL), LOCAL_OFFER);
    const done = await settled(p, job.jobId);
    expect(done.state).toBe('failed');
    expect(done.detail).toContain('exit code 3');
    expect(done.detail).toContain('bad input');
  });

  it('cancels a sleeper with SIGTERM', async () => {
    p = createLocalProvider({ commands });
    const job = await p.submit(workload(SLEEP), LOCAL_OFFER);
    const t0 = Date.now();
    const cancelled = await p.cancel(job.jobId);
    expect(cancelled).toMatchObject({ state: 'cancelled', detail: 'killed by SIGTERM' });
    // Returned before the sleeper (60 s) could have ended by itself: killed, not waited for.
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(await p.cancel(job.jobId)).toMatchObject({ state: 'cancelled' });
  });

  it('escalates to SIGKILL after the grace period when SIGTERM is ignored', async () => {
    p = createLocalProvider({ commands, graceMs: 200 });
    const job = await p.submit(workload(STUBBORN), LOCAL_OFFER);
    for (let i = 0; i < 200 && !p.output(job.jobId).stdout.includes('ready'); i++)
      await new Promise((r) => setTimeout(r, 10));
    const t0 = Date.now();
    expect(await p.cancel(job.jobId)).toMatchObject({ state: 'cancelled', detail: 'killed by SIGKILL' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('bounds concurrency: no offer and a refused submit at capacity', async () => {
    p = createLocalProvider({ commands, maxConcurrent: 1 });
    const sleeper = workload(SLEEP);
    await p.submit(sleeper, LOCAL_OFFER);
    expect(await p.listOffers(sleeper)).toEqual([]);
    const err = await rejection(p.submit(sleeper, LOCAL_OFFER));
    expect(err.code).toBe('PROVIDER_FAILED');
    expect(err.message).toContain('capacity');
  });

  it('keeps only a bounded tail of the output', async () => {
    p = createLocalProvider({ commands, tailBytes: 1024 });
    const job = await p.submit(workload(BIG), LOCAL_OFFER);
    await settled(p, job.jobId);
    const out = p.output(job.jobId).stdout;
    expect(out).toHaveLength(1024);
    expect(out.endsWith('aEND')).toBe(true);
  });

  it('gives the command only the configured environment and no shell', async () => {
    p = createLocalProvider({ commands, env: { AURORA_TEST: 'yes' } });
    const job = await p.submit(workload(ENV), LOCAL_OFFER);
    await settled(p, job.jobId);
    const env = JSON.parse(p.output(job.jobId).stdout) as Record<string, string>;
    expect(env.AURORA_TEST).toBe('yes');
    expect(env.HOME).toBeUndefined();
    expect(env.PATH).toBeUndefined();
  });

  it('rejects jobs it never started, malformed ids, missing commands and unknown binaries', async () => {
    p = createLocalProvider({ commands });
    expect((await rejection(p.status('local-0123456789abcdef'))).code).toBe('NOT_FOUND');
    expect((await rejection(p.cancel('local-0123456789abcdef'))).code).toBe('NOT_FOUND');
    expect((await rejection(p.status('1234; rm -rf /'))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(p.submit(workload([]), LOCAL_OFFER))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(p.submit(workload(['true']), { ...LOCAL_OFFER, provider: 'vast' }))).code).toBe(
      'INVALID_ARGUMENT',
    );
    const err = await rejection(p.submit(workload(['/nonexistent/aurora-binary']), LOCAL_OFFER));
    expect(err.code).toBe('PROVIDER_FAILED');
    expect(err.message).toContain('ENOENT');
    expect(await p.listOffers(workload(['true']))).toHaveLength(1);
    const ac = new AbortController();
    ac.abort();
    expect((await rejection(p.listOffers(workload(['true']), { signal: ac.signal }))).code).toBe(
      'PROVIDER_TIMEOUT',
    );
  });
});
