/**
 * The shim in a process of its own, for tests that judge its memory and that it stays up:
 * `node --import tsx shim-entry.ts FLAGS…`, with `ShimOverrides` as JSON in
 * SHIM_TEST_OVERRIDES. Prints `listening on URL`; SIGTERM closes it.
 */
import { type ShimOverrides, startShim } from "../../../src/app.js";
import { parseCommandLine } from "../../../src/config.js";

const parsed = parseCommandLine(process.argv.slice(2), process.env);
if (parsed.kind !== "run") throw new Error(`bad flags: ${JSON.stringify(parsed)}`);
const overrides = JSON.parse(process.env.SHIM_TEST_OVERRIDES ?? "{}") as ShimOverrides;
const shim = await startShim(parsed.config, overrides);
process.stdout.write(`listening on ${shim.url}\n`);
process.once("SIGTERM", () => {
  shim.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
