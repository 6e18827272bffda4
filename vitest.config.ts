import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Property tests and interop tests do real work; keep per-test bounds explicit in the tests themselves.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Interop tests start real peers (tgt, tshark); the reporter prints skip reasons they log.
    reporters: ['default'],
  },
});
