import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Safety nets, not speed checks: a busy machine (CI beside other work) must not fail a correct test.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // One test file more than cores: vitest's default (cores - 1) runs one file at a time on a 2-core machine, and
    // most test time is waiting on child processes, servers and fsync rather than on the CPU. Measured on 2 idle
    // cores: npm test 3 min 8 s with 2 forks, 2 min 40 s with 3, 2 min 37 s with 4.
    poolOptions: { forks: { maxForks: availableParallelism() + 1, minForks: 1 } },
  },
});
