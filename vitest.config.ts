import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // onnxruntime-node and sharp are native: separate processes isolate them best.
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: one on CI's two. Most test files spend
    // their time waiting on a server process or a browser of their own, so two files at once keep
    // both cores busy and halve the suite's wall time there.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
