import { availableParallelism, setPriority } from "node:os";
import type { BenchContext } from "../common/context.js";
import { type Nginx, startNginx } from "../common/nginx.js";
import { CpuMeter, MachineCpuMeter, processTree, type ShimProcess, startShim } from "../common/process.js";
import { type Cell, count, ms, percent, ratio } from "../common/report.js";
import {
  type Buckets,
  describeBounds,
  difference,
  observations,
  quantileBoundMs,
  readBuckets,
  shareOverMs,
} from "../common/shim-histogram.js";
import { summarize } from "../common/stats.js";
import { startTickEmitter, type TickEmitter } from "../common/tick-emitter-process.js";
import { type Readers, type ReadersSummary, startReaders } from "./readers-process.js";
import { type ReferenceRelay, startReferenceRelay } from "./reference-relay-process.js";

const RATE = 1000;
/** Ticks sent before each phase's measured ones and not counted (a second's worth, as latency/latency.ts). */
const WARM_UP = 1000;
const TARGETS = ["nginx", "relay", "shim"] as const;
type Target = (typeof TARGETS)[number];
/** Subscribers read in the measuring process, beside the direct client: the first, middle and last to subscribe. */
const MEASURED = 3;
const LABELS: Record<Target, string> = {
  nginx: "via nginx (/global/event)",
  relay: "via reference relay (/event)",
  shim: "via shim (/event)",
};

/** Over a target's measured phases: its CPU, the readers', the machine's (means of the phases). */
interface Usage {
  targetCpu: number[];
  /** The target's main thread(s) preempted, a second. */
  preempted: number[];
  readersCpu: number[];
  loadCpu: number[];
  machineCores: number[];
  perSecond: number[];
}

interface Outcome {
  subscribers: number;
  /** The measuring process's: direct, control, and the measured subscribers of each target. */
  summary: ReadersSummary;
  /** The load process's: the other subscribers of each target, counted only. */
  load: ReadersSummary;
  usage: Record<Target, Usage>;
  /** The shim's own histogram over its measured phases. */
  inside: Buckets;
  /** The relay's own time per event (ms) over its measured phases. */
  relayOwn: number[];
}

/**
 * BENCH_HOTPATH_NICE=N: the relay and the shim run at CPU priority N (below 0 needs root),
 * to show how much of their own time is the kernel giving their CPU to the readers they wake.
 */
function niceFromEnvironment(): number | undefined {
  const text = process.env.BENCH_HOTPATH_NICE;
  if (text === undefined || text === "") return undefined;
  const nice = Number(text);
  if (!Number.isInteger(nice) || nice < -20 || nice > 19)
    throw new Error(`BENCH_HOTPATH_NICE: "${text}" is not a priority from -20 to 19`);
  return nice;
}

function renice(pids: number[], nice: number): void {
  for (const pid of pids) {
    try {
      setPriority(pid, nice);
    } catch (error) {
      throw new Error(
        `BENCH_HOTPATH_NICE=${nice}: could not set process ${pid}'s priority (${error instanceof Error ? error.message : String(error)}); below 0 needs root`,
      );
    }
  }
}

/** The bound the shim's own time per event is held to at p99 (ms). */
const OWN_TIME_BOUND = 1;

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

function add(total: Buckets | undefined, more: Buckets): Buckets {
  return total ? total.map(({ le, count }, i) => ({ le, count: count + (more[i]?.count ?? 0) })) : more;
}

interface Scene {
  emitter: TickEmitter;
  readers: Readers;
  load: Readers;
  shim: ShimProcess;
  relay: ReferenceRelay;
  urls: Record<Target, string>;
  pids: Record<Target, number[]>;
}

/**
 * Subscribes N streams to `url`, the measured ones (in the measuring process) first, in the
 * middle and last, the others (in the load process) between them: where a subscriber
 * stands in a relay's list tells when its turn to be written comes.
 */
async function subscribe(scene: Scene, url: string, subscribers: number): Promise<void> {
  const measured = Math.min(MEASURED, subscribers);
  const others = subscribers - measured;
  for (let i = 0; i < measured; i++) {
    await scene.readers.subscribe(url, 1);
    if (i < measured - 1)
      await scene.load.subscribe(
        url,
        Math.floor((others * (i + 1)) / (measured - 1)) - Math.floor((others * i) / (measured - 1)),
      );
  }
}

