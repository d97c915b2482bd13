import { defineConfig } from 'vitest/config';

// The wall-clock tests, one file at a time, after the rest (see vitest.config.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.timing.test.ts'],
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'test-artifacts/vitest-timing.json' }]],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 10_000,
  },
});
