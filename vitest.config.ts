import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The random fault run is a step of its own in `npm test` (`npm run test:chaos`), so that its
    // 2 s bound measures the shim, not two cores shared with other tests.
    exclude: [...configDefaults.exclude, ...(process.env.CHAOS_RUN ? [] : ["test/e2e/chaos.test.ts"])],
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ["default"],
  },
});
