import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Every opencode process a test spawns is recorded here by PID; whatever a crashed or
 * timed-out worker left running is killed at the end of the run.
 */
export default function setup() {
  const registry = mkdtempSync(join(tmpdir(), "shim-test-pids-"));
  process.env.OPENCODE_SHIM_TEST_PIDS = registry;
  return () => {
    for (const name of readdirSync(registry)) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 1) continue;
      try {
        process.kill(pid, "SIGKILL");
        process.stderr.write(`global teardown: killed leftover process ${pid}\n`);
      } catch {}
    }
    rmSync(registry, { recursive: true, force: true });
  };
}