/**
 * One phase: N fresh subscribers on one target, a warm-up, then `ticks` measured ticks,
 * with the target's CPU, the readers' and the machine's over their emission. Returns the
 * target's own time over them: the shim's histogram, the relay's times.
 */
async function phase(scene: Scene, target: Target, subscribers: number, ticks: number, usage: Usage) {
  const { emitter, readers, load } = scene;
  const first = emitter.emitted + WARM_UP;
  await readers.begin(target, first, first + ticks);
  await load.begin(target, first, first + ticks);
  await subscribe(scene, scene.urls[target], subscribers);
  await emitter.emit(RATE, WARM_UP);
  await Promise.all([readers.reached(first - 1), load.reached(first - 1)]);
  const before = target === "shim" ? await readBuckets(scene.shim.url) : undefined;
  if (target === "relay") await scene.relay.ownTimes(); // the warm-up's, left out
  const targetCpu = new CpuMeter(scene.pids[target]);
  const readersCpu = new CpuMeter([readers.pid]);
  const loadCpu = new CpuMeter([load.pid]);
  const machine = new MachineCpuMeter();
  targetCpu.start();
  readersCpu.start();
  loadCpu.start();
  machine.start();
  const elapsedMs = await emitter.emit(RATE, ticks);
  const used = targetCpu.stop();
  usage.targetCpu.push(used.share);
  usage.preempted.push(used.preemptedPerSecond);
  usage.readersCpu.push(readersCpu.stop().share);
  usage.loadCpu.push(loadCpu.stop().share);
  usage.machineCores.push(machine.stop());
  usage.perSecond.push(ticks / (elapsedMs / 1000));
  const results = await Promise.all([readers.finish(), load.finish()]);
  const lost = results.reduce((sum, result) => sum + result.lost, 0);
  if (!results.every((result) => result.complete))
    process.stdout.write(`    ${target}: not every stream got the last tick (${lost} lost)\n`);
  return {
    buckets: before && difference(await readBuckets(scene.shim.url), before),
    relayOwn: target === "relay" ? await scene.relay.ownTimes() : [],
  };
}

/** A fresh shim, reference relay, nginx and readers in front of the emitter; the targets take turns. */
async function run(
  emitter: TickEmitter,
  subscribers: number,
  rounds: number,
  ticks: number,
  nice: number | undefined,
): Promise<Outcome> {
  let readers: Readers | undefined;
  let load: Readers | undefined;
  let nginx: Nginx | undefined;
  let relay: ReferenceRelay | undefined;
  let shim: ShimProcess | undefined;
  try {
    readers = await startReaders(emitter.url);
    load = await startReaders();
    nginx = await startNginx(emitter.url, "/global/health");
    relay = await startReferenceRelay(emitter.url);
    shim = await startShim(emitter.url, ["--heartbeat-interval", "3600000"]);
    if (nice !== undefined) renice([relay.pid, shim.pid], nice);
    const scene: Scene = {
      emitter,
      readers,
      load,
      shim,
      relay,
      urls: { nginx: `${nginx.url}/global/event`, relay: `${relay.url}/event`, shim: `${shim.url}/event` },
      pids: { nginx: processTree(nginx.pid), relay: [relay.pid], shim: [shim.pid] },
    };
    const usage = Object.fromEntries(
      TARGETS.map((target) => [
        target,
        { targetCpu: [], preempted: [], readersCpu: [], loadCpu: [], machineCores: [], perSecond: [] },
      ]),
    ) as unknown as Record<Target, Usage>;
    let inside: Buckets | undefined;
    const relayOwn: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Every other round in the reverse order, so that the machine's drift touches each alike.
      const order = round % 2 === 0 ? TARGETS : [...TARGETS].reverse();
      for (const target of order) {
        const own = await phase(scene, target, subscribers, ticks, usage[target]);
        if (own.buckets) inside = add(inside, own.buckets);
        relayOwn.push(...own.relayOwn);
      }
    }
    const summary = await readers.summary();
    process.stdout.write(
      `  ${subscribers} subscriber${subscribers === 1 ? "" : "s"}: ${TARGETS.map((target) => `${target} added p50 ${ms(summary[target]?.added.p50 ?? Number.NaN)} ms`).join(", ")}\n`,
    );
    return { subscribers, summary, load: await load.summary(), usage, inside: inside ?? [], relayOwn };
  } finally {
    await shim?.stop();
    await relay?.stop();
    await nginx?.stop();
    await readers?.stop();
    await load?.stop();
  }
}

