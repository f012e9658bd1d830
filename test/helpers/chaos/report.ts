import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChaosClient } from "./clients.js";
import type { Driven } from "./driver.js";
import type { Fault } from "./faults.js";
import type { Verdict } from "./judge.js";
import { counted, quantile } from "./stats.js";

export interface RunFigures {
  seed: number;
  /** When the faults began (ms, `performance.now()`). */
  startedAt: number;
  driven: Driven;
  faults: Fault[];
  verdict: Verdict;
  clients: ChaosClient[];
  peakRssMiB: number;
  health: string;
  switches: Map<string, number>;
}

/** The run in a few lines: turns, faults, how late turn ends reached clients, the shim's memory and health. */
export function report(run: RunFigures): string {
  const { turns, sessions } = run.driven;
  const { lags } = run.verdict;
  const ms = (value: number) => `${Math.round(value)} ms`;
  return [
    `chaos seed ${run.seed}: ${turns.length} turns (${counted(turns.map((turn) => turn.kind))}) in ${sessions.size} sessions; ` +
      `${run.faults.length} faults (${counted(run.faults.map((fault) => fault.what.replace(/\s*[(\d].*$/, "")))})`,
    `  turn end → each client: p50 ${ms(quantile(lags, 0.5))}, p99 ${ms(quantile(lags, 0.99))}, ` +
      `max ${ms(Math.max(0, ...lags))} over ${lags.length}; ${run.clients.reduce((sum, client) => sum + client.resumed, 0)} resumes; ` +
      `shim RSS peak ${run.peakRssMiB.toFixed(0)} MiB; health at the end ${run.health}; feeder switches: ` +
      ([...run.switches].map(([labels, count]) => `${labels} ${count}`).join(", ") || "none"),
    ...run.faults.map((fault) => `  ${((fault.at - run.startedAt) / 1000).toFixed(1)} s: ${fault.what}`),
    "",
  ].join("\n");
}

/** Every client's view, one JSON line per event (with when it arrived), into `folder`: what a failure is read from. */
export function dumpViews(folder: string, clients: ChaosClient[]): void {
  for (const client of clients) {
    const lines = client.connections.flatMap((connection, index) =>
      connection.events.map((event) =>
        JSON.stringify({ connection: index, at: Math.round(event.at), id: event.id, ...event.json }),
      ),
    );
    writeFileSync(join(folder, `${client.name.replaceAll(" ", "-")}.jsonl`), `${lines.join("\n")}\n`);
  }
}

/**
 * The run's turns and faults as JSON: `at` on the clients' clock (`performance.now()`, as in
 * the `*.jsonl` views), `epoch` on the shim log's (`Date.now()`), to read a failure by.
 */
export function runTimeline(turns: Driven["turns"], faults: Fault[]): string {
  const epoch = (at: number) => Math.round(performance.timeOrigin + at);
  return JSON.stringify(
    {
      turns: turns.map((turn) => ({
        ...turn,
        startedAt: Math.round(turn.startedAt),
        endedAt: Math.round(turn.endedAt),
        epoch: [epoch(turn.startedAt), epoch(turn.endedAt)],
      })),
      faults: faults.map((fault) => ({ ...fault, at: Math.round(fault.at), epoch: epoch(fault.at) })),
    },
    null,
    1,
  );
}
