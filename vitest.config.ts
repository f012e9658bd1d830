import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The random fault run runs alone (`npm run test:chaos`, a step of `npm test`): its 2 s bound is
    // the shim's promise, not a measure of two cores shared with the other end-to-end files.
    exclude: [...configDefaults.exclude, ...(process.env.CHAOS_RUN ? [] : ["test/e2e/chaos.test.ts"])],
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ["default"],
  },
});
