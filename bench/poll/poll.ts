import { startRelay } from "../../fixtures/relay.js";
import type { BenchContext } from "../common/context.js";
import { type Cell, count, ms, percent } from "../common/report.js";
import { pollDetection } from "./detection.js";
import { pollLoad } from "./load.js";

/**
 * Poll mode (`--source poll`) against real opencode: what it costs upstream, and how
 * soon a change upstream reaches a client.
 */
export async function runPoll(context: BenchContext): Promise<void> {
  const opencode = await context.lab.opencode();
  const relay = await startRelay(opencode.url);
  const windowSeconds = context.quick ? 3 : 10;
  try {
    const loads = await pollLoad(opencode, relay, {
      idleSizes: context.quick ? [1, 20] : [1, 100, 1000],
      busyCounts: context.quick ? [1] : [1, 10],
      windowSeconds,
    });
    context.report.table({
      title: `Poll mode: upstream requests per second (default --poll-interval 250, ${windowSeconds} s window)`,
      columns: ["sessions in the instance", "busy", "log source", "upstream requests/s", "shim CPU"],
      rows: loads.map((load): Cell[] => [
        count(load.sessions),
        load.busy,
        load.logSource ? "on" : "off",
        load.requestsPerSecond.toFixed(1),
        percent(load.shimCpu),
      ]),
      notes: [
        "Counted by a relay (fixtures/relay.ts) between the shim and opencode; one client follows the instance.",
        "Busy sessions stream a long reply (the offline model, 20 ms between chunks) for the whole window.",
      ],
    });
  } finally {
    await relay.close();
  }

  const detections = await pollDetection(
    opencode,
    context.quick ? [250] : [250, 1000],
    context.quick ? 2 : 5,
  );
  context.report.table({
    title: "Poll mode: detection latency, upstream's event → the shim's client (ms)",
    columns: ["change", "--poll-interval", "log source", "trials", "p50", "max"],
    rows: detections.map((d): Cell[] => [
      d.change,
      d.intervalMs,
      d.logSource ? "on" : "off",
      d.latency.count,
      ms(d.latency.p50),
      ms(d.latency.max),
    ]),
    notes: [
      "Measured from the moment a direct /global/event client gets opencode's own event for the change.",
      "A quiet instance is read every max(1 s, 4 × interval); one with a busy session every interval.",
    ],
  });
}
