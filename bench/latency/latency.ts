import { availableParallelism } from "node:os";
import { fakeEvent, startFakeUpstream } from "../../fixtures/fake-upstream.js";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { nowUs } from "../common/clock.js";
import type { BenchContext } from "../common/context.js";
import { type Nginx, startNginx } from "../common/nginx.js";
import { pace } from "../common/pace.js";
import { CpuMeter, MachineCpuMeter, type ShimProcess, startShim } from "../common/process.js";
import { type Cell, count, ms, percent } from "../common/report.js";
import {
  type Buckets,
  describeBounds,
  difference,
  observations,
  readBuckets,
} from "../common/shim-histogram.js";
import { openSseReader, type SseReader, type TimedEvent } from "../common/sse-reader.js";
import { type Summary, summarize } from "../common/stats.js";

const TICK = "bench.tick";
const RATE = 1000;
/** Events (a second's worth) sent first and not counted: what is measured is the shim warmed up, as users run it. */
const WARM_UP = 1000;

interface Run {
  upstream: string;
  events: number;
  perSecond: number;
  /** Upstream's emit → the client, for an upstream that stamps its events. */
  direct?: Summary;
  viaShim?: Summary;
  /** Arrival at the shim's client − arrival at the direct client, event by event (matched by id). */
  added: Summary;
  /** The same for a client of upstream's `/global/event` through nginx: what any extra hop costs here. */
  nginxAdded: Summary;
  /** The same for a second direct client: how far apart upstream itself serves two clients. */
  skew: Summary;
  /** Events the direct client got that the shim's client never did. */
  lost: number;
  /** The shim's CPU over the measured events, as a share of one core. */
  shimCpu: number;
  /** How busy the whole machine was meanwhile, in cores: what every process waited on. */
  machineCores: number;
  /** The shim's own histogram over the measured events: bytes in → frames written to every client. */
  inside: Buckets;
}

/** The clients, all in this process: two on upstream's `/global/event`, one through nginx, one on the shim's `/event`. */
interface Clients {
  direct: SseReader;
  control: SseReader;
  viaNginx: SseReader;
  viaShim: SseReader;
}

async function openClients(
  upstream: string,
  nginx: Nginx,
  shim: string,
  readers: SseReader[],
): Promise<Clients> {
  const open = async (url: string) => {
    const reader = await openSseReader(url);
    readers.push(reader);
    return reader;
  };
  const clients = {
    direct: await open(`${upstream}/global/event`),
    control: await open(`${upstream}/global/event`),
    viaNginx: await open(`${nginx.url}/global/event`),
    viaShim: await open(shim),
  };
  await clients.viaShim.waitFor((event) => event.type === "server.connected", 5000, "server.connected");
  return clients;
}

/** Arrival in `later` − arrival by the same id in `earlier`, for each id of `earlier`. */
function matched(earlier: Map<string | undefined, number>, later: TimedEvent[]) {
  const differences: number[] = [];
  for (const event of later) {
    const at = earlier.get(event.id);
    if (at !== undefined) differences.push(event.receivedUs - at);
  }
  return { differences: summarize(differences), unmatched: earlier.size - differences.length };
}

/** Every client against the direct one, over the direct client's events from `from` that `keep` picks. */
function compare(clients: Clients, from: number, keep: (event: TimedEvent) => boolean) {
  const direct = new Map(
    clients.direct.events
      .slice(from)
      .filter(keep)
      .map((event) => [event.id, event.receivedUs]),
  );
  const viaShim = matched(direct, clients.viaShim.events);
  return {
    added: viaShim.differences,
    lost: viaShim.unmatched,
    nginxAdded: matched(direct, clients.viaNginx.events).differences,
    skew: matched(direct, clients.control.events).differences,
  };
}

/**
 * What is measured over the measured events: the shim's CPU and the machine's from now to
 * `stop()`, and the shim's own latency histogram from now to `histogram()` (read once its
 * clients have everything).
 */
