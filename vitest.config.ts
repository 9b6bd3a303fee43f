import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Safety nets, not speed checks: a busy machine (CI beside other work) must not fail a correct test.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // One test file per core: vitest's default (cores - 1) runs one file at a time on a 2-core machine, though most
    // test time is waiting on child processes, servers and fsync rather than on the CPU.
    poolOptions: { forks: { maxForks: Math.max(2, availableParallelism()), minForks: 1 } },
  },
});
