import { accessSync, constants, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";

/** npm packages that hold an opencode build, in order of preference (the second is this project's dev alias). */
const PACKAGES = ["opencode-linux-x64", "opencode-1.14.48"];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Which opencode binary to start: the one named (`--opencode-bin` / `OPENCODE_BIN`),
 * else `opencode` on PATH, else one installed from npm. Throws a one-line reason when
 * there is none.
 */
export function findOpencodeBinary(named: string | undefined, env: NodeJS.ProcessEnv): string {
  if (named) {
    if (!existsSync(named)) throw new Error(`--opencode-bin: ${named} does not exist`);
    if (!executable(named)) throw new Error(`--opencode-bin: ${named} is not executable`);
    return named;
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "opencode");
    if (dir && executable(candidate)) return candidate;
  }
  const require = createRequire(import.meta.url);
  for (const name of PACKAGES) {
    try {
      const candidate = join(dirname(require.resolve(`${name}/package.json`)), "bin", "opencode");
      if (executable(candidate)) return candidate;
    } catch {}
  }
  throw new Error(
    "no opencode to start: give --upstream URL of a running one, or --opencode-bin PATH, or put opencode on PATH",
  );
}
