import { execFileSync } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { BENCHMARKS, type BenchContext, type BenchmarkName } from "./common/context.js";
import { Lab } from "./common/lab.js";
import { Report } from "./common/report.js";
import { writeRunRecord } from "./common/run-record.js";
import { runConvergence } from "./convergence/convergence.js";
import { runCost } from "./cost/cost.js";
import { runFanout } from "./fanout/fanout.js";
import { runHotpath } from "./hotpath/hotpath.js";
import { runLatency } from "./latency/latency.js";
import { runPoll } from "./poll/poll.js";
import { runRest } from "./rest/rest.js";
import { runSessions } from "./sessions/sessions.js";
import { runStartup } from "./startup/startup.js";

const RUNNERS: Record<BenchmarkName, (context: BenchContext) => Promise<void>> = {
  latency: runLatency,
  fanout: runFanout,
  rest: runRest,
  poll: runPoll,
  startup: runStartup,
  convergence: runConvergence,
  hotpath: runHotpath,
  cost: runCost,
  sessions: runSessions,
};

const BENCH_DEPS = fileURLToPath(new URL("../scripts/bench-deps.sh", import.meta.url));
/** The benchmarks that run nginx (or wrk) beside the shim: Debian's, installed first if missing. */
const NEEDS_NGINX = new Set<BenchmarkName>(["latency", "rest", "hotpath"]);

function selected(only: string | undefined): BenchmarkName[] {
  if (!only) return [...BENCHMARKS];
  const names = only.split(",").map((name) => name.trim());
  for (const name of names) {
    if (!(BENCHMARKS as readonly string[]).includes(name))
      throw new Error(`BENCH_ONLY: unknown benchmark "${name}" (known: ${BENCHMARKS.join(",")})`);
  }
  return BENCHMARKS.filter((name) => names.includes(name));
}

function machine(): string {
  return [
    `${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"})`,
    `${Math.round(totalmem() / 2 ** 20)} MiB memory`,
    `Node ${process.version}`,
  ].join(", ");
}

/** The machine is shared: how busy it was tells how far to trust the absolute figures. */
function load(): string {
  return `load average ${loadavg()
    .map((value) => value.toFixed(2))
    .join(" ")}`;
}

async function main(): Promise<void> {
  const names = selected(process.env.BENCH_ONLY);
  const quick = process.env.BENCH_QUICK === "1";
  const report = new Report();
  const lab = new Lab();
  process.stdout.write(`# opencode-event-shim benchmarks${quick ? " (BENCH_QUICK: smoke sizes)" : ""}\n\n`);
  process.stdout.write(`${machine()}; running: ${names.join(", ")}\n`);
  const started = performance.now();
  try {
    for (const name of names) {
      const benchStarted = performance.now();
      process.stdout.write(`\n## ${name} (${load()})\n`);
      try {
        if (NEEDS_NGINX.has(name)) execFileSync("bash", [BENCH_DEPS], { stdio: "inherit" });
        await RUNNERS[name]({ quick, report, lab });
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        process.stdout.write(`\n${name} FAILED: ${message}\n`);
        report.verdict({
          benchmark: name,
          target: "runs to the end",
          measured: `failed: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`,
          met: false,
        });
      }
      process.stdout.write(`\n(${name}: ${((performance.now() - benchStarted) / 1000).toFixed(0)} s)\n`);
    }
  } finally {
    await lab.close();
  }
  report.printSummary();
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`\nTotal: ${seconds.toFixed(0)} s\n`);
  const record = writeRunRecord(report, { names, quick, machine: machine(), seconds });
  process.stdout.write(`Results and tables written to ${record}\n`);
}

// Ctrl-C: exit through the "exit" hooks, which end every process started (by PID).
process.once("SIGINT", () => process.exit(130));
process.once("SIGTERM", () => process.exit(143));
main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
