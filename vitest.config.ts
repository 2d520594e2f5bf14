import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // onnxruntime-node and sharp are native: separate processes isolate them best.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