async function measureWindow(shim: ShimProcess) {
  const before = await readBuckets(shim.url);
  const cpu = new CpuMeter([shim.pid]);
  const machine = new MachineCpuMeter();
  cpu.start();
  machine.start();
  return {
    stop: () => ({ shimCpu: cpu.stop().share, machineCores: machine.stop() }),
    histogram: async () => difference(await readBuckets(shim.url), before),
  };
}

const isMeasuredTick = (event: TimedEvent) => event.type === TICK && Number(event.properties.n) >= WARM_UP;

function emitToClient(reader: SseReader): Summary {
  return summarize(
    reader.events.filter(isMeasuredTick).map((event) => event.receivedUs - Number(event.properties.t)),
  );
}

/** The fixtures' fake upstream, emitting `bench.tick` events stamped with the clock at `RATE`. */
async function fakeUpstreamRun(events: number): Promise<Run> {
  const upstream = await startFakeUpstream();
  const readers: SseReader[] = [];
  let nginx: Nginx | undefined;
  let shim: ShimProcess | undefined;
  let next = 0;
  const emit = (first: number, end: number) => {
    for (let i = first; i < end; i++) {
      upstream.emit({ directory: upstream.cwd, payload: fakeEvent(TICK, { n: next++, t: nowUs() }) });
    }
  };
  try {
    nginx = await startNginx(upstream.url, "/global/health");
    shim = await startShim(upstream.url);
    const clients = await openClients(upstream.url, nginx, `${shim.url}/event`, readers);
    await pace(RATE, WARM_UP, emit);
    const lastWarmUp = (event: TimedEvent) => event.type === TICK && event.properties.n === WARM_UP - 1;
    await clients.viaShim.waitFor(lastWarmUp, 5000, "the last warm-up tick");
    const window = await measureWindow(shim);
    const elapsedMs = await pace(RATE, events, emit);
    const { shimCpu, machineCores } = window.stop();
    const last = (event: TimedEvent) => event.type === TICK && event.properties.n === next - 1;
    await Promise.all(readers.map((reader) => reader.waitFor(last, 5000, "the last tick").catch(() => {})));
    const inside = await window.histogram();
    return {
      upstream: "fake upstream (fixtures)",
      events,
      perSecond: events / (elapsedMs / 1000),
      direct: emitToClient(clients.direct),
      viaShim: emitToClient(clients.viaShim),
      ...compare(clients, 0, isMeasuredTick),
      shimCpu,
      machineCores,
      inside,
    };
  } finally {
    for (const reader of readers) reader.close();
    await shim?.stop();
    await nginx?.stop();
    await upstream.close();
  }
}

/** Real opencode streaming long replies through the offline model: its own events, matched by their ids. */
async function opencodeRun(context: BenchContext, replies: number, chunks: number): Promise<Run> {
  const opencode = await context.lab.opencode();
  const base = opencode.url;
  const directory = opencode.projectDir;
  const readers: SseReader[] = [];
  let nginx: Nginx | undefined;
  let shim: ShimProcess | undefined;
  try {
    nginx = await startNginx(base, "/global/health");
    shim = await startShim(base);
    const shimEvents = `${shim.url}/event?directory=${encodeURIComponent(directory)}`;
    const clients = await openClients(base, nginx, shimEvents, readers);
    const warmUp = await createSession(base, { directory });
    await prompt(base, warmUp.id, "[chunks:1000][delay:1] warm-up", { directory });
    const created = await Promise.all(
      Array.from({ length: replies }, () => createSession(base, { directory })),
    );
    const sessions = created.map((session) => session.id);
    const from = clients.direct.events.length;
    const window = await measureWindow(shim);
    await Promise.all(
      sessions.map((id) => prompt(base, id, `[chunks:${chunks}][delay:1] a long reply`, { directory })),
    );
    const { shimCpu, machineCores } = window.stop();
    const idle = (id: string) => (event: TimedEvent) =>
      event.type === "session.idle" && event.properties.sessionID === id;
    await Promise.all(
      sessions.map((id) => clients.viaShim.waitFor(idle(id), 10_000, "session.idle").catch(() => {})),
    );
    const inside = await window.histogram();
    const ofInstance = (event: TimedEvent) =>
      event.directory === directory && !event.type.startsWith("server.");
    const streamed = clients.direct.events.slice(from).filter(ofInstance);
    const seconds = ((streamed.at(-1)?.receivedUs ?? 0) - (streamed[0]?.receivedUs ?? 0)) / 1e6;
    return {
      upstream: `opencode ${context.lab.version}, ${replies} long repl${replies === 1 ? "y" : "ies"} at once`,
      events: streamed.length,
      perSecond: streamed.length / seconds,
      ...compare(clients, from, ofInstance),
      shimCpu,
      machineCores,
      inside,
    };
  } finally {
    for (const reader of readers) reader.close();
    await shim?.stop();
    await nginx?.stop();
  }
}

