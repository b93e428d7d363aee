import { defineConfig } from 'vitest/config'

// One suite, four backends: ROBOT_BRAIN_TEST_BACKEND = pglite (default) | pg | pgbouncer | neon.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2, // 2-core machines
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
})
