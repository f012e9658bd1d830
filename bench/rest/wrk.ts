import { fileURLToPath } from "node:url";
import { runToEnd } from "../common/process.js";

const REPORT = fileURLToPath(new URL("./wrk-report.lua", import.meta.url));

export interface WrkResult {
  requests: number;
  perSecond: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** Connect, read, write and timeout errors, and answers other than 2xx/3xx. */
  errors: number;
  bytesPerRequest: number;
}

export interface WrkOptions {
  seconds: number;
  connections: number;
}

/** `wrk -t1 -cC -dSs URL`: one load thread, C keep-alive connections. */
export async function wrk(url: string, { seconds, connections }: WrkOptions): Promise<WrkResult> {
  const output = await runToEnd(
    "wrk",
    ["-t1", `-c${connections}`, `-d${seconds}s`, "-s", REPORT, url],
    (seconds + 30) * 1000,
  );
  const line = output.split("\n").find((candidate) => candidate.startsWith("{"));
  if (!line) throw new Error(`wrk printed no report: ${output}`);
  const figures = JSON.parse(line) as {
    requests: number;
    durationUs: number;
    bytes: number;
    errors: number;
    p50Us: number;
    p99Us: number;
    maxUs: number;
  };
  return {
    requests: figures.requests,
    perSecond: figures.requests / (figures.durationUs / 1e6),
    p50Us: figures.p50Us,
    p99Us: figures.p99Us,
    maxUs: figures.maxUs,
    errors: figures.errors,
    bytesPerRequest: figures.bytes / Math.max(1, figures.requests),
  };
}
