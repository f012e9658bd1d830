import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { BENCHMARKS } from "./context.js";
import type { Report } from "./report.js";

/** Where each `npm run bench` leaves its record (gitignored): renamed to YYYY-MM-DD-<commit>.md to keep it. */
export const LATEST = fileURLToPath(new URL("../runs/latest.md", import.meta.url));

export interface RunInfo {
  names: string[];
  quick: boolean;
  machine: string;
  /** Seconds the whole run took. */
  seconds: number;
}

/** The commit measured, and whether the work tree held changes beside it. */
function commit(): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { encoding: "utf8" }).trim();
    const head = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain", "--untracked-files=no") ? `${head} + uncommitted changes` : head;
  } catch {
    return "unknown (no git)";
  }
}

/**
 * The run's record in Markdown: what ran where, the Results section as BENCHMARKS.md
 * holds it (the summary against the targets), then every table the benchmarks printed.
 */
export function writeRunRecord(report: Report, run: RunInfo): string {
  const date = new Date().toISOString().slice(0, 10);
  const lines = [
    `# Run of ${date}, commit ${commit()}${run.quick ? " (BENCH_QUICK: smoke sizes, not to judge by)" : ""}`,
    "",
    `\`npm run bench\`${run.names.length < BENCHMARKS.length ? ` with BENCH_ONLY=${run.names.join(",")}` : ""}, ${run.seconds.toFixed(0)} s. ${run.machine}.`,
    "",
    "## Results",
    "",
    report.verdicts.length ? report.summary() : "No verdicts (no benchmark with a target ran).\n",
    "## Tables",
    "",
    ...report.tables.map((table) => `${table}\n`),
  ];
  mkdirSync(dirname(LATEST), { recursive: true });
  writeFileSync(LATEST, `${lines.join("\n").trimEnd()}\n`);
  return LATEST;
}
