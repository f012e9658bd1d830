import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { recordPid } from "../../../fixtures/opencode.js";
import type { ShimOverrides } from "../../../src/app.js";

const ENTRY = fileURLToPath(new URL("./shim-entry.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface ShimProcess {
  url: string;
  pid: number;
  /** Whether it is still running. */
  readonly alive: boolean;
  /** Its resident memory now (bytes; 0 once it is gone). */
  rss(): number;
  /** SIGTERM (SIGKILL after 5 s), by PID. */
  stop(): Promise<void>;
}

/** Starts the shim in its own process (its log, as JSON lines, to `logFile`) and waits until it listens. */
export async function startShimProcess(
  upstream: string,
  flags: string[],
  overrides: Omit<ShimOverrides, "logger">,
  logFile: string,
): Promise<ShimProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", ENTRY, "--upstream", upstream, "--port", "0", ...flags],
    {
      cwd: ROOT,
      env: { ...process.env, SHIM_TEST_OVERRIDES: JSON.stringify(overrides) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error("the shim did not start");
  const forget = recordPid(pid);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.stderr?.pipe(createWriteStream(logFile));
  const url = await new Promise<string>((resolve, reject) => {
    let printed = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (text: string) => {
      printed += text;
      const match = /listening on (http:\/\/\S+)/.exec(printed);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`the shim exited (${code ?? signal}) before listening; its log: ${logFile}`)),
    );
  });
  return {
    url,
    pid,
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    rss() {
      try {
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
      } catch {
        return 0; // gone
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, "SIGTERM");
        const killer = setTimeout(() => process.kill(pid, "SIGKILL"), 5000);
        await exited;
        clearTimeout(killer);
      }
      forget();
    },
  };
}
