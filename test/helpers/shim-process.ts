import { type ChildProcess, spawn } from "node:child_process";

export interface ShimProcess {
  child: ChildProcess;
  /** Where it listens, from its "listening on" line. */
  url: string;
  /** What it wrote to stderr (its log) so far. */
  logs(): string;
  /** SIGTERM, then its exit; resolves with its whole log. */
  stop(): Promise<string>;
  /** SIGKILL if it still runs: for teardown, also after a failed test. */
  kill(): void;
}

export interface ShimProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Told of each piece of its log as it comes. */
  onLog?: (text: string) => void;
}

/** The shim as users run it (`node dist/cli.js ARGS`), in a process of its own; resolves once it listens. */
export async function startShimProcess(
  args: string[],
  options: ShimProcessOptions = {},
): Promise<ShimProcess> {
  const child = spawn(process.execPath, [new URL("../../dist/cli.js", import.meta.url).pathname, ...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let logs = "";
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    logs += text;
    options.onLog?.(text);
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout?.setEncoding("utf8").on("data", (text: string) => {
        out += text;
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match?.[1]) resolve(match[1]);
      });
      child.once("exit", (code) => reject(new Error(`the shim exited (${code}): ${logs}`)));
    });
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      return logs;
    };
    return { child, url, logs: () => logs, stop, kill };
  } catch (error) {
    kill();
    throw error;
  }
}
