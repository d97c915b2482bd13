import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests that assert wall-clock bounds (a PINGRESP under 100 ms during a SUBSCRIBE flood, sockets closed
    // within 100 ms) run alone afterwards (vitest.timing.config.ts): on 2 shared cores, other test files
    // running beside them would measure CPU contention, not the broker.
    exclude: ['test/**/*.timing.test.ts', 'node_modules/**', 'dist/**'],
    // Real sockets, real processes: keep each file bounded, and run files in separate forks
    // so one test's broker can never leak into another's.
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'test-artifacts/vitest-main.json' }]],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 10_000,
  },
});
