import { nowUs, sleep } from "../common/clock.js";
import type { BenchContext } from "../common/context.js";
import { CpuMeter, memory, type ShimProcess, startShim } from "../common/process.js";
import { type Cell, count, ms, percent } from "../common/report.js";
import type { Histogram } from "../common/stats.js";
import { startTickEmitter, type TickEmitter } from "../common/tick-emitter-process.js";
import { Audience } from "./audience.js";

interface Scenario {
  subscribers: number;
  perSecond: number;
}

interface Outcome extends Scenario {
  emittedPerSecond: number;
  delivered: number;
  expected: number;
  /** Ticks a subscriber never got although it got a later one. */
  skipped: number;
  /** Subscribers whose stream ended before the end (the shim drops a client that falls too far behind). */
  dropped: number;
  viaShim: Histogram;
  direct: Histogram;
  /** From the last tick emitted to the last one delivered. */
  drainMs: number;
  shimCpu: number;
  shimRssMiB: number;
  shimPeakMiB: number;
  clientCpu: number;
}

/** Settles when `done()` holds, when nothing moves for `stallMs`, or after `timeoutMs`. */
async function settle(progress: () => number, done: () => boolean, stallMs: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  let last = progress();
  let movedAt = performance.now();
  while (!done() && performance.now() < deadline && performance.now() - movedAt < stallMs) {
    await sleep(50);
    const now = progress();
    if (now !== last) {
      last = now;
      movedAt = performance.now();
    }
  }
}

/** Deliveries the warm-up makes (at most a second of the row's rate): enough for the JIT, not so many as to tire the shim. */
const WARM_UP_DELIVERIES = 100_000;

async function runScenario(emitter: TickEmitter, scenario: Scenario, seconds: number, drainMs: number) {
  let shim: ShimProcess | undefined;
  const audiences: Audience[] = [];
  const open = async (url: string, size: number, first: number) => {
    const audience = await Audience.open(url, size, first);
    audiences.push(audience);
    return audience;
  };
  try {
    shim = await startShim(emitter.url, ["--heartbeat-interval", "3600000"]);
    const warmUp = Math.min(scenario.perSecond, Math.ceil(WARM_UP_DELIVERIES / scenario.subscribers));
    const first = emitter.emitted + warmUp;
    const direct = await open(`${emitter.url}/global/event`, 1, first);
    const viaShim = await open(`${shim.url}/event`, scenario.subscribers, first);

    // What is measured is the shim warmed up, as it runs for users.
    await emitter.emit(scenario.perSecond, warmUp);
    await settle(
      () => viaShim.progress(),
      () => viaShim.warmedUp(),
      drainMs / 3,
      drainMs,
    );

    const shimCpu = new CpuMeter([shim.pid]);
    const clientCpu = new CpuMeter([process.pid]);
    shimCpu.start();
    clientCpu.start();
    const expected = scenario.perSecond * seconds;
    const elapsedMs = await emitter.emit(scenario.perSecond, expected);
    const emittedUs = nowUs();
    const total = expected * scenario.subscribers;
    await settle(
      () => viaShim.delivered(),
      () => viaShim.delivered() === total,
      drainMs / 3,
      drainMs,
    );
    const cpu = { shim: shimCpu.stop().share, client: clientCpu.stop().share };
    const { rssMiB, peakMiB } = memory(shim.pid);
    return {
      ...scenario,
      emittedPerSecond: expected / (elapsedMs / 1000),
      delivered: viaShim.delivered(),
      expected: total,
      skipped: viaShim.skipped(),
      dropped: viaShim.dropped(),
      viaShim: viaShim.latency,
      direct: direct.latency,
      drainMs: Math.max(0, (viaShim.lastDeliveryUs - emittedUs) / 1000),
      shimCpu: cpu.shim,
      shimRssMiB: rssMiB,
      shimPeakMiB: peakMiB,
      clientCpu: cpu.client,
    } satisfies Outcome;
  } finally {
    for (const audience of audiences) audience.close();
    await shim?.stop();
  }
}

