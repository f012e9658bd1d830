import { type Shim, type ShimOverrides, startShim } from "../../src/app.js";
import { parseCommandLine } from "../../src/config.js";

/** Starts a shim in this process on a free port, configured as the command line would. */
export async function startTestShim(
  upstreamUrl: string,
  flags: string[] = [],
  env: NodeJS.ProcessEnv = {},
  overrides: ShimOverrides = {},
): Promise<Shim> {
  const parsed = parseCommandLine(
    ["--upstream", upstreamUrl, "--port", "0", "--upstream-wait", "10", ...flags],
    env,
  );
  if (parsed.kind !== "run") throw new Error(`bad test flags: ${JSON.stringify(parsed)}`);
  return startShim(parsed.config, { logger: false, ...overrides });
}
