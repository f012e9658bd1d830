import type { Lab } from "./lab.js";
import type { Report } from "./report.js";

export const BENCHMARKS = [
  "latency",
  "fanout",
  "rest",
  "poll",
  "startup",
  "convergence",
  "hotpath",
  "cost",
  "sessions",
] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];

/** What every benchmark is handed. */
export interface BenchContext {
  /** BENCH_QUICK=1: small sizes, a smoke run of about a minute. */
  quick: boolean;
  report: Report;
  lab: Lab;
}
