import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Forks, not threads: tests that start servers and WASM instances stay isolated.
    pool: 'forks',
  },
});
