import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Safety nets, not speed checks: a busy machine (CI beside other work) must not fail a correct test.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
