import { defineConfig } from 'vitest/config';

/**
 * The reliability fault suite (`npm run test:faults`): real child processes against real
 * PostgreSQL and Redis, killed, restarted and flushed. Files run one at a time: they start
 * processes and private database instances, and a 2-core machine has no room for two at once.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    globalSetup: ['test/support/global-setup.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
  },
});