/**
 * Added latency per event: in the same process and the same run, one client reads
 * upstream's `/global/event` directly, one the shim's `/event`, and each event's
 * arrival at the two is compared by its id. Beside them, in the same run: a client of
 * upstream's `/global/event` through nginx (the cost of any extra hop on this machine),
 * and a second direct client (the control: how unevenly upstream serves two clients).
 */
export async function runLatency(context: BenchContext): Promise<void> {
  const runs = [
    await fakeUpstreamRun(context.quick ? 2000 : 15_000),
    await opencodeRun(context, context.quick ? 1 : 2, context.quick ? 400 : 5000),
  ];
  const pair = (summary: Summary | undefined) => (summary ? `${ms(summary.p50)} / ${ms(summary.p99)}` : "–");
  const triple = (summary: Summary) => `${ms(summary.p50)} / ${ms(summary.p99)} / ${ms(summary.max)}`;
  context.report.table({
    title: "Added latency per event (ms)",
    columns: [
      "upstream",
      "events",
      "events/s",
      "direct: emit→client p50 / p99",
      "via shim: emit→client p50 / p99",
      "added via shim p50 / p99 / max",
      "added via nginx p50 / p99 / max",
      "control: 2nd direct client p50 / p99 / max",
      "inside the shim p50 / p99",
      "lost",
      "shim CPU",
      "machine busy (cores)",
    ],
    rows: runs.map((run): Cell[] => [
      run.upstream,
      count(run.events),
      count(run.perSecond),
      pair(run.direct),
      pair(run.viaShim),
      triple(run.added),
      triple(run.nginxAdded),
      triple(run.skew),
      describeBounds(run.inside),
      run.lost,
      percent(run.shimCpu, 0),
      `${run.machineCores.toFixed(2)} of ${availableParallelism()}`,
    ]),
    notes: [
      "added via X = arrival at X's client − arrival at the direct client, for the same event id; every client in the benchmark process.",
      "via nginx: upstream's own /global/event through nginx (1 worker, unbuffered): one extra hop, no rebuilding.",
      "control: a second direct client against the first.",
      "opencode's events carry no emit time, so only the differences are measured for it. shim CPU: over the measured events, share of one core.",
      "inside the shim: its own histogram opencode_shim_event_added_latency_seconds over the measured events (bytes in from upstream → frames written to every client), as the bound of the bucket holding p50 / p99.",
      "machine busy: CPU time of every process on the machine over the measured events (/proc/stat), in cores.",
    ],
  });
  for (const run of runs) {
    context.report.verdict({
      benchmark: "latency",
      target: `${run.upstream} (${count(run.perSecond)} events/s): added p50 ≤ 1 ms, p99 ≤ 5 ms, nothing lost`,
      measured: `p50 ${ms(run.added.p50)} ms, p99 ${ms(run.added.p99)} ms (nginx hop: ${ms(run.nginxAdded.p50)} / ${ms(run.nginxAdded.p99)}), lost ${run.lost}`,
      met: run.added.p50 <= 1000 && run.added.p99 <= 5000 && run.lost === 0,
    });
    if (observations(run.inside) === 0)
      throw new Error(`${run.upstream}: the shim observed no event's latency`);
  }
}