/** Deliveries, lost ticks and dropped streams over every subscriber of `label`, both processes'. */
function counted(outcome: Outcome, label: string) {
  const parts = [outcome.summary[label], outcome.load[label]];
  const sum = (pick: (part: NonNullable<(typeof parts)[number]>) => number) =>
    parts.reduce((total, part) => total + (part ? pick(part) : 0), 0);
  return {
    deliveries: sum((part) => part.deliveries),
    lost: sum((part) => part.lost),
    dropped: sum((part) => part.dropped),
  };
}

/** A target's own time per event: "p50 / p99; share over the bound". */
function ownTime(outcome: Outcome, target: Target): string {
  const share = (value: number) => percent(value, 1);
  if (target === "shim") {
    const over = shareOverMs(outcome.inside, OWN_TIME_BOUND);
    return `${describeBounds(outcome.inside)}; ${share(over)}`;
  }
  if (target === "relay" && outcome.relayOwn.length > 0) {
    const { p50, p99 } = summarize(outcome.relayOwn);
    const over = outcome.relayOwn.filter((time) => time > OWN_TIME_BOUND).length / outcome.relayOwn.length;
    return `${ms(p50 * 1000)} / ${ms(p99 * 1000)}; ${share(over)}`;
  }
  return "–";
}

function rows(outcome: Outcome): Cell[][] {
  const { summary, usage, subscribers } = outcome;
  const triple = (label: string) => {
    const added = summary[label]?.added;
    return added ? `${ms(added.p50)} / ${ms(added.p99)} / ${ms(added.max)}` : "–";
  };
  const pair = (label: string) => {
    const summed = summary[label]?.emitToClient;
    return summed ? `${ms(summed.p50)} / ${ms(summed.p99)}` : "–";
  };
  const versusRelay = (label: string) => {
    const added = summary[label]?.added;
    const relay = summary.relay?.added;
    return added && relay ? `${ratio(added.p50 / relay.p50)} / ${ratio(added.p99 / relay.p99)}` : "–";
  };
  const cores = (values: number[]) => `${mean(values).toFixed(2)} of ${availableParallelism()}`;
  const all = (pick: (usage: Usage) => number[]) => TARGETS.flatMap((target) => pick(usage[target]));
  const reference = (label: string, name: string, withAdded: boolean): Cell[] => [
    count(subscribers),
    name,
    count(counted(outcome, label).deliveries),
    count(mean(all((used) => used.perSecond))),
    withAdded ? triple(label) : "–",
    "–",
    pair(label),
    counted(outcome, label).lost,
    "–",
    `${percent(mean(all((used) => used.readersCpu)), 0)} / –`,
    cores(all((used) => used.machineCores)),
    "–",
  ];
  return [
    reference("direct", "direct (/global/event)", false),
    reference("control", "control: 2nd direct", true),
    ...TARGETS.map((target): Cell[] => {
      const { deliveries, lost, dropped } = counted(outcome, target);
      return [
        count(subscribers),
        LABELS[target],
        count(deliveries),
        count(mean(usage[target].perSecond)),
        triple(target),
        target === "relay" ? "1.00× / 1.00×" : versusRelay(target),
        pair(target),
        `${lost}${dropped ? ` (${dropped} dropped)` : ""}`,
        `${percent(mean(usage[target].targetCpu), 0)}; ${count(mean(usage[target].preempted))}`,
        `${percent(mean(usage[target].readersCpu), 0)} / ${subscribers > MEASURED ? percent(mean(usage[target].loadCpu), 0) : "–"}`,
        cores(usage[target].machineCores),
        ownTime(outcome, target),
      ];
    }),
  ];
}

/**
 * The hot path side by side (issue 13): the tick emitter (its own process) at 1,000
 * events a second; in front of it, fresh for each subscriber count, nginx (its
 * `/global/event`, one extra hop), the simplest honest relay (reference-relay.ts) and the
 * shim; N subscribers on one target at a time, the targets taking turns. The readers are
 * in two processes of their own (readers.ts): the measuring one holds two direct
 * clients for the whole run and up to three of the N subscribers (the first, middle and
 * last to subscribe), so that its stamps are not queued behind a hundred streams; the load
 * process holds the others. Each measured delivery is matched by tick number with the
 * direct client's arrival of the same tick.
 */
