import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { nowUs } from "./clock.js";

const SHIM_CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

export interface Child {
  pid: number;
  process: ChildProcess;
  /** µs (clock.ts) just before the process was spawned. */
  launchedUs: number;
  /** Everything it printed on stderr, for error messages. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Every process started here, so that a crash of the benchmark still ends them, and theirs (by PID). */
const live = new Set<number>();
process.once("exit", () => {
  for (const root of live) {
    try {
      for (const pid of processTree(root).reverse()) process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

export function launch(command: string, args: string[], options: { cwd?: string } = {}): Child {
  const launchedUs = nowUs();
  const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`${command} did not start`);
  const pid = child.pid;
  live.add(pid);
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (text: string) => {
    stderr = (stderr + text).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  exited.then(() => live.delete(pid));
  return {
    pid,
    process: child,
    launchedUs,
    stderr: () => stderr,
    async stop(graceMs = 5000) {
      if (!live.has(pid)) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Resolves with the first match of `pattern` in the child's stdout, and when (µs) it was read. */
export function waitForLine(
  child: Child,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<{ match: RegExpExecArray; atUs: number }> {
  return new Promise((resolve, reject) => {
    let printed = "";
    const stdout = child.process.stdout;
    const done = (error?: Error) => {
      clearTimeout(timer);
      stdout?.off("data", onData);
      child.process.off("exit", onExit);
      if (error) reject(error);
    };
    const onData = (text: string) => {
      const atUs = nowUs();
      printed += text;
      const match = pattern.exec(printed);
      if (match) {
        done();
        resolve({ match, atUs });
      }
    };
    const onExit = () => done(new Error(`exited before printing ${pattern}: ${child.stderr()}`));
    const timer = setTimeout(() => done(new Error(`no ${pattern} within ${timeoutMs} ms`)), timeoutMs);
    stdout?.setEncoding("utf8");
    stdout?.on("data", onData);
    child.process.once("exit", onExit);
  });
}

/** Runs a command to its end (killed after `timeoutMs`); resolves with its stdout, rejects on failure. */
export async function runToEnd(command: string, args: string[], timeoutMs: number): Promise<string> {
  const child = launch(command, args);
  let stdout = "";
  child.process.stdout?.setEncoding("utf8");
  child.process.stdout?.on("data", (text: string) => {
    stdout += text;
  });
  const timer = setTimeout(() => void child.stop(), timeoutMs);
  try {
    // "close", not "exit": stdout is read to its end by then.
    const code = await new Promise<number | null>((resolve) => child.process.once("close", resolve));
    if (code !== 0) throw new Error(`${command} exited with ${code}: ${child.stderr()}`);
    return stdout;
  } finally {
    clearTimeout(timer);
    await child.stop();
  }
}

export interface ShimProcess extends Child {
  url: string;
  /** µs (clock.ts) when its "listening" line was read. */
  listeningUs: number;
}

/** The shim as users run it: `node dist/cli.js --upstream URL --port 0 …`, in its own process. */
export async function startShim(
  upstream: string,
  flags: string[] = [],
  nodeArgs: string[] = [],
): Promise<ShimProcess> {
  const child = launch(process.execPath, [
    ...nodeArgs,
    SHIM_CLI,
    "--upstream",
    upstream,
    "--port",
    "0",
    "--log-level",
    "warn",
    ...flags,
  ]);
  try {
    const { match, atUs } = await waitForLine(child, /listening on (http:\/\/\S+)/);
    return { ...child, url: match[1] as string, listeningUs: atUs };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name, in parentheses, may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Resident memory now and at its peak, MiB. */
export function memory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/** The process and its descendants (nginx's master and its worker), as /proc tells them now. */
export function processTree(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean);
  return [pid, ...children.flatMap((child) => processTree(Number(child)))];
}

/** CPU used by some processes between start() and stop(). */
export class CpuMeter {
  private cpuAtStart = 0;
  private switchesAtStart = 0;
  private wallAtStart = 0;

  constructor(private readonly pids: number[]) {}

  start(): void {
    this.cpuAtStart = this.cpuNow();
    this.switchesAtStart = this.switchesNow();
    this.wallAtStart = performance.now();
  }

  /**
   * CPU seconds used, as a share of one core (1 = one whole core), and how often a second
   * the kernel took the CPU from a main thread that still wanted it (for Node, the event loop).
   */
  stop(): { seconds: number; share: number; preemptedPerSecond: number } {
    const seconds = this.cpuNow() - this.cpuAtStart;
    const wallSeconds = (performance.now() - this.wallAtStart) / 1000;
    return {
      seconds,
      share: seconds / wallSeconds,
      preemptedPerSecond: (this.switchesNow() - this.switchesAtStart) / wallSeconds,
    };
  }

  private switchesNow(): number {
    return this.pids.reduce((sum, pid) => sum + involuntarySwitches(pid), 0);
  }

  private cpuNow(): number {
    return this.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  }
}

/** Involuntary context switches of the process's main thread so far: times it was preempted. */
export function involuntarySwitches(pid: number): number {
  const match = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) : 0;
}

/** CPU seconds the whole machine has spent busy (every core, every process), per /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS
  );
}

/** How busy the machine was between start() and stop(), in cores (2 = both cores of a 2-core machine). */
export class MachineCpuMeter {
  private busyAtStart = 0;
  private wallAtStart = 0;

  start(): void {
    this.busyAtStart = machineBusySeconds();
    this.wallAtStart = performance.now();
  }

  stop(): number {
    return (machineBusySeconds() - this.busyAtStart) / ((performance.now() - this.wallAtStart) / 1000);
  }
}
