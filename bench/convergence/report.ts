import { writeFileSync } from "node:fs";
import type { BenchContext } from "../common/context.js";
import { type Cell, count, ms } from "../common/report.js";
import type { TimedEvent } from "../common/sse-reader.js";
import type { Summary } from "../common/stats.js";
import type { Load } from "./load.js";
import type { describeHealth, Outcome } from "./outcome.js";
import type { Scene } from "./scene.js";
import type { HealthSample } from "./shim-status.js";
import type { RestChange } from "./truth-watcher.js";

/** The promise: every change REST shows reaches every client within about 2 s. */
const PROMISE_US = 2_000_000;
/** Behind an honest stream, requests a second: one followed idle instance, one busy session. */
const BUDGETS: Record<string, number> = { "honest idle": 1, "honest busy": 2 };

export interface ModeRow {
  name: string;
  outcome: Outcome | undefined;
  health?: ReturnType<typeof describeHealth>;
  corrections?: number;
  switches?: string;
}

function latency(summary: Summary | undefined): string {
  return summary?.count ? `${ms(summary.p50)} / ${ms(summary.p99)} / ${ms(summary.max)}` : "–";
}

/** The convergence table, what went wrong change by change, and a verdict per mode. */
export function reportModes(
  context: BenchContext,
  rows: ModeRow[],
  notes: { turns: string; watcherPeriods: Summary; settleMs: number; logPath: string; recordPath: string },
): void {
  context.report.table({
    title: "Convergence: REST first showing a change → a client of the shim receiving it",
    columns: [
      "stream",
      "changes tracked",
      "never received",
      "received twice",
      "latency p50 / p99 / max (ms)",
      "slowest change",
      "other events repeated",
      "corrections",
      "shim health",
    ],
    rows: rows.map((row): Cell[] => [
      row.name,
      row.outcome?.tracked ?? 0,
      row.outcome?.never.length ?? 0,
      row.outcome?.doubled.length ?? 0,
      latency(row.outcome?.latency),
      row.outcome?.slowest
        ? `${row.outcome.slowest.change.kind} (${ms(row.outcome.slowest.latencyUs)})`
        : "–",
      row.outcome?.repeats.length ?? 0,
      row.corrections === undefined ? "–" : count(row.corrections),
      row.health?.text ?? "–",
    ]),
    notes: [
      `Each mode: the relay falsifies the stream the shim reads; one session, prompts through the shim (${notes.turns}); permission and question answered through the shim once its client was told of them. Then the stream is honest again and short prompts run until the shim's health is ok (at least ${notes.settleMs / 1000} s): the last row gathers those.`,
      "Changes: session created, message created / completed, text part ended (with its text), tool part completed, session busy / idle (each turn once), permission / question asked / answered, todo list. A change belongs to the phase in which REST first showed it.",
      `Latency = arrival at the client − the truth watcher's first read showing it (opencode's REST polled directly, every ${ms(notes.watcherPeriods.p50)} ms at p50, ${ms(notes.watcherPeriods.p99)} at p99): negative when the stream is ahead of REST, as it is when honest. Exact figures (nearest rank); with under 100 changes a row's p99 is its max.`,
      "received twice: a change told by more events of one kind than opencode's own /global/event (read directly) told it, or more turns told than REST showed. other events repeated: events of any type whose content (less the send time) the client got more often than opencode sent it.",
      "corrections: opencode_shim_reconciler_corrections_total over the mode's prompts. shim health: GET /shim/health every 200 ms.",
      `Feeder switches (opencode_shim_feeder_switches_total{to,reason}), each mode and its way back: ${rows
        .filter((row) => row.switches)
        .map((row) => `${row.name}: ${row.switches}`)
        .join("; ")}.`,
      `The shim's log (--log-level info): ${notes.logPath}; every event and REST change of the run: ${notes.recordPath}.`,
    ],
  });
  for (const { name, outcome, health } of rows) {
    for (const change of outcome?.never ?? [])
      process.stdout.write(`- never received (${name}): ${change.kind} ${change.key}\n`);
    for (const doubled of outcome?.doubled ?? [])
      process.stdout.write(`- received twice (${name}): ${doubled}\n`);
    for (const repeat of outcome?.repeats ?? []) process.stdout.write(`- repeated (${name}): ${repeat}\n`);
    if (!outcome) continue;
    context.report.verdict({
      benchmark: "convergence",
      target: `${name}: every change REST shows reaches the client, none twice, max ≤ 2 s after REST`,
      measured: `${outcome.tracked} changes, ${outcome.never.length} never received, ${outcome.doubled.length} twice, max ${ms(outcome.latency.max)} ms`,
      met: outcome.never.length === 0 && outcome.doubled.length === 0 && outcome.latency.max <= PROMISE_US,
    });
    if (health && !health.cameBack)
      context.report.verdict({
        benchmark: "convergence",
        target: `${name}: shim health ok again once the stream is honest`,
        measured: health.text,
        met: false,
      });
  }
}

/** The request-rate table, and the budgets' verdicts. */
export function reportLoads(context: BenchContext, loads: Load[], windowSeconds: number): void {
  context.report.table({
    title: `Convergence: the reconciler's upstream requests per second (${windowSeconds} s windows)`,
    columns: ["stream", "followed instance", "shim health in the window", "requests/s", "budget"],
    rows: loads.map((load): Cell[] => {
      const budget = BUDGETS[`${load.stream} ${load.scene}`];
      const scene = load.scene === "idle" ? "1, nothing happening" : "1, one session streaming a long reply";
      return [
        load.stream,
        `${scene}${load.caveat ? ` (${load.caveat})` : ""}`,
        load.health,
        load.perSecond.toFixed(2),
        budget === undefined ? "–" : `≤ ${budget}`,
      ];
    }),
    notes: [
      "requests/s: opencode_shim_reconciler_requests_total from the shim's /shim/metrics before and after each window.",
      `A verdict allows one read more than the window holds (its phase against the reconciler's timer): ≤ budget + 1/${windowSeconds} s.`,
    ],
  });
  for (const load of loads) {
    const budget = BUDGETS[`${load.stream} ${load.scene}`];
    if (budget === undefined) continue;
    const what = load.scene === "idle" ? "one followed idle instance" : "one busy session";
    context.report.verdict({
      benchmark: "convergence",
      target: `honest stream, ${what}: ≤ ${budget} upstream requests/s`,
      measured: `${load.perSecond.toFixed(2)} requests/s (health: ${load.health})${load.caveat ? `; ${load.caveat}` : ""}`,
      met: load.perSecond <= budget + 1 / windowSeconds && load.health === "ok" && !load.caveat,
    });
  }
}

/** Everything the run saw, one JSON object a line, to find out what happened to a change: kept after the run. */
export function writeRecord(
  path: string,
  scene: Scene,
  direct: TimedEvent[],
  changes: RestChange[],
  health: HealthSample[],
): void {
  const lines = [
    ...scene.phases.map((phase) => ({ record: "phase", ...phase })),
    ...changes.map((change) => ({ record: "rest", ...change })),
    ...scene.client.events.map((event) => ({ record: "client", ...event })),
    ...direct.map((event) => ({ record: "opencode", ...event })),
    ...health.map((sample) => ({ record: "health", ...sample })),
  ];
  writeFileSync(path, `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
}
