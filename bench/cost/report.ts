import type { BenchContext } from "../common/context.js";
import { type Cell, percent } from "../common/report.js";
import { type CostRow, cpuPerSession, kibPerSession, meets, targetOf } from "./targets.js";

export interface CostNotes {
  windowSeconds: number;
  templateToolTurns: number;
  templateWindowKiB: number;
  templateMessages: number;
  /** What was left out, and why (rows skipped, windows that failed). */
  missing: string[];
}

const kib = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : "–");

function verdictCell(row: CostRow): string {
  const target = targetOf(row);
  if (!target) return "–";
  return meets(row, target) ? "met" : "**not met**";
}

function caveats(row: CostRow): string {
  const all = [
    ...row.withShim.caveats,
    ...row.without.caveats.map((caveat) => `without the shim: ${caveat}`),
  ];
  return all.join("; ") || "–";
}

export function reportCost(context: BenchContext, rows: CostRow[], notes: CostNotes): void {
  context.report.table({
    title: `Upstream cost: what the shim asks of opencode, side by side with opencode without it (${notes.windowSeconds} s windows)`,
    columns: [
      "mode",
      "scene",
      "busy sessions",
      "opencode CPU with shim / without",
      "requests/s",
      "KiB/s",
      "KiB/s per busy session",
      "CPU per busy session over baseline",
      "shim health",
      "shim CPU",
      "machine busy, cores (with / without)",
      "verdict",
      "caveats",
    ],
    rows: rows.map((row): Cell[] => [
      row.mode.label,
      row.scene,
      row.busy,
      `${percent(row.withShim.cpu)} / ${percent(row.without.cpu)}`,
      row.withShim.requestsPerSecond.toFixed(1),
      kib(row.withShim.restKiBPerSecond),
      kib(kibPerSession(row)),
      percent(cpuPerSession(row), 2),
      row.withShim.health ?? "–",
      percent(row.withShim.shimCpu ?? Number.NaN),
      `${row.withShim.machineCores.toFixed(2)} / ${row.without.machineCores.toFixed(2)}`,
      verdictCell(row),
      caveats(row),
    ]),
    notes: [
      `Real opencode ${context.lab.version} and the offline model. Each busy session is a fresh fork of one session holding ${notes.templateToolTurns} turns whose bash call printed opencode's maximum output, with a short exchange on either side (${notes.templateMessages} messages; the newest 10, the reconciler's window, ${kib(notes.templateWindowKiB)} KiB as REST serves them; with a busy turn's two new messages the window still holds both tool outputs), deleted after its window.`,
      "silent: every busy session in a bash `sleep` that prints nothing (nothing changes); streaming: every busy session streaming a long reply, a chunk every 25 ms. The turns start after the shim's client is connected, outlast the window and are aborted after it.",
      "With the shim: `node dist/cli.js --upstream RELAY --log-dir <opencode's log>` (a fresh shim per window), one client of its `/event` following the instance, and the relay of fixtures/relay.ts between the shim and opencode falsifying the stream as the mode says. Without: the same sessions doing the same, and a plain client of opencode's own `/global/event` instead. The baseline is measured once per scene and busy count, just before its three modes.",
      "opencode CPU: its process's user + system time from /proc over the window, 100 % = one core. requests/s and KiB/s: what the relay passed from the shim to opencode over the window; KiB/s counts answer bodies except the event stream (which a direct client reads as well).",
      "Every window begins once opencode has been quiet (under 3 % of a core for a second, waited for up to 15 s) before the scene is set, and once the shim says what the mode should make it say (`ok` behind an honest stream, `degraded` behind a lying one, waited for up to 20 s) and 2 s after that. `/shim/health` is read only outside the windows (it asks opencode too).",
      "Targets (issue 22), silent spell, per busy session, over the same scene without the shim: honest stream at 4 and 16 busy sessions ≤ 0.5 % of a core and ≤ 8 KiB/s; mute stream ≤ 1.5 % of a core and ≤ 32 KiB/s. Streaming and lossy rows have no target.",
      ...notes.missing.map((line) => `Missing: ${line}`),
    ],
  });
  for (const row of rows) {
    const target = targetOf(row);
    if (!target) continue;
    context.report.verdict({
      benchmark: "cost",
      target: `${row.mode.label} stream, silent spell, ${row.busy} busy: ≤ ${percent(target.cpuPerSession)} of a core and ≤ ${target.kibPerSession} KiB/s per busy session over opencode without the shim`,
      measured: `${percent(cpuPerSession(row), 2)} and ${kib(kibPerSession(row))} KiB/s per busy session (opencode ${percent(row.withShim.cpu)} with the shim, ${percent(row.without.cpu)} without; ${row.withShim.requestsPerSecond.toFixed(1)} requests/s, ${kib(row.withShim.restKiBPerSecond)} KiB/s; health ${row.withShim.health ?? "–"})`,
      met: meets(row, target),
    });
  }
}
