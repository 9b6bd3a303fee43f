// The `worker` template for real, on each broker it supports (the NATS with JetStream, RabbitMQ and Redis that run on
// loopback here; one that is not listening is skipped, loudly): generated, its own `npm install && npm test` against
// that broker, built, started as a process, fed a good and a bad job with its own publish script, watched through
// its metrics and dead-letter listing, and stopped with SIGTERM.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generate, listening, npmInstall, sh, startProject } from './helpers/spawn-project.ts';
import { until } from './helpers/wait.ts';

const BROKERS = [
  { queue: 'nats', port: 4222, url: 'nats://127.0.0.1:4222' },
  { queue: 'rabbitmq', port: 5672, url: 'amqp://guest:guest@127.0.0.1:5672' },
  { queue: 'redis', port: 6379, url: 'redis://127.0.0.1:6379' },
] as const;

const up = Object.fromEntries(
  await Promise.all(BROKERS.map(async (b) => [b.queue, await listening(b.port)] as const)),
);
for (const b of BROKERS)
  if (!up[b.queue])
    console.warn(`SKIPPED: the generated ${b.queue} worker: nothing listens on 127.0.0.1:${b.port}`);

const root = mkdtempSync(join(tmpdir(), 'vm-spawn-worker-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.each(BROKERS)('spawn worker --queue $queue', ({ queue, url }) => {
  it.skipIf(!up[queue])(
    'passes its own npm test on the real broker, handles a job, dead-letters a bad one and drains on SIGTERM',
    async () => {
      const p = generate(root, 'worker', `jobs-${queue}`, { queue });
      const install = await npmInstall(p.dir);
      expect(install.code, install.output).toBe(0);
      const test = await sh('npm', ['test'], { cwd: p.dir, env: { QUEUE_URL: url } });
      expect(test.code, test.output).toBe(0);
      expect(test.output).toMatch(/Tests\s+9 passed/);
      const build = await sh('npm', ['run', 'build'], { cwd: p.dir });
      expect(build.code, build.output).toBe(0);

      // A queue of this run's own, removed at the end.
      const env = {
        QUEUE_URL: url,
        QUEUE_NAME: `e2e${process.pid}-${Date.now().toString(36)}`,
        MAX_ATTEMPTS: '2',
        RETRY_BASE_MS: '20',
      };
      const s = await startProject(p.dir, env);
      try {
        const publish = (body: string) =>
          sh(process.execPath, ['dist/publish.js', body], { cwd: p.dir, env });
        expect((await publish(JSON.stringify({ id: 'j1', task: 'resize' }))).code).toBe(0);
        expect((await publish('not a job')).code).toBe(0);
        const count = (text: string, outcome: string) =>
          Number(
            new RegExp(`worker_messages_total\\{outcome="${outcome}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0,
          );
        const metrics = await until('both jobs handled', async () => {
          const text = await (await fetch(`${s.url}/metrics`)).text();
          return count(text, 'ok') === 1 && count(text, 'dead_lettered') === 1 ? text : undefined;
        });
        expect(metrics).toContain('worker_handle_duration_seconds_bucket');
        expect(s.output()).toMatch(/"jobId":"j1"/);
        const dead = await sh(process.execPath, ['dist/dead-letters.js'], { cwd: p.dir, env });
        expect(dead.code, dead.output).toBe(0);
        const letters = dead.output
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { body: string; reason: string });
        expect(letters).toEqual([
          expect.objectContaining({ body: 'not a job', reason: expect.stringMatching(/^permanent/) }),
        ]);
      } finally {
        expect(await s.stop()).toBe(0);
        // Remove this run's broker objects through the project's own adapter.
        const destroy = `import('./dist/brokers/${queue}.js').then(async (m) => { const b = await m.connectBroker(process.env.QUEUE_URL, process.env.QUEUE_NAME); await b.destroy(); await b.close(); })`;
        const cleaned = await sh(process.execPath, ['-e', destroy], { cwd: p.dir, env });
        expect(cleaned.code, cleaned.output).toBe(0);
      }
      expect(s.output()).toContain('shutting down');
    },
    600_000,
  );
});
