import { fakeEvent, startFakeUpstream } from "../../fixtures/fake-upstream.js";
import { createSession } from "../../fixtures/opencode-rest.js";
import { nowUs } from "../common/clock.js";
import type { BenchContext } from "../common/context.js";
import { memory, runToEnd, type ShimProcess, startShim } from "../common/process.js";
import { type Cell, ms } from "../common/report.js";
import { openSseReader, type SseReader } from "../common/sse-reader.js";
import { median } from "../common/stats.js";

interface Start {
  /** Launch → exit (bare Node) or launch → "listening" (the shim), µs. */
  listeningUs: number;
  /** Launch → the first upstream event at a client of the shim's `/event`, µs. */
  firstEventUs?: number;
  rssMiB?: number;
}

interface Case {
  name: string;
  start(): Promise<Start>;
}

/** A client connects the moment the shim says it listens; `firstEvent` makes (or waits for) upstream's first event. */
async function shimStart(
  upstream: string,
  flags: string[],
  eventPath: string,
  firstEvent: (client: SseReader) => Promise<{ receivedUs: number }>,
): Promise<Start> {
  let shim: ShimProcess | undefined;
  let client: SseReader | undefined;
  try {
    shim = await startShim(upstream, flags);
    client = await openSseReader(`${shim.url}${eventPath}`);
    const { receivedUs } = await firstEvent(client);
    return {
      listeningUs: shim.listeningUs - shim.launchedUs,
      firstEventUs: receivedUs - shim.launchedUs,
      rssMiB: memory(shim.pid).rssMiB,
    };
  } finally {
    client?.close();
    await shim?.stop();
  }
}

/** Start-up: launch → "listening", and launch → the first upstream event at a client. */
export async function runStartup(context: BenchContext): Promise<void> {
  const runs = context.quick ? 1 : 5;
  const opencode = await context.lab.opencode();
  const upstream = await startFakeUpstream();
  // Upstream never pauses: whenever the shim's client is ready, an event is at most 2 ms away.
  const ticker = setInterval(
    () => upstream.emit({ directory: upstream.cwd, payload: fakeEvent("bench.tick") }),
    2,
  );
  const directory = `?directory=${encodeURIComponent(opencode.projectDir)}`;
  const sessionCreated = async (client: SseReader) => {
    await client.waitFor((event) => event.type === "server.connected", 30_000, "server.connected");
    const { id } = await createSession(opencode.url, { directory: opencode.projectDir });
    return client.waitFor(
      (event) => event.type === "session.created" && event.properties.sessionID === id,
      30_000,
      "session.created",
    );
  };
  const cases: Case[] = [
    {
      name: "bare Node (`node -e ''`, launch → exit)",
      start: async () => {
        const launchedUs = nowUs();
        await runToEnd(process.execPath, ["-e", ""], 30_000);
        return { listeningUs: nowUs() - launchedUs };
      },
    },
    {
      name: "shim → fake upstream (events every 2 ms)",
      start: () =>
        shimStart(upstream.url, [], "/event", (client) =>
          client.waitFor((event) => event.type === "bench.tick", 30_000, "a tick"),
        ),
    },
    {
      name: `shim → opencode ${context.lab.version} (auto)`,
      start: () => shimStart(opencode.url, [], `/event${directory}`, sessionCreated),
    },
    {
      name: `shim --source poll → opencode ${context.lab.version}`,
      start: () => shimStart(opencode.url, ["--source", "poll"], `/event${directory}`, sessionCreated),
    },
  ];
  const results = new Map<string, Start[]>();
  try {
    for (let run = 0; run < runs; run++) {
      for (const { name, start } of cases) results.set(name, [...(results.get(name) ?? []), await start()]);
    }
  } finally {
    clearInterval(ticker);
    await upstream.close();
  }
  const known = (values: Array<number | undefined>) =>
    values.filter((value): value is number => value !== undefined);
  const cell = (values: Array<number | undefined>) => {
    const measured = known(values);
    return measured.length ? `${ms(median(measured))} / ${ms(Math.max(...measured))}` : "–";
  };
  context.report.table({
    title: `Start-up (ms, median / max of ${runs} run${runs === 1 ? "" : "s"})`,
    columns: ["what", "launch → listening", "launch → first upstream event at a client", "RSS then (MiB)"],
    rows: cases.map(({ name }): Cell[] => {
      const starts = results.get(name) ?? [];
      const rss = known(starts.map((start) => start.rssMiB));
      return [
        name,
        cell(starts.map((start) => start.listeningUs)),
        cell(starts.map((start) => start.firstEventUs)),
        rss.length ? median(rss).toFixed(0) : "–",
      ];
    }),
    notes: [
      "The client connects to /event as soon as the shim prints its listening line.",
      "With opencode, upstream's first event is a session.created: the session is created (directly on opencode) once the client's stream is open, so that column includes opencode creating it.",
      "The shim waits for upstream's health and, with the default source, for /global/event to stream before it listens.",
    ],
  });
}