/**
 * Fan-out: N subscribers on the shim's `/event`, fed by one upstream stream at R events
 * a second (common/tick-emitter.ts, its own process); one reference client reads the emitter
 * directly. A fresh shim per scenario, so its memory figures are its own.
 */
export async function runFanout(context: BenchContext): Promise<void> {
  const subscribers = context.quick ? [1, 100] : [1, 100, 1000];
  const rates = context.quick ? [1000] : [1000, 10_000];
  const seconds = context.quick ? 1 : 5;
  const drainMs = context.quick ? 10_000 : 30_000;
  const emitter = await startTickEmitter();
  const outcomes: Outcome[] = [];
  try {
    for (const perSecond of rates) {
      for (const n of subscribers) {
        const outcome = await runScenario(emitter, { subscribers: n, perSecond }, seconds, drainMs);
        outcomes.push(outcome);
        process.stdout.write(
          `  ${n} × ${perSecond}/s: ${percent(outcome.delivered / outcome.expected, 2)} delivered, shim CPU ${percent(outcome.shimCpu, 0)}\n`,
        );
      }
    }
  } finally {
    await emitter.stop();
  }
  context.report.table({
    title: `Fan-out (${seconds} s of events per row, then up to ${drainMs / 1000} s to deliver them)`,
    columns: [
      "subscribers",
      "events/s (achieved)",
      "delivered / expected",
      "skipped",
      "dropped clients",
      "via shim p50 / p99 / max (ms)",
      "direct p99 (ms)",
      "added p99 (ms)",
      "drain after last emit (ms)",
      "shim CPU",
      "shim RSS end / peak (MiB)",
      "client process CPU",
    ],
    rows: outcomes.map((o): Cell[] => [
      count(o.subscribers),
      `${count(o.perSecond)} (${count(o.emittedPerSecond)})`,
      `${count(o.delivered)} / ${count(o.expected)} = ${percent(o.delivered / o.expected, 2)}`,
      count(o.skipped),
      count(o.dropped),
      `${ms(o.viaShim.percentile(0.5))} / ${ms(o.viaShim.percentile(0.99))} / ${ms(o.viaShim.max)}`,
      ms(o.direct.percentile(0.99)),
      ms(o.viaShim.percentile(0.99) - o.direct.percentile(0.99)),
      count(o.drainMs),
      percent(o.shimCpu, 0),
      `${o.shimRssMiB.toFixed(0)} / ${o.shimPeakMiB.toFixed(0)}`,
      percent(o.clientCpu, 0),
    ]),
    notes: [
      "Latency is emit → client (the emitter stamps each event with the shared monotonic clock); percentiles from 1 %-wide buckets.",
      "added p99 = via-shim p99 − the direct reference client's p99 in the same run (not matched event by event).",
      `Each row: a fresh shim, its subscribers, a warm-up of ${count(WARM_UP_DELIVERIES)} deliveries (at most 1 s of events, not counted), then the measured events.`,
      "CPU is the share of one core over the emission and the drain; 100 % = one whole core. The client process holds every subscriber.",
    ],
  });
  for (const o of outcomes) {
    context.report.verdict({
      benchmark: "fanout",
      target: `${count(o.subscribers)} × ${count(o.perSecond)} events/s: 100 % delivered`,
      measured: `${percent(o.delivered / o.expected, 2)}, p99 ${ms(o.viaShim.percentile(0.99))} ms after emit`,
      met: o.delivered === o.expected,
    });
    if (o.subscribers >= 1000) {
      context.report.verdict({
        benchmark: "fanout",
        target: `${count(o.subscribers)} × ${count(o.perSecond)} events/s: shim RSS < 150 MiB`,
        measured: `peak ${o.shimPeakMiB.toFixed(0)} MiB`,
        met: o.shimPeakMiB < 150,
      });
    }
  }
}
