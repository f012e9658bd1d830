import { sleep } from "../common/clock.js";
import type { BenchContext } from "../common/context.js";
import { CpuMeter, startShim } from "../common/process.js";
import { type Cell, count, ms, percent, ratio } from "../common/report.js";
import { Histogram } from "../common/stats.js";
import { startTickEmitter, type TickEmitter } from "../common/tick-emitter-process.js";
import { openTickStream, type TickStream } from "../common/tick-stream.js";

const RATE = 1000;
/** The sessions the ticks are spread over, in turn (tick n is about session n mod SESSIONS). */
const SESSIONS = 10;
type Mode = "whole" | "followers";

/** One subscriber: what it got of the measured ticks, and what it should not have got. */
class Follower {
  received = 0;
  strays = 0;
  constructor(
    /** The session it follows; undefined: the whole stream. */
    readonly session: number | undefined,
    readonly first: number,
  ) {}

  wants(n: number): boolean {
    return this.session === undefined || n % SESSIONS === this.session;
  }
}

interface Outcome {
  mode: Mode;
  subscribers: number;
  delivered: number;
  expected: number;
  strays: number;
  latency: Histogram;
  shimCpu: number;
}

/** Waits until `done()` holds, or nothing moved for `stallMs`. */
async function settle(progress: () => number, done: () => boolean, stallMs: number): Promise<void> {
  let last = progress();
  let movedAt = performance.now();
  while (!done() && performance.now() - movedAt < stallMs) {
    await sleep(50);
    if (progress() !== last) {
      last = progress();
      movedAt = performance.now();
    }
  }
}

async function runMode(
  emitter: TickEmitter,
  mode: Mode,
  subscribers: number,
  seconds: number,
): Promise<Outcome> {
  const shim = await startShim(emitter.url, ["--heartbeat-interval", "3600000"]);
  const streams: TickStream[] = [];
  try {
    const first = emitter.emitted + RATE;
    const latency = new Histogram();
    const followers: Follower[] = [];
    let warmUps = 0;
    for (let i = 0; i < subscribers; i++) {
      const follower = new Follower(mode === "whole" ? undefined : i % SESSIONS, first);
      followers.push(follower);
      const query = follower.session === undefined ? "" : `?session=ses_bench${follower.session}`;
      const stream = await openTickStream(`${shim.url}/event${query}`, (n, emittedUs, receivedUs) => {
        if (!follower.wants(n)) follower.strays++;
        if (n < first) {
          warmUps++;
          return;
        }
        follower.received++;
        latency.record(receivedUs - emittedUs);
      });
      streams.push(stream);
    }
    const perFollower = (ticks: number) => (mode === "whole" ? ticks : ticks / SESSIONS);
    // A warm-up second, not counted: what is measured is the shim warmed up.
    await emitter.emit(RATE, RATE, SESSIONS);
    await settle(
      () => warmUps,
      () => warmUps === subscribers * perFollower(RATE),
      3000,
    );
    const cpu = new CpuMeter([shim.pid]);
    cpu.start();
    const measured = RATE * seconds;
    await emitter.emit(RATE, measured, SESSIONS);
    const expected = subscribers * perFollower(measured);
    const delivered = () => followers.reduce((sum, follower) => sum + follower.received, 0);
    await settle(delivered, () => delivered() === expected, 5000);
    return {
      mode,
      subscribers,
      delivered: delivered(),
      expected,
      strays: followers.reduce((sum, follower) => sum + follower.strays, 0),
      latency,
      shimCpu: cpu.stop().share,
    };
  } finally {
    for (const stream of streams) stream.close();
    await shim.stop();
  }
}

/**
 * Following one session: the same subscribers, of a stream of ticks about 10 sessions in
 * turn, read the whole `/event` or follow one session each (`/event?session=`). A fresh
 * shim per run; the modes take turns over two rounds.
 */
export async function runSessions(context: BenchContext): Promise<void> {
  const subscribers = context.quick ? 20 : 100;
  const seconds = context.quick ? 1 : 5;
  const rounds: Mode[][] = [
    ["whole", "followers"],
    ["followers", "whole"],
  ];
  const emitter = await startTickEmitter();
  const outcomes: Outcome[] = [];
  try {
    for (const round of rounds) {
      for (const mode of round) {
        const outcome = await runMode(emitter, mode, subscribers, seconds);
        outcomes.push(outcome);
        process.stdout.write(
          `  ${mode}: ${percent(outcome.delivered / outcome.expected, 2)} delivered, ${outcome.strays} strays, shim CPU ${percent(outcome.shimCpu, 1)}\n`,
        );
      }
    }
  } finally {
    await emitter.stop();
  }
  const of = (mode: Mode) => outcomes.filter((outcome) => outcome.mode === mode);
  context.report.table({
    title: `Following one session (${count(subscribers)} subscribers, ${count(RATE)} events/s over ${SESSIONS} sessions, ${seconds} s a run)`,
    columns: [
      "run",
      "stream",
      "events per subscriber",
      "delivered / expected",
      "strays",
      "p50 / p99 (ms)",
      "shim CPU",
    ],
    rows: outcomes.map((o, index): Cell[] => [
      index + 1,
      o.mode === "whole" ? "/event" : `/event?session= (${subscribers / SESSIONS} per session)`,
      count(o.expected / o.subscribers),
      `${count(o.delivered)} / ${count(o.expected)}`,
      count(o.strays),
      `${ms(o.latency.percentile(0.5))} / ${ms(o.latency.percentile(0.99))}`,
      percent(o.shimCpu, 1),
    ]),
    notes: [
      "Latency is emit → subscriber. CPU is the shim's, over the emission and the drain, as a share of one core.",
      "A stray is an event about a session the subscriber does not follow.",
    ],
  });
  const followers = of("followers");
  const whole = of("whole");
  const complete = followers.every((o) => o.delivered === o.expected && o.strays === 0);
  context.report.verdict({
    benchmark: "sessions",
    target: `${count(subscribers)} followers of one of ${SESSIONS} sessions each: every event of its session, none of another`,
    measured: `${followers.map((o) => `${count(o.delivered)} / ${count(o.expected)}, ${o.strays} strays`).join("; ")}`,
    met: complete,
  });
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const cpu = { followers: mean(followers.map((o) => o.shimCpu)), whole: mean(whole.map((o) => o.shimCpu)) };
  const p99 = (runs: Outcome[]) => mean(runs.map((o) => o.latency.percentile(0.99)));
  const cpuRatio = cpu.followers / cpu.whole;
  context.report.verdict({
    benchmark: "sessions",
    target: "the shim's CPU serving followers of one session ≤ 1× serving the same clients the whole stream",
    measured: `${ratio(cpuRatio)} (${percent(cpu.followers, 1)} vs ${percent(cpu.whole, 1)} of a core, means of the runs; p99 ${ms(p99(followers))} vs ${ms(p99(whole))} ms)`,
    met: cpuRatio <= 1,
  });
}