export async function runHotpath(context: BenchContext): Promise<void> {
  const counts = [1, 100];
  const rounds = context.quick ? 1 : 2;
  const nice = niceFromEnvironment();
  const seconds = context.quick ? 2 : 5;
  const emitter = await startTickEmitter();
  const outcomes: Outcome[] = [];
  try {
    for (const subscribers of counts)
      outcomes.push(await run(emitter, subscribers, rounds, seconds * RATE, nice));
  } finally {
    await emitter.stop();
  }
  context.report.table({
    title: `Hot path: added latency beside a reference relay (${count(RATE)} events/s, ${rounds} round${rounds === 1 ? "" : "s"} of ${seconds} s per target${nice === undefined ? "" : `; the relay and the shim at nice ${nice}`})`,
    columns: [
      "subscribers",
      "client",
      "deliveries (every subscriber)",
      "events/s",
      "added p50 / p99 / max (ms)",
      "added vs relay p50 / p99",
      "emit→client p50 / p99 (ms)",
      "lost",
      "target CPU; preempted /s",
      "readers CPU: measuring / load",
      "machine busy (cores)",
      `own time p50 / p99 (ms); share > ${OWN_TIME_BOUND} ms`,
    ],
    rows: outcomes.flatMap(rows),
    notes: [
      `added = arrival at a measured subscriber − arrival of the same tick at the direct client (the emitter's /global/event), over every measured tick. The measured subscribers (the first, middle and last of the N to subscribe; ${MEASURED} at most) are read in one process with the direct and control clients; the others in a load process, counted only (deliveries, lost). Neither is the benchmark's.`,
      "reference relay: bench/hotpath/reference-relay.ts, one upstream connection, each frame parsed and written at once to every subscriber (no batching, ring, dedupe or backpressure).",
      `Each subscriber count: a fresh nginx (1 worker, unbuffered), relay and shim (--heartbeat-interval 1 h); per phase N fresh subscribers on one target, ${count(WARM_UP)} warm-up ticks not counted, then the measured ticks; the targets take turns, every other round in reverse order.`,
      "CPU: share of one core over the measured ticks' emission (nginx: master + worker), mean of the phases; preempted /s: involuntary context switches of the target's main thread(s) a second (the kernel gave the CPU to another process while the target still wanted it); readers CPU: the measuring process's and the load process's. control: a second direct client, over every phase.",
      `own time: a chunk read from upstream → its events written to every subscriber, once per event. The shim's from its histogram opencode_shim_event_added_latency_seconds over its measured phases (the bound of the bucket holding p50 / p99; the share over ${OWN_TIME_BOUND} ms is exact, a bucket bound); the relay's timed the same way in its own code, exact.`,
    ],
  });
  const at100 = outcomes.find((outcome) => outcome.subscribers === 100);
  if (!at100) return;
  const shim = at100.summary.shim?.added;
  const relay = at100.summary.relay?.added;
  if (!shim || !relay) throw new Error("no added latency for the shim or the relay at 100 subscribers");
  const lost = `lost: shim ${counted(at100, "shim").lost}, relay ${counted(at100, "relay").lost}`;
  context.report.verdict({
    benchmark: "hotpath",
    target: "100 subscribers × 1,000 events/s: shim added p50 ≤ 0.75× the reference relay's",
    measured: `${ratio(shim.p50 / relay.p50)} (${ms(shim.p50)} vs ${ms(relay.p50)} ms; ${lost})`,
    met: shim.p50 <= 0.75 * relay.p50,
  });
  context.report.verdict({
    benchmark: "hotpath",
    target: "100 subscribers × 1,000 events/s: shim added p99 ≤ 0.5× the reference relay's",
    measured: `${ratio(shim.p99 / relay.p99)} (${ms(shim.p99)} vs ${ms(relay.p99)} ms)`,
    met: shim.p99 <= 0.5 * relay.p99,
  });
  if (observations(at100.inside) === 0) throw new Error("the shim observed no event's latency");
  const insideP99 = quantileBoundMs(at100.inside, 0.99) ?? Number.NaN;
  context.report.verdict({
    benchmark: "hotpath",
    target: `100 subscribers × 1,000 events/s: the shim's own time per event p99 ≤ ${OWN_TIME_BOUND} ms`,
    measured: `${ownTime(at100, "shim")} (p50 / p99 ms, its histogram; share over ${OWN_TIME_BOUND} ms); the reference relay's own, timed alike: ${ownTime(at100, "relay")}`,
    met: insideP99 <= OWN_TIME_BOUND,
  });
}
